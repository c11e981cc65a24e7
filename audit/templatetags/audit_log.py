"""Template filters of the audit log's pages."""

from django import template

from .. import verbs

register = template.Library()


@register.filter
def in_words(event) -> str:
    """`{{ event|in_words }}`: "moved the version to Production", "approved a promotion request"."""
    return verbs.describe(event.verb, event.before, event.after)
