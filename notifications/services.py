"""Telling people: the one function other apps call when something needs someone's attention."""

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string

from registry import access
from registry.access import Action
from registry.models import RegisteredModel

from .models import Event, Notification, OutboxEmail, Preference


def notify(
    *,
    event: Event,
    recipients: Iterable[User],
    actor: User | None,
    model: RegisteredModel,
    title: str,
    body: str,
    url: str,
    dedupe_key: str,
) -> list[Notification]:
    """Write the inbox lines and outbox e-mails of one occasion, inside the caller's transaction.

    The actor never hears of their own act, and nobody hears of a model they may not see.
    Each recipient's preference for `event` picks the channels. Calling again with the same
    `dedupe_key` (e.g. "request:12:review:40") adds nothing for those already told.
    """
    assert transaction.get_connection().in_atomic_block, "notify() belongs inside the change"
    people = {
        person.pk: person
        for person in recipients
        if person.is_active
        and person.pk != getattr(actor, "pk", None)
        and access.can(person, Action.VIEW, model)
    }
    if not people:
        return []
    choices = {
        pref.user_id: pref for pref in Preference.objects.filter(user_id__in=people, event=event)
    }
    inbox = [
        Notification(
            recipient=person,
            event=event,
            actor=actor,
            model=model,
            title=title[:300],
            body=body,
            url=url,
            dedupe_key=dedupe_key,
        )
        for pk, person in people.items()
        if pk not in choices or choices[pk].in_app
    ]
    created = Notification.objects.bulk_create(inbox, ignore_conflicts=True)
    context = {
        "title": title,
        "body": body,
        "link": settings.SITE_URL.rstrip("/") + url,
        "model": model,
        "actor": actor,
    }
    emails = [
        OutboxEmail(
            recipient=person,
            to_address=person.email,
            subject=f"[Vetted] {title}"[:300],
            text_body=render_to_string("notifications/email.txt", {**context, "person": person}),
            html_body=render_to_string("notifications/email.html", {**context, "person": person}),
            dedupe_key=dedupe_key,
        )
        for pk, person in people.items()
        if person.email and (pk not in choices or choices[pk].email)
    ]
    OutboxEmail.objects.bulk_create(emails, ignore_conflicts=True)
    return created
