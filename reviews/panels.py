"""The boxes reviews adds to the registry's model and version pages (registry/panels.py)."""

from registry import access
from registry.access import Action
from registry.models import Stage

from . import selectors
from .forms import RequestForm
from .models import RequestState, TargetStage


def version_panel(*, request, model, version) -> dict:
    """This version's requests, and the form that opens one for those who may push."""
    rows = selectors.request_rows(request.user, state="", version=version)
    targets = [(value, label) for value, label in TargetStage.choices if value != version.stage]
    may_request = access.can(request.user, Action.PUSH, model) and bool(targets)
    return {
        "rows": rows,
        "form": RequestForm(targets=targets) if may_request else None,
        "rollback": version.stage == Stage.ARCHIVED,
    }


def model_panel(*, request, model, version=None) -> dict:
    return {"rows": selectors.request_rows(request.user, state=RequestState.OPEN, model=model)}
