"""plotly.js is served from the installed plotly package, and what the CSP lets it do matches
that bundle: its stylesheet as a file, its two fixed style attributes by hash, no maps' CSS."""

import base64
import hashlib
import re

import plotly
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from monitoring.staticfiles import PACKAGE_DATA

BUNDLE = (PACKAGE_DATA / "plotly.min.js").read_text(encoding="utf-8")


def csp_hash(value: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()}'"


def test_the_bundle_is_found_and_served_from_the_plotly_package(client):
    assert finders.find("vendor/plotly.min.js") == str(PACKAGE_DATA / "plotly.min.js")
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (PACKAGE_DATA / "plotly.min.js").read_bytes()
    assert plotly.__file__.startswith(str(PACKAGE_DATA.parent))


def test_the_stylesheet_was_made_from_this_bundle():
    version = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", BUNDLE[:200]).group(1)
    css = (settings.BASE_DIR / "static/monitoring/plotly.css").read_text()
    assert f"plotly.js v{version} would inject" in css, (
        "plotly was upgraded: make static/monitoring/plotly.css again from the new bundle"
    )
    # The bundle still skips its own injection when the element the page adds exists.
    assert 'n.matches(".no-inline-styles")' in BUNDLE


def test_the_page_keeps_maplibres_stylesheet_out():
    assets = render_to_string("monitoring/_chart_assets.html")
    (guard,) = re.findall(r'getElementById\("([0-9a-f]{64})"\)', BUNDLE)
    assert f'id="{guard}"' in assets
    assert 'id="plotly.js-style-global" class="no-inline-styles"' in assets


def test_the_csp_allows_exactly_the_bundles_fixed_style_attributes():
    declarations = re.search(r"CSS_DECLARATIONS=(\[\[.*?\]\]);", BUNDLE).group(1)
    pairs = re.findall(r'\["([^"]+)","([^"]+)"\]', declarations)
    heatmap_style = "".join(f"{name}: {value}; " for name, value in pairs)
    allowed = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
    assert allowed == ["'self'", "'unsafe-hashes'", csp_hash(heatmap_style), csp_hash("")]
