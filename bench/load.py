"""Load generator for `make bench`: the same client threads drive Vetted and the MLflow peer.

Every test is bounded by both a request count and a time, talks to loopback only, and writes
its numbers as JSON for bench/report.py.

    load.py wait URL                 until URL answers (60 s at most)
    load.py make-file PATH BYTES     random file, made once, with PATH.sha256 beside it
    load.py run --vetted URL --vetted-pid … [--mlflow URL --mlflow-pid …] --big-file … --out …
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
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import (  # noqa: E402
    PeakMemory,
    StolenTime,
    descendants,
    postgres_root,
    rss_bytes,
    tree_cpu_seconds,
    wait_for_quiet_machine,
)

CONCURRENCY = 8
LOAD_SECONDS = 8.0
WARMUP_SECONDS = 1.5
MAX_REQUESTS = 20_000
LATENCY_SAMPLES = 40
CHUNK_BYTES = 1024 * 1024
MIB = 1024 * 1024


def _percentiles(seconds: list[float]) -> dict:
    if len(seconds) < 2:
        only = seconds[0] * 1000 if seconds else None
        return {"p50_ms": only, "p95_ms": only}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2)}


class Answer:
    def __init__(self, status_code: int, body: bytes):
        self.status_code = status_code
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


def hammer(
    base_url: str,
    headers: dict,
    send: Callable[[LeanClient, int], Answer],
    *,
    expect: int,
    seconds: float = LOAD_SECONDS,
    max_requests: int = MAX_REQUESTS,
    concurrency: int = CONCURRENCY,
) -> dict:
    """`concurrency` threads call `send` until `seconds` pass or `max_requests` are sent."""
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

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
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
        "concurrency": concurrency,
        **_percentiles(latencies),
    }


def measured_load(base_url: str, headers: dict, send, *, expect: int, server_pid: int) -> dict:
    """A short warm-up (discarded) so every worker has imported and connected, then the run.

    CPU per request (the server's process tree, and all of PostgreSQL) holds up better than
    requests per second when other work shares the machine.
    """
    busy_before = wait_for_quiet_machine()
    hammer(base_url, headers, send, expect=expect, seconds=WARMUP_SECONDS)
    database = postgres_root()
    server_before = tree_cpu_seconds(server_pid)
    database_before = tree_cpu_seconds(database) if database else 0.0
    with StolenTime() as stolen:
        result = hammer(base_url, headers, send, expect=expect)
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    database_cpu = (tree_cpu_seconds(database) - database_before) if database else None
    count = max(result["requests"], 1)
    return result | {
        "machine_busy_before": round(busy_before, 3),
        "cpu_steal": round(stolen.share, 3),
        "server_cpu_ms_per_request": round(server_cpu / count * 1000, 2),
        "postgres_cpu_ms_per_request": (
            round(database_cpu / count * 1000, 2) if database_cpu is not None else None
        ),
    }


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


def multipart_stream(
    fields: dict[str, str], file_field: str, path: Path
) -> tuple[Iterator[bytes], int, str]:
    """A multipart/form-data body read from disk as it is sent, and its exact length."""
    head, tail, content_type = multipart_envelope(fields, file_field, path.name)

    def body() -> Iterator[bytes]:
        yield head
        yield from file_chunks(path)
        yield tail

    return body(), len(head) + path.stat().st_size + len(tail), content_type


def timed_upload(server_pid: int, send: Callable[[], httpx.Response], big: Path) -> dict:
    """MiB/s of one big upload and the server's memory while it ran."""
    size = big.stat().st_size
    for _ in file_chunks(big):  # into the page cache: neither server waits for the client's disk
        pass
    os.sync()  # start from no dirty pages, so one upload does not pay for the last one's writes
    busy_before = wait_for_quiet_machine()
    before = max((rss_bytes(p) for p in descendants(server_pid)), default=0)
    with PeakMemory(server_pid) as peak, StolenTime() as stolen:
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
        "machine_busy_before": round(busy_before, 3),
        "cpu_steal": round(stolen.share, 3),
    }


# --- The two servers -----------------------------------------------------------------------


class Target:
    """One server under test: where it listens, its process tree, and how each test talks to it."""

    name = ""

    def __init__(self, base: str, server_pid: int):
        self.base = base
        self.server_pid = server_pid
        self.headers: dict[str, str] = {}

    def load(self, send, expect: int) -> dict:
        return measured_load(
            self.base, self.headers, send, expect=expect, server_pid=self.server_pid
        )


class Vetted(Target):
    name = "vetted"

    def __init__(self, base: str, server_pid: int, token: str, session: str, catalog_model: str):
        super().__init__(base, server_pid)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = session
        self.catalog_model = catalog_model
        self.one_mib = os.urandom(MIB)

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

    def register_metadata(self) -> dict:
        # A version holds at least one file: the lineage travels with a one-byte file.
        return self.load(
            lambda c, n: self.post_file(c, "bench-meta", vetted_form(n), b"w"),
            expect=201,
        )

    def register_1mib(self) -> dict:
        return self.load(
            lambda c, n: self.post_file(c, "bench-files", vetted_form(n), self.one_mib),
            expect=201,
        )

    def post_file(
        self, client: LeanClient, model: str, fields: dict[str, str], content: bytes
    ) -> Answer:
        head, tail, content_type = multipart_envelope(fields, "files", "model.bin")
        return client.request(
            "POST",
            f"/api/v1/models/{model}/versions/",
            head + content + tail,
            **{"Content-Type": content_type},
        )

    def resolve_stage(self) -> dict:
        return self.load(
            lambda c, n: c.get("/api/v1/models/bench-resolve/stages/production"), expect=200
        )

    def resolve_alias(self) -> dict:
        return self.load(
            lambda c, n: c.get("/api/v1/models/bench-resolve/aliases/champion"), expect=200
        )

    def upload(self, big: Path) -> dict:
        size = big.stat().st_size
        body, length, content_type = multipart_stream(vetted_form(0), "files", big)

        def send() -> httpx.Response:
            headers = self.headers | {"Content-Type": content_type, "Content-Length": str(length)}
            with httpx.Client(base_url=self.base, timeout=600) as client:
                return client.post(
                    "/api/v1/models/bench-big/versions/", content=body, headers=headers
                )

        result = timed_upload(self.server_pid, send, big)
        body = result.pop("body")
        if result["status"] != 201:
            result["response"] = body[:300]
        else:
            stored = json.loads(body)["artifacts"][0]
            expected = Path(f"{big}.sha256").read_text().strip()
            result["sha256_matches"] = stored["sha256"] == expected and stored["size"] == size
        return result


def vetted_lineage(number: int) -> dict:
    return {
        "description": f"Bench version {number}",
        "git_repo": "https://git.example.com/ml/fraud",
        "git_commit": f"{number:040x}",
        "git_branch": "main",
        "ci_run_url": f"https://ci.example.com/runs/{number}",
        "training_data_uri": f"s3://data/fraud/{number}.parquet",
        "training_data_sha256": hashlib.sha256(str(number).encode()).hexdigest(),
        "params": {"max_depth": 6, "learning_rate": 0.1},
        "metrics": {"auc": 0.93, "f1": 0.81},
    }


def vetted_form(number: int) -> dict[str, str]:
    """The lineage as multipart form fields: JSON values travel as strings."""
    lineage = vetted_lineage(number)
    return {k: json.dumps(v) if isinstance(v, dict) else v for k, v in lineage.items()}


class MLflow(Target):
    """The REST calls a CI job and a serving app make against an `mlflow server`."""

    name = "mlflow"
    api = "/api/2.0/mlflow"

    def __init__(self, base: str, server_pid: int):
        super().__init__(base, server_pid)
        with httpx.Client(base_url=base, timeout=60) as client:
            for model in ("bench-meta", "bench-resolve"):
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

    def register_metadata(self) -> dict:
        return self.load(
            lambda c, n: c.post(
                f"{self.api}/model-versions/create",
                {
                    "name": "bench-meta",
                    "source": self.source,
                    "run_id": self.run_id,
                    "description": f"Bench version {n}",
                },
            ),
            expect=200,
        )

    def resolve_alias(self) -> dict:
        return self.load(
            lambda c, n: c.get(
                f"{self.api}/registered-models/alias",
                params={"name": "bench-resolve", "alias": "champion"},
            ),
            expect=200,
        )

    def upload(self, big: Path) -> dict:
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

        result = timed_upload(self.server_pid, send, big)
        body = result.pop("body")
        if result["status"] != 200:
            result["response"] = body[:300]
        return result


# Each round runs every test once, alternating the servers, so both meet the same background
# load; the report keeps each test's best round (the one least disturbed by other work).
ROUNDS = 2
THROUGHPUT_TESTS = {
    "vetted": ("register_metadata", "register_1mib", "resolve_stage", "resolve_alias"),
    "mlflow": ("register_metadata", "resolve_alias"),
}


def best_of(rounds: list[dict], key: str) -> dict:
    best = dict(max(rounds, key=lambda r: r.get(key) or 0))
    best["rounds"] = [r.get(key) for r in rounds]
    return best


def compare(targets: list[Target], big: Path) -> dict:
    results: dict = {target.name: {} for target in targets}
    for target in targets:
        if isinstance(target, Vetted):
            results["vetted"].update(target.latencies())
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(ROUNDS):
        for position in range(max(len(tests) for tests in THROUGHPUT_TESTS.values())):
            for target in targets:
                tests = THROUGHPUT_TESTS[target.name]
                if position < len(tests):
                    result = getattr(target, tests[position])()
                    runs.setdefault((target.name, tests[position]), []).append(result)
        for target in targets:
            runs.setdefault((target.name, "upload_1gib"), []).append(target.upload(big))
    for (name, test), rounds in runs.items():
        key = "mib_per_s" if test == "upload_1gib" else "per_second"
        results[name][test] = best_of(rounds, key)
    return results


# --- Commands -------------------------------------------------------------------------------


def wait_for(url: str, timeout: float = 60.0) -> None:
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
    run = commands.add_parser("run")
    run.add_argument("--vetted", required=True, help="base URL")
    run.add_argument("--vetted-pid", type=int, required=True)
    run.add_argument("--token", required=True)
    run.add_argument("--session", required=True)
    run.add_argument("--catalog-model", required=True)
    run.add_argument("--mlflow", help="base URL; leave out to bench Vetted alone")
    run.add_argument("--mlflow-pid", type=int)
    run.add_argument("--big-file", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "wait":
        wait_for(args.url)
    elif args.command == "make-file":
        make_file(args.path, args.size)
    else:
        targets: list[Target] = [
            Vetted(args.vetted, args.vetted_pid, args.token, args.session, args.catalog_model)
        ]
        if args.mlflow:
            targets.append(MLflow(args.mlflow, args.mlflow_pid))
        args.out.write_text(json.dumps(compare(targets, args.big_file), indent=2))


if __name__ == "__main__":
    main()
