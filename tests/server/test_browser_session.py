"""The browser's session sign-in (/api/v1/auth/session/): cookies, CSRF, the same login defences, and
the plain navigations it exists for (a researcher opening a recording from the map's popup)."""
from __future__ import annotations

import uuid

import pytest
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from .conftest import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # conftest.make_user's
URL = "/api/v1/auth/session/"


@pytest.fixture
def browser() -> Client:
    """A browser: cookies kept, CSRF checked as in production, its own client address."""
    n = uuid.uuid4().int
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}")


def csrf(browser: Client) -> str:
    answer = browser.get(URL)
    assert answer.status_code == 200
    return browser.cookies["csrftoken"].value


def sign_in(browser: Client, username: str, password: str = PASSWORD, token: str | None = None):
    headers = {} if token is None else {"HTTP_X_CSRFTOKEN": token}
    return browser.post(URL, {"username": username, "password": password}, content_type="application/json",
                        **headers)


def test_get_says_who_and_sets_the_csrf_cookie(browser):
    answer = browser.get(URL)
    assert answer.json() == {"authenticated": False, "user": None}
    cookie = browser.cookies["csrftoken"]
    assert cookie.value and cookie["samesite"] == "Lax" and cookie["secure"]


def test_sign_in_sets_a_secure_httponly_session_that_opens_links(browser, researcher, player):
    from server.recordings.models import Recording  # noqa: F401  (the table exists)

    token = csrf(browser)
    answer = sign_in(browser, "dr_ornis", token=token)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["authenticated"] and body["user"]["username"] == "dr_ornis" and body["user"]["role"] == "researcher"
    assert "token" not in body  # nothing a script could steal
    session = browser.cookies["sessionid"]
    assert session["httponly"] and session["secure"] and session["samesite"] == "Lax"
    assert browser.cookies["csrftoken"].value != token  # rotated at sign-in
    # plain navigations: no header, only the cookie
    assert browser.get(URL).json()["user"]["username"] == "dr_ornis"
    config = browser.get("/api/v1/map/config/").json()
    assert config["user"] == {"authenticated": True, "username": "dr_ornis", "researcher": True}
    assert browser.get("/api/v1/recordings/").status_code == 200  # researcher-only listing, no 401
    assert Client().get("/api/v1/recordings/").status_code == 401


def test_sign_in_without_or_with_a_wrong_csrf_token_is_refused_before_the_password(browser, player):
    csrf(browser)
    for token in (None, "x" * 64):
        refused = sign_in(browser, "robin", token=token)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
        assert "sessionid" not in browser.cookies
    assert browser.get(URL).json()["authenticated"] is False


def test_wrong_password_and_lockout_apply_to_the_session_sign_in(browser, player, settings, monkeypatch):
    settings.AXES_FAILURE_LIMIT = 3
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "10000/min"})
    token = csrf(browser)
    first = sign_in(browser, "robin", "wrong-password", token)
    assert first.status_code == 400 and first.json()["error"]["code"] == "invalid_credentials"
    codes = [sign_in(browser, "robin", "wrong-password", token).status_code for _ in range(2)]
    assert codes == [400, 429]
    locked = sign_in(browser, "robin", PASSWORD, token)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "account_locked"
    assert "sessionid" not in browser.cookies


def test_session_sign_in_is_throttled_with_the_token_login(browser, player, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})
    token = csrf(browser)
    codes = [sign_in(browser, "robin", f"guess-{i}", token).status_code for i in range(3)]
    assert codes == [400, 400, 429]
    assert sign_in(browser, "robin", PASSWORD, token).json()["error"]["code"] == "throttled"


def test_unsafe_requests_need_csrf_and_sign_out_ends_the_session(browser, player):
    sign_in(browser, "robin", token=csrf(browser))
    token = browser.cookies["csrftoken"].value
    refused = browser.delete(URL)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert browser.post("/api/v1/auth/logout/").status_code == 403
    assert browser.get(URL).json()["authenticated"] is True
    assert browser.delete(URL, HTTP_X_CSRFTOKEN=token).status_code == 204
    assert browser.get(URL).json()["authenticated"] is False
    assert browser.get("/api/v1/recordings/").status_code == 401


def test_token_logout_path_also_ends_a_session(browser, player):
    sign_in(browser, "robin", token=csrf(browser))
    token = browser.cookies["csrftoken"].value
    assert browser.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert browser.get(URL).json()["authenticated"] is False


def test_token_clients_are_unaffected(player):
    api = client_for(player)
    assert api.post("/api/v1/auth/logout/").status_code == 204  # no CSRF for a token
