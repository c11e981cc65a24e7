"""Browser pages of the registry. Each view starts with an access check, then reads through
selectors or writes through the same service functions as the API."""

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from audit import selectors as audit_selectors
from vetted.api.errors import UploadTooLarge

from . import access, selectors, services
from .access import Action, get_model_for, get_version_for, teams_allowing
from .forms import (
    AliasForm,
    ModelEditForm,
    ModelFilterForm,
    StageForm,
    VersionUploadForm,
)
from .models import ModelAlias, RegisteredModel, Stage
from .panels import panels_for
from .stages import StageConflict, StageGateDenied
from .uploads import LimitedUploadHandler

MODELS_PER_PAGE = 25
KEY_METRICS_SHOWN = 3


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _back_to(request, fallback: str) -> str:
    """The form's `next` URL when it points into this site, else `fallback`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _version_url(version) -> str:
    return reverse("registry:version_detail", args=[version.model.name, version.number])


# --- Models list ----------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def model_list(request):
    filters = ModelFilterForm(
        request.GET,
        teams=teams_allowing(request.user, Action.VIEW),
        tags=selectors.tags_in_use(request.user),
    )
    models = selectors.model_list(request.user, **filters.filters())
    context = {
        "filters": filters,
        "page": Paginator(models, MODELS_PER_PAGE).get_page(request.GET.get("page")),
    }
    # A history restore asks for the whole page even though htmx sends it.
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "registry/_model_table.html", context)
    return render(request, "registry/model_list.html", context)


# --- One model ------------------------------------------------------------------------------


@dataclass
class VersionRow:
    version: object
    key_metrics: list


def _key_metric_names(versions) -> list[str]:
    """The metrics most versions report, so the table's columns are the comparable ones."""
    counts: dict[str, int] = {}
    for version in versions:
        for name in version.metrics:
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda name: (-counts[name], name))[:KEY_METRICS_SHOWN]


def _render_model(request, model, edit_form=None, status=200):
    model = selectors.with_model_relations(RegisteredModel.objects.filter(pk=model.pk)).get()
    versions = list(selectors.versions_of(model))
    metric_names = _key_metric_names(versions)
    if edit_form is None:
        edit_form = ModelEditForm(
            initial={
                "description": model.description,
                "tags": ", ".join(tag.name for tag in model.tags.all()),
                "task_type": model.task_type,
            }
        )
    context = {
        "model": model,
        "metric_names": metric_names,
        "rows": [
            VersionRow(version, [version.metrics.get(name) for name in metric_names])
            for version in versions
        ],
        "stages": {v.stage: v.number for v in model.staged_versions},
        "stage_choices": Stage.choices,
        "edit_form": edit_form,
        "edit_open": edit_form.is_bound,
        "panels": panels_for("model", request=request, model=model),
    }
    return render(request, "registry/model_detail.html", context, status=status)


@login_required
def model_detail(request, name):
    return _render_model(request, get_model_for(request.user, name))


@login_required
@require_POST
def model_edit(request, name):
    model = get_model_for(request.user, name, Action.EDIT)
    form = ModelEditForm(request.POST)
    if form.is_valid():
        try:
            services.update_model(actor=request.user, model=model, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved.")
            return redirect("registry:model_detail", model.name)
    return _render_model(request, model, edit_form=form, status=400)


@login_required
@require_safe
def model_history(request, name):
    """The model's History tab: its audit events, filtered as the team-wide log is."""
    model = get_model_for(request.user, name)
    log = audit_selectors.event_page(request.user, request.GET, model=model.name)
    context = {"model": model, "log": log}
    return render(request, "registry/model_history.html", context, status=400 if log.error else 200)


# --- Versions -------------------------------------------------------------------------------


@dataclass
class SignatureColumn:
    name: str
    type: str
    required: bool


def _signature_columns(specs) -> list[SignatureColumn]:
    """MLflow column or tensor specs as rows; a tensor's type shows its dtype and shape."""
    columns = []
    for spec in specs or []:
        kind = spec.get("type", "")
        if kind == "tensor":
            tensor = spec.get("tensor-spec", {})
            kind = f"tensor {tensor.get('dtype', '')} {tuple(tensor.get('shape', ()))}"
        columns.append(
            SignatureColumn(spec.get("name", ""), kind, bool(spec.get("required", True)))
        )
    return columns


def _web_url(url: str) -> str:
    """`url` if a browser may follow it (http or https), else empty: no javascript: links."""
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc else ""


@login_required
def version_detail(request, name, number):
    version = get_version_for(request.user, name, number)
    version = selectors.version_details().get(pk=version.pk)
    repo_url = _web_url(version.git_repo).removesuffix(".git").rstrip("/")
    signature = version.signature or {}
    context = {
        "model": version.model,
        "version": version,
        "repo_url": repo_url,
        "commit_url": f"{repo_url}/commit/{version.git_commit}"
        if repo_url and version.git_commit
        else "",
        "ci_url": _web_url(version.ci_run_url),
        "signature_inputs": _signature_columns(signature.get("inputs")),
        "signature_outputs": _signature_columns(signature.get("outputs")),
        "params": sorted(version.params.items()),
        "metrics": sorted(version.metrics.items()),
        "stage_choices": Stage.choices,
        "earlier_checks": selectors.earlier_load_checks(version),
        "may_push": access.can(request.user, Action.PUSH, version.model),
        "history_query": audit_selectors.EventFilters(
            object=services.version_audit_name(version)
        ).query(),
        **_how_to_use(request, version),
        "panels": panels_for("version", request=request, model=version.model, version=version),
    }
    return render(request, "registry/version_detail.html", context)


def _how_to_use(request, version) -> dict:
    """The `vetted pull` command and the API address that fetch exactly this version, for this
    server as the browser reached it (the same host the API's download links use)."""
    name, number = version.model.name, version.number
    server = request.build_absolute_uri("/").rstrip("/")
    return {
        "pull_command": f"vetted --url {server} pull {name} --version {number} -o {name}-v{number}",
        "api_url": request.build_absolute_uri(reverse("api:version", args=[name, number])),
    }


@login_required
@require_POST
def version_load_check_retry(request, name, number):
    version = get_version_for(request.user, name, number, Action.PUSH)
    if services.retry_load_check(version=version, reason="asked for by a person") is None:
        messages.error(request, "A load check of this version is still queued or running.")
    else:
        messages.success(request, f"Version {number} is being checked again.")
    return redirect(_version_url(version))


@login_required
def version_load_check(request, name, number):
    """The load check block; htmx polls it and stops on 286 once the check has finished."""
    version = get_version_for(request.user, name, number)
    context = {
        "version": version,
        "earlier_checks": selectors.earlier_load_checks(version),
        "may_push": access.can(request.user, Action.PUSH, version.model),
    }
    response = render(request, "registry/_load_check.html", context)
    if version.latest_load_check and version.latest_load_check.done:
        response.status_code = 286
    return response


@login_required
@require_POST
def version_stage(request, name, number):
    version = get_version_for(request.user, name, number, Action.STAGE)
    form = StageForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the stages.")
    else:
        try:
            services.set_stage(actor=request.user, version=version, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        except StageGateDenied:
            raise  # 403, with the gate's reason (e.g. "open a promotion request")
        except StageConflict as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Version {number} is now in {version.get_stage_display()}.")
    return redirect(_back_to(request, _version_url(version)))


@login_required
@require_POST
def alias_set(request, name, number):
    version = get_version_for(request.user, name, number, Action.STAGE)
    form = AliasForm(request.POST)
    if not form.is_valid():
        messages.error(request, "An alias is 1-50 letters, digits, dashes or underscores.")
    else:
        alias = form.cleaned_data["alias"]
        try:
            services.set_alias(actor=request.user, version=version, alias=alias)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, f"@{alias} now points to version {number}.")
    return redirect(_back_to(request, _version_url(version)))


@login_required
@require_POST
def alias_delete(request, name, alias):
    model = get_model_for(request.user, name, Action.STAGE)
    try:
        services.delete_alias(actor=request.user, model=model, alias=alias)
    except ModelAlias.DoesNotExist:
        raise Http404(f"Model {name!r} has no alias {alias!r}.") from None
    messages.success(request, f"Removed the alias @{alias}.")
    return redirect(_back_to(request, reverse("registry:model_detail", args=[model.name])))


@csrf_exempt  # checked by csrf_protect below, once the size-limited upload handler is in place
@login_required
def version_push(request, name):
    model = get_model_for(request.user, name, Action.PUSH)
    if request.method == "POST":
        request.upload_handlers = [LimitedUploadHandler(request)]
        try:
            request.POST  # noqa: B018 - parse the body now, under the size limit
        except UploadTooLarge as error:
            return _render_push(
                request, model, VersionUploadForm(), status=413, upload_error=str(error)
            )
    return _version_push(request, model)


def _render_push(request, model, form, status=200, upload_error=""):
    context = {"model": model, "form": form, "upload_error": upload_error}
    return render(request, "registry/version_push.html", context, status=status)


@csrf_protect
def _version_push(request, model):
    if request.method != "POST":
        return _render_push(request, model, VersionUploadForm())
    form = VersionUploadForm(request.POST)
    if form.is_valid():
        fields = form.cleaned_data
        text: dict = {key: fields[key] or "" for key in fields if key not in ("params", "metrics")}
        lineage = services.Lineage(
            **text, params=fields["params"] or {}, metrics=fields["metrics"] or {}
        )
        upload = services.Upload(files=[(f.name, f) for f in request.FILES.getlist("files")])
        archive = request.FILES.get("archive")
        if archive is not None:
            upload.archive = (archive.name, archive)
        try:
            version, _ = services.register_version(
                actor=request.user, model=model, lineage=lineage, upload=upload
            )
        except UploadTooLarge as error:  # an archive that unpacks past the limit
            return _render_push(request, model, form, status=413, upload_error=str(error))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Registered version {version.number}.")
            return redirect(_version_url(version))
    return _render_push(request, model, form, status=400)


# --- Compare --------------------------------------------------------------------------------


@dataclass
class DiffRow:
    key: str
    a: str
    b: str
    differs: bool
    delta: str = ""


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list | bool):
        return json.dumps(value)
    return str(value)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _diff(a: dict, b: dict, *, with_delta: bool = False) -> list[DiffRow]:
    rows = []
    for key in sorted(a.keys() | b.keys()):
        left, right = a.get(key), b.get(key)
        row = DiffRow(key, _shown(left), _shown(right), differs=left != right)
        if with_delta and row.differs and _is_number(left) and _is_number(right):
            row.delta = f"{right - left:+.4g}"  # type: ignore[operator]  # both numbers here
        rows.append(row)
    return rows


def _lineage(version) -> dict:
    return {
        "git repository": version.git_repo,
        "git commit": version.git_commit,
        "git branch": version.git_branch,
        "CI run": version.ci_run_url,
        "training data": version.training_data_uri,
        "training data sha256": version.training_data_sha256,
        "pushed by": version.created_by.username if version.created_by else "",
        "pushed at": version.created_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


def _version_number(raw: str | None) -> int | None:
    # ASCII digits only: "²".isdigit() is true, and int("²") fails.
    return int(raw) if raw and raw.isascii() and raw.isdigit() else None


@login_required
def compare(request, name):
    model = get_model_for(request.user, name)
    numbers = list(model.versions.order_by("-number").values_list("number", flat=True))
    a, b = _version_number(request.GET.get("a")), _version_number(request.GET.get("b"))
    context = {"model": model, "numbers": numbers, "a": a, "b": b}
    if a is not None and b is not None:
        versions = selectors.versions_numbered(model, [a, b])
        missing = [n for n in (a, b) if n not in versions]
        if missing:
            raise Http404(f"Model {name!r} has no version {missing[0]}.")
        left, right = versions[a], versions[b]
        context |= {
            "left": left,
            "right": right,
            "params": _diff(left.params, right.params),
            "metrics": _diff(left.metrics, right.metrics, with_delta=True),
            "lineage": _diff(_lineage(left), _lineage(right)),
        }
    return render(request, "registry/compare.html", context)
