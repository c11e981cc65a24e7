"""Which team a model, experiment, run or logged model made through MLflow belongs to.

MLflow's protocol has no team: the token says it. A token limited to a team decides; otherwise
the one team where the user may push. A user who may push in several teams must say which with
a team-limited token, and the error says how.
"""

from django.contrib.auth.models import User

from accounts.models import Team
from registry.access import Action, teams_allowing

from .wire import PERMISSION_DENIED, MlflowError, invalid


def team_for_new_objects(user: User) -> Team:
    teams = list(teams_allowing(user, Action.PUSH).order_by("name"))
    if len(teams) == 1:
        return teams[0]
    if not teams:
        raise MlflowError(
            PERMISSION_DENIED,
            "Your role in your team does not allow registering models or logging runs"
            " (data scientists, DevOps and owners may).",
        )
    names = ", ".join(team.slug for team in teams)
    raise invalid(
        f"You may register models in several teams ({names}), and MLflow's client cannot say"
        " which one it means. Create an API token limited to one team (Settings → API tokens,"
        " “Team”) and set it as MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_PASSWORD)."
    )
