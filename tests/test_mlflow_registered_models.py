"""MLflow's registered-model endpoints, called as MLflow's REST client calls them."""

import pytest
from django.contrib.auth.models import User

from audit.models import AuditEvent
from mlflow_api.models import RegisteredModelTag
from registry import services
from registry.models import RegisteredModel
from tests.promotions import promote

from . import mlflow_calls
from .page_factories import pushed_version, registered_model


@pytest.fixture
def mlflow_as(client, token_for):
    return mlflow_calls.caller(client, token_for)


@pytest.fixture
def as_alice(mlflow_as, alice):
    """Alice's calls to registered-models/<endpoint>."""
    call = mlflow_as(alice)
    return lambda method, endpoint, **params: call(
        method, f"registered-models/{endpoint}", **params
    )


def test_it_creates_a_model_in_the_tokens_team_with_tags_and_description(as_alice, teams, alice):
    status, body = as_alice(
        "POST",
        "create",
        name="fraud-detector",
        description="Scores card payments",
        tags=[{"key": "owner", "value": "risk"}],
    )

    assert status == 200
    model = body["registered_model"]
    assert model["name"] == "fraud-detector"
    assert model["description"] == "Scores card payments"
    assert model["tags"] == [{"key": "owner", "value": "risk"}]
    assert model["user_id"] == "alice"
    assert isinstance(model["creation_timestamp"], int)
    assert model["latest_versions"] == [] and model["aliases"] == []
    stored = RegisteredModel.objects.get(name="fraud-detector")
    assert stored.team == teams["fraud"] and stored.created_by == alice
    events = AuditEvent.objects.filter(object_type="model").order_by("id")
    verbs = list(events.values_list("verb", "channel"))
    assert verbs == [("model.created", "mlflow"), ("model.edited", "mlflow")]


def test_a_second_create_answers_resource_already_exists_in_mlflows_words(as_alice):
    as_alice("POST", "create", name="fraud-detector")

    status, body = as_alice("POST", "create", name="fraud-detector")

    assert status == 400
    assert body["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert body["message"].startswith("Registered Model (name=fraud-detector) already exists.")


def test_a_name_taken_in_another_team_is_taken_without_naming_the_team(mlflow_as, people, teams):
    registered_model(people["mallory"], teams["growth"], "churn")

    status, body = mlflow_as(people["alice"])("POST", "registered-models/create", name="churn")

    assert (status, body["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    assert "growth" not in body["message"].lower()


@pytest.mark.parametrize("name", ["", "has/slash", "a" * 101, "-leading"])
def test_it_refuses_a_name_vetted_cannot_address(as_alice, name):
    status, body = as_alice("POST", "create", name=name)

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert not RegisteredModel.objects.exists()


def test_a_bad_tag_on_create_stores_nothing(as_alice):
    status, body = as_alice(
        "POST", "create", name="fraud-detector", tags=[{"key": "bad key!", "value": "x"}]
    )

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert not RegisteredModel.objects.exists()


def test_get_of_an_unknown_model_answers_mlflows_not_found(as_alice):
    status, body = as_alice("GET", "get", name="nope")

    assert status == 404
    assert body == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Registered Model with name=nope not found",
    }


@pytest.fixture
def fraud_detector(people, teams):
    """Versions 1 (production), 2 (staging, alias champion), 3 (no stage), tags, as alice."""
    alice, bob = people["alice"], people["bob"]
    model = registered_model(alice, teams["fraud"], "fraud-detector", description="cards")
    versions = [pushed_version(alice, model) for _ in range(3)]
    promote(versions[0], "production", author=alice, approver=bob)
    promote(versions[1], "staging", author=alice, approver=bob)
    services.set_alias(actor=alice, version=versions[1], alias="champion")
    RegisteredModelTag.objects.create(model=model, key="owner", value="risk")
    return model


def test_get_shows_the_latest_version_per_stage_aliases_and_tags(as_alice, fraud_detector):
    status, body = as_alice("GET", "get", name="fraud-detector")

    assert status == 200
    model = body["registered_model"]
    latest = {v["current_stage"]: v["version"] for v in model["latest_versions"]}
    assert latest == {"Production": "1", "Staging": "2", "None": "3"}
    assert model["aliases"] == [{"alias": "champion", "version": "2"}]
    assert model["tags"] == [{"key": "owner", "value": "risk"}]
    staging = next(v for v in model["latest_versions"] if v["version"] == "2")
    assert staging["status"] == "READY"
    assert staging["aliases"] == ["champion"]
    load_check = RegisteredModel.objects.get().versions.get(number=2).load_status
    assert staging["tags"] == [{"key": "vetted.load_check", "value": load_check}]


def test_get_latest_versions_filters_by_stage_by_post_and_by_get(as_alice, fraud_detector):
    status, body = as_alice(
        "POST", "get-latest-versions", name="fraud-detector", stages=["production", "Staging"]
    )
    assert status == 200
    assert [v["version"] for v in body["model_versions"]] == ["1", "2"]

    status, body = as_alice("GET", "get-latest-versions", name="fraud-detector", stages="None")
    assert [v["version"] for v in body["model_versions"]] == ["3"]

    status, body = as_alice("POST", "get-latest-versions", name="fraud-detector")
    assert [v["version"] for v in body["model_versions"]] == ["1", "2", "3"]


def test_get_latest_versions_refuses_an_unknown_stage(as_alice, fraud_detector):
    status, body = as_alice("POST", "get-latest-versions", name="fraud-detector", stages=["Prod"])

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "None, Staging, Production, Archived" in body["message"]


def test_update_changes_the_description_through_the_registry(as_alice, fraud_detector):
    status, body = as_alice("PATCH", "update", name="fraud-detector", description="new words")

    assert status == 200
    assert body["registered_model"]["description"] == "new words"
    assert RegisteredModel.objects.get().description == "new words"
    assert AuditEvent.objects.filter(verb="model.edited", channel="mlflow").exists()


def test_rename_keeps_versions_and_frees_the_old_name(as_alice, fraud_detector):
    status, body = as_alice("POST", "rename", name="fraud-detector", new_name="fraud-scorer")

    assert status == 200
    assert body["registered_model"]["name"] == "fraud-scorer"
    assert len(body["registered_model"]["latest_versions"]) == 3
    assert as_alice("GET", "get", name="fraud-detector")[0] == 404
    event = AuditEvent.objects.get(verb="model.renamed")
    assert (event.before, event.after) == ({"name": "fraud-detector"}, {"name": "fraud-scorer"})


def test_rename_onto_a_taken_name_changes_nothing(as_alice, fraud_detector, alice, teams):
    registered_model(alice, teams["fraud"], "other")

    status, body = as_alice("POST", "rename", name="fraud-detector", new_name="other")

    assert (status, body["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    assert RegisteredModel.objects.filter(name="fraud-detector").exists()


def test_delete_is_for_administrators_as_everywhere_in_vetted(
    as_alice, mlflow_as, fraud_detector, teams
):
    status, body = as_alice("DELETE", "delete", name="fraud-detector")
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    assert RegisteredModel.objects.exists()

    root = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    status, body = mlflow_as(root)("DELETE", "registered-models/delete", name="fraud-detector")
    assert (status, body) == (200, {})
    assert not RegisteredModel.objects.exists()


def test_tags_are_set_replaced_and_deleted_with_an_audit_trail(as_alice, fraud_detector):
    assert as_alice("POST", "set-tag", name="fraud-detector", key="team", value="a") == (200, {})
    assert as_alice("POST", "set-tag", name="fraud-detector", key="team", value="b") == (200, {})
    tags = as_alice("GET", "get", name="fraud-detector")[1]["registered_model"]["tags"]
    assert {"key": "team", "value": "b"} in tags

    assert as_alice("DELETE", "delete-tag", name="fraud-detector", key="team") == (200, {})
    assert as_alice("DELETE", "delete-tag", name="fraud-detector", key="team") == (200, {})
    assert not RegisteredModelTag.objects.filter(key="team").exists()
    changes = [
        (event.before, event.after)
        for event in AuditEvent.objects.filter(verb="model.edited").order_by("id")
    ]
    assert changes == [
        (None, {"mlflow_tags": {"team": "a"}}),
        ({"mlflow_tags": {"team": "a"}}, {"mlflow_tags": {"team": "b"}}),
        ({"mlflow_tags": {"team": "b"}}, None),
    ]


@pytest.mark.parametrize(
    ("key", "value"), [("", "x"), ("bad!key", "x"), ("k" * 251, "x"), ("../up", "x")]
)
def test_set_tag_refuses_what_mlflow_refuses(as_alice, fraud_detector, key, value):
    status, body = as_alice("POST", "set-tag", name="fraud-detector", key=key, value=value)

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


@pytest.fixture
def several_models(people, teams):
    alice, mallory = people["alice"], people["mallory"]
    for name in ["alpha", "beta", "Gamma", "delta-1", "delta-2"]:
        registered_model(alice, teams["fraud"], name)
    registered_model(mallory, teams["growth"], "alpha-growth")
    prompt = RegisteredModel.objects.get(name="beta")
    RegisteredModelTag.objects.create(model=prompt, key="mlflow.prompt.is_prompt", value="true")
    RegisteredModelTag.objects.create(
        model=RegisteredModel.objects.get(name="alpha"), key="owner", value="risk's"
    )


def names(body) -> list[str]:
    return [model["name"] for model in body.get("registered_models", [])]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["Gamma", "alpha", "beta", "delta-1", "delta-2"]),
        ("tag.`mlflow.prompt.is_prompt` != 'true'", ["Gamma", "alpha", "delta-1", "delta-2"]),
        ("tags.`mlflow.prompt.is_prompt` = 'true'", ["beta"]),
        ("name = 'alpha'", ["alpha"]),
        ("name != 'alpha'", ["Gamma", "beta", "delta-1", "delta-2"]),
        ("name LIKE 'delta-%'", ["delta-1", "delta-2"]),
        ("name LIKE 'delta-_'", ["delta-1", "delta-2"]),
        ("name LIKE 'gamma'", []),
        ("name ILIKE 'gAMMA'", ["Gamma"]),
        ("name IN ('alpha', 'Gamma') AND tag.owner = 'risk''s'", ["alpha"]),
        ("name NOT IN ('alpha', 'beta', 'Gamma')", ["delta-1", "delta-2"]),
        ("tag.owner ILIKE 'RISK%'", ["alpha"]),
        ("tag.owner != 'x'", ["alpha"]),  # a tag comparison needs the tag, as in MLflow
        ("tag.`mlflow.prompt.is_prompt` = 'false'", ["Gamma", "alpha", "delta-1", "delta-2"]),
        ('tags."owner" = "risk\'s"', ["alpha"]),
        ("name = 'alpha-growth'", []),  # another team's model is not there
    ],
)
def test_search_understands_mlflows_filter_grammar(
    as_alice, several_models, filter_string, expected
):
    status, body = as_alice("GET", "search", filter=filter_string)

    assert status == 200
    assert names(body) == expected


@pytest.mark.parametrize(
    "filter_string",
    [
        "name = alpha",
        "name ~ 'a'",
        "owner = 'x'",
        "run.name = 'x'",
        "name = 'a' OR name = 'b'",
        "name = 'a' AND",
        "tag.owner IN ('x')",
        "tag.owner != 5",
        "name IN 'a'",
        "name = 'unterminated",
    ],
)
def test_search_refuses_a_filter_it_cannot_read(as_alice, several_models, filter_string):
    status, body = as_alice("GET", "search", filter=filter_string)

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_search_pages_with_opaque_tokens_and_orders_as_asked(as_alice, several_models):
    seen, token = [], None
    while True:
        params = {"max_results": 2, "order_by": ["name DESC"]}
        if token:
            params["page_token"] = token
        status, body = as_alice("GET", "search", **params)
        assert status == 200
        seen += names(body)
        token = body.get("next_page_token")
        if not token:
            break

    assert seen == ["delta-2", "delta-1", "beta", "alpha", "Gamma"]


def test_search_orders_by_timestamps_with_name_as_tiebreaker(as_alice, several_models):
    status, body = as_alice("GET", "search", order_by=["creation_timestamp DESC"], max_results=1000)

    assert status == 200
    assert names(body) == ["delta-2", "delta-1", "Gamma", "beta", "alpha"]


@pytest.mark.parametrize(
    "params",
    [
        {"max_results": 0},
        {"max_results": 1001},
        {"max_results": "many"},
        {"page_token": "not-a-token"},
        {"order_by": ["color ASC"]},
        {"order_by": ["name ASC", "name DESC"]},
    ],
)
def test_search_refuses_bad_paging_and_ordering(as_alice, several_models, params):
    status, body = as_alice("GET", "search", **params)

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


# The token, the model (its name lookup), then with its relations: aliases, tags, the latest
# version in each stage, their tags and their aliases.
GET_QUERIES = 8
SEARCH_QUERIES = 7  # the same, with the page of models instead of the name lookup


def test_get_costs_the_same_queries_however_many_versions_aliases_and_tags(
    as_alice, django_assert_num_queries, fraud_detector, alice
):
    as_alice("GET", "get", name="fraud-detector")  # the token's first use is recorded once
    with django_assert_num_queries(GET_QUERIES):
        as_alice("GET", "get", name="fraud-detector")
    for number in range(3):
        version = pushed_version(alice, fraud_detector)
        services.set_alias(actor=alice, version=version, alias=f"candidate{number}")
        RegisteredModelTag.objects.create(model=fraud_detector, key=f"k{number}", value="v")

    with django_assert_num_queries(GET_QUERIES):
        assert as_alice("GET", "get", name="fraud-detector")[0] == 200


def test_a_page_of_search_costs_the_same_queries_however_many_models(
    as_alice, django_assert_num_queries, fraud_detector, alice, teams
):
    as_alice("GET", "search")
    with django_assert_num_queries(SEARCH_QUERIES):
        as_alice("GET", "search", max_results=100)
    for index in range(6):
        model = registered_model(alice, teams["fraud"], f"extra-{index}")
        version = pushed_version(alice, model)
        services.set_alias(actor=alice, version=version, alias="champion")
        RegisteredModelTag.objects.create(model=model, key="owner", value="risk")

    with django_assert_num_queries(SEARCH_QUERIES):
        status, body = as_alice("GET", "search", max_results=100)
    assert status == 200 and len(body["registered_models"]) == 7


@pytest.mark.filterwarnings("ignore:.*get_latest_versions.*:FutureWarning")
def test_mlflows_own_client_manages_registered_models(live_server, monkeypatch, alice, token_for):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(alice))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(tracking_uri=f"{live_server.url}/mlflow")

    created = client.create_registered_model(
        "fraud-detector", tags={"owner": "risk"}, description="cards"
    )
    assert (created.name, created.tags, created.description) == (
        "fraud-detector",
        {"owner": "risk"},
        "cards",
    )
    with pytest.raises(MlflowException, match=r"Registered Model \(name=.*\) already exists"):
        client.create_registered_model("fraud-detector")
    client.set_registered_model_tag("fraud-detector", "stage", "pilot")
    client.delete_registered_model_tag("fraud-detector", "owner")
    client.update_registered_model("fraud-detector", description="card payments")
    client.rename_registered_model("fraud-detector", "fraud-scorer")
    client.create_registered_model("second")

    model = client.get_registered_model("fraud-scorer")
    assert (model.tags, model.description) == ({"stage": "pilot"}, "card payments")
    assert model.creation_timestamp <= model.last_updated_timestamp
    first = client.search_registered_models(max_results=1)
    assert [m.name for m in first] == ["fraud-scorer"] and first.token
    rest = client.search_registered_models(max_results=1, page_token=first.token)
    assert [m.name for m in rest] == ["second"]
    assert client.get_latest_versions("fraud-scorer") == []
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model("fraud-detector")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # With a username and password too, the client sends Basic: the token is the password.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", token_for(alice, "read"))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "vt_not_sent")
    assert client.get_registered_model("second").name == "second"
    with pytest.raises(MlflowException) as refused:
        client.create_registered_model("third")
    assert refused.value.error_code == "PERMISSION_DENIED"
