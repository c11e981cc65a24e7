"""Comment threads on the places models are discussed: a model, a version, a promotion request.

A thread hangs on an anchor (kind and id, see anchors.py) and belongs to the anchor's model,
whose team decides who reads and writes it. A deleted comment keeps its row and its place as a
tombstone with no text; an edited one keeps each earlier text as a `CommentRevision`.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Thread(models.Model):
    anchor_kind = models.CharField(max_length=20)
    anchor_id = models.CharField(max_length=200)
    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="threads"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["anchor_kind", "anchor_id"], name="thread_anchor")]

    def __str__(self) -> str:
        return f"thread {self.pk} on {self.anchor}"

    @property
    def anchor(self) -> str:
        """ "model:fraud-detector", "version:fraud-detector:3": as the API names it."""
        return f"{self.anchor_kind}:{self.anchor_id}"


class Comment(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(blank=True)  # markdown; empty once deleted
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"], name="comment_in_thread")]

    def __str__(self) -> str:
        return f"comment {self.pk} in thread {self.thread_id}"


class CommentRevision(models.Model):
    """A text a comment had before an edit replaced it."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    written_at = models.DateTimeField()  # when this text was posted, or edited in
    replaced_at = models.DateTimeField()

    class Meta:
        ordering = ["-replaced_at", "-id"]

    def __str__(self) -> str:
        return f"revision of comment {self.comment_id} replaced at {self.replaced_at}"
