"""HTTP for the ASGI server: Django's WSGI handler run on a small pool of threads.

The ASGI server (uvicorn) and Channels serve websockets; plain HTTP requests come here, instead of
to Django's own ASGI handler (an async middleware chain in which every ``MiddlewareMixin`` hops to a
thread and back, a new thread per request, futures and tasks), since every view of this project is
synchronous (figures: ``server/platform/README.md``). Here a request costs one hand-over: the
body is read on the event loop (spooled to disk past ``spool_bytes``, refused past ``max_body``),
then one pool thread runs the whole WSGI call, iterates the response and closes it, so
``request_started``/``request_finished`` and the request's database connection stay on that thread.
Responses go back through the loop with backpressure; a single-chunk response is one hand-over.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from server.common.errors import error_body

log = logging.getLogger(__name__)
FILE_BLOCK = 64 * 1024
JSON = [(b"content-type", b"application/json")]


class FileWrapper:
    """``wsgi.file_wrapper``: stream a file in large blocks (Django's FileResponse uses it)."""

    def __init__(self, filelike: IO[bytes], block_size: int = FILE_BLOCK) -> None:
        self.filelike = filelike
        self.block_size = max(block_size, FILE_BLOCK)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.filelike.read(self.block_size):
            yield chunk

    def close(self) -> None:
        self.filelike.close()


def build_environ(scope: dict, body: IO[bytes], body_size: int) -> dict[str, Any]:
    """PEP 3333 environ for an ASGI HTTP scope and its (already read) body. Header names with
    underscores are dropped (as gunicorn and nginx do), so ``X_Forwarded_For`` cannot pose as
    ``X-Forwarded-For``; a chunked body without Content-Length gets its real length."""
    script_name = scope.get("root_path", "").encode("utf8").decode("latin1")
    path_info = scope["path"].encode("utf8").decode("latin1")
    if script_name and path_info.startswith(script_name):
        path_info = path_info[len(script_name):]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"], "SCRIPT_NAME": script_name, "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1] or 0),
        "REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"), "wsgi.input": body,
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").lower()
        if "_" in name:
            continue
        key = {"content-length": "CONTENT_LENGTH", "content-type": "CONTENT_TYPE"}.get(
            name, "HTTP_" + name.upper().replace("-", "_"))
        value = raw_value.decode("latin1")
        environ[key] = f"{environ[key]},{value}" if key in environ and key.startswith("HTTP_") else value
    environ.setdefault("CONTENT_LENGTH", str(body_size))
    return environ


class WsgiBridge:
    """An ASGI HTTP application that runs ``wsgi_app`` (Django's WSGIHandler) on ``threads`` threads."""

    def __init__(self, wsgi_app: Callable, *, threads: int, max_body: int, spool_bytes: int,
                 too_large: tuple[str, str] = ("request_too_large", "The request body is too large.")) -> None:
        self.app = wsgi_app
        self.max_body = max_body
        self.spool_bytes = spool_bytes
        self.too_large = too_large
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            raise ValueError(f"WsgiBridge serves HTTP only, not {scope['type']}")
        read = await self._read_body(scope, receive, send)
        if read is None:
            return
        body, size = read
        loop = asyncio.get_running_loop()
        with body:
            await loop.run_in_executor(self.executor, self._run, build_environ(scope, body, size), send, loop)

    async def _read_body(self, scope: dict, receive: Callable, send: Callable) -> tuple[IO[bytes], int] | None:
        """The request body and its size, or None when the client left or it was refused (413 sent)."""
        declared = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(send)
            return None
        body: IO[bytes] = SpooledTemporaryFile(max_size=self.spool_bytes)
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                body.close()
                await self._refuse(send)
                return None
            body.write(chunk)
            if not message.get("more_body", False):
                body.seek(0)
                return body, size

    async def _refuse(self, send: Callable) -> None:
        payload = error_body(*self.too_large)
        await send({"type": "http.response.start", "status": 413, "headers": JSON})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    def _run(self, environ: dict, send: Callable, loop: asyncio.AbstractEventLoop) -> None:
        """In a pool thread: the WSGI call, the response's chunks and its close()."""

        def deliver(*messages: dict) -> None:
            async def go() -> None:
                for message in messages:
                    await send(message)
            asyncio.run_coroutine_threadsafe(go(), loop).result()

        head: dict = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> Callable:
            if exc_info and head.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            head["start"] = {"type": "http.response.start", "status": int(status.split(" ", 1)[0]),
                             "headers": [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]}
            return lambda data: None  # the legacy write() callable; Django never uses it

        result: Iterable[bytes] = self.app(environ, start_response)
        try:
            chunks = iter(result)
            pending = next(chunks, None)
            while pending is not None:
                following = next(chunks, None)
                if pending or following is None:  # skip empty chunks, but always send the last one
                    body = {"type": "http.response.body", "body": pending, "more_body": following is not None}
                    deliver(*([head["start"]] if not head.get("sent") else []), body)
                    head["sent"] = True
                pending = following
            if not head.get("sent"):
                deliver(head["start"], {"type": "http.response.body", "body": b""})
        except Exception:
            log.exception("error while sending %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            if not head.get("sent"):
                deliver({"type": "http.response.start", "status": 500, "headers": JSON},
                        {"type": "http.response.body", "body": b'{"error": {"code": "server_error", '
                                                           b'"message": "Something went wrong on our side.", '
                                                           b'"fields": {}}}'})
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
