from django.urls import path  # noqa: F401  (each part of monitoring adds its endpoints here)

from . import evaluations

app_name = "monitoring-api"

urlpatterns: list = []

urlpatterns += [
    path(
        "models/<str:name>/evaluations/",
        evaluations.ModelEvaluations.as_view(),
        name="model-evaluations",
    ),
    path("evaluations/<int:pk>/", evaluations.EvaluationDetail.as_view(), name="evaluation"),
]
