"""Merges and last approvals arriving at the same instant make exactly one promotion.

Real concurrent connections on PostgreSQL: each call goes through the live server in its own
thread, so each has its own database connection and transaction.
"""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from audit.models import AuditEvent
from registry.models import ModelVersion, StageChange
from reviews import services
from reviews.models import PromotionRequest

from .page_factories import pushed_version, registered_model


@pytest.fixture
def request_for_production(alice, bob, teams):
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model)
    version = pushed_version(alice, model)
    previous = ModelVersion.objects.get(number=1)
    services.merge(
        actor=bob,
        request=_approved(
            services.open_request(actor=alice, version=previous, to_stage="production"), bob
        ),
    )
    return services.open_request(actor=alice, version=version, to_stage="production")


def _approved(request, reviewer):
    services.give_review(actor=reviewer, request=request, decision="approve")
    return request


def at_once(calls):
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return sorted(pool.map(lambda call: call(), calls))


@pytest.mark.django_db(transaction=True)
def test_simultaneous_merges_promote_once(
    needs_postgres, live_server, alice, bob, token_for, request_for_production
):
    _approved(request_for_production, bob)
    tokens = [token_for(bob, "read,write,review"), token_for(alice, "read,write,review")] * 2

    def merge(token):
        return lambda: (
            httpx.post(
                f"{live_server.url}/api/v1/requests/2/merge/",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ).status_code
        )

    assert at_once([merge(t) for t in tokens]) == [200, 409, 409, 409]
    assert dict(ModelVersion.objects.values_list("number", "stage")) == {
        1: "archived",
        2: "production",
    }
    assert StageChange.objects.filter(version__number=2).count() == 1
    assert AuditEvent.objects.filter(verb="request.merged").count() == 2  # #1, then #2 once


@pytest.mark.django_db(transaction=True)
def test_simultaneous_last_approvals_with_auto_merge_promote_once(
    needs_postgres, live_server, alice, bob, people, teams, token_for, request_for_production
):
    services.set_policy(
        actor=alice,
        team=teams["fraud"],
        to_stage="production",
        required_approvals=1,
        required_roles=[],
        auto_merge=True,
    )
    people_approving = [bob, people["carol"]]
    tokens = [token_for(person, "read,write,review") for person in people_approving]

    def approve(token):
        return lambda: (
            httpx.post(
                f"{live_server.url}/api/v1/requests/2/reviews/",
                headers={"Authorization": f"Bearer {token}"},
                json={"decision": "approve"},
                timeout=60,
            ).status_code
        )

    assert at_once([approve(t) for t in tokens]) == [201, 409]
    assert PromotionRequest.objects.get(number=2).state == "merged"
    assert ModelVersion.objects.get(number=2).stage == "production"
    assert StageChange.objects.filter(version__number=2).count() == 1
