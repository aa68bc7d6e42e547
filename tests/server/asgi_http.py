"""One HTTP request straight into an ASGI application, without a server (for tests)."""
from __future__ import annotations


class PathRecorder:
    """An ASGI fallback that records the paths it was handed and answers 418 (the place Django takes in
    a router under test)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def asgi_get(app, path: str, query: str = "", headers: list[tuple[bytes, bytes]] = (),
                   method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    """``(status, {lower-cased header: value}, body)`` of one bodiless request to ``app``."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.lower(): v for k, v in start["headers"]}, body
