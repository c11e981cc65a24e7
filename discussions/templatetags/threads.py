"""Template tags of the thread templates: who may do what here, and mentions in comments."""

from django import template
from django.utils.safestring import mark_safe

from .. import mentions, selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def discussion_for(context, kind: str, anchor_id: str) -> selectors.Discussion:
    """`{% discussion_for anchor_kind anchor_id as discussion %}` for the person viewing."""
    known = context.get("discussion")
    if isinstance(known, selectors.Discussion) and known.ref == f"{kind}:{anchor_id}":
        return known
    return selectors.discussion(context["request"].user, kind, str(anchor_id))


@register.filter
def with_mentions(html: str, members) -> str:
    """`{{ comment.body|markdown|with_mentions:discussion.members }}`: sanitized HTML in, the
    same HTML out with each mention of a team member marked."""
    return mark_safe(mentions.highlight(str(html), members))  # noqa: S308 - input is sanitized
