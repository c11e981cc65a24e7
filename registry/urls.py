from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("", views.model_list, name="model_list"),
    path("models/<str:name>/", views.model_detail, name="model_detail"),
    path("models/<str:name>/edit/", views.model_edit, name="model_edit"),
    path("models/<str:name>/history/", views.model_history, name="model_history"),
    path("models/<str:name>/compare/", views.compare, name="compare"),
    path("models/<str:name>/versions/new/", views.version_push, name="version_push"),
    path(
        "models/<str:name>/versions/<int:number>/",
        views.version_detail,
        name="version_detail",
    ),
    path(
        "models/<str:name>/versions/<int:number>/load-check/",
        views.version_load_check,
        name="version_load_check",
    ),
    path(
        "models/<str:name>/versions/<int:number>/load-check/retry/",
        views.version_load_check_retry,
        name="version_load_check_retry",
    ),
    path(
        "models/<str:name>/versions/<int:number>/stage/",
        views.version_stage,
        name="version_stage",
    ),
    path(
        "models/<str:name>/versions/<int:number>/aliases/",
        views.alias_set,
        name="alias_set",
    ),
    path(
        "models/<str:name>/aliases/<str:alias>/delete/",
        views.alias_delete,
        name="alias_delete",
    ),
]
