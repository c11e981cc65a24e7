"""`manage.py check --deploy`: what a deployment must set for e-mail to reach people usefully."""

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def site_url_is_set(app_configs, **kwargs) -> list[Warning]:
    """Without SITE_URL an e-mail can only carry a path, which a mail reader cannot open."""
    if settings.SITE_URL.startswith(("https://", "http://")):
        return []
    return [
        Warning(
            "SITE_URL is not an absolute address, so the links in e-mail lead nowhere.",
            hint="Set SITE_URL to the address people open Vetted at, e.g. https://vetted.example.com.",
            id="notifications.W001",
        )
    ]
