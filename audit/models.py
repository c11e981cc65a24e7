"""The audit log: one row per state change, written once and never changed.

Rows hold names and ids, not foreign keys: deleting a user, token or team must neither fail
against the log nor rewrite it. Saving an existing row, updating or deleting raise here, through
the default and the base manager alike; on PostgreSQL triggers refuse UPDATE and DELETE
(migration 0002) and TRUNCATE (0004) as well.
"""

from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    CLI = "cli", "vetted CLI"
    MLFLOW = "mlflow", "MLflow client"
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
        """What `user` may read of the log.

        - Every event of the teams the user belongs to now, whoever made it (the team's log).
        - Outside them, only the user's own events that belong to no team (their personal
          tokens, their notification preferences). What they did in a team they have left stays
          with that team: membership decides who reads a team's log, then as now.
        - Through a token limited to one team: that team's events only, nothing else.
        - A superuser: every event (a limited token's team only, as for anyone).
        """
        limited = getattr(user, "token_team_id", None)  # a token limited to one team
        if user.is_superuser:
            return self if limited is None else self.filter(team_id=limited)
        teams = user.memberships.values("team_id")
        if limited is not None:
            return self.filter(team_id=limited, team_id__in=teams)
        own = models.Q(team_id__isnull=True, actor_id=user.pk)
        return self.filter(models.Q(team_id__in=teams) | own)


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
        # The manager Django itself reaches for (`_base_manager`) must refuse as well.
        base_manager_name = "objects"

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.verb} {self.object_name}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        # Always an INSERT: a new instance given an existing id must not become an UPDATE.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")
