"""Pages of accounts: signing in (throttled), a person's API tokens."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import selectors, services, throttle
from .forms import TokenCreateForm
from .models import ApiToken


class LoginView(auth_views.LoginView):
    """Django's sign-in, refused with 429 after too many failures per account or address."""

    def post(self, request, *args, **kwargs):
        address = throttle.client_address(request)
        account = request.POST.get("username", "")[:150]
        if throttle.blocked(throttle.LOGIN, address=address, account=account):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, throttle.message(throttle.LOGIN))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        throttle.count_failure(
            throttle.LOGIN,
            address=throttle.client_address(self.request),
            account=self.request.POST.get("username", "")[:150],
        )
        return super().form_invalid(form)


@never_cache  # the page may hold a token's only plain-text copy
@login_required
def tokens(request):
    teams = selectors.teams_of(request.user)
    form = TokenCreateForm(teams=teams)
    created = plain = None
    if request.method == "POST":
        form = TokenCreateForm(request.POST, teams=teams)
        if form.is_valid():
            try:
                created, plain = services.create_token(user=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                form = TokenCreateForm(teams=teams)
    context = {
        "tokens": request.user.api_tokens.select_related("team"),
        "form": form,
        "created": created,
        "plain_token": plain,
    }
    return render(request, "accounts/tokens.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def token_revoke(request, token_id):
    try:
        services.revoke_token(user=request.user, token_id=token_id)
    except ApiToken.DoesNotExist:
        raise Http404("You have no such token.") from None
    messages.success(request, "Token revoked: it no longer works.")
    return redirect("accounts:tokens")
