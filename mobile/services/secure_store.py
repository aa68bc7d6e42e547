"""Secret storage for the API token: an encrypted file in the app's private directory.

:class:`FileSecureStore` encrypts values with Fernet (AES-128-CBC + HMAC) under a key kept in a
separate 0600 file in the app's private directory; without ``cryptography`` it still keeps the
0600 file (Android app storage is private to the app). Writes are atomic.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from ml.runtime.files import atomic_write


def _fernet(key_path: Path):
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        return None
    if key_path.exists():
        key = key_path.read_bytes().strip()
    else:
        key = Fernet.generate_key()
        atomic_write(key_path, key)
        os.chmod(key_path, 0o600)
    return Fernet(key)


class FileSecureStore:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "secrets.bin"
        self._cipher = _fernet(self.dir / "secrets.key")

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        try:
            if self._cipher is not None:
                raw = self._cipher.decrypt(raw)
            else:
                raw = base64.b64decode(raw)
            data = json.loads(raw)
        except Exception:  # noqa: BLE001 - tampered or from another key: start over, never crash
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, str]) -> None:
        raw = json.dumps(data).encode()
        raw = self._cipher.encrypt(raw) if self._cipher is not None else base64.b64encode(raw)
        atomic_write(self.path, raw)
        os.chmod(self.path, 0o600)

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def set(self, key: str, value: str) -> None:
        data = self._load()
        data[key] = value
        self._save(data)

    def delete(self, key: str) -> None:
        data = self._load()
        if data.pop(key, None) is not None:
            self._save(data)


class MemorySecureStore:
    """For tests."""

    def __init__(self):
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)
