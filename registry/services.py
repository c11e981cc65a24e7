"""Every write to the registry: one function per state change, called by pages, API and tasks."""

import logging
import math
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import StrIndex, Substr
from django.utils import timezone

from accounts.models import ApiToken, Team
from audit.services import record
from sandbox.runner import WORKSPACE_PREFIX
from vetted.api import json_input

from . import access, stages
from .access import Action
from .artifacts import (
    SMALL_FILE_LIMIT,
    VERSIONS_FOLDER,
    Readable,
    StoredFile,
    clean_relpath,
    delete_folder,
    delete_folder_unchanged_since,
    iter_archive,
    size_label,
    store_stream,
    version_folder,
)
from .mlmodel import read_mlmodel, read_requirements
from .models import (
    FINISHED,
    Artifact,
    LoadCheck,
    LoadStatus,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageChange,
    Tag,
    TaskType,
    alias_name_validator,
    model_name_validator,
)


def artifact_storage():
    return storages["artifacts"]


# --- Models ---------------------------------------------------------------------------------


def _clean_tags(tags: Iterable[str]) -> list[Tag]:
    names = sorted({t.strip().lower() for t in tags if t and t.strip()})
    for name in names:
        if len(name) > 50 or not all(c.isalnum() or c in "-_" for c in name):
            raise ValidationError(f"Tag {name!r}: use letters, digits, dashes and underscores.")
    existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    for name in names:
        if name not in existing:
            existing[name], _ = Tag.objects.get_or_create(name=name)
    return [existing[n] for n in names]


class ModelNameTaken(ValidationError):
    """Names are unique across all teams (they are the API's addresses). The message is the same
    whether or not the caller may see the model, and names no team."""

    def __init__(self, name: str):
        super().__init__(
            f"The model name {name!r} is taken (names are unique across all teams); pick another."
        )


@transaction.atomic
def create_model(
    *,
    actor: User,
    name: str,
    team: Team,
    task_type: str = TaskType.OTHER,
    description: str = "",
    tags: Iterable[str] = (),
) -> RegisteredModel:
    if not access.team_allows(actor, team.id, Action.PUSH):
        raise PermissionDenied(f"Your role in team {team.name} does not allow registering models.")
    model_name_validator(name)
    if task_type not in TaskType.values:
        raise ValidationError(f"Task type must be one of: {', '.join(TaskType.values)}.")
    if RegisteredModel.objects.filter(name=name).exists():
        raise ModelNameTaken(name)
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=name,
                team=team,
                task_type=task_type,
                description=description,
                created_by=actor,
                updated_by=actor,
            )
    except IntegrityError:
        raise ModelNameTaken(name) from None
    cleaned = _clean_tags(tags)
    model.tags.set(cleaned)
    _record_model(actor, "model.created", model, after=_model_fields(model, cleaned))
    return model


def _model_fields(model: RegisteredModel, tags: Iterable[Tag]) -> dict:
    return {
        "team": model.team.slug,
        "task_type": model.task_type,
        "description": model.description,
        "tags": sorted(t.name for t in tags),
    }


def _record_model(actor, verb: str, model: RegisteredModel, **changes) -> None:
    record(
        actor=actor,
        verb=verb,
        object_type="model",
        object_id=model.pk,
        object_name=model.name,
        team=model.team,
        model_name=model.name,
        **changes,
    )


def version_audit_name(version: ModelVersion) -> str:
    """How the audit log names a version: its history page filters the log by it."""
    return f"{version.model.name} v{version.number}"


def _record_version(actor, verb: str, version: ModelVersion, **changes) -> None:
    model = version.model
    record(
        actor=actor,
        verb=verb,
        object_type="version",
        object_id=version.pk,
        object_name=version_audit_name(version),
        team=model.team,
        model_name=model.name,
        **changes,
    )


@transaction.atomic
def update_model(
    *,
    actor: User,
    model: RegisteredModel,
    description: str | None = None,
    task_type: str | None = None,
    tags: Iterable[str] | None = None,
) -> RegisteredModel:
    if not access.can(actor, Action.EDIT, model):
        raise PermissionDenied("Your role does not allow editing this model.")
    before = _model_fields(model, model.tags.all())
    if task_type is not None:
        if task_type not in TaskType.values:
            raise ValidationError(f"Task type must be one of: {', '.join(TaskType.values)}.")
        model.task_type = task_type
    if description is not None:
        model.description = description
    model.updated_by = actor
    # Named fields only: a full save would write back a stale `revision`.
    model.save(update_fields=["task_type", "description", "updated_by", "updated_at"])
    if tags is not None:
        model.tags.set(_clean_tags(tags))
    after = _model_fields(model, model.tags.all())
    changed = [key for key in after if after[key] != before[key]]
    if changed:
        _record_model(
            actor,
            "model.edited",
            model,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return model


@transaction.atomic
def rename_model(*, actor: User, model: RegisteredModel, new_name: str) -> RegisteredModel:
    """Give a model another name (MLflow's rename). Its versions, files and history stay; apps
    asking for the old name get 404 from now on, so the audit log keeps both names."""
    if not access.can(actor, Action.EDIT, model):
        raise PermissionDenied("Your role does not allow renaming this model.")
    model_name_validator(new_name)
    if new_name == model.name:
        return model
    if RegisteredModel.objects.filter(name=new_name).exists():
        raise ModelNameTaken(new_name)
    old_name = model.name
    try:
        with transaction.atomic():
            # The revision too: cached answers are keyed by the model's id and revision.
            RegisteredModel.objects.filter(pk=model.pk).update(
                name=new_name,
                updated_by=actor,
                updated_at=timezone.now(),
                revision=F("revision") + 1,
            )
    except IntegrityError:
        raise ModelNameTaken(new_name) from None
    model.refresh_from_db()
    _record_model(
        actor, "model.renamed", model, before={"name": old_name}, after={"name": new_name}
    )
    return model


@transaction.atomic
def delete_model(*, actor: User, model: RegisteredModel) -> None:
    """Delete a model with its versions, aliases and load checks, recorded in the audit log.

    Its files leave artifact storage only once the deletion has committed: a rollback keeps
    both. Only an administrator (Django's delete permission on models) may do it.
    """
    if not actor.has_perm("registry.delete_registeredmodel"):
        raise PermissionDenied("Only an administrator may delete a model.")
    artifacts = Artifact.objects.filter(version__model=model)
    files = list(artifacts.values_list("storage_name", flat=True))
    folders = [version_folder(u) for u in model.versions.values_list("uuid", flat=True)]
    _record_model(
        actor,
        "model.deleted",
        model,
        before={
            **_model_fields(model, model.tags.all()),
            "versions": model.versions.count(),
            "files": len(files),
            "bytes": sum(artifacts.values_list("size", flat=True)),
        },
    )
    model.delete()
    transaction.on_commit(lambda: _delete_stored_files(files, folders))


def _delete_stored_files(storage_names: list[str], folders: list[str]) -> None:
    """Each file by its name (versions stored before folders were named by uuid), then each
    version's folder whole, so no empty folder is left on local storage."""
    storage = artifact_storage()
    for name in storage_names:
        storage.delete(name)
    for folder in folders:
        delete_folder(storage, folder)


# --- Versions -------------------------------------------------------------------------------


@dataclass
class Lineage:
    description: str = ""
    git_repo: str = ""
    git_commit: str = ""
    git_branch: str = ""
    ci_run_url: str = ""
    training_data_uri: str = ""
    training_data_sha256: str = ""
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    requirements: list[str] | None = None


def _check_lineage(lineage: Lineage) -> None:
    if not isinstance(lineage.params, dict) or not isinstance(lineage.metrics, dict):
        raise ValidationError("params and metrics must be JSON objects.")
    json_input.check(lineage.params, field="params")
    json_input.check(lineage.metrics, field="metrics")
    if lineage.requirements is not None:
        json_input.check(lineage.requirements, field="requirements")
    for key, value in lineage.metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"Metric {key!r} must be a number, not {value!r}.")
        if not math.isfinite(value):
            raise ValidationError(f"Metric {key!r} is {value}; metrics must be finite numbers.")
    for key, value in lineage.params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"Parameter {key!r} is {value}; use a string for it.")
    sha = lineage.training_data_sha256
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower())):
        raise ValidationError("training_data_sha256 must be 64 hexadecimal characters.")
    commit = lineage.git_commit
    if commit and (len(commit) > 64 or any(c not in "0123456789abcdef" for c in commit.lower())):
        raise ValidationError("git_commit must be a hexadecimal commit id.")
    if lineage.requirements is not None and (
        not isinstance(lineage.requirements, list)
        or not all(isinstance(r, str) for r in lineage.requirements)
    ):
        raise ValidationError("requirements must be a list of strings.")


@dataclass
class Upload:
    """What a client sent: loose files (path, stream) and/or one archive (name, stream)."""

    files: list[tuple[str, IO[bytes]]] = field(default_factory=list)
    archive: tuple[str, IO[bytes]] | None = None


def register_version(
    *,
    actor: User,
    model: RegisteredModel,
    lineage: Lineage,
    upload: Upload,
    token: ApiToken | None = None,
    idempotency_key: str | None = None,
) -> tuple[ModelVersion, bool]:
    """Store the files, then number and save the version; (version, created).

    Files go first to a folder named by the new version's uuid; if anything after that fails,
    the folder is deleted, so a failed upload leaves neither a version nor a file (a process
    killed meanwhile leaves a folder no version names: sweep_debris() removes it). The number
    is taken under a row lock on the model, so concurrent uploads get 1, 2, 3 … with no gap or
    duplicate.
    """
    if not access.can(actor, Action.PUSH, model):
        raise PermissionDenied("Your role does not allow pushing versions of this model.")
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise ValidationError("Idempotency-Key must be 1-255 characters.")
        existing = ModelVersion.objects.filter(model=model, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
    _check_lineage(lineage)
    if not upload.files and upload.archive is None:
        raise ValidationError(
            "The upload holds no files: send the model's files (files, with paths) or one"
            " archive. A file named '', '.' or '..' has no name to store it under and is dropped"
            " on arrival."
        )

    storage = artifact_storage()
    version_uuid = uuid.uuid4()
    folder = version_folder(version_uuid)
    try:
        stored = _store_upload(storage, folder, upload)
        info = None
        requirements = lineage.requirements
        for item in stored:
            if item.path == "MLmodel" and item.size > SMALL_FILE_LIMIT:
                raise ValidationError(
                    f"The MLmodel file is {size_label(item.size)}: an MLmodel is a small YAML"
                    f" file, at most {size_label(SMALL_FILE_LIMIT)}."
                )
            if item.path == "MLmodel" and item.content is not None:
                info = read_mlmodel(item.content)
            if item.path == "requirements.txt" and item.content and requirements is None:
                requirements = read_requirements(item.content)
        version = _save_version(
            actor=actor,
            model=model,
            version_uuid=version_uuid,
            lineage=lineage,
            requirements=requirements or [],
            info=info,
            stored=stored,
            token=token,
            idempotency_key=idempotency_key,
        )
    except BaseException:
        delete_folder(storage, folder)
        raise
    if version is None:  # lost an idempotency race: the other request's version stands
        delete_folder(storage, folder)
        return ModelVersion.objects.get(model=model, idempotency_key=idempotency_key), False
    return version, True


def _store_upload(storage, folder: str, upload: Upload) -> list[StoredFile]:
    limit = settings.MAX_UPLOAD_BYTES
    stored: list[StoredFile] = []
    seen: set[str] = set()

    def add(path: str, stream: Readable) -> None:
        if path in seen:
            raise ValidationError(f"The file {path!r} was sent twice.")
        seen.add(path)
        remaining = limit - sum(s.size for s in stored)
        stored.append(store_stream(storage, folder, path, stream, remaining))

    for raw_path, stream in upload.files:
        add(clean_relpath(raw_path), stream)
    if upload.archive is not None:
        name, stream = upload.archive
        remaining = limit - sum(s.size for s in stored)
        max_files = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        for path, member in iter_archive(stream, name, max_files, remaining):
            add(path, member)
    return stored


def _save_version(
    *,
    actor,
    model,
    version_uuid: uuid.UUID,
    lineage: Lineage,
    requirements,
    info,
    stored,
    token,
    idempotency_key,
) -> ModelVersion | None:
    try:
        with transaction.atomic():
            number = _take_version_number(model, actor)
            version = ModelVersion.objects.create(
                uuid=version_uuid,
                model=model,
                number=number,
                description=lineage.description,
                git_repo=lineage.git_repo,
                git_commit=lineage.git_commit,
                git_branch=lineage.git_branch,
                ci_run_url=lineage.ci_run_url,
                training_data_uri=lineage.training_data_uri,
                training_data_sha256=lineage.training_data_sha256.lower(),
                params=lineage.params,
                metrics=lineage.metrics,
                requirements=requirements,
                flavors=info.flavors if info else {},
                signature=info.signature if info else None,
                mlflow_version=info.mlflow_version if info else "",
                created_by=actor,
                created_with_token=token,
                idempotency_key=idempotency_key,
            )
            artifacts = Artifact.objects.bulk_create(
                Artifact(
                    version=version,
                    path=s.path,
                    storage_name=s.storage_name,
                    size=s.size,
                    sha256=s.sha256,
                )
                for s in sorted(stored, key=lambda s: s.path)
            )
            _record_version(
                actor,
                "version.registered",
                version,
                after={
                    "files": len(artifacts),
                    "bytes": sum(a.size for a in artifacts),
                    "git_commit": version.git_commit,
                },
            )
            _first_load_check(version, has_mlmodel=info is not None)
    except IntegrityError:
        if (
            idempotency_key
            and ModelVersion.objects.filter(model=model, idempotency_key=idempotency_key).exists()
        ):
            return None
        raise
    _known_relations(version, artifacts=artifacts, aliases=[])
    return version


def _known_relations(version: ModelVersion, **lists: list) -> None:
    """Record a new version's artifacts (as stored, in listing order) and aliases (none yet) as
    `prefetch_related` would, so whoever shows it next (the API answers every push with it)
    need not read them back.
    """
    known = {}
    for name, items in lists.items():
        related = getattr(version, name).all()
        related._result_cache = items
        related._prefetch_done = True
        known[name] = related
    version._prefetched_objects_cache = known  # type: ignore[attr-defined]


NO_MLMODEL_ERROR = "This version has no MLmodel file to load."


def _first_load_check(version: ModelVersion, *, has_mlmodel: bool) -> None:
    """Without an MLmodel there is nothing to load: the check fails at once, with no task queued."""
    if has_mlmodel:
        _queue_load_check(version, attempt=1, reason="")
        return
    now = timezone.now()
    check = LoadCheck.objects.create(
        version=version,
        status=LoadStatus.FAILED,
        error=NO_MLMODEL_ERROR,
        queued_at=now,
        finished_at=now,
    )
    ModelVersion.objects.filter(pk=version.pk).update(latest_load_check=check)
    version.latest_load_check = check


def _take_version_number(model: RegisteredModel, actor: User) -> int:
    """The model's next version number, in one statement that also locks the model's row.

    Concurrent registrations queue on that lock until this transaction ends, so they get 1, 2, 3 …
    with no gap (a rollback returns the number) and no duplicate.
    """
    model_table = RegisteredModel._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model_table} SET latest_version_number = latest_version_number + 1,"
            " revision = revision + 1, updated_at = %s, updated_by_id = %s"
            " WHERE id = %s RETURNING latest_version_number",
            [connection.ops.adapt_datetimefield_value(timezone.now()), actor.pk, model.pk],
        )
        (number,) = cursor.fetchone()
    model.latest_version_number = number
    return number


def _mark_changed(models: Q, **fields) -> None:
    """Count a change to the model's versions, stages or aliases (keys of cached answers)."""
    RegisteredModel.objects.filter(models).update(revision=F("revision") + 1, **fields)


def _queue_load_check(version: ModelVersion, *, attempt: int, reason: str) -> LoadCheck:
    """A new attempt, saved now and sent to a worker once the transaction commits."""
    check = LoadCheck.objects.create(version=version, attempt=attempt, reason=reason[:300])
    ModelVersion.objects.filter(pk=version.pk).update(latest_load_check=check)
    version.latest_load_check = check
    transaction.on_commit(lambda: _enqueue_load_check(check.pk))
    return check


def _enqueue_load_check(check_id: int) -> None:
    from .tasks import run_load_check  # tasks import services: the one late import

    run_load_check.delay(check_id)


@transaction.atomic
def update_version_description(
    *, actor: User, version: ModelVersion, description: str
) -> ModelVersion:
    """The one thing about a version that may change after registration: its description."""
    if not access.can(actor, Action.EDIT, version.model):
        raise PermissionDenied("Your role does not allow editing this model's versions.")
    before = version.description
    if description == before:
        return version
    version.description = description
    version.save(update_fields=["description"])
    _mark_changed(Q(pk=version.model_id))
    _record_version(
        actor,
        "version.edited",
        version,
        before={"description": before},
        after={"description": description},
    )
    return version


def _may_delete_version(actor: User, model: RegisteredModel) -> bool:
    """The team's owner or an administrator, within what the caller's token reaches."""
    if not access.can(actor, Action.VIEW, model):
        return False
    if actor.has_perm("registry.delete_modelversion"):
        return True
    membership = access.team_memberships(actor).get(model.team_id)
    return membership is not None and membership.is_owner


@transaction.atomic
def delete_version(*, actor: User, version: ModelVersion) -> None:
    """Delete a version with its files, aliases and load checks, recorded in the audit log.

    A version in staging or production is refused: what serves (or is about to) must first be
    moved out through the stage gates. Its number is not given out again. Files leave storage
    once the deletion has committed.
    """
    model = version.model
    if not _may_delete_version(actor, model):
        raise PermissionDenied("Only the team's owner or an administrator may delete a version.")
    if version.stage in (Stage.STAGING, Stage.PRODUCTION):
        raise ValidationError(
            f"Version {version.number} of {model.name} is in {version.stage}: move it out of"
            f" {version.stage} (archive it or promote another version) before deleting it."
        )
    artifacts = Artifact.objects.filter(version=version)
    files = list(artifacts.values_list("storage_name", flat=True))
    folders = [version_folder(version.uuid)]
    aliases = sorted(version.aliases.values_list("name", flat=True))
    _record_version(
        actor,
        "version.deleted",
        version,
        before={
            "stage": version.stage,
            "aliases": aliases,
            "files": len(files),
            "bytes": sum(artifacts.values_list("size", flat=True)),
            "git_commit": version.git_commit,
        },
    )
    # Lock the model's row first, as set_stage() does: a move of this version cannot interleave.
    _mark_changed(Q(pk=model.pk), updated_at=timezone.now(), updated_by=actor)
    deleted, _ = ModelVersion.objects.filter(
        pk=version.pk, stage__in=[Stage.NONE, Stage.ARCHIVED]
    ).delete()
    if not deleted:
        raise stages.StageConflict(
            f"Version {version.number} moved to another stage meanwhile; reload and try again."
        )
    transaction.on_commit(lambda: _delete_stored_files(files, folders))


# --- Stages and aliases ---------------------------------------------------------------------


@transaction.atomic
def set_stage(
    *, actor: User, version: ModelVersion, stage: str, reason: str = "", via: str = ""
) -> ModelVersion:
    """Move a version to a stage; the version holding staging/production before is archived.

    The one place stages change. The move must be in `stages.TRANSITIONS` and pass every gate.
    It applies to the stages the caller saw (`version.stage` as loaded, and the holder of the
    target stage read before the model's row is locked): if another move changed either in the
    meantime, this one raises StageConflict and changes nothing.

    `via` tells the gates how the move is made (see stages.py). A move "request" is a merged
    promotion request: the approvals its policy asked for stand in for the actor's role, and the
    gate that owns requests vouches for it.
    """
    if via != "request" and not access.can(actor, Action.STAGE, version.model):
        raise PermissionDenied("Your role does not allow changing stages of this model.")
    old = version.stage
    if old == stage:
        return version
    stages.check_transition(old, stage)
    after_move = stages.check_gates(
        actor=actor, version=version, to_stage=stage, via=via, reason=reason
    )
    holders = []
    if stage in (Stage.STAGING, Stage.PRODUCTION):
        holders = list(
            ModelVersion.objects.filter(model_id=version.model_id, stage=stage)
            .exclude(pk=version.pk)
            .values_list("pk", "number")
        )
    # Lock the model row: concurrent moves queue here, then find what they saw has changed.
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    for holder_pk, number in holders:
        if not ModelVersion.objects.filter(pk=holder_pk, stage=stage).update(stage=Stage.ARCHIVED):
            raise stages.StageConflict(
                f"Version {number} left {stage} while you were moving version {version.number}."
                " Reload the page and try again."
            )
        holder = ModelVersion(pk=holder_pk, number=number, model=version.model)
        StageChange.objects.create(
            version=holder, from_stage=stage, to_stage=Stage.ARCHIVED, actor=actor
        )
        _record_version(
            actor,
            "stage.moved",
            holder,
            before={"stage": stage},
            after={"stage": Stage.ARCHIVED, "replaced_by": version.number},
            reason=reason,
        )
    try:
        with transaction.atomic():
            moved = ModelVersion.objects.filter(pk=version.pk, stage=old).update(stage=stage)
    except IntegrityError:  # another version reached the stage after we looked
        moved = 0
    if not moved:
        raise stages.StageConflict(
            f"Version {version.number} is no longer where you saw it ({old}): someone moved it"
            " or its stage meanwhile. Reload the page and try again."
        )
    version.stage = stage
    StageChange.objects.create(version=version, from_stage=old, to_stage=stage, actor=actor)
    after: dict = {"stage": stage}
    if old == Stage.ARCHIVED and stage == Stage.PRODUCTION:
        after["rollback"] = True
    _record_version(
        actor, "stage.moved", version, before={"stage": old}, after=after, reason=reason
    )
    _mark_changed(Q(pk=version.model_id), updated_at=timezone.now(), updated_by=actor)
    for then in after_move:
        then()
    transaction.on_commit(
        lambda: stages.stage_moved.send(
            sender=ModelVersion,
            version=version,
            from_stage=old,
            to_stage=stage,
            actor=actor,
            reason=reason,
        )
    )
    return version


@transaction.atomic
def set_alias(*, actor: User, version: ModelVersion, alias: str, reason: str = "") -> ModelAlias:
    if not access.can(actor, Action.STAGE, version.model):
        raise PermissionDenied("Your role does not allow changing aliases of this model.")
    alias_name_validator(alias)
    if alias.lower() in Stage.values or alias.isdigit():
        raise ValidationError(f"{alias!r} is reserved; pick another alias name.")
    stages.check_alias_gates(actor=actor, version=version, alias=alias, reason=reason)
    previous = (
        ModelAlias.objects.filter(model_id=version.model_id, name=alias)
        .values_list("version__number", flat=True)
        .first()
    )
    obj, _ = ModelAlias.objects.update_or_create(
        model_id=version.model_id,
        name=alias,
        defaults={"version": version, "updated_by": actor},
    )
    _mark_changed(Q(pk=version.model_id))
    _record_alias(
        actor,
        "alias.set",
        version.model,
        alias,
        before={"version": previous} if previous is not None else None,
        after={"version": version.number},
        reason=reason,
    )
    transaction.on_commit(
        lambda: stages.alias_changed.send(
            sender=ModelAlias,
            model=version.model,
            alias=alias,
            version=version,
            actor=actor,
            reason=reason,
        )
    )
    return obj


def _record_alias(actor, verb: str, model: RegisteredModel, alias: str, **changes) -> None:
    record(
        actor=actor,
        verb=verb,
        object_type="alias",
        object_id=f"{model.pk}:{alias}",
        object_name=f"{model.name}@{alias}",
        team=model.team,
        model_name=model.name,
        **changes,
    )


@transaction.atomic
def delete_alias(*, actor: User, model: RegisteredModel, alias: str, reason: str = "") -> None:
    if not access.can(actor, Action.STAGE, model):
        raise PermissionDenied("Your role does not allow changing aliases of this model.")
    previous = (
        ModelAlias.objects.filter(model=model, name=alias)
        .values_list("version__number", flat=True)
        .first()
    )
    deleted, _ = ModelAlias.objects.filter(model=model, name=alias).delete()
    if not deleted:
        raise ModelAlias.DoesNotExist
    _mark_changed(Q(pk=model.pk))
    _record_alias(actor, "alias.removed", model, alias, before={"version": previous}, reason=reason)
    transaction.on_commit(
        lambda: stages.alias_changed.send(
            sender=ModelAlias, model=model, alias=alias, version=None, actor=actor, reason=reason
        )
    )


# --- Load check -----------------------------------------------------------------------------


# Both lock the model's row before the version's, in the order set_stage() takes them, so a
# promotion and a load check of the same version cannot deadlock.


@transaction.atomic
def claim_load_check(*, check_id: int, worker: str) -> LoadCheck | None:
    """Take a pending check for this worker; None when another delivery already took it."""
    now = timezone.now()
    claimed = LoadCheck.objects.filter(pk=check_id, status=LoadStatus.PENDING).update(
        status=LoadStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker[:200]
    )
    if not claimed:
        return None
    check = LoadCheck.objects.select_related("version__model").get(pk=check_id)
    _mark_changed(Q(pk=check.version.model_id))
    return check


@transaction.atomic
def finish_load_check(
    *,
    check_id: int,
    status: str,
    seconds: float | None = None,
    shape=None,
    error: str = "",
    isolation: str = "",
) -> bool:
    """Record a running check's answer: passed, failed (the model) or errored (the machinery).

    False when the check was no longer running (the stalled-check task gave up on it first).
    """
    if status not in FINISHED:
        raise ValueError(f"a finished load check cannot be {status!r}")
    check = LoadCheck.objects.select_related("version__model__team").get(pk=check_id)
    now = timezone.now()
    started = check.started_at or now
    finished = LoadCheck.objects.filter(pk=check_id, status=LoadStatus.RUNNING).update(
        status=status,
        finished_at=now,
        duration_seconds=round((now - started).total_seconds(), 3),
        load_seconds=seconds,
        prediction_shape=shape,
        error=error[:20000],
        isolation=isolation[:300],
    )
    if not finished:
        return False
    _mark_changed(Q(pk=check.version.model_id))
    _record_version(
        None,
        "load_check.finished",
        check.version,
        after={
            "attempt": check.attempt,
            "status": status,
            "seconds": seconds,
            "isolation": isolation[:300],
        },
    )
    transaction.on_commit(
        lambda: stages.load_check_finished.send(
            sender=ModelVersion, version=check.version, status=status
        )
    )
    return True


@transaction.atomic
def retry_load_check(*, version: ModelVersion, reason: str) -> LoadCheck | None:
    """A new attempt for a version whose latest check is finished; None while one is open."""
    _mark_changed(Q(pk=version.model_id))  # the model's row first, in set_stage()'s lock order
    latest = LoadCheck.objects.select_for_update().filter(version=version).first()
    if latest is not None and not latest.done:
        return None
    attempt = (latest.attempt + 1) if latest else 1
    check = _queue_load_check(version, attempt=attempt, reason=reason)
    version_with_model = ModelVersion.objects.select_related("model__team").get(pk=version.pk)
    _record_version(
        None,
        "load_check.queued",
        version_with_model,
        after={"attempt": check.attempt},
        reason=reason,
    )
    return check


MAX_AUTOMATIC_ATTEMPTS = 5


def errored_load_checks() -> list[int]:
    """Versions whose latest check errored (no sandbox): to retry once a worker can run them,
    a few times at most, so a check that always breaks is not retried forever."""
    return list(
        ModelVersion.objects.filter(
            latest_load_check__status=LoadStatus.ERRORED,
            latest_load_check__attempt__lt=MAX_AUTOMATIC_ATTEMPTS,
        ).values_list("id", flat=True)[:500]
    )


def record_load_check_heartbeat(*, check_id: int) -> None:
    """The worker running this check is alive. Not a change anyone reads, so no revision or audit
    event; nothing happens once the check is no longer running (it was given up on)."""
    running = LoadCheck.objects.filter(pk=check_id, status=LoadStatus.RUNNING)
    running.update(heartbeat_at=timezone.now())


def _never_picked_up_grace() -> timedelta:
    """Well past the time a check may take: a pending check this old lost its message."""
    return timedelta(seconds=2 * settings.LOAD_CHECK_TIMEOUT_SECONDS + 300)


def _unheard_running_checks() -> QuerySet[LoadCheck]:
    """Running checks whose worker has missed three heartbeats: it died, or lost the database."""
    now = timezone.now()
    silent_since = now - timedelta(seconds=3 * settings.LOAD_CHECK_HEARTBEAT_SECONDS)
    return LoadCheck.objects.filter(status=LoadStatus.RUNNING).filter(
        Q(heartbeat_at__lt=silent_since)
        # Claimed by a worker from before heartbeats (during an upgrade): the old, long grace.
        | Q(heartbeat_at__isnull=True, started_at__lt=now - _never_picked_up_grace())
    )


def stalled_load_checks() -> tuple[list[int], list[int]]:
    """(pending checks whose message was lost, running checks whose worker went away).

    The first are sent again as they are once well past the time a check may take; the second,
    unheard for three heartbeats, end errored and get a new attempt. Both queries use the
    status index: few rows are pending or running at a time.
    """
    before = timezone.now() - _never_picked_up_grace()
    lost = LoadCheck.objects.filter(status=LoadStatus.PENDING, queued_at__lt=before)
    return (
        list(lost.values_list("id", flat=True)[:500]),
        list(_unheard_running_checks().values_list("id", flat=True)[:500]),
    )


@transaction.atomic
def give_up_on_load_check(*, check_id: int) -> LoadCheck | None:
    """End a check whose worker went away as errored, and queue the next attempt while fewer
    than MAX_AUTOMATIC_ATTEMPTS were made (a model that kills its worker is not retried forever).

    The row is locked and its silence checked again, so a heartbeat that arrives meanwhile wins.
    """
    version = ModelVersion.objects.get(load_checks=check_id)
    _mark_changed(Q(pk=version.model_id))  # the model's row first, in set_stage()'s lock order
    unheard = _unheard_running_checks().select_for_update().filter(pk=check_id)
    check = unheard.first()
    if check is None:
        return None
    last_heard = (check.heartbeat_at or check.started_at or timezone.now()).astimezone(UTC)
    heard = f"last heard {last_heard:%H:%M:%S} UTC"
    if check.worker:
        heard += f" from {check.worker}"
    again = check.attempt < MAX_AUTOMATIC_ATTEMPTS
    then = "checking again" if again else f"not checked again after {check.attempt} attempts"
    finish_load_check(
        check_id=check_id,
        status=LoadStatus.ERRORED,
        error=f"The worker stopped answering during the check ({heard}); {then}.",
    )
    if not again:
        return None
    return retry_load_check(
        version=version,
        reason=f"attempt {check.attempt} was lost: its worker stopped answering ({heard})",
    )


# --- Debris ---------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

# The names Django gives the temporary files it spools uploads to.
UPLOAD_TEMP_FILES = "tmp*.upload*"

# sweep(before) deletes debris older than `before`: (items deleted, bytes).
DebrisSweep = Callable[[datetime], tuple[int, int]]

# The debris of apps above the registry, which it may not import, by what the report calls it.
DEBRIS_SWEEPERS: dict[str, DebrisSweep] = {}


def register_debris_sweeper(name: str, sweep: DebrisSweep) -> None:
    """Have sweep_debris() call `sweep` too, with the same grace period; `name` says in its
    report what it deleted ("MLflow uploads no run or logged model names"). Apps call it in
    their AppConfig.ready()."""
    DEBRIS_SWEEPERS[name] = sweep


@dataclass
class SweptDebris:
    upload_files: int = 0
    workspaces: int = 0
    version_folders: int = 0
    bytes: int = 0
    registered: dict[str, int] = field(default_factory=dict)  # items each sweeper deleted

    @property
    def items(self) -> int:
        found = self.upload_files + self.workspaces + self.version_folders
        return found + sum(self.registered.values())

    def __str__(self) -> str:
        counts = [
            f"{self.upload_files} upload temporary files",
            f"{self.workspaces} load-check workspaces",
            f"{self.version_folders} version folders no version names",
            *(f"{count} {name}" for name, count in self.registered.items()),
        ]
        return f"{', '.join(counts[:-1])} and {counts[-1]} ({size_label(self.bytes)})"


def sweep_debris() -> SweptDebris:
    """Delete what killed uploads and load checks leave behind once it is older than
    DEBRIS_GRACE_HOURS: upload temporary files, this machine's load-check workspaces, folders
    in artifact storage that no version names, and what the registered sweepers find.

    Nothing still in use is deleted: an upload or a check under way keeps writing its files and
    ends long before the grace period does, so whatever it uses is younger than that.
    """
    before = timezone.now() - timedelta(hours=settings.DEBRIS_GRACE_HOURS)
    swept = SweptDebris()
    for path in Path(settings.FILE_UPLOAD_TEMP_DIR).glob(UPLOAD_TEMP_FILES):
        size = _delete_if_untouched(path, before)
        if size is not None:
            swept.upload_files += 1
            swept.bytes += size
    for path in Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*"):
        size = _delete_if_untouched(path, before)
        if size is not None:
            swept.workspaces += 1
            swept.bytes += size
    storage = artifact_storage()
    try:
        folders = storage.listdir(VERSIONS_FOLDER)[0]
    except FileNotFoundError:  # nothing stored yet
        folders = []
    for name in _folders_without_version(folders):
        size = delete_folder_unchanged_since(storage, f"{VERSIONS_FOLDER}/{name}", before)
        if size is not None:
            swept.version_folders += 1
            swept.bytes += size
    for name, sweep in DEBRIS_SWEEPERS.items():
        items, size = sweep(before)
        swept.registered[name] = items
        swept.bytes += size
    logger.info("Swept debris older than %d hours: %s.", settings.DEBRIS_GRACE_HOURS, swept)
    return swept


def _delete_if_untouched(path: Path, before: datetime) -> int | None:
    """Delete a file or folder nothing in which changed since `before`: the bytes it held, or
    None when it is kept (or was gone already)."""
    stats = []
    try:
        stats.append(path.lstat())
        for folder, subfolders, files in os.walk(path):
            stats += [os.lstat(os.path.join(folder, name)) for name in subfolders + files]
    except FileNotFoundError:  # its request or check finished meanwhile and removed it
        return None
    if max(s.st_mtime for s in stats) >= before.timestamp():
        return None
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return sum(s.st_size for s in stats if stat.S_ISREG(s.st_mode))


def _folders_without_version(names: list[str]) -> list[str]:
    """Of these folders under versions/, those that hold no version's files. A folder is named
    by its version's uuid; one stored before that was so is found by its files' names."""
    uuids = []
    for name in names:
        try:
            uuids.append(uuid.UUID(name))
        except ValueError:
            continue
    found = ModelVersion.objects.filter(uuid__in=uuids).values_list("uuid", flat=True)
    named = {str(version_uuid) for version_uuid in found}
    older = [name for name in names if name not in named]
    in_folder = Substr("storage_name", len(VERSIONS_FOLDER) + 2)
    folder_of_file = Substr(in_folder, 1, StrIndex(in_folder, Value("/")) - 1)
    for start in range(0, len(older), 1000):
        named.update(
            Artifact.objects.filter(storage_name__startswith=f"{VERSIONS_FOLDER}/")
            .annotate(folder=folder_of_file)
            .filter(folder__in=older[start : start + 1000])
            .order_by()
            .values_list("folder", flat=True)
            .distinct()
        )
    return [name for name in names if name not in named]
