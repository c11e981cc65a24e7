"""Lists of requests whose policy asks for evaluation checks: the same queries for one request
or six, and each row's checks exactly as the request's own page gives them."""

from datetime import timedelta

import pytest

from monitoring.models import EvaluationKind, RunStatus
from registry.models import ModelVersion
from reviews import services
from tests.monitoring_pages_factories import (
    classification_metrics,
    dataset,
    drift_metrics,
    fairness_metrics,
    run,
)
from tests.page_factories import count_queries, pushed_version, registered_model
from tests.promotions import promote

CHECKS = [
    {"kind": "evaluation_metric", "metric": "roc_auc", "op": ">=", "value": 0.7},
    {"kind": "evaluation_vs_production", "metric": "roc_auc", "max_drop": 0.01},
    {"kind": "drift_psi", "max_psi": 0.2},
    {"kind": "fairness_ratio", "min_ratio": 0.8},
    {"kind": "not_worse_than_production", "metric": "accuracy", "tolerance": 0},
]
METRIC, VS_PRODUCTION, PSI, RATIO = (
    "ROC AUC ≥ 0.7",
    "ROC AUC no worse than production by more than 0.01",
    "no feature with PSI ≥ 0.2 against the reference",
    "disparate impact ratio ≥ 0.8 for every group",
)
GOOD, POOR = classification_metrics(seed=0), classification_metrics(seed=0, noise=2.0)
DAY = timedelta(days=1)


@pytest.fixture
def credit(alice, bob, teams):
    """Model credit with v1 in production, evaluated on the holdout, and a policy for
    production that asks for every kind of evaluation check."""
    model = registered_model(alice, teams["fraud"], "credit")
    first = pushed_version(alice, model, metrics={"accuracy": 0.9})
    promote(first, "production", author=alice, approver=bob)
    holdout = dataset(model)
    production_run = run(first, EvaluationKind.PERFORMANCE, holdout, metrics=GOOD, ago=DAY)
    services.set_policy(
        actor=alice, team=model.team, to_stage="production", required_approvals=1, checks=CHECKS
    )
    return model, holdout, production_run


def open_evaluated(alice, credit, variant: int) -> int:
    """A new version with runs in one of three states, and its request to production."""
    model, holdout, production_run = credit
    version = pushed_version(alice, model, metrics={"accuracy": 0.9})
    # An older run of each kind: never the one a check reads.
    for kind in EvaluationKind.values:
        run(version, kind, holdout, status=RunStatus.FAILED, ago=2 * DAY)
    if variant == 0:  # all done; the production run made beside it on upload
        run(version, "performance", holdout, metrics=GOOD, baseline=production_run)
        run(version, "drift", holdout, metrics=drift_metrics(features=6))
        run(version, "fairness", holdout, metrics=fairness_metrics())
    elif variant == 1:  # worse than production's newest run on the same data, found by dataset
        run(version, "performance", holdout, metrics=POOR)
        run(version, "drift", holdout, status=RunStatus.PENDING)
        run(version, "fairness", holdout, status=RunStatus.FAILED)
    else:  # still running, no drift run at all
        run(version, "performance", holdout, status=RunStatus.RUNNING)
        version.evaluation_runs.filter(kind="drift").delete()
    version = ModelVersion.objects.select_related("model__team").get(pk=version.pk)
    return services.open_request(actor=alice, version=version, to_stage="production").number


def checks_by_number(rows) -> dict[int, list[dict]]:
    return {row["number"]: row["checks"] for row in rows}


def test_lists_of_requests_with_evaluation_checks_take_the_same_queries_for_one_or_six(
    alice, bob, client, api_as, credit
):
    first = open_evaluated(alice, credit, 0)
    api = api_as(bob)
    api.get("/api/v1/requests/")  # the token's first use is written down once
    client.force_login(bob)
    urls = ["/requests/", "/home/", "/models/credit/", "/models/credit/versions/2/"]
    few = {url: count_queries(client, url) for url in urls}
    api_urls = ["/api/v1/requests/", "/api/v1/requests/?awaiting=me"]
    few_api = {url: count_queries(api, url) for url in api_urls}

    numbers = [first] + [open_evaluated(alice, credit, variant % 3) for variant in range(1, 6)]

    assert {url: count_queries(client, url) for url in urls} == few
    assert {url: count_queries(api, url) for url in few_api} == few_api
    listed = checks_by_number(api.get("/api/v1/requests/").json()["results"])
    assert sorted(listed) == sorted(numbers)
    awaiting = checks_by_number(api.get("/api/v1/requests/?awaiting=me").json()["results"])
    assert awaiting == listed
    for number in numbers:  # one request alone reads its runs the same way
        assert api.get(f"/api/v1/requests/{number}/").json()["checks"] == listed[number]
    page = client.get("/requests/").content.decode()
    assert "evaluation running" in page and "the evaluation failed" in page


def test_each_row_reads_its_versions_newest_runs_and_productions_run_on_the_same_data(
    alice, bob, api_as, credit
):
    numbers = [open_evaluated(alice, credit, variant) for variant in range(3)]
    listed = checks_by_number(api_as(bob).get("/api/v1/requests/").json()["results"])
    done, worse, running = ({c["name"]: c for c in listed[number]} for number in numbers)
    roc_auc = f"{GOOD['summary']['roc_auc']:.4g}"

    assert done[METRIC]["state"] == "pass" and done[METRIC]["detail"] == roc_auc
    assert done[VS_PRODUCTION] == {
        "name": VS_PRODUCTION,
        "state": "pass",
        "detail": f"{roc_auc} against {roc_auc} in production v1",
        "url": done[METRIC]["url"],
    }
    # A few current values out of the reference's range: PSI over 0.2 on every feature.
    assert done[PSI]["state"] == "fail" and done[PSI]["detail"].startswith("feature_000 ")
    assert done[RATIO]["state"] == "fail" and done[RATIO]["detail"].startswith("sex ")

    poor = f"{POOR['summary']['roc_auc']:.4g}"
    assert worse[VS_PRODUCTION]["state"] == "fail"
    assert worse[VS_PRODUCTION]["detail"] == f"{poor} against {roc_auc} in production v1"
    assert (worse[PSI]["state"], worse[PSI]["detail"]) == ("pending", "evaluation queued")
    assert (worse[RATIO]["state"], worse[RATIO]["detail"]) == ("fail", "the evaluation failed")

    assert (running[METRIC]["state"], running[METRIC]["detail"]) == (
        "pending",
        "evaluation running",
    )
    assert running[VS_PRODUCTION]["state"] == "pending"
    assert (running[PSI]["state"], running[PSI]["detail"]) == ("pending", "not evaluated yet")
