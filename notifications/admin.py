"""The e-mail outbox in Django's admin: what was sent, what waits, what failed and why.

Read-only but for one action: e-mails that gave up go out again (after a long SMTP outage)."""

from django.contrib import admin, messages

from . import services
from .models import OutboxEmail


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to_address", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["to_address", "subject"]
    fields = readonly_fields = (
        *("to_address", "subject", "status", "attempts", "next_attempt_at", "sent_at"),
        *("last_error", "created_at", "text_body"),
    )
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_send_again_permission(self, request) -> bool:
        """Those who may change e-mails (superusers, or staff given it); rows stay read-only."""
        return request.user.has_perm("notifications.change_outboxemail")

    @admin.action(description="Send the selected failed e-mails again", permissions=["send_again"])
    def send_again(self, request, queryset):
        count = services.send_again(actor=request.user, ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} failed e-mail(s) will be sent again.", messages.INFO)
