from django.core.management.base import BaseCommand, CommandError

from sandbox import config


class Command(BaseCommand):
    help = (
        "Say how this machine isolates model code; exit 1 when it cannot run model code at all. "
        "The worker's health check in docker-compose.yml runs it."
    )

    def handle(self, *args, **options):
        status = config.status()
        if status["isolation"] == "unavailable":
            raise CommandError(f"Model code cannot run here: {status['problem']}")
        self.stdout.write(status["description"])
        if status["isolation"] == "weak":
            self.stderr.write(f"Weakly isolated, because: {status['problem']}")
