"""Who hears of what: in-app notifications, the e-mail outbox, preferences and watched models.

An e-mail is a row of the outbox first (written in the transaction of the change it tells of),
then sent by a task that claims it with a conditional update: if the SMTP server is down nothing
is lost, and `dedupe_key` (one per recipient and occasion) keeps anyone from getting it twice.
"""

from django.conf import settings
from django.db import models


class Event(models.TextChoices):
    REVIEW_REQUESTED = "review_requested", "A review is requested from my role"
    REVIEW_RECEIVED = "review_received", "A review on my request"
    CHANGES_REQUESTED = "changes_requested", "Changes requested on my request"
    MENTION = "mention", "Someone mentions me"
    REPLY = "reply", "A reply in a thread I take part in"
    PROMOTION = "promotion", "A model I watch is promoted or rolled back"
    ALERT = "alert", "A monitoring alert opens or resolves on a model I watch"


class Notification(models.Model):
    """One line of a person's inbox."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=30, choices=Event.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500)  # a path on this site: the place the event happened
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="one_notification_per_occasion"
            )
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="inbox_unread")]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.title}"

    @property
    def link(self) -> str:
        """`url` if it is a path on this site, else empty: a line never links elsewhere."""
        return self.url if self.url.startswith("/") and not self.url.startswith("//") else ""


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Gave up"


class OutboxEmail(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outbox_emails"
    )
    to_address = models.EmailField()
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField()
    # Images the HTML shows by `cid:` (a digest's charts): [{"cid", "png_base64"}], sent as
    # related parts of the message.
    inline_images = models.JSONField(default=list, blank=True)
    dedupe_key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="one_email_per_occasion"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.to_address}: {self.subject} ({self.status})"


class Preference(models.Model):
    """A person's choice for one event; without a row both channels are on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=30, choices=Event.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="one_preference")]

    def __str__(self) -> str:
        return f"{self.user} {self.event}: in app {self.in_app}, e-mail {self.email}"


class Watch(models.Model):
    """A person follows a model: promotions and rollbacks of it reach them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="watches"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "model"], name="one_watch")]

    def __str__(self) -> str:
        return f"{self.user} watches {self.model}"
