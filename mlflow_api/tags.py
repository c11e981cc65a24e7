"""MLflow's key-value tags on registered models and versions, set and deleted in one place.

The protocol's handlers and `import_mlflow` both come here, so every change is checked by the
same rules and recorded in the audit log the same way. Who may tag is `require_tagging`'s rule,
which the handlers apply (the importer acts as a user it has checked already).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.services import record
from registry import access
from registry.access import Action
from registry.models import ModelVersion, RegisteredModel
from registry.services import version_audit_name

from .models import ModelVersionTag, RegisteredModelTag, VersionSource
from .wire import check_tag, invalid

VETTED_TAG_PREFIX = "vetted."  # tags Vetted writes itself (vetted.load_check): read-only


def require_tagging(user, model: RegisteredModel) -> None:
    """MLflow's tags are a model's metadata, which CI sets as often as people do: whoever may
    push versions of the model or edit it may tag it and its versions."""
    if not (access.can(user, Action.EDIT, model) or access.can(user, Action.PUSH, model)):
        raise PermissionDenied(
            "Your role does not allow tagging this model or its versions (data scientists,"
            " DevOps and owners may)."
        )


def check_version_tag(key: str, value: str) -> None:
    """A version tag a client may write: MLflow's rules for tags, and no `vetted.*` key."""
    check_tag(key, value)
    if key.startswith(VETTED_TAG_PREFIX):
        raise invalid(f"Tags starting with {VETTED_TAG_PREFIX!r} are Vetted's own and read-only.")


@transaction.atomic
def set_model_tag(*, actor, model: RegisteredModel, key: str, value: str) -> bool:
    """Set one tag; False when it already had that value (nothing recorded)."""
    check_tag(key, value)
    previous = RegisteredModelTag.objects.filter(model=model, key=key).first()
    if previous is not None and previous.value == value:
        return False
    RegisteredModelTag.objects.update_or_create(model=model, key=key, defaults={"value": value})
    _record_model_tag(actor, model, key, previous.value if previous else None, value)
    return True


@transaction.atomic
def delete_model_tag(*, actor, model: RegisteredModel, key: str) -> None:
    """MLflow deletes a tag that is not there without a word, and so does this."""
    previous = RegisteredModelTag.objects.filter(model=model, key=key).first()
    if previous is not None:
        previous.delete()
        _record_model_tag(actor, model, key, previous.value, None)


def _record_model_tag(actor, model: RegisteredModel, key: str, before, after) -> None:
    record(
        actor=actor,
        verb="model.edited",
        object_type="model",
        object_id=model.pk,
        object_name=model.name,
        team=model.team,
        model_name=model.name,
        before=None if before is None else {"mlflow_tags": {key: before}},
        after=None if after is None else {"mlflow_tags": {key: after}},
    )


@transaction.atomic
def set_version_tag(*, actor, version: ModelVersion, key: str, value: str) -> bool:
    """Set one tag; False when it already had that value (nothing recorded)."""
    check_version_tag(key, value)
    previous = ModelVersionTag.objects.filter(version=version, key=key).first()
    if previous is not None and previous.value == value:
        return False
    ModelVersionTag.objects.update_or_create(version=version, key=key, defaults={"value": value})
    touch(version)
    _record_version_tag(
        actor,
        "version.tag_set",
        version,
        before={key: previous.value} if previous else None,
        after={key: value},
    )
    return True


@transaction.atomic
def delete_version_tag(*, actor, version: ModelVersion, key: str) -> None:
    check_version_tag(key, "")
    previous = ModelVersionTag.objects.filter(version=version, key=key).first()
    if previous is not None:
        previous.delete()
        touch(version)
        _record_version_tag(actor, "version.tag_deleted", version, before={key: previous.value})


def touch(version: ModelVersion) -> None:
    """MLflow's last_updated_timestamp of a version registered through it."""
    VersionSource.objects.filter(version=version).update(updated_at=timezone.now())


def _record_version_tag(actor, verb: str, version: ModelVersion, **changes) -> None:
    record(
        actor=actor,
        verb=verb,
        object_type="version",
        object_id=version.pk,
        object_name=version_audit_name(version),
        team=version.model.team,
        model_name=version.model.name,
        **changes,
    )
