"""Pages of threads: each form posts here. With htmx the answer is the updated thread, swapped
in place; without JavaScript the browser goes back to the page the thread is on."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import access, anchors, selectors, services
from .anchors import Anchor
from .models import Thread

FORM_ID = re.compile(r"[A-Za-z][\w-]{0,80}")


def _thread_answer(request, thread: Thread, anchor: Anchor, fragment: str):
    if request.htmx:
        context = {
            "thread": selectors.thread(thread.pk),
            "discussion": selectors.discussion(
                request.user, thread.anchor_kind, thread.anchor_id, anchor
            ),
        }
        return render(request, "discussions/_thread.html", context)
    return redirect(f"{anchor.url}#{fragment}")


def _refused(request, error: ValidationError, anchor: Anchor, fragment: str):
    """Input the service refused: with htmx, the reason goes next to the form (whose text
    stays as typed); without, it is the message at the top of the page the browser returns to."""
    message = " ".join(error.messages)
    if request.htmx:
        response = render(request, "discussions/_form_error.html", {"message": message}, status=400)
        form_id = request.htmx.trigger or ""
        if FORM_ID.fullmatch(form_id):
            response["HX-Retarget"] = f"#{form_id}-errors"
            response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect(f"{anchor.url}#{fragment}")


@login_required
@require_POST
def start(request):
    try:
        kind, anchor_id = anchors.split(request.POST.get("anchor", ""))
    except anchors.UnknownAnchorKind:
        raise Http404("No such place to discuss.") from None
    anchor = anchors.resolve(kind, anchor_id)
    if anchor is None:
        raise Http404("No such place to discuss.")
    try:
        thread = services.start_thread(
            author=request.user, kind=kind, anchor_id=anchor_id, body=request.POST.get("body", "")
        )
    except ValidationError as error:
        return _refused(request, error, anchor, "discussion")
    return _thread_answer(request, thread, anchor, f"thread-{thread.pk}")


@login_required
@require_POST
def reply(request, thread_id):
    thread = access.get_thread_for(request.user, thread_id)
    anchor = services.anchor_of(thread)
    try:
        comment = services.reply(
            author=request.user, thread=thread, body=request.POST.get("body", "")
        )
    except ValidationError as error:
        return _refused(request, error, anchor, f"thread-{thread.pk}")
    return _thread_answer(request, thread, anchor, f"comment-{comment.pk}")


@login_required
@require_POST
def edit(request, thread_id, comment_id):
    comment = access.get_comment_for(request.user, thread_id, comment_id)
    anchor = services.anchor_of(comment.thread)
    try:
        services.edit_comment(
            actor=request.user, comment=comment, body=request.POST.get("body", "")
        )
    except ValidationError as error:
        return _refused(request, error, anchor, f"comment-{comment.pk}")
    return _thread_answer(request, comment.thread, anchor, f"comment-{comment.pk}")


@login_required
@require_POST
def delete(request, thread_id, comment_id):
    comment = access.get_comment_for(request.user, thread_id, comment_id)
    anchor = services.anchor_of(comment.thread)
    services.delete_comment(actor=request.user, comment=comment)
    return _thread_answer(request, comment.thread, anchor, f"comment-{comment.pk}")


@login_required
@require_POST
def resolve(request, thread_id):
    thread = access.get_thread_for(request.user, thread_id)
    anchor = services.anchor_of(thread)
    services.resolve_thread(actor=request.user, thread=thread)
    return _thread_answer(request, thread, anchor, f"thread-{thread.pk}")


@login_required
@require_POST
def reopen(request, thread_id):
    thread = access.get_thread_for(request.user, thread_id)
    anchor = services.anchor_of(thread)
    services.reopen_thread(actor=request.user, thread=thread)
    return _thread_answer(request, thread, anchor, f"thread-{thread.pk}")


@login_required
@require_GET
def history(request, thread_id, comment_id):
    """The comment as it is now and every earlier text, newest first."""
    comment = access.get_comment_for(request.user, thread_id, comment_id)
    anchor = services.anchor_of(comment.thread)
    context = {
        "comment": comment,
        "anchor": anchor,
        "revisions": selectors.revisions_of(comment),
        "discussion": selectors.discussion(
            request.user, comment.thread.anchor_kind, comment.thread.anchor_id, anchor
        ),
    }
    return render(request, "discussions/comment_history.html", context)
