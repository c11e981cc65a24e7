from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from . import panels

        panels.register()  # the model page's panel, the Monitoring tab, the "evaluation" anchor
