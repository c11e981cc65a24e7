from django.urls import path  # noqa: F401  (each part of monitoring adds its endpoints here)

from . import datasets

app_name = "monitoring-api"

urlpatterns: list = [
    path("models/<str:name>/datasets/", datasets.DatasetList.as_view(), name="datasets"),
    path("datasets/<int:dataset_id>/", datasets.DatasetDetail.as_view(), name="dataset"),
]
