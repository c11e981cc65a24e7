"""Reviews listening to the registry's domain events (sent after the change committed)."""

from . import services


def stage_moved(sender, *, version, **event) -> None:
    """A stage move can change what "not worse than production" compares with: approvals of the
    model's open requests that saw other results are dismissed (and recorded)."""
    services.dismiss_stale_approvals(model_id=version.model_id)
