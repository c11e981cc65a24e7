"""What the sandbox adds to a load check: the same probe on the same scikit-learn model, in rounds.

Each round runs the load check's probe once under bubblewrap and once as a plain child process
with the same limits and clean environment (the weak isolation, which is how checks ran before
the sandbox), in alternating order. Prints median and best of each and writes them as JSON.

Usage: python bench/sandbox_overhead.py [--rounds 9] [--out bench/results/sandbox.json]
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.runner import Limits, Outcome, detect_isolation, run_probe, workspace  # noqa: E402

PROBE = Path(__file__).resolve().parent.parent / "registry" / "load_probe.py"
LIMITS = Limits(wall_seconds=120, cpu_seconds=120, memory_mb=4096)


def iris_model(folder: Path) -> Path:
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    features = frame.drop(columns="target")
    model = LogisticRegression(max_iter=500).fit(features, frame["target"])
    path = folder / "iris"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(features, model.predict(features)),
        input_example=features.head(3),
    )
    return path


def one_check(model: Path, iso) -> tuple[float, float]:
    """Wall seconds of the whole check (copy, sandbox, probe), and the probe's own seconds."""
    started = time.perf_counter()
    with workspace() as ws:
        shutil.copytree(model, ws.model_dir, dirs_exist_ok=True)
        run = run_probe(ws, probe=PROBE, limits=LIMITS, iso=iso)
    elapsed = time.perf_counter() - started
    if run.outcome != Outcome.OK or not run.result or not run.result.get("ok"):
        raise SystemExit(f"the check did not pass under {run.isolation}: {run.error or run.result}")
    return elapsed, run.result["load_seconds"] + run.result["predict_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    sandboxed = detect_isolation("bwrap")
    if not sandboxed.available:
        raise SystemExit(f"bubblewrap is not usable here: {sandboxed.problem}")
    plain = detect_isolation("no-bubblewrap-for-the-baseline", allow_weak=True)
    with tempfile.TemporaryDirectory() as folder:
        model = iris_model(Path(folder))
        one_check(model, sandboxed)  # warm the page cache for both
        times: dict[str, list[float]] = {"bubblewrap": [], "plain": []}
        probe: dict[str, list[float]] = {"bubblewrap": [], "plain": []}
        for round_number in range(args.rounds):
            order = [("bubblewrap", sandboxed), ("plain", plain)]
            for name, iso in order if round_number % 2 == 0 else order[::-1]:
                wall, inside = one_check(model, iso)
                times[name].append(wall)
                probe[name].append(inside)
    report = {
        name: {
            "median_s": round(statistics.median(values), 3),
            "best_s": round(min(values), 3),
            "probe_median_s": round(statistics.median(probe[name]), 3),
            "rounds": [round(v, 3) for v in values],
        }
        for name, values in times.items()
    }
    report["added_median_s"] = round(
        report["bubblewrap"]["median_s"] - report["plain"]["median_s"], 3
    )
    report["added_best_s"] = round(report["bubblewrap"]["best_s"] - report["plain"]["best_s"], 3)
    report["table"] = table(report)
    print(report["table"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


def table(report: dict) -> str:
    lines = [
        "Load check of a scikit-learn model (iris), whole check: copy, start, load, predict",
        f"{'':24}{'median':>10}{'best':>10}{'probe median':>15}",
    ]
    for name, label in (("bubblewrap", "in bubblewrap"), ("plain", "plain child process")):
        row = report[name]
        lines.append(
            f"{label:24}{row['median_s']:>9.3f}s{row['best_s']:>9.3f}s"
            f"{row['probe_median_s']:>14.3f}s"
        )
    lines.append(
        f"{'sandbox adds':24}{report['added_median_s']:>9.3f}s{report['added_best_s']:>9.3f}s"
        "   (target: under 1 s)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
