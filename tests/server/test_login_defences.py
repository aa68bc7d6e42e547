"""Brute force against sign-in: throttles and lockouts count the real client, per address and per
account, on the API login and the Django admin's login form."""
from __future__ import annotations

import uuid

import pytest
from django.test import RequestFactory
from rest_framework.throttling import ScopedRateThrottle

from server.accounts.client_address import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # conftest.make_user's


@pytest.fixture
def peer() -> str:
    """A client address no earlier run used (throttle counters live in Redis between runs)."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


@pytest.fixture
def lockout_after_3(settings):
    settings.AXES_FAILURE_LIMIT = 3


@pytest.fixture
def no_throttle(monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "10000/min"})


def login(client, username: str, password: str, remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/api/v1/auth/login/", {"username": username, "password": password},
                       content_type="application/json", **extra)


def test_rotating_x_forwarded_for_does_not_escape_the_login_throttle(client, player, peer, monkeypatch):
    """The throttle counts the peer address: a client that writes a new X-Forwarded-For on every
    try is still one client (it let 50 of 50 wrong passwords through when DRF trusted the header)."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    codes = [login(client, "robin", f"guess-{i}", peer, forwarded=f"198.51.100.{i}").status_code for i in range(5)]
    assert codes[:3] == [400, 400, 400]
    refused = login(client, "robin", PASSWORD, peer, forwarded="198.51.100.77")
    assert codes[3:] == [429, 429] and refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"


def test_an_address_locks_out_whatever_accounts_it_tries(client, player, other_player, peer, lockout_after_3,
                                                        no_throttle):
    """Password spraying from one address, with a forged X-Forwarded-For each time, locks the
    address: afterwards even a correct password of another account is refused from it."""
    for i, name in enumerate(["robin", "wren", "nobody"]):
        login(client, name, "wrong-password", peer, forwarded=f"203.0.113.{i}")
    refused = login(client, "wren", PASSWORD, peer, forwarded="203.0.113.99")
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"]["code"] == "account_locked" and body["error"]["message"]
    assert int(refused["Retry-After"]) > 0
    assert "token" not in body
    fresh = uuid.uuid4().int % 200 + 20
    assert login(client, "wren", PASSWORD, f"192.0.2.{fresh}").status_code == 200  # another address may


def test_an_account_locks_after_failures_from_different_addresses(client, player, other_player, lockout_after_3,
                                                                 no_throttle):
    """Three addresses, one wrong password each, lock the account for every address; other
    accounts are unaffected."""
    base = uuid.uuid4().int % 200
    for i in range(3):
        assert login(client, "robin", "wrong-password", f"172.16.{base}.{i + 1}").status_code in (400, 429)
    refused = login(client, "robin", PASSWORD, f"172.16.{base}.50")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "account_locked"
    assert login(client, "wren", PASSWORD, f"172.16.{base}.51").status_code == 200


def test_the_lockout_answers_before_the_password_is_checked(client, player, peer, lockout_after_3, no_throttle):
    """The third failure already answers 429, and no token is issued while locked."""
    codes = [login(client, "robin", "wrong-password", peer).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    locked = login(client, "robin", PASSWORD, peer)
    assert locked.status_code == 429 and "token" not in locked.json()


def test_admin_login_locks_out(client, admin_user, peer, lockout_after_3):
    """/admin/login/ counts failures too (it had no limit at all) and then refuses even the right
    password with a plain 429."""
    url = "/admin/login/?next=/admin/"
    for i in range(3):
        response = client.post(url, {"username": "warden", "password": "wrong-password"}, REMOTE_ADDR=peer,
                               HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        assert response.status_code in (200, 429)
    locked = client.post(url, {"username": "warden", "password": PASSWORD}, REMOTE_ADDR=peer)
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert client.get("/admin/").status_code == 302  # not signed in


def test_admin_login_still_works_below_the_limit(client, admin_user, peer, lockout_after_3):
    client.post("/admin/login/", {"username": "warden", "password": "wrong-password"}, REMOTE_ADDR=peer)
    response = client.post("/admin/login/?next=/admin/", {"username": "warden", "password": PASSWORD},
                           REMOTE_ADDR=peer)
    assert response.status_code == 302 and client.get("/admin/").status_code == 200


@pytest.mark.parametrize("proxies,expected", [(0, "10.0.0.1"), (1, "203.0.113.9"), (2, "6.6.6.6")])
def test_client_address_counts_only_trusted_proxies(settings, proxies, expected):
    """X-Forwarded-For is read from the right, one entry per trusted proxy; with none, the peer."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == expected


def test_one_setting_feeds_both_throttles_and_lockouts():
    from django.conf import settings as live

    assert live.REST_FRAMEWORK["NUM_PROXIES"] == live.TRUSTED_PROXIES
    assert live.AXES_CLIENT_IP_CALLABLE == "server.accounts.client_address.client_ip"
    assert live.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
