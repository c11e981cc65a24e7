from django.apps import AppConfig


class MlflowApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mlflow_api"
    verbose_name = "MLflow protocol"

    def ready(self) -> None:
        from registry.services import register_debris_sweeper

        from . import artifact_store, panels

        panels.register()
        register_debris_sweeper(
            "MLflow uploads no run or logged model names", artifact_store.sweep_debris
        )
