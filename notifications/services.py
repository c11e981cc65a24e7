"""Telling people: `notify()`, the one function other apps call when something needs someone's
attention; and what a person changes about it (read marks, preferences, watched models)."""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from audit.services import record
from registry import access
from registry.access import Action
from registry.models import RegisteredModel

from . import selectors, tasks
from .models import EmailStatus, Event, Notification, OutboxEmail, Preference, Watch

logger = logging.getLogger(__name__)


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
    email: bool = True,
) -> list[Notification]:
    """Write the inbox lines and outbox e-mails of one occasion, inside the caller's transaction.

    The actor never hears of their own act, and nobody hears of a model they may not see.
    Each recipient's preference for `event` picks the channels. Calling again with the same
    `dedupe_key` (e.g. "request:12:review:40") adds nothing for those already told.
    `email=False` keeps an occasion in the inbox only (a warning, where a critical alert mails).
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
    site = settings.SITE_URL.rstrip("/")
    context = {
        "title": title,
        "body": body,
        "link": site + url,
        "settings_link": site + reverse("notifications:preferences"),
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
        if email and person.email and (pk not in choices or choices[pk].email)
    ]
    if emails:
        OutboxEmail.objects.bulk_create(emails, ignore_conflicts=True)
        transaction.on_commit(_send_soon)
    return created


def queue_email(
    *,
    recipient: User,
    subject: str,
    text_body: str,
    html_body: str,
    dedupe_key: str,
    inline_images: Iterable[dict] = (),
) -> bool:
    """Put one e-mail that is not an inbox occasion (a scheduled digest) in the outbox, sent
    like every other (retries, once per `dedupe_key`). `inline_images` are
    `{"cid", "png_base64"}` the HTML shows as `cid:…`. True if it was queued, False if an
    e-mail with that key was already there or the recipient has no address."""
    if not recipient.email:
        return False
    try:
        with transaction.atomic():
            OutboxEmail.objects.create(
                recipient=recipient,
                to_address=recipient.email,
                subject=f"[Vetted] {subject}"[:300],
                text_body=text_body,
                html_body=html_body,
                inline_images=list(inline_images),
                dedupe_key=dedupe_key,
            )
    except IntegrityError:  # queued already, by this run or another
        return False
    transaction.on_commit(_send_soon)
    return True


def _send_soon() -> None:
    """Beat sends what is due every minute anyway: a broker that is down delays, loses nothing."""
    try:
        tasks.send_due_emails.delay()
    except BrokerUnavailable:
        logger.warning("Could not queue the e-mail sender; beat runs it within a minute.")


@transaction.atomic
def send_again(*, actor: User, ids: Iterable[int]) -> int:
    """E-mails that gave up (the SMTP server was down longer than the attempts last) go out
    again from the first attempt; the sender is queued once this commits. Returns how many."""
    with transaction.atomic():
        count = OutboxEmail.objects.filter(pk__in=list(ids), status=EmailStatus.FAILED).update(
            status=EmailStatus.PENDING, attempts=0, next_attempt_at=None
        )
        if count:
            logger.info("%s queued %s failed e-mail(s) to be sent again", actor.username, count)
            transaction.on_commit(_send_soon)
    return count


def mark_read(*, user: User, ids: Iterable[int] = (), everything: bool = False) -> int:
    """Mark the user's notifications read: those in `ids`, or all of them. Any id that is not
    one of the user's visible notifications raises Notification.DoesNotExist and marks nothing.
    Returns how many were unread before."""
    mine = selectors.inbox(user)
    if not everything:
        wanted = set(ids)
        found = set(mine.filter(pk__in=wanted).values_list("pk", flat=True))
        if found != wanted:
            raise Notification.DoesNotExist(f"You have no notification {min(wanted - found)}.")
        mine = mine.filter(pk__in=wanted)
    return mine.filter(read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def set_preferences(*, actor: User, choices: dict[str, dict[str, bool]]) -> None:
    """Set the channels of the events in `choices` ({event: {"in_app": …, "email": …}}, each
    channel optional); other events keep theirs. A change is audited as "preferences.changed"."""
    unknown = set(choices) - set(Event.values)
    if unknown:
        raise ValidationError(f"Unknown events: {', '.join(sorted(unknown))}.")
    current = selectors.preferences_of(actor)
    before, after = {}, {}
    for event, channels in choices.items():
        new = current[event] | {k: v for k, v in channels.items() if k in ("in_app", "email")}
        if new != current[event]:
            before[event], after[event] = current[event], new
            Preference.objects.update_or_create(user=actor, event=event, defaults=new)
    if after:
        record(
            actor=actor,
            verb="preferences.changed",
            object_type="user",
            object_id=actor.pk,
            object_name=actor.username,
            before=before,
            after=after,
        )


@transaction.atomic
def set_watching(*, actor: User, model: RegisteredModel, watching: bool) -> bool:
    """Start or stop watching a model the actor can see; True if that changed anything.

    A watcher hears of the model's promotions and rollbacks. Audited as "preferences.changed".
    """
    if not access.can(actor, Action.VIEW, model):
        raise PermissionDenied("Only members of the model's team can watch it.")
    if watching:
        try:
            with transaction.atomic():
                _, changed = Watch.objects.get_or_create(user=actor, model=model)
        except IntegrityError:  # the same person's other click got there first
            changed = False
    else:
        changed = Watch.objects.filter(user=actor, model=model).delete()[0] > 0
    if changed:
        record(
            actor=actor,
            verb="preferences.changed",
            object_type="watch",
            object_id=f"{model.pk}:{actor.pk}",
            object_name=f"{actor.username} watching {model.name}",
            team=model.team,
            model_name=model.name,
            before={"watching": not watching},
            after={"watching": watching},
        )
    return changed
