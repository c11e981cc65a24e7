"""The version page, its load check block, and registering a version from the browser."""

import hashlib
import html as html_text
import io
import os
import re
import shlex
import subprocess
import sys
import tarfile
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from registry import services
from registry.models import LoadStatus, ModelVersion

from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA_SHA = "ab" * 32


@pytest.fixture
def model(alice, teams):
    return registered_model(alice, teams["fraud"])


@pytest.fixture
def version(alice, model, sklearn_model_dir):
    files = [
        (str(path.relative_to(sklearn_model_dir)), path.read_bytes())
        for path in sorted(sklearn_model_dir.rglob("*"))
        if path.is_file()
    ]
    return pushed_version(
        alice,
        model,
        files=files,
        description="Retrained on **March** data.",
        git_repo="https://git.example.com/fraud/detector.git",
        git_commit=COMMIT,
        git_branch="main",
        ci_run_url="https://ci.example.com/runs/42",
        training_data_uri="s3://data/fraud/2024-03.parquet",
        training_data_sha256=DATA_SHA,
        params={"C": 0.5, "penalty": "l2"},
        metrics={"auc": 0.9123456, "f1": 0.81},
    )


def url(version):
    return reverse("registry:version_detail", args=[version.model.name, version.number])


def load_check_url(version):
    return reverse("registry:version_load_check", args=[version.model.name, version.number])


def test_it_shows_metadata_lineage_metrics_params_and_signature(client, alice, version):
    client.force_login(alice)
    response = client.get(url(version))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Retrained on <strong>March</strong> data." in html
    assert f'href="https://git.example.com/fraud/detector/commit/{COMMIT}"' in html
    assert 'href="https://ci.example.com/runs/42"' in html
    assert "s3://data/fraud/2024-03.parquet" in html and DATA_SHA in html
    assert "pushed by alice" in html and ">main<" in html
    assert "0.912346" in html and "penalty" in html and "<code>l2</code>" in html
    assert "sepal length (cm)" in html and "<code>double</code>" in html
    assert "scikit-learn" in html and ">sklearn</span>" in html
    assert_strict_page(response)


def test_it_lists_files_with_sizes_checksums_and_download_links(client, alice, version):
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    mlmodel = version.artifacts.get(path="MLmodel")
    download = reverse("api:artifact", args=[version.model.name, version.number, "MLmodel"])
    assert f'href="{download}"' in html
    assert f'<code class="hash">{mlmodel.sha256}</code>' in html  # whole, not only on hover
    assert "bytes" in html or "KB" in html
    response = client.get(download)
    assert response.status_code == 200 and response["X-Checksum-SHA256"] == mlmodel.sha256


def test_it_shows_the_whole_commit_and_training_data_checksum(client, alice, version):
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    assert f'<code class="hash">{COMMIT}</code>' in html
    assert f'<code class="hash">{DATA_SHA}</code>' in html


def test_it_shows_how_to_fetch_exactly_this_version_with_copy_buttons(client, alice, version):
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    pull = "vetted --url http://testserver pull fraud-detector --version 1 -o fraud-detector-v1"
    assert f'id="pull-command" aria-labelledby="pull-label">{pull}</pre>' in html
    api = "http://testserver/api/v1/models/fraud-detector/versions/1/"
    assert f'id="api-url" aria-labelledby="api-label">{api}</pre>' in html
    assert (
        '<button type="button" class="button button--small js-only" data-copy-from="pull-command">'
        in html
    )
    assert client.get(api).json()["version"] == 1


def test_its_pull_command_downloads_this_version_with_the_cli(
    client, alice, version, live_server, token_for, tmp_path
):
    """The command as shown, run in a shell as someone would paste it, against a live server."""
    client.force_login(alice)
    page = client.get(url(version), headers={"host": urlsplit(live_server.url).netloc})
    shown = re.search(r'<pre [^>]*id="pull-command"[^>]*>(.*?)</pre>', page.content.decode())
    command = shlex.split(html_text.unescape(shown.group(1)))
    assert command[0] == "vetted"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETTED_")}
    env["VETTED_TOKEN"] = token_for(alice, "read")

    done = subprocess.run(
        [sys.executable, "-m", "vetted_cli", *command[1:]],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    folder = tmp_path / "fraud-detector-v1"
    for artifact in version.artifacts.all():
        assert hashlib.sha256((folder / artifact.path).read_bytes()).hexdigest() == artifact.sha256


def test_it_links_no_repository_that_is_not_a_web_url(client, alice, model):
    version = pushed_version(
        alice, model, git_repo="git@git.example.com:fraud/x.git", ci_run_url="javascript:alert(1)"
    )
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    assert "git@git.example.com:fraud/x.git" in html
    assert 'href="git@' not in html and 'href="javascript:' not in html


def test_it_is_not_found_for_mallory_or_a_missing_number(client, people, alice, model):
    version = pushed_version(alice, model)
    client.force_login(people["mallory"])
    assert client.get(url(version)).status_code == 404
    assert client.get(load_check_url(version)).status_code == 404
    client.force_login(alice)
    missing = reverse("registry:version_detail", args=[model.name, 99])
    assert client.get(missing).status_code == 404


def test_a_pending_check_polls_every_two_seconds(client, alice, version):
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    assert f'hx-get="{load_check_url(version)}" hx-trigger="every 2s"' in html
    assert "Load check queued" in html
    partial = client.get(load_check_url(version), headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.content.decode().lstrip().startswith('<section id="load-check"')


def finish_check(version, **answer):
    """A worker's steps on a new attempt: claim the pending check, then record its answer.

    (These versions have no MLmodel, so their first check failed at registration.)"""
    check = services.retry_load_check(version=version, reason="test")
    assert check is not None
    check_id = check.pk
    assert services.claim_load_check(check_id=check_id, worker="test")
    assert services.finish_load_check(check_id=check_id, **answer)


def test_a_finished_check_answers_286_so_htmx_stops_polling(client, alice, model):
    version = pushed_version(alice, model)
    finish_check(version, status="passed", seconds=1.234, shape=[3], isolation="bubblewrap: …")
    client.force_login(alice)
    partial = client.get(load_check_url(version), headers={"HX-Request": "true"})
    assert partial.status_code == 286
    html = partial.content.decode()
    assert "Loads and predicts" in html and "1.23 s" in html and "(3)" in html
    assert "hx-trigger" not in html
    assert "Weakly isolated" not in html


def test_a_failed_check_shows_its_error_in_a_pre(client, alice, model):
    version = pushed_version(alice, model)
    error = "Traceback (most recent call last):\n  ValueError: <bad input>"
    finish_check(version, status="failed", seconds=None, shape=None, error=error)
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    assert "Load check failed" in html
    assert '<pre class="error-output">Traceback (most recent call last):\n' in html
    assert "ValueError: &lt;bad input&gt;" in html


def test_a_check_without_sandbox_is_errored_not_failed_and_stops_polling(client, alice, model):
    version = pushed_version(alice, model)
    error = "Sandbox unavailable: bubblewrap ('bwrap') is not installed."
    finish_check(version, status="errored", seconds=None, shape=None, error=error)
    client.force_login(alice)
    partial = client.get(load_check_url(version), headers={"HX-Request": "true"})
    assert partial.status_code == 286
    html = partial.content.decode()
    assert "Load check could not run" in html and "bubblewrap" in html
    assert "Load check failed" not in html


def test_a_weakly_isolated_check_says_so_on_the_page(client, alice, model):
    version = pushed_version(alice, model)
    weak = "weak isolation (no bubblewrap; allowed because DEBUG is on): clean environment"
    finish_check(version, status="passed", seconds=0.5, shape=[3], isolation=weak)
    client.force_login(alice)
    html = client.get(url(version)).content.decode()
    assert "Weakly isolated." in html and "Install bubblewrap" in html


def test_bob_archives_the_version_from_its_page(client, bob, alice, model):
    version = pushed_version(alice, model)
    client.force_login(bob)
    html = client.get(url(version)).content.decode()
    stage = reverse("registry:version_stage", args=[model.name, version.number])
    assert f'action="{stage}"' in html
    response = client.post(stage, {"stage": "archived", "next": url(version)})
    assert response["Location"] == url(version)
    version.refresh_from_db()
    assert version.stage == "archived"


def test_it_runs_the_same_number_of_queries_for_3_or_30_files(client, alice, bob, model):
    def version_with(count):
        files = [(f"data/part-{n}.bin", b"x" * n) for n in range(count)]
        version = pushed_version(alice, model, files=files, metrics={"auc": 0.9})
        for n in range(min(count, 10)):
            services.set_alias(actor=bob, version=version, alias=f"a{count}-{n}")
        return version

    client.force_login(alice)
    few = count_queries(client, url(version_with(3)))
    assert count_queries(client, url(version_with(30))) == few


# --- Registering a version from the browser --------------------------------------------------


def file(name, content):
    return SimpleUploadedFile(name, content)


def push_url(model):
    return reverse("registry:version_push", args=[model.name])


def test_bob_registers_a_version_with_files_from_the_browser(client, bob, model):
    client.force_login(bob)
    page = client.get(push_url(model))
    assert page.status_code == 200
    assert_strict_page(page)
    response = client.post(
        push_url(model),
        {
            "description": "hand-made",
            "git_commit": "abc123",
            "metrics": '{"auc": 0.7}',
            "params": '{"depth": 3}',
            "files": [file("model.pkl", b"weights"), file("requirements.txt", b"numpy==2")],
        },
    )
    version = ModelVersion.objects.get(model=model)
    assert response.status_code == 302 and response["Location"] == url(version)
    assert version.created_by == bob and version.metrics == {"auc": 0.7}
    assert version.params == {"depth": 3}
    # No MLmodel among the files: nothing to load, and the page says so at once.
    assert version.load_status == LoadStatus.FAILED
    assert "This version has no MLmodel file to load." in client.get(url(version)).content.decode()
    assert sorted(version.artifacts.values_list("path", flat=True)) == [
        "model.pkl",
        "requirements.txt",
    ]
    assert version.requirements == ["numpy==2"]


def test_the_push_form_shows_the_services_validation_error(client, alice, model):
    client.force_login(alice)
    response = client.post(push_url(model), {"metrics": '{"auc": "high"}'})
    assert response.status_code == 400
    assert "Metric &#x27;auc&#x27; must be a number" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_the_push_form_checks_the_csrf_token(alice, model):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(push_url(model), {"description": "x"}).status_code == 403
    assert not ModelVersion.objects.exists()


def test_the_push_form_refuses_an_upload_over_the_size_limit(client, alice, model, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    client.force_login(alice)
    response = client.post(push_url(model), {"files": [file("big.bin", b"x" * 5000)]})
    assert response.status_code == 413
    assert "larger than the limit" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_the_push_form_refuses_an_upload_without_files(client, alice, model):
    client.force_login(alice)
    response = client.post(push_url(model), {"description": "only words"})
    assert response.status_code == 400
    assert "The upload holds no files" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_the_push_form_refuses_an_archive_that_unpacks_past_the_limit(
    client, alice, model, settings
):
    settings.MAX_UPLOAD_BYTES = 100_000
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 1_000_000
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    client.force_login(alice)
    response = client.post(push_url(model), {"archive": file("m.tar.gz", buffer.getvalue())})
    assert response.status_code == 413
    assert "m.tar.gz unpacks to at least 976.6 KiB" in response.content.decode()
    assert not ModelVersion.objects.exists()
