from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is written by the services alone."""

    list_display = ["at", "actor_name", "channel", "verb", "object_name", "team_slug"]
    list_filter = ["channel", "verb", "team_slug"]
    search_fields = ["object_name", "actor_name", "model_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
