"""Fixtures for the server tests: catalogue, users of each role, API clients, submissions."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from rest_framework.test import APIClient

from server.accounts.models import Role, User
from server.species.catalogue import load_catalogue


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A new channel layer for every test. Each test's websockets run on their own event loop, while
    channels_redis keeps its process-local receive locks across loops (and a receive cancelled while
    waiting for one leaves it bound to the old loop)."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def catalogue(db):
    load_catalogue()


def make_user(username: str, role: str) -> User:
    return User.objects.create_user(username=username, password="correct horse battery", role=role)


def api_token(user: User) -> str:
    """A new API token for ``user`` (as a login issues it)."""
    from server.accounts.tokens import issue_token

    return issue_token(user)[0]


def ws_subprotocols(token: str) -> list[str]:
    """What a client offers to authenticate a websocket (server/realtime/auth.py)."""
    return ["dawn.v1", f"token.{token}"]


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        if not hasattr(user, "test_api_token"):  # one token per user object, as a signed-in phone has
            user.test_api_token = api_token(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.test_api_token}")
    return client


@pytest.fixture
def player(db):
    return make_user("robin", Role.PLAYER)


@pytest.fixture
def other_player(db):
    return make_user("wren", Role.PLAYER)


@pytest.fixture
def researcher(db):
    return make_user("dr_ornis", Role.RESEARCHER)


@pytest.fixture
def admin_user(db):
    return make_user("warden", Role.ADMIN)


@pytest.fixture
def api(player):
    return client_for(player)


def metadata(**overrides) -> dict:
    """A valid submission metadata object; keyword arguments replace top-level keys."""
    meta = {
        "idempotency_key": uuid.uuid4().hex,
        "recorded_at": (datetime.now(timezone.utc) - timedelta(minutes=3)).isoformat(),
        "location": {"lat": 18.2960, "lng": -65.7850, "accuracy_m": 8.0},
        "segment": {"start_s": 0.0, "end_s": 3.0},
        "identification": {"label": "unknown", "confidence": None, "model_version": "test"},
        "device": {"model": "pytest", "os": "linux"},
    }
    meta.update(overrides)
    return meta


def session_token(client: APIClient) -> str | None:
    """A recording session token for the client's user (None when the client is anonymous)."""
    response = client.post("/api/v1/recordings/session-token/")
    return response.json()["token"] if response.status_code == 201 else None


def submit(client: APIClient, data: bytes, meta: dict, filename: str = "take.ogg"):
    """POST a recording like the app does: with a fresh session token unless ``meta`` carries one."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    if "session_token" not in meta:
        token = session_token(client)
        if token is not None:
            meta = {**meta, "session_token": token}
    upload = SimpleUploadedFile(filename, data, content_type="application/octet-stream")
    return client.post("/api/v1/recordings/", {"audio": upload, "metadata": json.dumps(meta)},
                       format="multipart")
