"""The registry in Django's admin: read-only, except deleting a model through its service."""

from django.contrib import admin

from . import services
from .models import ModelVersion, RegisteredModel


class ReadOnlyAdmin(admin.ModelAdmin):
    """Models and versions change through the pages, the API and the CLI, whose services check
    the rules and write the audit log; the admin only shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "team", "task_type", "latest_version_number", "updated_at"]
    list_filter = ["team", "task_type"]
    search_fields = ["name", "description"]
    list_select_related = ["team"]

    def delete_model(self, request, obj):
        services.delete_model(actor=request.user, model=obj)

    def delete_queryset(self, request, queryset):
        for model in queryset:
            services.delete_model(actor=request.user, model=model)

    def get_deleted_objects(self, objs, request):
        """A model's versions go with it and are never deleted alone, so the per-version
        delete permission Django would ask for does not apply."""
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions are immutable; they leave with their model."""

    list_display = ["__str__", "stage", "created_by", "created_at"]
    list_filter = ["stage"]
    search_fields = ["model__name", "git_commit"]
    list_select_related = ["model", "created_by"]

    def has_delete_permission(self, request, obj=None):
        return False
