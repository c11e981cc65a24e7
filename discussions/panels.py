"""The threads of a model and of a version, shown on their pages through the registry's panels."""

from registry.panels import Panel, register_panel

from . import anchors, selectors

TEMPLATE = "discussions/_panel.html"


def _panel(kind: str, anchor: anchors.Anchor, anchor_id: str, request) -> dict:
    return {
        "threads": selectors.threads_on(kind, anchor_id),
        "anchor_kind": kind,
        "anchor_id": anchor_id,
        "discussion": selectors.discussion(request.user, kind, anchor_id, anchor),
    }


def model_threads(*, request, model, version=None) -> dict:
    return _panel("model", anchors.model_anchor(model), model.name, request)


def version_threads(*, request, model, version) -> dict:
    anchor_id = f"{model.name}:{version.number}"
    return _panel("version", anchors.version_anchor(version), anchor_id, request)


def register_panels() -> None:
    # After the page's own sections and the reviews' requests: the conversation comes last.
    register_panel("model", Panel("discussions", TEMPLATE, model_threads, order=500))
    register_panel("version", Panel("discussions", TEMPLATE, version_threads, order=500))
