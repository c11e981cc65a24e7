"""`manage.py seed_demo`: the demo teams, people, trained models and review workflow; safe to
run on every start."""

from django.core.management.base import BaseCommand

from registry.demo import DEMO_PASSWORD
from reviews.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo teams, users, models and reviews that are missing; keep what exists."

    def handle(self, *args, **options):
        seed_demo(log=self.stdout.write)
        self.stdout.write(f"Demo data ready; every demo user's password is {DEMO_PASSWORD}.")
