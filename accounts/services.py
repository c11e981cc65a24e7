"""Every write to teams and tokens, and the token check every API call starts with."""

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record
from vetted.rows import Columns, attach, fetch_one, table

from .models import ApiToken, Membership, Team, TokenScope

TOKEN_PREFIX = "vt_"


@transaction.atomic
def create_token(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_in_days: int | None = None,
    team: Team | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its plain text, which exists only in this return value.

    With `team`, the token reaches only that team's models, whatever else its user may do.
    """
    if team is not None and not (
        user.is_superuser or Membership.objects.filter(user=user, team=team).exists()
    ):
        raise ValidationError(
            f"You are not in team {team.name}, so a token cannot be limited to it."
        )
    scopes = sorted(set(scopes))
    if not scopes or any(s not in TokenScope.values for s in scopes):
        raise ValidationError(f"Scopes must be some of: {', '.join(TokenScope.values)}.")
    if TokenScope.WRITE in scopes and TokenScope.READ not in scopes:
        scopes = sorted([*scopes, TokenScope.READ])
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationError("A token expires after 1 to 3650 days.")
    name = (name or "").strip() or "token"
    if len(name) > 100:
        raise ValidationError("A token name is at most 100 characters.")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        scopes=scopes,
        team=team,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    record(
        actor=user,
        verb="token.created",
        object_type="token",
        object_id=token.pk,
        object_name=str(token),
        team=team,
        after={
            "name": name,
            "scopes": scopes,
            "team": team.slug if team else None,
            "expires_at": _iso(token.expires_at),
        },
    )
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


@cache
def _token_lookup() -> tuple[str, tuple[Columns, ...]]:
    """The token by prefix with its user: every API call makes it, so its SQL is built once."""
    token = Columns(ApiToken, "k")
    user = Columns(User, "u")
    sql = (
        f"SELECT {token.sql}, {user.sql} FROM {table(ApiToken)} k"
        f" JOIN {table(User)} u ON {user.column('id')} = {token.column('user')}"
        f" WHERE {token.column('prefix')} = %s"
    )
    return sql, (token, user)


def authenticate_token(plain: str) -> ApiToken | None:
    """The live token matching `plain`, its last use recorded; None for anything else."""
    if not plain.startswith(TOKEN_PREFIX) or plain.count("_") < 2:
        return None
    prefix, _, secret = plain[len(TOKEN_PREFIX) :].partition("_")
    if not re.fullmatch(r"[0-9a-f]{12}", prefix):  # as create_token makes them; no NUL reaches SQL
        return None
    sql, parts = _token_lookup()
    found = fetch_one(sql, [prefix], *parts)
    if found is None:
        return None
    token, user = found
    attach(token, "user", user)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    if not secrets.compare_digest(digest, token.secret_sha256):
        return None
    now = timezone.now()
    if token.revoked_at or (token.expires_at and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    # At most one write a minute per token keeps hot CI loops from hammering one row.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def revoke_token(*, user: User, token_id: int, actor: User | None = None) -> None:
    """Revoke `user`'s token; revoking it again changes nothing.

    `actor` is who does it when that is not the owner: an administrator, who needs the
    permission to change tokens. The audit log names the actor.
    """
    actor = actor or user
    if actor != user and not actor.has_perm("accounts.change_apitoken"):
        raise PermissionDenied("Only an administrator may revoke another person's token.")
    now = timezone.now()
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at=None).update(
        revoked_at=now
    )
    if not updated:
        if not ApiToken.objects.filter(pk=token_id, user=user).exists():
            raise ApiToken.DoesNotExist
        return
    token = ApiToken.objects.get(pk=token_id)
    record(
        actor=actor,
        verb="token.revoked",
        object_type="token",
        object_id=token.pk,
        object_name=str(token),
        before={"revoked_at": None},
        after={"revoked_at": _iso(now)},
    )
