"""`vetted`: push model versions from CI, ask for their promotion, review, and pull them in deploy
jobs, over the REST API.

A thin client on httpx and the standard library. It imports neither Django nor mlflow, so a CI
machine needs only this module and httpx. The exit codes below are part of its interface.
"""

import argparse
import gzip
import hashlib
import json
import math
import os
import re
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

T = TypeVar("T")


class Exit(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    NOT_FOUND = 5
    REJECTED = 6
    CHECKSUM = 7


class CliError(Exception):
    """A failure a person can act on: the message goes to stderr, the code is the exit status."""

    def __init__(self, message: str, code: Exit = Exit.ERROR):
        super().__init__(message)
        self.code = code


ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
RETRY_STATUSES = {502, 503, 504}
RETRY_DELAYS_SECONDS = (1.0, 2.0)  # three tries in all
CHUNK_BYTES = 1024 * 1024
TOKEN_HELP = (
    "create a token in Settings → API tokens or with "
    "`python manage.py create_token USER --scopes read,write`"
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _exit_for_status(status: int) -> Exit:
    if status in (401, 403):
        return Exit.AUTH
    if status == 404:
        return Exit.NOT_FOUND
    if status in (400, 413, 422):
        return Exit.REJECTED
    return Exit.ERROR


def _error_message(response: httpx.Response) -> str:
    """What the server said: the API error's message (field errors included) and, for a 5xx, the
    request id its log knows it by. Only an answer that is not Vetted's error shape (a proxy's
    HTML page, another program on that port) asks whether VETTED_URL is right."""
    where = f"HTTP {response.status_code} from {response.request.method} {response.request.url}"
    if response.is_redirect:
        target = response.headers.get("Location", "")
        return f"{where} redirects to {target}: set VETTED_URL to the address it points to."
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not (isinstance(error, dict) and isinstance(error.get("message"), str)):
        return f"{where}, not a Vetted API answer: is VETTED_URL the address of a Vetted server?"
    message = error["message"]
    request_id = error.get("request_id") or response.headers.get("X-Request-ID", "")
    if response.status_code >= 500 and request_id and request_id not in message:
        message = f"{message} (request id {request_id})"
    return f"{message} ({where})"


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response):
        super().__init__(_error_message(response))
        self.status = response.status_code


class Api:
    """The registry's REST API at one address with one token.

    Connection errors and 502/503/504 are retried with backoff; pushes are safe to retry
    because they carry an Idempotency-Key.
    """

    def __init__(self, url: str, token: str):
        self.base = url.rstrip("/") + "/api/v1/"
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"vetted-cli/{_version()}"},
            timeout=httpx.Timeout(60.0, connect=10.0, read=600.0),
        )

    def close(self) -> None:
        self.http.close()

    def _retrying(
        self, what: str, attempt: Callable[[], T], delays: tuple[float, ...] = RETRY_DELAYS_SECONDS
    ) -> T:
        for delay in (*delays, None):
            try:
                return attempt()
            except _RetryableStatus as exc:
                failure: Exception = exc
                if delay is None:
                    raise CliError(str(exc), _exit_for_status(exc.status)) from None
            except httpx.TransportError as exc:
                failure = exc
                if delay is None:
                    raise CliError(
                        f"Could not reach {self.base} for {what}: {exc or type(exc).__name__}. "
                        "Check VETTED_URL and the network.",
                    ) from None
            _say(f"{what}: {failure or type(failure).__name__}; trying again in {delay:g}s.")
            time.sleep(delay)
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        body: Callable[[], dict] | None = None,
        retry: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """The response to `method path`; `body()` gives fresh content (a rewound file) per try.
        `retry=False` for a write that has no Idempotency-Key: one try, so never stored twice."""

        def attempt() -> httpx.Response:
            response = self.http.request(
                method, self.base + path, **(body() if body else {}), **kwargs
            )
            if response.status_code in RETRY_STATUSES:
                raise _RetryableStatus(response)
            if not response.is_success:
                raise CliError(_error_message(response), _exit_for_status(response.status_code))
            return response

        return self._retrying(f"{method} {path}", attempt, RETRY_DELAYS_SECONDS if retry else ())

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{method} {response.request.url} did not answer with JSON: "
                "is VETTED_URL the address of a Vetted server?"
            ) from None

    def download(self, path: str, target: IO[bytes]) -> tuple[str, str]:
        """Stream `path` into `target`: (sha256 of what arrived, the X-Checksum-SHA256 header)."""

        def attempt() -> tuple[str, str]:
            target.seek(0)
            target.truncate()
            digest = hashlib.sha256()
            with self.http.stream("GET", self.base + path) as response:
                if response.status_code in RETRY_STATUSES:
                    response.read()
                    raise _RetryableStatus(response)
                if not response.is_success:
                    response.read()
                    raise CliError(_error_message(response), _exit_for_status(response.status_code))
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    digest.update(chunk)
                    target.write(chunk)
                return digest.hexdigest(), response.headers.get("X-Checksum-SHA256", "")

        return self._retrying(f"GET {path}", attempt)


def _version() -> str:
    try:
        return metadata.version("vetted-cli")
    except metadata.PackageNotFoundError:
        return "unknown"


def _api_from(args: argparse.Namespace) -> Api:
    url = (args.url or os.environ.get("VETTED_URL", "")).strip()
    token = (args.token or os.environ.get("VETTED_TOKEN", "")).strip()
    if not url:
        raise CliError(
            "VETTED_URL is not set: set it (or --url) to your Vetted server's address, "
            "e.g. https://vetted.example.com.",
            Exit.CONFIG,
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(
            f"VETTED_URL {url!r} is not an http(s) address like https://vetted.example.com.",
            Exit.CONFIG,
        )
    if not token:
        raise CliError(f"VETTED_TOKEN is not set: {TOKEN_HELP} (or pass --token).", Exit.CONFIG)
    return Api(url.rstrip("/").removesuffix("/api/v1"), token)


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _files(artifacts: list[dict]) -> str:
    """'7 files, 13.0 KB'."""
    count = len(artifacts)
    return f"{count} file{'' if count == 1 else 's'}, {_size(sum(a['size'] for a in artifacts))}"


def _sha256_of(file: IO[bytes]) -> str:
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(CHUNK_BYTES):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


# --- Lineage --------------------------------------------------------------------------------


@dataclass
class Lineage:
    git_repo: str = ""
    git_commit: str = ""
    git_branch: str = ""
    ci_run_url: str = ""


def lineage_from_ci(env: dict[str, str]) -> Lineage:
    """What GitHub Actions or GitLab CI says about the commit and the run."""
    if env.get("GITHUB_SHA"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo = f"{server}/{env['GITHUB_REPOSITORY']}" if env.get("GITHUB_REPOSITORY") else ""
        run_id = env.get("GITHUB_RUN_ID", "")
        return Lineage(
            git_repo=repo,
            git_commit=env["GITHUB_SHA"],
            # On pull requests GITHUB_REF_NAME is "<n>/merge"; GITHUB_HEAD_REF is the branch.
            git_branch=env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME", ""),
            ci_run_url=f"{repo}/actions/runs/{run_id}" if repo and run_id else "",
        )
    if env.get("CI_COMMIT_SHA"):
        return Lineage(
            git_repo=env.get("CI_PROJECT_URL", ""),
            git_commit=env["CI_COMMIT_SHA"],
            git_branch=env.get("CI_COMMIT_REF_NAME", ""),
            ci_run_url=env.get("CI_PIPELINE_URL") or env.get("CI_JOB_URL", ""),
        )
    return Lineage()


def lineage_from_git(folder: Path) -> Lineage:
    """The checkout `folder` belongs to, if any; credentials in the remote URL are dropped."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return Lineage()
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return Lineage(
        git_repo=without_credentials(git("remote", "get-url", "origin")),
        git_commit=commit,
        git_branch="" if branch == "HEAD" else branch,
    )


def without_credentials(url: str) -> str:
    """`https://ci-token:secret@host/x.git` → `https://host/x.git`: CI clones embed tokens."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def default_idempotency_key(model: str, commit: str, content_sha256: str) -> str:
    """The same model, commit and content give the same key, so a retried CI step is a no-op."""
    seed = f"{model}\n{commit}\n{content_sha256}".encode()
    return "vetted-push-" + hashlib.sha256(seed).hexdigest()


# --- Push -----------------------------------------------------------------------------------


def _files_to_pack(folder: Path) -> list[tuple[Path, str]]:
    """(file, path inside the archive) for every file under `folder`; links are refused."""
    found = []
    for root, dirs, names in os.walk(folder):  # does not follow links to folders: refused below
        for path in [Path(root, name) for name in dirs + names]:
            if path.is_symlink():
                raise CliError(
                    f"{path} is a symbolic link; the registry stores regular files only. "
                    "Replace it with a copy of what it points to, or remove it.",
                    Exit.USAGE,
                )
        for path in [Path(root, name) for name in names]:
            if not stat.S_ISREG(path.stat().st_mode):
                raise CliError(f"{path} is not a regular file; remove it.", Exit.USAGE)
            found.append((path, path.relative_to(folder).as_posix()))
    if not found:
        raise CliError(f"{folder} holds no files.", Exit.USAGE)
    if not any(relpath == "MLmodel" for _, relpath in found):
        _say(
            f"warning: {folder} has no MLmodel file, so the registry cannot read its flavors "
            "or signature. Push the folder mlflow.<flavor>.save_model() wrote."
        )
    return sorted(found, key=lambda item: item[1])


def _pack(folder: Path, target: IO[bytes]) -> int:
    """Write a .tar.gz of `folder` to `target`, streaming; the same files give the same bytes."""
    files = _files_to_pack(folder)
    with (
        gzip.GzipFile(filename="", fileobj=target, mode="wb", mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path, relpath in files:
            info = tarfile.TarInfo(relpath)
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as content:
                tar.addfile(info, content)
    return len(files)


@contextmanager
def _upload_of(source: Path) -> Iterator[tuple[str, str, IO[bytes]]]:
    """(form field, file name, open file) to send for a folder, an archive or a single file."""
    if source.is_dir():
        with tempfile.TemporaryFile(prefix="vetted-push-") as packed:
            count = _pack(source, packed)
            _say(f"Packed {count} files from {source} ({_size(packed.tell())}).")
            yield "archive", f"{source.resolve().name or 'model'}.tar.gz", packed
        return
    field = "archive" if source.name.lower().endswith(ARCHIVE_SUFFIXES) else "files"
    with source.open("rb") as file:
        yield field, source.name, file


def push(api: Api, args: argparse.Namespace) -> int:
    source = Path(args.path)
    lineage = lineage_from_ci(dict(os.environ))
    if not lineage.git_commit:
        lineage = lineage_from_git(source if source.is_dir() else source.parent)
    fields = {
        "description": args.description,
        "git_repo": lineage.git_repo,
        "git_commit": lineage.git_commit,
        "git_branch": lineage.git_branch,
        "ci_run_url": lineage.ci_run_url,
        "training_data_uri": args.training_data_uri,
        "training_data_sha256": args.training_data_sha256,
        "params": json.dumps(dict(args.params)),
        "metrics": json.dumps(args.metrics),
    }
    fields |= {k: v for k, v in (("team", args.team), ("task_type", args.task_type)) if v}
    with _upload_of(source) as (field, filename, file):
        if field == "files":
            fields["paths"] = filename
        key = args.idempotency_key or default_idempotency_key(
            args.model, lineage.git_commit, _sha256_of(file)
        )

        def body() -> dict:
            file.seek(0)
            return {"data": fields, "files": {field: (filename, file, "application/octet-stream")}}

        try:
            response = api.request(
                "POST",
                f"models/{_q(args.model)}/versions/",
                body=body,
                headers={"Idempotency-Key": key},
            )
        except CliError as exc:
            if exc.code == Exit.NOT_FOUND and not args.team:
                raise CliError(
                    f"No model named {args.model!r} that you can see: pass --team SLUG to create "
                    "it with this first version.",
                    exc.code,
                ) from None
            raise
    version = response.json()
    number = version["version"]
    if response.status_code == 200:
        _say(f"{args.model} version {number} already holds this push (same Idempotency-Key).")
    else:
        _say(
            f"Registered {args.model} version {number}: {_files(version['artifacts'])}, "
            f"load check {version['load_check']['status']}."
        )
    if lineage.git_commit:
        _say(f"Lineage: commit {lineage.git_commit[:12]} on {lineage.git_branch or '(detached)'}.")
    tags_failure = None
    if args.tags:
        try:
            _add_tags(api, args.model, args.tags)
        except CliError as exc:
            tags_failure = CliError(
                f"Version {number} is registered, but the tags were not added (they need a "
                f"role that may edit the model): {exc}",
                exc.code,
            )
    print(json.dumps(version, indent=2) if args.json else number, flush=True)
    if tags_failure:
        raise tags_failure
    if args.request:
        opened = _open_request(api, args.model, number, args.request, args.description)
        _say(f"Opened request #{opened['number']}: {_missing_text(opened)}")
    return Exit.OK


def data_push(api: Api, args: argparse.Namespace) -> int:
    fields = {
        "kind": args.kind,
        "label": args.label,
        "prediction": args.prediction,
        "score": args.score,
        "protected": args.protected,
    }
    if args.at:
        fields["at"] = args.at
    source = Path(args.file)
    with source.open("rb") as file:
        response = api.request(
            "POST",
            f"models/{_q(args.model)}/datasets/",
            body=lambda: {
                "data": fields,
                "files": {"file": (source.name, file, "application/octet-stream")},
            },
            retry=False,  # a retried upload would store the batch twice
        )
    dataset = response.json()
    _say(
        f"Stored {dataset['kind']} dataset {dataset['id']} of {args.model}: "
        f"{dataset['rows']} rows, {len(dataset['schema'])} columns, {_size(dataset['size'])}."
    )
    print(json.dumps(dataset, indent=2) if args.json else dataset["id"], flush=True)
    return Exit.OK


def _add_tags(api: Api, model: str, tags: list[str]) -> None:
    """Union with the model's tags: a push adds tags and never removes one someone else set."""
    current = set(api.json("GET", f"models/{_q(model)}/")["tags"])
    wanted = current | {t.strip().lower() for t in tags if t.strip()}
    if wanted != current:
        api.json("PATCH", f"models/{_q(model)}/", json={"tags": sorted(wanted)})
        _say(f"Tags of {model}: {', '.join(sorted(wanted))}.")


# --- Pull -----------------------------------------------------------------------------------


def _target_in(folder: Path, relpath: str) -> Path:
    """Where artifact `relpath` goes inside `folder`; a path that would leave it is refused."""
    parts = PurePosixPath(relpath).parts
    escapes = (
        not parts
        or relpath.startswith("/")
        or "\\" in relpath
        or ":" in parts[0]
        or any(p in ("..", ".") for p in parts)
    )
    target = folder.joinpath(*parts)
    if escapes or not target.resolve().is_relative_to(folder.resolve()):
        raise CliError(f"Refusing artifact path {relpath!r}: it would be written outside {folder}.")
    return target


def _file_sha256(path: Path) -> str:
    with path.open("rb") as file:
        return _sha256_of(file)


def _download_artifact(api: Api, version: dict, artifact: dict, target: Path) -> bool:
    """Download into a temporary name, check sha256, then rename: a bad file never stays."""
    expected = artifact["sha256"].lower()
    if target.is_file() and _file_sha256(target) == expected:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.vetted-partial")
    path = f"models/{_q(version['model'])}/versions/{version['version']}/artifacts/"
    try:
        with partial.open("wb") as file:
            digest, announced = api.download(path + quote(artifact["path"]), file)
        if digest != expected or (announced and announced.lower() != expected):
            raise CliError(
                f"Checksum mismatch for {artifact['path']}: the registry lists sha256 {expected}, "
                f"the server announced {announced or 'nothing'}, the download has {digest}. "
                "The file was deleted. The stored artifact may be corrupt: tell the model's team.",
                Exit.CHECKSUM,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return True


def pull(api: Api, args: argparse.Namespace) -> int:
    model = _q(args.model)
    if args.stage:
        where = f"models/{model}/stages/{_q(args.stage)}"
    elif args.alias:
        where = f"models/{model}/aliases/{_q(args.alias)}"
    else:
        where = f"models/{model}/versions/{args.version}/"
    version = api.json("GET", where)
    for warning in version.get("warnings", []):
        _say(f"warning: {warning}")
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [(a, _target_in(folder, a["path"])) for a in version["artifacts"]]
    fetched = sum(_download_artifact(api, version, a, target) for a, target in targets)
    kept = f"; {len(targets) - fetched} were already there" if fetched < len(targets) else ""
    _say(
        f"{args.model} version {version['version']} is in {folder}: "
        f"{_files(version['artifacts'])}, sha256-verified{kept}."
    )
    print(json.dumps(version, indent=2) if args.json else version["version"], flush=True)
    return Exit.OK


# --- Models ---------------------------------------------------------------------------------


def list_models(api: Api, args: argparse.Namespace) -> int:
    models: list[dict] = []
    page = 1
    while True:
        answer = api.json("GET", "models/", params={"page": page})
        models.extend(answer["results"])
        if not answer.get("next"):
            break
        page += 1
    if args.json:
        print(json.dumps(models, indent=2))
        return Exit.OK
    rows = [("MODEL", "TEAM", "LATEST", "STAGING", "PRODUCTION")]
    for m in models:
        stages = m["stages"]
        rows.append(
            (
                m["name"],
                m["team"],
                str(m["latest_version"] or "-"),
                str(stages.get("staging", "-")),
                str(stages.get("production", "-")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return Exit.OK


# --- Promotion requests ---------------------------------------------------------------------


def _missing_text(request: dict) -> str:
    if request["state"] != "open":
        return f"{request['state']}."
    missing = request.get("missing") or []
    return "; ".join(missing) + "." if missing else "ready to merge."


def _open_request(api: Api, model: str, version: int, to_stage: str, message: str) -> dict:
    return api.json(
        "POST",
        f"models/{_q(model)}/requests/",
        json={"version": version, "to_stage": to_stage, "message": message},
    )


def _show_request(request: dict, args: argparse.Namespace, line: str) -> int:
    if args.json:
        print(json.dumps(request, indent=2), flush=True)
    else:
        print(request["number"], flush=True)
    _say(line)
    return Exit.OK


def open_request(api: Api, args: argparse.Namespace) -> int:
    request = _open_request(api, args.model, args.version, args.to, args.message)
    return _show_request(
        request,
        args,
        f"Opened request #{request['number']} to move {args.model} v{args.version} to"
        f" {args.to}: {_missing_text(request)} {request['url']}",
    )


def review(api: Api, args: argparse.Namespace) -> int:
    request = api.json(
        "POST",
        f"requests/{args.number}/reviews/",
        json={"decision": args.decision, "body": args.message},
    )
    return _show_request(
        request,
        args,
        f"Request #{args.number}: {args.decision.replace('_', ' ')} recorded;"
        f" {_missing_text(request)}",
    )


def merge(api: Api, args: argparse.Namespace) -> int:
    request = api.json("POST", f"requests/{args.number}/merge/")
    return _show_request(
        request,
        args,
        f"Merged request #{args.number}: {request['model']} v{request['version']} is now in"
        f" {request['to_stage']}.",
    )


def withdraw(api: Api, args: argparse.Namespace) -> int:
    request = api.json("POST", f"requests/{args.number}/withdraw/")
    return _show_request(request, args, f"Withdrew request #{args.number}.")


def list_requests(api: Api, args: argparse.Namespace) -> int:
    params = {"state": "open"}
    if args.awaiting_me:
        params["awaiting"] = "me"
    if args.mine:
        params["mine"] = "true"
    requests: list[dict] = []
    page = 1
    while True:
        answer = api.json("GET", "requests/", params={**params, "page": page})
        requests.extend(answer["results"])
        if not answer.get("next"):
            break
        page += 1
    if args.json:
        print(json.dumps(requests, indent=2))
        return Exit.OK
    rows = [("#", "MODEL", "VERSION", "TO", "AUTHOR", "MISSING")]
    for r in requests:
        rows.append(
            (
                str(r["number"]),
                r["model"],
                str(r["version"]),
                r["to_stage"],
                r["author"] or "-",
                "; ".join(r["missing"]) or "ready to merge",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return Exit.OK


# --- Evaluations ----------------------------------------------------------------------------

EVALUATION_POLL_SECONDS = 2.0


def evaluate(api: Api, args: argparse.Namespace) -> int:
    """Ask for an evaluation and print its run id; with --wait, its result as JSON once it ends
    (exit 1 when it failed)."""
    body: dict[str, Any] = {"version": args.version, "kind": args.kind, "dataset": args.data}
    if args.reference is not None:
        body["reference"] = args.reference
    run = api.json("POST", f"models/{_q(args.model)}/evaluations/", json=body)
    if not args.wait:
        print(run["id"], flush=True)
        page = api.base.removesuffix("/api/v1/") + run["url"]
        _say(f"Evaluation {run['id']} is {run['status']}: {page}")
        return Exit.OK
    _say(f"Evaluation {run['id']}: waiting for it to finish…")
    while run["status"] in ("pending", "running"):
        time.sleep(EVALUATION_POLL_SECONDS)
        run = api.json("GET", f"evaluations/{run['id']}/")
    print(json.dumps(run, indent=2), flush=True)
    if run["status"] == "failed":
        _say(f"Evaluation {run['id']} failed: {run['error']}")
        return Exit.ERROR
    return Exit.OK


# --- Command line ---------------------------------------------------------------------------


def _param(text: str) -> tuple[str, Any]:
    """KEY=VALUE; a value that reads as a JSON number or true/false is sent as one."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write parameters as KEY=VALUE")
    try:
        typed = json.loads(value)
    except ValueError:
        return key.strip(), value
    if isinstance(typed, bool) or (isinstance(typed, int | float) and math.isfinite(typed)):
        return key.strip(), typed
    return key.strip(), value


def _metrics_file(name: str) -> dict:
    try:
        metrics = json.loads(Path(name).read_text())
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {name}: {exc.strerror}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(metrics, dict):
        raise argparse.ArgumentTypeError(f'{name} must hold a JSON object like {{"auc": 0.91}}')
    return metrics


# The rule the registry gives model names (registry.models.MODEL_NAME_PATTERN): a name outside it
# names no model, and one with "/" would not even reach the model's address.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _model_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"{name!r} cannot be a model name: use 1-100 letters, digits, dots, dashes or "
            "underscores, starting with a letter or digit"
        )
    return name


def _existing_path(name: str) -> str:
    if not Path(name).exists():
        raise argparse.ArgumentTypeError(f"{name} does not exist")
    return name


def _timestamp(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a timestamp: use ISO 8601, e.g. 2026-11-02T06:00:00Z"
        ) from None
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vetted",
        description="Push model versions to a Vetted registry and pull them back.",
        epilog="Exit codes: 0 ok, 1 error or network, 2 usage, 3 configuration missing, "
        "4 authentication or permission, 5 not found, 6 rejected input, 7 checksum mismatch.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--url", help="Vetted's address (default: $VETTED_URL)")
    parser.add_argument(
        "--token", help="API token (default: $VETTED_TOKEN; prefer the variable in CI logs)"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "push",
        help="register a new version from an MLflow model folder",
        description="Register a new version. Prints its number on stdout. Git commit, branch, "
        "repository and CI run are read from GitHub Actions, GitLab CI or the git checkout.",
    )
    p.set_defaults(run=push)
    p.add_argument(
        "model",
        type=_model_name,
        help="model name (created on first push when --team is given)",
    )
    p.add_argument(
        "path",
        type=_existing_path,
        help="MLflow model folder, or a .tar.gz/.tgz/.tar/.zip of one, or a single file",
    )
    p.add_argument(
        "--metrics", type=_metrics_file, default={}, metavar="FILE", help='JSON: {"auc": 0.91}'
    )
    p.add_argument(
        "--param",
        dest="params",
        type=_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a training parameter (repeatable)",
    )
    p.add_argument(
        "--tag", dest="tags", action="append", default=[], metavar="TAG", help="add a model tag"
    )
    p.add_argument(
        "--description", default="", metavar="TEXT", help="what changed in this version (markdown)"
    )
    p.add_argument("--team", metavar="SLUG", help="team slug: creates the model on its first push")
    p.add_argument(
        "--task-type", metavar="TYPE", help="e.g. classification, regression (with --team)"
    )
    p.add_argument("--training-data-uri", default="", metavar="URI")
    p.add_argument("--training-data-sha256", default="", metavar="HEX")
    p.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="default: derived from model, commit and content, so a retried job is a no-op",
    )
    p.add_argument(
        "--request",
        choices=["staging", "production"],
        help="open a promotion request for the new version right after the push",
    )
    p.add_argument("--json", action="store_true", help="print the whole version as JSON")

    p = commands.add_parser(
        "pull",
        help="download a version's files, verifying each sha256",
        description="Download the files of one version into a folder. Prints its number.",
    )
    p.set_defaults(run=pull)
    p.add_argument("model", type=_model_name)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", choices=["staging", "production"])
    which.add_argument("--alias")
    which.add_argument("--version", type=int, metavar="N")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="created if missing")
    p.add_argument("--json", action="store_true", help="print the whole version as JSON")

    p = commands.add_parser("models", help="list the models you can see")
    p.set_defaults(run=list_models)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser(
        "request",
        help="ask to promote a version to staging or production",
        description="Open a promotion request. Prints its number.",
    )
    p.set_defaults(run=open_request)
    p.add_argument("model", type=_model_name)
    p.add_argument("version", type=int, metavar="VERSION")
    p.add_argument("--to", required=True, choices=["staging", "production"])
    p.add_argument("--message", default="", metavar="TEXT", help="what changed and why")
    p.add_argument("--json", action="store_true", help="print the whole request as JSON")

    p = commands.add_parser(
        "review",
        help="approve, request changes on or comment on a request",
        description="Approving and requesting changes need a token with the review scope.",
    )
    p.set_defaults(run=review)
    p.add_argument("number", type=int, metavar="NUMBER")
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", dest="decision", action="store_const", const="approve")
    decision.add_argument(
        "--request-changes", dest="decision", action="store_const", const="request_changes"
    )
    decision.add_argument("--comment", dest="decision", action="store_const", const="comment")
    p.add_argument("-m", "--message", default="", metavar="TEXT")
    p.add_argument("--json", action="store_true", help="print the whole request as JSON")

    p = commands.add_parser(
        "merge",
        help="promote the version of a request that has what its policy asks for",
        description="Needs a token with the review scope. Prints the request's number.",
    )
    p.set_defaults(run=merge)
    p.add_argument("number", type=int, metavar="NUMBER")
    p.add_argument("--json", action="store_true", help="print the whole request as JSON")

    p = commands.add_parser("withdraw", help="withdraw a request you opened")
    p.set_defaults(run=withdraw)
    p.add_argument("number", type=int, metavar="NUMBER")
    p.add_argument("--json", action="store_true", help="print the whole request as JSON")

    data = commands.add_parser(
        "data", help="upload reference, evaluation or production data for a model"
    ).add_subparsers(title="data commands", required=True, metavar="COMMAND")
    p = data.add_parser(
        "push",
        help="upload a CSV or Parquet file as a dataset of a model",
        description="Checked against the signature of the model's latest version; prints the "
        "dataset's id on stdout.",
    )
    p.set_defaults(run=data_push)
    p.add_argument("model", type=_model_name)
    p.add_argument("file", type=_existing_path, help="a CSV with a header row, or Parquet")
    p.add_argument("--kind", required=True, choices=["reference", "evaluation", "batch"])
    p.add_argument(
        "--at", type=_timestamp, metavar="TIMESTAMP", help="when the data was seen (default: now)"
    )
    p.add_argument("--label", default="", metavar="COL", help="the true outcome")
    p.add_argument("--prediction", default="", metavar="COL", help="what the model predicted")
    p.add_argument(
        "--score",
        default="",
        metavar="COL",
        help="the predicted probability of the positive class (for ROC AUC and log loss)",
    )
    p.add_argument(
        "--protected", default="", metavar="COL,COL", help="protected attributes, for fairness"
    )
    p.add_argument("--json", action="store_true", help="print the whole dataset as JSON")

    p = commands.add_parser("requests", help="list open promotion requests")
    p.set_defaults(run=list_requests)
    p.add_argument(
        "--awaiting-me", action="store_true", help="only those your role can still approve"
    )
    p.add_argument("--mine", action="store_true", help="only those you opened")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser(
        "evaluate",
        help="evaluate a version on a dataset: performance, drift or fairness",
        description="Queue an evaluation (or find the same one already queued). Prints its run "
        "id; with --wait, its result as JSON once it ends, exit 1 if it failed.",
    )
    p.set_defaults(run=evaluate)
    p.add_argument("model", type=_model_name)
    p.add_argument("version", type=int, metavar="VERSION")
    p.add_argument("--kind", required=True, choices=["performance", "drift", "fairness"])
    p.add_argument("--data", required=True, type=int, metavar="ID", help="the dataset judged")
    p.add_argument(
        "--reference",
        type=int,
        metavar="ID",
        help="drift: the dataset compared with (default: the model's latest reference)",
    )
    p.add_argument("--wait", action="store_true", help="wait for the result and print it")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        api = _api_from(args)
        try:
            return args.run(api, args)
        finally:
            api.close()
    except CliError as exc:
        _say(f"vetted: {exc}")
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `vetted models | head`: the reader left; stay quiet instead of printing a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.ERROR


if __name__ == "__main__":
    sys.exit(main())
