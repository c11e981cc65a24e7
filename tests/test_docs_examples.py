"""The Go example in docs/ci.md, as an app developer would copy it: it builds and it resolves."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import ModelVersion
from tests.conftest import need
from tests.promotions import promote

CI_DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci.md"


@pytest.fixture
def built_go_example(tmp_path) -> Path:
    go = shutil.which("go")
    need("The Go toolchain (go)", go is not None)
    blocks = re.findall(r"```go\n(.*?)```", CI_DOCS.read_text(), re.S)
    assert len(blocks) == 1, "docs/ci.md should hold exactly one Go example"
    (tmp_path / "main.go").write_text(blocks[0])
    (tmp_path / "go.mod").write_text("module resolve\n\ngo 1.19\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GOCACHE": str(tmp_path / "go-cache"),
        "GOPROXY": "off",  # the standard library only: nothing to fetch
    }
    built = subprocess.run(
        [str(go), "build", "-o", "resolve", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return tmp_path / "resolve"


def run(program: Path, url: str, token: str) -> subprocess.CompletedProcess:
    env = {"VETTED_URL": url, "VETTED_TOKEN": token}
    return subprocess.run([str(program)], env=env, capture_output=True, text=True, timeout=60)


def test_the_go_example_prints_the_production_version(
    built_go_example, live_server, api_as, token_for, people
):
    pushed = api_as(people["alice"]).post(
        "/api/v1/models/fraud-detector/versions/",
        {"team": "fraud", "files": [SimpleUploadedFile("model.bin", b"weights")]},
        format="multipart",
    )
    assert pushed.status_code == 201
    version = ModelVersion.objects.get(model__name="fraud-detector", number=1)
    promote(version, "production", author=people["alice"], approver=people["bob"])

    app = run(built_go_example, live_server.url, token_for(people["carol"], "read"))
    assert (app.returncode, app.stdout) == (0, "fraud-detector version 1, 1 files\n")

    outsider = run(built_go_example, live_server.url, token_for(people["mallory"], "read"))
    assert outsider.returncode == 1
    assert outsider.stderr == "vetted: HTTP 404: No model named 'fraud-detector'.\n"
