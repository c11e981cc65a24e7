"""Where MLflow's artifacts live in Vetted, and the `mlflow-artifacts:/…` URIs that name them.

The server hands out three kinds of artifact roots, and an artifact path (what follows
/mlflow-artifacts/artifacts/) always starts with one of them:

    <experiment_id>/<run_id>/artifacts/…               a run's files (MLflow 2.x logs models here)
    <experiment_id>/models/<model_id>/artifacts/…      a logged model's files (MLflow 3)
    registered/<model name>/<number>/…                 a registered version's frozen files

Runs and logged models are staging areas: a client writes into them while it logs, and a
version copies their files when it is registered. A version's own files are the registry's
Artifact rows, served read-only.
"""

import posixpath
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from registry.artifacts import (
    MAX_PATH_LENGTH,
    MAX_SEGMENT_BYTES,
    delete_folder,
    delete_folder_unchanged_since,
    store_stream,
)
from registry.models import Artifact, ModelVersion
from registry.services import artifact_storage

from .models import LoggedModel, Run, StagedArtifact
from .wire import invalid, not_found

ROOT_FOLDER = "mlflow"
REGISTERED = "registered"

Owner = Run | LoggedModel | ModelVersion


def run_artifact_uri(run: Run) -> str:
    return f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"


def logged_model_artifact_uri(lm: LoggedModel) -> str:
    return f"mlflow-artifacts:/{lm.experiment_id}/models/{lm.model_id}/artifacts"


def version_artifact_uri(version: ModelVersion) -> str:
    return f"mlflow-artifacts:/{REGISTERED}/{version.model.name}/{version.number}"


def checked_path(raw: str) -> str:
    """An artifact path as sent, refused unless every segment is a plain name.

    Stricter than the registry's clean_relpath, which drops empty and `.` segments: here a
    client's path is an address, and two spellings of one file would be two files to it.
    """
    if not raw or len(raw) > MAX_PATH_LENGTH:
        raise invalid(f"The artifact path must be 1-{MAX_PATH_LENGTH} characters.")
    if "\\" in raw or any(ord(c) < 32 for c in raw):
        raise invalid(f"The artifact path {raw[:80]!r} holds a backslash or a control character.")
    segments = raw.split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise invalid(
            f"The artifact path {raw[:80]!r} must be relative, without empty, '.' or '..' parts."
        )
    if any(len(s.encode()) > MAX_SEGMENT_BYTES for s in segments):
        raise invalid(f"Each part of an artifact path is at most {MAX_SEGMENT_BYTES} bytes.")
    return raw


@dataclass(frozen=True)
class Location:
    """An artifact path split into the run, logged model or version it is in, and the rest."""

    owner: Owner
    relpath: str  # "" for the owner's root


def _id_number(text: str) -> int | None:
    """An experiment id or version number as a path spells it; None for anything else (other
    digits than ASCII, or more than a database integer holds)."""
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None


def locate(artifact_path: str) -> Location:
    """Resolve a checked artifact path; RESOURCE_DOES_NOT_EXIST if it is in nothing Vetted holds.

    Says nothing about who may see it: the caller checks that.
    """
    parts = artifact_path.split("/")
    missing = not_found(
        f"No run, logged model or model version holds artifacts at {artifact_path!r}."
    )
    if parts[0] == REGISTERED and len(parts) >= 3:
        number = _id_number(parts[2])
        if number is None:
            raise missing
        version = (
            ModelVersion.objects.select_related("model")
            .filter(model__name=parts[1], number=number)
            .first()
        )
        if version is None:
            raise missing
        return Location(version, "/".join(parts[3:]))
    experiment_id = _id_number(parts[0])
    if experiment_id is None:
        raise missing
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        logged_model = LoggedModel.objects.filter(
            model_id=parts[2], experiment_id=experiment_id
        ).first()
        if logged_model is None:
            raise missing
        return Location(logged_model, "/".join(parts[4:]))
    if len(parts) >= 3 and parts[2] == "artifacts":
        run = Run.objects.filter(run_id=parts[1], experiment_id=experiment_id).first()
        if run is None:
            raise missing
        return Location(run, "/".join(parts[3:]))
    raise missing


def _staged(owner: Run | LoggedModel):
    if isinstance(owner, Run):
        return StagedArtifact.objects.filter(run=owner)
    return StagedArtifact.objects.filter(logged_model=owner)


def _under(relpath: str) -> Q:
    """The files at `relpath` or below it ("" is the whole root)."""
    if not relpath:
        return Q()
    return Q(path=relpath) | Q(path__startswith=relpath + "/")


def staged_files(owner: Run | LoggedModel, subpath: str = "") -> list[tuple[str, str]]:
    """[(path relative to subpath, storage name)] of the files under subpath, sorted by path.

    A subpath naming one file gives that file under its own name.
    """
    subpath = subpath.strip("/")
    rows = _staged(owner).filter(_under(subpath)).values_list("path", "storage_name")
    found = []
    for path, storage_name in rows:
        if path == subpath:
            relative = posixpath.basename(path)
        else:
            relative = path[len(subpath) + 1 :] if subpath else path
        found.append((relative, storage_name))
    return sorted(found)


@dataclass(frozen=True)
class Entry:
    """One line of a folder listing, as MLflow's FileInfo: a file with its size, or a folder."""

    name: str
    is_dir: bool
    size: int | None


def listing(owner: Owner, relpath: str) -> list[Entry]:
    """What is directly in the folder `relpath`; empty for a file or a folder that isn't there."""
    if isinstance(owner, ModelVersion):
        rows = Artifact.objects.filter(version=owner).values_list("path", "size")
    else:
        rows = _staged(owner).values_list("path", "size")
    if relpath:
        rows = rows.filter(path__startswith=relpath + "/")
    prefix = len(relpath) + 1 if relpath else 0
    files: dict[str, int] = {}
    folders: set[str] = set()
    for path, size in rows:
        head, _, rest = path[prefix:].partition("/")
        if rest:
            folders.add(head)
        else:
            files[head] = size
    entries = [Entry(name, False, size) for name, size in files.items()]
    entries += [Entry(name, True, None) for name in folders]
    return sorted(entries, key=lambda e: e.name)


@dataclass(frozen=True)
class StoredArtifact:
    """A file found for download: where it is stored, its size and sha256."""

    storage_name: str
    size: int
    sha256: str


def find_file(owner: Owner, relpath: str) -> StoredArtifact:
    if isinstance(owner, ModelVersion):
        rows = Artifact.objects.filter(version=owner)
    else:
        rows = _staged(owner)
    found = rows.filter(path=relpath).values_list("storage_name", "size", "sha256").first()
    if not relpath or found is None:
        raise not_found(f"No artifact file {relpath!r} here (a folder is listed, not downloaded).")
    return StoredArtifact(*found)


def store_artifact(
    owner: Run | LoggedModel, relpath: str, stream, declared_size: int | None, limit: int
) -> StagedArtifact:
    """Stream one uploaded file into storage, hashing it, then make it the file at `relpath`.

    The bytes go to a name no other upload uses; only once all of them are stored (as many as
    `declared_size`, when the body declared one) does the row point at them, and the previous
    file is deleted after that commits. A body cut short or past `limit` leaves nothing behind.
    """
    _refuse_file_folder_clash(owner, relpath)
    storage = artifact_storage()
    folder = _upload_folder(owner)
    try:
        stored = store_stream(storage, folder, relpath, stream, limit)
        if declared_size is not None and stored.size != declared_size:
            raise invalid(
                f"The upload of {relpath!r} ended after {stored.size} of its {declared_size}"
                " bytes; nothing was stored. Log the artifact again."
            )
        row, replaced = _point_at(owner, relpath, stored)
    except BaseException:
        delete_folder(storage, folder)
        raise
    if replaced:
        transaction.on_commit(lambda: delete_folder(storage, _folder_of(replaced)))
    return row


def _upload_folder(owner: Run | LoggedModel) -> str:
    kind, key = ("runs", owner.run_id) if isinstance(owner, Run) else ("models", owner.model_id)
    return f"{ROOT_FOLDER}/{kind}/{key}/{uuid.uuid4().hex}"


def _folder_of(storage_name: str) -> str:
    """The upload's own folder (mlflow/<kind>/<key>/<upload>) a stored file is in."""
    return "/".join(storage_name.split("/")[:4])


def _refuse_file_folder_clash(owner: Run | LoggedModel, relpath: str) -> None:
    parents = ["/".join(relpath.split("/")[:i]) for i in range(1, relpath.count("/") + 1)]
    rows = _staged(owner)
    if rows.filter(path__in=parents).exists():
        raise invalid(f"Cannot store {relpath!r}: a part of its path is already a file.")
    if rows.filter(path__startswith=relpath + "/").exists():
        raise invalid(f"Cannot store {relpath!r}: it is already a folder of artifacts.")


def _point_at(owner: Run | LoggedModel, relpath: str, stored) -> tuple[StagedArtifact, str]:
    """Make the row for `relpath` point at the stored file; (row, storage name it replaced)."""
    fields = {
        "storage_name": stored.storage_name,
        "size": stored.size,
        "sha256": stored.sha256,
        "uploaded_at": timezone.now(),
    }
    owner_field = "run" if isinstance(owner, Run) else "logged_model"
    with transaction.atomic():
        row = _staged(owner).select_for_update().filter(path=relpath).first()
        if row is None:
            try:
                with transaction.atomic():
                    return StagedArtifact.objects.create(
                        **{owner_field: owner}, path=relpath, **fields
                    ), ""
            except IntegrityError:  # a parallel upload of the same path created it first
                row = _staged(owner).select_for_update().get(path=relpath)
        replaced = row.storage_name
        for name, value in fields.items():
            setattr(row, name, value)
        row.save(update_fields=[*fields])
    return row, replaced


def delete_artifacts(owner: Run | LoggedModel, relpath: str) -> int:
    """Delete the file at `relpath`, or everything under it ("" is the whole root); how many.

    The files leave storage once the deletion has committed.
    """
    rows = _staged(owner).filter(_under(relpath))
    names = list(rows.values_list("storage_name", flat=True))
    rows.delete()
    storage = artifact_storage()

    def delete_stored() -> None:
        for name in names:
            delete_folder(storage, _folder_of(name))

    transaction.on_commit(delete_stored)
    return len(names)


def sweep_debris(before: datetime) -> tuple[int, int]:
    """Delete the upload folders no artifact row names once nothing in them changed since
    `before`: (folders, bytes). They are what an upload killed before its row was made leaves,
    a replaced or deleted file whose deletion after the commit was killed, and the files of a
    run or logged model deleted with its rows (its staged rows go, its files stay). An upload
    under way writes its file and then its row long before the grace period ends."""
    storage = artifact_storage()
    folders = size = 0
    for kind, owner in (("runs", "run_id"), ("models", "logged_model_id")):
        for key in _subfolders(storage, f"{ROOT_FOLDER}/{kind}"):
            rows = StagedArtifact.objects.filter(**{owner: key})
            named = {_folder_of(name) for name in rows.values_list("storage_name", flat=True)}
            for upload in _subfolders(storage, f"{ROOT_FOLDER}/{kind}/{key}"):
                folder = f"{ROOT_FOLDER}/{kind}/{key}/{upload}"
                if folder in named:
                    continue
                held = delete_folder_unchanged_since(storage, folder, before)
                if held is not None:
                    folders += 1
                    size += held
    return folders, size


def _subfolders(storage, folder: str) -> list[str]:
    try:
        return storage.listdir(folder)[0]
    except FileNotFoundError:
        return []
