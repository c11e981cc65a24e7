"""API authentication: `Authorization: Bearer vt_…` tokens (read/write scopes), or the session."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts import throttle
from accounts.access import limit_to_token
from accounts.models import TokenScope
from accounts.services import authenticate_token
from audit import context


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        kind, _, value = header.partition(" ")
        if kind.lower() not in ("bearer", "token"):
            return None
        token = authenticate_token(value.strip())
        if token is None:
            # Counted only on failure, so a good token costs no cache round trip; past the limit
            # an address's wrong tokens get 429 (a token is 256 random bits: this stops probing
            # and the load it makes, not a guess that could succeed).
            address = throttle.client_address(request)
            throttle.count_failure(throttle.TOKEN, address=address)
            if throttle.blocked(throttle.TOKEN, address=address):
                raise exceptions.Throttled(detail=throttle.message(throttle.TOKEN))
            raise exceptions.AuthenticationFailed(
                "The API token is unknown, revoked or expired. "
                "Create a new one in Settings → API tokens."
            )
        limit_to_token(token.user, token)
        origin = context.current()
        context.set_origin(
            context.Origin(channel=origin.channel, token_id=token.pk, token_name=token.name)
        )
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class TokenScopePermission(permissions.BasePermission):
    """Signed in, and a token used for a write must carry the write scope."""

    message = "This token has only the read scope; writing needs a token with the write scope."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        token = request.auth
        if token is None or not hasattr(token, "has_scope"):
            return True
        if request.method in permissions.SAFE_METHODS:
            return token.has_scope(TokenScope.READ)
        return token.has_scope(TokenScope.WRITE)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer token in the OpenAPI schema (Swagger UI's Authorize button)."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from Settings → API tokens or `manage.py create_token`.",
        }
