"""Content-addressed audio storage under MEDIA_ROOT: ``audio/ab/cd/<sha256>.<ext>``.

Writes are atomic (temp file + rename), so a crash never leaves a half-written blob, and
storing the same bytes twice is a no-op. Paths go through the media-root guard
(:func:`~server.common.media_files.media_path`, named ``absolute`` here).
"""
from __future__ import annotations

from ml.runtime.files import atomic_write
from server.common.media_files import media_path as absolute
from server.common.media_files import sha256_hex

__all__ = ["absolute", "delete_blob", "read_blob", "relative_path", "sha256_hex", "store_blob"]


def relative_path(sha: str, ext: str) -> str:
    return f"audio/{sha[:2]}/{sha[2:4]}/{sha}.{ext}"


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
