"""The file store: every file the server keeps goes through Django's storage API, alias ``"media"``
(``STORAGES``, built by :mod:`server.platform.storage_settings`).

Names are relative POSIX paths; their first folders say what they hold:

* ``audio/``: uploads and their speech-muted copies (private; content-addressed);
* ``public/clips/``: public clips, named by an unguessable token;
* ``models/``: registered model files (content-addressed);
* ``soundscapes/clips/``, ``soundscapes/mixes/``: soundscape audio (content-addressed);
* ``spectrograms/``: rendered spectrograms of public clips (a cache);
* ``exports/``: researchers' export files.

Invariants, for both backends:

* a name never leaves the store (:func:`check_name` refuses absolute paths, ``..``, backslashes);
* a write is complete or absent: readers see the old object or the new one, never part of one
  (S3: one PUT; the filesystem: :class:`AtomicFileSystemStorage`, a temporary file beside the target,
  flushed, then renamed);
* writing a name that exists replaces it (names are content addresses or random tokens);
* nothing here hands out a URL: files reach clients only through views, which check who asks.

Readers get bytes (:func:`read`) or a file object (:func:`open_file`); code that needs a path on
disk asks :func:`local_copy`, never ``Storage.path()`` (which an object store does not have).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from .storage_settings import MEDIA_ALIAS

TEMP_SUFFIX = ".part"   # an AtomicFileSystemStorage temporary file: ``.<name>.<random>.part``


def sha256_hex(data: bytes) -> str:
    """The content address of ``data`` (what content-addressed names are made of)."""
    return hashlib.sha256(data).hexdigest()


def is_temporary(name: str) -> bool:
    """Whether ``name`` is an (abandoned or in-flight) temporary file of a filesystem write."""
    base = PurePosixPath(name).name
    return base.startswith(".") and base.endswith(TEMP_SUFFIX)


class AtomicFileSystemStorage(FileSystemStorage):
    """``FileSystemStorage`` under ``MEDIA_ROOT`` whose saves overwrite and are complete or absent."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)

    def _save(self, name: str, content) -> str:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks():
                    fh.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                fh.flush()
                os.fsync(fh.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(tmp, self.file_permissions_mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name


def media() -> Storage:
    """The file store (``storages["media"]``)."""
    return storages[MEDIA_ALIAS]


def check_name(name: str) -> str:
    """``name`` when it is a plain relative path inside the store; ``ValueError`` otherwise."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        raise ValueError(f"not a stored file name: {name!r}")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a stored file name: {name!r}")
    return name


def _not_found(exc: Exception) -> bool:
    """Whether ``exc`` says the object does not exist (``FileNotFoundError``, or S3's 404)."""
    if isinstance(exc, FileNotFoundError):
        return True
    error = getattr(exc, "response", None) or {}
    return str(error.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}


def put(name: str, data: bytes) -> None:
    """Write ``data`` as ``name``, replacing what was there (complete or absent)."""
    media().save(check_name(name), ContentFile(data))


def put_file(name: str, source: str | os.PathLike) -> None:
    """Write the local file ``source`` as ``name`` (complete or absent), streaming it."""
    with open(source, "rb") as fh:
        media().save(check_name(name), File(fh))


def put_content_addressed(name: str, data: bytes) -> bool:
    """Write ``data`` as ``name`` unless an object of that name and size is there (names are content
    addresses); True when it wrote."""
    store = media()
    check_name(name)
    try:
        if store.size(name) == len(data):
            return False
    except Exception as exc:
        if not _not_found(exc):
            raise
    put(name, data)
    return True


def exists(name: str) -> bool:
    return media().exists(check_name(name))


def read(name: str) -> bytes:
    """The bytes of ``name``; ``FileNotFoundError`` when it is not stored."""
    with open_file(name) as fh:
        return fh.read()


def open_file(name: str) -> File:
    """``name`` opened for binary reading; ``FileNotFoundError`` when it is not stored."""
    try:
        return media().open(check_name(name), "rb")
    except Exception as exc:
        if _not_found(exc):
            raise FileNotFoundError(name) from None
        raise


def size(name: str) -> int:
    """The size of ``name`` in bytes; ``FileNotFoundError`` when it is not stored."""
    try:
        return media().size(check_name(name))
    except Exception as exc:
        if _not_found(exc):
            raise FileNotFoundError(name) from None
        raise


def modified_at(name: str) -> float:
    """When ``name`` was last written (epoch seconds); ``FileNotFoundError`` when it is not stored."""
    try:
        return media().get_modified_time(check_name(name)).timestamp()
    except Exception as exc:
        if _not_found(exc):
            raise FileNotFoundError(name) from None
        raise


def delete(name: str) -> None:
    """Remove ``name``; nothing happens when it is not stored."""
    media().delete(check_name(name))


def walk(prefix: str) -> Iterator[str]:
    """Every stored name under the folder ``prefix`` (recursively, temporary files included); nothing
    when the folder is absent."""
    store = media()
    folder = check_name(prefix.rstrip("/"))
    try:
        dirs, files = store.listdir(folder)
    except FileNotFoundError:
        return
    for file_name in sorted(files):
        yield f"{folder}/{file_name}"
    for sub in sorted(dirs):
        yield from walk(f"{folder}/{sub}")


def local_path(name: str) -> Path:
    """A file on this machine holding ``name``'s bytes, for readers that need a path and for names that
    never change (content addresses): the stored file itself where the backend is local, else a copy
    kept under the system's temporary folder (written once, complete or absent)."""
    store = media()
    try:
        path = Path(store.path(check_name(name)))
    except NotImplementedError:   # an object store: no local path
        path = Path(tempfile.gettempdir()) / "dawn-chorus-store" / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as out, open_file(name) as src:
                    for chunk in src.chunks():
                        out.write(chunk)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return path
    if not path.is_file():
        raise FileNotFoundError(name)
    return path


@contextmanager
def local_copy(name: str, suffix: str = "") -> Iterator[Path]:
    """A temporary local file holding ``name``'s bytes, removed on exit (for readers that need a path)."""
    fd, tmp = tempfile.mkstemp(suffix=suffix or PurePosixPath(name).suffix)
    try:
        with os.fdopen(fd, "wb") as out, open_file(name) as src:
            for chunk in src.chunks():
                out.write(chunk)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
