"""The audit log as a page: the same events and filters as GET /api/v1/audit/, read only."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import selectors


@login_required
@require_safe
def event_list(request):
    log = selectors.event_page(request.user, request.GET)
    return render(request, "audit/event_list.html", {"log": log}, status=400 if log.error else 200)
