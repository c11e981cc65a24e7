"""What each verb of the log means, in words a person reads on the pages and in the CSV export.

The log is the whole product's, so its wording lives here, for every app's verbs. A verb not
listed (a newer app's) still reads as its own words ("evaluation finished"), never as nothing.
"""

from typing import Any

LABELS = {
    "model.created": "created the model",
    "model.edited": "edited the model",
    "model.deleted": "deleted the model",
    "model.renamed": "renamed the model",
    "version.registered": "registered a version",
    "stage.moved": "moved a version to a stage",
    "stage.rollback": "rolled production back",
    "alias.set": "pointed an alias at a version",
    "alias.removed": "removed an alias",
    "token.created": "created an API token",
    "token.revoked": "revoked an API token",
    "load_check.queued": "queued a load check",
    "load_check.finished": "finished a load check",
    "request.opened": "opened a promotion request",
    "review.given": "reviewed a promotion request",
    "review.dismissed": "dismissed a review",
    "request.merged": "merged a promotion request",
    "request.withdrawn": "withdrew a promotion request",
    "request.closed": "closed a promotion request",
    "policy.changed": "changed a review policy",
    "comment.posted": "posted a comment",
    "comment.edited": "edited a comment",
    "comment.deleted": "deleted a comment",
    "thread.resolved": "resolved a thread",
    "thread.reopened": "reopened a thread",
    "preferences.changed": "changed notification preferences",
    "monitor.created": "set up a monitor",
    "monitor.edited": "changed a monitor",
    "monitor.deleted": "deleted a monitor",
    "monitoring_settings.changed": "changed the monitoring settings",
    "alert.acknowledged": "acknowledged an alert",
    "alert.muted": "muted an alert",
    "dataset.uploaded": "uploaded a dataset",
}

STAGES = {"none": "no stage", "staging": "Staging", "production": "Production"}
DECISIONS = {
    "approve": "approved a promotion request",
    "request_changes": "requested changes on a promotion request",
    "comment": "commented on a promotion request",
}

DATASET_KINDS = {
    "reference": "reference data",
    "evaluation": "evaluation data",
    "batch": "a production batch",
}


def label(verb: str) -> str:
    """The verb in words, the same for each of its events: what the verb filter lists."""
    return LABELS.get(verb) or verb.replace(".", " ").replace("_", " ")


def describe(verb: str, before: Any, after: Any) -> str:
    """One event in words, using what changed where that says more than the verb alone.

    `before` and `after` are whatever JSON the recording service stored: read defensively.
    """
    after = after if isinstance(after, dict) else {}
    before = before if isinstance(before, dict) else {}
    if verb == "stage.moved" and after.get("stage") == "archived":
        replaced_by = after.get("replaced_by")
        return f"archived the version (v{replaced_by} replaced it)" if replaced_by else "archived"
    if verb == "stage.moved" and after.get("rollback"):
        return "rolled production back to this version"
    if verb == "stage.moved" and after.get("stage") in STAGES:
        return f"moved the version to {STAGES[after['stage']]}"
    if verb == "alias.set" and isinstance(after.get("version"), int):
        moved = f"from v{before['version']} " if isinstance(before.get("version"), int) else ""
        return f"pointed the alias {moved}at v{after['version']}"
    if verb == "load_check.finished" and after.get("status"):
        return f"finished a load check: {after['status']}"
    if verb == "review.given" and after.get("decision") in DECISIONS:
        return DECISIONS[after["decision"]]
    if verb == "dataset.uploaded" and after.get("kind") in DATASET_KINDS:
        rows = f" ({after['rows']:,} rows)" if isinstance(after.get("rows"), int) else ""
        return f"uploaded {DATASET_KINDS[after['kind']]}{rows}"
    return label(verb)
