"""REST API views: validate input, call one service, render the result."""

import hashlib
from collections.abc import Callable

from django.core.cache import caches
from django.db import transaction
from django.db.models import QuerySet, prefetch_related_objects
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken
from vetted.api.errors import Conflict
from vetted.api.parsers import StrictJSONParser

from .. import selectors, services
from ..access import Action, get_model_for, get_version_for, teams_allowing
from ..artifacts import sha256_digest_header
from ..models import Artifact, ModelVersion, Stage
from ..uploads import LimitedUploadHandler
from .serializers import (
    AliasSerializer,
    LoadCheckSerializer,
    ModelCreateSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
    StageSerializer,
    VersionSerializer,
    VersionUploadSerializer,
)


def _team_for(user, slug: str):
    team = teams_allowing(user, Action.VIEW).filter(slug=slug).first()
    if team is None:
        raise Http404(f"You are not in a team called {slug!r}.")
    return team


def _model_response(request, model, status_code=status.HTTP_200_OK):
    model = selectors.with_model_relations(type(model).objects.filter(pk=model.pk)).get()
    return Response(ModelSerializer(model, context={"request": request}).data, status=status_code)


def _version_response(request, version, status_code=status.HTTP_200_OK):
    # The instance at hand already carries its model, uploader and token: fetch only the lists,
    # unless the service that made it already knows them.
    prefetch_related_objects([version], "artifacts", "aliases")
    return Response(
        VersionSerializer(version, context={"request": request}).data, status=status_code
    )


@extend_schema(
    parameters=[
        OpenApiParameter("search", str, description="Part of the name or description"),
        OpenApiParameter("team", str, description="Team slug"),
        OpenApiParameter("tag", str),
        # Empty, as a form's "any stage" sends it, filters nothing, like the other filters.
        OpenApiParameter(
            "stage", str, enum=["", "staging", "production", "archived"], description="Empty: any"
        ),
    ]
)
class ModelList(generics.ListAPIView):
    serializer_class = ModelSerializer
    filter_backends: list = []

    def get_queryset(self):
        q = self.request.query_params
        stage = q.get("stage", "")
        if stage and stage not in (Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED):
            raise ValidationError(
                {"stage": [f"Unknown stage {stage!r}: use staging, production or archived."]}
            )
        return selectors.model_list(
            self.request.user,
            search=q.get("search", ""),
            team=q.get("team", ""),
            tag=q.get("tag", ""),
            stage=stage,
        )

    @extend_schema(request=ModelCreateSerializer, responses={201: ModelSerializer})
    def post(self, request):
        data = ModelCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        model = services.create_model(
            actor=request.user,
            name=fields["name"],
            team=_team_for(request.user, fields["team"]),
            task_type=fields["task_type"],
            description=fields["description"],
            tags=fields["tags"],
        )
        return _model_response(request, model, status.HTTP_201_CREATED)


class ModelDetail(APIView):
    @extend_schema(responses=ModelSerializer)
    def get(self, request, name):
        return _model_response(request, get_model_for(request.user, name))

    @extend_schema(request=ModelUpdateSerializer, responses=ModelSerializer)
    def patch(self, request, name):
        model = get_model_for(request.user, name, Action.EDIT)
        data = ModelUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.update_model(actor=request.user, model=model, **data.validated_data)
        return _model_response(request, model)


class VersionList(generics.ListAPIView):
    serializer_class = VersionSerializer
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: stream files to disk and stop past the size limit.
        request.upload_handlers = [LimitedUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no model name
            return ModelVersion.objects.none()
        model = get_model_for(self.request.user, self.kwargs["name"])
        return selectors.version_details().filter(model=model).order_by("-number")

    @extend_schema(
        request={
            "multipart/form-data": VersionUploadSerializer,
            "application/json": VersionUploadSerializer,
        },
        responses={201: VersionSerializer, 200: VersionSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A retried request with the same key returns the same version.",
            )
        ],
        summary="Register a new version (metadata + files or one archive)",
    )
    def post(self, request, name):
        data = VersionUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        files = fields["files"]
        paths = fields["paths"] or [f.name for f in files]
        upload = services.Upload(files=list(zip(paths, files, strict=True)))
        if "archive" in fields:
            upload.archive = (fields["archive"].name, fields["archive"])
        lineage = services.Lineage(
            description=fields["description"],
            git_repo=fields["git_repo"],
            git_commit=fields["git_commit"],
            git_branch=fields["git_branch"],
            ci_run_url=fields["ci_run_url"],
            training_data_uri=fields["training_data_uri"],
            training_data_sha256=fields["training_data_sha256"],
            params=fields["params"],
            metrics=fields["metrics"],
            requirements=fields["requirements"],
        )
        token = request.auth if isinstance(request.auth, ApiToken) else None
        key = request.headers.get("Idempotency-Key")
        push = dict(lineage=lineage, upload=upload, token=token, idempotency_key=key)
        try:
            model = get_model_for(request.user, name, Action.PUSH)
        except Http404:
            if not fields.get("team"):
                raise Http404(
                    f"No model named {name!r}. Name a team to create it with its first version."
                ) from None
            model = None
        if model is not None:
            version, created = services.register_version(actor=request.user, model=model, **push)
        else:
            # The first push creates the model; if the version fails, the model is rolled back.
            with transaction.atomic():
                try:
                    model = services.create_model(
                        actor=request.user,
                        name=name,
                        team=_team_for(request.user, fields["team"]),
                        task_type=fields.get("task_type") or "other",
                    )
                except services.ModelNameTaken:
                    model = _created_meanwhile(request.user, name)
                version, created = services.register_version(
                    actor=request.user, model=model, **push
                )
        return _version_response(
            request, version, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _created_meanwhile(user, name: str):
    """Another first push created the model a moment ago: this version joins it, if the caller
    may push there; otherwise the name is simply taken."""
    try:
        return get_model_for(user, name, Action.PUSH)
    except Http404:
        raise services.ModelNameTaken(name) from None


class VersionDetail(APIView):
    @extend_schema(responses=VersionSerializer)
    def get(self, request, name, number):
        return _version_response(request, get_version_for(request.user, name, number))


class VersionStage(APIView):
    writes_can_conflict = True  # two moves of one version, or to one stage, at once

    @extend_schema(
        request=StageSerializer, responses=VersionSerializer, summary="Move a version to a stage"
    )
    def post(self, request, name, number):
        version = get_version_for(request.user, name, number, Action.STAGE)
        data = StageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.set_stage(actor=request.user, version=version, **data.validated_data)
        return _version_response(request, version)


# Keys change with every change to a model, so entries never go stale; the limit only returns the
# memory of answers no one asks for any more (and covers a database restored under a live server).
RESOLVE_CACHE_SECONDS = 600


def _resolved(request, model, kind: str, label: str, found: Callable[[], QuerySet], missing: str):
    """The version `found()` selects, rendered once per model revision and served from memory.

    Apps ask this on every start and poll it, so the answer is kept in the "resolve" cache under
    the model's revision, which every change to its versions, stages or aliases increments. The
    ETag lets a poller get 304 until the answer changes. The query is built only on a miss.
    """
    key = f"{model.pk}:{model.revision}:{kind}:{label}:{request.build_absolute_uri('/')}"
    cache = caches["resolve"]
    answer = cache.get(key)
    if answer is None:
        version = found().first()
        if version is None:
            raise Http404(missing)
        body = JSONRenderer().render(VersionSerializer(version, context={"request": request}).data)
        answer = (f'"{hashlib.sha256(body).hexdigest()[:32]}"', body)
        cache.set(key, answer, timeout=RESOLVE_CACHE_SECONDS)
    etag, body = answer
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(body, content_type="application/json", headers=headers)


class ResolveStage(APIView):
    @extend_schema(
        responses=VersionSerializer,
        summary="The version in a stage, with checksums and download URLs",
    )
    def get(self, request, name, stage):
        model = get_model_for(request.user, name)
        if stage not in (Stage.STAGING, Stage.PRODUCTION):
            raise Http404(f"Unknown stage {stage!r}: use staging or production.")
        return _resolved(
            request,
            model,
            "stage",
            stage,
            lambda: selectors.version_details().filter(model=model, stage=stage).order_by(),
            f"Model {name!r} has no version in {stage}.",
        )


class Alias(APIView):
    @extend_schema(responses=VersionSerializer, summary="The version an alias points to")
    def get(self, request, name, alias):
        model = get_model_for(request.user, name)
        return _resolved(
            request,
            model,
            "alias",
            alias,
            lambda: (
                selectors.version_details()
                .filter(model=model, aliases__model=model, aliases__name=alias)
                .order_by()
            ),
            f"Model {name!r} has no alias {alias!r}.",
        )

    @extend_schema(
        request=AliasSerializer, responses=VersionSerializer, summary="Point an alias at a version"
    )
    def put(self, request, name, alias):
        data = AliasSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = get_version_for(request.user, name, data.validated_data["version"], Action.STAGE)
        services.set_alias(
            actor=request.user, version=version, alias=alias, reason=data.validated_data["reason"]
        )
        return _version_response(request, version)

    @extend_schema(responses={204: None})
    def delete(self, request, name, alias):
        model = get_model_for(request.user, name, Action.STAGE)
        try:
            services.delete_alias(
                actor=request.user,
                model=model,
                alias=alias,
                reason=request.query_params.get("reason", "")[:1000],
            )
        except services.ModelAlias.DoesNotExist:
            raise Http404(f"Model {name!r} has no alias {alias!r}.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoadChecks(APIView):
    writes_can_conflict = True  # a new attempt while one is still queued or running

    @extend_schema(
        responses=LoadCheckSerializer(many=True),
        summary="Every load check of a version, newest first",
    )
    def get(self, request, name, number):
        version = get_version_for(request.user, name, number)
        checks = selectors.load_checks_of(version)
        return Response(LoadCheckSerializer(checks, many=True).data)

    @extend_schema(
        request=None,
        responses={202: LoadCheckSerializer},
        summary="Check the version again (a new attempt), once its latest check has finished",
    )
    def post(self, request, name, number):
        version = get_version_for(request.user, name, number, Action.PUSH)
        check = services.retry_load_check(version=version, reason="asked for by a person")
        if check is None:
            raise Conflict("A load check of this version is still queued or running.")
        return Response(LoadCheckSerializer(check).data, status=status.HTTP_202_ACCEPTED)


class ArtifactDownload(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 304: None},
        summary="Download one file",
    )
    def get(self, request, name, number, path):
        """Always bytes to save, never a page: an uploaded `.svg`, `.html` or `.js` served under
        its own type would run as a same-origin image, page or script (nosniff comes from
        SecurityMiddleware)."""
        version = get_version_for(request.user, name, number)
        artifact = Artifact.objects.filter(version=version, path=path).first()
        if artifact is None:
            raise Http404(f"Version {number} of {name!r} has no file {path!r}.")
        etag = f'"{artifact.sha256}"'
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return HttpResponseNotModified(headers={"ETag": etag})
        stream = services.artifact_storage().open(artifact.storage_name, "rb")
        response = FileResponse(
            stream,
            as_attachment=True,
            filename=path.rsplit("/", 1)[-1],
            content_type="application/octet-stream",
        )
        response["Content-Length"] = str(artifact.size)
        response["ETag"] = etag
        response["Digest"] = sha256_digest_header(artifact.sha256)
        response["X-Checksum-SHA256"] = artifact.sha256
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        return response
