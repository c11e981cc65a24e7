"""Drift and fairness: monitoring.stats against Evidently's DataDriftPreset and fairlearn's
MetricFrame on the same data, in time and peak memory, and a 10M-row batch through the chunks.

`python bench/monitoring.py run --out FILE` generates the data once (25 features: 15 numeric,
10 categorical with 3 to 8 categories, so Evidently picks the same tests as our "auto";
a drift in some of them; 2 protected attributes), then measures every case in a fresh
subprocess, so each peak is that case's alone: the resident high-water mark (VmHWM; where a
case loads its data whole, reset once it is loaded, since building the DataFrames briefly holds
extra copies).
Vetted's cases run with this Python; the peers with `--peer-python` (a venv from
bench/requirements-monitoring-peer.txt: Evidently and fairlearn need pandas < 3). Every case also
returns its numbers, and the run records the largest difference between ours and the peer's.

Drift is measured on Vetted's side as an evaluation runs it: both tables are written to Parquet
first, as an upload is stored (not timed), then a fresh process builds the reference profile
from the reference file read in chunks, stores its sorted columns, and compares the current file
read in chunks with it, through monitoring.chunks, the readers monitoring.datasets uses.
Its time is profile + compare (Evidently recomputes the reference in every report) and its peak
the whole process's (ru_maxrss): the data is never held whole. The peers load the two
DataFrames as their own documentation shows; their peak is taken once the data is loaded.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

NUMERIC = [f"n{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i:02d}" for i in range(10)]
DRIFTED = {"n00", "n01", "n02", "n03", "c00", "c01"}  # shifted in the current data
CHUNK_ROWS = 200_000
STORED_ROW_GROUP = 64_000
ROOT = Path(__file__).resolve().parent.parent


def columns(rows: int, seed: int, drift: bool) -> dict[str, np.ndarray]:
    """The bench's table (categories as fixed-width text); `drift` shifts the DRIFTED ones."""
    rng = np.random.default_rng(seed)
    table = {}
    for index, name in enumerate(NUMERIC):
        shift = 0.25 if drift and name in DRIFTED else 0.0
        table[name] = rng.normal(10 * index + shift * (index + 1), index + 1, rows)
    for index, name in enumerate(CATEGORICAL):
        size = 3 + index % 6
        weights = np.linspace(1, 2, size)
        if drift and name in DRIFTED:
            weights = weights[::-1]
        values = rng.choice([f"v{k}" for k in range(size)], rows, p=weights / weights.sum())
        table[name] = values.astype("U3")
    sex = rng.choice(["F", "M"], rows)
    table["sex"] = sex.astype("U1")
    table["race"] = rng.choice(["a", "b", "c", "d", "e"], rows, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    truth = rng.integers(0, 2, rows)
    table["truth"] = truth
    yes = rng.random(rows) < np.where(sex == "F", 0.35, 0.5) + 0.2 * truth
    table["predicted"] = yes.astype(np.int64)
    return table


def generate(folder: Path, rows: int, seed: int, drift: bool) -> None:
    """The table as .npy files, which either venv reads, and its features as the Parquet file
    Vetted stores for an upload (`folder`.parquet)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = columns(rows, seed, drift)
    for name, values in table.items():
        np.save(folder / f"{name}.npy", values)
    write_parquet(folder.with_suffix(".parquet"), [table])


def write_parquet(path: Path, tables: Iterable[dict[str, np.ndarray]]) -> None:
    """The tables' features, one after another, as one Parquet file in the row groups an upload
    is stored in (monitoring.datasets writes each 64,000-row batch it reads as it arrives)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for table in tables:
        arrow = pa.table({name: pa.array(table[name]) for name in NUMERIC + CATEGORICAL})
        writer = writer or pq.ParquetWriter(path, arrow.schema)
        writer.write_table(arrow, row_group_size=STORED_ROW_GROUP)
    if writer is not None:
        writer.close()


def frame_of(table: dict[str, np.ndarray], names: list[str]):
    """A DataFrame with text as Python strings, as a Parquet or CSV reader gives them."""
    import pandas as pd

    return pd.DataFrame(
        {
            name: table[name].astype(object) if table[name].dtype.kind == "U" else table[name]
            for name in names
        }
    )


def load_frame(folder: Path, names: list[str]):
    return frame_of({name: np.load(folder / f"{name}.npy") for name in names}, names)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def loaded_mb() -> float:
    """RSS with the data loaded; then the peak is reset (Linux's clear_refs), so the peak
    reported is the computation's with the data held, not the loading's own copies."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return rss_mb()


def peak_mb() -> float:
    """The resident high-water mark since loaded_mb(); in a case that never calls it (Vetted's
    drift), the whole process's, which is what ru_maxrss reports too."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the cases, each run in its own process -------------------------------------------------


def vetted_drift(data: Path) -> dict:
    """An evaluation's own path, in this fresh process: the reference profile built from the
    reference's Parquet file in chunks (monitoring.datasets.reference_profile), its sorted
    columns stored and loaded one by one, then the current Parquet file compared in chunks
    (monitoring.evaluate's drift). The peak is the whole process's (ru_maxrss)."""
    sys.path.insert(0, str(ROOT))
    from monitoring.chunks import parquet_chunks, read_sorted, write_sorted
    from monitoring.stats.drift import compare
    from monitoring.stats.options import DEFAULTS
    from monitoring.stats.profile import build_profile

    started = time.perf_counter()
    profile, sorted_columns = build_profile(
        parquet_chunks(data / "reference.parquet", NUMERIC + CATEGORICAL),
        NUMERIC,
        CATEGORICAL,
        bins=DEFAULTS["psi_bins"],
    )
    stored = data / f"sorted-{os.getpid()}.npz"
    with open(stored, "wb") as target:
        write_sorted(target, sorted_columns)
    del sorted_columns
    profile = json.loads(json.dumps(profile))  # as the database gives it back

    def load(column: str):
        with open(stored, "rb") as source:
            return read_sorted(source, column)

    profiled = time.perf_counter()
    result = compare(
        profile, load, parquet_chunks(data / "current.parquet", NUMERIC + CATEGORICAL), {}
    )
    finished = time.perf_counter()
    stored.unlink()
    return {
        "seconds": finished - started,
        "profile_seconds": profiled - started,
        "compare_seconds": finished - profiled,
        "rows_current": result["rows_current"],
        "approximated": sum(1 for f in result["features"] if f["approximation"]),
        "numbers": {
            f["name"]: f.get("wasserstein_over_ref_std", f.get("jensen_shannon"))
            for f in result["features"]
        },
        "drifted": sorted(f["name"] for f in result["features"] if f["drifted"]),
    }


def evidently_drift(data: Path) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = load_frame(data / "reference", NUMERIC + CATEGORICAL)
    current = load_frame(data / "current", NUMERIC + CATEGORICAL)
    loaded = loaded_mb()
    started = time.perf_counter()
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    finished = time.perf_counter()
    numbers = {}
    for metric in snapshot.dict()["metrics"]:
        column = metric.get("config", {}).get("column")
        if column is not None and metric.get("config", {}).get("type", "").endswith("ValueDrift"):
            numbers[column] = float(metric["value"])
    # Evidently's Jensen-Shannon distance is in natural logarithms (jensenshannon's base=None);
    # ours is in base 2, as the issue asks: the same divergence, d₂ = dₑ / √ln 2.
    for column in CATEGORICAL:
        numbers[column] /= math.sqrt(math.log(2))
    return {"seconds": finished - started, "data_mb": loaded, "numbers": numbers}


ATTRIBUTES = [["sex"], ["race"], ["sex", "race"]]
RATES = ("selection_rate", "tpr", "fpr", "accuracy")


def vetted_fairness(data: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from monitoring.stats.fairness import evaluate

    frame = load_frame(data / "current", ["truth", "predicted", "sex", "race"])
    loaded = loaded_mb()
    started = time.perf_counter()
    result = evaluate(
        "classification",
        frame["truth"].to_numpy(),
        frame["predicted"].to_numpy(),
        {"sex": frame["sex"], "race": frame["race"]},
    )
    finished = time.perf_counter()
    numbers = {}
    for attribute in result["attributes"]:
        for group in attribute["groups"]:
            for rate in RATES:
                numbers[f"{group['value'].replace(' × ', ',')}:{rate}"] = group[rate]
        numbers[f"{attribute['name'].replace(' × ', ',')}:dpd"] = attribute[
            "demographic_parity_difference"
        ]
        numbers[f"{attribute['name'].replace(' × ', ',')}:eod"] = attribute[
            "equalized_odds_difference"
        ]
    return {"seconds": finished - started, "data_mb": loaded, "numbers": numbers}


def fairlearn_fairness(data: Path) -> dict:
    from fairlearn import metrics as fm
    from sklearn.metrics import accuracy_score

    frame = load_frame(data / "current", ["truth", "predicted", "sex", "race"])
    loaded = loaded_mb()
    started = time.perf_counter()
    numbers = {}
    for columns in ATTRIBUTES:
        metric_frame = fm.MetricFrame(
            metrics={
                "selection_rate": fm.selection_rate,
                "tpr": fm.true_positive_rate,
                "fpr": fm.false_positive_rate,
                "accuracy": accuracy_score,
                "count": fm.count,
            },
            y_true=frame["truth"],
            y_pred=frame["predicted"],
            sensitive_features=frame[columns],
        )
        differences = metric_frame.difference(method="between_groups")
        for key, row in metric_frame.by_group.iterrows():
            value = ",".join(key) if isinstance(key, tuple) else key
            for rate in RATES:
                numbers[f"{value}:{rate}"] = float(row[rate])
        name = ",".join(columns)
        numbers[f"{name}:dpd"] = float(differences["selection_rate"])
        numbers[f"{name}:eod"] = float(max(differences["tpr"], differences["fpr"]))
    finished = time.perf_counter()
    return {"seconds": finished - started, "data_mb": loaded, "numbers": numbers}


CASES = {
    "vetted-drift": vetted_drift,
    "evidently-drift": evidently_drift,
    "vetted-fairness": vetted_fairness,
    "fairlearn-fairness": fairlearn_fairness,
}


def measure(case: str, data: Path) -> None:
    result = CASES[case](data)
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))


# --- the run --------------------------------------------------------------------------------


def subprocess_case(python: str, case: str, data: Path) -> dict:
    command = [python, str(Path(__file__).resolve()), "measure", case, str(data)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def largest_difference(ours: dict, theirs: dict) -> float | None:
    keys = set(ours) & set(theirs)
    if not keys or len(keys) < len(ours):
        return None  # a number the peer did not give: not comparable
    return max(abs(ours[key] - theirs[key]) for key in keys)


def summarise(rounds: list[dict]) -> dict:
    failed = [r for r in rounds if "error" in r]
    if failed:
        return {"error": failed[0]["error"]}
    good = rounds
    summary: dict = {"rounds": len(good)}
    for key in ("seconds", "profile_seconds", "compare_seconds", "peak_mb", "data_mb"):
        values = [r[key] for r in good if key in r]
        if values:
            summary[key] = {"median": statistics.median(values), "best": min(values)}
    summary["last"] = {k: v for k, v in good[-1].items() if k != "numbers"}
    return summary


def batch_tables(rows: int) -> Iterator[dict[str, np.ndarray]]:
    """A `rows`-row current batch, made chunk by chunk (never whole in memory)."""
    for start in range(0, rows, CHUNK_ROWS):
        yield columns(min(CHUNK_ROWS, rows - start), 1000 + start, drift=True)


def run(args: argparse.Namespace) -> None:
    results: dict = {"sizes": {}, "batch": None}
    with tempfile.TemporaryDirectory(prefix="vetted-bench-monitoring-") as work:
        for rows in args.rows:
            data = Path(work) / str(rows)
            generate(data / "reference", rows, 1, drift=False)
            generate(data / "current", rows, 2, drift=True)
            size: dict = {}
            pairs = [("vetted-drift", "evidently-drift"), ("vetted-fairness", "fairlearn-fairness")]
            for ours, theirs in pairs:
                print(f"{rows} rows: {ours} against {theirs}", file=sys.stderr)
                our_rounds, their_rounds = [], []
                for _ in range(args.rounds):  # alternating, so both see the same machine load
                    our_rounds.append(subprocess_case(sys.executable, ours, data))
                    if args.peer_python and len(their_rounds) < args.peer_rounds:
                        their_rounds.append(subprocess_case(args.peer_python, theirs, data))
                size[ours] = summarise(our_rounds)
                size[theirs] = summarise(their_rounds) if their_rounds else None
                if their_rounds and "error" not in their_rounds[-1]:
                    size[f"{ours} vs {theirs}"] = {
                        "largest_difference": largest_difference(
                            our_rounds[-1]["numbers"], their_rounds[-1]["numbers"]
                        ),
                        "numbers": len(our_rounds[-1]["numbers"]),
                    }
            results["sizes"][str(rows)] = size
        if args.batch_rows:
            data = Path(work) / "batch"
            generate(data / "reference", args.batch_reference_rows, 1, drift=False)
            write_parquet(data / "current.parquet", batch_tables(args.batch_rows))
            print(f"{args.batch_rows}-row batch through the chunks", file=sys.stderr)
            results["batch"] = {
                "reference_rows": args.batch_reference_rows,
                **subprocess_case(sys.executable, "vetted-drift", data),
            }
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict) -> str:
    def cell(summary: dict | None, key: str = "seconds", unit: str = " s") -> str:
        if not summary:
            return "not run"
        if "error" in summary:
            return "failed"
        value = summary.get(key)
        if value is None:
            return "–"
        digits = 2 if unit == " s" else 0
        return f"{value['median']:.{digits}f}{unit} (best {value['best']:.{digits}f})"

    lines = [
        "| Rows per side | Case | Vetted time | Peer time | Speed-up (medians) "
        "| Vetted peak | Peer peak | Largest difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rows, size in results["sizes"].items():
        for ours, theirs, label in [
            ("vetted-drift", "evidently-drift", "Drift, 25 features (Evidently DataDriftPreset)"),
            (
                "vetted-fairness",
                "fairlearn-fairness",
                "Fairness, 2 attributes + intersection (fairlearn MetricFrame)",
            ),
        ]:
            mine, peer = size.get(ours), size.get(theirs)
            speed = "–"
            if mine and peer and "error" not in mine and "error" not in peer:
                speed = f"{peer['seconds']['median'] / mine['seconds']['median']:.0f}×"
            difference = (size.get(f"{ours} vs {theirs}") or {}).get("largest_difference")
            lines.append(
                f"| {int(rows):,} | {label} | {cell(mine)} | {cell(peer)} | {speed} "
                f"| {cell(mine, 'peak_mb', ' MB')} | {cell(peer, 'peak_mb', ' MB')} "
                f"| {'–' if difference is None else f'{difference:.1e}'} |"
            )
    batch = results.get("batch")
    if batch and "error" not in batch:
        lines.append("")
        lines.append(
            f"A {batch['rows_current']:,}-row batch against a {batch['reference_rows']:,}-row "
            f"reference, 25 features, both read from Parquet in chunks: {batch['seconds']:.1f} s "
            f"(profile {batch['profile_seconds']:.1f} s, compare {batch['compare_seconds']:.1f} s),"
            f" peak {batch['peak_mb']:.0f} MB (the whole process); {batch['approximated']} "
            "Wasserstein distances approximated (named so in the result)."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run")
    default_rows = os.environ.get("BENCH_MONITORING_ROWS", "100000,1000000")
    go.add_argument("--rows", default=default_rows, type=lambda s: [int(r) for r in s.split(",")])
    go.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_MONITORING_ROUNDS", 3)))
    go.add_argument("--peer-rounds", type=int, default=3)
    go.add_argument("--peer-python", default="")
    go.add_argument("--batch-rows", type=int, default=10_000_000)
    go.add_argument("--batch-reference-rows", type=int, default=1_000_000)
    go.add_argument("--out", required=True)
    one = commands.add_parser("measure")
    one.add_argument("case")
    one.add_argument("data", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        measure(args.case, args.data)


if __name__ == "__main__":
    main()
