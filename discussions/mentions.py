"""@mentions: found in a comment's rendered text, the same text that shows them highlighted.

A mention is `@username` in running text; inside code, a code block or a link it is left alone,
as is a name that is not a member of the model's team. The markdown is rendered and sanitized
by the registry's own filter first, so what notifies someone is exactly what the page marks.
"""

import re
from collections.abc import Collection, Iterator

from registry.templatetags.registry_pages import markdown

MENTION = re.compile(r"(?<![\w.+@-])@([\w+-]+(?:\.[\w+-]+)*)")
# A tag of the sanitized HTML: its attribute values are always double-quoted by nh3.
TAG = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")
TAG_NAME = re.compile(r"<(/?)([a-zA-Z0-9]+)")
LEFT_ALONE = {"a", "code", "pre"}


def _pieces(html: str) -> Iterator[tuple[str, bool]]:
    """The HTML cut into tags and text; True for text where a mention counts."""
    inside = 0
    for piece in TAG.split(html):
        if piece.startswith("<"):
            tag = TAG_NAME.match(piece)
            if tag and tag.group(2).lower() in LEFT_ALONE and not piece.endswith("/>"):
                inside = max(0, inside - 1) if tag.group(1) else inside + 1
            yield piece, False
        else:
            yield piece, inside == 0


def names_in(body: str) -> set[str]:
    """Every @name in the comment's running text (members or not)."""
    return {
        match.group(1)
        for piece, counts in _pieces(str(markdown(body)))
        if counts
        for match in MENTION.finditer(piece)
    }


def highlight(html: str, members: Collection[str]) -> str:
    """The rendered comment with each mention of a member marked; `html` is already sanitized
    and a username holds no character HTML treats specially."""

    def mark(match: re.Match) -> str:
        name = match.group(1)
        if name not in members:
            return match.group(0)
        return f'<span class="mention">@{name}</span>'

    return "".join(MENTION.sub(mark, piece) if counts else piece for piece, counts in _pieces(html))
