"""Load generator for `make bench`: the same client threads drive Vetted and the MLflow peer.

Each side gets the requests its own client sends: for Vetted what `vetted push` sends, for
MLflow what `MlflowClient` and `log_model(registered_model_name=…)` send. The servers take turns
in rounds, who goes first alternating from round to round, so a ratio can be paired within a
round. Every test records how busy the machine was and how much of that was other work.

    load.py wait URL                 until URL answers (180 s at most)
    load.py make-file PATH BYTES     random file, made once, with PATH.sha256 beside it
    load.py peer-check --mlflow URL --mlflow-pid PID --workers N --nodelay yes|no --out …
    load.py run --vetted URL … [--mlflow URL …] --big-file … --out …

BENCH_ROUNDS, BENCH_SECONDS and BENCH_CHECK_SECONDS shorten a run while working on the bench.
"""

import argparse
import hashlib
import http.client
import itertools
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from vetted_cli import default_idempotency_key

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import (  # noqa: E402
    MachineLoad,
    PeakMemory,
    descendants,
    own_cpu_seconds,
    postgres_root,
    rss_bytes,
    tree_cpu_seconds,
)

CONCURRENCY = 8
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
LOAD_SECONDS = float(os.environ.get("BENCH_SECONDS", 6))
CHECK_SECONDS = float(os.environ.get("BENCH_CHECK_SECONDS", 4))  # each MLflow worker count
WARMUP_SECONDS = 1.0
MAX_REQUESTS = 20_000
LATENCY_SAMPLES = 40
# Registrations go round-robin over this many models; the one-model tests measure contention.
SPREAD_MODELS = 16
# MLflow's log_model registers each version from its own logged model, made beforehand (not
# timed). A test stops early if it uses them all, so each test gets twice what the fastest run
# so far used, and the first one enough for this rate.
FIRST_LOGGED_MODELS_PER_SECOND = 350
CHUNK_BYTES = 1024 * 1024
MIB = 1024 * 1024
PUSHED_FILE_BYTES = 16 * 1024
CLI_USER_AGENT = f"vetted-cli/{metadata.version('vetted-cli')}"


def _percentiles(seconds: list[float]) -> dict:
    if len(seconds) < 2:
        only = round(seconds[0] * 1000, 2) if seconds else None
        return {"p50_ms": only, "p95_ms": only}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2)}


class Answer:
    def __init__(self, status_code: int, body: bytes):
        self.status_code = status_code
        self.body = body
        self.text = body.decode(errors="replace")


class LeanClient:
    """One keep-alive HTTP/1.1 connection on the standard library's http.client.

    The load generator shares the machine's 2 cores with the server it measures. httpx cost
    about 1.1 ms of CPU per request here, http.client about 0.35 ms; what the client does not
    take, both servers get, so the rates say more about the servers.
    """

    def __init__(self, base_url: str, headers: dict):
        address = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        self.headers = headers

    def request(self, method: str, path: str, body: bytes | None = None, **headers) -> Answer:
        try:
            self.connection.request(method, path, body=body, headers=self.headers | headers)
            response = self.connection.getresponse()
            return Answer(response.status, response.read())
        except (OSError, http.client.HTTPException):
            self.connection.close()  # the next request opens a fresh connection
            raise

    def get(self, path: str, params: dict | None = None) -> Answer:
        return self.request("GET", f"{path}?{urlencode(params)}" if params else path)

    def post(self, path: str, document: dict) -> Answer:
        body = json.dumps(document).encode()
        return self.request("POST", path, body, **{"Content-Type": "application/json"})

    def close(self) -> None:
        self.connection.close()


Send = Callable[[LeanClient, int], Answer]


def hammer(
    base_url: str, headers: dict, send: Send, *, expect: int, seconds: float, max_requests: int
) -> dict:
    """CONCURRENCY threads call `send` until `seconds` pass or `max_requests` are sent."""
    numbers = itertools.count()  # next() on a count is atomic under the GIL
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client_loop() -> None:
        mine: list[float] = []
        client = LeanClient(base_url, headers)
        while time.perf_counter() < deadline:
            number = next(numbers)
            if number >= max_requests:
                break
            started = time.perf_counter()
            try:
                response = send(client, number)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(repr(exc))
                continue
            elapsed = time.perf_counter() - started
            if response.status_code == expect:
                mine.append(elapsed)
            else:
                with lock:
                    failures.append(f"{response.status_code}: {response.text[:300]}")
        client.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client_loop) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(failures),
        "first_error": failures[0] if failures else None,
        "seconds": round(wall, 2),
        "per_second": round(len(latencies) / wall, 1),
        **_percentiles(latencies),
    }


def one_connection_latency(base_url: str, headers: dict, path: str) -> dict:
    """Requests one after another on one kept-alive connection: a stalled answer shows here."""
    client = LeanClient(base_url, headers)
    seconds = []
    for sample in range(3 + LATENCY_SAMPLES):
        started = time.perf_counter()
        answer = client.get(path)
        if sample >= 3:  # the first three warm the connection and the worker
            seconds.append(time.perf_counter() - started)
    client.close()
    return {"path": path, "status": answer.status_code, **_percentiles(seconds)}


def sequential_latency(client: httpx.Client, path: str, samples: int = LATENCY_SAMPLES) -> dict:
    """One request at a time; the status is reported so a missing page shows as such."""
    first = client.get(path)
    if first.status_code != 200:
        return {"status": first.status_code, "p50_ms": None, "p95_ms": None}
    for _ in range(2):
        client.get(path)
    seconds = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    return {"status": 200, "bytes": len(first.content), "samples": samples, **_percentiles(seconds)}


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def multipart_envelope(fields: dict[str, str], file_field: str, filename: str):
    """What goes before and after one file's bytes in a multipart/form-data body, and its type."""
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail, f"multipart/form-data; boundary={boundary}"


def timed_upload(target: "Target", send: Callable[[], httpx.Response], big: Path) -> dict:
    """MiB/s of one big upload, the server's memory while it ran and the machine's load."""
    size = big.stat().st_size
    for _ in file_chunks(big):  # into the page cache: neither server waits for the client's disk
        pass
    os.sync()  # start from no dirty pages, so one upload does not pay for the last one's writes
    before = max((rss_bytes(p) for p in descendants(target.server_pid)), default=0)
    with PeakMemory(target.server_pid) as peak, MachineLoad(target.measured) as machine:
        started = time.perf_counter()
        response = send()
        seconds = time.perf_counter() - started
    return {
        "status": response.status_code,
        "body": response.text,
        "bytes": size,
        "seconds": round(seconds, 2),
        "mib_per_s": round(size / MIB / seconds, 1),
        "largest_process_rss_before": before,
        "peak_process_rss": peak.peak_process_rss,
        "peak_tree_rss": peak.peak_tree_rss,
        **machine.summary,
    }


# --- The two servers -----------------------------------------------------------------------


class Target:
    """One server under test: where it listens, its process tree, and how each test talks to it.

    `measured` lists every process tree the bench itself runs (both servers, PostgreSQL), so
    that what the machine spent besides them is reported as other work.
    """

    name = ""

    def __init__(self, base: str, server_pid: int, measured: list[int]):
        self.base = base
        self.server_pid = server_pid
        self.measured = measured
        self.headers: dict[str, str] = {}

    def upload(self, big: Path) -> dict:
        raise NotImplementedError

    def load(
        self,
        send: Send,
        expect: int,
        *,
        base: str | None = None,
        server_pid: int | None = None,
        seconds: float = LOAD_SECONDS,
        max_requests: int = MAX_REQUESTS,
    ) -> dict:
        """A short warm-up (discarded), then the measured run with CPU per request and load.

        CPU per request (the server's tree, all of PostgreSQL, the load generator) holds up
        better than requests per second when other work shares the machine.
        """
        base, server_pid = base or self.base, server_pid or self.server_pid
        warm = hammer(
            base,
            self.headers,
            send,
            expect=expect,
            seconds=WARMUP_SECONDS,
            max_requests=max_requests,
        )
        database = postgres_root()
        server_before = tree_cpu_seconds(server_pid)
        database_before = tree_cpu_seconds(database) if database else 0.0
        client_before = own_cpu_seconds()
        with MachineLoad(self.measured) as machine:
            left = max_requests - warm["requests"] - warm["errors"]
            result = hammer(
                base, self.headers, send, expect=expect, seconds=seconds, max_requests=left
            )
        count = max(result["requests"], 1)

        def per_request(cpu_seconds: float) -> float:
            return round(cpu_seconds / count * 1000, 2)

        return result | {
            "server_cpu_ms": per_request(tree_cpu_seconds(server_pid) - server_before),
            "postgres_cpu_ms": (
                per_request(tree_cpu_seconds(database) - database_before) if database else None
            ),
            "client_cpu_ms": per_request(own_cpu_seconds() - client_before),
            **machine.summary,
        }


class Vetted(Target):
    """Vetted under gunicorn, and the same server started without its resolve cache."""

    name = "vetted"

    def __init__(
        self,
        base: str,
        server_pid: int,
        measured: list[int],
        *,
        uncached: tuple[str, int],
        token: str,
        session: str,
        catalog_model: str,
    ):
        super().__init__(base, server_pid, measured)
        self.uncached_base, self.uncached_pid = uncached
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = session
        self.catalog_model = catalog_model
        self.pushed_file = os.urandom(PUSHED_FILE_BYTES)
        self.pushed_sha256 = hashlib.sha256(self.pushed_file).hexdigest()

    def latencies(self) -> dict:
        model = self.catalog_model
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as api:
            results = {
                "api_models_list": sequential_latency(api, "/api/v1/models/"),
                "api_model": sequential_latency(api, f"/api/v1/models/{model}/"),
                "api_versions_list": sequential_latency(api, f"/api/v1/models/{model}/versions/"),
            }
        cookies = {"sessionid": self.session}
        with httpx.Client(base_url=self.base, cookies=cookies, timeout=60) as browser:
            results["page_models_list"] = sequential_latency(browser, "/")
            results["page_model"] = sequential_latency(browser, f"/models/{model}/")
        return results

    def one_connection(self) -> dict:
        return {
            "health": one_connection_latency(self.base, {}, "/healthz"),
            "resolve": one_connection_latency(
                self.base, self.headers, "/api/v1/models/bench-resolve/aliases/champion"
            ),
        }

    def push(self, client: LeanClient, model: str, commit: str) -> Answer:
        """What `vetted push model.pkl` sends: the lineage as form fields, one file, its key."""
        fields = {
            "description": f"Bench push {commit[-8:]}",
            "git_repo": "https://git.example.com/ml/fraud",
            "git_commit": commit,
            "git_branch": "main",
            "ci_run_url": f"https://ci.example.com/runs/{commit[-8:]}",
            "training_data_uri": "s3://data/fraud/train.parquet",
            "training_data_sha256": "0" * 64,
            "params": json.dumps({"max_depth": 6, "learning_rate": 0.1}),
            "metrics": json.dumps({"auc": 0.93, "f1": 0.81}),
            "paths": "model.pkl",
        }
        head, tail, content_type = multipart_envelope(fields, "files", "model.pkl")
        return client.request(
            "POST",
            f"/api/v1/models/{model}/versions/",
            head + self.pushed_file + tail,
            **{
                "Content-Type": content_type,
                "User-Agent": CLI_USER_AGENT,
                "Idempotency-Key": default_idempotency_key(model, commit, self.pushed_sha256),
            },
        )

    def _pushes(self, models: list[str]) -> dict:
        # A fresh commit per push, so that no Idempotency-Key repeats (a repeat answers 200).
        return self.load(
            lambda c, n: self.push(c, models[n % len(models)], uuid.uuid4().hex + f"{n:08x}"),
            expect=201,
        )

    def push_spread(self) -> dict:
        return self._pushes([f"bench-push-{i:02d}" for i in range(SPREAD_MODELS)])

    def push_one_model(self) -> dict:
        return self._pushes(["bench-one"])

    def resolve_alias(self) -> dict:
        return self.load(
            lambda c, n: c.get("/api/v1/models/bench-resolve/aliases/champion"), expect=200
        )

    def resolve_stage(self) -> dict:
        return self.load(
            lambda c, n: c.get("/api/v1/models/bench-resolve/stages/production"), expect=200
        )

    def resolve_alias_uncached(self) -> dict:
        return self.load(
            lambda c, n: c.get("/api/v1/models/bench-resolve/aliases/champion"),
            expect=200,
            base=self.uncached_base,
            server_pid=self.uncached_pid,
        )

    def upload(self, big: Path) -> dict:
        """`vetted push artifact-1gib.bin`, streamed from disk with an exact Content-Length."""
        size = big.stat().st_size
        fields = {"git_commit": uuid.uuid4().hex + "0" * 8, "paths": big.name}
        head, tail, content_type = multipart_envelope(fields, "files", big.name)
        headers = self.headers | {
            "Content-Type": content_type,
            "Content-Length": str(len(head) + size + len(tail)),
        }

        def body() -> Iterator[bytes]:
            yield head
            yield from file_chunks(big)
            yield tail

        def send() -> httpx.Response:
            with httpx.Client(base_url=self.base, timeout=600) as client:
                return client.post(
                    "/api/v1/models/bench-big/versions/", content=body(), headers=headers
                )

        result = timed_upload(self, send, big)
        answer = result.pop("body")
        if result["status"] != 201:
            result["response"] = answer[:300]
        else:
            stored = json.loads(answer)["artifacts"][0]
            expected = Path(f"{big}.sha256").read_text().strip()
            result["sha256_matches"] = stored["sha256"] == expected and stored["size"] == size
        return result


class MLflow(Target):
    """The REST calls MLflow's own client makes against an `mlflow server` (MLflow 3).

    The bodies are what `mlflow.store.model_registry.rest_store` builds with `message_to_json`,
    which leaves out unset fields.
    """

    name = "mlflow"
    api = "/api/2.0/mlflow"

    def __init__(self, base: str, server_pid: int, measured: list[int]):
        super().__init__(base, server_pid, measured)
        self.fastest_log_model = 0.0  # versions per second, over the log_model tests so far
        with httpx.Client(base_url=base, timeout=60) as client:
            for model in [
                *(f"bench-push-{i:02d}" for i in range(SPREAD_MODELS)),
                "bench-one",
                "bench-resolve",
            ]:
                client.post(
                    f"{self.api}/registered-models/create", json={"name": model}
                ).raise_for_status()
            run = client.post(
                f"{self.api}/runs/create",
                json={"experiment_id": "0", "start_time": int(time.time() * 1000)},
            )
            run.raise_for_status()
            info = run.json()["run"]["info"]
            self.run_id, self.artifact_uri = info["run_id"], info["artifact_uri"]
            self.source = f"{self.artifact_uri}/model"
            created = client.post(
                f"{self.api}/model-versions/create",
                json={"name": "bench-resolve", "source": self.source, "run_id": self.run_id},
            )
            created.raise_for_status()
            client.post(
                f"{self.api}/registered-models/alias",
                json={
                    "name": "bench-resolve",
                    "alias": "champion",
                    "version": created.json()["model_version"]["version"],
                },
            ).raise_for_status()

    def one_connection(self) -> dict:
        return {
            "health": one_connection_latency(self.base, {}, "/health"),
            "resolve": one_connection_latency(
                self.base,
                {},
                f"{self.api}/registered-models/alias?name=bench-resolve&alias=champion",
            ),
        }

    def logged_models(self, count: int) -> list[str]:
        """`count` logged models, made as log_model makes one (not timed): their ids."""
        local = threading.local()

        def create(_: int) -> str:
            if not hasattr(local, "client"):
                local.client = LeanClient(self.base, {})
            answer = local.client.post(
                f"{self.api}/logged-models",
                {"experiment_id": "0", "name": "model", "source_run_id": self.run_id},
            )
            return json.loads(answer.body)["model"]["info"]["model_id"]

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            return list(pool.map(create, range(count)))

    def _create_versions(self, body: Callable[[int], dict], seconds: float) -> dict:
        return self.load(
            lambda c, n: c.post(f"{self.api}/model-versions/create", body(n)),
            expect=200,
            seconds=seconds,
        )

    def _log_model_versions(self, models: list[str], seconds: float) -> dict:
        """`log_model(registered_model_name=…)`: each version from its own logged model."""
        per_second = 2 * self.fastest_log_model or FIRST_LOGGED_MODELS_PER_SECOND
        ids = self.logged_models(int(per_second * (WARMUP_SECONDS + seconds)))
        unused = iter(ids)  # next() on a list iterator is atomic under the GIL

        def send(client: LeanClient, number: int) -> Answer:
            model_id = next(unused)
            return client.post(
                f"{self.api}/model-versions/create",
                {
                    "name": models[number % len(models)],
                    "source": f"models:/{model_id}",
                    "model_id": model_id,
                },
            )

        result = self.load(send, expect=200, seconds=seconds, max_requests=len(ids))
        self.fastest_log_model = max(self.fastest_log_model, result["per_second"])
        return result

    def register_log_model(self, seconds: float = LOAD_SECONDS) -> dict:
        return self._log_model_versions(
            [f"bench-push-{i:02d}" for i in range(SPREAD_MODELS)], seconds
        )

    def register_log_model_one_model(self) -> dict:
        return self._log_model_versions(["bench-one"], LOAD_SECONDS)

    def register_client(self) -> dict:
        """`MlflowClient().create_model_version(name, source=<run>/model, run_id=…)`."""
        return self._create_versions(
            lambda n: {
                "name": f"bench-push-{n % SPREAD_MODELS:02d}",
                "source": self.source,
                "run_id": self.run_id,
            },
            LOAD_SECONDS,
        )

    def register_bare(self) -> dict:
        """`MlflowClient().create_model_version(name, source)` of files stored elsewhere.

        No run and no logged model: MLflow refuses a run's `mlflow-artifacts:` source without
        its run id, so the source is an S3 address, which it does not check.
        """
        return self._create_versions(
            lambda n: {
                "name": f"bench-push-{n % SPREAD_MODELS:02d}",
                "source": "s3://bench-models/fraud/model",
            },
            LOAD_SECONDS,
        )

    def resolve_alias(self, seconds: float = LOAD_SECONDS) -> dict:
        """`MlflowClient().get_model_version_by_alias(name, alias)`."""
        return self.load(
            lambda c, n: c.get(
                f"{self.api}/registered-models/alias",
                params={"name": "bench-resolve", "alias": "champion"},
            ),
            expect=200,
            seconds=seconds,
        )

    def upload(self, big: Path) -> dict:
        """The proxied artifact `PUT` `mlflow.log_artifact` makes with `--serve-artifacts`."""
        size = big.stat().st_size
        # mlflow-artifacts:/0/<run>/artifacts → the proxied upload path of the run's folder.
        folder = self.artifact_uri.split(":", 1)[1].lstrip("/")

        def send() -> httpx.Response:
            with httpx.Client(base_url=self.base, timeout=600) as client:
                return client.put(
                    f"/api/2.0/mlflow-artifacts/artifacts/{folder}/model/{big.name}",
                    content=file_chunks(big),
                    headers={
                        "Content-Length": str(size),
                        "Content-Type": "application/octet-stream",
                    },
                )

        result = timed_upload(self, send, big)
        answer = result.pop("body")
        if result["status"] != 200:
            result["response"] = answer[:300]
        return result


# Each round runs these groups in order; within a group one server runs all its tests, then the
# other. Who goes first alternates from round to round, so both meet the same background load.
GROUPS = {
    "register": {
        "vetted": ("push_spread", "push_one_model"),
        "mlflow": (
            "register_log_model",
            "register_client",
            "register_bare",
            "register_log_model_one_model",
        ),
    },
    "resolve": {
        "vetted": ("resolve_alias", "resolve_stage", "resolve_alias_uncached"),
        "mlflow": ("resolve_alias",),
    },
}


def compare(targets: list[Target], big: Path) -> dict:
    """Every test once per round, and one 1 GiB upload per server per round."""
    rounds = []
    for number in range(ROUNDS):
        order = targets if number % 2 == 0 else targets[::-1]
        tests: dict[str, dict] = {}
        for group in GROUPS.values():
            for target in order:
                for test in group.get(target.name, ()):
                    print(f"round {number + 1}: {target.name} {test}", file=sys.stderr)
                    tests[f"{target.name}/{test}"] = getattr(target, test)()
        for target in order:
            tests[f"{target.name}/upload"] = target.upload(big)
        rounds.append({"first": order[0].name, "tests": tests})
    return {
        "settings": {
            "rounds": ROUNDS,
            "seconds": LOAD_SECONDS,
            "warmup_seconds": WARMUP_SECONDS,
            "concurrency": CONCURRENCY,
            "spread_models": SPREAD_MODELS,
            "pushed_file_bytes": PUSHED_FILE_BYTES,
        },
        "rounds": rounds,
    }


def peer_check(peer: MLflow) -> dict:
    """One MLflow setup briefly: the one-connection latencies, registrations and alias lookups."""
    return {
        "one_connection": peer.one_connection(),
        "register_log_model": peer.register_log_model(seconds=CHECK_SECONDS),
        "resolve_alias": peer.resolve_alias(seconds=CHECK_SECONDS),
    }


# --- Commands -------------------------------------------------------------------------------


def wait_for(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


def make_file(path: Path, size: int) -> None:
    """Random (incompressible) bytes, so no layer can shortcut the transfer."""
    if path.exists() and path.stat().st_size == size and Path(f"{path}.sha256").exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size // CHUNK_BYTES):
            chunk = os.urandom(CHUNK_BYTES)
            digest.update(chunk)
            f.write(chunk)
    Path(f"{path}.sha256").write_text(digest.hexdigest() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait")
    wait.add_argument("url")
    make = commands.add_parser("make-file")
    make.add_argument("path", type=Path)
    make.add_argument("size", type=int)
    check = commands.add_parser("peer-check")
    check.add_argument("--mlflow", required=True, help="base URL")
    check.add_argument("--mlflow-pid", type=int, required=True)
    check.add_argument("--workers", type=int, required=True)
    check.add_argument("--nodelay", choices=("yes", "no"), required=True)
    check.add_argument("--out", type=Path, required=True)
    run = commands.add_parser("run")
    run.add_argument("--vetted", required=True, help="base URL")
    run.add_argument("--vetted-pid", type=int, required=True)
    run.add_argument("--vetted-uncached", required=True, help="base URL")
    run.add_argument("--vetted-uncached-pid", type=int, required=True)
    run.add_argument("--token", required=True)
    run.add_argument("--session", required=True)
    run.add_argument("--catalog-model", required=True)
    run.add_argument("--mlflow", help="base URL; leave out to bench Vetted alone")
    run.add_argument("--mlflow-pid", type=int)
    run.add_argument("--big-file", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    database = [pid for pid in [postgres_root()] if pid]
    if args.command == "wait":
        wait_for(args.url)
    elif args.command == "make-file":
        make_file(args.path, args.size)
    elif args.command == "peer-check":
        peer = MLflow(args.mlflow, args.mlflow_pid, [args.mlflow_pid, *database])
        result = {"workers": args.workers, "nodelay": args.nodelay == "yes"} | peer_check(peer)
        args.out.write_text(json.dumps(result, indent=2))
    else:
        servers = [args.vetted_pid, args.vetted_uncached_pid, *database]
        servers += [args.mlflow_pid] if args.mlflow else []
        vetted = Vetted(
            args.vetted,
            args.vetted_pid,
            servers,
            uncached=(args.vetted_uncached, args.vetted_uncached_pid),
            token=args.token,
            session=args.session,
            catalog_model=args.catalog_model,
        )
        targets: list[Target] = [vetted]
        results = {"vetted_latencies": vetted.latencies()}
        results["one_connection"] = {"vetted": vetted.one_connection()}
        if args.mlflow:
            peer = MLflow(args.mlflow, args.mlflow_pid, servers)
            results["one_connection"]["mlflow"] = peer.one_connection()
            targets.append(peer)
        results |= compare(targets, args.big_file)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
