"""Run inside the sandbox as `entry.py MODEL_DIR INPUTS_DIR OUTPUTS_DIR`, beside `probe.py`.

The probe (the load check's, an evaluation's) only does its work: its `run(model_dir, inputs,
outputs)` returns a JSON-able dict. This file is the sandbox's side of the answer: it sends that
dict, or `{"ok": false, "error": ...}` with what the model's code raised (a MemoryError named so
that `runner.explain_limit` recognises it), as the one result on SANDBOX_RESULT_FD. Standard
library only: neither Vetted nor Django is in the sandbox.
"""

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path


def _probe():
    spec = importlib.util.spec_from_file_location("probe", Path(__file__).with_name("probe.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    try:
        model_dir, inputs, outputs = sys.argv[1:4]
        result = _probe().run(model_dir, Path(inputs), Path(outputs))
    except MemoryError:
        result = {"ok": False, "error": "MemoryError: the model needs more memory than allowed."}
    except BaseException as exc:  # report anything the model's code raises, then exit cleanly
        lines = traceback.format_exception(exc)
        result = {"ok": False, "error": "".join(lines[-12:]).strip()[-8000:]}
    with os.fdopen(int(os.environ["SANDBOX_RESULT_FD"]), "w") as channel:
        channel.write(json.dumps(result))


if __name__ == "__main__":
    main()
