"""Templates as text: what Django would print to the page instead of reading."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_comment_tag_spans_lines():
    """`{# … #}` is a comment on one line only; spread over two, Django prints it on the page."""
    spread = [
        f"{path.relative_to(ROOT)}:{html[: found.start()].count(chr(10)) + 1}"
        for path in sorted(ROOT.glob("*/templates/**/*.html"))
        + sorted(ROOT.glob("templates/**/*.html"))
        for html in [path.read_text()]
        for found in re.finditer(r"\{#(?:(?!#\}).)*\n", html)
    ]
    assert not spread, "Use {% comment %} … {% endcomment %} for these: " + ", ".join(spread)
