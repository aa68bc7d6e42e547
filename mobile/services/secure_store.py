"""Secret storage for the API token: an encrypted file in the app's private directory.

:class:`FileSecureStore` encrypts values with Fernet (AES-128-CBC + HMAC) under a key kept in a
separate 0600 file in the app's private directory; without ``cryptography`` it still keeps the
0600 file (Android app storage is private to the app). Writes are atomic.

On Android the Fernet key file is itself wrapped by :class:`AndroidKeystoreWrapper`: AES-GCM under
a key generated inside the Android Keystore, which never leaves it (hardware-backed where the
phone has a TEE), so a copy of the app's files alone does not reveal the token. If the Keystore
key is gone (app data restored on another phone, Keystore reset), unwrapping fails and the store
starts empty: the player signs in again, nothing crashes.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Protocol

from ml.runtime.files import atomic_write


class KeyWrapper(Protocol):
    """Encrypts the store's own key under a key kept elsewhere (the platform's keystore)."""

    def wrap(self, data: bytes) -> bytes:
        ...

    def unwrap(self, blob: bytes) -> bytes:
        """Raises when the blob was not wrapped by this keystore's key."""


class AndroidKeystoreWrapper:
    """AES-256-GCM under a non-exportable key in the Android Keystore (pyjnius; Android only)."""

    ALIAS = "dawnchorus_secure_store"

    def __init__(self) -> None:
        from jnius import autoclass

        self._cipher_cls = autoclass("javax.crypto.Cipher")
        self._gcm_spec = autoclass("javax.crypto.spec.GCMParameterSpec")
        keystore = autoclass("java.security.KeyStore").getInstance("AndroidKeyStore")
        keystore.load(None)
        if not keystore.containsAlias(self.ALIAS):
            props = autoclass("android.security.keystore.KeyProperties")
            spec = (autoclass("android.security.keystore.KeyGenParameterSpec$Builder")(
                self.ALIAS, props.PURPOSE_ENCRYPT | props.PURPOSE_DECRYPT)
                .setBlockModes([props.BLOCK_MODE_GCM]).setEncryptionPaddings([props.ENCRYPTION_PADDING_NONE])
                .setKeySize(256).build())
            generator = autoclass("javax.crypto.KeyGenerator").getInstance(props.KEY_ALGORITHM_AES, "AndroidKeyStore")
            generator.init(spec)
            generator.generateKey()
        self._key = keystore.getKey(self.ALIAS, None)

    def wrap(self, data: bytes) -> bytes:
        cipher = self._cipher_cls.getInstance("AES/GCM/NoPadding")
        cipher.init(self._cipher_cls.ENCRYPT_MODE, self._key)
        iv = bytes(b & 0xFF for b in cipher.getIV())
        return bytes([len(iv)]) + iv + bytes(b & 0xFF for b in cipher.doFinal(data))

    def unwrap(self, blob: bytes) -> bytes:
        n = blob[0]
        cipher = self._cipher_cls.getInstance("AES/GCM/NoPadding")
        cipher.init(self._cipher_cls.DECRYPT_MODE, self._key, self._gcm_spec(128, blob[1:1 + n]))
        return bytes(b & 0xFF for b in cipher.doFinal(blob[1 + n:]))


def _fernet(key_path: Path, wrapper: KeyWrapper | None):
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        return None
    raw = key_path.read_bytes() if key_path.exists() else b""
    key, rewrite = _read_key(raw, wrapper)
    if key is None:   # no key yet, or the keystore lost its key: the old secrets are unreadable, start over
        key, rewrite = Fernet.generate_key(), True
    if rewrite:
        atomic_write(key_path, wrapper.wrap(key) if wrapper is not None else key)
        os.chmod(key_path, 0o600)
    return Fernet(key)


def _read_key(raw: bytes, wrapper: KeyWrapper | None) -> tuple[bytes | None, bool]:
    """(Fernet key or None, whether to write the key file again)."""
    plain = raw.strip()
    looks_plain = _is_fernet_key(plain)
    if wrapper is None:
        return (plain, False) if looks_plain else (None, True)
    try:
        key = wrapper.unwrap(raw).strip()
    except Exception:  # noqa: BLE001
        key = None
    if key is not None and _is_fernet_key(key):
        return key, False
    # a key file from before the keystore was used: keep the player signed in, wrap it now
    return (plain, True) if looks_plain else (None, True)


def _is_fernet_key(key: bytes) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key)) == 32 and len(key) == 44
    except (ValueError, TypeError):
        return False


class FileSecureStore:
    def __init__(self, directory: str | Path, key_wrapper: KeyWrapper | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "secrets.bin"
        self._cipher = _fernet(self.dir / "secrets.key", key_wrapper)

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
