from django.urls import path, re_path

from . import views

app_name = "mlflow_api"

# No trailing slashes: MLflow's client calls exactly these paths, and a redirect would lose the
# body of its POSTs. Everything else under /mlflow/ answers MLflow's ENDPOINT_NOT_FOUND.
urlpatterns = [
    path("", views.home, name="home"),
    path("api/<path:path>", views.dispatch, name="dispatch"),
    re_path(r"^.*$", views.not_found, name="not_found"),
]
