"""The page of a model's drift and fairness settings: one field per setting, blank for its
default; owners and DevOps change them, the rest of the team reads them. The rules live in
monitoring.model_settings."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from registry.access import get_model_for

from .. import model_settings
from ..access import can_manage_monitors
from ..stats import options


def _field(key: str) -> forms.Field:
    default = options.DEFAULTS[key]
    label = model_settings.LABELS[key]
    help_text = f"{model_settings.HELP[key]} Default: {default}."
    if key in options.CHOICES:
        choices = [("", f"Default ({default})")] + [(c, c) for c in options.CHOICES[key]]
        return forms.ChoiceField(choices=choices, required=False, label=label, help_text=help_text)
    widget = forms.NumberInput(attrs={"placeholder": f"{default}"})
    field = forms.IntegerField if key in options.COUNTS else forms.FloatField
    return field(widget=widget, required=False, label=label, help_text=help_text)


class ModelSettingsForm(forms.Form):
    """The model's own values; a blank field is not stored, so that setting takes its default."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in options.DEFAULTS:
            self.fields[key] = _field(key)

    def clean(self) -> dict:
        values = {}
        for key in options.DEFAULTS:
            value = self.cleaned_data.get(key)
            if value in (None, ""):
                continue
            try:
                values[key] = model_settings.check_setting(key, value)
            except ValidationError as error:
                self.add_error(key, error)
        return values


@login_required
def model_settings_page(request, name):
    model = get_model_for(request.user, name)
    can_edit = can_manage_monitors(request.user, model)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied("Only the team's owners and DevOps change monitoring settings.")
    own = model_settings.own_settings(model)
    form = ModelSettingsForm(request.POST if request.method == "POST" else None, initial=own)
    if form.is_bound and form.is_valid():
        try:
            model_settings.set_model_settings(
                actor=request.user, model=model, values=form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved: evaluations asked for from now on use these values.")
            return redirect("monitoring:model_settings", model.name)
    effective = model_settings.effective_settings(own)
    rows = [
        {
            "label": model_settings.LABELS[key],
            "help": model_settings.HELP[key],
            "value": effective[key],
            "own": key in own,
        }
        for key in options.DEFAULTS
    ]
    sections = [
        ("Drift", [form[key] for key in options.DEFAULTS if key not in model_settings.FAIRNESS]),
        ("Fairness", [form[key] for key in model_settings.FAIRNESS]),
    ]
    context = {
        "model": model,
        "form": form,
        "sections": sections,
        "can_edit": can_edit,
        "rows": rows,
    }
    return render(
        request, "monitoring/model_settings.html", context, status=400 if form.errors else 200
    )
