from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from registry import stages

        from . import checks, services

        checks.register()
        stages.load_check_finished.connect(
            services.load_check_finished, dispatch_uid="monitoring.evaluate_new_version"
        )
