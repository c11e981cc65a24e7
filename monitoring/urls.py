from django.urls import path  # noqa: F401  (each part of monitoring adds its pages here)

from .views import datasets

app_name = "monitoring"

urlpatterns: list = [
    path("models/<str:name>/datasets/", datasets.dataset_list, name="datasets"),
]
