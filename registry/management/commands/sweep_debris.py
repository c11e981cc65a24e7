"""`manage.py sweep_debris`: what beat's sweep_debris task does, at once."""

from django.core.management.base import BaseCommand

from registry import services


class Command(BaseCommand):
    help = (
        "Delete upload temporary files, load-check workspaces, stored folders no version names"
        " and what the apps' registered sweepers find, once older than DEBRIS_GRACE_HOURS: what"
        " killed uploads, checks and evaluations left behind."
    )

    def handle(self, *args, **options):
        swept = services.sweep_debris()
        self.stdout.write(f"Deleted {swept}.")
