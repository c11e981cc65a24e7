"""Moving an existing MLflow registry into Vetted: every model, version, tag, alias and stage.

Read with MLflow's own client, written through the registry's services, so an imported version
is a normal Vetted version (stored files with sha256, load check, audit events on the command
channel). Run again, it creates nothing twice: a version's idempotency key is its source version
(`mlflow-import:<number>`), tags and aliases are set to the source's values, and a stage is
copied only onto a version whose stage Vetted has never moved (after that, stages are Vetted's,
behind its reviews). Aliases go through the same gates as everywhere else.
"""

import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from mlflow.artifacts import download_artifacts
from mlflow.entities.model_registry import ModelVersion as SourceVersion
from mlflow.entities.model_registry import RegisteredModel as SourceModel
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from accounts.models import Team
from registry import services
from registry.models import ModelAlias, ModelVersion, RegisteredModel, Stage, StageChange

from . import tags
from .models import VersionSource
from .tags import VETTED_TAG_PREFIX

IMPORT_KEY_PREFIX = "mlflow-import:"
# MLflow's stage names; several versions may share one there, one per model in Vetted.
SOURCE_STAGES: dict[str, str] = {
    "Staging": Stage.STAGING,
    "Production": Stage.PRODUCTION,
    "Archived": Stage.ARCHIVED,
}
PAGE_SIZE = 1000
READY = "READY"  # a version whose registration failed or is pending has no files to copy


@dataclass
class ImportSummary:
    models_created: int = 0
    models_kept: int = 0
    versions_created: int = 0
    versions_kept: int = 0
    files: int = 0
    bytes: int = 0
    tags_set: int = 0
    aliases_set: int = 0
    stages_set: int = 0
    problems: list[str] = field(default_factory=list)


def import_registry(
    *,
    client: MlflowClient,
    source_url: str,
    actor: User,
    team: Team,
    only: list[str] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> ImportSummary:
    """Import every registered model of the source (or the names in `only`) into `team`.

    A model that cannot be imported (its name taken by another team's model, a download that
    fails) is listed in `problems` and the others go on.
    """
    summary = ImportSummary()
    for source_model in _source_models(client, only):
        try:
            _import_model(client, source_model, source_url, actor, team, summary, say)
        except (MlflowException, PermissionDenied, ValidationError, OSError) as error:
            summary.problems.append(f"Model {source_model.name!r}: {_message(error)}")
    return summary


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, MlflowException):
        return error.message
    return str(error)


def _source_models(client: MlflowClient, only: list[str] | None) -> Iterator[SourceModel]:
    if only:
        for name in only:
            yield client.get_registered_model(name)
        return
    token = None
    while True:
        page = client.search_registered_models(max_results=PAGE_SIZE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _source_versions(client: MlflowClient, name: str) -> list[SourceVersion]:
    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    versions: list[SourceVersion] = []
    token = None
    while True:
        page = client.search_model_versions(
            filter_string=f"name='{quoted}'", max_results=PAGE_SIZE, page_token=token
        )
        versions.extend(page)
        token = page.token
        if not token:
            return sorted(versions, key=lambda v: int(v.version))


def _import_model(client, source_model, source_url, actor, team, summary, say) -> None:
    name = source_model.name
    model = RegisteredModel.objects.filter(name=name).select_related("team").first()
    if model is not None and model.team_id != team.pk:
        raise ValidationError(
            f"a model of that name already exists in another team ({model.team.slug}); Vetted's"
            " names are unique across teams. Rename one of them, or import with --team "
            f"{model.team.slug} if the import belongs there."
        )
    if model is None:
        model = services.create_model(
            actor=actor, name=name, team=team, description=source_model.description or ""
        )
        summary.models_created += 1
        say(f"{name}: created in team {team.slug}")
    else:
        summary.models_kept += 1
    summary.tags_set += _copy_tags(
        source_model.tags or {}, partial(tags.set_model_tag, actor=actor, model=model)
    )

    imported: dict[str, ModelVersion] = {}
    source_versions = _source_versions(client, name)
    for source_version in source_versions:
        if source_version.status not in (None, "", READY):
            summary.problems.append(
                f"{name} version {source_version.version} is {source_version.status} in MLflow:"
                " it has no files to copy."
            )
            continue
        key = IMPORT_KEY_PREFIX + source_version.version
        version = ModelVersion.objects.filter(model=model, idempotency_key=key).first()
        if version is None:
            version = _import_version(client, model, source_version, source_url, actor, summary)
            say(f"{name}: version {source_version.version} imported as version {version.number}")
        else:
            summary.versions_kept += 1
        summary.tags_set += _copy_tags(
            source_version.tags or {}, partial(tags.set_version_tag, actor=actor, version=version)
        )
        imported[source_version.version] = version

    summary.stages_set += _copy_stages(actor, source_versions, imported, source_url, summary)
    for alias, number in sorted((source_model.aliases or {}).items()):
        version = imported.get(str(number))
        if version is None:
            summary.problems.append(f"{name}@{alias}: source version {number} was not imported.")
            continue
        if ModelAlias.objects.filter(model=model, name=alias, version=version).exists():
            continue
        try:
            services.set_alias(
                actor=actor, version=version, alias=alias, reason=f"Imported from {source_url}"
            )
        except (PermissionDenied, ValidationError) as error:
            summary.problems.append(f"{name}@{alias} (version {version.number}): {_message(error)}")
        else:
            summary.aliases_set += 1


def _import_version(client, model, source_version, source_url, actor, summary) -> ModelVersion:
    """Download the version's files from the source and register them, with its run's lineage."""
    run = _readable_run(client, source_version.run_id)
    with tempfile.TemporaryDirectory(prefix="vetted-mlflow-import-") as folder:
        local = Path(
            download_artifacts(
                artifact_uri=client.get_model_version_download_uri(
                    model.name, source_version.version
                ),
                dst_path=folder,
                tracking_uri=source_url,
            )
        )
        paths = sorted(p for p in local.rglob("*") if p.is_file())
        with ExitStack() as files, transaction.atomic():
            upload = services.Upload(
                files=[
                    (p.relative_to(local).as_posix(), files.enter_context(p.open("rb")))
                    for p in paths
                ]
            )
            version, _ = services.register_version(
                actor=actor,
                model=model,
                lineage=_lineage(source_version, run),
                upload=upload,
                idempotency_key=IMPORT_KEY_PREFIX + source_version.version,
            )
            VersionSource.objects.create(
                version=version,
                source=(source_version.source or "")[:1000],
                mlflow_run_id=(source_version.run_id or "")[:32],
                run_link=(source_version.run_link or "")[:1000],
                datasets=_datasets(run),
            )
    stored = list(version.artifacts.all())
    summary.versions_created += 1
    summary.files += len(stored)
    summary.bytes += sum(a.size for a in stored)
    return version


def _readable_run(client: MlflowClient, run_id: str | None):
    """The source run, or None when the version has none or it was deleted or is hidden."""
    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except MlflowException:
        return None


def _lineage(source_version, run) -> services.Lineage:
    lineage = services.Lineage(description=source_version.description or "")
    if run is None:
        return lineage
    tags = run.data.tags
    commit = tags.get("mlflow.source.git.commit", "").lower()
    if 0 < len(commit) <= 64 and all(c in "0123456789abcdef" for c in commit):
        lineage.git_commit = commit
    lineage.git_repo = tags.get("mlflow.source.git.repoURL", "")[:500]
    lineage.git_branch = tags.get("mlflow.source.git.branch", "")[:255]
    lineage.params = dict(run.data.params)
    lineage.metrics = {k: v for k, v in run.data.metrics.items() if math.isfinite(v)}
    return lineage


def _datasets(run) -> list[dict]:
    if run is None or run.inputs is None:
        return []
    datasets = []
    for item in run.inputs.dataset_inputs or []:
        context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), "")
        dataset = item.dataset
        datasets.append(
            {
                "name": dataset.name,
                "digest": dataset.digest,
                "source_type": dataset.source_type,
                "source": dataset.source,
                "context": context,
            }
        )
    return datasets


def _copy_stages(actor, source_versions, imported, source_url, summary) -> int:
    """Give each imported version its source stage, unless Vetted has moved its stage since.

    MLflow lets several versions share Staging or Production; Vetted keeps one per stage, so
    the newest holds it and the older ones are archived, as a move in Vetted would leave them.
    """
    wanted: dict[str, str] = {}
    for source_version in source_versions:
        target = SOURCE_STAGES.get(source_version.current_stage or "")
        if target and source_version.version in imported:
            wanted[source_version.version] = target
    for single in (Stage.STAGING, Stage.PRODUCTION):
        holders = sorted((int(n) for n, s in wanted.items() if s == single), reverse=True)
        for older in holders[1:]:
            wanted[str(older)] = Stage.ARCHIVED
    order: dict[str, int] = {Stage.ARCHIVED: 0, Stage.STAGING: 1, Stage.PRODUCTION: 2}
    moved = 0
    for number, stage in sorted(wanted.items(), key=lambda item: order[item[1]]):
        version = ModelVersion.objects.select_related("model").get(pk=imported[number].pk)
        if version.stage == stage or StageChange.objects.filter(version=version).exists():
            continue
        try:
            services.set_stage(
                actor=actor,
                version=version,
                stage=stage,
                via="seed",
                reason=f"Imported from {source_url} (version {number} there)",
            )
        except (PermissionDenied, ValidationError) as error:
            summary.problems.append(
                f"{version.model.name} version {version.number} to {stage}: {_message(error)}"
            )
        else:
            moved += 1
    return moved


def _copy_tags(source_tags: dict[str, str], set_tag) -> int:
    """The source's tags onto the imported model or version: how many changed. Tags Vetted
    writes itself (a Vetted server as the source) are never copied back."""
    return sum(
        set_tag(key=key, value=value)
        for key, value in sorted(source_tags.items())
        if not key.startswith(VETTED_TAG_PREFIX)
    )
