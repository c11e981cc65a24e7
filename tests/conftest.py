"""People and things the tests meet: alice, bob, carol and mallory, real MLflow model folders.

alice: data scientist, owner of team `fraud`      bob: DevOps in `fraud`
carol: app developer in `fraud`                    victor: viewer in `fraud`
mallory: data scientist in another team, `growth`
"""

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Membership, Role, Team

PASSWORD = "correct-horse-battery"
PEOPLE = ["alice", "bob", "carol", "victor", "mallory", "root"]


@pytest.fixture
def teams(db):
    return {
        "fraud": Team.objects.create(name="Fraud", slug="fraud"),
        "growth": Team.objects.create(name="Growth", slug="growth"),
    }


def _person(username, team, role, owner=False):
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    Membership.objects.create(user=user, team=team, role=role, is_owner=owner)
    return user


@pytest.fixture
def people(teams):
    return {
        "alice": _person("alice", teams["fraud"], Role.DATA_SCIENTIST, owner=True),
        "bob": _person("bob", teams["fraud"], Role.DEVOPS),
        "carol": _person("carol", teams["fraud"], Role.APP_DEVELOPER),
        "victor": _person("victor", teams["fraud"], Role.VIEWER),
        "mallory": _person("mallory", teams["growth"], Role.DATA_SCIENTIST),
    }


@pytest.fixture
def alice(people):
    return people["alice"]


@pytest.fixture
def bob(people):
    return people["bob"]


@pytest.fixture
def token_for():
    """token_for(user, "read,write") → the plain token, as a CI job would hold it."""

    def make(user, scopes="read,write"):
        _, plain = account_services.create_token(user=user, name="ci", scopes=scopes.split(","))
        return plain

    return make


@pytest.fixture
def api_as(token_for):
    """api_as(user) → an APIClient sending that user's bearer token."""

    def make(user, scopes="read,write"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scopes)}")
        return client

    return make


@pytest.fixture(scope="session")
def sklearn_model_dir(tmp_path_factory) -> Path:
    """A real MLflow model folder: logistic regression on iris, with signature and example."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    features = frame.drop(columns="target")
    model = LogisticRegression(max_iter=500).fit(features, frame["target"])
    path = tmp_path_factory.mktemp("models") / "iris"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(features, model.predict(features)),
        input_example=features.head(3),
    )
    return path


def pyfunc_model_dir(tmp_path: Path, body: str, on_load: str = "") -> Path:
    """An MLflow pyfunc model whose predict() runs `body`, and whose loading runs `on_load`."""
    import mlflow.pyfunc

    tmp_path.mkdir(parents=True, exist_ok=True)
    code = tmp_path / "custom_model.py"
    code.write_text(
        "import mlflow.pyfunc\n"
        "class Custom(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        f"        {body}\n"
        "        return model_input\n"
        "mlflow.models.set_model(Custom())\n"
    )
    path = tmp_path / "custom"
    import pandas as pd
    from mlflow.models import infer_signature

    example = pd.DataFrame({"x": [1.0, 2.0]})
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(code),
        # No input example: mlflow would run predict() while saving. The check builds input
        # from the signature instead.
        signature=infer_signature(example, example),
    )
    if on_load:  # added after saving: mlflow runs the model's code while it saves it
        saved = path / code.name
        saved.write_text(f"{on_load}\n{saved.read_text()}")
    return path


def processes_with(marker: str) -> list[str]:
    """Pids of every process on the machine whose command line holds `marker`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found


def a_model_file(content: bytes = b"weights") -> SimpleUploadedFile:
    """A small file to push: a version holds at least one."""
    return SimpleUploadedFile("model.pkl", content)


def tar_gz_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.add(file, arcname=str(file.relative_to(folder)))
    return buffer.getvalue()


@pytest.fixture
def copy_model_dir(tmp_path, sklearn_model_dir):
    def make() -> Path:
        target = tmp_path / "copy"
        shutil.copytree(sklearn_model_dir, target)
        return target

    return make


def database_url() -> str:
    """The test database, for a server or worker started as its own process."""
    from django.db import connection

    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def need(what: str, available: bool) -> None:
    """Skip a test whose real server is not configured; in CI (VETTED_REQUIRE_SERVICES) fail."""
    if available:
        return
    if os.environ.get("VETTED_REQUIRE_SERVICES") == "true":
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not configured")


@pytest.fixture
def needs_postgres():
    from django.db import connection

    need("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")


@pytest.fixture
def needs_redis():
    need("Redis (REDIS_URL)", bool(os.environ.get("REDIS_URL")))


@pytest.fixture
def needs_bubblewrap():
    """The sandbox as CI makes it: bubblewrap with its namespaces."""
    from sandbox.runner import detect_isolation

    iso = detect_isolation("bwrap")
    need(f"bubblewrap ({iso.problem})", iso.available)
    return iso


@pytest.fixture
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    need(f"Chromium at {path}", Path(path).exists())
    return path


@pytest.fixture(autouse=True, scope="session")
def flush_past_the_audit_logs_trigger():
    """Between tests on a live server Django empties every table with one TRUNCATE, which the
    audit log's trigger refuses as it would anyone's (audit/migrations/0004). The flush, as the
    table's owner, turns that trigger off for its own transaction only."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    sql_flush = DatabaseOperations.sql_flush
    trigger = "audit_auditevent {} TRIGGER audit_event_no_truncate"

    def flush_past_the_trigger(self, style, tables, **options):
        statements = sql_flush(self, style, tables, **options)
        if "audit_auditevent" not in tables:
            return statements
        return [
            f"ALTER TABLE {trigger.format('DISABLE')}",
            *statements,
            f"ALTER TABLE {trigger.format('ENABLE')}",
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", flush_past_the_trigger)
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's deliberate slowness is for production; tests only need passwords to match."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_failed_sign_ins_counted():
    """Every test starts with no failures counted against its address (all come from
    127.0.0.1) or its people, as a new day would."""
    keys = [f"throttle:{kind}:address:127.0.0.1" for kind in ("login", "token")]
    keys += [f"throttle:login:account:{name}" for name in PEOPLE]
    caches["default"].delete_many(keys)
    yield
    caches["default"].delete_many(keys)


@pytest.fixture(autouse=True)
def fresh_resolve_cache():
    """Each test's database starts over, so ids and revisions repeat; their cached answers go."""
    caches["resolve"].clear()


@pytest.fixture
def registry_alone():
    """The registry's state machine without reviews' gate, for tests of the machine itself
    (reviews sends staging and production through promotion requests)."""
    from registry import stages
    from reviews import gate

    stages.unregister_gate(gate.NAME)
    yield
    stages.register_gate(gate.NAME, gate.promotion_gate)
