"""One rate-limiting mechanism (server/platform/throttling.py): every former limit still limits, per player,
with one answer: 429 ``throttled`` and ``Retry-After``."""
from __future__ import annotations

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.urls import get_resolver
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from tests.server.conftest import client_for

pytestmark = pytest.mark.django_db

# scope -> (the limit it had before it became a DRF scope, a request it limits)
FORMER_LIMITS = {
    "recording_session": ("240/hour", "/api/v1/recordings/session-token/"),  # the hard-coded 240/h
    "identification": ("200/hour", "/api/v1/observations/1/identifications/"),  # anticheat.RATE_LIMITS
    "quiz": ("60/hour", "/api/v1/game/quiz/"),
    "game_write": ("120/hour", "/api/v1/game/teams/"),
}


@pytest.fixture
def counters(monkeypatch):
    """Throttle counters in a private in-memory cache: none left over from another test or run."""
    monkeypatch.setattr(ScopedRateThrottle, "cache", LocMemCache("throttle-tests", {}))


def limit_to(monkeypatch, scope: str, rate: str) -> None:
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, scope: rate})


def view_scopes() -> set[str]:
    """The throttle scope of every routed view and viewset action."""
    scopes, stack = set(), [get_resolver()]
    while stack:
        for entry in stack.pop().url_patterns:
            if hasattr(entry, "url_patterns"):
                stack.append(entry)
                continue
            callback = entry.callback
            view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            scope = (getattr(callback, "initkwargs", {}) or {}).get("throttle_scope") or getattr(view, "throttle_scope", None)
            if scope:
                scopes.add(scope)
    return scopes


def test_every_former_limit_is_a_configured_scope_with_its_rate():
    configured = api_settings.DEFAULT_THROTTLE_RATES
    assert {scope: configured.get(scope) for scope in FORMER_LIMITS} == {s: r for s, (r, _) in FORMER_LIMITS.items()}
    assert view_scopes() == set(FORMER_LIMITS) | {"auth"}  # every scope a view names has a rate
    assert api_settings.DEFAULT_THROTTLE_CLASSES[0].__module__ == "server.platform.throttling"


@pytest.mark.parametrize("scope", sorted(FORMER_LIMITS))
def test_each_former_limit_answers_throttled_with_retry_after(scope, player, other_player, counters, monkeypatch):
    limit_to(monkeypatch, scope, "2/hour")
    path = FORMER_LIMITS[scope][1]
    api = client_for(player)
    first = [api.post(path, {}, format="json").status_code for _ in range(2)]
    assert 429 not in first  # whatever the view says of an empty body, it is not throttled yet
    refused = api.post(path, {}, format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert client_for(other_player).post(path, {}, format="json").status_code != 429  # per player


def test_reads_are_never_counted(player, counters, monkeypatch):
    limit_to(monkeypatch, "game_write", "1/hour")
    api = client_for(player)
    assert all(api.get("/api/v1/game/teams/").status_code == 200 for _ in range(3))
    assert api.post("/api/v1/game/teams/", {"name": "Owls"}, format="json").status_code == 201
    assert api.post("/api/v1/game/teams/", {"name": "Larks"}, format="json").json()["error"]["code"] == "throttled"
    assert api.get("/api/v1/game/teams/").status_code == 200


class Unreachable:
    def get(self, *args, **kwargs):
        raise ConnectionError("Redis is down")

    set = get


def test_a_session_token_is_issued_while_the_counters_cache_is_down(player, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "cache", Unreachable())
    limit_to(monkeypatch, "recording_session", "1/hour")
    api = client_for(player)
    assert [api.post("/api/v1/recordings/session-token/").status_code for _ in range(2)] == [201, 201]
