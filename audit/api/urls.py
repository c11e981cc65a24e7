from django.urls import path

from . import views

app_name = "audit-api"

urlpatterns = [path("", views.AuditEventList.as_view(), name="events")]
