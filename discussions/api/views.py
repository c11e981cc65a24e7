"""REST API of threads: validate input, call one service, render the result."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import access, anchors, selectors, services
from ..models import CommentRevision, Thread
from .serializers import (
    CommentBodySerializer,
    CommentSerializer,
    MemberSerializer,
    RevisionSerializer,
    ThreadCreateSerializer,
    ThreadSerializer,
)

ANCHOR_PARAMETER = OpenApiParameter(
    "anchor",
    str,
    required=True,
    description='The place: "model:fraud-detector", "version:fraud-detector:3" …',
)


def _split(text: str, field: str) -> tuple[str, str]:
    try:
        return anchors.split(text)
    except anchors.UnknownAnchorKind as unknown:
        raise ValidationError({field: [str(unknown)]}) from None


def _visible_anchor(request) -> tuple[str, str, anchors.Anchor]:
    """The `anchor` query parameter's place: 400 if it is missing or malformed, 404 if there is
    no such place or the caller may not see it."""
    text = request.query_params.get("anchor", "")
    if not text:
        raise ValidationError({"anchor": ["Name the place, e.g. ?anchor=model:fraud-detector."]})
    kind, anchor_id = _split(text, "anchor")
    anchor = anchors.resolve(kind, anchor_id)
    if anchor is None or not access.may_view(request.user, anchor.model):
        raise Http404(f"No {kind} {anchor_id!r} that you can see.")
    return kind, anchor_id, anchor


def _thread_response(request, thread: Thread, status_code=status.HTTP_200_OK) -> Response:
    thread = selectors.thread(thread.pk)
    return Response(ThreadSerializer(thread, context={"request": request}).data, status=status_code)


class ThreadList(generics.ListAPIView):
    serializer_class = ThreadSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no anchor
            return Thread.objects.none()
        kind, anchor_id, _ = _visible_anchor(self.request)
        return selectors.threads_on(kind, anchor_id)

    @extend_schema(
        parameters=[ANCHOR_PARAMETER],
        summary="The threads on a place, oldest first, each with its comments",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ThreadCreateSerializer,
        responses={201: ThreadSerializer},
        summary="Start a thread (its first comment); mentioned team members are notified",
    )
    def post(self, request):
        data = ThreadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind, anchor_id = _split(data.validated_data["anchor"], "anchor")
        thread = services.start_thread(
            author=request.user, kind=kind, anchor_id=anchor_id, body=data.validated_data["body"]
        )
        return _thread_response(request, thread, status.HTTP_201_CREATED)


class ThreadDetail(APIView):
    @extend_schema(responses=ThreadSerializer, summary="A thread with its comments")
    def get(self, request, thread_id):
        return _thread_response(request, access.get_thread_for(request.user, thread_id))


class ThreadComments(APIView):
    @extend_schema(
        request=CommentBodySerializer,
        responses={201: CommentSerializer},
        summary="Reply in a thread; mentioned members and the thread's participants are notified",
    )
    def post(self, request, thread_id):
        thread = access.get_thread_for(request.user, thread_id)
        data = CommentBodySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.reply(
            author=request.user, thread=thread, body=data.validated_data["body"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDetail(APIView):
    @extend_schema(
        request=CommentBodySerializer,
        responses=CommentSerializer,
        summary="Edit your comment; the earlier text is kept as a revision",
    )
    def patch(self, request, thread_id, comment_id):
        comment = access.get_comment_for(request.user, thread_id, comment_id)
        data = CommentBodySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        edited = services.edit_comment(
            actor=request.user, comment=comment, body=data.validated_data["body"]
        )
        return Response(CommentSerializer(edited).data)

    @extend_schema(
        responses={204: None},
        summary="Delete a comment (its author or a team owner); a tombstone keeps its place",
    )
    def delete(self, request, thread_id, comment_id):
        comment = access.get_comment_for(request.user, thread_id, comment_id)
        services.delete_comment(actor=request.user, comment=comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentRevisions(generics.ListAPIView):
    serializer_class = RevisionSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CommentRevision.objects.none()
        comment = access.get_comment_for(
            self.request.user, self.kwargs["thread_id"], self.kwargs["comment_id"]
        )
        return selectors.revisions_of(comment)

    @extend_schema(summary="The texts a comment had before its edits, the latest replaced first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ThreadResolve(APIView):
    @extend_schema(request=None, responses=ThreadSerializer, summary="Mark a thread resolved")
    def post(self, request, thread_id):
        thread = access.get_thread_for(request.user, thread_id)
        return _thread_response(request, services.resolve_thread(actor=request.user, thread=thread))


class ThreadReopen(APIView):
    @extend_schema(request=None, responses=ThreadSerializer, summary="Reopen a resolved thread")
    def post(self, request, thread_id):
        thread = access.get_thread_for(request.user, thread_id)
        return _thread_response(request, services.reopen_thread(actor=request.user, thread=thread))


class Mentionable(APIView):
    @extend_schema(
        parameters=[
            ANCHOR_PARAMETER,
            OpenApiParameter("prefix", str, description="The start of a user name; empty: all"),
        ],
        responses=MemberSerializer(many=True),
        summary="Members of the place's team whose user name starts with a prefix (for @mentions)",
    )
    def get(self, request):
        _, _, anchor = _visible_anchor(request)
        people = selectors.mentionable(anchor, request.query_params.get("prefix", ""))
        return Response(MemberSerializer(people, many=True).data)
