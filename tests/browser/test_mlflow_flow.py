"""MLflow's own client and the browser, one after the other, as a data scientist meets them.

alice trains with MLflow pointed at Vetted and logs a model that registers as fraud-detector v1.
Moving it to Production through MLflow is refused, with the address of the version's page; she
opens exactly that address in Chromium, sees the run's parameters, metrics and git lineage and
where MLflow registered it from, and asks for production there. bob (DevOps, whom the default
policy asks for) approves and merges in the browser, and a new process loading
`models:/fraud-detector/Production` with MLflow predicts what her model predicts.
"""

import json
import re

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from playwright.sync_api import expect

from .. import test_mlflow_client as mlflow_client_tests
from ..conftest import PASSWORD
from ..test_mlflow_client import COMMIT, GIT_TAGS, NAME, log_trained

pytest_plugins = ["tests.mlflow_server"]
pytestmark = pytest.mark.browser

# Fixtures of the client's tests: iris's features and target, a regression fitted on them.
iris = mlflow_client_tests.iris
regression = mlflow_client_tests.regression

EXPERIMENT = "fraud-detection"
PAGE_IN_MESSAGE = re.compile(r"(https?://\S+/versions/\d+/)")


def fits_the_window(tab) -> bool:
    return tab.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_a_stage_refused_through_mlflow_is_asked_for_on_the_named_page_then_loads(
    tab, mlflow_as, alice, bob, iris, regression, settings
):
    settings.SITE_URL = tab.base_url  # what the refusal's address is built on
    features, _ = iris

    # alice's training script, against Vetted through MLflow's own client.
    conn = mlflow_as(alice)
    mlflow.set_experiment(EXPERIMENT)
    info = log_trained(
        regression,
        features,
        registered_model_name=NAME,
        params={"C": 0.5, "max_iter": 500},
        accuracy=0.97,
    )
    assert str(info.registered_model_version) == "1"
    with pytest.raises(MlflowException) as raised:
        conn.client.transition_model_version_stage(NAME, "1", "Production")
    assert raised.value.error_code == "PERMISSION_DENIED"
    (page_url,) = PAGE_IN_MESSAGE.findall(raised.value.message)
    assert page_url == f"{tab.base_url}/models/{NAME}/versions/1/"

    # The address from the message, in Chromium, signed in as alice, in a 1024 px window.
    tab.page.set_viewport_size({"width": 1024, "height": 800})
    tab.log_in("alice", PASSWORD)
    tab.page.goto(page_url)
    page = tab.page
    expect(page.get_by_role("heading", level=1)).to_contain_text(NAME)
    params = page.get_by_role("region", name="Parameters")
    expect(params.get_by_role("row", name="C 0.5")).to_be_visible()
    expect(params.get_by_role("row", name="max_iter 500")).to_be_visible()
    metrics = page.get_by_role("region", name="Metrics")
    expect(metrics.get_by_role("row", name="accuracy 0.97")).to_be_visible()
    lineage = page.get_by_role("region", name="Lineage")
    expect(lineage).to_contain_text(GIT_TAGS["mlflow.source.git.repoURL"])
    expect(lineage).to_contain_text(COMMIT)
    expect(lineage.locator("dt:has-text('Branch') + dd")).to_have_text("main")
    source = page.get_by_role("region", name="Registered through MLflow")
    expect(source.locator("dt:has-text('Source') + dd")).to_have_text(info.model_uri)
    expect(source.locator("dt:has-text('Run') + dd").first).to_contain_text(info.run_id)
    expect(source.locator("dt:has-text('Experiment') + dd")).to_have_text(EXPERIMENT)
    assert fits_the_window(tab)

    # She asks for production on that page; bob approves and merges.
    page.get_by_label("Promote to").select_option("production")
    page.get_by_label("Message").fill("Logged from the March training run")
    page.get_by_role("button", name="Open request").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"#1 {NAME} v1")
    expect(page.locator("#status")).to_contain_text("needs 1 DevOps approval")
    request_url = page.url
    page.get_by_role("button", name="Log out").click()
    tab.log_in("bob", PASSWORD)
    page.goto(request_url)
    page.get_by_label("Approve").check()
    page.get_by_label("Message").fill("Lineage and metrics check out")
    page.get_by_role("button", name="Submit review").click()
    expect(page.locator("#status")).to_contain_text("Ready to merge")
    page.get_by_role("button", name="Merge: promote to production").click()
    expect(page.locator(".messages")).to_contain_text("now in production")
    tab.assert_stayed_local_and_quiet()

    # Back in MLflow: the stage shows, and a new process loads production and predicts the same.
    assert conn.client.get_model_version(NAME, "1").current_stage == "Production"
    out = conn.run_python(
        "import json, mlflow.pyfunc\n"
        "from sklearn.datasets import load_iris\n"
        "features = load_iris(as_frame=True).frame.drop(columns='target')\n"
        f"model = mlflow.pyfunc.load_model('models:/{NAME}/Production')\n"
        "print(json.dumps(model.predict(features).tolist()))\n"
    )
    assert json.loads(out.strip().splitlines()[-1]) == regression.predict(features).tolist()
