from django import forms

from accounts.models import Role

from .models import Decision, TargetStage

REVIEWING_ROLES = [(value, label) for value, label in Role.choices if value != Role.VIEWER]


class RequestForm(forms.Form):
    to_stage = forms.ChoiceField(label="Promote to", choices=TargetStage.choices)
    message = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What changed and why it is ready (optional).",
    )

    def __init__(self, *args, targets=None, **kwargs):
        super().__init__(*args, **kwargs)
        if targets is not None:
            self.fields["to_stage"].choices = targets  # type: ignore[attr-defined]


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    body = forms.CharField(
        label="Message", required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 4})
    )


class CloseForm(forms.Form):
    reason = forms.CharField(max_length=1000, help_text="e.g. superseded by version 5")


class AliasListField(forms.Field):
    """Alias names typed as one line, separated by commas or spaces; shown the same way."""

    widget = forms.TextInput

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value) -> list[str]:
        return str(value or "").replace(",", " ").split()


class PolicyForm(forms.Form):
    required_approvals = forms.IntegerField(min_value=0, max_value=20, initial=1)
    required_roles = forms.MultipleChoiceField(
        choices=REVIEWING_ROLES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="At least one approval from each (none: any role but viewer counts).",
    )
    author_may_approve = forms.BooleanField(required=False)
    auto_merge = forms.BooleanField(
        required=False, label="Merge automatically when the last approval arrives"
    )
    checks = forms.JSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="A JSON list of checks, each an object with its kind: see the kinds below.",
    )
    aliases = AliasListField(
        label="Aliases that stand for this stage",
        required=False,
        help_text="e.g. champion: it then moves only to a version in this stage or with a merged"
        " request to it (from the pages, the API and MLflow clients alike).",
    )
