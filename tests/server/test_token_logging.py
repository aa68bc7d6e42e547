"""No API token in any log: a live uvicorn at its chattiest, a sign-in and websocket session, and
the redaction filter on its own."""
from __future__ import annotations

import logging
import sys

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from server.common.log_redaction import RedactTokens, install, redact

from .conftest import ws_subprotocols
from .test_workers import free_port, proc_env, start, wait_for_web  # noqa: F401 (fixture)

PASSWORD = "correct horse battery"


def session(base: str, ws_base: str) -> list[str]:
    """Register, fail and succeed at login, use the API and both websockets the way clients do,
    offer the token in a URL the old way, and log out. Returns every token the server issued."""
    tokens = []
    register = requests.post(f"{base}/api/v1/auth/register/", json={"username": "kestrel", "password": PASSWORD},
                             timeout=30)
    assert register.status_code == 201, register.text
    tokens.append(register.json()["token"])
    assert requests.post(f"{base}/api/v1/auth/login/", json={"username": "kestrel", "password": "nope"},
                         timeout=30).status_code == 400
    login = requests.post(f"{base}/api/v1/auth/login/", json={"username": "kestrel", "password": PASSWORD}, timeout=30)
    token = login.json()["token"]
    tokens.append(token)
    headers = {"Authorization": f"Token {token}"}
    assert requests.get(f"{base}/api/v1/auth/me/", headers=headers, timeout=30).json()["username"] == "kestrel"
    assert requests.get(f"{base}/api/v1/auth/me/", headers={"Authorization": f"Token {token}x"},
                        timeout=30).status_code == 401
    for path in ("/ws/v1/events/", "/ws/map/"):
        with ws_connect(ws_base + path, origin=base, subprotocols=ws_subprotocols(token), open_timeout=30) as ws:
            assert ws.subprotocol == "dawn.v1"
            assert '"authenticated": true' in ws.recv(timeout=30)
    with ws_connect(f"{ws_base}/ws/v1/events/?token={token}", origin=base, open_timeout=30) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd.code == 4400
    with ws_connect(ws_base + "/ws/v1/events/", origin=base, subprotocols=ws_subprotocols(token + "x"),
                    open_timeout=30) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd.code == 4401
    assert requests.post(f"{base}/api/v1/auth/logout/", headers=headers, timeout=30).status_code == 204
    return tokens


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_live_server_logs_no_token(proc_env):
    """uvicorn with its access log and trace-level logging (the ASGI messages, headers included),
    Django at DEBUG: the whole log holds neither a token nor its secret part."""
    port = free_port()
    start(proc_env, "web", [sys.executable, "-m", "uvicorn", "server.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--log-level", "trace", "--access-log", "--lifespan", "off"],
          DAWN_LOG_LEVEL="DEBUG", DJANGO_DEBUG="1")
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"

    wait_for_web(base, 90, proc_env)
    tokens = session(base, ws_base)
    log = (proc_env[2] / "web.log").read_text(errors="replace")
    assert '"WebSocket /ws/v1/events/?token=dawn_[redacted]"' in log  # the refused old-style URL, logged redacted
    assert "'token.dawn_[redacted]'" in log  # trace level logged the offered subprotocols, redacted
    for token in tokens:
        secret = token.removeprefix("dawn_")
        assert token not in log and secret not in log and secret[:20] not in log


def record(msg: str, *args, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


TOKEN = "dawn_" + "0123456789abcdef" * 4


@pytest.mark.parametrize("text", [
    f"GET /ws/v1/events/?token={TOKEN}", f"Authorization: Token {TOKEN}", f"'subprotocols': ['dawn.v1', 'token.{TOKEN}']",
    f'{{"token": "{TOKEN}"}}', f"token.{TOKEN[5:]}", f"?token={TOKEN[5:45]}&x=1", f"Token {TOKEN[5:]}", TOKEN,
])
def test_redact_removes_token_shapes(text):
    clean = redact(text)
    assert TOKEN[5:15] not in clean and "[redacted]" in clean and redact(clean) == clean


@pytest.mark.parametrize("text", ["WebSocket /ws/map/ [accepted]", "Token authentication failed",
                                  "audio/ab/cd/" + "e" * 64 + ".ogg", "token expired for user 7"])
def test_redact_leaves_other_text_alone(text):
    assert redact(text) == text


def test_the_filter_redacts_arguments_messages_and_tracebacks():
    uvicorn_access = record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/x?token={TOKEN}", "1.1", 200)
    assert RedactTokens().filter(uvicorn_access)
    assert isinstance(uvicorn_access.args, tuple) and len(uvicorn_access.args) == 5  # its formatter reads args
    assert TOKEN not in uvicorn_access.getMessage()
    scope = record("scope %s", {"headers": [(b"authorization", f"Token {TOKEN}".encode())]})
    RedactTokens().filter(scope)
    assert TOKEN[5:] not in scope.getMessage()
    try:
        raise ValueError(f"bad key {TOKEN}")
    except ValueError as exc:
        failed = record("failed", exc=exc)
    RedactTokens().filter(failed)
    assert TOKEN not in logging.Formatter().format(failed)


def test_install_adds_the_filter_once_to_every_handler():
    logger = logging.getLogger("tests.redaction")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        install([logger])
        install(["tests.redaction"])
        assert sum(isinstance(f, RedactTokens) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_celery_handlers_get_the_filter():
    from server.celery import redact_tokens_in_worker_logs

    logger = logging.getLogger("tests.celery-redaction")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        redact_tokens_in_worker_logs(logger=logger)
        assert any(isinstance(f, RedactTokens) for f in handler.filters)
    finally:
        logger.removeHandler(handler)
