"""`manage.py sweep_debris`: what beat's sweep_debris task does, at once."""

from django.core.management.base import BaseCommand

from registry import services


class Command(BaseCommand):
    help = (
        "Delete upload temporary files, load-check workspaces and stored folders no version"
        " names, once older than DEBRIS_GRACE_HOURS: what killed uploads and checks left behind."
    )

    def handle(self, *args, **options):
        swept = services.sweep_debris()
        self.stdout.write(f"Deleted {swept}.")
