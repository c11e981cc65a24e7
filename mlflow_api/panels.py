"""What the MLflow protocol adds to a version's page: where a version registered through MLflow
came from (its source URI, run, experiment, run link and logged datasets). Registered in
MlflowApiConfig.ready(); the registry never imports this app.
"""

from urllib.parse import urlsplit

from registry.panels import Panel, register_panel

from .models import VersionSource


def _web_url(url: str) -> str:
    """`url` if a browser may follow it (http or https), else empty: no javascript: links."""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def version_source_panel(*, request, model, version) -> dict | None:
    """Left out for versions pushed to Vetted directly. One query."""
    source = (
        VersionSource.objects.select_related("run__experiment", "logged_model")
        .filter(version=version)
        .first()
    )
    if source is None:
        return None
    return {
        "source": source,
        "run": source.run,
        "experiment": source.run.experiment if source.run else None,
        "run_link": _web_url(source.run_link),
    }


def register() -> None:
    register_panel(
        "version",
        Panel("mlflow", "mlflow_api/_version_source_panel.html", version_source_panel, order=30),
    )
