"""Dependencies point one way, down: an app imports only the apps below it (docs/architecture.md).

audit at the very bottom, accounts (which records into it) and sandbox beside it; the registry
on them; notifications (inbox, outbox, watches) on the registry, discussions (threads) on
notifications; reviews on both, and monitoring on reviews (it posts its results as the reviews'
checks). The MLflow protocol (mlflow_api) sits beside monitoring, on reviews.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = {"vetted.api", "vetted.rows", "vetted.serializers"}  # the layer every app's API shares
ALLOWED = {
    "audit": {"vetted.serializers"},  # imports only DRF
    "accounts": {"audit", "vetted.rows", "vetted.serializers"},
    "sandbox": set(),
    "registry": {"accounts", "audit", "sandbox", *SHARED},
    "notifications": {"accounts", "audit", "registry", *SHARED},
    "discussions": {"accounts", "audit", "registry", "notifications", *SHARED},
    "reviews": {
        "accounts",
        "audit",
        "sandbox",
        "registry",
        "notifications",
        "discussions",
        *SHARED,
    },
    "monitoring": {
        "accounts",
        "audit",
        "sandbox",
        "registry",
        "notifications",
        "discussions",
        "reviews",
        *SHARED,
    },
    "mlflow_api": {
        "accounts",
        "audit",
        "sandbox",
        "registry",
        "notifications",
        "discussions",
        "reviews",
        *SHARED,
    },
    "vetted/api": {"accounts", "audit", "vetted.serializers"},
}
PROJECT = {
    "accounts",
    "audit",
    "sandbox",
    "registry",
    "notifications",
    "discussions",
    "reviews",
    "monitoring",
    "mlflow_api",
    "vetted",
}


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def forbidden(app: str, source: str) -> set[str]:
    """The project modules `source`, a file of `app`, imports without being allowed to."""
    own = app.replace("/", ".")
    allowed = ALLOWED[app] | {own}
    wrong = set()
    for module in imported_modules(source):
        if module.split(".")[0] not in PROJECT:
            continue
        if not any(module == ok or module.startswith(ok + ".") for ok in allowed):
            wrong.add(module)
    return wrong


def test_it_catches_an_upward_import():
    assert forbidden("registry", "from reviews.services import open_request\n") == {
        "reviews.services"
    }
    assert forbidden("registry", "import monitoring\n") == {"monitoring"}
    assert forbidden("accounts", "from registry.models import RegisteredModel\n")
    assert forbidden("registry", "from accounts.models import Team\n") == set()
    assert forbidden("reviews", "from monitoring import stats\n") == {"monitoring"}


def test_no_app_imports_one_above_it():
    problems = []
    for app in ALLOWED:
        folder = ROOT / app
        if not folder.exists():
            continue
        for path in folder.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for module in sorted(forbidden(app, path.read_text())):
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not problems, "Imports against the direction of dependencies:\n" + "\n".join(problems)
