"""Putting a version in a stage the way the product does: a request, its approvals, a merge.

For tests that need a version in staging or production before what they test. `approver` is
someone whose role the default policy accepts (bob, DevOps, for production).
"""

from registry.models import ModelVersion
from reviews import services
from reviews.models import Decision


def promote(version: ModelVersion, to_stage: str, *, author, approver) -> ModelVersion:
    version = ModelVersion.objects.select_related("model__team").get(pk=version.pk)
    request = services.open_request(actor=author, version=version, to_stage=to_stage)
    services.give_review(actor=approver, request=request, decision=Decision.APPROVE)
    services.merge(actor=approver, request=request)
    version.refresh_from_db()
    return version
