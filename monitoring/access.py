"""Who may do what with a model's monitoring: one set of rules for pages and the API alike.

Seeing datasets, runs, monitors and alerts follows the registry: whoever sees the model
(`registry.access.get_model_for`, another team's model is a 404). Uploading data and running
evaluations is pushing work to the model, so it goes to those who push versions; monitors and
alerts decide who gets woken at night, so they go to those who run production.
"""

from django.contrib.auth.models import AnonymousUser, User

from registry.access import Action, can
from registry.models import RegisteredModel


def can_upload_data(user: User | AnonymousUser, model: RegisteredModel) -> bool:
    """Data scientists, DevOps, team owners and superusers, like pushing a version."""
    return can(user, Action.PUSH, model)


def can_run_evaluation(user: User | AnonymousUser, model: RegisteredModel) -> bool:
    """The same people as uploading data: an evaluation is work on the data they pushed."""
    return can(user, Action.PUSH, model)


def can_manage_monitors(user: User | AnonymousUser, model: RegisteredModel) -> bool:
    """Team owners, DevOps and superusers: those who move stages run production and its alerts.

    Covers creating, editing and deleting monitors, the model's monitoring settings, and
    acknowledging or muting its alerts.
    """
    return can(user, Action.STAGE, model)
