"""The request pages: what is missing at a glance, the review form, merging, lists and home."""

import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from registry.models import ModelVersion
from reviews import services
from reviews.models import PromotionRequest

from .page_factories import (
    PASSWORD,
    assert_strict_page,
    count_queries,
    pushed_version,
    registered_model,
)


@pytest.fixture
def iris(alice, teams):
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model, metrics={"accuracy": 0.95})
    pushed_version(alice, model, metrics={"accuracy": 0.97})
    return model


def open_for(alice, number=2, to_stage="production", message=""):
    version = ModelVersion.objects.select_related("model__team").get(number=number)
    return services.open_request(actor=alice, version=version, to_stage=to_stage, message=message)


def test_a_request_opened_from_the_version_page(client, alice, iris):
    client.force_login(alice)
    page = client.get("/models/iris/versions/2/")
    assert "Request promotion" in page.content.decode()

    answer = client.post(
        "/models/iris/versions/2/requests/", {"to_stage": "production", "message": "Better"}
    )

    assert answer.status_code == 302 and answer["Location"] == "/requests/1/"
    shown = client.get("/requests/1/")
    html = shown.content.decode()
    assert "needs 1 DevOps approval" in html
    assert '<dt>Now in</dt><dd><span class="muted">no stage</span></dd>' in html
    assert '<section class="card" aria-labelledby="conversation-heading" id="conversation">' in html
    assert_strict_page(shown)
    model_page = client.get("/models/iris/").content.decode()
    assert "Open promotion requests" in model_page and 'href="/requests/1/"' in model_page


def test_devops_approves_and_merges_in_the_browser(client, alice, bob, iris):
    open_for(alice)
    client.force_login(bob)
    page = client.get("/requests/1/").content.decode()
    assert 'value="approve"' in page and "Merge" not in page

    client.post("/requests/1/reviews/", {"decision": "approve", "body": "Looks right"})
    page = client.get("/requests/1/").content.decode()
    assert "Ready to merge" in page and "Merge: promote to production" in page

    merged = client.post("/requests/1/merge/", follow=True)
    assert "is now in production" in merged.content.decode()
    assert ModelVersion.objects.get(number=2).stage == "production"


def test_the_conversation_lists_review_messages_in_time_order(client, alice, bob, people, iris):
    open_for(alice, message="Please review")
    request = PromotionRequest.objects.get()
    services.give_review(actor=bob, request=request, decision="request_changes", body="First")
    services.give_review(actor=people["carol"], request=request, decision="comment", body="Second")
    services.give_review(actor=bob, request=request, decision="approve", body="Third")
    client.force_login(alice)
    html = client.get("/requests/1/").content.decode()
    conversation = html[html.index('id="conversation"') :]
    positions = [conversation.index(text) for text in ("Please review", "First", "Second", "Third")]
    assert positions == sorted(positions)
    assert "dismissed: replaced by a newer review" in conversation


def test_the_author_is_not_offered_approval(client, alice, iris):
    open_for(alice, to_stage="staging")
    client.force_login(alice)
    html = client.get("/requests/1/").content.decode()
    assert 'value="comment"' in html and 'value="approve"' not in html
    refused = client.post("/requests/1/reviews/", {"decision": "approve"})
    assert refused.status_code == 403 and "You opened this request" in refused.content.decode()


def test_a_stale_review_form_is_refused_with_what_happened(client, alice, bob, iris):
    request = open_for(alice)
    client.force_login(bob)
    client.get("/requests/1/")  # the form is on screen...
    services.give_review(actor=bob, request=request, decision="approve")
    services.merge(actor=bob, request=request)  # ...while someone merges

    late = client.post("/requests/1/reviews/", {"decision": "request_changes", "body": "wait"})

    assert late.status_code == 409
    assert "Request #1 is merged already: your review was not recorded." in late.content.decode()
    assert not AuditEvent.objects.filter(
        verb="review.given", after__decision="request_changes"
    ).exists()


def test_the_review_form_holds_against_csrf(alice, bob, iris):
    open_for(alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(bob)
    forged = browser.post("/requests/1/reviews/", {"decision": "comment", "body": "forged"})
    assert forged.status_code == 403
    browser.get("/requests/1/")
    token = browser.cookies["csrftoken"].value
    sent = browser.post(
        "/requests/1/reviews/",
        {"decision": "comment", "body": "mine", "csrfmiddlewaretoken": token},
    )
    assert sent.status_code == 302
    assert [r.body for r in PromotionRequest.objects.get().reviews.all()] == ["mine"]


def test_script_in_a_message_renders_inert(client, alice, bob, iris):
    open_for(alice, message="<script>alert(1)</script>")
    services.give_review(
        actor=bob,
        request=PromotionRequest.objects.get(),
        decision="comment",
        body="<img src=x onerror=alert(2)>",
    )
    client.force_login(bob)
    html = client.get("/requests/1/").content.decode()
    assert "<script>alert(1)" not in html and "onerror=alert(2)" not in html.replace("&lt;", "")


def test_a_direct_move_to_production_on_the_version_page_is_a_clear_403(client, bob, iris):
    client.force_login(bob)
    refused = client.post("/models/iris/versions/2/stage/", {"stage": "production"})
    assert refused.status_code == 403
    assert "open a promotion request" in refused.content.decode()
    archived = client.post("/models/iris/versions/2/stage/", {"stage": "archived"})
    assert archived.status_code == 302
    assert ModelVersion.objects.get(number=2).stage == "archived"


def test_home_is_where_people_land_and_shows_what_waits_for_them(client, alice, bob, iris):
    open_for(alice)
    signed_in = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert signed_in["Location"] == "/home/"
    html = client.get("/home/").content.decode()
    waiting = html[html.index("Waiting for my review") : html.index("My open requests")]
    assert "iris v2" in waiting and "needs 1 DevOps approval" in waiting
    client.force_login(alice)
    html = client.get("/home/").content.decode()
    mine = html[html.index("My open requests") :]
    assert "iris v2" in mine and "Nothing waits for your review" in html


def test_the_list_filters(client, alice, bob, iris):
    open_for(alice)
    open_for(alice, number=1, to_stage="staging")
    services.withdraw(actor=alice, request=PromotionRequest.objects.get(number=2))
    client.force_login(bob)
    page = client.get("/requests/").content.decode()
    assert page.count('id="request-region"') == 1 and page.count('href="/requests/1/"') == 1
    assert 'href="/requests/2/"' not in client.get("/requests/").content.decode()
    assert 'href="/requests/2/"' in client.get("/requests/?show=closed").content.decode()
    assert 'href="/requests/1/"' in client.get("/requests/?show=awaiting").content.decode()
    swapped = client.get("/requests/?show=closed", headers={"HX-Request": "true"})
    html = swapped.content.decode()
    assert html.startswith('<div id="request-region">') and 'href="/requests/2/"' in html
    assert swapped["Vary"] and "HX-Request" in swapped["Vary"]


def test_owners_edit_policies_on_their_page(client, alice, bob, iris):
    client.force_login(alice)
    page = client.get("/teams/fraud/policies/")
    assert page.status_code == 200 and "Every model → production" in page.content.decode()
    bad = client.post(
        "/teams/fraud/policies/",
        {
            "prefix": "team-production",
            "to_stage": "production",
            "team-production-required_approvals": "1",
            "team-production-checks": '[{"kind": "nope"}]',
        },
    )
    assert bad.status_code == 400 and "give a kind" in bad.content.decode()
    saved = client.post(
        "/teams/fraud/policies/",
        {
            "prefix": "new",
            "model": "iris",
            "to_stage": "staging",
            "new-required_approvals": "2",
            "new-required_roles": ["devops", "data_scientist"],
            "new-auto_merge": "on",
            "new-checks": '[{"kind": "metric_threshold", "metric": "accuracy", "op": ">=",'
            ' "value": 0.9}]',
        },
    )
    assert saved.status_code == 302
    html = client.get("/teams/fraud/policies/").content.decode()
    assert "iris → staging" in html and "merged automatically" in html
    assert "<li>accuracy ≥ 0.9</li>" in html
    client.force_login(bob)
    assert client.get("/teams/fraud/policies/").status_code == 200
    assert "Edit" not in client.get("/teams/fraud/policies/").content.decode()


def test_every_kind_of_check_the_page_shows_can_be_pasted_into_a_policy(client, alice, iris):
    import html as html_module
    import re

    from reviews.checks import kinds

    client.force_login(alice)
    page = client.get("/teams/fraud/policies/").content.decode()
    shown = re.findall(r"<tr><td class=\"break\"><code>(.*?)</code></td><td>(.*?)</td></tr>", page)
    examples = [(html_module.unescape(spec), html_module.unescape(name)) for spec, name in shown]
    assert sorted(json.loads(spec)["kind"] for spec, _ in examples) == kinds()
    assert {"evaluation_metric", "drift_psi", "fairness_ratio"} <= set(kinds())

    saved = client.post(
        "/teams/fraud/policies/",
        {
            "prefix": "team-production",
            "to_stage": "production",
            "team-production-required_approvals": "1",
            "team-production-checks": "[" + ", ".join(spec for spec, _ in examples) + "]",
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    after = html_module.unescape(client.get("/teams/fraud/policies/").content.decode())
    for _, name in examples:
        assert f"<li>{name}</li>" in after


def _requests(alice, name, count):
    model = registered_model(alice, alice.memberships.get().team, name)
    for _ in range(count):
        version = pushed_version(alice, model, metrics={"accuracy": 0.9})
        services.open_request(actor=alice, version=version, to_stage="staging")


def test_the_request_page_and_lists_make_a_constant_number_of_queries(
    client, alice, bob, people, iris, django_assert_max_num_queries
):
    request = open_for(alice, message="hi")
    for person in (bob, people["carol"]):
        services.give_review(actor=person, request=request, decision="comment", body="x")
    for stage in ("staging", "production"):
        services.set_policy(
            actor=alice,
            team=iris.team,
            to_stage=stage,
            required_approvals=1,
            checks=[{"kind": "not_worse_than_production", "metric": "accuracy", "tolerance": 0}],
        )
    _requests(alice, "few", 1)
    client.force_login(bob)
    with django_assert_max_num_queries(10):
        assert client.get("/requests/1/").status_code == 200
    few = {url: count_queries(client, url) for url in ("/requests/", "/home/")}
    _requests(alice, "many", 8)
    assert {url: count_queries(client, url) for url in few} == few
