"""The HTTP side of the ASGI application (server/platform/wsgi_bridge.py), driven as an ASGI server would."""
from __future__ import annotations

import asyncio
import io
import threading

import pytest

from server.platform.wsgi_bridge import WsgiBridge, build_environ


def http_scope(method: str = "GET", path: str = "/", headers: list | None = None, query: bytes = b"") -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
            "headers": headers or [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000)}


def call(app, scope: dict, chunks: list[bytes]) -> tuple[int, dict, bytes, list[dict]]:
    """Run one request through ``app``; returns (status, headers, body, every message sent)."""
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()   # no disconnect while the response is produced

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, sent


def echo_app(environ, start_response):
    """A WSGI app answering with what it was given."""
    data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Thread", threading.current_thread().name)])
    return [f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']} {len(data)}|".encode(),
            environ.get("HTTP_X_FORWARDED_FOR", "-").encode()]


def bridge(app=echo_app, **kw) -> WsgiBridge:
    return WsgiBridge(app, threads=2, max_body=kw.pop("max_body", 1000), spool_bytes=100, **kw)


def test_environ_follows_pep_3333_and_drops_underscored_headers():
    scope = http_scope("POST", "/a/ü", [(b"host", b"x"), (b"content-type", b"text/plain"), (b"x-forwarded-for", b"1.2.3.4"),
                                        (b"x_forwarded_for", b"6.6.6.6"), (b"accept", b"a"), (b"accept", b"b")],
                       query=b"q=1")
    env = build_environ(scope, io.BytesIO(b"abc"), 3)
    assert env["PATH_INFO"] == "/a/ü".encode().decode("latin1") and env["QUERY_STRING"] == "q=1"
    assert env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "3"   # chunked: the real length
    assert env["HTTP_X_FORWARDED_FOR"] == "1.2.3.4" and env["HTTP_ACCEPT"] == "a,b"
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == "8000" and env["REMOTE_ADDR"] == "127.0.0.1"


def test_a_chunked_body_reaches_the_app_whole_on_a_pool_thread():
    status, headers, body, sent = call(bridge(), http_scope("POST", "/up", query=b"x=2"), [b"ab", b"cd", b"e"])
    assert status == 200 and body == b"POST /up?x=2 5|-"
    assert headers["x-thread"].startswith("http")
    # one response start and one body message per chunk, the last one final
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body", "http.response.body"]


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_refused_with_413_before_the_app_runs(declared):
    ran = []

    def app(environ, start_response):
        ran.append(True)
        return echo_app(environ, start_response)

    headers = [(b"host", b"x")] + ([(b"content-length", b"5000")] if declared else [])
    status, _, body, _ = call(bridge(app, too_large=("request_too_large", "too big")), http_scope("POST", "/", headers),
                              [b"x" * 600, b"x" * 600])
    assert status == 413 and b'"request_too_large"' in body and not ran


def test_a_failing_app_answers_500_json_and_is_still_closed():
    closed = []

    class Body:
        def __iter__(self):
            raise RuntimeError("boom")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    status, _, body, _ = call(bridge(app), http_scope(), [b""])
    assert status == 500 and b'"server_error"' in body and closed == [True]


def test_files_stream_in_large_blocks_and_the_response_is_closed(tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 1024)   # 256 KiB
    closed = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        wrapper = environ["wsgi.file_wrapper"](blob.open("rb"), 4096)
        original_close = wrapper.close
        wrapper.close = lambda: (closed.append(True), original_close())
        return wrapper

    status, _, body, sent = call(bridge(app), http_scope(), [b""])
    assert status == 200 and body == blob.read_bytes() and closed == [True]
    chunks = [m for m in sent if m["type"] == "http.response.body" and m["body"]]
    assert len(chunks) == 4   # 64 KiB blocks, not Django's 4 KiB


def test_the_real_application_serves_health_and_refuses_a_huge_chunked_upload(db, settings, media_root):
    """Through server.asgi.application: a chunked upload over the limit never reaches Django."""
    from server.asgi import application
    from server.recordings.models import Recording

    status, _, body, _ = call(application, http_scope("GET", "/healthz"), [b""])
    assert status == 200 and b'"ok"' in body
    chunk = b"\0" * (4 * 1024 * 1024)
    chunks = [chunk] * (settings.MAX_UPLOAD_BYTES // len(chunk) + 2)
    status, _, body, _ = call(application, http_scope("POST", "/api/v1/recordings/", [
        (b"host", b"127.0.0.1"), (b"content-type", b"multipart/form-data; boundary=x")]), chunks)
    assert status == 413 and b'"request_too_large"' in body
    assert Recording.objects.count() == 0 and not (media_root.exists() and any(media_root.rglob("*")))
