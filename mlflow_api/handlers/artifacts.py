"""MLflow's artifact service: upload, download, list and delete under a run, a logged model or a
registered version (read-only), and the server-info that tells clients to upload plainly.

Bodies are streamed in 1 MiB chunks both ways, so a 1 GB model costs the same memory as a small
one; settings.MAX_UPLOAD_BYTES caps each file.
"""

from django.conf import settings
from django.http import FileResponse, HttpRequest

from registry.access import Action, can, team_allows
from registry.artifacts import sha256_digest_header, too_large
from registry.models import ModelVersion
from registry.services import artifact_storage

from .. import artifact_store
from ..artifact_store import Location
from ..models import LoggedModel, Run
from ..wire import PERMISSION_DENIED, Call, MlflowError, endpoint, invalid, not_found

ARTIFACTS = "2.0/mlflow-artifacts/artifacts"


def _visible(call: Call, artifact_path: str) -> Location:
    """Where the path is, if the caller may see it; otherwise RESOURCE_DOES_NOT_EXIST, as for a
    path nothing holds (another team's runs are not even confirmed to exist)."""
    location = artifact_store.locate(artifact_path)
    owner = location.owner
    if isinstance(owner, ModelVersion):
        visible = can(call.user, Action.VIEW, owner.model)
    else:
        visible = team_allows(call.user, owner.team_id, Action.VIEW)
    if not visible:
        raise not_found(
            f"No run, logged model or model version holds artifacts at {artifact_path!r}."
        )
    return location


def _writable(call: Call, artifact_path: str) -> tuple[Run | LoggedModel, str]:
    """The run or logged model to write into and the path in it, if the caller may."""
    location = _visible(call, artifact_path)
    owner = location.owner
    if isinstance(owner, ModelVersion):
        raise MlflowError(
            PERMISSION_DENIED,
            "A registered version's files are frozen: log the new files to a run or a logged"
            " model and register them as a new version.",
        )
    if not team_allows(call.user, owner.team_id, Action.PUSH):
        raise MlflowError(
            PERMISSION_DENIED,
            "Your role in this run's team does not allow logging artifacts (data scientists,"
            " DevOps and owners may).",
        )
    return owner, location.relpath


@endpoint(ARTIFACTS, "PUT", write=True, raw_body=True, prefix=True)
def upload_artifact(call: Call) -> dict:
    if not call.subpath:
        raise invalid("Name the file to upload: PUT …/mlflow-artifacts/artifacts/<path>.")
    owner, relpath = _writable(call, artifact_store.checked_path(call.subpath))
    if not relpath:
        raise invalid("An artifact root is a folder; upload a file into it.")
    request = call.request
    assert isinstance(request, HttpRequest)
    limit = settings.MAX_UPLOAD_BYTES
    if "HTTP_TRANSFER_ENCODING" in request.META:
        # MLflow's client (through requests) sends an empty file chunked. Django's own stream
        # reads such a body as empty, so it is read from the server's stream, which a server
        # that de-chunks it (gunicorn, wsgi.input_terminated) ends where the body ends.
        artifact_store.store_artifact(owner, relpath, request.META["wsgi.input"], None, limit)
        return {}
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise invalid("The Content-Length header is not a number.") from None
    if declared > limit:
        raise too_large()
    artifact_store.store_artifact(owner, relpath, request, declared, limit)
    return {}


@endpoint(ARTIFACTS, "GET", write=False, prefix=True)
def download_or_list_artifacts(call: Call):
    """GET …/artifacts/<path> downloads a file; GET …/artifacts?path=<folder> lists a folder."""
    if call.subpath:
        location = _visible(call, artifact_store.checked_path(call.subpath))
        found = artifact_store.find_file(location.owner, location.relpath)
        response = FileResponse(
            artifact_storage().open(found.storage_name, "rb"),
            as_attachment=True,
            filename=location.relpath.rsplit("/", 1)[-1],
            content_type="application/octet-stream",
        )
        response["Content-Length"] = str(found.size)
        response["Digest"] = sha256_digest_header(found.sha256)
        return response
    folder = (call.text("path") or "").rstrip("/")
    if not folder:  # the root of every artifact: Vetted lists only what is inside one run
        return {}
    location = _visible(call, artifact_store.checked_path(folder))
    entries = artifact_store.listing(location.owner, location.relpath)
    if not entries:
        return {}  # as MLflow's server: no `files` at all for an empty or missing folder
    return {
        "files": [
            {"path": e.name, "is_dir": True}
            if e.is_dir
            else {"path": e.name, "is_dir": False, "file_size": e.size}
            for e in entries
        ]
    }


@endpoint(ARTIFACTS, "DELETE", write=True, prefix=True)
def delete_artifacts(call: Call) -> dict:
    path = call.subpath.rstrip("/") or (call.text("path") or "").rstrip("/")
    if not path:
        raise invalid("Name the artifact or folder to delete.")
    owner, relpath = _writable(call, artifact_store.checked_path(path))
    artifact_store.delete_artifacts(owner, relpath)
    return {}


@endpoint("3.0/mlflow/server-info", "GET", write=False)
def server_info(call: Call) -> dict:
    """What MLflow's client asks before it uploads: multipart and presigned transfers are off,
    so it PUTs every file through the artifact service above."""
    return {
        "store_type": None,
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "artifact_serving_enabled": True,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "model_artifact_presigned_downloads_supported": False,
        "features_enabled": {"gateway": False, "scheduled_issue_detection": False},
        "tracking_auth": "",
        "artifacts_presigned_only": False,
    }
