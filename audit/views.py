"""The audit log as a page: the same events and filters as GET /api/v1/audit/."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render

from . import selectors
from .models import Channel


@login_required
def event_list(request):
    filters = {name: request.GET.get(name, "").strip() for name in selectors.FILTERS}
    error = ""
    try:
        events = selectors.events_for(request.user, **filters)
    except ValidationError as invalid:
        error = " ".join(invalid.messages)
        events = selectors.events_for(request.user)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "error": error,
        "channels": dict(Channel.choices),
        "query": request.GET.copy(),
    }
    return render(request, "audit/event_list.html", context, status=400 if error else 200)
