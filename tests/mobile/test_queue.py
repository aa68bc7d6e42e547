"""The offline SQLite queue: persistence, states, crash recovery, a kill mid-upload, full disk."""
import errno
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mobile import offline_queue as queue_mod
from mobile.api import ApiClient
from mobile.offline_queue import ACCEPTED, REJECTED, SENT, UPLOADING, WAITING, OfflineQueue, QueueFull
from mobile.uploader import Uploader

ROOT = Path(__file__).resolve().parents[2]
META = {"identification": {"label": "Bananaquit", "confidence": 0.7}}


def test_items_survive_reopening_and_add_is_idempotent(tmp_path):
    q = OfflineQueue(tmp_path)
    first = q.add("dc-key-0001", b"RIFF-audio", META)
    assert q.add("dc-key-0001", b"other", META) == first
    q.close()
    q = OfflineQueue(tmp_path)
    [item] = q.items()
    assert (item.key, item.state, item.label) == ("dc-key-0001", WAITING, "Bananaquit")
    assert q.audio(item) == b"RIFF-audio"


def test_recover_puts_interrupted_uploads_back_and_drops_orphan_files(tmp_path):
    q = OfflineQueue(tmp_path)
    q.add("dc-key-0002", b"abc", META)
    assert q.claim("dc-key-0002") and not q.claim("dc-key-0002")
    (tmp_path / "audio" / "dc-orphan.wav").write_bytes(b"killed before the row")
    q.close()
    q = OfflineQueue(tmp_path)
    assert q.get("dc-key-0002").state == WAITING
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["dc-key-0002.wav"]


def test_server_outcomes_move_sent_items_only(tmp_path):
    q = OfflineQueue(tmp_path)
    q.add("dc-key-0003", b"abc", META)
    assert not q.apply_server_status("rec-1", ACCEPTED)  # not uploaded yet
    q.claim("dc-key-0003")
    q.mark_sent("dc-key-0003", "rec-1")
    assert q.get("dc-key-0003").state == SENT
    assert q.apply_server_status("rec-1", REJECTED, "quality_silent", "The recording is almost silent.",
                                 observation_id=None)
    item = q.get("dc-key-0003")
    assert item.state == REJECTED and "almost silent" in item.status_text
    with pytest.raises(ValueError):
        q.add("dc-key-0004", b"x", META) and q.remove("dc-key-0004")
    q.remove("dc-key-0003")
    assert q.get("dc-key-0003") is None and not (tmp_path / "audio" / "dc-key-0003.wav").exists()


def test_full_disk_is_a_human_error_and_leaves_nothing(tmp_path, monkeypatch):
    q = OfflineQueue(tmp_path)

    def no_space(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(queue_mod, "atomic_write", no_space)
    with pytest.raises(QueueFull) as exc:
        q.add("dc-key-0005", b"abc", META)
    assert "storage is full" in exc.value.message
    assert q.items() == [] and list((tmp_path / "audio").iterdir()) == []


def test_uploader_retries_5xx_with_backoff_and_rejects_4xx_with_the_reason(tmp_path, fake_server):
    q = OfflineQueue(tmp_path)
    q.add("dc-key-0006", b"a", META)
    q.add("dc-key-0007", b"b", META)
    answers = iter([(503, b"<html>down</html>", {"Content-Type": "text/html"}),
                    (400, {"error": {"code": "invalid_coordinates", "message": "Latitude must be within [-90, 90]."}})])
    fake_server.routes[("POST", "/api/v1/recordings/")] = lambda h: next(answers)
    up = Uploader(q, ApiClient(fake_server.url, token="t0k"))
    result = up.drain()
    assert result.retry == ["dc-key-0006"] and result.rejected == ["dc-key-0007"]
    retry, rejected = q.get("dc-key-0006"), q.get("dc-key-0007")
    assert retry.state == WAITING and retry.attempts == 1 and retry.next_attempt_at > time.time() + 2
    assert rejected.state == REJECTED and rejected.error_code == "invalid_coordinates"
    assert "Latitude" in rejected.status_text
    assert up.drain().sent == []  # not due yet: backoff respected
    fake_server.routes[("POST", "/api/v1/recordings/")] = lambda h: (201, {"id": "r-6", "status": "received"})
    q.retry_now("dc-key-0006")
    assert up.drain().sent == ["dc-key-0006"] and q.get("dc-key-0006").state == SENT
    assert all(r[2] == "Token t0k" for r in fake_server.requests)


def test_revoked_token_keeps_items_waiting(tmp_path, fake_server):
    q = OfflineQueue(tmp_path)
    q.add("dc-key-0008", b"a", META)
    fake_server.routes[("POST", "/api/v1/recordings/")] = lambda h: (
        401, {"error": {"code": "authentication_failed", "message": "Invalid token."}})
    result = Uploader(q, ApiClient(fake_server.url, token="revoked")).drain()
    assert result.auth_required and "sign in again" in result.message
    item = q.get("dc-key-0008")
    assert item.state == WAITING and item.attempts == 0


CHILD = """
import sys
sys.path.insert(0, {root!r})
from mobile.offline_queue import OfflineQueue
from mobile.api import ApiClient
from mobile.uploader import Uploader
q = OfflineQueue({qdir!r})
print("draining", flush=True)
Uploader(q, ApiClient({url!r}, token="t", timeout_s=60)).drain()
"""


def test_killed_mid_upload_loses_nothing_and_resends_with_the_same_key(tmp_path, fake_server):
    q = OfflineQueue(tmp_path / "q")
    audio = os.urandom(2000)
    q.add("dc-key-0009", audio, {"idempotency_key": "dc-key-0009", **META})
    q.close()
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(1)  # accepts the connection, never answers: the upload is in flight
    url = f"http://127.0.0.1:{hang.getsockname()[1]}"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT), qdir=str(tmp_path / "q"), url=url)],
                             stdout=subprocess.PIPE, start_new_session=True)
    conn, _ = hang.accept()
    deadline = time.time() + 10
    while time.time() < deadline:  # wait until the request body is on the wire
        conn.settimeout(0.5)
        try:
            if conn.recv(65536):
                break
        except socket.timeout:
            pass
    with sqlite3.connect(tmp_path / "q" / "queue.sqlite3") as probe:  # read without recover()
        assert probe.execute("SELECT state FROM items").fetchone()[0] == UPLOADING
    os.killpg(child.pid, signal.SIGKILL)
    child.wait(5)
    conn.close()
    hang.close()

    q = OfflineQueue(tmp_path / "q")
    item = q.get("dc-key-0009")
    assert item.state == WAITING and q.audio(item) == audio
    fake_server.routes[("POST", "/api/v1/recordings/")] = lambda h: (200, {"id": "r-9", "status": "received"})
    assert Uploader(q, ApiClient(fake_server.url, token="t")).drain().sent == ["dc-key-0009"]
    body = fake_server.requests[-1][3]
    assert audio in body and b'"idempotency_key": "dc-key-0009"' in body
    assert json.loads(json.dumps(q.get("dc-key-0009").metadata))["idempotency_key"] == "dc-key-0009"
