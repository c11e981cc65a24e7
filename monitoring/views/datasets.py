"""A model's datasets page: what was uploaded, and a form to upload more."""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from registry.access import get_model_for
from vetted.api.errors import UploadTooLarge

from ..access import can_upload_data
from ..datasets import DatasetUploadHandler, store_dataset
from ..models import Dataset, DatasetKind

PAGE_SIZE = 50
KIND_FILTERS = [("", "All"), *DatasetKind.choices]


class DatasetUploadForm(forms.Form):
    """The API's upload fields; the service checks the file against the model."""

    file = forms.FileField(help_text="CSV with a header row, or Parquet.")
    kind = forms.ChoiceField(choices=DatasetKind.choices)
    at = forms.DateTimeField(
        required=False,
        label="Seen at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="When a production batch was seen (UTC); empty: now.",
    )
    label = forms.CharField(required=False, max_length=255, help_text="The true outcome column.")
    prediction = forms.CharField(
        required=False, max_length=255, help_text="The model's prediction column."
    )
    score = forms.CharField(
        required=False,
        max_length=255,
        help_text="The predicted probability of the positive class (ROC AUC, log loss).",
    )
    protected = forms.CharField(
        required=False,
        max_length=2000,
        label="Protected attributes",
        help_text="Columns, comma-separated: sex, age_band",
    )


@dataclass
class DatasetRow:
    dataset: Dataset
    missing: list[tuple[str, int]]  # the columns with missing values, most first

    @property
    def missing_total(self) -> int:
        return sum(count for _, count in self.missing)


def _rows(datasets) -> list[DatasetRow]:
    return [
        DatasetRow(d, sorted(((c, n) for c, n in d.missing.items() if n), key=lambda m: -m[1]))
        for d in datasets
    ]


@csrf_exempt  # checked by csrf_protect below, once the size-limited upload handler is in place
@login_required
def dataset_list(request, name):
    model = get_model_for(request.user, name)
    if request.method == "POST":
        if not can_upload_data(request.user, model):
            raise PermissionDenied("Your role in this team does not allow uploading data.")
        request.upload_handlers = [DatasetUploadHandler(request)]
        try:
            request.POST  # noqa: B018 - parse the body now, under the size limit
        except UploadTooLarge as error:
            return _render(request, model, DatasetUploadForm(), 413, upload_error=str(error))
    return _dataset_list(request, model)


@csrf_protect
def _dataset_list(request, model):
    if request.method != "POST":
        return _render(request, model, DatasetUploadForm())
    form = DatasetUploadForm(request.POST, request.FILES)
    if form.is_valid():
        fields = form.cleaned_data
        try:
            dataset = store_dataset(
                actor=request.user,
                model=model,
                file=fields["file"],
                filename=fields["file"].name,
                kind=fields["kind"],
                observed_at=fields["at"],
                label=fields["label"],
                prediction=fields["prediction"],
                score=fields["score"],
                protected=fields["protected"].split(","),
            )
        except UploadTooLarge as error:
            return _render(request, model, form, 413, upload_error=str(error))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Stored {dataset.get_kind_display().lower()} data #{dataset.pk}: "
                f"{dataset.row_count} rows.",
            )
            return redirect(reverse("monitoring:datasets", args=[model.name]))
    return _render(request, model, form, status=400)


def _render(request, model, form, status=200, upload_error=""):
    kind = request.GET.get("kind", "")
    datasets = Dataset.objects.filter(model=model).select_related("created_by", "checked_against")
    if kind in DatasetKind.values:
        datasets = datasets.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(datasets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "model": model,
        "page": page,
        "rows": _rows(page.object_list),
        "kind": kind,
        "kinds": KIND_FILTERS,
        "form": form if can_upload_data(request.user, model) else None,
        "upload_error": upload_error,
    }
    return render(request, "monitoring/datasets.html", context, status=status)
