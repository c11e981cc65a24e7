"""The hand-written lookups of vetted/rows.py build the same instances the ORM would.

Run on SQLite by `make test` and on PostgreSQL in CI: every concrete field, of the row and of
the row joined to it, compared with `select_related` on the same row.
"""

from datetime import timedelta

from django.db.models import Model
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken
from registry import services
from registry.access import get_model_for
from registry.models import RegisteredModel


def fields_of(instance: Model) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_token_lookup_builds_what_the_orm_builds(alice):
    token, plain = account_services.create_token(
        user=alice, name="ci", scopes=["read", "write"], expires_in_days=30
    )
    found = account_services.authenticate_token(plain)
    orm = ApiToken.objects.select_related("user").get(pk=token.pk)
    assert found is not None
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.user) == fields_of(orm.user)
    assert isinstance(found.expires_at, type(timezone.now()))
    assert found.expires_at - timezone.now() > timedelta(days=29)
    assert found.scopes == ["read", "write"]  # JSON decoded, not a string


def test_the_model_lookup_builds_what_the_orm_builds(alice, teams):
    services.create_model(
        actor=alice,
        name="fraud-detector",
        team=teams["fraud"],
        task_type="classification",
        description="Scores card payments.",
        tags=["payments"],
    )
    found = get_model_for(alice, "fraud-detector")
    orm = RegisteredModel.objects.select_related("team").get(name="fraud-detector")
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.team) == fields_of(orm.team)
    assert found.caller.role == "data_scientist" and found.caller.is_owner
