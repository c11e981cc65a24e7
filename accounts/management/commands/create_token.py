"""`manage.py create_token alice --scopes read,write`: a token for scripts and CI secrets."""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Team


class Command(BaseCommand):
    help = "Create an API token for a user and print it alone on stdout, ready for a CI secret."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--scopes",
            default="read",
            help="Comma-separated: read, write, review (approving and merging promotion requests;"
            " never a default). Default: read",
        )
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument("--name", default="cli", help="Shown in the token list (default: cli)")
        parser.add_argument(
            "--team", default=None, help="Limit the token to this team's models (a team slug)"
        )

    def handle(self, *args, username, scopes, expires_in_days, name, team, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        limited_to = None
        if team is not None:
            limited_to = Team.objects.filter(slug=team).first()
            if limited_to is None:
                raise CommandError(f"No team with the slug {team!r}.")
        try:
            _, plain = services.create_token(
                user=user,
                name=name,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                expires_in_days=expires_in_days,
                team=limited_to,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        # Nothing else goes to stdout, so `TOKEN=$(manage.py create_token …)` just works.
        self.stdout.write(plain)
