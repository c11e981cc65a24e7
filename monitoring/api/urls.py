from django.urls import path  # noqa: F401  (each part of monitoring adds its endpoints here)

from . import alerts, datasets, evaluations, model_settings, monitors

app_name = "monitoring-api"

urlpatterns: list = [
    path("models/<str:name>/monitors/", monitors.ModelMonitors.as_view(), name="monitors"),
    path("models/<str:name>/monitors/<int:pk>/", monitors.ModelMonitor.as_view(), name="monitor"),
    path(
        "models/<str:name>/monitors/<int:pk>/run/",
        monitors.ModelMonitorRun.as_view(),
        name="monitor-run",
    ),
    path(
        "models/<str:name>/monitoring/settings/",
        model_settings.MonitoringSettings.as_view(),
        name="monitoring-settings",
    ),
    path("alerts/", alerts.AlertList.as_view(), name="alerts"),
    path(
        "alerts/<int:pk>/acknowledge/", alerts.AlertAcknowledge.as_view(), name="alert-acknowledge"
    ),
    path("alerts/<int:pk>/mute/", alerts.AlertMute.as_view(), name="alert-mute"),
    path("models/<str:name>/datasets/", datasets.DatasetList.as_view(), name="datasets"),
    path("datasets/<int:dataset_id>/", datasets.DatasetDetail.as_view(), name="dataset"),
    path(
        "models/<str:name>/evaluations/",
        evaluations.ModelEvaluations.as_view(),
        name="model-evaluations",
    ),
    path("evaluations/<int:pk>/", evaluations.EvaluationDetail.as_view(), name="evaluation"),
]
