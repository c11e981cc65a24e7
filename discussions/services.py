"""Every write to threads and comments: one function each, called by pages and the API alike.

Each runs in one transaction with its audit event (`thread.started`, `comment.posted`,
`comment.edited`, `comment.deleted`, `thread.resolved`, `thread.reopened`) and its notifications.
The audit log keeps who did what to which comment, never a comment's text: a deleted comment's
words are gone from Vetted (its earlier revisions with it), not kept in an append-only log.
Who may do what is in access.py.
"""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from audit.services import record
from notifications.models import Event
from notifications.services import notify

from . import access, anchors, mentions
from .anchors import Anchor
from .models import Comment, CommentRevision, Thread

MAX_BODY_CHARS = 20_000
EXCERPT_CHARS = 500


def clean_body(body: str) -> str:
    """The comment's markdown as written, or a ValidationError naming `body` that says why not."""
    if not isinstance(body, str) or not body.strip():
        raise ValidationError({"body": ["Write something: a comment cannot be empty."]})
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError(
            {
                "body": [
                    f"A comment holds at most {MAX_BODY_CHARS:,} characters; this one has "
                    f"{len(body):,}. Split it, or link to a longer document."
                ]
            }
        )
    if "\x00" in body:
        raise ValidationError({"body": ["A comment cannot hold a NUL character."]})
    return body


def anchor_of(thread: Thread) -> Anchor:
    found = anchors.resolve(thread.anchor_kind, thread.anchor_id)
    if found is None:  # the place was deleted while its threads remain
        raise Http404(f"Thread {thread.pk} hangs on {thread.anchor}, which no longer exists.")
    return found


def _refuse_repeat(author: User, body: str, latest: Comment | None) -> None:
    """A form sent twice (a double click, a replayed post, a retried request) posts once: the
    same text from the same person right after their own is refused."""
    if latest is not None and latest.author_id == author.pk and latest.body == body:
        raise ValidationError(
            {"body": ["You just posted this same comment here; it was not posted again."]}
        )


def _record(actor, verb: str, comment_or_thread, anchor: Anchor, **changes) -> None:
    is_thread = isinstance(comment_or_thread, Thread)
    kind = "thread" if is_thread else "comment"
    record(
        actor=actor,
        verb=verb,
        object_type=kind,
        object_id=comment_or_thread.pk,
        object_name=f"{kind} {comment_or_thread.pk} on {anchor.title}",
        team=anchor.model.team,
        model_name=anchor.model.name,
        **changes,
    )


def _tell_mentioned(comment: Comment, anchor: Anchor, names: set[str]) -> set[int]:
    """Notify the team members among `names`; their ids (told now or before)."""
    if not names:
        return set()
    people = list(
        User.objects.filter(
            username__in=names, memberships__team_id=anchor.model.team_id
        ).distinct()
    )
    notify(
        event=Event.MENTION,
        recipients=people,
        actor=comment.author,
        model=anchor.model,
        title=f"{comment.author} mentioned you on {anchor.title}",
        body=comment.body[:EXCERPT_CHARS],
        url=f"{anchor.url}#comment-{comment.pk}",
        dedupe_key=f"comment:{comment.pk}:mention",
    )
    return {person.pk for person in people}


def _tell_participants(comment: Comment, anchor: Anchor, already_told: set[int]) -> None:
    """Everyone who wrote in the thread hears of a reply, unless its mention told them."""
    people = User.objects.filter(
        pk__in=Comment.objects.filter(thread_id=comment.thread_id).values("author_id")
    ).exclude(pk__in=already_told)
    notify(
        event=Event.REPLY,
        recipients=people,
        actor=comment.author,
        model=anchor.model,
        title=f"{comment.author} replied in a thread on {anchor.title}",
        body=comment.body[:EXCERPT_CHARS],
        url=f"{anchor.url}#comment-{comment.pk}",
        dedupe_key=f"comment:{comment.pk}:reply",
    )


@transaction.atomic
def start_thread(*, author: User, kind: str, anchor_id: str, body: str) -> Thread:
    """A new thread on the anchor, opened by its first comment."""
    anchor = anchors.resolve(kind, anchor_id)
    if anchor is None:
        raise Http404(f"No {kind} {anchor_id!r} that you can see.")
    access.require_comment(author, anchor.model, f"{kind} {anchor_id!r}")
    body = clean_body(body)
    latest = Comment.objects.filter(thread__anchor_kind=kind, thread__anchor_id=anchor_id)
    _refuse_repeat(author, body, latest.order_by("-created_at", "-id").first())
    now = timezone.now()
    thread = Thread.objects.create(
        anchor_kind=kind, anchor_id=anchor_id, model=anchor.model, author=author, created_at=now
    )
    comment = Comment.objects.create(thread=thread, author=author, body=body, created_at=now)
    _record(author, "thread.started", thread, anchor, after={"comment": comment.pk})
    _tell_mentioned(comment, anchor, mentions.names_in(body))
    return thread


@transaction.atomic
def reply(*, author: User, thread: Thread, body: str) -> Comment:
    anchor = anchor_of(thread)
    access.require_comment(author, anchor.model, f"thread {thread.pk}")
    body = clean_body(body)
    Thread.objects.select_for_update().get(pk=thread.pk)  # one reply at a time: see the latest
    _refuse_repeat(author, body, thread.comments.order_by("-created_at", "-id").first())
    comment = Comment.objects.create(thread=thread, author=author, body=body)
    _record(author, "comment.posted", comment, anchor, after={"thread": thread.pk})
    told = _tell_mentioned(comment, anchor, mentions.names_in(comment.body))
    _tell_participants(comment, anchor, told)
    return comment


def _locked(comment: Comment) -> Comment:
    """The comment's row as it is now, locked until the change commits: two edits at once each
    keep the text the other replaced."""
    current = Comment.objects.select_for_update().get(pk=comment.pk)
    if current.deleted_at is not None:
        raise Http404(f"Comment {comment.pk} was deleted.")
    return current


@transaction.atomic
def edit_comment(*, actor: User, comment: Comment, body: str) -> Comment:
    """The new text; the one it replaces is kept as a revision. People mentioned for the first
    time hear of it; those the comment already mentioned do not hear again."""
    thread = comment.thread
    anchor = anchor_of(thread)
    access.require_view(actor, anchor.model, f"comment {comment.pk}")
    if not access.may_edit(actor, comment, anchor.model):
        raise PermissionDenied("Only its author may edit a comment (and viewers may not).")
    body = clean_body(body)
    current = _locked(comment)
    if current.body == body:
        return current
    now = timezone.now()
    CommentRevision.objects.create(
        comment=current,
        body=current.body,
        written_at=current.edited_at or current.created_at,
        replaced_at=now,
    )
    before = mentions.names_in(current.body)
    current.body, current.edited_at = body, now
    current.save(update_fields=["body", "edited_at"])
    current.thread = thread
    _record(actor, "comment.edited", current, anchor, after={"thread": thread.pk})
    _tell_mentioned(current, anchor, mentions.names_in(body) - before)
    return current


@transaction.atomic
def delete_comment(*, actor: User, comment: Comment) -> Comment:
    """The comment becomes a tombstone: its place and author stay, its text and revisions go."""
    thread = comment.thread
    anchor = anchor_of(thread)
    access.require_view(actor, anchor.model, f"comment {comment.pk}")
    if not access.may_delete(actor, comment, anchor.model):
        raise PermissionDenied("Only its author or an owner of the team may delete a comment.")
    current = _locked(comment)
    current.revisions.all().delete()
    current.body, current.deleted_at, current.deleted_by = "", timezone.now(), actor
    current.save(update_fields=["body", "deleted_at", "deleted_by"])
    current.thread = thread
    _record(actor, "comment.deleted", current, anchor, after={"thread": thread.pk})
    return current


def _set_resolved(actor: User, thread: Thread, resolved: bool) -> Thread:
    anchor = anchor_of(thread)
    access.require_comment(actor, anchor.model, f"thread {thread.pk}")
    now = timezone.now() if resolved else None
    # Conditional: of two people resolving at once, one resolves and one finds it done.
    changed = Thread.objects.filter(pk=thread.pk, resolved_at__isnull=resolved).update(
        resolved_at=now, resolved_by=actor if resolved else None
    )
    thread.refresh_from_db(fields=["resolved_at", "resolved_by"])
    if changed:
        _record(actor, "thread.resolved" if resolved else "thread.reopened", thread, anchor)
    return thread


@transaction.atomic
def resolve_thread(*, actor: User, thread: Thread) -> Thread:
    """Marks the thread resolved; resolving a resolved thread changes nothing."""
    return _set_resolved(actor, thread, True)


@transaction.atomic
def reopen_thread(*, actor: User, thread: Thread) -> Thread:
    return _set_resolved(actor, thread, False)
