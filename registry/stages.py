"""The promotion state machine: which stage moves exist, who else must agree, who hears of them.

- `TRANSITIONS` is the whole table of moves; `services.set_stage()` applies one with
  conditional UPDATEs, so of two concurrent moves one wins and the other is a `StageConflict`.
- Gates: before a move, every registered gate is asked whether this actor may move this version
  there now, and is told how the move is made (`via`: "" directly by a person, "request" by a
  merged promotion request, "seed" by demo or benchmark seeding, never reachable over HTTP) and
  the reason given. Higher apps (reviews) register theirs in `AppConfig.ready()`; the registry
  never imports them. With no gate registered, every move the table allows goes through.
- Alias gates: before an alias is pointed at a version, every registered alias gate is asked
  whether it may (an alias an app loads can stand for a stage, e.g. `@champion` for
  production). `services.set_alias()` asks them, so the API, the pages and MLflow agree.
- `stage_moved`, `alias_changed` and `load_check_finished` are sent once the change is
  committed, for apps that notify or start evaluations.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import Signal

from vetted.api.errors import Conflict

from .models import Stage

TRANSITIONS: dict[str, frozenset[str]] = {
    Stage.NONE: frozenset({Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.ARCHIVED, Stage.NONE}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED, Stage.STAGING, Stage.NONE}),
    # Back to production is a rollback to an earlier version.
    Stage.ARCHIVED: frozenset({Stage.PRODUCTION, Stage.STAGING, Stage.NONE}),
}

# Sent after commit. stage_moved(version, from_stage, to_stage, actor, reason);
# alias_changed(model, alias, version or None when removed, actor, reason).
# load_check_finished(version, status): a version's load check ended (passed, failed, errored).
stage_moved = Signal()
alias_changed = Signal()
load_check_finished = Signal()


@dataclass(frozen=True)
class GateAnswer:
    allowed: bool
    reason: str = ""
    # Called by set_stage() once the move is made, inside its transaction: what the gate's app
    # records of a move it allowed (e.g. an emergency rollback) commits or rolls back with it.
    after_move: Callable[[], None] | None = None


ALLOW = GateAnswer(True)
# gate(actor=..., version=..., to_stage=..., via=..., reason=...) -> GateAnswer
Gate = Callable[..., GateAnswer]
_gates: dict[str, Gate] = {}
# alias_gate(actor=..., version=..., alias=..., reason=...) -> GateAnswer (after_move unused)
AliasGate = Callable[..., GateAnswer]
_alias_gates: dict[str, AliasGate] = {}


class StageGateDenied(PermissionDenied):
    """A gate said no: 403, with the gate's reason for the person who asked."""


class StageConflict(Conflict):
    """The version or the stage changed since the caller looked: 409, try again."""


def register_gate(name: str, gate: Gate) -> None:
    _gates[name] = gate


def unregister_gate(name: str) -> None:
    _gates.pop(name, None)


def check_gates(
    *, actor, version, to_stage: str, via: str = "", reason: str = ""
) -> list[Callable[[], None]]:
    """Raise StageGateDenied with every gate's reason if any gate refuses the move; else what the
    gates want done once it is made."""
    refusals = []
    then = []
    for name, gate in list(_gates.items()):
        answer = gate(actor=actor, version=version, to_stage=to_stage, via=via, reason=reason)
        if not answer.allowed:
            refusals.append(f"{name}: {answer.reason or 'not allowed now'}")
        elif answer.after_move is not None:
            then.append(answer.after_move)
    if refusals:
        raise StageGateDenied("This move is blocked. " + " ".join(refusals))
    return then


def register_alias_gate(name: str, gate: AliasGate) -> None:
    _alias_gates[name] = gate


def unregister_alias_gate(name: str) -> None:
    _alias_gates.pop(name, None)


def check_alias_gates(*, actor, version, alias: str, reason: str = "") -> None:
    """Raise StageGateDenied with every gate's reason if any gate refuses pointing `alias` at
    `version`."""
    refusals = []
    for name, gate in list(_alias_gates.items()):
        answer = gate(actor=actor, version=version, alias=alias, reason=reason)
        if not answer.allowed:
            refusals.append(f"{name}: {answer.reason or 'not allowed now'}")
    if refusals:
        raise StageGateDenied(f"Moving @{alias} is blocked. " + " ".join(refusals))


def check_transition(from_stage: str, to_stage: str) -> None:
    if to_stage not in Stage.values:
        raise ValidationError(f"Stage must be one of: {', '.join(Stage.values)}.")
    if to_stage not in TRANSITIONS[from_stage]:
        raise ValidationError(f"A version cannot move from {from_stage} to {to_stage}.")
