"""Sections that higher apps add to the model and version pages without the registry importing them.

An app registers a `Panel` in its `AppConfig.ready()` (reviews: open requests; discussions:
threads; notifications: the watch button). The page asks each panel for its context with
`context(request=, model=, version=)` (version is None on the model page) and includes its
template where `slot` says: "main" below the page's own sections, "side" at the foot of the
side column. A panel whose context is None is left out (nothing to show to this person).
A `Tab` adds a page of the model beside Overview and History (monitoring: its Monitoring tab).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Page = Literal["model", "version"]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[..., dict | None]
    slot: Literal["main", "side"] = "main"
    order: int = 100


@dataclass(frozen=True)
class ShownPanel:
    name: str
    template: str
    data: dict


_panels: dict[Page, dict[str, Panel]] = {"model": {}, "version": {}}


def register_panel(page: Page, panel: Panel) -> None:
    _panels[page][panel.name] = panel


def unregister_panel(page: Page, name: str) -> None:
    _panels[page].pop(name, None)


def panels_for(page: Page, *, request, model, version=None) -> dict[str, list[ShownPanel]]:
    """The panels to show, by slot, each with the context its template reads as `panel.data`."""
    shown: dict[str, list[ShownPanel]] = {"main": [], "side": []}
    for panel in sorted(_panels[page].values(), key=lambda p: (p.order, p.name)):
        data = panel.context(request=request, model=model, version=version)
        if data is not None:
            shown[panel.slot].append(ShownPanel(panel.name, panel.template, data))
    return shown


@dataclass(frozen=True)
class Tab:
    name: str  # what the page passes as `current` to registry/_model_tabs.html
    label: str
    url_name: str  # reversed with the model's name
    order: int = 100


_tabs: dict[str, Tab] = {}


def register_tab(tab: Tab) -> None:
    _tabs[tab.name] = tab


def model_tabs() -> list[Tab]:
    return sorted(_tabs.values(), key=lambda tab: (tab.order, tab.name))
