from django.urls import path  # noqa: F401  (each part of monitoring adds its endpoints here)

app_name = "monitoring-api"

urlpatterns: list = []
