"""Prints the `make bench` table from the JSON files in bench/results/, with ratios to MLflow."""

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

MB = 1_000_000
UPLOAD_RSS_LIMIT = 200 * MB


def _load(folder: Path, name: str) -> dict:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _command_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024**2:.0f} GiB RAM"


def versions() -> str:
    ours = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("django", "gunicorn", "celery", "httpx")
    )
    peer = sorted(Path("bench/.venv-peer/lib").glob("python*/site-packages/mlflow-*.dist-info"))
    mlflow = peer[0].name.removeprefix("mlflow-").removesuffix(".dist-info") if peer else "absent"
    postgres = _command_output(
        "psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"
    )
    redis = _command_output("redis-cli", "INFO", "server").partition("redis_version:")[2].split()
    return (
        f"Python {platform.python_version()}, {ours}; MLflow {mlflow}; "
        f"PostgreSQL {postgres.split()[0] if postgres else '?'}; Redis {redis[0] if redis else '?'}"
    )


def _rate(result: dict | None) -> str:
    if not result:
        return "—"
    text = f"{result['per_second']:.1f}/s"
    return text + (f" ({result['errors']} errors)" if result.get("errors") else "")


def _cpu(result: dict | None) -> str:
    if not result:
        return ""
    return (
        f"{result['server_cpu_ms_per_request']:.1f} + {result['postgres_cpu_ms_per_request']:.1f}"
        " ms"
    )


def _latency(result: dict | None) -> str:
    if not result:
        return "—"
    if result.get("status", 200) != 200:
        return f"HTTP {result['status']}"
    return f"{result['p50_ms']:.1f} / {result['p95_ms']:.1f} ms"


def _ratio(ours: float | None, theirs: float | None, target: float, higher_is_better=True) -> str:
    if not ours or not theirs:
        return "—"
    ratio = ours / theirs
    met = ratio >= target if higher_is_better else ratio <= target
    sign = "≥" if higher_is_better else "≤"
    return f"{ratio:.2f}× (target {sign} {target:g}×: {'met' if met else 'MISSED'})"


def _mb(value: float | None) -> str:
    return f"{value / MB:.0f} MB" if value else "—"


def table(folder: Path) -> str:
    load = _load(folder, "load")
    vetted, peer = load.get("vetted", {}), load.get("mlflow", {})
    idle, peer_idle = _load(folder, "vetted-idle"), _load(folder, "mlflow-idle")
    catalog = _load(folder, "vetted-catalog")
    upload, peer_upload = vetted.get("upload_1gib", {}), peer.get("upload_1gib", {})

    def rate(results: dict, key: str) -> float | None:
        return results.get(key, {}).get("per_second")

    def throughput(label: str, ours: str, theirs: str | None) -> list[tuple[str, str, str, str]]:
        """Rate, latency and CPU per request of one Vetted test beside MLflow's counterpart."""
        mine, peers = vetted.get(ours), peer.get(theirs) if theirs else None
        ratio = _ratio(rate(vetted, ours), rate(peer, theirs), 2) if theirs else ""
        return [
            (label, _rate(mine), _rate(peers) if theirs else "", ratio),
            ("  latency p50 / p95", _latency(mine), _latency(peers) if theirs else "", ""),
            ("  CPU per request: server + PostgreSQL", _cpu(mine), _cpu(peers), ""),
        ]

    rows: list[tuple[str, str, str, str]] = [
        ("Throughput, concurrency 8 (best of rounds)", "Vetted", "MLflow", "Vetted / MLflow"),
        *throughput("Register a version, metadata only", "register_metadata", "register_metadata"),
        *throughput("Register a version with a 1 MiB file", "register_1mib", None),
        *throughput("Resolve by stage (MLflow: alias lookup)", "resolve_stage", "resolve_alias"),
        *throughput("Resolve by alias", "resolve_alias", "resolve_alias"),
        ("", "", "", ""),
        ("1 GiB artifact upload (best of rounds)", "Vetted", "MLflow", ""),
        (
            "  speed",
            f"{upload['mib_per_s']:.0f} MiB/s" if upload.get("status") == 201 else "failed",
            f"{peer_upload['mib_per_s']:.0f} MiB/s" if peer_upload.get("status") == 200 else "—",
            _ratio(upload.get("mib_per_s"), peer_upload.get("mib_per_s"), 2),
        ),
        (
            "  server's largest process, peak RSS",
            _mb(upload.get("peak_process_rss")),
            _mb(peer_upload.get("peak_process_rss")),
            (
                f"Vetted limit 200 MB: "
                f"{'met' if upload.get('peak_process_rss', 1e12) < UPLOAD_RSS_LIMIT else 'MISSED'}"
            ),
        ),
        (
            "  server's whole tree, peak RSS",
            _mb(upload.get("peak_tree_rss")),
            _mb(peer_upload.get("peak_tree_rss")),
            "",
        ),
        ("  stored sha256 matches the file", str(upload.get("sha256_matches", "—")), "", ""),
        ("", "", "", ""),
        ("Idle memory", "web+worker+beat", "mlflow server", ""),
        (
            "  sum of RSS",
            _mb(idle.get("rss")),
            _mb(peer_idle.get("rss")),
            _ratio(idle.get("rss"), peer_idle.get("rss"), 0.5, higher_is_better=False),
        ),
        (
            "  sum of PSS (shared pages split)",
            _mb(idle.get("pss")),
            _mb(peer_idle.get("pss")),
            _ratio(idle.get("pss"), peer_idle.get("pss"), 0.5, higher_is_better=False),
        ),
    ]
    for name, tree in idle.get("trees", {}).items():
        rows.append((f"    {name} ({tree['processes']} processes)", _mb(tree["rss"]), "", ""))
    for name, tree in peer_idle.get("trees", {}).items():
        rows.append((f"    {name} ({tree['processes']} processes)", "", _mb(tree["rss"]), ""))
    rows += [
        ("", "", "", ""),
        (
            f"Latency, one client, {catalog.get('models', '?')} models / "
            f"{catalog.get('versions', '?')} versions",
            "p50 / p95",
            "",
            "",
        ),
        ("  GET /api/v1/models/ (first page)", _latency(vetted.get("api_models_list")), "", ""),
        ("  GET /api/v1/models/<name>/", _latency(vetted.get("api_model")), "", ""),
        (
            "  GET /api/v1/models/<name>/versions/",
            _latency(vetted.get("api_versions_list")),
            "",
            "",
        ),
        ("  page /", _latency(vetted.get("page_models_list")), "", ""),
        ("  page /models/<name>/", _latency(vetted.get("page_model")), "", ""),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    runtime = (
        (folder / "runtime-seconds").read_text().strip()
        if (folder / "runtime-seconds").exists()
        else "?"
    )
    header = [
        f"Machine: {machine()}",
        f"Versions: {versions()}",
        f"Bench runtime: {runtime} s",
        "",
    ]
    if not peer:
        header.append("MLflow peer: not measured (see bench/results/logs/)\n")
    busiest = max(
        (r.get("machine_busy_before", 0) for r in (*vetted.values(), *peer.values())),
        default=0,
    )
    steal = max(
        (
            (r.get("cpu_steal", 0), f"{name} {test}")
            for name, results in (("Vetted", vetted), ("MLflow", peer))
            for test, r in results.items()
            if isinstance(r, dict)
        ),
        default=(0, "no test"),
    )
    footer = [
        "",
        "CPU per request: the server's process tree, then all of PostgreSQL, over the run.",
        f"Busiest the machine was (other work) as a test began: {busiest:.0%} of all cores.",
        f"Most CPU taken by the hypervisor (steal) during a test: {steal[0]:.1%} ({steal[1]}).",
    ]
    sandbox = _load(folder, "sandbox")
    if sandbox:
        footer += ["", sandbox["table"]]
    return "\n".join(header + lines + footer)


if __name__ == "__main__":
    print(table(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")))
