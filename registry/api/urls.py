from django.urls import path
from drf_spectacular.views import SpectacularSwaggerSplitView

from vetted.api.schema_page import SchemaView

from . import views

app_name = "api"

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("models/", views.ModelList.as_view(), name="models"),
    path("models/<str:name>/", views.ModelDetail.as_view(), name="model"),
    path("models/<str:name>/versions/", views.VersionList.as_view(), name="versions"),
    path("models/<str:name>/versions/<int:number>/", views.VersionDetail.as_view(), name="version"),
    path(
        "models/<str:name>/versions/<int:number>/stage/",
        views.VersionStage.as_view(),
        name="version-stage",
    ),
    path(
        "models/<str:name>/versions/<int:number>/load-checks/",
        views.LoadChecks.as_view(),
        name="version-load-checks",
    ),
    path(
        "models/<str:name>/versions/<int:number>/artifacts/<path:path>",
        views.ArtifactDownload.as_view(),
        name="artifact",
    ),
    path("models/<str:name>/stages/<str:stage>", views.ResolveStage.as_view(), name="stage"),
    path("models/<str:name>/aliases/<str:alias>", views.Alias.as_view(), name="alias"),
]
