"""Who may do what in a thread: it follows the thread's model, for pages and the API alike.

- Read threads: whoever may view the model (anyone else gets 404, as for the model itself).
- Start a thread, reply, resolve and reopen: every member of the model's team but viewers
  (data scientists, DevOps, app developers, owners); viewers read. Resolving is a shared
  chore, like GitHub's: anyone who may comment may resolve or reopen any thread.
- Edit a comment: its author only, while they may still comment. Edits keep the earlier text.
- Delete a comment: its author, or an owner of the model's team. A tombstone keeps its place.

Superusers act as team owners. An API token limited to another team sees nothing here; writes
need a token with the write scope (vetted.api.auth).
"""

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Role
from registry import access
from registry.access import Action
from registry.models import RegisteredModel

from .models import Comment, Thread

COMMENT_REFUSED = "Viewers read threads; your role in team {team} does not allow commenting."


def may_view(user: User | AnonymousUser, model: RegisteredModel) -> bool:
    return user.is_authenticated and access.can(user, Action.VIEW, model)


def _membership(user, model):
    return access.team_memberships(user).get(model.team_id)


def may_comment(user: User | AnonymousUser, model: RegisteredModel) -> bool:
    if not may_view(user, model):
        return False
    if user.is_superuser:
        return True
    membership = _membership(user, model)
    return membership is not None and (membership.is_owner or membership.role != Role.VIEWER)


def may_moderate(user: User | AnonymousUser, model: RegisteredModel) -> bool:
    """Owners of the model's team may delete anyone's comment."""
    if not may_view(user, model):
        return False
    if user.is_superuser:
        return True
    membership = _membership(user, model)
    return membership is not None and membership.is_owner


def may_edit(user: User | AnonymousUser, comment: Comment, model: RegisteredModel) -> bool:
    return comment.author_id == user.pk and may_comment(user, model)


def may_delete(user: User | AnonymousUser, comment: Comment, model: RegisteredModel) -> bool:
    return may_view(user, model) and (comment.author_id == user.pk or may_moderate(user, model))


def require_view(user, model: RegisteredModel, what: str) -> None:
    if not may_view(user, model):
        raise Http404(f"No {what} that you can see.")


def require_comment(user, model: RegisteredModel, what: str) -> None:
    require_view(user, model, what)
    if not may_comment(user, model):
        raise PermissionDenied(COMMENT_REFUSED.format(team=model.team.name))


def get_thread_for(user, thread_id: int) -> Thread:
    """The thread with its model and team: 404 if it does not exist or the user may not see it."""
    thread = Thread.objects.select_related("model__team").filter(pk=thread_id).first()
    if thread is None or not may_view(user, thread.model):
        raise Http404(f"No thread {thread_id} that you can see.")
    return thread


def get_comment_for(user, thread_id: int, comment_id: int) -> Comment:
    """A comment of that thread, not deleted (a tombstone has nothing left to act on)."""
    thread = get_thread_for(user, thread_id)
    comment = Comment.objects.filter(pk=comment_id, thread=thread).first()
    if comment is None:
        raise Http404(f"Thread {thread_id} has no comment {comment_id}.")
    if comment.deleted_at is not None:
        raise Http404(f"Comment {comment_id} was deleted.")
    comment.thread = thread
    return comment
