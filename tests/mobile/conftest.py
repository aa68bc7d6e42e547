"""Fixtures for the field client: real fixture clips through the file microphone, a temp data dir."""
from __future__ import annotations

from pathlib import Path

import pytest

from mobile.api import Connectivity
from mobile.controller import FieldClient
from mobile.services.audio_out import CapturingAudioOut
from mobile.services.factory import Services
from mobile.services.location import SimulatedWalk
from mobile.services.microphone import FileMicrophone
from mobile.services.secure_store import MemorySecureStore

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"
WARBLER = AUDIO / "XC173620_adelaides_warbler.ogg"


def make_services(clip: Path = WARBLER, **mic_kw) -> Services:
    walk = SimulatedWalk()
    return Services(FileMicrophone(clip, **mic_kw), walk, walk, CapturingAudioOut(), MemorySecureStore())


@pytest.fixture
def services() -> Services:
    return make_services()


@pytest.fixture
def field(tmp_path, services) -> FieldClient:
    client = FieldClient(tmp_path / "app", "http://127.0.0.1:9", services, Connectivity(online=False))
    yield client
    client.close()


@pytest.fixture
def fake_server():
    from .fakeserver import FakeServer

    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def live_server_url(proc_env):
    """uvicorn (HTTP + websockets) and a real Celery worker on the test database; returns the base URL."""
    import sys

    from tests.server.test_workers import free_port, start, start_worker, wait_for_web

    port = free_port()
    start(proc_env, "web", [sys.executable, "-m", "uvicorn", "server.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--lifespan", "off"])
    base = f"http://127.0.0.1:{port}"

    wait_for_web(base, 60, proc_env)
    start_worker(proc_env, "worker")
    return base
