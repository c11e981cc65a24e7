from django.urls import path  # noqa: F401  (each part of monitoring adds its endpoints here)

from . import datasets, evaluations

app_name = "monitoring-api"

urlpatterns: list = [
    path("models/<str:name>/datasets/", datasets.DatasetList.as_view(), name="datasets"),
    path("datasets/<int:dataset_id>/", datasets.DatasetDetail.as_view(), name="dataset"),
]

urlpatterns += [
    path(
        "models/<str:name>/evaluations/",
        evaluations.ModelEvaluations.as_view(),
        name="model-evaluations",
    ),
    path("evaluations/<int:pk>/", evaluations.EvaluationDetail.as_view(), name="evaluation"),
]
