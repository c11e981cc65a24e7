"""Threads on the model and version pages: forms that work with htmx (a fragment swapped in
place) and without JavaScript (back to the page), rendering that keeps hostile text inert."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from audit.models import AuditEvent
from discussions import services
from discussions.models import Comment, Thread

from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model

NAME = "fraud-detector"
MODEL_PAGE = f"/models/{NAME}/"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def model(people, teams):
    model = registered_model(people["alice"], teams["fraud"], NAME)
    pushed_version(people["alice"], model)
    return model


@pytest.fixture
def thread(people, model):
    return services.start_thread(
        author=people["bob"], kind="model", anchor_id=NAME, body="Is v1 ready for staging?"
    )


def first_comment(thread):
    return thread.comments.order_by("id").first()


def test_the_model_page_shows_threads_and_the_form_to_start_one(client, people, thread):
    services.reply(author=people["carol"], thread=thread, body="Latency is fine.")
    client.force_login(people["carol"])
    response = client.get(MODEL_PAGE)
    html = response.content.decode()
    assert 'id="discussion"' in html and "Is v1 ready for staging?" in html
    assert "Latency is fine." in html and "Start a thread" in html
    assert f'id="reply-{thread.pk}"' in html
    assert "/static/discussions/mentions.js" in html
    assert_strict_page(response)


def test_a_viewer_reads_threads_without_forms(client, people, thread):
    client.force_login(people["victor"])
    html = client.get(MODEL_PAGE).content.decode()
    assert "Is v1 ready for staging?" in html
    assert "Start a thread" not in html and f'id="reply-{thread.pk}"' not in html
    assert "Resolve" not in html and "Viewers read threads" in html


def test_the_version_page_has_its_own_threads(client, people, thread):
    services.start_thread(
        author=people["bob"], kind="version", anchor_id=f"{NAME}:1", body="Only about v1."
    )
    client.force_login(people["bob"])
    version_html = client.get(f"{MODEL_PAGE}versions/1/").content.decode()
    assert "Only about v1." in version_html and "Is v1 ready for staging?" not in version_html
    assert f'value="version:{NAME}:1"' in version_html


def test_starting_a_thread_without_javascript_returns_to_the_page(client, people, model):
    client.force_login(people["bob"])
    response = client.post("/threads/", {"anchor": f"model:{NAME}", "body": "New *idea*."})
    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{MODEL_PAGE}#thread-{thread.pk}"
    assert "<em>idea</em>" in client.get(MODEL_PAGE).content.decode()


def test_starting_a_thread_with_htmx_answers_the_thread_alone(client, people, model):
    client.force_login(people["bob"])
    response = client.post(
        "/threads/", {"anchor": f"version:{NAME}:1", "body": "On v1."}, headers=HTMX
    )
    thread = Thread.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<article class="thread" id="thread-{thread.pk}"')
    assert "On v1." in html and "<html" not in html
    assert thread.anchor == f"version:{NAME}:1"


def test_a_reply_with_htmx_answers_the_updated_thread(client, people, thread):
    client.force_login(people["carol"])
    response = client.post(f"/threads/{thread.pk}/reply/", {"body": "Agreed."}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Is v1 ready for staging?" in html and "Agreed." in html
    assert html.index("Is v1 ready") < html.index("Agreed.")


def test_a_reply_without_javascript_goes_to_the_new_comment(client, people, thread):
    client.force_login(people["carol"])
    response = client.post(f"/threads/{thread.pk}/reply/", {"body": "Agreed."})
    comment = Comment.objects.get(body="Agreed.")
    assert response["Location"] == f"{MODEL_PAGE}#comment-{comment.pk}"


def test_an_empty_reply_with_htmx_shows_why_beside_the_form(client, people, thread):
    client.force_login(people["carol"])
    response = client.post(
        f"/threads/{thread.pk}/reply/",
        {"body": "   "},
        headers={**HTMX, "HX-Trigger": f"reply-{thread.pk}"},
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == f"#reply-{thread.pk}-errors"
    assert "cannot be empty" in response.content.decode()
    assert thread.comments.count() == 1


def test_an_empty_reply_without_javascript_comes_back_with_a_message(client, people, thread):
    client.force_login(people["carol"])
    response = client.post(f"/threads/{thread.pk}/reply/", {"body": ""})
    assert response["Location"] == f"{MODEL_PAGE}#thread-{thread.pk}"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Write something: a comment cannot be empty."
    ]
    too_long = client.post(f"/threads/{thread.pk}/reply/", {"body": "x" * 20_001})
    assert too_long.status_code == 302 and thread.comments.count() == 1


def test_bob_edits_his_comment_and_the_page_says_edited(client, people, thread):
    comment = first_comment(thread)
    client.force_login(people["bob"])
    edit = f"/threads/{thread.pk}/comments/{comment.pk}/edit/"
    response = client.post(edit, {"body": "Is v1 ready for production?"}, headers=HTMX)
    html = response.content.decode()
    assert "Is v1 ready for production?" in html
    history = f"/threads/{thread.pk}/comments/{comment.pk}/history/"
    assert re.search(rf'href="{history}"[^>]*>edited</a>', html)

    page = client.get(history)
    text = page.content.decode()
    assert page.status_code == 200
    assert text.index("ready for production") < text.index("ready for staging")
    assert_strict_page(page)


def test_an_edit_without_javascript_returns_to_the_comment(client, people, thread):
    comment = first_comment(thread)
    client.force_login(people["bob"])
    response = client.post(
        f"/threads/{thread.pk}/comments/{comment.pk}/edit/", {"body": "Reworded."}
    )
    assert response["Location"] == f"{MODEL_PAGE}#comment-{comment.pk}"
    comment.refresh_from_db()
    assert comment.body == "Reworded." and comment.edited_at is not None


def test_deleting_leaves_a_tombstone_in_place(client, people, thread):
    services.reply(author=people["carol"], thread=thread, body="Second.")
    comment = first_comment(thread)
    client.force_login(people["alice"])  # the team's owner
    response = client.post(f"/threads/{thread.pk}/comments/{comment.pk}/delete/", headers=HTMX)
    html = response.content.decode()
    assert "comment deleted" in html and "Is v1 ready" not in html
    assert html.index("comment deleted") < html.index("Second.")
    assert client.get(f"/threads/{thread.pk}/comments/{comment.pk}/history/").status_code == 404


def test_resolve_and_reopen_with_and_without_javascript(client, people, thread):
    client.force_login(people["carol"])
    resolved = client.post(f"/threads/{thread.pk}/resolve/", headers=HTMX)
    assert "Resolved" in resolved.content.decode() and "Reopen" in resolved.content.decode()
    reopened = client.post(f"/threads/{thread.pk}/reopen/")
    assert reopened["Location"] == f"{MODEL_PAGE}#thread-{thread.pk}"
    thread.refresh_from_db()
    assert thread.resolved_at is None
    verbs = AuditEvent.objects.filter(object_type="thread").values_list("verb", flat=True)
    assert sorted(verbs) == ["thread.reopened", "thread.resolved", "thread.started"]


HOSTILE = (
    "<script>alert('x')</script><img src=x onerror=alert(1)>"
    '[click](javascript:alert(1)) <a href="javascript:alert(2)" onclick="alert(3)">a</a>'
    '<iframe src="https://evil.example"></iframe><style>body{display:none}</style>'
    "<b onmouseover=alert(4)>bold</b>"
)


def test_script_and_html_in_comments_render_inert(client, people, thread):
    services.reply(author=people["bob"], thread=thread, body=HOSTILE)
    client.force_login(people["carol"])  # no edit form holding bob's raw text
    response = client.get(MODEL_PAGE)
    html = response.content.decode()
    comment = html[html.index("comment__body") :]
    for inert in ("<script>alert", "onerror", "javascript:", "onclick", "<iframe", "onmouseover"):
        assert inert not in html, inert
    assert "<style>" not in comment and "<b>bold</b>" in comment
    assert_strict_page(response)


def test_the_edit_form_holds_the_raw_text_escaped(client, people, thread):
    services.reply(author=people["bob"], thread=thread, body="</textarea><script>alert(1)</script>")
    client.force_login(people["bob"])
    html = client.get(MODEL_PAGE).content.decode()
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html


def test_mentions_of_members_are_highlighted_and_others_left_plain(client, people, model):
    services.start_thread(
        author=people["bob"],
        kind="model",
        anchor_id=NAME,
        body="@carol please check; @mallory and @nobody are not here. `@victor` is code.",
    )
    client.force_login(people["alice"])
    html = client.get(MODEL_PAGE).content.decode()
    assert '<span class="mention">@carol</span>' in html
    assert "@mallory and @nobody" in html and "<code>@victor</code>" in html


def test_forms_post_only_with_the_csrf_token(people, thread):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["carol"])
    response = browser.post(f"/threads/{thread.pk}/reply/", {"body": "Forged."})
    assert response.status_code == 403
    assert thread.comments.count() == 1


def test_an_unknown_place_is_not_found(client, people, model):
    client.force_login(people["bob"])
    for anchor in ("model:no-such", "dataset:x", "", f"version:{NAME}:9"):
        assert client.post("/threads/", {"anchor": anchor, "body": "x"}).status_code == 404
    assert not Thread.objects.exists()


def test_the_model_page_takes_the_same_queries_for_2_or_10_threads(client, people, model):
    def add_threads(count):
        for number in range(count):
            thread = services.start_thread(
                author=people["bob"], kind="model", anchor_id=NAME, body=f"Thread {number} @carol"
            )
            services.reply(author=people["carol"], thread=thread, body="reply @bob")
            services.resolve_thread(actor=people["alice"], thread=thread)

    client.force_login(people["alice"])
    add_threads(2)
    few = count_queries(client, MODEL_PAGE)
    add_threads(8)
    assert count_queries(client, MODEL_PAGE) == few
    thread = Thread.objects.first()
    history = f"/threads/{thread.pk}/comments/{first_comment(thread).pk}/history/"
    assert count_queries(client, history) <= 10


def test_a_replayed_form_posts_once(client, people, thread):
    client.force_login(people["carol"])
    for _ in range(2):
        response = client.post(f"/threads/{thread.pk}/reply/", {"body": "Agreed."})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "You just posted this same comment here; it was not posted again."
    ]
    assert thread.comments.filter(body="Agreed.").count() == 1
    services.reply(author=people["bob"], thread=thread, body="Sure?")
    client.post(f"/threads/{thread.pk}/reply/", {"body": "Agreed."})  # after bob: a new answer
    assert thread.comments.filter(body="Agreed.").count() == 2

    start = {"anchor": f"model:{NAME}", "body": "A new topic."}
    client.post("/threads/", start)
    client.post("/threads/", start)
    assert Thread.objects.count() == 2
