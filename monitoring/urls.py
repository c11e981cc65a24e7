from django.urls import path  # noqa: F401  (each part of monitoring adds its pages here)

from .views import datasets, pages

app_name = "monitoring"

urlpatterns: list = [
    path("models/<str:name>/datasets/", datasets.dataset_list, name="datasets"),
    path("models/<str:name>/monitoring/", pages.model_monitoring, name="model_monitoring"),
    path("evaluations/<int:pk>/", pages.run_detail, name="run"),
    path("evaluations/<int:pk>/progress/", pages.run_progress, name="run_progress"),
]
