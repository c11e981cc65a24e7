"""Bad input gets a clear 4xx and leaves nothing half-stored: no version, no file."""

import io
import json
import os
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Artifact, ModelVersion, RegisteredModel
from tests.conftest import a_model_file


def stored_files() -> set[Path]:
    """Every file and folder in artifact storage, but the one all versions' folders are in."""
    root = Path(os.environ["VETTED_VAR_DIR"]) / "artifacts"
    return set(root.rglob("*")) - {root / "versions"}


@pytest.fixture
def nothing_left_behind(db):
    before = stored_files()
    yield
    assert ModelVersion.objects.count() == 0
    assert Artifact.objects.count() == 0
    assert RegisteredModel.objects.count() == 0  # the first push's model is rolled back too
    assert stored_files() == before


def tar_with(members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def regular(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


def zip_with(names) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
    return buffer.getvalue()


def push(client, **data):
    return client.post("/api/v1/models/m/versions/", {"team": "fraud", **data}, format="multipart")


def error_of(response) -> str:
    return response.json()["error"]["message"]


@pytest.mark.parametrize(
    "archive_name, content, message",
    [
        ("m.tar.gz", tar_with([regular("../escape.txt")]), "outside the model folder"),
        ("m.tar.gz", tar_with([regular("/etc/passwd")]), "absolute"),
        ("m.tar.gz", tar_with([regular("ok.txt"), symlink("link", "/etc/passwd")]), "link"),
        ("m.tar.gz", tar_with([regular("a/../../b")]), "outside the model folder"),
        ("m.zip", zip_with(["ok", "../../evil"]), "outside the model folder"),
        ("m.tar.gz", b"this is not a tar file", "not a readable tar archive"),
        ("m.zip", b"PK nope", "not a readable zip file"),
        ("m.rar", b"whatever", "upload a .tar.gz"),
        ("m.tar.gz", tar_with([regular("MLmodel", b"flavors: [not, a, mapping")]), "MLmodel"),
    ],
)
def test_hostile_or_broken_archives_are_refused(
    api_as, alice, nothing_left_behind, archive_name, content, message
):
    response = push(api_as(alice), archive=SimpleUploadedFile(archive_name, content))
    assert response.status_code == 400, response.json()
    assert message in error_of(response)


def test_a_broken_mlmodel_after_good_files_leaves_no_file(api_as, alice, nothing_left_behind):
    archive = tar_with([regular("weights.bin", b"w" * 5000), regular("MLmodel", b": : :")])
    response = push(api_as(alice), archive=SimpleUploadedFile("m.tar.gz", archive))
    assert response.status_code == 400
    assert "MLmodel" in error_of(response)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("metrics", "{not json", "Not valid JSON"),
        ("metrics", json.dumps([1, 2]), "JSON object"),
        ("metrics", '{"auc": NaN}', "finite"),
        ("metrics", '{"auc": "high"}', "must be a number"),
        ("params", '{"lr": Infinity}', "use a string"),
        ("training_data_sha256", "xyz", "64 hexadecimal"),
        ("git_commit", "not-a-commit!", "hexadecimal"),
        ("ci_run_url", "javascript:alert(1)", "valid URL"),
    ],
)
def test_bad_metadata_is_refused_with_the_field_named(
    api_as, alice, nothing_left_behind, field, value, message
):
    response = push(api_as(alice), **{field: value})
    assert response.status_code == 400
    assert message in error_of(response)


@pytest.mark.parametrize(
    "path", ["../x", "/abs", "a\\b", "a/../../b", "", "x" * 500, "con\x00trol"]
)
def test_hostile_loose_file_paths_are_refused(api_as, alice, nothing_left_behind, path):
    response = push(api_as(alice), files=[SimpleUploadedFile("f.bin", b"data")], paths=[path])
    assert response.status_code == 400


def test_uploads_over_the_size_limit_get_413_and_nothing_is_kept(
    api_as, alice, settings, nothing_left_behind
):
    settings.MAX_UPLOAD_BYTES = 10_000
    response = push(api_as(alice), files=[SimpleUploadedFile("big.bin", b"0" * 50_000)])
    assert response.status_code == 413
    assert "limit" in error_of(response)


MIB = 1024 * 1024


def zeros_zip(path, size: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w") as member:
            for _ in range(size // MIB):
                member.write(bytes(MIB))


def zeros_tar_gz(path, size: int) -> None:
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = size
        archive.addfile(info, io.BufferedReader(io.BytesIO(bytes(size))))


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """A zip and a tar.gz of 128 MiB of zeros: about 128 KB each."""
    folder = tmp_path_factory.mktemp("bombs")
    zeros_zip(folder / "bomb.zip", 128 * MIB)
    zeros_tar_gz(folder / "bomb.tar.gz", 128 * MIB)
    return folder


def upload_temp_files(settings) -> list[str]:
    return os.listdir(settings.FILE_UPLOAD_TEMP_DIR)


@pytest.mark.parametrize("name", ["bomb.zip", "bomb.tar.gz"])
def test_an_archive_declaring_more_than_the_limit_gets_413_before_it_is_unpacked(
    api_as, alice, settings, nothing_left_behind, bombs, name
):
    settings.MAX_UPLOAD_BYTES = 100 * MIB
    spooled_before = upload_temp_files(settings)
    archive = SimpleUploadedFile(name, (bombs / name).read_bytes())
    response = push(api_as(alice), archive=archive)
    assert response.status_code == 413, response.json()
    assert error_of(response) == (
        f"{name} unpacks to at least 128.0 MiB: the upload is larger than the limit of 100.0 MiB."
    )
    assert upload_temp_files(settings) == spooled_before


@pytest.mark.parametrize("name", ["bomb.zip", "bomb.tar.gz"])
def test_an_archive_that_unpacks_to_far_more_than_its_size_gets_413(
    api_as, alice, nothing_left_behind, bombs, name
):
    archive = SimpleUploadedFile(name, (bombs / name).read_bytes())
    response = push(api_as(alice), archive=archive)  # 128 MiB is well under the 2 GiB limit
    assert response.status_code == 413, response.json()
    assert "more than 100 times its own size, as a zip bomb would" in error_of(response)


def test_a_zip_that_understates_its_sizes_is_refused_as_damaged(api_as, alice, nothing_left_behind):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(MIB))
    lying = bytearray(buffer.getvalue())  # both headers say the member holds 10 bytes
    struct.pack_into("<I", lying, lying.find(b"PK\x03\x04") + 22, 10)
    struct.pack_into("<I", lying, lying.rfind(b"PK\x01\x02") + 24, 10)
    response = push(api_as(alice), archive=SimpleUploadedFile("m.zip", bytes(lying)))
    assert response.status_code == 400, response.json()
    assert "m.zip is damaged" in error_of(response)


def test_loose_files_and_an_archive_share_one_limit(api_as, alice, settings, nothing_left_behind):
    settings.MAX_UPLOAD_BYTES = 100_000
    archive = tar_with([regular("zeros.bin", bytes(60_000))])
    loose = SimpleUploadedFile("weights.bin", os.urandom(50_000))
    response = push(api_as(alice), files=[loose], archive=SimpleUploadedFile("m.tar.gz", archive))
    assert response.status_code == 413
    assert "larger than the limit of 97.7 KiB" in error_of(response)


@pytest.mark.parametrize("format", ["json", "multipart"])
def test_an_upload_without_files_is_refused_and_makes_no_version(
    api_as, alice, nothing_left_behind, format
):
    response = api_as(alice).post("/api/v1/models/m/versions/", {"team": "fraud"}, format=format)
    assert response.status_code == 400
    assert "The upload holds no files" in error_of(response)


@pytest.mark.parametrize("filename", ["..", "."])
def test_an_upload_whose_only_file_has_no_name_is_refused(
    api_as, alice, nothing_left_behind, filename
):
    body = (
        '--b\r\nContent-Disposition: form-data; name="team"\r\n\r\nfraud\r\n'
        f'--b\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\nweights\r\n--b--\r\n"
    )
    response = api_as(alice).post(
        "/api/v1/models/m/versions/", body.encode(), content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 400
    assert "The upload holds no files" in error_of(response)
    assert "'..' has no name to store it under" in error_of(response)


def test_a_path_of_only_dots_and_slashes_is_refused(api_as, alice, nothing_left_behind):
    files = [SimpleUploadedFile("weights.bin", b"w")]
    response = push(api_as(alice), files=files, paths=["./"])
    assert response.status_code == 400
    assert error_of(response) == "File name './' names no file: give the file a name."


@pytest.mark.parametrize("name", ["../evil", "has space", "-dash-first", "a" * 101, "é"])
def test_hostile_model_names_are_refused(api_as, alice, nothing_left_behind, name):
    response = api_as(alice).post("/api/v1/models/", {"name": name, "team": "fraud"}, format="json")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["message"]


def test_unknown_ids_get_404_with_a_message(api_as, alice, db):
    client = api_as(alice)
    for url in [
        "/api/v1/models/nope/",
        "/api/v1/models/nope/versions/1/",
        "/api/v1/models/nope/stages/production",
        "/api/v1/models/nope/aliases/champion",
    ]:
        response = client.get(url)
        assert response.status_code == 404
        assert "nope" in error_of(response)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/a%00b/",
        "/api/v1/models/m/aliases/champ%00ion",
        "/api/v1/models/m/versions/1/artifacts/MLmodel%00",
        "/api/v1/models/?search=x%00y",
        "/models/a%00b/",
        "/?tag=%00",
    ],
)
def test_a_nul_byte_in_the_address_is_a_400_not_a_database_error(client, api_as, alice, url):
    push(api_as(alice), files=[a_model_file()])
    client.force_login(alice)
    response = (api_as(alice) if url.startswith("/api/") else client).get(url)
    assert response.status_code == 400
    message = error_of(response) if url.startswith("/api/") else response.content.decode()
    assert "NUL byte" in message


def test_pushing_to_an_unknown_model_without_a_team_says_how_to_create_it(api_as, alice, db):
    response = api_as(alice).post("/api/v1/models/new-one/versions/", {}, format="json")
    assert response.status_code == 404
    assert "Name a team" in error_of(response)


def test_an_unknown_stage_is_refused(api_as, alice, bob):
    push(api_as(alice), files=[a_model_file()])
    response = api_as(bob).post("/api/v1/models/m/versions/1/stage/", {"stage": "prod"})
    assert response.status_code == 400
    assert "stage" in error_of(response)


def test_malformed_json_bodies_get_400(api_as, alice, db):
    response = api_as(alice).generic(
        "POST", "/api/v1/models/", "{broken", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)


def test_a_taken_name_is_refused_alike_whether_or_not_its_team_is_visible(api_as, people, teams):
    from registry import services

    services.create_model(actor=people["alice"], name="fraud-detector", team=teams["fraud"])
    for who, team in (("mallory", "growth"), ("alice", "fraud")):
        answer = api_as(people[who]).post(
            "/api/v1/models/", {"name": "fraud-detector", "team": team}, format="json"
        )
        assert answer.status_code == 400
        message = answer.json()["error"]["message"]
        assert "is taken" in message and "Fraud" not in message


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/models/?stage=retired", "stage"),
        ("/api/v1/models/?page=", "page"),
        ("/api/v1/models/?page=two", "page"),
        ("/api/v1/models/?page=0", "page"),
        ("/api/v1/audit/?page=%C2%B2", "page"),  # a superscript two is a digit to Python
        ("/api/v1/models/iris/versions/?page=-1", "page"),
    ],
)
def test_a_list_filter_or_page_it_cannot_use_is_refused_by_name(api_as, alice, url, field):
    client = api_as(alice)
    client.post("/api/v1/models/", {"name": "iris", "team": "fraud"}, format="json")

    response = client.get(url)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{field}: ")


def test_a_page_past_the_last_is_not_found_and_last_is_the_last(api_as, alice):
    client = api_as(alice)
    client.post("/api/v1/models/", {"name": "iris", "team": "fraud"}, format="json")

    assert client.get("/api/v1/models/?page=2").status_code == 404
    assert client.get("/api/v1/models/?page=last").json()["results"][0]["name"] == "iris"
    assert client.get("/api/v1/models/?page=1").json()["count"] == 1
