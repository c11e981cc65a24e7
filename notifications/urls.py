from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.inbox, name="inbox"),
    path("notifications/read/", views.read_all, name="read_all"),
    path("notifications/<int:notification_id>/read/", views.read_one, name="read_one"),
    path("settings/notifications/", views.preferences, name="preferences"),
    path("models/<str:name>/watch/", views.watch, name="watch"),
]
