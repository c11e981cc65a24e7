"""Evaluation results as a promotion request's checks: pending while the run is not done, then
pass or fail with a link to the run; a run that ends dismisses approvals that saw it pending."""

import pytest

from monitoring.tasks import run_evaluation
from registry.models import ModelVersion
from reviews import services as review_services
from reviews.models import PromotionRequest
from tests.monitoring_datasets import credit_frame, credit_model  # noqa: F401 - a fixture
from tests.test_monitoring_runs import ask, credit, upload  # noqa: F401  (fixtures)

CHECKS = [
    {"kind": "evaluation_metric", "metric": "roc_auc", "op": ">=", "value": 0.7},
    {"kind": "evaluation_metric", "metric": "accuracy", "op": ">=", "value": 0.99},
    {"kind": "evaluation_vs_production", "metric": "roc_auc", "max_drop": 0.01},
    {"kind": "fairness_ratio", "min_ratio": 0.05},
    {"kind": "drift_psi", "max_psi": 0.2},
]
NAMES = [
    "ROC AUC ≥ 0.7",
    "accuracy ≥ 0.99",
    "ROC AUC no worse than production by more than 0.01",
    "disparate impact ratio ≥ 0.05 for every group",
    "no feature with PSI ≥ 0.2 against the reference",
]


def set_checks(client, checks) -> object:
    return client.put(
        "/api/v1/teams/fraud/policies/",
        {"to_stage": "production", "required_approvals": 1, "checks": checks},
        format="json",
    )


def checks_of(client, number: int) -> dict[str, dict]:
    return {c["name"]: c for c in client.get(f"/api/v1/requests/{number}/").json()["checks"]}


def test_the_checks_are_pending_until_the_runs_end_then_pass_or_fail_with_a_link(
    api_as,
    alice,
    bob,
    client,
    credit,  # noqa: F811
):
    _, dataset, _ = credit
    api = api_as(alice)
    assert set_checks(api, CHECKS).status_code == 200
    opened = api.post(
        "/api/v1/models/credit/requests/", {"version": 1, "to_stage": "production"}, format="json"
    )
    assert opened.status_code == 201, opened.json()
    number = opened.json()["number"]

    before = checks_of(api, number)
    assert list(before) == NAMES
    assert before["ROC AUC ≥ 0.7"]["state"] == "pending"
    assert before["ROC AUC ≥ 0.7"]["detail"] == "not evaluated yet"
    assert before["ROC AUC no worse than production by more than 0.01"]["state"] == "pass"

    performance = ask(api, "credit", version=1, kind="performance", dataset=dataset.pk).json()
    fairness = ask(api, "credit", version=1, kind="fairness", dataset=dataset.pk).json()
    queued = checks_of(api, number)["ROC AUC ≥ 0.7"]
    assert queued["state"] == "pending" and queued["detail"] == "evaluation queued"
    assert queued["url"] == f"/evaluations/{performance['id']}/"
    request = PromotionRequest.objects.get(number=number)
    review_services.give_review(actor=bob, request=request, decision="approve")

    run_evaluation(performance["id"])
    run_evaluation(fairness["id"])

    after = checks_of(api, number)
    assert after["ROC AUC ≥ 0.7"]["state"] == "pass"
    assert after["ROC AUC ≥ 0.7"]["url"] == f"/evaluations/{performance['id']}/"
    assert after["accuracy ≥ 0.99"]["state"] == "fail"
    assert after["disparate impact ratio ≥ 0.05 for every group"]["state"] == "pass"
    assert after["no feature with PSI ≥ 0.2 against the reference"]["state"] == "pending"
    review = request.reviews.get()
    assert review.dismissed_at is not None  # it approved checks that were still pending

    client.force_login(alice)
    page = client.get(f"/requests/{number}/").content.decode()
    assert f'href="/evaluations/{performance["id"]}/"' in page
    assert 'hx-trigger="every 3s"' in page  # the drift check still waits: the page looks again
    poll = client.get(f"/requests/{number}/", headers={"HX-Request": "true"})
    assert "HX-Refresh" not in poll


def test_the_request_page_stops_looking_and_reloads_once_no_check_waits(
    api_as,
    alice,
    client,
    credit,  # noqa: F811
):
    _, dataset, _ = credit
    api = api_as(alice)
    assert set_checks(api, CHECKS[:1]).status_code == 200
    opened = api.post(
        "/api/v1/models/credit/requests/", {"version": 1, "to_stage": "production"}, format="json"
    )
    number = opened.json()["number"]
    client.force_login(alice)
    assert 'hx-trigger="every 3s"' in client.get(f"/requests/{number}/").content.decode()
    run = ask(api, "credit", version=1, kind="performance", dataset=dataset.pk).json()
    run_evaluation(run["id"])
    poll = client.get(f"/requests/{number}/", headers={"HX-Request": "true"})
    assert poll["HX-Refresh"] == "true"
    assert 'hx-trigger="every 3s"' not in client.get(f"/requests/{number}/").content.decode()


def test_a_new_version_is_judged_against_productions_run_on_the_same_data(
    api_as,
    alice,
    bob,
    credit,  # noqa: F811
    credit_model,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from registry.tasks import run_load_check
    from tests.promotions import promote
    from tests.test_api_versions import push_archive

    model, _, _ = credit
    promote(
        ModelVersion.objects.get(model=model, number=1), "production", author=alice, approver=bob
    )
    api = api_as(alice)
    assert set_checks(api, CHECKS[2:3]).status_code == 200
    assert push_archive(api, credit_model[0], model="credit").status_code == 201
    second = ModelVersion.objects.get(model=model, number=2)
    with django_capture_on_commit_callbacks(execute=True):
        run_load_check(second.latest_load_check_id)
    number = api.post(
        "/api/v1/models/credit/requests/", {"version": 2, "to_stage": "production"}, format="json"
    ).json()["number"]
    new = second.evaluation_runs.get(kind="performance")
    run_evaluation(new.pk)

    waiting = checks_of(api, number)[NAMES[2]]
    assert waiting["state"] == "pending" and "production v1" in waiting["detail"]

    run_evaluation(new.baseline_id)

    judged = checks_of(api, number)[NAMES[2]]
    assert judged["state"] == "pass"  # the same model: no drop at all
    assert "against" in judged["detail"] and "production v1" in judged["detail"]


@pytest.mark.parametrize(
    "check",
    [
        {"kind": "evaluation_metric", "metric": "speed", "op": ">=", "value": 1},
        {"kind": "evaluation_metric", "metric": "roc_auc", "op": "=", "value": 1},
        {"kind": "evaluation_vs_production", "metric": "roc_auc", "max_drop": -1},
        {"kind": "drift_psi", "max_psi": "high"},
        {"kind": "fairness_ratio", "min_ratio": 2},
    ],
)
def test_a_policy_refuses_a_check_it_cannot_run(api_as, alice, check):
    answer = set_checks(api_as(alice), [check])
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("Check 1:")


def test_a_psi_check_without_a_limit_takes_the_models_threshold(
    api_as,
    alice,
    bob,
    credit,  # noqa: F811
):
    model, _, _ = credit
    reference = upload(alice, model, credit_frame(600, seed=3), "reference", label="y")
    shifted = upload(alice, model, credit_frame(600, seed=4, shift=8.0), "evaluation", label="y")
    api = api_as(alice)
    assert set_checks(api, [{"kind": "drift_psi"}]).status_code == 200
    opened = api.post(
        "/api/v1/models/credit/requests/", {"version": 1, "to_stage": "production"}, format="json"
    )
    number = opened.json()["number"]
    name = "no feature with PSI at or above the model's threshold against the reference"

    def drift_check() -> dict:
        run = ask(
            api, "credit", version=1, kind="drift", dataset=shifted.pk, reference=reference.pk
        )
        assert run.status_code == 201, run.json()
        run_evaluation(run.json()["id"])
        income = next(f for f in run_metrics(run) if f["name"] == "income")
        return checks_of(api, number)[name], income["psi"]

    def run_metrics(answer) -> list[dict]:
        run = api.get(f"/api/v1/evaluations/{answer.json()['id']}/").json()
        return run["metrics"]["features"]

    check, psi = drift_check()  # the default threshold, 0.2
    assert (check["state"], psi >= 0.2) == ("fail", True), check
    assert check["detail"].endswith("(threshold 0.2)") and check["detail"].startswith("income ")

    settings = "/api/v1/models/credit/monitoring/settings/"
    assert api_as(bob).put(settings, {"values": {"psi_threshold": psi + 0.5}}).status_code == 200
    check, _ = drift_check()  # a new run, asked for with the model's new threshold
    assert check["state"] == "pass", check
    assert check["detail"].endswith(f"(threshold {psi + 0.5:g})")


def test_only_runs_on_evaluation_data_answer_the_checks(
    api_as,
    alice,
    credit,  # noqa: F811
):
    """A run on a production batch (by hand or by a monitor) answers another question: the
    check keeps reading the run on the evaluation data, until one on newer evaluation data."""
    model, dataset, _ = credit
    api = api_as(alice)
    assert set_checks(api, CHECKS[:1]).status_code == 200
    number = api.post(
        "/api/v1/models/credit/requests/", {"version": 1, "to_stage": "production"}, format="json"
    ).json()["number"]
    on_evaluation = ask(api, "credit", version=1, kind="performance", dataset=dataset.pk).json()
    run_evaluation(on_evaluation["id"])
    passed = checks_of(api, number)[NAMES[0]]
    assert passed["state"] == "pass" and passed["url"] == f"/evaluations/{on_evaluation['id']}/"

    noise = credit_frame(600, seed=5)
    noise["y"] = noise["y"].sample(frac=1, random_state=0).to_numpy()  # labels unrelated
    batch = upload(alice, model, noise, "batch", label="y")
    on_batch = ask(api, "credit", version=1, kind="performance", dataset=batch.pk).json()
    run_evaluation(on_batch["id"])
    assert (
        api.get(f"/api/v1/evaluations/{on_batch['id']}/").json()["metrics"]["summary"]["roc_auc"]
        < 0.7
    )
    assert checks_of(api, number)[NAMES[0]] == passed

    newer = upload(alice, model, noise, "evaluation", label="y")
    on_newer = ask(api, "credit", version=1, kind="performance", dataset=newer.pk).json()
    run_evaluation(on_newer["id"])
    failed = checks_of(api, number)[NAMES[0]]
    assert failed["state"] == "fail" and failed["url"] == f"/evaluations/{on_newer['id']}/"
