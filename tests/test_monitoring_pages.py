"""The Monitoring tab, an evaluation run's page and the model page's metrics across versions."""

import json
import re
from datetime import timedelta

import numpy as np
import plotly.graph_objects as go
import pytest
from django.urls import reverse
from django.utils import timezone

from discussions import services as discussion_services
from monitoring import figures
from monitoring.models import Alert, Dataset, EvaluationRun, Monitor, RunStatus
from monitoring.stats import fairness, performance
from registry.templatetags.registry_pages import metric
from tests.promotions import promote

from . import monitoring_pages_factories as make
from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model

FIGURE = re.compile(
    r'<script id="(?P<id>[^"]+)" type="application/json">(?P<json>.*?)</script>', re.DOTALL
)


def figures_in(response) -> dict[str, dict]:
    """The figures a page ships, by element id, each checked by plotly.py's own validation."""
    html = response.content.decode()
    found = {}
    for match in FIGURE.finditer(html):
        if f'data-figure="{match["id"]}"' not in html:
            continue
        figure = json.loads(match["json"])
        go.Figure(figure)  # raises on any property plotly.js would not understand
        found[match["id"]] = figure
    return found


@pytest.fixture
def model(people, teams):
    alice = people["alice"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    first = pushed_version(alice, model, metrics={"auc": 0.91, "f1": 0.8})
    pushed_version(alice, model, metrics={"auc": 0.93, "f1": 0.82, "precision": 0.7})
    promote(first, "production", author=alice, approver=people["bob"])
    return model


@pytest.fixture
def runs(model):
    v1, v2 = model.versions.order_by("number")
    holdout, reference = make.dataset(model), make.dataset(model, "reference", name="train.csv")
    # Production batches of the last five days, each evaluated a minute ago.
    batches = [
        make.dataset(
            model,
            "batch",
            name=f"day-{day}.parquet",
            observed_at=timezone.now() - timedelta(days=5 - day),
        )
        for day in range(5)
    ]
    perf = []
    for day in range(5):
        perf.append(
            make.run(
                v1,
                "performance",
                batches[day],
                metrics=make.classification_metrics(seed=day),
                ago=timedelta(minutes=1, seconds=-day),
            )
        )
    baseline = make.run(  # production on the holdout, beside the candidate
        v1, "performance", holdout, metrics=make.classification_metrics(seed=4)
    )
    candidate = make.run(
        v2, "performance", holdout, metrics=make.classification_metrics(seed=9, noise=0.3)
    )
    candidate.baseline = baseline
    candidate.save()
    drift = [
        make.run(
            v1,
            "drift",
            batches[day],
            reference=reference,
            metrics=make.drift_metrics(),
            ago=timedelta(seconds=day),
        )
        for day in (3, 4)  # the older data evaluated last
    ]
    fairness = make.run(v1, "fairness", holdout, metrics=make.fairness_metrics())
    running = make.run(v2, "drift", holdout, reference=reference, status=RunStatus.RUNNING)
    running.progress, running.progress_note = 0.42, "chunk 3 of 7"
    running.save()
    return {
        "performance": candidate,
        "baseline": baseline,
        "drift": drift[-1],
        "fairness": fairness,
        "running": running,
    }


@pytest.fixture
def monitors(model, runs, alice):
    v1 = model.versions.get(number=1)
    rules = [{"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8}]
    daily = Monitor.objects.create(
        model=model, name="daily quality", kinds=["performance"], rules=rules
    )
    drift_rules = [{"metric": "share_drifted", "op": "<=", "warning": 0.2, "critical": 0.4}]
    drift = Monitor.objects.create(
        model=model, name="drift watch", kinds=["drift"], rules=drift_rules
    )
    Monitor.objects.create(model=model, name="quiet one", kinds=["fairness"])
    Alert.objects.create(
        monitor=daily,
        version=v1,
        rule_key="roc_auc>=",
        level="critical",
        message="ROC AUC 0.78 < 0.8",
        value=0.78,
        threshold=0.8,
        run=runs["baseline"],
    )
    Alert.objects.create(
        monitor=drift,
        version=v1,
        rule_key="share_drifted<=",
        level="warning",
        message="share drifted 0.4 > 0.3",
        value=0.4,
        threshold=0.3,
    )
    resolved = Alert.objects.create(
        monitor=drift,
        version=v1,
        rule_key="max_psi<=",
        level="critical",
        message="old",
        value=1.0,
        threshold=0.2,
        resolved_at=timezone.now(),
    )
    return {"daily": daily, "drift": drift, "resolved": resolved}


def batches():
    """The production batches, oldest first."""
    return list(Dataset.objects.filter(kind="batch").order_by("observed_at"))


def drift_runs():
    """The finished drift runs, on the oldest data first."""
    finished = EvaluationRun.objects.filter(kind="drift", status="done")
    return list(finished.select_related("version", "dataset").order_by("dataset__observed_at"))


def tab(model):
    return reverse("monitoring:model_monitoring", args=[model.name])


def run_url(run):
    return reverse("monitoring:run", args=[run.pk])


# --- The model page -------------------------------------------------------------------------


def test_the_model_page_charts_each_recorded_metric_across_versions(client, alice, model):
    client.force_login(alice)
    response = client.get(reverse("registry:model_detail", args=[model.name]))
    assert_strict_page(response)
    html = response.content.decode()
    assert "Metrics across versions" in html and "vendor/plotly.min.js" in html
    charts = figures_in(response)
    by_title = {figure["layout"]["title"]["text"]: figure for figure in charts.values()}
    assert list(by_title) == ["auc", "f1", "precision"]  # the most reported first
    assert by_title["precision"]["data"][0]["x"] == [2]  # v1 did not record it
    assert by_title["auc"]["data"][0]["x"] == [1, 2]
    assert by_title["auc"]["data"][0]["y"] == [0.91, 0.93]
    assert by_title["auc"]["data"][0]["text"] == ["v1 · production", "v2 · no stage"]
    # The Monitoring tab sits beside Overview and History.
    assert f'href="{tab(model)}">Monitoring</a>' in html


def test_the_chart_is_there_from_the_first_push(client, alice, teams):
    model = registered_model(alice, teams["fraud"], "first-push")
    client.force_login(alice)
    page = reverse("registry:model_detail", args=[model.name])
    assert "Metrics across versions" not in client.get(page).content.decode()
    pushed_version(alice, model, metrics={"rmse": 3.5})
    (figure,) = figures_in(client.get(page)).values()
    assert figure["data"][0]["x"] == [1] and figure["data"][0]["y"] == [3.5]


# --- The Monitoring tab ---------------------------------------------------------------------


def test_the_tab_shows_health_per_monitor_from_its_open_alerts(client, people, model, monitors):
    client.force_login(people["victor"])  # a viewer sees it all
    response = client.get(tab(model))
    assert_strict_page(response)
    html = response.content.decode()
    shown = re.findall(
        r'health__item--(\w+)">\s*<div><span class="health__level">(\w+)</span> · ([\w ]+)', html
    )
    assert shown == [
        ("critical", "Critical", "daily quality"),
        ("warning", "Warning", "drift watch"),
        ("ok", "OK", "quiet one"),
    ]
    assert "ROC AUC 0.78 &lt; 0.8" in html and ": old (v1)" not in html


def test_those_who_manage_monitors_get_links_to_add_and_edit_them(client, people, model, monitors):
    new = reverse("monitoring:monitor_new", args=[model.name])
    edits = [
        reverse("monitoring:monitor_edit", args=[model.name, monitor.pk])
        for monitor in Monitor.objects.filter(model=model)
    ]
    alerts = reverse("monitoring:alerts") + f"?model={model.name}"
    for name, manages in (("bob", True), ("alice", True), ("victor", False), ("carol", False)):
        client.force_login(people[name])
        html = client.get(tab(model)).content.decode()
        assert f'href="{alerts}"' in html, name
        assert (f'href="{new}"' in html) is manages, name
        assert all((f'href="{edit}"' in html) is manages for edit in edits), name
        for link in [new, *edits] if manages else []:
            assert client.get(link).status_code == 200, (name, link)


def test_the_tab_draws_timelines_with_bands_alert_markers_and_the_drift_heatmap(
    client, alice, model, runs, monitors
):
    client.force_login(alice)
    charts = figures_in(client.get(tab(model)))
    titles = [charts[f"timeline-{i}"]["layout"]["title"]["text"] for i in range(5)]
    assert "timeline-5" not in charts
    # The rules' metrics first, then the usual performance ones.
    assert titles == ["roc_auc", "share_drifted", "f1", "accuracy", "log_loss"]
    shares = {t["name"]: t["y"] for t in charts["timeline-1"]["data"]}
    assert shares["v1"] == [run.metrics["summary"]["share_drifted"] for run in drift_runs()]
    assert shares["alerts"] == [0.4]
    roc = charts["timeline-0"]
    lines = {trace["name"]: trace for trace in roc["data"]}
    # Production batches only, each at its data's time: v2 was judged on the holdout alone.
    assert set(lines) == {"v1", "alerts"}
    assert lines["v1"]["x"] == [batch.observed_at.isoformat() for batch in batches()]
    assert lines["v1"]["y"] == [
        run.metrics["summary"]["roc_auc"]
        for run in EvaluationRun.objects.filter(kind="performance", dataset__kind="batch").order_by(
            "dataset__observed_at"
        )
    ]
    assert lines["alerts"]["y"] == [0.78]  # the open critical alert on roc_auc
    # placed where the run it judged stands
    assert lines["alerts"]["x"] == [runs["baseline"].dataset.observed_at.isoformat()]
    bands = [(s["y0"], s["y1"], s["fillcolor"]) for s in roc["layout"]["shapes"]]
    assert [(round(y1, 2), colour) for _, y1, colour in bands] == [
        (0.8, "rgba(251, 233, 231, 0.8)"),  # critical: below 0.8
        (0.85, "rgba(251, 240, 217, 0.7)"),  # warning: 0.8 to 0.85
    ]
    assert bands[1][0] == 0.8
    heatmap = charts["drift-heatmap"]["data"][0]
    by_psi = sorted(runs["drift"].metrics["features"], key=lambda feature: -feature["psi"])
    assert heatmap["y"] == [feature["name"] for feature in by_psi[:20]]  # top drifted first
    assert len(heatmap["x"]) == 2 and heatmap["z"][0] == [by_psi[0]["psi"]] * 2
    assert heatmap["x"] == [f"{b.observed_at:%Y-%m-%d %H:%M} v1" for b in batches()[3:]]
    # The versions, on the holdout: v2's upload run beside production's, one bar each.
    versions = charts["versions-0"]
    assert versions["layout"]["title"]["text"] == "roc_auc"
    assert versions["data"][0]["x"] == ["v1", "v2"]
    assert versions["data"][0]["y"] == [
        runs[name].metrics["summary"]["roc_auc"] for name in ("baseline", "performance")
    ]
    assert versions["data"][0]["customdata"] == ["production", "no stage"]
    # Read in SQL without the histograms, it is the heatmap of the runs' whole metrics.
    assert charts["drift-heatmap"] == json.loads(
        json.dumps(figures.drift_heatmap(figures.drift_columns_of(drift_runs())))
    )


def test_the_tab_lists_the_latest_runs_with_links(client, alice, model, runs):
    client.force_login(alice)
    html = client.get(tab(model)).content.decode()
    for run in runs.values():
        assert f'href="{run_url(run)}"' in html
    assert "status--running" in html


def test_the_tab_costs_the_same_queries_with_more_runs_and_monitors(
    client, alice, model, runs, monitors
):
    client.force_login(alice)
    before = count_queries(client, tab(model))
    v1 = model.versions.get(number=1)
    data = make.dataset(model)
    for day in range(6):
        make.run(
            v1,
            "performance",
            data,
            metrics=make.classification_metrics(day),
            ago=timedelta(hours=day),
        )
        make.run(v1, "drift", data, metrics=make.drift_metrics(), ago=timedelta(hours=day))
    Monitor.objects.create(model=model, name="another", kinds=["drift"])
    assert count_queries(client, tab(model)) == before


def test_an_empty_tab_says_what_there_is_not(client, alice, model):
    client.force_login(alice)
    html = client.get(tab(model)).content.decode()
    assert "No monitors yet" in html and "No evaluations yet." in html
    assert "data-figure" not in html


# --- A run's page ---------------------------------------------------------------------------


def test_a_performance_run_shows_its_figures_beside_production(client, alice, runs):
    run = runs["performance"]
    client.force_login(alice)
    response = client.get(run_url(run))
    assert_strict_page(response)
    charts = figures_in(response)
    assert set(charts) == {"comparison", "confusion", "roc", "calibration"}
    overall = run.metrics["overall"]
    assert charts["confusion"]["data"][0]["z"] == overall["confusion_matrix"]["matrix"]
    roc_lines = {trace["name"].split(" (")[0]: trace for trace in charts["roc"]["data"]}
    assert roc_lines["this version"]["x"] == overall["roc_curve"]["fpr"]
    assert roc_lines["production"]["y"] == runs["baseline"].metrics["overall"]["roc_curve"]["tpr"]
    compared = {trace["name"]: trace for trace in charts["comparison"]["data"]}
    assert (
        compared["v2"]["y"][compared["v2"]["x"].index("roc_auc")]
        == run.metrics["summary"]["roc_auc"]
    )
    assert "v1 (production)" in compared
    html = response.content.decode()
    assert "By channel" in html and "Discussion" in html


def test_a_scheduled_run_shows_its_window_and_its_wait_apart_from_its_work(client, alice, model):
    v1 = model.versions.get(number=1)
    start = timezone.now() - timedelta(days=7)
    batches = []
    for day, rows in enumerate((400, 300, 250)):
        batch = make.dataset(model, "batch", rows=rows, name=f"day-{day}.parquet")
        batch.observed_at = start + timedelta(days=day * 3)
        batch.save()
        batches.append(batch)
    run = make.run(v1, "performance", batches[-1], metrics=make.classification_metrics())
    run.window.set(batches[:-1])
    queued = run.finished_at - timedelta(seconds=23)
    EvaluationRun.objects.filter(pk=run.pk).update(
        queued_at=queued, started_at=queued + timedelta(seconds=22.72), duration_seconds=0.276
    )
    client.force_login(alice)
    html = client.get(run_url(run)).content.decode()
    inputs = html[html.index('id="inputs-heading"') : html.index("</section>")]
    assert "3 production batches observed" in inputs and "950 rows" in inputs
    assert f"{batches[0].observed_at:%Y-%m-%d %H:%M}" in inputs
    assert f"{batches[-1].observed_at:%Y-%m-%d %H:%M}" in inputs
    assert "waited 22.7 s for a worker" in inputs and "worked 276 ms" in inputs

    single = make.run(v1, "performance", batches[0], metrics=make.classification_metrics())
    html = client.get(run_url(single)).content.decode()
    assert "production batches observed" not in html and "day-0.parquet · 400 rows" in html
    assert "waited 10.0 s for a worker" in html and "worked 50.0 s" in html


def test_a_drift_run_pages_its_features_most_drifted_first(client, alice, runs):
    run = runs["drift"]
    client.force_login(alice)
    names = [feature["name"] for feature in run.metrics["features"]]  # most drifted first
    first = client.get(run_url(run))
    html = first.content.decode()
    assert f">{names[0]}<" in html and f">{names[19]}<" in html and names[20] not in html
    assert "Features 1–20 of 45" in html and 'href="?page=2"' in html
    assert "3 of 45 features drifted" in html
    assert set(figures_in(first)) == {f"distribution-{i}" for i in range(6)}
    last = client.get(run_url(run) + "?page=3").content.decode()
    assert f">{names[40]}<" in last and f">{names[44]}<" in last and names[39] not in last
    top = run.metrics["features"][0]
    reference, current = figures_in(first)["distribution-0"]["data"]
    assert reference["x"] == [*top["reference_hist"]["categories"], "not in the reference"]
    assert current["customdata"] == [*top["current_hist"]["counts"], 3]  # three "new" values
    assert sum(reference["y"]) == pytest.approx(1) and sum(current["y"]) == pytest.approx(1)


def test_a_fairness_run_shows_bars_with_the_four_fifths_band(client, alice, runs):
    client.force_login(alice)
    response = client.get(run_url(runs["fairness"]))
    bars = figures_in(response)["fairness-0"]
    groups = runs["fairness"].metrics["attributes"][0]["groups"]
    assert bars["data"][0]["x"] == ["F", "M", "X"]
    assert bars["data"][0]["y"] == [group["selection_rate"] for group in groups]
    (band,) = bars["layout"]["shapes"]
    assert band["y1"] == pytest.approx(0.8 * groups[1]["selection_rate"])  # M's: X is too small
    assert "below four fifths" in response.content.decode()


def test_a_running_run_shows_progress_that_htmx_polls_until_it_ends(client, alice, runs):
    run = runs["running"]
    client.force_login(alice)
    html = client.get(run_url(run)).content.decode()
    progress = reverse("monitoring:run_progress", args=[run.pk])
    assert f'hx-get="{progress}"' in html and 'value="0.420"' in html and "chunk 3 of 7" in html
    assert client.get(progress, headers={"HX-Request": "true"}).status_code == 200
    run.status, run.finished_at, run.metrics = RunStatus.DONE, timezone.now(), make.drift_metrics()
    run.save()
    done = client.get(progress, headers={"HX-Request": "true"})
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


def test_a_failed_run_shows_its_error(client, alice, model):
    data = make.dataset(model)
    failed = make.run(
        model.versions.get(number=2),
        "performance",
        data,
        status=RunStatus.FAILED,
        error="The model did not load: ModuleNotFoundError: xgboost",
    )
    client.force_login(alice)
    html = client.get(run_url(failed)).content.decode()
    assert "It failed" in html and "ModuleNotFoundError: xgboost" in html


def test_people_comment_on_a_run_and_the_thread_shows_on_its_page(client, people, runs):
    run = runs["drift"]
    client.force_login(people["carol"])
    response = client.post(
        reverse("discussions:start"),
        {"anchor": f"evaluation:{run.pk}", "body": "Is *age* real drift?"},
    )
    assert response.status_code == 302 and response["Location"].startswith(run_url(run))
    assert "Is <em>age</em> real drift?" in client.get(run_url(run)).content.decode()
    client.force_login(people["mallory"])
    refused = client.post(
        reverse("discussions:start"), {"anchor": f"evaluation:{run.pk}", "body": "peek"}
    )
    assert refused.status_code == 404


def test_the_run_page_costs_the_same_queries_with_more_comments(client, people, runs):
    run = runs["performance"]
    client.force_login(people["alice"])
    discussion_services.start_thread(
        author=people["alice"], kind="evaluation", anchor_id=str(run.pk), body="first"
    )
    before = count_queries(client, run_url(run))
    for index in range(3):
        discussion_services.start_thread(
            author=people["bob"], kind="evaluation", anchor_id=str(run.pk), body=f"note {index}"
        )
    assert count_queries(client, run_url(run)) == before


# --- Who sees what --------------------------------------------------------------------------


def test_another_teams_monitoring_and_runs_are_not_found(client, people, model, runs):
    client.force_login(people["mallory"])
    assert client.get(tab(model)).status_code == 404
    for run in runs.values():
        assert client.get(run_url(run)).status_code == 404
        assert client.get(reverse("monitoring:run_progress", args=[run.pk])).status_code == 404
    assert client.get(reverse("monitoring:run", args=[999999])).status_code == 404


def test_anonymous_people_are_sent_to_log_in(client, model, runs):
    for url in (tab(model), run_url(runs["drift"])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_version_page_lists_its_evaluations(client, people, model, runs):
    client.force_login(people["victor"])
    version_page = reverse("registry:version_detail", args=[model.name, 2])
    response = client.get(version_page)
    assert_strict_page(response)
    html = response.content.decode()
    assert f'href="{run_url(runs["performance"])}"' in html
    assert f'href="{run_url(runs["running"])}"' in html
    assert f'href="{run_url(runs["baseline"])}"' not in html  # a run of v1
    before = count_queries(client, version_page)
    make.run(model.versions.get(number=2), "fairness", make.dataset(model), metrics={})
    assert count_queries(client, version_page) == before


def test_a_version_without_evaluations_shows_no_such_section(client, alice, model):
    client.force_login(alice)
    html = client.get(reverse("registry:version_detail", args=[model.name, 1])).content.decode()
    assert "version-runs-heading" not in html


def test_a_regression_run_shows_errors_not_rates(client, alice, model):
    rng = np.random.default_rng(1)
    truth, region = rng.normal(10, 2, 300), rng.choice(["north", "south"], 300)
    predicted = truth + rng.normal(0, np.where(region == "south", 2.0, 0.5))
    v2, data = model.versions.get(number=2), make.dataset(model)
    quality = make.run(
        v2, "performance", data, metrics=performance.evaluate("regression", truth, predicted)
    )
    fair = make.run(
        v2,
        "fairness",
        data,
        metrics=fairness.evaluate("regression", truth, predicted, {"region": region}),
    )
    client.force_login(alice)
    response = client.get(run_url(quality))
    assert figures_in(response) == {}  # no confusion matrix, ROC or calibration to draw
    html = response.content.decode()
    assert "<td>rmse</td>" in html and "<td>r2</td>" in html
    response = client.get(run_url(fair))
    (bars,) = figures_in(response).values()  # no TPR or FPR for regression
    assert bars["layout"]["yaxis"]["title"]["text"] == "error" and bars["layout"]["shapes"] == []
    html = response.content.decode()
    assert "Error difference / ratio" in html and "four fifths" not in html
    group = fair.metrics["attributes"][0]["groups"][0]
    assert f'<td class="num">{group["count"]}</td>' in html
    assert f'<td class="num">{metric(group["error"])}</td>' in html


def test_a_fairness_run_tabulates_every_group_of_each_attribute_and_intersection(
    client, alice, model
):
    rng = np.random.default_rng(4)
    rows = 900
    sex, region = rng.choice(["F", "M"], rows), rng.choice(["north", "south", "east"], rows)
    region[:12] = "island"  # a group under the minimum size, alone and in every intersection
    truth = rng.integers(0, 2, rows)
    predicted = (rng.random(rows) < np.where(sex == "F", 0.25, 0.45)).astype(int)
    metrics = fairness.evaluate("classification", truth, predicted, {"sex": sex, "region": region})
    run = make.run(model.versions.get(number=2), "fairness", make.dataset(model), metrics=metrics)
    client.force_login(alice)
    response = client.get(run_url(run))
    assert_strict_page(response)
    charts = figures_in(response)
    names = [attribute["name"] for attribute in metrics["attributes"]]
    assert names == ["sex", "region", "sex × region"]
    assert set(charts) == {f"fairness-{i}{rates}" for i in range(3) for rates in ("", "-rates")}
    flat = re.sub(r">\s+<", "><", response.content.decode())
    for index, attribute in enumerate(metrics["attributes"]):
        assert f"<h3>{attribute['name']}</h3>" in flat
        rates = {trace["name"]: trace for trace in charts[f"fairness-{index}-rates"]["data"]}
        assert rates["TPR"]["y"] == [group["tpr"] for group in attribute["groups"]]
        assert rates["FPR"]["y"] == [group["fpr"] for group in attribute["groups"]]
        for group in attribute["groups"]:
            cells = "".join(
                f'<td class="num">{metric(group[key])}</td>'
                for key in ("count", "selection_rate", "tpr", "fpr", "accuracy")
            )
            judged = (
                '<span class="muted">too small to judge</span>' if group["too_small"] else "yes"
            )
            assert f'<td class="break">{group["value"]}</td>{cells}<td>{judged}</td>' in flat
    intersection = metrics["attributes"][2]["groups"]
    assert sum(group["too_small"] for group in intersection) >= 2  # island × F, island × M


def test_a_drift_run_shows_the_predictions_drift_on_its_first_page(client, alice, model):
    metrics = make.drift_metrics(prediction=True)
    data = make.dataset(model)
    run = make.run(model.versions.get(number=2), "drift", data, reference=data, metrics=metrics)
    client.force_login(alice)
    response = client.get(run_url(run))
    charts = figures_in(response)
    assert charts["distribution-prediction"]["layout"]["title"]["text"].startswith("score · PSI")
    psi = metrics["prediction"]["psi"]
    assert f"prediction PSI {psi:.6g}" in response.content.decode()
    assert "3 of 45 features drifted (7%)" in response.content.decode()
    assert "distribution-prediction" not in figures_in(client.get(run_url(run) + "?page=2"))
