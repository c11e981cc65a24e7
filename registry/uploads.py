"""An upload handler that hashes files as they arrive and stops past MAX_UPLOAD_BYTES."""

import hashlib
import queue
import threading
from typing import IO

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from .artifacts import too_large

# A writer that hears nothing for this long belongs to a request that died mid-file: it stops.
WRITER_PATIENCE_SECONDS = 300
# Chunks waiting for the writer at most (1 MiB each): bounds the memory of a fast client.
WRITER_QUEUE_CHUNKS = 8


class _HashingWriter(threading.Thread):
    """Hashes chunks and writes them to the file, beside the thread that parses the request.

    sha256 and file writes release the GIL, so they overlap with reading and parsing the body,
    which hold it: a large upload takes about as long as the parsing alone.
    """

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(name="upload-writer", daemon=True)
        self.file = file
        self.sha256 = hashlib.sha256()
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=WRITER_QUEUE_CHUNKS)
        self.error: BaseException | None = None

    def run(self) -> None:
        while True:
            try:
                chunk = self.chunks.get(timeout=WRITER_PATIENCE_SECONDS)
            except queue.Empty:
                return
            if chunk is None:
                return
            if self.error is None:
                try:
                    self.file.write(chunk)
                    self.sha256.update(chunk)
                except OSError as error:  # e.g. the disk is full: the request reports it
                    self.error = error

    def put(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.chunks.put(chunk, timeout=WRITER_PATIENCE_SECONDS)

    def stop(self) -> None:
        if self.is_alive():
            self.chunks.put(None, timeout=WRITER_PATIENCE_SECONDS)
            self.join()

    def finish(self) -> str:
        self.stop()
        if self.error is not None:
            raise self.error
        return self.sha256.hexdigest()


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Files go to temporary files on disk (constant memory); the total is capped.

    Each file's sha256 is computed on the way in (`file.sha256_hex`), so storing it needs no
    second read: on local storage the temporary file is simply moved into place.
    """

    chunk_size = 1024 * 1024

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.MAX_UPLOAD_BYTES:
            raise too_large()
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.writer = _HashingWriter(self.file)
        self.writer.start()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            self.writer.stop()
            raise too_large()
        self.writer.put(raw_data)
        return None

    def file_complete(self, file_size):
        sha256_hex = self.writer.finish()
        upload = super().file_complete(file_size)
        assert upload is not None  # the temporary-file handler always completes the file
        upload.sha256_hex = sha256_hex  # type: ignore[attr-defined]
        return upload

    def upload_interrupted(self):
        if hasattr(self, "writer"):
            self.writer.stop()
        super().upload_interrupted()
