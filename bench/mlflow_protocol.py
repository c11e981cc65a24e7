"""MLflow's own client end to end against Vetted (/mlflow) and against `mlflow server`.

The same client process, the same scikit-learn model, the two servers taking turns in rounds
(who goes first alternating), each round timing on each server, PER_ROUND times:

- `mlflow.sklearn.log_model(model, name="model", pip_requirements=…)` in a run: a logged
  model and its files;
- `mlflow.register_model("models:/m-…", name)`: a registered version from it (Vetted copies,
  hashes and freezes the files here);
- `mlflow.pyfunc.load_model("models:/name/N")` and one predict: what an app does at start.

    mlflow_protocol.py --vetted URL/mlflow --token TOKEN [--mlflow URL] --out FILE

BENCH_MLFLOW_ROUNDS (default 5) shortens a run.
"""

import argparse
import json
import os
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

ROUNDS = int(os.environ.get("BENCH_MLFLOW_ROUNDS", 5))
PER_ROUND = 3
EXPERIMENT = "bench-mlflow-protocol"
MODEL_NAME = "bench-mlflow-protocol"
OPERATIONS = ("log_model", "register_model", "load_model")
# Named, so log_model does not infer them: inferring loads the model in a child process for
# seconds on the client, the same for both servers, and would hide what the servers take.
REQUIREMENTS = [f"scikit-learn=={metadata.version('scikit-learn')}"]


class Server:
    """One tracking URI and what its client needs: Vetted's token, none for `mlflow server`."""

    def __init__(self, name: str, tracking_uri: str, token: str | None):
        self.name = name
        self.tracking_uri = tracking_uri
        self.token = token
        self.experiment_id: str | None = None

    def use(self) -> None:
        """Point MLflow's client (tracking, registry, artifacts, credentials) at this server."""
        if self.token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.token
        else:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self.experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id


def one_round(server: Server, model, features, expected: list) -> dict[str, list[float]]:
    server.use()
    seconds: dict[str, list[float]] = {operation: [] for operation in OPERATIONS}
    for _ in range(PER_ROUND):
        with mlflow.start_run():
            started = time.perf_counter()
            logged = mlflow.sklearn.log_model(model, name="model", pip_requirements=REQUIREMENTS)
            seconds["log_model"].append(time.perf_counter() - started)
        started = time.perf_counter()
        version = mlflow.register_model(logged.model_uri, MODEL_NAME)
        seconds["register_model"].append(time.perf_counter() - started)
        started = time.perf_counter()
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version.version}")
        predictions = loaded.predict(features).tolist()
        seconds["load_model"].append(time.perf_counter() - started)
        if predictions != expected:
            sys.exit(f"{server.name}: version {version.version} predicts differently")
    return seconds


def run(servers: list[Server]) -> dict:
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    expected = model.predict(features).tolist()
    for server in servers:  # warm-up, not timed: imports, connections, the model's first rows
        one_round(server, model, features, expected)
    rounds = []
    for number in range(ROUNDS):
        order = servers if number % 2 == 0 else servers[::-1]
        results = {}
        for server in order:
            print(f"round {number + 1}: {server.name}", file=sys.stderr)
            results[server.name] = one_round(server, model, features, expected)
        rounds.append({"first": order[0].name, "seconds": results})
    return {
        "settings": {"rounds": ROUNDS, "per_round": PER_ROUND},
        "client": f"mlflow-skinny {metadata.version('mlflow-skinny')}",
        "summary": summary(rounds, [server.name for server in servers]),
        "rounds": rounds,
    }


def summary(rounds: list[dict], names: list[str]) -> dict:
    """Per server and operation: the median of the rounds' medians and the best single call;
    per operation, MLflow's time over Vetted's, paired within each round."""
    result: dict = {}
    for operation in OPERATIONS:
        row: dict = {}
        for name in names:
            medians = [statistics.median(r["seconds"][name][operation]) for r in rounds]
            best = min(s for r in rounds for s in r["seconds"][name][operation])
            row[name] = {"median_s": statistics.median(medians), "best_s": best}
        if {"vetted", "mlflow"} <= set(names):
            ratios = [
                statistics.median(r["seconds"]["mlflow"][operation])
                / statistics.median(r["seconds"]["vetted"][operation])
                for r in rounds
            ]
            row["mlflow_over_vetted"] = {
                "median": statistics.median(ratios),
                "low": min(ratios),
                "high": max(ratios),
            }
        result[operation] = row
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vetted", required=True, help="Vetted's tracking URI, ending in /mlflow")
    parser.add_argument("--token", required=True, help="a read,write token of Vetted")
    parser.add_argument("--mlflow", help="the peer's tracking URI; leave out to bench Vetted alone")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    # A failed call shows at once instead of after MLflow's two minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    servers = [Server("vetted", args.vetted, args.token)]
    if args.mlflow:
        servers.append(Server("mlflow", args.mlflow, None))
    args.out.write_text(json.dumps(run(servers), indent=2))


if __name__ == "__main__":
    main()
