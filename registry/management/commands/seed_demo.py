"""`manage.py seed_demo`: the demo teams, people and trained models; safe to run on every start."""

from django.core.management.base import BaseCommand

from registry.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo teams, users and models that are missing; existing data is kept."

    def handle(self, *args, **options):
        seed_demo(log=self.stdout.write)
        self.stdout.write(f"Demo data ready; every demo user's password is {DEMO_PASSWORD}.")
