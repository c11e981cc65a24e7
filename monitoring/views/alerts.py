"""/alerts/: the alerts of the models a person sees; owners and DevOps acknowledge and mute."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .. import alerts
from ..access import can_manage_monitors

STATES = {"open": "Open", "resolved": "Resolved", "": "All"}


class MuteForm(forms.Form):
    minutes = forms.IntegerField(min_value=0, max_value=alerts.MAX_MUTE_MINUTES)


@login_required
def alert_list(request):
    state = request.GET.get("state", "open")
    if state not in STATES:
        state = "open"
    model = request.GET.get("model", "")
    found = alerts.alerts_for(request.user, model=model, state=state)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    rows = [
        {"alert": alert, "manage": can_manage_monitors(request.user, alert.monitor.model)}
        for alert in page
    ]
    context = {"rows": rows, "page": page, "state": state, "states": STATES, "model": model}
    return render(request, "monitoring/alert_list.html", context)


def _alert(request, pk: int):
    found = alerts.alerts_for(request.user, state="").filter(pk=pk).first()
    if found is None:
        raise Http404(f"No alert {pk}.")
    return found


@login_required
@require_POST
def alert_acknowledge(request, pk):
    try:
        alerts.acknowledge(actor=request.user, alert=_alert(request, pk))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Acknowledged: the team sees someone is on it.")
    return redirect("monitoring:alerts")


@login_required
@require_POST
def alert_mute(request, pk):
    alert = _alert(request, pk)
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Mute for 0 minutes to 30 days.")
        return redirect("monitoring:alerts")
    try:
        alerts.mute(actor=request.user, alert=alert, minutes=form.cleaned_data["minutes"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Muted." if form.cleaned_data["minutes"] else "Unmuted.")
    return redirect("monitoring:alerts")
