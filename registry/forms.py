"""Forms of the registry pages: they parse input; the services decide what is allowed."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from vetted.api import json_input

from .models import Stage, TaskType

LIST_STAGES = [("", "Any stage"), *[(s, s.label) for s in Stage if s != Stage.NONE]]


class ModelFilterForm(forms.Form):
    """The models list's GET filters; a value that is not one of the choices is ignored."""

    search = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": "Search name or description"}),
    )
    team = forms.ChoiceField(required=False)
    tag = forms.ChoiceField(required=False)
    stage = forms.ChoiceField(required=False, choices=LIST_STAGES)

    def __init__(self, data, *, teams, tags):
        super().__init__(data)
        team, tag = self.fields["team"], self.fields["tag"]
        assert isinstance(team, forms.ChoiceField) and isinstance(tag, forms.ChoiceField)
        team.choices = [("", "All teams"), *[(t.slug, t.name) for t in teams]]
        tag.choices = [("", "Any tag"), *[(t.name, t.name) for t in tags]]

    def filters(self) -> dict[str, str]:
        self.is_valid()  # fills cleaned_data with the fields that are valid
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}


class ModelEditForm(forms.Form):
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8}), help_text="Markdown."
    )
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. fraud, tabular.")
    task_type = forms.ChoiceField(choices=TaskType.choices)

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    reason = forms.CharField(max_length=1000, required=False)


class AliasForm(forms.Form):
    alias = forms.CharField(max_length=50)


class JSONInputField(forms.JSONField):
    """A JSON field under the project's JSON rules; empty, it shows empty, not `null`."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, str):
            return value
        return json_input.parse(value)

    def bound_data(self, data, initial):
        """What the form shows again after an error: the text as typed, however bad."""
        if self.disabled or data is None:
            return initial if self.disabled else None
        try:
            return json_input.parse(data)
        except ValidationError:
            return InvalidJSONInput(data)

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class VersionUploadForm(forms.Form):
    """Metadata of a version pushed from the browser; files come from request.FILES."""

    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    git_repo = forms.CharField(required=False, max_length=500, label="Git repository")
    git_commit = forms.CharField(required=False, max_length=64, label="Git commit")
    git_branch = forms.CharField(required=False, max_length=255, label="Git branch")
    ci_run_url = forms.URLField(
        required=False, max_length=500, label="CI run URL", assume_scheme="https"
    )
    training_data_uri = forms.CharField(required=False, max_length=1000)
    training_data_sha256 = forms.CharField(required=False, max_length=64)
    params = JSONInputField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text='JSON, e.g. {"C": 1.0}'
    )
    metrics = JSONInputField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON numbers, e.g. {"auc": 0.91}',
    )
