"""A model's drift and fairness settings through the API and its page: the team reads them,
owners and DevOps change them (audited), bad values are refused with what is allowed, and the
evaluations asked for afterwards judge by the new values."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from monitoring.datasets import store_dataset
from monitoring.models import EvaluationRun, ModelMonitoringSettings
from monitoring.stats.options import DEFAULTS
from monitoring.tasks import run_evaluation
from tests.monitoring_datasets import csv_file, fraud_model, transactions
from tests.page_factories import assert_strict_page

pytestmark = pytest.mark.django_db

API = "/api/v1/models/fraud-detector/monitoring/settings/"
PAGE = "/models/fraud-detector/monitoring/settings/"


@pytest.fixture
def model(alice, teams):
    return fraud_model(alice, teams["fraud"])


def own_values() -> dict:
    row = ModelMonitoringSettings.objects.filter(model__name="fraud-detector").first()
    return row.values if row else {}


# --- The API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "code"),
    [("alice", 200), ("bob", 200), ("carol", 200), ("victor", 200), ("mallory", 404)],
)
def test_the_team_reads_the_settings_and_other_teams_see_no_model(model, people, api_as, who, code):
    answer = api_as(people[who], "read").get(API)

    assert answer.status_code == code, answer.content
    if code == 200:
        assert answer.json() == {
            "model": "fraud-detector",
            "values": {},
            "effective": DEFAULTS,
            "defaults": DEFAULTS,
        }


@pytest.mark.parametrize(
    ("who", "code"),
    [("alice", 200), ("bob", 200), ("carol", 403), ("victor", 403), ("mallory", 404)],
)
def test_owners_and_devops_replace_the_settings(model, people, api_as, who, code):
    body = {"values": {"share_drifted_threshold": 0.25, "numeric_method": "ks", "psi_bins": 20}}

    answer = api_as(people[who]).put(API, body)

    assert answer.status_code == code, answer.content
    if code == 200:
        assert answer.json()["values"] == body["values"] == own_values()
        effective = answer.json()["effective"]
        assert effective == DEFAULTS | body["values"]
        assert api_as(people["victor"]).get(API).json()["effective"] == effective
    else:
        assert own_values() == {}
        if code == 403:
            assert "owners and DevOps" in answer.json()["error"]["message"]


def test_a_token_without_the_write_scope_changes_nothing(model, alice, api_as):
    answer = api_as(alice, "read").put(API, {"values": {"alpha": 0.01}})

    assert answer.status_code == 403
    assert "write scope" in answer.json()["error"]["message"]
    assert own_values() == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"psi_treshold": 0.3},
            "unknown setting 'psi_treshold'; the settings are alpha, categorical_method,",
        ),
        (
            {"numeric_method": "t-test"},
            'numeric_method must be one of auto, ks, wasserstein, not "t-test"',
        ),
        ({"alpha": 0}, "alpha must be a number above 0 and at most 1"),
        ({"psi_bins": 2.5}, "psi_bins must be a whole number of at least 1"),
        ({"share_drifted_threshold": 1.5}, "share_drifted_threshold must be a number of at least"),
        ({"four_fifths": "0.8"}, 'four_fifths must be a number, not "0.8"'),
        ({"min_group_size": True}, "min_group_size must be a number, not true"),
        ({"alpha": None}, "alpha must be a number, not null"),
    ],
)
def test_a_bad_setting_is_a_400_naming_it_and_what_is_allowed(
    model, alice, api_as, values, message
):
    answer = api_as(alice).put(API, {"values": {"alpha": 0.01, **values}})

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == 400 and message in error["message"], error
    assert own_values() == {} and not AuditEvent.objects.filter(object_type="monitoring_settings")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "values: This field is required."),
        ({"values": [["alpha", 0.01]]}, "values: Expected an object, not a list."),
    ],
)
def test_a_body_without_an_object_of_values_is_a_400(model, alice, api_as, body, message):
    answer = api_as(alice).put(API, body)

    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == message


def test_each_change_is_audited_with_the_values_before_and_after(model, alice, bob, api_as):
    api_as(alice).put(API, {"values": {"alpha": 0.01, "min_group_size": 50}})
    api_as(bob).put(API, {"values": {"alpha": 0.01, "four_fifths": 0.9}})
    api_as(bob).put(API, {"values": {"alpha": 0.01, "four_fifths": 0.9}})  # no change
    api_as(bob).put(API, {"values": {}})  # back to the defaults

    events = AuditEvent.objects.filter(verb="monitoring_settings.changed").order_by("id")
    assert [(e.actor_name, e.before, e.after) for e in events] == [
        ("alice", {"alpha": None, "min_group_size": None}, {"alpha": 0.01, "min_group_size": 50}),
        (
            "bob",
            {"min_group_size": 50, "four_fifths": None},
            {"min_group_size": None, "four_fifths": 0.9},
        ),
        ("bob", {"alpha": 0.01, "four_fifths": 0.9}, {"alpha": None, "four_fifths": None}),
    ]
    assert {(e.model_name, e.team_slug, e.object_name) for e in events} == {
        ("fraud-detector", "fraud", "fraud-detector")
    }
    assert own_values() == {}


def test_the_schema_describes_the_settings(client, alice):
    client.force_login(alice)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operations = schema["paths"]["/api/v1/models/{name}/monitoring/settings/"]
    assert set(operations) >= {"get", "put"}
    described = schema["components"]["schemas"]["SettingValues"]
    assert set(described["properties"]) == set(DEFAULTS)
    (method,) = described["properties"]["numeric_method"]["allOf"]
    name = method["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][name]["enum"] == ["auto", "ks", "wasserstein"]


# --- The effect on evaluations ---------------------------------------------------------------


def drift_of(client, reference_id: int, batch_id: int) -> dict:
    """Ask for a drift run of v1 and run it as the worker does; its metrics."""
    asked = client.post(
        "/api/v1/models/fraud-detector/evaluations/",
        {"version": 1, "kind": "drift", "dataset": batch_id, "reference": reference_id},
    )
    assert asked.status_code == 201, asked.json()  # new settings: a new run, not the last one
    run_evaluation(asked.json()["id"])
    run = client.get(f"/api/v1/evaluations/{asked.json()['id']}/").json()
    assert run["status"] == "done", run["error"]
    return run["metrics"]


def test_a_drift_evaluation_judges_by_the_models_settings(model, alice, bob, api_as):
    def upload(frame, kind):
        return store_dataset(
            actor=alice, model=model, file=csv_file(frame), filename=f"{kind}.csv", kind=kind
        ).pk

    reference = upload(transactions(400, seed=1), "reference")
    current = transactions(400, seed=2)
    current["amount"] *= 3  # one feature of the three moves
    batch = upload(current, "batch")
    client = api_as(alice)

    default = drift_of(client, reference, batch)
    verdicts = {f["name"]: (f["method"], f["drifted"]) for f in default["features"]}
    assert verdicts == {
        "amount": ("ks", True),
        "hour": ("ks", False),
        "merchant": ("chi2", False),
    }
    assert default["share_drifted"] == pytest.approx(1 / 3)
    assert default["drifted"] is False  # 1/3 of the features is under the default half

    assert api_as(bob).put(API, {"values": {"share_drifted_threshold": 0.3}}).status_code == 200
    lower_share = drift_of(client, reference, batch)
    assert lower_share["share_drifted"] == pytest.approx(1 / 3)
    assert lower_share["drifted"] is True
    assert lower_share["options"]["share_drifted_threshold"] == 0.3

    amount = next(f for f in default["features"] if f["name"] == "amount")
    values = {
        "share_drifted_threshold": 0.3,
        "numeric_method": "wasserstein",
        "wasserstein_threshold": 100.0,  # far beyond the shift: no numeric feature drifted
    }
    assert api_as(bob).put(API, {"values": values}).status_code == 200
    by_distance = drift_of(client, reference, batch)
    amount_now = next(f for f in by_distance["features"] if f["name"] == "amount")
    assert amount_now["method"] == "wasserstein" and amount_now["drifted"] is False
    assert 0 < amount_now["wasserstein_over_ref_std"] < 100
    assert amount_now["psi"] == pytest.approx(amount["psi"], abs=1e-12)
    assert by_distance["share_drifted"] == 0 and by_distance["drifted"] is False


def test_the_run_page_marks_psi_at_or_above_the_models_threshold(model, alice, bob, api_as):
    reference = store_dataset(
        actor=alice,
        model=model,
        file=csv_file(transactions(400, seed=1)),
        filename="r.csv",
        kind="reference",
    ).pk
    current = transactions(400, seed=2)
    current["amount"] *= 3
    batch = store_dataset(
        actor=alice, model=model, file=csv_file(current), filename="b.csv", kind="batch"
    ).pk
    client = api_as(alice)
    browser = Client()
    browser.force_login(alice)

    def page_of(metrics_run_id: int) -> str:
        return browser.get(f"/evaluations/{metrics_run_id}/").content.decode()

    default = drift_of(client, reference, batch)
    psi = {f["name"]: f["psi"] for f in default["features"]}
    assert psi["amount"] >= 0.2 > max(psi["hour"], psi["merchant"])
    run_id = EvaluationRun.objects.latest("pk").pk
    html = page_of(run_id)
    assert "1 with PSI ≥ 0.2, a large shift" in html
    assert html.count(">large</span>") == 1

    # A threshold above every feature's PSI: none is large on the run asked for after it.
    above = max(psi.values()) + 1
    assert api_as(bob).put(API, {"values": {"psi_threshold": above}}).status_code == 200
    drift_of(client, reference, batch)
    html = page_of(EvaluationRun.objects.latest("pk").pk)
    assert "0 with PSI ≥" in html and ">large</span>" not in html
    assert "1 with PSI ≥ 0.2" in page_of(run_id)  # an earlier run keeps its own threshold


# --- The page --------------------------------------------------------------------------------


def field_block(page: str, key: str) -> str:
    """The HTML of one setting's field, from its opening div to the next."""
    found = re.search(rf'<div class="field[^"]*">\s*<label for="id_{key}">.*?</div>', page, re.S)
    assert found, f"no field {key}"
    return found.group(0)


def test_owners_and_devops_edit_the_settings_on_the_page(model, client, bob):
    client.force_login(bob)

    response = client.get(PAGE)

    assert response.status_code == 200
    assert_strict_page(response)
    page = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert "PSI bins to the reference profiles built after it" in page
    alpha = field_block(page, "alpha")
    assert 'placeholder="0.05"' in alpha and 'aria-describedby="id_alpha_helptext"' in alpha
    assert 'id="id_alpha_helptext"' in alpha and "adjusted p-value" in alpha
    method = field_block(page, "numeric_method")
    assert "<select" in method and '<option value="" selected>Default (auto)</option>' in method
    assert set(re.findall(r'<label for="id_(\w+)"', page)) == set(DEFAULTS)

    form = dict.fromkeys(DEFAULTS, "") | {"psi_threshold": "0.25", "categorical_method": "chi2"}
    saved = client.post(PAGE, form)

    assert saved.status_code == 302 and saved["Location"] == PAGE
    assert own_values() == {"psi_threshold": 0.25, "categorical_method": "chi2"}
    again = client.get(PAGE).content.decode()
    assert 'value="0.25"' in field_block(again, "psi_threshold")
    assert '<option value="chi2" selected>' in field_block(again, "categorical_method")
    assert AuditEvent.objects.filter(verb="monitoring_settings.changed", actor_name="bob")

    client.post(PAGE, dict.fromkeys(DEFAULTS, ""))  # every field blank: the defaults again
    assert own_values() == {}


def test_a_wrong_value_is_shown_next_to_its_field_and_nothing_is_saved(model, client, alice):
    client.force_login(alice)
    form = dict.fromkeys(DEFAULTS, "") | {
        "alpha": "0",
        "psi_bins": "2.5",
        "share_drifted_threshold": "0.3",
    }

    response = client.post(PAGE, form)

    assert response.status_code == 400
    page = response.content.decode()
    assert "alpha must be a number above 0 and at most 1" in field_block(page, "alpha")
    assert "Enter a whole number." in field_block(page, "psi_bins")
    assert 'value="0.3"' in field_block(page, "share_drifted_threshold")  # kept to fix the rest
    assert own_values() == {}


@pytest.mark.parametrize("who", ["carol", "victor"])
def test_other_members_see_the_values_in_force_read_only(model, client, people, alice, who):
    ModelMonitoringSettings.objects.create(model=model, values={"min_group_size": 50})
    client.force_login(people[who])

    page = client.get(PAGE).content.decode()

    assert "csrfmiddlewaretoken" not in page.split("<main", 1)[-1].split("</main>")[0]
    assert re.search(r"Minimum group size</th>\s*<td>50</td>", page)
    assert re.search(r"Alpha</th>\s*<td>0.05 <span class=\"muted\">\(default\)</span>", page)
    assert client.post(PAGE, {"alpha": "0.01"}).status_code == 403
    assert own_values() == {"min_group_size": 50}


def test_another_team_gets_no_page(model, client, people):
    client.force_login(people["mallory"])

    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, {"alpha": "0.01"}).status_code == 404


def test_the_monitoring_tab_links_the_settings(model, client, people):
    client.force_login(people["victor"])

    page = client.get(reverse("monitoring:model_monitoring", args=["fraud-detector"]))

    assert f'href="{PAGE}"' in page.content.decode()


@pytest.mark.parametrize("who", ["alice", "victor"])
def test_the_page_costs_a_fixed_number_of_queries(
    model, client, people, who, django_assert_max_num_queries
):
    ModelMonitoringSettings.objects.create(model=model, values={"alpha": 0.01})
    client.force_login(people[who])

    with django_assert_max_num_queries(5):
        assert client.get(PAGE).status_code == 200
