from django.utils.functional import SimpleLazyObject

from . import selectors


def unread_notifications(request) -> dict:
    """The nav's unread count: counted (one query) only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: selectors.unread_count(user))}
