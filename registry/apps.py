from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        # Tasks queued from web processes must use the project's Celery app, not Celery's default.
        import vetted.celery  # noqa: F401
