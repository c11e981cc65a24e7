from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from registry import stages
        from registry.services import register_debris_sweeper

        from . import checks, fanout, panels, services

        panels.register()  # the model page's panel, the tabs, the "evaluation" anchor
        checks.register()
        stages.load_check_finished.connect(
            services.load_check_finished, dispatch_uid="monitoring.evaluate_new_version"
        )
        register_debris_sweeper(
            "prediction folders of evaluations not under way", fanout.sweep_debris
        )
