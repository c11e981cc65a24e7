"""Importing each module registers its endpoints (wire.endpoint)."""

from . import artifacts, model_versions, registered_models, tracking  # noqa: F401
