"""A probe in the sandbox (run_probe): it only computes, and the sandbox's entry.py sends its
answer, or what it raised, as the one result. The load check's and the evaluations' probes and
entry.py need nothing but the standard library and the model's own environment."""

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox.runner import ENTRY, Limits, Outcome, run_probe, workspace

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(wall_seconds=15, cpu_seconds=10, memory_mb=1024, tmp_mb=16, file_size_mb=8)
PROBES = [ENTRY, ROOT / "registry" / "load_probe.py", ROOT / "monitoring" / "predict_probe.py"]


def probe_run(isolation, tmp_path, code: str):
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent(code))
    with workspace() as ws:
        (ws.inputs_dir / "rows.txt").write_text("3")
        ran = run_probe(ws, probe=probe, limits=LIMITS, iso=isolation)
        written = sorted(path.name for path in ws.outputs_dir.iterdir())
    return ran, written


def test_a_probes_answer_is_the_result_and_it_writes_to_its_outputs(needs_bubblewrap, tmp_path):
    ran, written = probe_run(
        needs_bubblewrap,
        tmp_path,
        """
        def run(model_dir, inputs, outputs):
            (outputs / "done").write_text("yes")
            return {"ok": True, "rows": int((inputs / "rows.txt").read_text()), "at": model_dir}
        """,
    )
    assert ran.outcome == Outcome.OK, ran.error
    assert ran.result == {"ok": True, "rows": 3, "at": "/sandbox/model"}
    assert written == ["done"]


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        ('ValueError("scaler not fitted")', "ValueError: scaler not fitted"),
        ('MemoryError("big")', "MemoryError: the model needs more memory than allowed."),
        ("SystemExit(3)", "SystemExit: 3"),
    ],
)
def test_what_a_probe_raises_is_the_answer(needs_bubblewrap, tmp_path, raised, said):
    ran, _ = probe_run(
        needs_bubblewrap,
        tmp_path,
        f"""
        def run(model_dir, inputs, outputs):
            raise {raised}
        """,
    )
    assert ran.outcome == Outcome.OK, ran.error  # the sandbox worked; the probe's answer is no
    assert ran.result is not None and ran.result["ok"] is False
    assert said in ran.result["error"]


@pytest.mark.parametrize("path", PROBES, ids=lambda path: path.name)
def test_what_runs_inside_imports_nothing_of_vetted(path):
    """The project is not in the sandbox: only the standard library and the model's packages."""
    tree = ast.parse(path.read_text())
    top = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed = set(sys.stdlib_module_names) | {"mlflow", "numpy", "pandas", "pyarrow"}
    assert top <= allowed, top - allowed
