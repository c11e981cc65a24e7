"""Reading an uploaded `MLmodel` file with the mlflow library: flavors, signature, version."""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError


@dataclass
class MLmodelInfo:
    flavors: dict
    signature: dict | None
    mlflow_version: str


def read_mlmodel(content: bytes) -> MLmodelInfo:
    """Parse MLmodel bytes; a file mlflow can't read is the uploader's error, said plainly."""
    from mlflow.models import Model  # imported late: mlflow is slow to import

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "MLmodel"
        path.write_bytes(content)
        try:
            model = Model.load(str(path))
        except Exception as exc:  # mlflow raises YAML, key and type errors alike
            raise ValidationError(f"The MLmodel file could not be read by mlflow: {exc}") from None
    if not isinstance(model.flavors, dict) or not model.flavors:
        raise ValidationError("The MLmodel file names no flavor.")
    signature = None
    if model.signature is not None:
        raw = model.signature.to_dict()
        signature = {
            key: json.loads(value) if isinstance(value, str) else value
            for key, value in raw.items()
            if value is not None
        }
    flavors = json.loads(json.dumps(model.flavors, default=str))
    return MLmodelInfo(
        flavors=flavors, signature=signature, mlflow_version=str(model.mlflow_version or "")
    )


def read_requirements(content: bytes) -> list[str]:
    lines = content.decode("utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
