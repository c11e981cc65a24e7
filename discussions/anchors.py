"""What a thread hangs on: an anchor names a place by kind and id, and says which model it is about.

Apps register the kinds they own in their `AppConfig.ready()`: discussions registers "model" (id:
the model's name) and "version" (id: "<name>:<number>"); reviews registers "request", monitoring
"evaluation". `resolve(anchor_id)` answers the `Anchor` or None when there is no such thing;
whether the caller may see it is decided afterwards, from the anchor's model.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse

from registry.models import MODEL_NAME_PATTERN, ModelVersion, RegisteredModel


@dataclass(frozen=True)
class Anchor:
    model: RegisteredModel  # with its team: who may read and write follows it
    url: str  # the page that shows the threads, where a browser without JavaScript returns
    title: str  # "fraud-detector v3", in notifications and the audit log


Resolver = Callable[[str], Anchor | None]

_resolvers: dict[str, Resolver] = {}

KIND_PATTERN = re.compile(r"[a-z]{1,20}")
MAX_ANCHOR_ID = 200


class UnknownAnchorKind(ValueError):
    pass


def register_anchor(kind: str, *, resolve: Resolver) -> None:
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"An anchor kind is 1 to 20 lowercase letters, not {kind!r}.")
    _resolvers[kind] = resolve


def kinds() -> list[str]:
    return sorted(_resolvers)


def split(anchor: str) -> tuple[str, str]:
    """ "version:fraud-detector:3" → ("version", "fraud-detector:3"); UnknownAnchorKind if the
    kind is not registered."""
    kind, _, anchor_id = anchor.partition(":")
    if kind not in _resolvers:
        raise UnknownAnchorKind(
            f"Unknown anchor {anchor[:60]!r}: write it as kind:id, the kind one of "
            f"{', '.join(kinds())} (e.g. model:fraud-detector or version:fraud-detector:3)."
        )
    return kind, anchor_id


def resolve(kind: str, anchor_id: str) -> Anchor | None:
    resolver = _resolvers.get(kind)
    if resolver is None or not anchor_id or len(anchor_id) > MAX_ANCHOR_ID:
        return None
    return resolver(anchor_id)


def model_anchor(model: RegisteredModel) -> Anchor:
    return Anchor(model, reverse("registry:model_detail", args=[model.name]), model.name)


def version_anchor(version: ModelVersion) -> Anchor:
    name = version.model.name
    url = reverse("registry:version_detail", args=[name, version.number])
    return Anchor(version.model, url, f"{name} v{version.number}")


def _model(anchor_id: str) -> Anchor | None:
    if not re.fullmatch(MODEL_NAME_PATTERN, anchor_id):
        return None
    model = RegisteredModel.objects.select_related("team").filter(name=anchor_id).first()
    return None if model is None else model_anchor(model)


def _version(anchor_id: str) -> Anchor | None:
    name, _, number = anchor_id.rpartition(":")
    if not re.fullmatch(MODEL_NAME_PATTERN, name) or not re.fullmatch(r"[1-9][0-9]{0,8}", number):
        return None
    version = (
        ModelVersion.objects.select_related("model__team")
        .filter(model__name=name, number=int(number))
        .first()
    )
    return None if version is None else version_anchor(version)


def register_registry_anchors() -> None:
    register_anchor("model", resolve=_model)
    register_anchor("version", resolve=_version)
