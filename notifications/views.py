"""Pages of notifications: the inbox, the preferences grid, and the watch button on a model.

The inbox's buttons and the watch button work as plain forms (a redirect back), and with htmx
swap only what changed, with the nav's unread count sent out of band.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from registry.access import get_model_for

from . import selectors, services
from .forms import PreferencesForm
from .models import Notification

PER_PAGE = 50


def _back_to(request, fallback: str) -> str:
    """The form's `next` URL when it points into this site, else `fallback`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _inbox_context(request) -> dict:
    unread_only = request.GET.get("unread") == "1"
    lines = selectors.inbox(request.user, unread_only=unread_only)
    query = f"?{request.GET.urlencode()}" if request.GET else ""
    return {
        "unread_only": unread_only,
        "page": Paginator(lines, PER_PAGE).get_page(request.GET.get("page")),
        "query": query,
        "here": reverse("notifications:inbox") + query,  # where the no-JS forms come back to
    }


@login_required
def inbox(request):
    return render(request, "notifications/inbox.html", _inbox_context(request))


@login_required
@require_POST
def read_one(request, notification_id):
    try:
        services.mark_read(user=request.user, ids=[notification_id])
    except Notification.DoesNotExist:
        raise Http404("You have no such notification.") from None
    if request.htmx:
        line = selectors.inbox(request.user).get(pk=notification_id)
        return render(request, "notifications/_line.html", {"line": line, "oob_count": True})
    return redirect(_back_to(request, reverse("notifications:inbox")))


@login_required
@require_POST
def read_all(request):
    """Marks every notification read; htmx gets the inbox list back as the page showed it."""
    marked = services.mark_read(user=request.user, everything=True)
    if request.htmx:
        context = _inbox_context(request) | {"oob_count": True}
        return render(request, "notifications/_inbox_list.html", context)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return redirect(_back_to(request, reverse("notifications:inbox")))


@login_required
def preferences(request):
    form = PreferencesForm(current=selectors.preferences_of(request.user))
    if request.method == "POST":
        form = PreferencesForm(request.POST, current=selectors.preferences_of(request.user))
        if form.is_valid():
            services.set_preferences(actor=request.user, choices=form.choices())
            messages.success(request, "Saved your notification settings.")
            return redirect("notifications:preferences")
    context = {"form": form, "watched": selectors.watched_models(request.user)}
    return render(request, "notifications/preferences.html", context)


def watch_panel(*, request, model, version=None) -> dict:
    """The model page's watch box (registry/panels.py): one query."""
    return selectors.watch_state(request.user, model)


@login_required
@require_POST
def watch(request, name):
    model = get_model_for(request.user, name)
    watching = request.POST.get("watch") != "false"
    services.set_watching(actor=request.user, model=model, watching=watching)
    if request.htmx:
        context = {"model": model, "panel": {"data": watch_panel(request=request, model=model)}}
        return render(request, "notifications/_watch_panel.html", context)
    if watching:
        messages.success(request, f"You now watch {model.name}: its promotions reach you.")
    else:
        messages.success(request, f"You no longer watch {model.name}.")
    return redirect(_back_to(request, reverse("registry:model_detail", args=[model.name])))
