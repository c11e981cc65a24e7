"""`manage.py seed_demo`: the demo teams, people, trained models, review workflow and monitoring
data; safe to run on every start."""

from django.core.management.base import BaseCommand

from monitoring.demo import seed_demo_monitor, seed_demo_policy_checks, seed_monitoring_demo
from registry.demo import DEMO_PASSWORD
from reviews.demo import seed_demo


class Command(BaseCommand):
    help = "Create the missing demo teams, users, models, reviews and monitoring; keep the rest."

    def handle(self, *args, **options):
        seed_demo(log=self.stdout.write)
        seed_monitoring_demo(log=self.stdout.write)
        seed_demo_monitor(log=self.stdout.write)
        seed_demo_policy_checks(log=self.stdout.write)
        self.stdout.write(f"Demo data ready; every demo user's password is {DEMO_PASSWORD}.")
