"""The audit log: one row per state change, written once and never changed.

Rows hold names and ids, not foreign keys: deleting a user, token or team must neither fail
against the log nor rewrite it. Saving an existing row, updating or deleting raise here; on
PostgreSQL a trigger refuses UPDATE and DELETE as well (migration 0002).
"""

from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    CLI = "cli", "vetted CLI"
    TASK = "task", "Background task"
    COMMAND = "command", "manage.py"
    HISTORY = "history", "Earlier history"  # rebuilt from the registry's own rows


class AuditLogIsAppendOnly(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    def for_user(self, user) -> "AuditEventQuerySet":
        """Events of the user's teams and the user's own (tokens); superusers see every event."""
        limited = getattr(user, "token_team_id", None)  # a token limited to one team
        if user.is_superuser:
            return self if limited is None else self.filter(team_id=limited)
        teams = user.memberships.values("team_id")
        if limited is not None:
            return self.filter(team_id=limited, team_id__in=teams)
        return self.filter(models.Q(team_id__in=teams) | models.Q(actor_id=user.pk))


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_name = models.CharField(max_length=150, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    token_name = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    verb = models.CharField(max_length=50, db_index=True)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64)
    object_name = models.CharField(max_length=300)
    team_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    team_slug = models.CharField(max_length=100, blank=True)
    model_name = models.CharField(max_length=100, blank=True, db_index=True)
    reason = models.TextField(blank=True)  # why, in the actor's words, where they gave one
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.verb} {self.object_name}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")
