"""The offline queue: audio + metadata in SQLite and files, uploaded later, never lost.

Kill-safety:
* the audio is written atomically (``atomic_write``) *before* its row is committed; a file
  without a row (killed in between) is removed when the queue is next opened;
* an item left ``uploading`` (killed mid-upload) goes back to ``waiting`` on open; re-sending
  is harmless because the server deduplicates by the client's idempotency key;
* SQLite runs in WAL mode with ``synchronous=FULL``.

A full disk raises :class:`QueueFull` with a human message and leaves nothing half-written.
"""
from __future__ import annotations

import errno
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ml.runtime.files import atomic_write

WAITING, UPLOADING, SENT, ACCEPTED, REJECTED = "waiting", "uploading", "sent", "accepted", "rejected"
STATES = (WAITING, UPLOADING, SENT, ACCEPTED, REJECTED)
STATE_TEXT = {WAITING: "Waiting to upload", UPLOADING: "Uploading…", SENT: "Uploaded, being checked",
              ACCEPTED: "Accepted", REJECTED: "Rejected"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    audio_file TEXT NOT NULL,
    metadata TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    recording_id TEXT NOT NULL DEFAULT '',
    observation_id TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS items_state ON items (state, next_attempt_at);
"""


class QueueFull(OSError):
    """The phone's storage is full: the take could not be saved (nothing was half-written)."""

    message = "Your phone's storage is full. Free some space, then save the recording again."


@dataclass(frozen=True)
class QueueItem:
    key: str
    created_at: float
    audio_file: str
    metadata: dict
    state: str
    attempts: int
    next_attempt_at: float
    error_code: str
    error_message: str
    recording_id: str
    observation_id: str

    @property
    def label(self) -> str:
        return str(self.metadata.get("identification", {}).get("label", "unknown"))

    @property
    def status_text(self) -> str:
        text = STATE_TEXT.get(self.state, self.state)
        if self.state == REJECTED and self.error_message:
            return f"{text}: {self.error_message}"
        if self.state == WAITING and self.error_message:
            return f"{text} ({self.error_message})"
        return text


class OfflineQueue:
    def __init__(self, directory: str | Path, clock=time.time):
        self.dir = Path(directory)
        self.audio_dir = self.dir / "audio"
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.dir / "queue.sqlite3"), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.recover()

    def close(self) -> None:
        self.db.close()

    # --- writes ---------------------------------------------------------------------------
    def recover(self) -> int:
        """After a crash: interrupted uploads wait again; audio files without a row are removed."""
        with self._lock:
            moved = self.db.execute("UPDATE items SET state=?, updated_at=? WHERE state=?",
                                    (WAITING, self.clock(), UPLOADING)).rowcount
            known = {row[0] for row in self.db.execute("SELECT audio_file FROM items")}
        for path in self.audio_dir.iterdir():
            if path.name not in known and (path.suffix != ".part" or time.time() - path.stat().st_mtime > 60):
                path.unlink(missing_ok=True)
        return moved

    def add(self, key: str, audio: bytes, metadata: dict, ext: str = "wav") -> QueueItem:
        """Store a take; idempotent by ``key`` (the same key returns the stored item)."""
        existing = self.get(key)
        if existing is not None:
            return existing
        name = f"{key}.{ext}"
        try:
            atomic_write(self.audio_dir / name, audio)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise QueueFull(exc.errno, QueueFull.message) from None
            raise
        now = self.clock()
        try:
            with self._lock:
                self.db.execute("INSERT INTO items (key, created_at, audio_file, metadata, state, updated_at) "
                                "VALUES (?, ?, ?, ?, ?, ?)", (key, now, name, json.dumps(metadata), WAITING, now))
        except sqlite3.OperationalError as exc:
            (self.audio_dir / name).unlink(missing_ok=True)
            if "full" in str(exc).lower():
                raise QueueFull(errno.ENOSPC, QueueFull.message) from None
            raise
        return self.get(key)

    def _update(self, key: str, **values) -> None:
        values["updated_at"] = self.clock()
        cols = ", ".join(f"{k}=?" for k in values)
        with self._lock:
            self.db.execute(f"UPDATE items SET {cols} WHERE key=?", (*values.values(), key))

    def claim(self, key: str) -> bool:
        """Move a waiting item to ``uploading``; False when someone else holds it."""
        with self._lock:
            return self.db.execute("UPDATE items SET state=?, updated_at=? WHERE key=? AND state=?",
                                   (UPLOADING, self.clock(), key, WAITING)).rowcount == 1

    def mark_sent(self, key: str, recording_id: str, server_status: str = "received") -> None:
        self._update(key, state=SENT, recording_id=recording_id, error_code="", error_message="")
        if server_status in (ACCEPTED, REJECTED):
            self.apply_server_status(recording_id, server_status)

    def mark_retry(self, key: str, code: str, message: str, delay_s: float) -> None:
        item = self.get(key)
        attempts = (item.attempts if item else 0) + 1
        self._update(key, state=WAITING, attempts=attempts, next_attempt_at=self.clock() + delay_s,
                     error_code=code, error_message=message)

    def release(self, key: str, code: str, message: str) -> None:
        """Back to waiting without counting an attempt (e.g. signed out)."""
        self._update(key, state=WAITING, error_code=code, error_message=message)

    def mark_rejected(self, key: str, code: str, message: str) -> None:
        self._update(key, state=REJECTED, error_code=code, error_message=message)

    def apply_server_status(self, recording_id: str, status: str, code: str = "", reason: str = "",
                            observation_id: str | int | dict | None = None) -> bool:
        """A server outcome (poll or websocket) for an uploaded item; True when something changed."""
        if status not in (ACCEPTED, REJECTED):
            return False
        values = {"state": status, "error_code": code or "", "error_message": reason or ""}
        if isinstance(observation_id, dict):
            observation_id = observation_id.get("id")
        if observation_id is not None:
            values["observation_id"] = str(observation_id)
        values["updated_at"] = self.clock()
        cols = ", ".join(f"{k}=?" for k in values)
        with self._lock:
            return self.db.execute(f"UPDATE items SET {cols} WHERE recording_id=? AND state IN (?, ?)",
                                   (*values.values(), recording_id, SENT, UPLOADING)).rowcount > 0

    def retry_now(self, key: str) -> None:
        self._update(key, next_attempt_at=0)

    def remove(self, key: str) -> None:
        """Forget a finished item (accepted/rejected) and its audio."""
        item = self.get(key)
        if item is None:
            return
        if item.state not in (ACCEPTED, REJECTED):
            raise ValueError("Only finished items can be removed.")
        with self._lock:
            self.db.execute("DELETE FROM items WHERE key=?", (key,))
        (self.audio_dir / item.audio_file).unlink(missing_ok=True)

    def edit(self, key: str, label: str, notes: str = "", license: str | None = None) -> bool:
        """Change a take's label, notes and (when given) licence code before it is uploaded (state waiting
        or rejected, never sent); False when the item is gone or already on its way to the server."""
        with self._lock:
            row = self.db.execute("SELECT metadata FROM items WHERE key=? AND state IN (?, ?) AND recording_id=''",
                                  (key, WAITING, REJECTED)).fetchone()
            if row is None:
                return False
            meta = json.loads(row[0])
            meta.setdefault("identification", {})["label"] = label
            meta["notes"] = notes
            if license is not None:
                meta["license"] = license
            self.db.execute("UPDATE items SET metadata=?, updated_at=? WHERE key=?", (json.dumps(meta), self.clock(), key))
        return True

    def withdraw(self, key: str) -> bool:
        """Remove a take in any state but uploading, with its audio: it is never sent (again). False
        when it is uploading right now (the caller tries again) ; True when it is gone."""
        item = self.get(key)
        if item is None:
            return True
        with self._lock:
            n = self.db.execute("DELETE FROM items WHERE key=? AND state!=?", (key, UPLOADING)).rowcount
        if n:
            (self.audio_dir / item.audio_file).unlink(missing_ok=True)
        return bool(n)

    # --- reads ----------------------------------------------------------------------------
    @staticmethod
    def _item(row: sqlite3.Row) -> QueueItem:
        d = dict(row)
        d.pop("updated_at", None)
        d["metadata"] = json.loads(d["metadata"])
        return QueueItem(**d)

    def get(self, key: str) -> QueueItem | None:
        with self._lock:
            row = self.db.execute("SELECT * FROM items WHERE key=?", (key,)).fetchone()
        return self._item(row) if row else None

    def items(self) -> list[QueueItem]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM items ORDER BY created_at DESC").fetchall()
        return [self._item(r) for r in rows]

    def due(self, now: float | None = None) -> list[QueueItem]:
        now = self.clock() if now is None else now
        with self._lock:
            rows = self.db.execute("SELECT * FROM items WHERE state=? AND next_attempt_at<=? ORDER BY created_at",
                                   (WAITING, now)).fetchall()
        return [self._item(r) for r in rows]

    def in_state(self, state: str) -> list[QueueItem]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM items WHERE state=? ORDER BY created_at", (state,)).fetchall()
        return [self._item(r) for r in rows]

    def audio(self, item: QueueItem) -> bytes:
        return (self.audio_dir / item.audio_file).read_bytes()

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self.db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall()
        return {state: n for state, n in rows}
