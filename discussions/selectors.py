"""Reads that pages and the API share, in a number of queries that does not grow with threads."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils.http import urlencode

from . import access, anchors
from .anchors import Anchor
from .models import Comment, CommentRevision, Thread

MENTION_SUGGESTIONS = 8


def _threads() -> QuerySet[Thread]:
    return (
        Thread.objects.select_related("author", "resolved_by")
        .prefetch_related(
            Prefetch(
                "comments",
                queryset=Comment.objects.select_related("author", "deleted_by").order_by(
                    "created_at", "id"
                ),
            )
        )
        .order_by("created_at", "id")
    )


def threads_on(kind: str, anchor_id: str) -> QuerySet[Thread]:
    """The anchor's threads, oldest first, each with its comments and their authors: two
    queries however many there are."""
    return _threads().filter(anchor_kind=kind, anchor_id=anchor_id)


def thread(pk: int) -> Thread:
    return _threads().select_related("model__team").get(pk=pk)


def comments_on(kind: str, anchor_id: str) -> QuerySet[Comment]:
    """Every comment of the anchor's threads in time order, each with its author and thread
    (for a conversation that interleaves them with other events)."""
    return (
        Comment.objects.filter(thread__anchor_kind=kind, thread__anchor_id=anchor_id)
        .select_related("author", "deleted_by", "thread")
        .order_by("created_at", "id")
    )


def revisions_of(comment: Comment) -> QuerySet[CommentRevision]:
    """The texts a comment had before, the most recently replaced first."""
    return comment.revisions.order_by("-replaced_at", "-id")


def team_members(anchor: Anchor) -> QuerySet[User]:
    return (
        User.objects.filter(memberships__team_id=anchor.model.team_id, is_active=True)
        .distinct()
        .order_by("username")
    )


def mentionable(anchor: Anchor, prefix: str) -> list[User]:
    """Members of the anchor's team whose user name starts with `prefix`, for autocomplete."""
    return list(team_members(anchor).filter(username__istartswith=prefix)[:MENTION_SUGGESTIONS])


@dataclass(frozen=True)
class Discussion:
    """What the thread templates need to know about the place and the person looking."""

    kind: str
    anchor_id: str
    anchor: Anchor
    user_id: int
    may_comment: bool
    may_moderate: bool  # deletes anyone's comment
    members: frozenset[str]  # user names that show as mentions

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.anchor_id}"

    @property
    def mentions_url(self) -> str:
        """Where a comment box asks for the members whose names start with what was typed."""
        return f"{reverse('discussions-api:mentionable')}?{urlencode({'anchor': self.ref})}"


def discussion(user, kind: str, anchor_id: str, anchor: Anchor | None = None) -> Discussion:
    """For a page that already checked the user may view the anchor's model."""
    anchor = anchor or anchors.resolve(kind, anchor_id)
    if anchor is None:
        raise LookupError(f"No {kind} {anchor_id!r}.")
    return Discussion(
        kind=kind,
        anchor_id=anchor_id,
        anchor=anchor,
        user_id=user.pk,
        may_comment=access.may_comment(user, anchor.model),
        may_moderate=access.may_moderate(user, anchor.model),
        members=frozenset(team_members(anchor).values_list("username", flat=True)),
    )
