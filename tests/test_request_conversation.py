"""A request's conversation: its opening, reviews, comment threads and how it ended, in one
time-ordered stream on its page and in the API; mentions in reviews; who may comment."""

import re

import pytest

from discussions.models import Comment, Thread
from notifications.models import Event, Notification
from registry.models import ModelVersion
from reviews import services
from reviews.models import PromotionRequest, Review

from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model


@pytest.fixture
def request_one(alice, teams):
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model, metrics={"accuracy": 0.95})
    version = ModelVersion.objects.select_related("model__team").get(number=1)
    return services.open_request(
        actor=alice, version=version, to_stage="production", message="Opening words"
    )


def _conversation(html: str) -> str:
    return html[html.index('id="conversation"') : html.index('id="start-thread"')]


def test_a_comment_without_javascript_lands_in_the_conversation_in_time_order(
    client, alice, bob, request_one
):
    services.give_review(actor=bob, request=request_one, decision="comment", body="Review first")
    client.force_login(alice)

    answer = client.post("/threads/", {"anchor": "request:1", "body": "Comment after it"})

    thread = Thread.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == f"/requests/1/#thread-{thread.pk}"
    services.give_review(actor=bob, request=request_one, decision="comment", body="Review last")
    page = client.get("/requests/1/")
    assert_strict_page(page)
    stream = _conversation(page.content.decode())
    order = ["Opening words", "Review first", "Comment after it", "Review last"]
    positions = [stream.index(text) for text in order]
    assert positions == sorted(positions)


def test_a_comment_with_htmx_answers_its_thread_and_replies_keep_working(
    client, alice, bob, request_one
):
    client.force_login(bob)
    started = client.post(
        "/threads/", {"anchor": "request:1", "body": "Why **now**?"}, headers={"HX-Request": "true"}
    )

    thread = Thread.objects.get()
    assert started.status_code == 200
    assert f'id="thread-{thread.pk}"' in started.content.decode()
    assert "<strong>now</strong>" in started.content.decode()
    page = client.get("/requests/1/").content.decode()
    assert 'hx-target="#conversation-stream"' in page and 'id="conversation-stream"' in page
    assert f'id="thread-{thread.pk}"' in page  # what its reply, edit and delete forms swap

    client.force_login(alice)
    replied = client.post(
        f"/threads/{thread.pk}/reply/", {"body": "Because"}, headers={"HX-Request": "true"}
    )
    assert replied.status_code == 200 and "Because" in replied.content.decode()
    stream = _conversation(client.get("/requests/1/").content.decode())
    assert stream.index("Why") < stream.index("Because")


def test_how_the_request_ended_is_in_the_conversation_with_who(client, alice, bob, request_one):
    services.give_review(actor=bob, request=request_one, decision="approve", body="Fine")
    services.merge(actor=bob, request=request_one)
    client.force_login(alice)
    stream = _conversation(client.get("/requests/1/").content.decode())
    assert "<strong>bob</strong> merged the request" in stream
    assert stream.index("Fine") < stream.index("merged the request")


def test_viewers_read_the_conversation_but_do_not_comment(client, people, alice, request_one):
    client.force_login(alice)
    client.post("/threads/", {"anchor": "request:1", "body": "For everyone to read"})
    client.force_login(people["victor"])

    page = client.get("/requests/1/").content.decode()
    refused = client.post("/threads/", {"anchor": "request:1", "body": "Me too"})

    assert "For everyone to read" in page and 'id="start-thread"' not in page
    assert refused.status_code == 403
    assert Comment.objects.count() == 1


def test_another_teams_request_is_not_found(client, people, request_one):
    client.force_login(people["mallory"])
    assert client.get("/requests/1/").status_code == 404
    assert client.post("/threads/", {"anchor": "request:1", "body": "Hi"}).status_code == 404
    mentionable = client.get("/api/v1/threads/mentionable/?anchor=request:1&prefix=")
    assert mentionable.status_code == 404
    assert not Thread.objects.exists()


def test_a_mention_in_a_review_notifies_once(client, people, bob, request_one):
    client.force_login(bob)
    body = "Looks fine, @carol please double-check; @carol @mallory"

    client.post("/requests/1/reviews/", {"decision": "comment", "body": body})
    client.post("/requests/1/reviews/", {"decision": "approve", "body": "@carol done"})

    mentions = Notification.objects.filter(event=Event.MENTION)
    assert [(m.recipient.username, m.url.split("#")[0]) for m in mentions] == [
        ("carol", "/requests/1/"),
        ("carol", "/requests/1/"),
    ]  # one per review that mentions her; mallory is not in the team
    first = Review.objects.filter(decision="comment").get()
    assert mentions.filter(url=f"/requests/1/#review-{first.pk}").count() == 1
    page = client.get("/requests/1/").content.decode()
    assert '<span class="mention">@carol</span>' in page
    review_box = re.search(r'<textarea[^>]*id="id_body"[^>]*>', page)
    assert review_box and "data-mentions=" in review_box.group(0)  # autocomplete there too


def test_a_mention_in_the_opening_message_is_highlighted_and_its_html_inert(
    client, alice, bob, teams
):
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model)
    version = ModelVersion.objects.select_related("model__team").get(number=1)
    message = "Ready, @bob? <script>alert(1)</script> <b onclick=x>bold</b> @mallory"
    services.open_request(actor=alice, version=version, to_stage="production", message=message)
    client.force_login(bob)

    page = _conversation(client.get("/requests/1/").content.decode())

    opening = page[page.index('id="opening"') :]
    assert '<span class="mention">@bob</span>' in opening
    assert "@mallory" in opening and '<span class="mention">@mallory' not in opening
    assert "<script>" not in page and "onclick" not in page
    assert Notification.objects.filter(event=Event.MENTION, recipient=bob).count() == 1


def test_mentioning_the_author_in_a_review_tells_them_once(bob, alice, request_one):
    services.give_review(actor=bob, request=request_one, decision="comment", body="@alice why?")
    assert Notification.objects.filter(recipient=alice).count() == 1


def test_the_api_gives_the_conversation_in_time_order(api_as, alice, bob, request_one):
    services.give_review(actor=bob, request=request_one, decision="request_changes", body="Fix")
    api = api_as(alice)
    started = api.post(
        "/api/v1/threads/", {"anchor": "request:1", "body": "Fixed it"}, format="json"
    )
    assert started.status_code == 201, started.content
    services.withdraw(actor=alice, request=request_one)

    answer = api.get("/api/v1/requests/1/")

    assert answer.status_code == 200
    conversation = answer.json()["conversation"]
    assert [(m["kind"], m["author"], m["body"]) for m in conversation] == [
        ("event", "alice", "Opening words"),
        ("review", "bob", "Fix"),
        ("comment", "alice", "Fixed it"),
        ("event", "alice", ""),
    ]
    assert conversation[0]["event"] == "opened" and conversation[-1]["event"] == "withdrawn"
    assert conversation[1]["decision"] == "request_changes"
    assert conversation[2]["thread"] == Thread.objects.get().pk
    assert [m["at"] for m in conversation] == sorted(m["at"] for m in conversation)
    assert answer.json()["reviews"][0]["body"] == "Fix"  # the earlier fields stay


def test_the_request_page_makes_as_many_queries_with_3_comments_as_with_30(
    client, alice, bob, request_one, django_assert_max_num_queries
):
    def comment(count):
        for n in range(count):
            client.post("/threads/", {"anchor": "request:1", "body": f"Comment {n}"})

    client.force_login(alice)
    comment(3)
    services.give_review(actor=bob, request=request_one, decision="comment", body="@alice hi")
    few = count_queries(client, "/requests/1/")
    assert few <= 14
    comment(27)
    thread = Thread.objects.first()
    for n in range(5):
        client.post(f"/threads/{thread.pk}/reply/", {"body": f"Reply {n}"})
    with django_assert_max_num_queries(few):
        page = client.get("/requests/1/")
    assert page.content.decode().count('class="comment"') == 35
    assert PromotionRequest.objects.count() == 1
