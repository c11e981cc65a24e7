"""The model page: description, versions table, the edit, stage and alias forms."""

import pytest
from django.urls import reverse

from registry import services
from registry.models import ModelAlias, Stage

from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model


@pytest.fixture
def model(people, teams):
    alice = people["alice"]
    model = registered_model(
        alice,
        teams["fraud"],
        description="# Fraud\n\nScores **card** payments.<script>alert(1)</script>"
        '<a href="javascript:alert(1)" onclick="x()" style="color:red">x</a>',
        tags=["cards", "tabular"],
        task_type="classification",
    )
    pushed_version(alice, model, metrics={"auc": 0.91, "f1": 0.8}, git_commit="a1b2c3d4e5f6a7b8")
    pushed_version(alice, model, metrics={"auc": 0.934567891})
    return model


def url(model):
    return reverse("registry:model_detail", args=[model.name])


def test_it_shows_the_model_and_its_versions(client, alice, model):
    client.force_login(alice)
    response = client.get(url(model))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Fraud</h1>" in html and "<strong>card</strong>" in html
    assert "Classification" in html and "cards" in html and "tabular" in html
    assert ">v1</a>" in html and ">v2</a>" in html
    assert "0.934568" in html and "<code>a1b2c3d4</code>" in html
    assert_strict_page(response)


def test_it_renders_the_description_without_scripts_handlers_or_javascript_links(
    client, people, model
):
    client.force_login(people["carol"])  # no edit form, which holds the raw text escaped
    html = client.get(url(model)).content.decode()
    assert '<a rel="noopener noreferrer">x</a>' in html
    assert "alert(1)" not in html and "onclick" not in html and "javascript:" not in html


def test_it_is_not_found_for_mallory(client, people, model):
    client.force_login(people["mallory"])
    assert client.get(url(model)).status_code == 404
    assert client.get(reverse("registry:model_detail", args=["no-such"])).status_code == 404


@pytest.mark.parametrize(
    "user, edit, stage, push",
    [
        ("alice", True, True, True),
        ("bob", False, True, True),
        ("carol", False, False, False),
        ("victor", False, False, False),
    ],
)
def test_it_shows_only_the_forms_the_role_allows(client, people, model, user, edit, stage, push):
    client.force_login(people[user])
    html = client.get(url(model)).content.decode()
    assert ("Edit description and tags" in html) is edit
    assert (reverse("registry:version_stage", args=[model.name, 1]) in html) is stage
    assert (reverse("registry:version_push", args=[model.name]) in html) is push
    assert "Compare" in html


def test_alice_edits_the_description_and_tags(client, alice, model):
    client.force_login(alice)
    edit = reverse("registry:model_edit", args=[model.name])
    data = {"description": "Now *better*.", "tags": "cards, new-tag", "task_type": "ranking"}
    response = client.post(edit, data)
    assert response.status_code == 302
    html = client.get(url(model)).content.decode()
    assert "<em>better</em>" in html and "Ranking" in html
    assert '<span class="chip">new-tag</span>' in html
    assert '<span class="chip">tabular</span>' not in html


def test_the_edit_form_shows_the_services_validation_error(client, alice, model):
    client.force_login(alice)
    edit = reverse("registry:model_edit", args=[model.name])
    data = {"description": "kept", "tags": "bad tag!", "task_type": "other"}
    response = client.post(edit, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Tag &#x27;bad tag!&#x27;: use letters, digits, dashes and underscores." in html
    assert '<details class="disclosure" open>' in html


def test_carol_may_not_edit(client, people, model):
    client.force_login(people["carol"])
    edit = reverse("registry:model_edit", args=[model.name])
    assert client.post(edit, {"description": "x", "task_type": "other"}).status_code == 403
    model.refresh_from_db()
    assert model.description.startswith("# Fraud")


def test_bob_archives_a_version_on_the_model_page(client, bob, model):
    client.force_login(bob)
    stage = reverse("registry:version_stage", args=[model.name, 2])
    response = client.post(stage, {"stage": "archived", "next": url(model)})
    assert response.status_code == 302 and response["Location"] == url(model)
    assert model.versions.get(number=2).stage == Stage.ARCHIVED
    html = client.get(url(model)).content.decode()
    assert "Version 2 is now in Archived." in html


def test_a_stage_form_refuses_next_urls_to_other_sites(client, bob, model):
    client.force_login(bob)
    stage = reverse("registry:version_stage", args=[model.name, 1])
    response = client.post(stage, {"stage": "archived", "next": "https://evil.example/"})
    assert response["Location"] == reverse("registry:version_detail", args=[model.name, 1])


def test_carol_and_mallory_may_not_change_stages(client, people, model):
    client.force_login(people["carol"])
    stage = reverse("registry:version_stage", args=[model.name, 1])
    assert client.post(stage, {"stage": "production"}).status_code == 403
    client.force_login(people["mallory"])
    assert client.post(stage, {"stage": "production"}).status_code == 404


def test_bob_sets_and_removes_an_alias(client, bob, model):
    client.force_login(bob)
    set_alias = reverse("registry:alias_set", args=[model.name, 1])
    assert client.post(set_alias, {"alias": "champion"}).status_code == 302
    assert ModelAlias.objects.get(model=model, name="champion").version.number == 1
    html = client.get(url(model)).content.decode()
    assert "@champion" in html
    remove = reverse("registry:alias_delete", args=[model.name, "champion"])
    assert client.post(remove).status_code == 302
    assert not ModelAlias.objects.filter(model=model).exists()
    assert client.post(remove).status_code == 404


def test_a_reserved_alias_is_refused_with_the_services_message(client, bob, model):
    client.force_login(bob)
    set_alias = reverse("registry:alias_set", args=[model.name, 1])
    response = client.post(set_alias, {"alias": "production"}, follow=True)
    assert "&#x27;production&#x27; is reserved; pick another alias name." in (
        response.content.decode()
    )
    assert not ModelAlias.objects.exists()


def test_victor_may_not_set_or_remove_aliases(client, people, bob, model):
    services.set_alias(actor=bob, version=model.versions.get(number=1), alias="champion")
    client.force_login(people["victor"])
    set_alias = reverse("registry:alias_set", args=[model.name, 1])
    remove = reverse("registry:alias_delete", args=[model.name, "champion"])
    assert client.post(set_alias, {"alias": "other"}).status_code == 403
    assert client.post(remove).status_code == 403
    assert ModelAlias.objects.filter(name="champion").exists()


def test_it_runs_the_same_number_of_queries_for_3_or_30_versions(client, alice, bob, teams):
    model = registered_model(alice, teams["fraud"], "many", tags=["a", "b", "c"])

    def add_versions(count):
        for _ in range(count):
            version = pushed_version(alice, model, metrics={"auc": 0.9}, params={"C": 1})
            services.set_alias(actor=bob, version=version, alias=f"v-{version.number}")

    client.force_login(alice)
    add_versions(3)
    few = count_queries(client, url(model))
    add_versions(27)
    assert count_queries(client, url(model)) == few
