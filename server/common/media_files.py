"""Files under ``MEDIA_ROOT``: the path guard every app resolves stored paths through, and the content hash
that names content-addressed files."""
from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_path(rel: str) -> Path:
    """The absolute path of ``rel`` (relative to ``MEDIA_ROOT``); ``ValueError`` when it resolves outside
    the media root (``..``, an absolute path, a link leading out)."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"path escapes the media root: {rel}")
    return path
