"""Template filters of the registry pages: sanitized markdown and permission checks."""

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import mark_safe

from .. import access, panels

register = template.Library()

# Images are left out: a markdown image would make the browser fetch from another origin.
MARKDOWN_TAGS = nh3.ALLOWED_TAGS - {"img", "area", "map"}


@register.filter
def markdown(text: str) -> str:
    """Markdown rendered to HTML that keeps no script, style, image or event handler."""
    html = markdown_lib.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    return mark_safe(nh3.clean(html, tags=MARKDOWN_TAGS))  # noqa: S308 - sanitized by nh3


@register.filter
def can(user, model) -> dict[str, bool]:
    """`{% with may=request.user|can:model %}{% if may.edit %}`: one answer per action."""
    return {action.value: access.can(user, action, model) for action in access.Action}


@register.filter
def metric(value) -> str:
    """A metric at a readable precision: 0.912345678 → 0.912346, 42 → 42."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return format(value, ".6g")


@register.simple_tag
def model_tabs() -> list[panels.Tab]:
    """The tabs other apps add to a model's pages (registry.panels.register_tab)."""
    return panels.model_tabs()
