"""What other apps build on: comments of a place in time order, threads with their comments in
a fixed number of queries, and anchors of their own kinds (as reviews adds "request")."""

import pytest
from django.urls import reverse

from discussions import anchors, selectors, services

from .page_factories import pushed_version, registered_model

NAME = "fraud-detector"


@pytest.fixture
def model(people, teams):
    model = registered_model(people["alice"], teams["fraud"], NAME)
    pushed_version(people["alice"], model)
    return model


def test_comments_on_a_place_come_in_time_order_across_threads(people, model):
    bob, carol = people["bob"], people["carol"]
    first = services.start_thread(author=bob, kind="model", anchor_id=NAME, body="one")
    second = services.start_thread(author=carol, kind="model", anchor_id=NAME, body="two")
    services.reply(author=carol, thread=first, body="three")
    services.reply(author=bob, thread=second, body="four")
    services.start_thread(author=bob, kind="version", anchor_id=f"{NAME}:1", body="elsewhere")

    comments = list(selectors.comments_on("model", NAME))
    assert [c.body for c in comments] == ["one", "two", "three", "four"]
    assert [c.thread_id for c in comments] == [first.pk, second.pk, first.pk, second.pk]


def test_threads_on_a_place_take_two_queries(people, model, django_assert_num_queries):
    for number in range(3):
        thread = services.start_thread(
            author=people["bob"], kind="model", anchor_id=NAME, body=f"t{number}"
        )
        services.reply(author=people["carol"], thread=thread, body="r")
    with django_assert_num_queries(2):
        threads = list(selectors.threads_on("model", NAME))
        authors = [[c.author.username for c in t.comments.all()] for t in threads]
    assert authors == [["bob", "carol"]] * 3


def test_another_app_hangs_threads_on_its_own_kind_of_place(people, model, monkeypatch):
    """As reviews registers "request": here, a place named by a version's id."""

    def resolve(anchor_id: str):
        version = model.versions.filter(pk=int(anchor_id)).first() if anchor_id.isdigit() else None
        if version is None:
            return None
        url = reverse("registry:version_detail", args=[NAME, version.number])
        return anchors.Anchor(model=model, url=url, title=f"review of {NAME} v1")

    monkeypatch.setattr(anchors, "_resolvers", dict(anchors._resolvers))  # undone after the test
    anchors.register_anchor("review", resolve=resolve)
    version = model.versions.get()
    thread = services.start_thread(
        author=people["bob"], kind="review", anchor_id=str(version.pk), body="@carol LGTM?"
    )
    assert thread.anchor == f"review:{version.pk}" and thread.model == model
    note = people["carol"].notifications.get()
    assert note.title == f"bob mentioned you on review of {NAME} v1"
    assert note.url == f"/models/{NAME}/versions/1/#comment-{thread.comments.get().pk}"
