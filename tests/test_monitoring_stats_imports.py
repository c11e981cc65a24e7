"""The statistics take arrays and return numbers: nothing of Django or of Vetted's apps, so the
workers, the tests and the bench call them alike."""

import ast
import sys
from pathlib import Path

STATS = Path(__file__).resolve().parent.parent / "monitoring" / "stats"
ALLOWED = {"numpy", "pandas", "scipy", "monitoring"}  # monitoring: only monitoring.stats.*


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_statistics_import_only_numpy_scipy_pandas_and_themselves():
    for path in STATS.glob("*.py"):
        for name in imported(path):
            top = name.split(".")[0]
            if top in ALLOWED:
                assert top != "monitoring" or name.startswith("monitoring.stats"), (path, name)
            else:
                # The standard library only.
                assert top in sys.stdlib_module_names, (path, name)
