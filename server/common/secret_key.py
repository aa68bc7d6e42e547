"""The local secret key: generated once, kept in a file only its owner can read.

Imported by ``server/settings.py`` before Django is configured, so it uses the standard library
only. ``DJANGO_SECRET_KEY`` in the environment always wins (see settings); this is the default.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 50


def load_or_create(path: Path) -> str:
    """The key stored at ``path``; on first use a new random key is written there (mode 0600).

    The key is written to a private temporary file and linked into place, so a reader never sees
    a half-written key and processes starting together all end up with the one that was linked
    first. An empty file is an error, never a usable key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new secret key")
    return key
