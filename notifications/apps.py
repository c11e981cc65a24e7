from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from registry import stages
        from registry.panels import Panel, register_panel

        from . import checks, promotions, views  # noqa: F401 - checks registers itself

        stages.stage_moved.connect(
            promotions.tell_watchers, dispatch_uid="notifications.tell_watchers"
        )
        register_panel(
            "model",
            Panel(
                name="watch",
                template="notifications/_watch_panel.html",
                context=views.watch_panel,
                slot="side",
                order=10,
            ),
        )
