"""Twenty CI jobs push to one model at once: PostgreSQL hands out 1..20, no gap, no duplicate."""

import os
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core.files.storage import storages

from registry import services
from registry.models import ModelVersion


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_uploads_get_versions_one_to_twenty(
    needs_postgres, live_server, alice, token_for, teams
):
    services.create_model(actor=alice, name="busy", team=teams["fraud"])
    headers = {"Authorization": f"Bearer {token_for(alice)}"}

    def push(i: int) -> int:
        response = httpx.post(
            f"{live_server.url}/api/v1/models/busy/versions/",
            headers=headers,
            data={"description": f"job {i}"},
            files={"files": (f"w{i}.bin", b"x" * 20_000)},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return response.json()["version"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(push, range(20)))

    assert sorted(numbers) == list(range(1, 21))
    assert sorted(ModelVersion.objects.values_list("number", flat=True)) == list(range(1, 21))


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_idempotency_key_make_one_version(
    needs_postgres, live_server, alice, token_for, teams
):
    services.create_model(actor=alice, name="retry", team=teams["fraud"])
    headers = {"Authorization": f"Bearer {token_for(alice)}", "Idempotency-Key": "job-7"}
    folders = storages["artifacts"].path("versions")
    folders_before = set(os.listdir(folders)) if os.path.isdir(folders) else set()

    def push(_: int) -> str:
        response = httpx.post(
            f"{live_server.url}/api/v1/models/retry/versions/",
            headers=headers,
            files={"files": ("w.bin", b"y" * 10_000)},
            timeout=60,
        )
        assert response.status_code in (200, 201), response.text
        return response.json()["uuid"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        uuids = set(pool.map(push, range(8)))

    assert len(uuids) == 1
    assert ModelVersion.objects.count() == 1
    assert set(os.listdir(folders)) - folders_before == uuids  # the losers' folders are gone


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_pushes_create_the_model_once_and_all_land_in_it(
    needs_postgres, live_server, alice, token_for, teams
):
    headers = {"Authorization": f"Bearer {token_for(alice)}"}

    def push(i: int) -> int:
        response = httpx.post(
            f"{live_server.url}/api/v1/models/brand-new/versions/",
            headers=headers,
            data={"team": "fraud", "description": f"job {i}"},
            files={"files": (f"w{i}.bin", b"z" * 5_000)},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return response.json()["version"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        numbers = list(pool.map(push, range(10)))

    assert sorted(numbers) == list(range(1, 11))
    assert ModelVersion.objects.filter(model__name="brand-new").count() == 10
