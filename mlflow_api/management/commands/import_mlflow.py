"""`manage.py import_mlflow --from URL --as USERNAME`: move an MLflow registry into Vetted."""

import os

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from accounts.models import Team
from mlflow_api.importer import import_registry
from mlflow_api.teams import team_for_new_objects
from mlflow_api.wire import MlflowError
from registry.access import Action, team_allows


class Command(BaseCommand):
    help = (
        "Import every registered model of an MLflow server (versions with their files and run"
        " lineage, tags, aliases, stages) into a Vetted team. Running it again adds only what"
        " is new. The source's credentials come from MLFLOW_TRACKING_TOKEN or"
        " MLFLOW_TRACKING_USERNAME/PASSWORD, as for MLflow's own client."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="url", required=True, help="The MLflow tracking URI.")
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            help="The Vetted user the import acts as (recorded in the audit log).",
        )
        parser.add_argument(
            "--team",
            help="The team the models go to; by default the one team where that user may push.",
        )
        parser.add_argument(
            "--token", help="The source's token (MLFLOW_TRACKING_TOKEN; the variable is safer)."
        )
        parser.add_argument(
            "--model", action="append", dest="models", help="Import only this model (repeatable)."
        )

    def handle(self, *args, url, username, team, token, models, **options):
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(f"No active Vetted user named {username!r} (--as).")
        target = self._team(actor, team)
        if token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = token
        # MLflow's client retries a dead server for minutes by default; an import says so sooner.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        try:
            client.search_registered_models(max_results=1)
        except MlflowException as error:
            raise CommandError(
                f"Cannot read the MLflow registry at {url}: {error.message}"
            ) from None

        summary = import_registry(
            client=client,
            source_url=url,
            actor=actor,
            team=target,
            only=models,
            say=self.stdout.write,
        )
        self.stdout.write(
            f"Models: {summary.models_created} created, {summary.models_kept} already here."
            f" Versions: {summary.versions_created} imported ({summary.files} files,"
            f" {summary.bytes} bytes), {summary.versions_kept} already here."
            f" Tags set: {summary.tags_set}. Aliases set: {summary.aliases_set}."
            f" Stages set: {summary.stages_set}."
        )
        if summary.problems:
            for problem in summary.problems:
                self.stderr.write(f"Not imported: {problem}")
            raise CommandError(f"{len(summary.problems)} problem(s); the rest was imported.")

    def _team(self, actor: User, slug: str | None) -> Team:
        if slug is None:
            try:
                return team_for_new_objects(actor)
            except MlflowError as error:
                raise CommandError(f"{error.message} Or name the team with --team.") from None
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise CommandError(f"No team {slug!r} (--team).")
        if not team_allows(actor, team.pk, Action.PUSH):
            raise CommandError(f"{actor.username} may not register models in team {slug}.")
        return team
