"""`model-versions/create`: turn what an MLflow client logged to Vetted into an immutable version.

The client names its model by a `source` URI. Vetted registers only files it holds itself — a
logged model's or a run's staged artifacts, or another version's frozen files — so every
version keeps its sha256s, its load check and its lineage. The files are copied into the new
version's own folder through `registry.services.register_version`, like any push; the staging
rows may change or go later without touching the version.
"""

import json
from contextlib import ExitStack
from urllib.parse import urlparse

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from registry import services
from registry.access import Action, teams_allowing
from registry.artifacts import clean_relpath, delete_folder, version_folder
from registry.models import ModelVersion, RegisteredModel

from . import artifact_store, lineage
from .models import LoggedModel, ModelVersionTag, Run, VersionSource
from .tags import VETTED_TAG_PREFIX, check_version_tag
from .wire import RESOURCE_CONFLICT, Call, MlflowError, invalid, not_found

MODEL_VERSIONS_TAG = "mlflow.modelVersions"

ONLY_OWN_ARTIFACTS = (
    "Vetted registers only models logged to Vetted itself: log the model with"
    " MLFLOW_TRACKING_URI pointing at Vetted's /mlflow, then register `models:/m-<id>` or"
    " `runs:/<run_id>/<path>`."
)


class Origin:
    """What a source resolved to: the files to copy and the rows their lineage comes from."""

    def __init__(self, files, *, run=None, logged_model=None, version=None):
        self.files: list[tuple[str, str]] = files  # (relpath, storage name)
        self.run: Run | None = run
        self.logged_model: LoggedModel | None = logged_model
        self.version: ModelVersion | None = version


def register_from_source(
    *,
    call: Call,
    model: RegisteredModel,
    source: str,
    run_id: str | None,
    description: str,
    tags: dict,
    run_link: str = "",
    model_id: str | None = None,
) -> ModelVersion:
    """A new version of `model` holding a copy of the files `source` names, READY at once.

    `vetted.*` tags sent along are dropped, not refused: MLflow's copy_model_version sends the
    source version's tags back, Vetted's own among them, and the new version gets its own.
    """
    tags = {key: value for key, value in tags.items() if not key.startswith(VETTED_TAG_PREFIX)}
    for key, value in tags.items():
        check_version_tag(key, value)
    origin = _resolve(call, source)
    if origin.run is None and origin.logged_model is not None:
        origin.run = origin.logged_model.source_run
    if origin.run is None and run_id:
        origin.run = _visible(Run.objects, call).filter(run_id=run_id).first()
    if origin.logged_model is None and model_id:
        origin.logged_model = _visible(LoggedModel.objects, call).filter(model_id=model_id).first()
    if not origin.files:
        raise invalid(f"{source} holds no files to register. {ONLY_OWN_ARTIFACTS}")
    version_lineage = _lineage(origin)
    if description:
        version_lineage.description = description
    storage = services.artifact_storage()
    with ExitStack() as files, transaction.atomic():
        try:
            opened = [
                (path, files.enter_context(storage.open(name, "rb"))) for path, name in origin.files
            ]
        except FileNotFoundError:  # a parallel upload replaced a file after it was listed
            raise MlflowError(
                RESOURCE_CONFLICT,
                f"The files at {source} changed while they were being registered; register again.",
            ) from None
        upload = services.Upload(files=opened)
        version, _ = services.register_version(
            actor=call.user, model=model, lineage=version_lineage, upload=upload, token=call.token
        )
        try:
            VersionSource.objects.create(
                version=version,
                source=source[:1000],
                mlflow_run_id=(origin.run.run_id if origin.run else run_id or "")[:32],
                run=origin.run,
                logged_model=origin.logged_model,
                run_link=run_link[:1000],
                datasets=lineage.run_datasets(origin.run)
                if origin.run
                else _copied_datasets(origin),
            )
            ModelVersionTag.objects.bulk_create(
                ModelVersionTag(version=version, key=key, value=value)
                for key, value in tags.items()
            )
            if origin.logged_model is not None:
                _list_version_on(origin.logged_model, version)
        except BaseException:
            delete_folder(storage, version_folder(version.uuid))
            raise
    return version


def _list_version_on(logged_model: LoggedModel, version: ModelVersion) -> None:
    """MLflow's server lists the versions registered from a logged model in its
    `mlflow.modelVersions` tag; its client and UI read it there."""
    locked = LoggedModel.objects.select_for_update().get(pk=logged_model.pk)
    entry = {"name": version.model.name, "version": str(version.number)}
    try:
        listed = json.loads(locked.tags.get(MODEL_VERSIONS_TAG, "[]"))
    except ValueError:
        listed = []
    if not isinstance(listed, list):
        listed = []
    if entry not in listed:
        listed.append(entry)
    locked.tags[MODEL_VERSIONS_TAG] = json.dumps(listed)
    locked.updated_at = timezone.now()
    locked.save(update_fields=["tags", "updated_at"])


def _visible(manager, call: Call):
    return manager.filter(team__in=teams_allowing(call.user, Action.VIEW))


def _resolve(call: Call, source: str) -> Origin:
    if source.startswith("models:/"):
        return _from_models_uri(call, source)
    if source.startswith("runs:/"):
        run_id, _, subpath = source[len("runs:/") :].strip("/").partition("/")
        run = _visible(Run.objects, call).filter(run_id=run_id).first()
        if run is None:
            raise invalid(f"Vetted holds no run {run_id!r} you may read. {ONLY_OWN_ARTIFACTS}")
        return _from_run(run, _clean(subpath, source))
    parsed = urlparse(source)
    if parsed.scheme == "mlflow-artifacts" and not parsed.netloc and parsed.path.strip("/"):
        return _from_artifact_path(call, source, parsed.path.strip("/"))
    raise invalid(f"Cannot register {source!r}: {ONLY_OWN_ARTIFACTS}")


def _clean(path: str, source: str) -> str:
    if not path.strip("/"):
        return ""
    try:
        return clean_relpath(path.strip("/"))
    except ValidationError as exc:
        raise invalid(f"Source {source!r}: {' '.join(exc.messages)}") from None


def _from_models_uri(call: Call, source: str) -> Origin:
    """`models:/m-<id>` (a logged model), or `models:/<name>/<version>` (MLflow's copy)."""
    rest = source[len("models:/") :].strip("/")
    if rest.startswith("m-") and "/" not in rest:
        logged_model = _visible(LoggedModel.objects, call).filter(model_id=rest).first()
        if logged_model is None:
            raise invalid(f"Vetted holds no logged model {rest!r} you may read.")
        return Origin(artifact_store.staged_files(logged_model), logged_model=logged_model)
    name, _, number = rest.partition("/")
    if not number.isdigit():
        raise invalid(
            f"Cannot register {source!r}: use models:/m-<id>, or models:/<name>/<version>"
            " to copy a version."
        )
    version = (
        ModelVersion.objects.for_user(call.user)
        .filter(model__name=name, number=int(number))
        .select_related("mlflow_source")
        .first()
    )
    if version is None:
        raise not_found(f"Model Version (name={name}, version={number}) not found")
    return _from_version(version)


def _from_version(version: ModelVersion) -> Origin:
    files = list(version.artifacts.order_by("path").values_list("path", "storage_name"))
    found = getattr(version, "mlflow_source", None)  # absent for Vetted's own pushes
    return Origin(
        files,
        version=version,
        run=found.run if found else None,
        logged_model=found.logged_model if found else None,
    )


def _from_run(run: Run, subpath: str) -> Origin:
    """The run's files under `subpath`; MLflow 3 logs a model apart from its run, as a logged
    model named by the path, so that is the next place to look."""
    files = artifact_store.staged_files(run, subpath)
    if files or not subpath:
        return Origin(files, run=run)
    logged_model = run.logged_models.filter(name=subpath).order_by("-created_at").first()
    if logged_model is None:
        return Origin([], run=run)
    return Origin(artifact_store.staged_files(logged_model), run=run, logged_model=logged_model)


def _from_artifact_path(call: Call, source: str, path: str) -> Origin:
    try:
        location = artifact_store.locate(artifact_store.checked_path(path))
    except MlflowError as exc:
        raise invalid(f"Cannot register {source!r}: {exc.message} {ONLY_OWN_ARTIFACTS}") from None
    owner = location.owner
    if isinstance(owner, ModelVersion):
        version = (
            ModelVersion.objects.for_user(call.user)
            .select_related("mlflow_source")
            .filter(pk=owner.pk)
            .first()
        )
        if version is None:
            raise invalid(f"Vetted holds no artifacts at {source!r} you may read.")
        if location.relpath:
            raise invalid(
                f"Register the whole version {artifact_store.version_artifact_uri(owner)},"
                " not a part of it."
            )
        return _from_version(version)
    if not teams_allowing(call.user, Action.VIEW).filter(pk=owner.team_id).exists():
        raise invalid(f"Vetted holds no artifacts at {source!r} you may read.")
    files = artifact_store.staged_files(owner, location.relpath)
    if isinstance(owner, Run):
        return Origin(files, run=owner)
    return Origin(files, logged_model=owner)


def _lineage(origin: Origin) -> services.Lineage:
    if origin.version is not None:
        version = origin.version
        return services.Lineage(
            description=version.description,
            git_repo=version.git_repo,
            git_commit=version.git_commit,
            git_branch=version.git_branch,
            ci_run_url=version.ci_run_url,
            training_data_uri=version.training_data_uri,
            training_data_sha256=version.training_data_sha256,
            params=dict(version.params),
            metrics=dict(version.metrics),
            requirements=list(version.requirements),
        )
    found = lineage.run_lineage(origin.run) if origin.run else services.Lineage()
    if origin.logged_model is not None:
        found.params = {**found.params, **origin.logged_model.params}
    return found


def _copied_datasets(origin: Origin) -> list:
    source = getattr(origin.version, "mlflow_source", None) if origin.version else None
    return list(source.datasets) if source else []
