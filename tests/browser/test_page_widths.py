"""The main pages at a laptop's, a small screen's and a phone's width, in real Chromium, filled
with the longest things people put in them: nothing makes the page scroll sideways, and on the
wider screens every button and link is in view without scrolling a table."""

import pytest

from accounts import services as account_services
from discussions import services as discussion_services
from notifications import services as notification_services
from registry import services
from registry.models import Stage
from reviews import services as services_of_reviews
from tests.promotions import promote

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser

WIDTHS = (1366, 1024, 390)
# Underscores: no break opportunity in 85 characters, as in many real names.
NAME = "customer_lifetime_value_forecast_for_enterprise_accounts_in_the_emea_region_quarterly"
LONG_TAGS = [
    "customer_lifetime_value_enterprise_emea_quarterly",
    "gradient_boosted_trees_with_monotonic_constraints",
    "regulated_model_risk_management_tier_one_review",
]
COMMITS = ["4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c", "0123456789abcdef0123456789abcdef01234567"]
LINEAGE = {
    "git_repo": "https://git.example.com/analytics-platform/customer-intelligence/"
    "lifetime-value-forecasting-models.git",
    "git_branch": "feature/retrain-with-the-new-enterprise-segmentation-and-emea-holiday-calendar",
    "ci_run_url": "https://ci.example.com/analytics-platform/customer-intelligence/"
    "lifetime-value-forecasting-models/-/pipelines/1234567890/jobs/9876543210",
    "training_data_uri": "s3://analytics-platform-training-data/customer-intelligence/"
    "lifetime-value/enterprise/emea/2026-q3/snapshot=2026-10-01T00:00:00Z/part-00000.parquet",
    "training_data_sha256": "ab" * 32,
    "description": "Trained on the snapshot at https://data.example.com/catalogue/customer-"
    "intelligence/lifetime-value/enterprise/emea/2026-q3/snapshot-2026-10-01T00-00-00Z.",
}
ALIASES = ["champion", "challenger", "emea_enterprise_quarterly_release_candidate", "rollback"]


def long_content(people, teams):
    alice, bob = people["alice"], people["bob"]
    model = registered_model(
        alice, teams["fraud"], NAME, tags=LONG_TAGS, description=LINEAGE["description"]
    )
    for number, commit in enumerate(COMMITS, start=1):
        pushed_version(
            alice,
            model,
            files=[
                (
                    "MLmodel-free/artifacts/feature_pipeline/preprocessing_with_a_long_name.pkl",
                    b"x",
                ),
                ("model.pkl", b"weights %d" % number),
            ],
            git_commit=commit,
            params={"feature_set": "enterprise_emea_quarterly_" * 4, "seed": number},
            metrics={"mean_absolute_percentage_error_on_holdout": 0.1 * number, "auc": 0.9},
            **LINEAGE,
        )
    first, second = model.versions.get(number=1), model.versions.get(number=2)
    promote(second, Stage.PRODUCTION, author=alice, approver=bob)
    promote(first, Stage.STAGING, author=alice, approver=bob)
    for alias in ALIASES:
        services.set_alias(actor=bob, version=second, alias=alias, reason="x" * 200)
    services_of_reviews.set_policy(
        actor=alice,
        team=teams["fraud"],
        model=model,
        to_stage=Stage.PRODUCTION,
        required_approvals=2,
        required_roles=["devops", "data_scientist"],
        checks=[
            {
                "kind": "metric_threshold",
                "metric": "mean_absolute_percentage_error_on_holdout",
                "op": "<=",
                "value": 0.05,
            },
            {"kind": "not_worse_than_production", "metric": "auc", "tolerance": 0.01},
        ],
    )
    opened = services_of_reviews.open_request(
        actor=alice, version=first, to_stage=Stage.PRODUCTION, message="why " * 300
    )
    # A thread in the request's conversation, and a mention and activity on alice's home.
    discussion_services.start_thread(
        author=bob, kind="request", anchor_id=str(opened.number), body="@alice " + "feature_" * 40
    )
    notification_services.set_watching(actor=alice, model=model, watching=True)
    for scopes in (["read"], ["read", "write"], ["read"]):
        account_services.create_token(
            user=alice,
            name="github_actions_nightly_retraining_pipeline_for_the_customer_lifetime_value",
            scopes=scopes,
            team=teams["fraud"],
        )
    return model


OVERFLOWING_CONTROLS = """() => {
  const out = [];
  for (const el of document.querySelectorAll("a, button, summary, input, select, textarea")) {
    if (!el.checkVisibility() || el.closest(".visually-hidden, .skip-link")) continue;
    let right = window.innerWidth;
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") {
        right = Math.min(right, up.getBoundingClientRect().right);
      }
    }
    const label = (el.textContent || el.name || el.tagName).trim();
    if (el.getBoundingClientRect().right > right + 1) out.push(label);
  }
  return out;
}"""


def test_no_page_scrolls_sideways_and_no_control_is_out_of_view(tab, people, teams):
    model = long_content(people, teams)
    pages = [
        "/",
        f"/models/{model.name}/",
        f"/models/{model.name}/history/",
        f"/models/{model.name}/versions/2/",
        f"/models/{model.name}/compare/?a=1&b=2",
        f"/models/{model.name}/versions/new/",
        "/audit/",
        "/settings/tokens/",
        "/api/v1/schema/",
        "/home/",
        "/requests/?show=closed",
        "/requests/1/",
        "/requests/3/",  # open, with a long message and checks
        "/teams/fraud/policies/",
    ]
    problems = []

    def check(path):
        for width in WIDTHS:
            tab.page.set_viewport_size({"width": width, "height": 900})
            scrolled = tab.page.evaluate("document.documentElement.scrollWidth")
            if scrolled > width:
                problems.append(f"{path} at {width} px is {scrolled} px wide")
            if width >= 1024:  # on a phone a wide table may scroll in its own box
                hidden = tab.page.evaluate(OVERFLOWING_CONTROLS)
                if hidden:
                    problems.append(f"{path} at {width} px hides {hidden[:5]}")

    tab.open("/accounts/login/")
    check("/accounts/login/")
    tab.log_in("alice", PASSWORD)
    for path in pages:
        tab.open(path)
        check(path)
    tab.assert_stayed_local_and_quiet()
    tab.open("/no-such-page/")  # last: Chromium logs its 404 as a console error
    check("/no-such-page/")
    assert not problems, "\n".join(problems)
