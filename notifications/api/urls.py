from django.urls import path

from . import views

app_name = "notifications-api"

urlpatterns = [
    path("notifications/", views.NotificationList.as_view(), name="notifications"),
    path("notifications/read/", views.MarkRead.as_view(), name="read"),
    path("notifications/preferences/", views.Preferences.as_view(), name="preferences"),
    path("models/<str:name>/watch/", views.ModelWatch.as_view(), name="watch"),
]
