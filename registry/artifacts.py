"""Artifact files: safe relative paths, streaming into storage with sha256, archive unpacking.

Everything here reads in fixed-size chunks, so a 1 GB model costs the same memory as a 1 KB one.
"""

import base64
import hashlib
import os
import posixpath
import shutil
import tarfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from lzma import LZMAError
from typing import IO, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import Storage

from vetted.api.errors import UploadTooLarge

CHUNK_BYTES = 1024 * 1024
MAX_PATH_LENGTH = 400
# Files whose content the registry reads itself (metadata, not model weights).
SMALL_FILES_KEPT = {"MLmodel", "requirements.txt"}
SMALL_FILE_LIMIT = 1024 * 1024
# Below this unpacked total an archive's compression ratio is not checked: it can do no harm.
RATIO_CHECKED_ABOVE = 64 * 1024 * 1024


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


def too_large() -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than the limit of {size_label(settings.MAX_UPLOAD_BYTES)}."
    )


def clean_relpath(raw: str) -> str:
    """A normalised relative path, or ValidationError for anything that could leave its folder."""
    if not raw or len(raw) > MAX_PATH_LENGTH:
        raise ValidationError(f"File name {raw[:80]!r} must be 1-{MAX_PATH_LENGTH} characters.")
    if "\\" in raw or "\x00" in raw or any(ord(c) < 32 for c in raw):
        raise ValidationError(f"File name {raw!r} contains a backslash or control character.")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ValidationError(f"File name {raw!r} is absolute; use a path relative to the model.")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts:
        raise ValidationError(f"File name {raw!r} names no file: give the file a name.")
    if any(p == ".." for p in parts):
        raise ValidationError(f"File name {raw!r} points outside the model folder.")
    for part in parts:  # filesystems count a name's bytes, not its characters
        if len(part.encode()) > MAX_SEGMENT_BYTES:
            raise ValidationError(
                f"File name {raw[:80]!r}: each part of a path is at most {MAX_SEGMENT_BYTES} bytes."
            )
    return posixpath.join(*parts)


class Readable(Protocol):
    """What a file is stored from: anything read in chunks (an upload, an archive member)."""

    def read(self, n: int = -1, /) -> bytes: ...


class _HashingReader:
    """Wraps a stream; hashes, counts and optionally keeps what passes through `read()`.

    A forward-only file to storages: S3's uploader asks whether it may rewind (it may not).
    """

    closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def __init__(self, stream: Readable, keep: bool, limit: int):
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.kept = bytearray() if keep else None
        self.limit = limit

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(CHUNK_BYTES if n is None or n < 0 else n)
        self.size += len(data)
        if self.size > self.limit:
            raise too_large()
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
    storage: Storage, prefix: str, relpath: str, stream: Readable, limit: int
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
        raise too_large()
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


VERSIONS_FOLDER = "versions"


def version_folder(version_uuid: uuid.UUID) -> str:
    """Where a version's files are stored: named by the version's uuid, so a folder belongs to a
    committed version exactly when a version row has its name."""
    return f"{VERSIONS_FOLDER}/{version_uuid}"


def folder_files(storage: Storage, folder: str) -> list[str]:
    """The storage name of every file under `folder`, at any depth; none if it does not exist."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    names = [f"{folder}/{name}" for name in files]
    for sub in folders:
        names += folder_files(storage, f"{folder}/{sub}")
    return names


def delete_folder(storage: Storage, folder: str) -> None:
    """Delete `folder` and everything in it, empty subfolders included on local storage (on an
    object store a folder is only its objects' common prefix)."""
    try:
        root = storage.path(folder)
    except NotImplementedError:
        for name in folder_files(storage, folder):
            storage.delete(name)
    else:
        shutil.rmtree(root, ignore_errors=True)


def delete_folder_unchanged_since(storage: Storage, folder: str, before: datetime) -> int | None:
    """Delete `folder` if nothing in it changed since `before`: the bytes it held, or None when
    it is kept. An empty folder exists only on local storage, where it has a time of its own."""
    files = folder_files(storage, folder)
    if max(storage.get_modified_time(f) for f in files or [folder]) >= before:
        return None
    size = sum(storage.size(f) for f in files)
    delete_folder(storage, folder)
    return size


def _strip_common_folder(names: list[str]) -> list[str]:
    """`model/MLmodel, model/x` → `MLmodel, x`: archives of a folder unpack to its contents."""
    firsts = {n.split("/", 1)[0] for n in names}
    if len(firsts) == 1 and all("/" in n for n in names) and "MLmodel" not in names:
        return [n.split("/", 1)[1] for n in names]
    return names


def iter_archive(
    upload: IO[bytes], filename: str, max_files: int, limit: int
) -> Iterator[tuple[str, Readable]]:
    """(relative path, stream) for each regular file of a tar(.gz) or zip upload.

    Links, devices, paths that escape the folder, and archives whose members declare more than
    `limit` bytes or far more than the archive's own size (a bomb) are refused before anything
    is yielded. Declared sizes can lie: whoever reads the streams still counts what they give.
    """
    lowered = filename.lower()
    archive_size = _size_of(upload)
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
        _check_unpacked_size(filename, sum(i.file_size for i in infos), archive_size, limit)
        names = _checked_names([i.filename for i in infos], max_files)
        for info, name in zip(infos, names, strict=True):
            with archive.open(info) as zip_member:
                yield name, _ArchiveMember(zip_member, filename)
        return
    if lowered.endswith((".tar.gz", ".tgz", ".tar")):
        files = _tar_files(upload, filename, max_files, archive_size, limit)
        names = _checked_names([m.name for m, _ in files], max_files)
        for (info_tar, archive_tar), name in zip(files, names, strict=True):
            stream = archive_tar.extractfile(info_tar)
            assert stream is not None  # regular files always have one
            yield name, _ArchiveMember(stream, filename)
        return
    raise ValidationError(f"{filename}: upload a .tar.gz, .tgz, .tar or .zip archive.")


# What reading a damaged archive raises, from the archive modules or their decompressors.
ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error, LZMAError)


def _tar_files(
    upload: IO[bytes], filename: str, max_files: int, archive_size: int, limit: int
) -> list[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """The regular files of a tar, header by header: a bomb is refused as soon as its headers
    declare too much, before the rest of it is even decompressed."""
    files: list[tuple[tarfile.TarInfo, tarfile.TarFile]] = []
    declared = 0
    try:
        archive = tarfile.open(fileobj=upload, mode="r:*")
        while (member := archive.next()) is not None:
            if member.isdir():
                continue
            if not member.isfile():
                raise ValidationError(
                    f"Archive member {member.name!r} is a link or device; only files are accepted."
                )
            files.append((member, archive))
            declared += member.size
            _check_unpacked_size(filename, declared, archive_size, limit)
            if len(files) > max_files:
                break  # _checked_names says so
    except ARCHIVE_ERRORS as exc:
        raise ValidationError(f"{filename} is not a readable tar archive: {exc}") from None
    return files


def _check_unpacked_size(filename: str, declared: int, archive_size: int, limit: int) -> None:
    if declared > limit:
        raise UploadTooLarge(
            f"{filename} unpacks to at least {size_label(declared)}: the upload is larger than"
            f" the limit of {size_label(settings.MAX_UPLOAD_BYTES)}."
        )
    ratio = settings.MAX_ARCHIVE_RATIO
    if declared > RATIO_CHECKED_ABOVE and declared > ratio * archive_size:
        raise UploadTooLarge(
            f"{filename} unpacks to at least {size_label(declared)} from"
            f" {size_label(archive_size)}: more than {ratio} times its own size, as a zip bomb"
            " would. Send the files themselves, or an archive that compresses them less."
        )


def _size_of(stream: IO[bytes]) -> int:
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size


class _ArchiveMember:
    """One member's stream; a damaged archive found while reading it is a 400, not a crash."""

    def __init__(self, stream: IO[bytes], archive_name: str):
        self.stream = stream
        self.archive_name = archive_name

    def read(self, n: int = -1) -> bytes:
        try:
            return self.stream.read(n)
        except ARCHIVE_ERRORS as exc:
            raise ValidationError(f"{self.archive_name} is damaged: {exc}") from None


def _checked_names(raw_names: list[str], max_files: int) -> list[str]:
    if not raw_names:
        raise ValidationError("The archive holds no files.")
    if len(raw_names) > max_files:
        raise ValidationError(f"The archive holds more than the limit of {max_files} files.")
    names = _strip_common_folder([clean_relpath(n) for n in raw_names])
    if len(set(names)) != len(names):
        raise ValidationError("The archive holds the same file name twice.")
    return names


def sha256_digest_header(sha256_hex: str) -> str:
    """RFC 3230 `Digest` value: base64 of the raw sha256."""
    return "sha-256=" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()
