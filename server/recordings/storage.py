"""Content-addressed audio of recordings in the file store: ``audio/ab/cd/<sha256>.<ext>``.

Uploads are private: their names are never handed to a client, and only the recording views
(owner, researchers, admins) read them. Writes go through :mod:`server.platform.storage` (complete
or absent on every backend); storing the same bytes twice writes once.
"""
from __future__ import annotations

from server.platform import storage as files
from server.platform.storage import sha256_hex

__all__ = ["AUDIO_DIR", "delete_blob", "exists", "read_blob", "relative_path", "sha256_hex", "store_blob"]

AUDIO_DIR = "audio"


def relative_path(sha: str, ext: str) -> str:
    return f"{AUDIO_DIR}/{sha[:2]}/{sha[2:4]}/{sha}.{ext}"


def store_blob(data: bytes, ext: str, sha: str | None = None) -> tuple[str, str]:
    """Store ``data`` (whose sha256 the caller may already know); returns (sha256, stored name)."""
    sha = sha or sha256_hex(data)
    rel = relative_path(sha, ext)
    files.put_content_addressed(rel, data)
    return sha, rel


def exists(rel: str) -> bool:
    return files.exists(rel)


def read_blob(rel: str) -> bytes:
    """The stored bytes; ``FileNotFoundError`` when they are gone, ``ValueError`` for a name outside the store."""
    return files.read(rel)


def delete_blob(rel: str) -> None:
    files.delete(rel)
