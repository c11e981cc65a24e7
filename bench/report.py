"""The `make bench` figures as markdown tables, pasted into docs/benchmarks.md as they are.

    report.py tables [bench/results]         every table, from the JSON files of one run
    report.py best-workers [bench/results]   MLflow's best worker count among those tried

Rates are medians over rounds. A ratio is taken within each round (both servers met the same
background load there) and the median and range of those per-round ratios are shown.
"""

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

MB = 1_000_000
UPLOAD_RSS_LIMIT = 200 * MB

# (label, Vetted's test, MLflow's test); the first of each kind is the headline of its target.
COMPARISONS = [
    (
        "Register, 16 models (MLflow: `log_model` shape)",
        "push_spread",
        "register_log_model",
    ),
    (
        "Register, 16 models (MLflow: `MlflowClient` shape, run id)",
        "push_spread",
        "register_client",
    ),
    ("Register, 16 models (MLflow: bare name + source)", "push_spread", "register_bare"),
    (
        "Register, all to one model (contention)",
        "push_one_model",
        "register_log_model_one_model",
    ),
    ("Resolve by alias, cached", "resolve_alias", "resolve_alias"),
    ("Resolve by stage, cached (MLflow: alias)", "resolve_stage", "resolve_alias"),
    ("Resolve by alias, without the cache", "resolve_alias_uncached", "resolve_alias"),
    ("Upload 1 GiB (MiB/s)", "upload", "upload"),
]
TARGETS = [
    ("Registration (`log_model` shape, 16 models)", "push_spread", "register_log_model", 1.5),
    ("Resolve by alias (cached)", "resolve_alias", "resolve_alias", 2.0),
    ("Upload 1 GiB", "upload", "upload", 1.5),
]
TEST_NAMES = {
    "vetted/push_spread": "Vetted: `vetted push` of a 16 KiB file, 16 models",
    "vetted/push_one_model": "Vetted: `vetted push`, one model",
    "vetted/resolve_alias": "Vetted: resolve by alias",
    "vetted/resolve_stage": "Vetted: resolve by stage",
    "vetted/resolve_alias_uncached": "Vetted: resolve by alias, no answer cache",
    "mlflow/register_log_model": "MLflow: create version, `log_model` shape, 16 models",
    "mlflow/register_client": "MLflow: create version, `MlflowClient` shape, 16 models",
    "mlflow/register_bare": "MLflow: create version, name + source, 16 models",
    "mlflow/register_log_model_one_model": "MLflow: create version, `log_model` shape, one model",
    "mlflow/resolve_alias": "MLflow: alias lookup",
    "vetted/upload": "Vetted: upload 1 GiB (MiB/s)",
    "mlflow/upload": "MLflow: upload 1 GiB (MiB/s)",
}


def _load(folder: Path, name: str) -> dict:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _command_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024**2:.0f} GiB RAM"


def versions() -> str:
    ours = ", ".join(f"{name} {metadata.version(name)}" for name in ("django", "gunicorn"))
    peer = sorted(Path("bench/.venv-peer/lib").glob("python*/site-packages/*.dist-info"))
    found = {
        path.name.removesuffix(".dist-info").rpartition("-")[0]: path.name.removesuffix(
            ".dist-info"
        ).rpartition("-")[2]
        for path in peer
    }
    postgres = _command_output(
        "psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"
    )
    redis = _command_output("redis-cli", "INFO", "server").partition("redis_version:")[2].split()
    return (
        f"Python {platform.python_version()}, {ours}; MLflow {found.get('mlflow', 'absent')} "
        f"on uvicorn {found.get('uvicorn', '?')}; "
        f"PostgreSQL {postgres.split()[0] if postgres else '?'}; Redis {redis[0] if redis else '?'}"
    )


def _value(result: dict | None) -> float | None:
    if not result:
        return None
    if "mib_per_s" in result:
        return result["mib_per_s"] if result.get("status") in (200, 201) else None
    return result.get("per_second")


def _series(load: dict, key: str) -> list[float | None]:
    return [_value(r["tests"].get(key)) for r in load.get("rounds", [])]


def _spread(values: list[float | None], unit: str = "", digits: int = 0) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    middle = statistics.median(known)
    if len(known) == 1:
        return f"{middle:.{digits}f}{unit}"
    return f"{middle:.{digits}f}{unit} ({min(known):.{digits}f}–{max(known):.{digits}f})"


def paired_ratios(load: dict, ours: str, theirs: str) -> list[float]:
    """Vetted / MLflow within each round where both ran."""
    ratios = []
    for mine, peers in zip(_series(load, ours), _series(load, theirs), strict=True):
        if mine and peers:
            ratios.append(mine / peers)
    return ratios


def _ratio(ratios: list[float]) -> str:
    if not ratios:
        return "—"
    middle = statistics.median(ratios)
    if len(ratios) == 1:
        return f"**{middle:.2f}×**"
    return f"**{middle:.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}×)"


def _mb(value: float | None) -> str:
    return f"{value / MB:,.0f} MB" if value else "—"


def _median_of(load: dict, key: str, field: str) -> float | None:
    values = [
        r["tests"][key][field]
        for r in load.get("rounds", [])
        if key in r["tests"] and r["tests"][key].get(field) is not None
    ]
    return statistics.median(values) if values else None


def _max_of(load: dict, key: str, field: str) -> float | None:
    values = [
        r["tests"][key][field]
        for r in load.get("rounds", [])
        if key in r["tests"] and r["tests"][key].get(field) is not None
    ]
    return max(values) if values else None


def idle_trees(folder: Path) -> dict[str, dict]:
    """Name → RSS, PSS and process count, for every tree and sum the bench measured at rest."""
    vetted = _load(folder, "vetted-idle")
    trees = vetted.get("trees", {})
    found = {}
    if "web" in trees:
        found["Vetted web (gunicorn)"] = trees["web"]
    for name, label in (("worker", "Vetted Celery worker"), ("beat", "Vetted Celery beat")):
        if name in trees:
            found[label] = trees[name]
    if trees:
        found["Vetted web + worker + beat"] = {
            key: sum(t[key] for t in trees.values()) for key in ("rss", "pss", "processes")
        }
    for name, label in (
        ("mlflow-idle", "MLflow server, job runner off"),
        ("mlflow-jobs-idle", "MLflow server, job runner on (its default)"),
    ):
        server = _load(folder, name).get("trees", {}).get("server")
        if server:
            found[label] = server
    return found


def targets_table(folder: Path, load: dict) -> str:
    rows = []
    for label, ours, theirs, target in TARGETS:
        ratios = paired_ratios(load, f"vetted/{ours}", f"mlflow/{theirs}")
        unit, digits = (" MiB/s", 0) if ours == "upload" else ("/s", 0)
        middle = statistics.median(ratios) if ratios else None
        rows.append(
            [
                label,
                _spread(_series(load, f"vetted/{ours}"), unit, digits),
                _spread(_series(load, f"mlflow/{theirs}"), unit, digits),
                _ratio(ratios),
                f"≥ {target:g}×",
                "—" if middle is None else ("met" if middle >= target else "**missed**"),
            ]
        )
    peak = _max_of(load, "vetted/upload", "peak_process_rss")
    rows.append(
        [
            "Upload: peak RSS of Vetted's receiving process (worst round)",
            _mb(peak),
            _mb(_max_of(load, "mlflow/upload", "peak_process_rss")),
            "",
            "< 200 MB",
            "—" if peak is None else ("met" if peak < UPLOAD_RSS_LIMIT else "**missed**"),
        ]
    )
    trees = idle_trees(folder)
    web = trees.get("Vetted web (gunicorn)")
    peer = trees.get("MLflow server, job runner off")
    if web and peer:
        rows.append(
            [
                "Idle memory (RSS): Vetted's web tier, MLflow's server without its job runner",
                _mb(web["rss"]),
                _mb(peer["rss"]),
                f"**{web['rss'] / peer['rss']:.2f}×**",
                "below",
                "met" if web["rss"] < peer["rss"] else "**missed**",
            ]
        )
    header = ["", "Vetted", "MLflow", "Vetted / MLflow", "Target", ""]
    return _markdown(header, rows)


def comparisons_table(load: dict) -> str:
    rows = []
    for label, ours, theirs in COMPARISONS:
        unit = " MiB/s" if ours == "upload" else "/s"
        rows.append(
            [
                label,
                _spread(_series(load, f"vetted/{ours}"), unit),
                _spread(_series(load, f"mlflow/{theirs}"), unit),
                _ratio(paired_ratios(load, f"vetted/{ours}", f"mlflow/{theirs}")),
            ]
        )
    header = ["Median of rounds (range)", "Vetted", "MLflow", "Vetted / MLflow, paired by round"]
    return _markdown(header, rows)


def _number(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def tests_table(load: dict) -> str:
    rows = []
    for key, label in TEST_NAMES.items():
        if not any(key in r["tests"] for r in load.get("rounds", [])):
            continue
        values = [v for v in _series(load, key) if v is not None]
        upload = key.endswith("/upload")
        cpu = (
            "—"
            if upload
            else (
                f"{_number(_median_of(load, key, 'server_cpu_ms'))} + "
                f"{_number(_median_of(load, key, 'postgres_cpu_ms'))} + "
                f"{_number(_median_of(load, key, 'client_cpu_ms'))}"
            )
        )
        latency = (
            "—"
            if upload
            else (
                f"{_number(_median_of(load, key, 'p50_ms'))} / "
                f"{_number(_median_of(load, key, 'p95_ms'))}"
            )
        )
        errors = sum(r["tests"].get(key, {}).get("errors", 0) for r in load["rounds"])
        rows.append(
            [
                label,
                _number(statistics.median(values) if values else None),
                _number(max(values) if values else None),
                latency,
                cpu,
                str(errors),
                _number(_median_of(load, key, "load_average"), 2),
                f"{_number(_median_of(load, key, 'other_cores'), 2)} "
                f"(max {_number(_max_of(load, key, 'other_cores'), 2)})",
                _number((_max_of(load, key, "cpu_steal") or 0) * 100, 1, " %"),
            ]
        )
    header = [
        "Test (concurrency 8)",
        "Median /s",
        "Best /s",
        "p50 / p95 ms",
        "CPU ms per request: server + PostgreSQL + client",
        "Errors",
        "Load average",
        "Other work, cores: median (max)",
        "Steal, max",
    ]
    return _markdown(header, rows)


def uploads_table(load: dict) -> str:
    rows = []
    for number, one_round in enumerate(load.get("rounds", []), 1):
        ours, peers = (
            one_round["tests"].get("vetted/upload"),
            one_round["tests"].get("mlflow/upload"),
        )
        mine, theirs = _value(ours), _value(peers)
        rows.append(
            [
                f"{number} ({one_round['first']} first)",
                _number(mine, 0),
                _number(theirs, 0),
                f"{mine / theirs:.2f}×" if mine and theirs else "—",
                _mb((ours or {}).get("peak_process_rss")),
                _mb((peers or {}).get("peak_process_rss")),
                f"{_number((ours or {}).get('other_cores'), 2)} / "
                f"{_number((peers or {}).get('other_cores'), 2)}",
            ]
        )
    header = [
        "Round",
        "Vetted MiB/s",
        "MLflow MiB/s",
        "Vetted / MLflow",
        "Vetted peak RSS (receiving process)",
        "MLflow peak RSS",
        "Other work, cores (Vetted / MLflow)",
    ]
    return _markdown(header, rows)


def _geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if all(values) else 0.0


def peer_checks(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("mlflow-check-*.json"))]


def best_workers(folder: Path) -> int:
    """Among the setups with TCP_NODELAY: the best geometric mean of registrations and lookups."""
    checks = [c for c in peer_checks(folder) if c["nodelay"]]
    best = max(
        checks,
        key=lambda c: _geometric_mean(
            [c["register_log_model"]["per_second"], c["resolve_alias"]["per_second"]]
        ),
    )
    return best["workers"]


def peer_table(folder: Path, load: dict) -> str:
    rows = []
    chosen = best_workers(folder) if peer_checks(folder) else None
    for check in sorted(peer_checks(folder), key=lambda c: (c["nodelay"], c["workers"])):
        connection = check["one_connection"]
        register, resolve = check["register_log_model"], check["resolve_alias"]
        best = check["nodelay"] and check["workers"] == chosen
        rows.append(
            [
                f"MLflow, {check['workers']} worker{'s' if check['workers'] > 1 else ''}"
                + (" (**used**)" if best else ""),
                "yes" if check["nodelay"] else "no",
                f"{connection['health']['p50_ms']:.1f} ms",
                f"{connection['resolve']['p50_ms']:.1f} ms",
                f"{register['per_second']:.0f}/s",
                f"{resolve['per_second']:.0f}/s",
                f"{register['other_cores']:.2f} / {resolve['other_cores']:.2f}",
            ]
        )
    vetted = load.get("one_connection", {}).get("vetted")
    if vetted:
        rows.append(
            [
                "Vetted (gunicorn, 4 × 2)",
                "no (gunicorn's default)",
                f"{vetted['health']['p50_ms']:.1f} ms",
                f"{vetted['resolve']['p50_ms']:.1f} ms",
                "",
                "",
                "",
            ]
        )
    header = [
        "Server",
        "TCP_NODELAY",
        "Health check, one connection, p50",
        "Resolve by alias, one connection, p50",
        "Register (`log_model` shape)",
        "Alias lookup",
        "Other work, cores",
    ]
    return _markdown(header, rows)


def idle_table(folder: Path) -> str:
    rows = [
        [name, str(tree["processes"]), _mb(tree["rss"]), _mb(tree["pss"])]
        for name, tree in idle_trees(folder).items()
    ]
    return _markdown(["Idle, after the load", "Processes", "RSS", "PSS"], rows)


def latency_table(load: dict, catalog: dict) -> str:
    labels = {
        "api_models_list": "`GET /api/v1/models/` (first page of 50)",
        "api_model": "`GET /api/v1/models/<name>/`",
        "api_versions_list": "`GET /api/v1/models/<name>/versions/` (20 versions)",
        "page_models_list": "page `/` (model list)",
        "page_model": "page `/models/<name>/`",
    }
    rows = []
    for key, label in labels.items():
        result = load.get("vetted_latencies", {}).get(key, {})
        if result.get("status") != 200:
            rows.append([label, f"HTTP {result.get('status', '?')}", ""])
        else:
            rows.append([label, f"{result['p50_ms']:.1f} ms", f"{result['p95_ms']:.1f} ms"])
    header = [
        f"One client, {catalog.get('models', '?'):,} models / {catalog.get('versions', '?'):,} "
        "versions",
        "p50",
        "p95",
    ]
    return _markdown(header, rows)


def sandbox_table(sandbox: dict) -> str:
    rows = [
        [label, f"{sandbox[key]['median_s']:.2f} s", f"{sandbox[key]['best_s']:.2f} s"]
        for key, label in (("bubblewrap", "In bubblewrap"), ("plain", "Plain child process"))
    ]
    rows.append(
        [
            "**The sandbox adds**",
            f"**{sandbox['added_median_s']:.2f} s**",
            f"**{sandbox['added_best_s']:.2f} s**",
        ]
    )
    rounds = len(sandbox["bubblewrap"]["rounds"])
    return _markdown(["Load check, whole", f"Median of {rounds}", "Best"], rows)


def machine_load(load: dict) -> str:
    """How busy the machine was over all tests: the sentence under the run's first line."""
    tests = [test for one_round in load.get("rounds", []) for test in one_round["tests"].values()]
    if not tests:
        return ""
    averages = [t["load_average"] for t in tests]
    others = [t["other_cores"] for t in tests]
    return (
        f"Load on the machine during the tests: 1-minute load average {min(averages):.1f} to "
        f"{max(averages):.1f} as they began; other work (besides the servers, PostgreSQL and the "
        f"load generator) took a median of {statistics.median(others):.2f} of the "
        f"{os.cpu_count()} cores ({min(others):.2f} to {max(others):.2f}); steal at most "
        f"{max(t['cpu_steal'] for t in tests):.1%}."
    )


PROTOCOL_OPERATIONS = [
    ("log_model", "`mlflow.sklearn.log_model` (logged model + files)"),
    ("register_model", '`mlflow.register_model("models:/m-…")`'),
    ("load_model", '`mlflow.pyfunc.load_model("models:/name/N")` + predict'),
]


def mlflow_protocol_table(protocol: dict) -> str:
    """MLflow's own client against both servers: seconds per call, median of rounds and best."""
    rows = []
    for key, label in PROTOCOL_OPERATIONS:
        row = protocol["summary"][key]
        cells = [label]
        for name in ("vetted", "mlflow"):
            side = row.get(name)
            cells += [f"{side['median_s']:.3f} s", f"{side['best_s']:.3f} s"] if side else ["–"] * 2
        ratio = row.get("mlflow_over_vetted")
        cells.append(
            f"{ratio['median']:.2f}× ({ratio['low']:.2f}–{ratio['high']:.2f})" if ratio else "–"
        )
        rows.append(cells)
    settings = protocol["settings"]
    header = [
        f"{protocol['client']}, {settings['rounds']} rounds × {settings['per_round']} calls",
        "Vetted median",
        "Vetted best",
        "MLflow median",
        "MLflow best",
        "MLflow ÷ Vetted time",
    ]
    return _markdown(header, rows)


def tables(folder: Path) -> str:
    load = _load(folder, "load")
    settings = load.get("settings", {})
    runtime_file = folder / "runtime-seconds"
    runtime = int(runtime_file.read_text()) if runtime_file.exists() else None
    finished = time.strftime(
        "%Y-%m-%d %H:%M UTC", time.gmtime((folder / "load.json").stat().st_mtime)
    )
    sections = [
        f"Run of {finished} on {machine()}; {versions()}. "
        f"{settings.get('rounds', '?')} rounds, each test {settings.get('seconds', '?')} s "
        f"at concurrency {settings.get('concurrency', '?')} after a "
        f"{settings.get('warmup_seconds', '?')} s warm-up"
        + (f"; `make bench` took {runtime // 60} min {runtime % 60} s." if runtime else "."),
        machine_load(load),
        "#### Targets: medians of rounds, ratios paired within each round (range in brackets)",
        targets_table(folder, load),
        "#### Every comparison",
        comparisons_table(load),
        "#### Each test: rate, latency, CPU per request and the machine's load during it",
        tests_table(load),
        "#### 1 GiB uploads, one per server per round",
        uploads_table(load),
        "#### MLflow's setups tried, and one connection's latency",
        peer_table(folder, load),
        "#### Idle memory",
        idle_table(folder),
        "#### Vetted's reads against a large catalog",
        latency_table(load, _load(folder, "vetted-catalog")),
    ]
    protocol = _load(folder, "mlflow-protocol")
    if protocol:
        sections += [
            "#### MLflow's client end to end (median of rounds' medians, best call)",
            mlflow_protocol_table(protocol),
        ]
    sandbox = _load(folder, "sandbox")
    if sandbox:
        sections += ["#### The sandbox's cost to a load check", sandbox_table(sandbox)]
    return "\n\n".join(sections)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "tables"
    results = Path(sys.argv[2] if len(sys.argv) > 2 else "bench/results")
    if command == "best-workers":
        print(best_workers(results))
    else:
        print(tables(results))
