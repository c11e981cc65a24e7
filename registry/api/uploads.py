"""An upload handler that stops reading a request body past MAX_UPLOAD_BYTES."""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from ..artifacts import size_label
from .errors import PayloadTooLarge


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {size_label(settings.MAX_UPLOAD_BYTES)}."
    )


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Files go to temporary files on disk (constant memory); the total is capped."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.MAX_UPLOAD_BYTES:
            raise _too_large()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            raise _too_large()
        return super().receive_data_chunk(raw_data, start)
