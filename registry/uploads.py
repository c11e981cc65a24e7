"""An upload handler that hashes files as they arrive and stops past MAX_UPLOAD_BYTES."""

import hashlib

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from .artifacts import size_label


class UploadTooLarge(Exception):
    """The request body passed MAX_UPLOAD_BYTES; pages answer 413 with a form, the API with JSON."""


def _too_large() -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than the limit of {size_label(settings.MAX_UPLOAD_BYTES)}."
    )


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Files go to temporary files on disk (constant memory); the total is capped.

    Each file's sha256 is computed on the way in (`file.sha256_hex`), so storing it needs no
    second read: on local storage the temporary file is simply moved into place.
    """

    chunk_size = 1024 * 1024

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.MAX_UPLOAD_BYTES:
            raise _too_large()
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.sha256 = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            raise _too_large()
        self.sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        upload = super().file_complete(file_size)
        upload.sha256_hex = self.sha256.hexdigest()
        return upload
