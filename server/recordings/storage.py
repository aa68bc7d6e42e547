"""Content-addressed audio storage under MEDIA_ROOT: ``audio/ab/cd/<sha256>.<ext>``.

Writes are atomic (temp file + rename), so a crash never leaves a half-written blob, and
storing the same bytes twice is a no-op.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

from ml.runtime.files import atomic_write


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_path(sha: str, ext: str) -> str:
    return f"audio/{sha[:2]}/{sha[2:4]}/{sha}.{ext}"


def absolute(rel: str) -> Path:
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"path escapes the media root: {rel}")
    return path


def store_blob(data: bytes, ext: str, sha: str | None = None) -> tuple[str, str]:
    """Store ``data`` (whose sha256 the caller may already know); returns (sha256, relative path)."""
    sha = sha or sha256_hex(data)
    rel = relative_path(sha, ext)
    path = absolute(rel)
    if path.exists() and path.stat().st_size == len(data):
        return sha, rel
    atomic_write(path, data)
    return sha, rel


def read_blob(rel: str) -> bytes:
    return absolute(rel).read_bytes()


def delete_blob(rel: str) -> None:
    absolute(rel).unlink(missing_ok=True)
