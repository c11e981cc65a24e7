"""Each verb of the log reads as words on the pages and in the export; an unknown one still does."""

import pytest

from audit import verbs

OTHER_APPS_VERBS = {
    "request.opened": "opened a promotion request",
    "review.dismissed": "dismissed a review",
    "request.merged": "merged a promotion request",
    "request.withdrawn": "withdrew a promotion request",
    "request.closed": "closed a promotion request",
    "policy.changed": "changed a review policy",
    "stage.rollback": "rolled production back",
    "comment.posted": "posted a comment",
    "comment.edited": "edited a comment",
    "comment.deleted": "deleted a comment",
    "thread.resolved": "resolved a thread",
    "thread.reopened": "reopened a thread",
    "preferences.changed": "changed notification preferences",
    "dataset.uploaded": "uploaded a dataset",
}


@pytest.mark.parametrize(("verb", "words"), OTHER_APPS_VERBS.items())
def test_the_verbs_of_reviews_discussions_and_notifications_read_as_words(verb, words):
    assert verbs.describe(verb, None, {"anything": 1}) == words
    assert verbs.label(verb) == words


@pytest.mark.parametrize(
    ("verb", "before", "after", "words"),
    [
        ("stage.moved", {"stage": "none"}, {"stage": "staging"}, "moved the version to Staging"),
        (
            "dataset.uploaded",
            None,
            {"kind": "batch", "rows": 1200},
            "uploaded a production batch (1,200 rows)",
        ),
        (
            "stage.moved",
            {"stage": "production"},
            {"stage": "archived", "replaced_by": 4},
            "archived the version (v4 replaced it)",
        ),
        (
            "stage.moved",
            {"stage": "archived"},
            {"stage": "production", "rollback": True},
            "rolled production back to this version",
        ),
        ("alias.set", None, {"version": 1}, "pointed the alias at v1"),
        ("alias.set", {"version": 1}, {"version": 2}, "pointed the alias from v1 at v2"),
        ("alias.removed", {"version": 2}, None, "removed an alias"),
        ("load_check.finished", None, {"status": "failed"}, "finished a load check: failed"),
        ("review.given", None, {"decision": "approve"}, "approved a promotion request"),
        (
            "review.given",
            None,
            {"decision": "request_changes"},
            "requested changes on a promotion request",
        ),
        ("review.given", None, {"decision": "comment"}, "commented on a promotion request"),
        ("review.given", None, {"decision": "shrug"}, "reviewed a promotion request"),
        ("version.registered", None, {"files": 3}, "registered a version"),
        ("token.created", None, None, "created an API token"),
    ],
)
def test_what_changed_refines_the_words(verb, before, after, words):
    assert verbs.describe(verb, before, after) == words


def test_an_unknown_verb_reads_as_its_own_words():
    assert verbs.describe("evaluation.finished", None, None) == "evaluation finished"
    assert verbs.label("drift_alert.raised") == "drift alert raised"


def test_json_of_an_unexpected_shape_falls_back_to_the_verb():
    assert (
        verbs.describe("stage.moved", ["not", "a", "dict"], "text") == "moved a version to a stage"
    )
    assert verbs.describe("alias.set", None, {"version": None}) == "pointed an alias at a version"
