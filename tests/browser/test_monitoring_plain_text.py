"""In real Chromium: a feature, a category, a protected attribute, a group and a metric named
like markup show in the charts as the text they are, never as a link or bold text."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from .. import monitoring_pages_factories as make
from ..page_factories import PASSWORD, pushed_version, registered_model
from ..test_monitoring_figures_plain_text import MARKUP, drift_with_markup, fairness_with_markup

pytestmark = pytest.mark.browser

DRAWN = """() => {
    const plots = [...document.querySelectorAll(".js-plotly-plot")];
    const count = (selector) => plots.reduce((n, p) => n + p.querySelectorAll(selector).length, 0);
    return {
        links: count("svg a"),
        bold: count('svg tspan[style*="bold"]'),
        texts: plots.flatMap((p) => [...p.querySelectorAll("svg text")].map((t) => t.textContent)),
    };
}"""


def drawn_literally(tab, charts: int) -> list[str]:
    """Once the page's charts are drawn: their SVG has no link and no bold text; its texts."""
    expect(tab.page.locator(".js-plotly-plot")).to_have_count(charts)
    found = tab.page.evaluate(DRAWN)
    assert (found["links"], found["bold"]) == (0, 0)
    return found["texts"]


def test_names_like_markup_show_as_text_in_every_chart(tab, people, teams):
    alice = people["alice"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    version = pushed_version(alice, model, metrics={MARKUP: 0.91})
    reference = make.dataset(model, "reference")
    batch = make.dataset(model, "batch", observed_at=timezone.now() - timedelta(days=1))
    drift = make.run(version, "drift", batch, reference=reference, metrics=drift_with_markup())
    fairness = make.run(version, "fairness", batch, metrics=fairness_with_markup())
    tab.log_in("alice", PASSWORD)

    tab.open("/models/fraud-detector/")  # the metric across versions, titled by its name
    assert MARKUP in drawn_literally(tab, 1)

    tab.open(f"/evaluations/{drift.pk}/")  # each feature's distributions, its categories
    texts = drawn_literally(tab, 2)
    assert MARKUP in texts  # a category on the x axis
    assert any(text.startswith(MARKUP + " · PSI") for text in texts)  # the feature's chart

    tab.open("/models/fraud-detector/monitoring/")  # the drift heatmap's rows
    expect(tab.page.locator(".js-plotly-plot .heatmaplayer")).to_have_count(1)
    assert MARKUP in tab.page.evaluate(DRAWN)["texts"]

    tab.open(f"/evaluations/{fairness.pk}/")  # selection rates, TPR / FPR per group
    texts = drawn_literally(tab, 2)
    assert MARKUP in texts
    assert any(text.startswith(MARKUP + " · disparate impact") for text in texts)
    groups = [group["value"] for group in fairness.metrics["attributes"][0]["groups"]]
    bar = tab.page.locator(".js-plotly-plot").first.locator(".point").nth(groups.index(MARKUP))
    box = bar.bounding_box()
    assert box is not None
    tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = tab.page.locator(".js-plotly-plot .hoverlayer text").first
    expect(hover).to_contain_text(MARKUP)
    assert tab.page.evaluate(DRAWN)["links"] == 0
    tab.assert_stayed_local_and_quiet()
