"""Artifact files: safe relative paths, streaming into storage with sha256, archive unpacking.

Everything here reads in fixed-size chunks, so a 1 GB model costs the same memory as a 1 KB one.
"""

import base64
import hashlib
import posixpath
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import Storage

CHUNK_BYTES = 1024 * 1024
MAX_PATH_LENGTH = 400
# Files whose content the registry reads itself (metadata, not model weights).
SMALL_FILES_KEPT = {"MLmodel", "requirements.txt"}
SMALL_FILE_LIMIT = 1024 * 1024


def size_label(size: int) -> str:
    """1536 → "1.5 KiB": sizes as people read them."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


MAX_SEGMENT_BYTES = 255


def clean_relpath(raw: str) -> str:
    """A normalised relative path, or ValidationError for anything that could leave its folder."""
    if not raw or len(raw) > MAX_PATH_LENGTH:
        raise ValidationError(f"File name {raw[:80]!r} must be 1-{MAX_PATH_LENGTH} characters.")
    if "\\" in raw or "\x00" in raw or any(ord(c) < 32 for c in raw):
        raise ValidationError(f"File name {raw!r} contains a backslash or control character.")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ValidationError(f"File name {raw!r} is absolute; use a path relative to the model.")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValidationError(f"File name {raw!r} points outside the model folder.")
    for part in parts:  # filesystems count a name's bytes, not its characters
        if len(part.encode()) > MAX_SEGMENT_BYTES:
            raise ValidationError(
                f"File name {raw[:80]!r}: each part of a path is at most {MAX_SEGMENT_BYTES} bytes."
            )
    return posixpath.join(*parts)


class _HashingReader:
    """Wraps a stream; hashes, counts and optionally keeps what passes through `read()`.

    A forward-only file to storages: S3's uploader asks whether it may rewind (it may not).
    """

    closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def __init__(self, stream: IO[bytes], keep: bool, limit: int):
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.kept = bytearray() if keep else None
        self.limit = limit

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(CHUNK_BYTES if n is None or n < 0 else n)
        self.size += len(data)
        if self.size > self.limit:
            limit = size_label(settings.MAX_UPLOAD_BYTES)
            raise ValidationError(f"The upload is larger than the limit of {limit}.")
        self.sha256.update(data)
        if self.kept is not None and len(self.kept) <= SMALL_FILE_LIMIT:
            self.kept.extend(data)
        return data


@dataclass
class StoredFile:
    path: str
    storage_name: str
    size: int
    sha256: str
    content: bytes | None  # kept only for SMALL_FILES_KEPT


def store_stream(
    storage: Storage, prefix: str, relpath: str, stream: IO[bytes], limit: int
) -> StoredFile:
    """Save one file under `prefix`, hashing it on the way unless the upload handler already did."""
    intended = f"{prefix}/{relpath}"
    try:
        if getattr(stream, "sha256_hex", None):
            return _store_hashed_upload(storage, intended, relpath, stream, limit)
        reader = _HashingReader(stream, keep=relpath in SMALL_FILES_KEPT, limit=limit)

        class _Content(File):
            def chunks(self, chunk_size=None):
                while data := reader.read(CHUNK_BYTES):
                    yield data

        name = storage.save(intended, _Content(reader, name=relpath))  # type: ignore[arg-type]
    except BaseException:
        storage.delete(intended)  # a stream cut off mid-write leaves a partial file otherwise
        raise
    return StoredFile(
        path=relpath,
        storage_name=name,
        size=reader.size,
        sha256=reader.sha256.hexdigest(),
        content=bytes(reader.kept) if reader.kept is not None else None,
    )


def _store_hashed_upload(storage: Storage, intended: str, relpath: str, upload, limit: int):
    if upload.size > limit:
        raise ValidationError(
            f"The upload is larger than the limit of {size_label(settings.MAX_UPLOAD_BYTES)}."
        )
    content = None
    if relpath in SMALL_FILES_KEPT and upload.size <= SMALL_FILE_LIMIT:
        upload.seek(0)
        content = upload.read()
        upload.seek(0)
    # FileSystemStorage moves a temporary upload into place instead of copying it.
    name = storage.save(intended, upload)
    return StoredFile(
        path=relpath, storage_name=name, size=upload.size, sha256=upload.sha256_hex, content=content
    )


def _strip_common_folder(names: list[str]) -> list[str]:
    """`model/MLmodel, model/x` → `MLmodel, x`: archives of a folder unpack to its contents."""
    firsts = {n.split("/", 1)[0] for n in names}
    if len(firsts) == 1 and all("/" in n for n in names) and "MLmodel" not in names:
        return [n.split("/", 1)[1] for n in names]
    return names


def iter_archive(
    upload: IO[bytes], filename: str, max_files: int
) -> Iterator[tuple[str, IO[bytes]]]:
    """(relative path, stream) for each regular file of a tar(.gz) or zip upload.

    Links, devices and paths that escape the folder are refused before anything is yielded.
    """
    lowered = filename.lower()
    if lowered.endswith(".zip"):
        try:
            archive = zipfile.ZipFile(upload)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValidationError(f"{filename} is not a readable zip file: {exc}") from None
        infos = [i for i in archive.infolist() if not i.is_dir()]
        for info in infos:
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode != 0o100000:
                raise ValidationError(f"Archive member {info.filename!r} is not a regular file.")
        names = _checked_names([i.filename for i in infos], max_files)
        for info, name in zip(infos, names, strict=True):
            with archive.open(info) as zip_member:
                yield name, zip_member
        return
    if lowered.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            archive_tar = tarfile.open(fileobj=upload, mode="r:*")
            members = archive_tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ValidationError(f"{filename} is not a readable tar archive: {exc}") from None
        files: list[tarfile.TarInfo] = []
        for member in members:
            if member.isdir():
                continue
            if not member.isfile():
                raise ValidationError(
                    f"Archive member {member.name!r} is a link or device; only files are accepted."
                )
            files.append(member)
        names = _checked_names([m.name for m in files], max_files)
        for info_tar, name in zip(files, names, strict=True):
            stream = archive_tar.extractfile(info_tar)
            assert stream is not None  # regular files always have one
            yield name, stream
        return
    raise ValidationError(f"{filename}: upload a .tar.gz, .tgz, .tar or .zip archive.")


def _checked_names(raw_names: list[str], max_files: int) -> list[str]:
    if not raw_names:
        raise ValidationError("The archive holds no files.")
    if len(raw_names) > max_files:
        raise ValidationError(
            f"The archive holds {len(raw_names)} files; the limit is {max_files}."
        )
    names = _strip_common_folder([clean_relpath(n) for n in raw_names])
    if len(set(names)) != len(names):
        raise ValidationError("The archive holds the same file name twice.")
    return names


def sha256_digest_header(sha256_hex: str) -> str:
    """RFC 3230 `Digest` value: base64 of the raw sha256."""
    return "sha-256=" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()
