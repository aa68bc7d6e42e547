"""Faults with real processes: a Celery worker killed mid-analysis, Redis down at submit time,
and the end-to-end path from an HTTP submission to an observation on the map."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings as dj_settings
from django.db import connection

from server.observations.models import Observation
from server.platform import redis as platform_redis
from server.recordings.models import FingerprintHash, Recording, Status
from server.recordings.tasks import sweep_stuck_recordings

from .conftest import api_token, client_for, metadata, submit

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DEAD_REDIS = "redis://127.0.0.1:9/0"  # nothing listens on the discard port


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def proc_env(settings, media_root, tmp_path):
    """Environment for child processes: the test database, the test queue, fast redelivery."""
    queue = dj_settings.CELERY_TASK_DEFAULT_QUEUE
    client = platform_redis.client(dj_settings.CELERY_BROKER_URL)
    client.delete(queue, "unacked", "unacked_index", "unacked_mutex")
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(media_root),
           "REDIS_URL": dj_settings.REDIS_URL, "CELERY_BROKER_URL": dj_settings.CELERY_BROKER_URL,
           "DAWN_CELERY_QUEUE": queue, "DAWN_VISIBILITY_TIMEOUT": "3", "DAWN_UNACKED_RESTORE_INTERVAL": "1",
           "DAWN_UNACKED_RESTORE_THROTTLE": "1", "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen] = []
    yield env, procs, tmp_path
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    client.delete(queue, "unacked", "unacked_index", "unacked_mutex")


def start(proc_env, name: str, argv: list[str], **extra_env) -> subprocess.Popen:
    env, procs, tmp = proc_env
    log = open(tmp / f"{name}.log", "wb")
    p = subprocess.Popen(argv, cwd=ROOT, env={**env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    procs.append(p)
    return p


def start_worker(proc_env, name: str, **extra_env) -> subprocess.Popen:
    queue = proc_env[0]["DAWN_CELERY_QUEUE"]
    return start(proc_env, name, [sys.executable, "-m", "celery", "-A", "server", "worker", "--pool=solo",
                                  "-Q", queue, "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "-l", "info",
                                  "--without-gossip", "--without-mingle", "--without-heartbeat"], **extra_env)


def wait_for(predicate, seconds: float, what: str, proc_env=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    logs = ""
    if proc_env:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in proc_env[2].glob("*.log"))
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def wait_for_web(base: str, seconds: float, proc_env) -> None:
    """Wait until the web server at ``base`` answers ``/healthz``; fail with the processes' logs."""
    def up():
        try:
            return requests.get(f"{base}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    wait_for(up, seconds, "the web server", proc_env)


def status_of(rec_id) -> str:
    return Recording.objects.filter(pk=rec_id).values_list("status", flat=True).first()


def test_submission_reaches_the_map_through_a_real_worker(proc_env, catalogue, player, bird_clips):
    start_worker(proc_env, "worker")
    clip = bird_clips[0]
    response = submit(client_for(player), clip.data, metadata(
        identification={"label": clip.label, "confidence": 0.9, "model_version": "phone"}))
    assert response.status_code == 201
    rec_id = response.json()["id"]
    wait_for(lambda: status_of(rec_id) in (Status.ACCEPTED, Status.REJECTED), 90, "analysis", proc_env)
    rec = Recording.objects.get(pk=rec_id)
    assert rec.status == Status.ACCEPTED, (rec.reject_code, rec.reject_reason)
    features = client_for(None).get("/api/v1/observations/?bbox=-66,18,-65.5,18.5&source=app").json()["features"]
    assert [f["properties"]["species"] for f in features] == [clip.label]
    assert features[0]["properties"]["confidence"] is not None and features[0]["properties"]["status"]


def test_worker_killed_mid_analysis_loses_nothing_and_processes_once(proc_env, catalogue, player, bird_clips):
    slow = start_worker(proc_env, "doomed", DAWN_FAULT_ANALYSIS_DELAY_S="60")
    clip = bird_clips[0]
    response = submit(client_for(player), clip.data, metadata(
        identification={"label": clip.label, "confidence": 0.9, "model_version": "phone"}))
    rec_id = response.json()["id"]
    wait_for(lambda: status_of(rec_id) == Status.PROCESSING, 60, "the doomed worker to start", proc_env)
    time.sleep(0.5)
    os.killpg(slow.pid, signal.SIGKILL)
    slow.wait(10)
    assert status_of(rec_id) == Status.PROCESSING and not Observation.objects.exists()

    start_worker(proc_env, "rescuer")
    wait_for(lambda: status_of(rec_id) == Status.ACCEPTED, 90, "redelivery to the rescuer", proc_env)
    rec = Recording.objects.get(pk=rec_id)
    assert rec.analysis_attempts == 2
    assert Observation.objects.filter(recording_id=rec_id).count() == 1
    hashes = list(FingerprintHash.objects.filter(recording_id=rec_id).values_list("hash", "offset"))
    assert hashes and len(hashes) == len(set(hashes))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_down_at_submit_then_sweeper_recovers(proc_env, catalogue, player, bird_clips, settings):
    port = free_port()
    start(proc_env, "web-without-redis", [sys.executable, "-m", "uvicorn", "server.asgi:application",
                                          "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"],
          REDIS_URL=DEAD_REDIS, CELERY_BROKER_URL=DEAD_REDIS)
    base = f"http://127.0.0.1:{port}"

    wait_for_web(base, 60, proc_env)
    token = api_token(player)
    clip = bird_clips[0]
    meta = metadata(identification={"label": clip.label, "confidence": 0.9, "model_version": "phone"})
    meta["session_token"] = requests.post(f"{base}/api/v1/recordings/session-token/", timeout=10,
                                          headers={"Authorization": f"Token {token}"}).json()["token"]
    t0 = time.monotonic()
    response = requests.post(f"{base}/api/v1/recordings/", headers={"Authorization": f"Token {token}"},
                             files={"audio": (clip.path.name, clip.data)}, data={"metadata": json.dumps(meta)},
                             timeout=30)
    assert response.status_code == 201, response.text
    assert time.monotonic() - t0 < 10
    rec_id = response.json()["id"]
    rec = Recording.objects.get(pk=rec_id)
    assert rec.status == Status.RECEIVED and rec.enqueued_at is None
    assert Path(settings.MEDIA_ROOT, rec.audio_path).read_bytes() == clip.data

    settings.SWEEP_AFTER_SECONDS = 0
    start_worker(proc_env, "worker")
    assert sweep_stuck_recordings() == 1
    wait_for(lambda: status_of(rec_id) == Status.ACCEPTED, 90, "analysis after the sweep", proc_env)
    assert Observation.objects.filter(recording_id=rec_id).count() == 1
    assert sweep_stuck_recordings() == 0
