from django.urls import path  # noqa: F401  (each part of monitoring adds its pages here)

from .views import alerts as alert_views
from .views import datasets, model_settings, pages
from .views import monitors as monitor_views

app_name = "monitoring"

urlpatterns: list = [
    path("models/<str:name>/monitors/new/", monitor_views.monitor_new, name="monitor_new"),
    path(
        "models/<str:name>/monitors/<int:pk>/edit/",
        monitor_views.monitor_edit,
        name="monitor_edit",
    ),
    path("models/<str:name>/monitors/<int:pk>/run/", monitor_views.monitor_run, name="monitor_run"),
    path(
        "models/<str:name>/monitors/<int:pk>/delete/",
        monitor_views.monitor_delete,
        name="monitor_delete",
    ),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", alert_views.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/<int:pk>/mute/", alert_views.alert_mute, name="alert_mute"),
    path("settings/monitoring/", monitor_views.digest_settings, name="digest_settings"),
    path("models/<str:name>/datasets/", datasets.dataset_list, name="datasets"),
    path("models/<str:name>/monitoring/", pages.model_monitoring, name="model_monitoring"),
    path(
        "models/<str:name>/monitoring/settings/",
        model_settings.model_settings_page,
        name="model_settings",
    ),
    path("evaluations/<int:pk>/", pages.run_detail, name="run"),
    path("evaluations/<int:pk>/progress/", pages.run_progress, name="run_progress"),
]
