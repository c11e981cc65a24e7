from django.urls import path  # noqa: F401  (each part of monitoring adds its pages here)

app_name = "monitoring"

urlpatterns: list = []
