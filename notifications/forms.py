from django import forms

from .models import Event

CHANNELS = {"in_app": "In the app", "email": "By e-mail"}


class PreferencesForm(forms.Form):
    """One checkbox per event and channel, named `<event>__<channel>`."""

    def __init__(self, *args, current: dict[str, dict[str, bool]], **kwargs):
        super().__init__(*args, **kwargs)
        for event in Event:
            for channel, label in CHANNELS.items():
                self.fields[f"{event.value}__{channel}"] = forms.BooleanField(
                    required=False,
                    initial=current[event.value][channel],
                    label=f"{event.label}: {label.lower()}",
                )

    def rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (event.label, [self[f"{event.value}__{channel}"] for channel in CHANNELS])
            for event in Event
        ]

    def choices(self) -> dict[str, dict[str, bool]]:
        return {
            event: {channel: self.cleaned_data[f"{event}__{channel}"] for channel in CHANNELS}
            for event in Event.values
        }
