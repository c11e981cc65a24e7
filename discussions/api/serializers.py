"""API representations of threads and comments. Thin: the rules are in discussions.services."""

from django.urls import reverse
from rest_framework import serializers

from vetted.serializers import TypedModelSerializer, TypedSerializer

from ..models import Comment, CommentRevision, Thread
from ..services import MAX_BODY_CHARS

BODY_HELP = (
    f"Markdown, at most {MAX_BODY_CHARS:,} characters; `@name` mentions a member of the model's"
    " team, who is notified."
)


def _username(source: str) -> serializers.CharField:
    return serializers.CharField(source=source, default=None, allow_null=True, read_only=True)


class CommentSerializer(TypedModelSerializer):
    thread = serializers.IntegerField(source="thread_id", read_only=True)
    author = _username("author.username")
    body = serializers.CharField(read_only=True, help_text="Markdown; empty once deleted.")
    edited = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()
    deleted_by = _username("deleted_by.username")

    class Meta:
        model = Comment
        fields = ["id", "thread", "author", "body", "created_at", "edited", "edited_at"]
        fields += ["deleted", "deleted_at", "deleted_by"]

    def get_edited(self, comment) -> bool:
        return comment.edited_at is not None

    def get_deleted(self, comment) -> bool:
        return comment.deleted_at is not None


class ThreadSerializer(TypedModelSerializer):
    anchor = serializers.CharField(
        read_only=True, help_text='What it hangs on: "model:<name>", "version:<name>:<number>" …'
    )
    author = _username("author.username")
    resolved = serializers.SerializerMethodField()
    resolved_by = _username("resolved_by.username")
    comments = CommentSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Thread
        fields = ["id", "anchor", "author", "created_at", "resolved", "resolved_at"]
        fields += ["resolved_by", "comments", "url"]

    def get_resolved(self, thread) -> bool:
        return thread.resolved_at is not None

    def get_url(self, thread) -> str:
        url = reverse("discussions-api:thread", args=[thread.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class ThreadCreateSerializer(TypedSerializer):
    anchor = serializers.CharField(
        max_length=300,
        help_text='Where to start it: "model:fraud-detector", "version:fraud-detector:3" …',
    )
    body = serializers.CharField(
        max_length=MAX_BODY_CHARS, allow_blank=True, trim_whitespace=False, help_text=BODY_HELP
    )


class CommentBodySerializer(TypedSerializer):
    body = serializers.CharField(
        max_length=MAX_BODY_CHARS, allow_blank=True, trim_whitespace=False, help_text=BODY_HELP
    )


class RevisionSerializer(TypedModelSerializer):
    class Meta:
        model = CommentRevision
        fields = ["body", "written_at", "replaced_at"]


class MemberSerializer(TypedSerializer):
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")
