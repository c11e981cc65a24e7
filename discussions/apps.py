from django.apps import AppConfig


class DiscussionsConfig(AppConfig):
    name = "discussions"
    verbose_name = "Discussions"

    def ready(self):
        from . import anchors, panels

        anchors.register_registry_anchors()
        panels.register_panels()
