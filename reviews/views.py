"""Pages of reviews: a request and its conversation, the lists, the reviewer's home, policies.

Every write goes through the same service as the API; a post on a request that is no longer open
(a stale or replayed form) is refused with 409 and says what happened to it.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.models import Role
from discussions import selectors as discussion_selectors
from registry import access
from registry.access import Action, get_model_for, get_version_for, teams_allowing
from registry.models import RegisteredModel

from . import checks, selectors, services
from .forms import CloseForm, PolicyForm, RequestForm, ReviewForm
from .models import Decision, TargetStage
from .policies import role_label


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


def _request_page(request, promotion, *, status=200, review_form=None, close_form=None, error=""):
    team_id = promotion.model.team_id
    role = selectors.role_in(request.user, team_id)
    state = selectors.status_of(promotion) if promotion.is_open else None
    may_decide = bool(
        state
        and role in state.policy.eligible_roles()
        and (state.policy.author_may_approve or promotion.author_id != request.user.pk)
    )
    decisions = [
        (value, label)
        for value, label in Decision.choices
        if value == Decision.COMMENT or may_decide
    ]
    form = review_form or ReviewForm(initial={"decision": Decision.COMMENT})
    field = form.fields["decision"]
    assert isinstance(field, forms.ChoiceField)
    field.choices = decisions
    discussion = discussion_selectors.discussion(
        request.user, selectors.ANCHOR_KIND, str(promotion.number), selectors.anchor_of(promotion)
    )
    # A review's message may @mention team members too: the same autocomplete as a comment's.
    form.fields["body"].widget.attrs.update(
        {"data-mentions": discussion.mentions_url, "aria-autocomplete": "list"}
    )
    context = {
        "promotion": promotion,
        "model": promotion.model,
        "status": state,
        "timeline": selectors.timeline(request.user, promotion),
        "discussion": discussion,
        "may_comment": promotion.is_open and role not in (None, Role.VIEWER),
        "may_merge": bool(state and state.ready and services.may_merge(request.user, promotion)),
        "may_withdraw": promotion.is_open
        and (
            promotion.author_id == request.user.pk or services.is_team_owner(request.user, team_id)
        ),
        "may_close": promotion.is_open and access.can(request.user, Action.STAGE, promotion.model),
        "review_form": form,
        "close_form": close_form or CloseForm(),
        "roles": [role_label(r) for r in state.policy.required_roles] if state else [],
        "error": error,
    }
    response = render(request, "reviews/request_detail.html", context, status=status)
    if request.htmx and request.method == "GET" and not (state and state.waiting):
        # The checks' poll: none pending any more, so the merge button may have changed too.
        response["HX-Refresh"] = "true"
    return response


@login_required
def request_detail(request, number):
    return _request_page(request, selectors.request_for(request.user, number))


def _act(request, number, act, **forms):
    """Run `act(promotion)`; a request that is no longer open answers 409 with the page."""
    promotion = selectors.request_for(request.user, number)
    try:
        message = act(promotion)
    except services.RequestNotOpen as error:
        fresh = selectors.request_for(request.user, number)
        return _request_page(request, fresh, status=409, error=str(error), **forms)
    except ValidationError as error:
        return _request_page(request, promotion, status=400, error=_errors(error), **forms)
    messages.success(request, message)
    return redirect("reviews:request", number=number)


@login_required
@require_POST
def request_review(request, number):
    form = ReviewForm(request.POST)
    if not form.is_valid():
        promotion = selectors.request_for(request.user, number)
        return _request_page(request, promotion, status=400, review_form=form)

    def act(promotion):
        review = services.give_review(actor=request.user, request=promotion, **form.cleaned_data)
        return f"Your {review.get_decision_display().lower()} is recorded."

    return _act(request, number, act, review_form=form)


@login_required
@require_POST
def request_merge(request, number):
    def act(promotion):
        services.merge(actor=request.user, request=promotion)
        return f"Merged: version {promotion.version.number} is now in {promotion.to_stage}."

    return _act(request, number, act)


@login_required
@require_POST
def request_withdraw(request, number):
    def act(promotion):
        services.withdraw(actor=request.user, request=promotion)
        return f"Request #{number} is withdrawn."

    return _act(request, number, act)


@login_required
@require_POST
def request_close(request, number):
    form = CloseForm(request.POST)
    if not form.is_valid():
        promotion = selectors.request_for(request.user, number)
        return _request_page(request, promotion, status=400, close_form=form)

    def act(promotion):
        services.close(actor=request.user, request=promotion, reason=form.cleaned_data["reason"])
        return f"Request #{number} is closed."

    return _act(request, number, act, close_form=form)


@login_required
@require_POST
def request_open(request, name, number):
    version = get_version_for(request.user, name, number, Action.PUSH)
    form = RequestForm(request.POST)
    back = reverse("registry:version_detail", args=[name, number])
    if not form.is_valid():
        messages.error(request, "Choose staging or production.")
        return redirect(back)
    try:
        opened = services.open_request(actor=request.user, version=version, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, _errors(error))
        return redirect(back)
    messages.success(request, f"Request #{opened.number} is open: reviewers have been told.")
    return redirect("reviews:request", number=opened.number)


FILTERS = {
    "open": ("Open", {"state": "open"}),
    "awaiting": ("Waiting for my review", {"awaiting": True}),
    "mine": ("Mine", {"state": "", "mine": True}),
    "closed": ("Merged and closed", {"state": ""}),
}


@login_required
@vary_on_headers("HX-Request")
def request_list(request):
    shown = request.GET.get("show", "open")
    if shown not in FILTERS:
        shown = "open"
    rows = selectors.request_rows(request.user, **FILTERS[shown][1])  # type: ignore[arg-type]
    if shown == "closed":
        rows = [row for row in rows if not row.request.is_open]
    context = {
        "rows": rows,
        "filters": [(key, label) for key, (label, _) in FILTERS.items()],
        "shown": shown,
    }
    # The filters swap the list in place with htmx; a history restore asks for the whole page.
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "reviews/_request_region.html", context)
    return render(request, "reviews/request_list.html", context)


@login_required
def home(request):
    """Where a reviewer lands: what waits for them, where their own requests stand, what
    happened on the models they watch and who mentioned them."""
    context = {
        "waiting": selectors.request_rows(request.user, awaiting=True),
        "mine": selectors.request_rows(request.user, mine=True),
        "activity": selectors.watched_activity(request.user),
        "mentions": selectors.unread_mentions(request.user),
        "here": reverse("reviews:home"),  # where "Mark read" without JavaScript comes back to
    }
    return render(request, "reviews/home.html", context)


@login_required
def policies_page(request, slug):
    team = teams_allowing(request.user, Action.VIEW).filter(slug=slug).first()
    if team is None:
        raise Http404(f"You are not in a team called {slug!r}.")
    is_owner = services.is_team_owner(request.user, team.pk)
    status = 200
    failed = None
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied(f"Only owners of team {team.name} change its policies.")
        prefix = request.POST.get("prefix", "new")[:200]
        form = PolicyForm(request.POST, prefix=prefix)
        stage = request.POST.get("to_stage", "")
        model = None
        if request.POST.get("model"):
            model = get_model_for(request.user, request.POST["model"])
            if model.team_id != team.pk:
                raise Http404(f"Team {team.slug} has no model {model.name!r}.")
        if form.is_valid():
            try:
                services.set_policy(
                    actor=request.user, team=team, to_stage=stage, model=model, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"The {stage} policy of {model or team.name} is saved.")
                return redirect("reviews:policies", slug=slug)
        status = 400
        failed = (prefix, form)
    shown = []
    for policy in selectors.team_policies(team):
        prefix = _prefix(policy["model"], policy["to_stage"])
        form = PolicyForm(initial=policy, prefix=prefix)
        if failed and failed[0] == prefix:
            form = failed[1]
        names = [checks.check_name(spec) for spec in policy["checks"]]
        shown.append({**policy, "form": form, "prefix": prefix, "check_names": names})
    context = {
        "team": team,
        "policies": shown,
        "check_examples": checks.examples(),
        "is_owner": is_owner,
        "stages": TargetStage.choices,
        "models": RegisteredModel.objects.filter(team=team).only("name") if is_owner else [],
        "new_form": failed[1] if failed and failed[0] == "new" else PolicyForm(prefix="new"),
    }
    return render(request, "reviews/policies.html", context, status=status)


def _prefix(model_name: str | None, stage: str) -> str:
    """Each policy's form on the page has its own field names and ids."""
    return f"model-{model_name}-{stage}" if model_name else f"team-{stage}"
