from django.apps import AppConfig


class MlflowApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mlflow_api"
    verbose_name = "MLflow protocol"

    def ready(self) -> None:
        from . import panels

        panels.register()
