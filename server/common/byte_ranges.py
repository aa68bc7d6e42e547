"""Byte-range answers for audio (RFC 9110 §14): what lets a browser's ``<audio>`` know a duration and seek.

Every view that serves audio answers through :func:`file_response`. The contract:

* every answer carries ``Accept-Ranges: bytes``;
* ``Range: bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` (one range) answers ``206 Partial Content`` with
  ``Content-Range: bytes a-b/size`` and exactly those bytes; an end past the file is cut to the file;
* a syntactically valid range that starts at or past the end of the file (or ``bytes=-0``, or any range
  of an empty file) answers ``416 range_not_satisfiable`` with ``Content-Range: bytes */size``, in the
  API's error contract;
* a malformed ``Range`` header, another unit, or several ranges are ignored, as RFC 9110 §14.2 allows:
  the answer is ``200`` with the whole file (the client asked for something this server does not
  offer, and the whole body is always a correct answer);
* ``If-Range`` lets the range through only when it equals the answer's strong ``ETag``; otherwise
  (or without an ETag) the whole file is sent, so a client never joins parts of two versions.

Django's ``FileResponse`` serves whole files only; the maintained range-serving packages work on
paths, not on Django's storage API (local disk or S3), so this module reads through any seekable
binary file object the storage API gives.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from rest_framework import status

from .errors import ApiError

RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
CHUNK_BYTES = 64 * 1024
_ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII)


class Unsatisfiable(ValueError):
    """A well-formed range that selects no byte of the file."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions one ``Range`` header asks for in a file of ``size``
    bytes; None when the header is absent, malformed, multi-range or of another unit (serve it all).

    Raises :class:`Unsatisfiable` for a well-formed range that selects nothing."""
    if not header:
        return None
    m = _ONE_RANGE.fullmatch(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid per RFC 9110 §14.1.1: ignored
    if start >= size:
        raise Unsatisfiable(header)
    return start, min(end, size - 1)


def _size(fh: IO[bytes]) -> int:
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(0)
    return size


def _slice(fh: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


def file_response(request: HttpRequest, fh: IO[bytes], content_type: str, *, filename: str | None = None,
                  etag: str | None = None) -> HttpResponse:
    """``fh`` (seekable, opened for binary reading; closed when the answer is done) as a ``200`` or a
    ``206`` answer to ``request``'s ``Range``; raises ``ApiError(416, range_not_satisfiable)`` (after closing
    ``fh``) as the module docstring says. ``filename`` names the download; ``etag`` is sent as ``ETag``."""
    header = request.META.get("HTTP_RANGE")
    if_range = request.META.get("HTTP_IF_RANGE")
    if if_range is not None and (etag is None or if_range.strip() != etag):
        header = None
    size = _size(fh)
    try:
        wanted = parse_range(header, size)
    except Unsatisfiable:
        fh.close()
        raise ApiError(RANGE_NOT_SATISFIABLE, f"The range {header!r} selects no byte of a {size}-byte file.",
                       status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE, fields={"Range": header},
                       headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}) from None
    if wanted is None:
        response: HttpResponse = FileResponse(fh, content_type=content_type, filename=filename or "")
    else:
        first, last = wanted
        response = StreamingHttpResponse(_slice(fh, first, last - first + 1),
                                         status=status.HTTP_206_PARTIAL_CONTENT, content_type=content_type)
        response["Content-Length"] = str(last - first + 1)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        if filename:
            response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Accept-Ranges"] = "bytes"
    if etag is not None:
        response["ETag"] = etag
    return response
