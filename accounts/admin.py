from django.contrib import admin, messages

from . import services
from .models import ApiToken, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their owners (tokens page, API, `create_token`) and only revoked here,
    through the service, so the audit log records who did it. The secret's hash is never shown."""

    list_display = [
        "name",
        "user",
        "team",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "team"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user", "team"]
    fields = readonly_fields = (
        "name",
        "user",
        "team",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: the audit log and versions still name it

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at=None).select_related("user"):
            services.revoke_token(user=token.user, token_id=token.pk, actor=request.user)
        self.message_user(request, "The selected tokens are revoked.", messages.SUCCESS)
