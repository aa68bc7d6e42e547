"""The event-loop router (server/platform/loop_routes.py) with a route of its own: what it guarantees a route
whatever the route answers (the public tile route's byte-for-byte tests are tests/server/maps/test_public_tiles.py)."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest

from server.common.errors import ApiError
from server.platform.loop_routes import LoopClients, LoopRouter, middleware_headers
from tests.server.asgi_http import PathRecorder, asgi_get

pytestmark = pytest.mark.django_db(transaction=True)


class EchoRoute:
    """Answers ``/echo/<word>`` with the database's answer to ``SELECT <word length>``; refuses ``/echo/``
    as a view would, breaks on ``/echo/parse-error`` while matching and on ``/echo/boom`` while answering."""

    extra_headers = [("Allow", "GET")]

    def __init__(self) -> None:
        self.opened = self.closed = 0

    def match(self, scope: dict):
        path = scope["path"]
        if not path.startswith("/echo/"):
            return None
        word = path.removeprefix("/echo/")
        if not word:
            raise ApiError("invalid_word", "Say a word.", fields={"word": "empty"})
        if word == "parse-error":
            raise ValueError("a request the route cannot parse")
        return word

    async def answer(self, scope: dict, word: str, clients: LoopClients):
        if word == "boom":
            raise RuntimeError("the route broke")
        (n,) = await clients.fetchone("SELECT %s::int", [len(word)])
        return 200, {"Content-Type": "text/plain"}, f"{word}:{n}".encode()

    async def open(self, clients: LoopClients) -> None:
        self.opened += 1

    async def close(self) -> None:
        self.closed += 1


def run(router: LoopRouter, *paths: str, method: str = "GET") -> list[tuple]:
    async def go():
        try:
            return [await asgi_get(router, path, method=method) for path in paths]
        finally:
            await router.aclose()
    return asyncio.run(go())


@pytest.fixture
def route():
    return EchoRoute()


@pytest.fixture
def router(route):
    return LoopRouter(PathRecorder(), [route], pool_size=1, name="test-loop-routes")


def test_a_matched_request_is_answered_on_the_loop_with_the_middleware_headers(router, route):
    [(status, headers, body)] = run(router, "/echo/wren")
    assert (status, body) == (200, b"wren:4")
    assert headers[b"content-type"] == b"text/plain" and headers[b"allow"] == b"GET"
    assert headers[b"content-length"] == b"6"
    for name, value in middleware_headers():
        assert headers[name.lower().encode()] == value.encode()
    assert router.fallback.paths == []
    assert (route.opened, route.closed) == (1, 1)


def test_what_no_route_matches_goes_to_django_untouched(router, route):
    answers = run(router, "/api/v1/other/", "/echo/parse-error")
    assert [status for status, _, _ in answers] == [418, 418]
    assert router.fallback.paths == ["/api/v1/other/", "/echo/parse-error"]
    assert route.opened == 0  # no pool or Redis client opened for requests the router did not answer


def test_a_refusal_while_matching_is_the_api_error_contract(router):
    [(status, headers, body)] = run(router, "/echo/")
    assert status == 400 and headers[b"content-type"] == b"application/json" and headers[b"allow"] == b"GET"
    assert json.loads(body) == {"error": {"code": "invalid_word", "message": "Say a word.", "fields": {"word": "empty"}}}


def test_a_failing_answer_is_a_logged_500(router, caplog):
    with caplog.at_level(logging.ERROR, logger="server.platform.loop_routes"):
        [(status, _, body)] = run(router, "/echo/boom")
    assert status == 500 and json.loads(body)["error"]["code"] == "server_error"
    assert "/echo/boom" in caplog.text and "the route broke" in caplog.text
    assert router.fallback.paths == []


def test_the_clients_are_opened_once_per_event_loop(route):
    router = LoopRouter(PathRecorder(), [route], pool_size=1, name="test-loop-routes")
    run(router, "/echo/a", "/echo/bb")
    run(router, "/echo/ccc")  # a new loop: new clients, the route opened again
    assert (route.opened, route.closed) == (2, 2)
