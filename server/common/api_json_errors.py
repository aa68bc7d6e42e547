"""Every error under ``/api/`` in the JSON contract, whatever raised it and whatever DEBUG says.

``ApiJsonErrorsMiddleware`` (first in ``MIDDLEWARE``):

* refuses a path or query string holding a NUL character (``%00``) with 400 ``malformed_request``
  before any view sees it (PostgreSQL text cannot hold NUL, and no route or filter accepts one),
  and a query string over ``MAX_QUERY_CHARS`` with 414 ``query_too_long`` (longer request lines,
  about 80 kB with httptools, are refused by uvicorn itself with a plain-text 400 before any
  application code runs);
* answers a form field over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's ``RequestDataTooBig``) with
  413 ``request_too_large`` and too many form fields with 400 ``malformed_request``;
* replaces any other error response under ``/api/`` that is not JSON (Django's 404 and 500 pages,
  debug pages included, its plain 400 for suspicious requests) with the contract's body and the
  same status; a 5xx body is always the generic ``server_error`` and carries no detail.

Responses below 400 and JSON error bodies (DRF's, ``server/common/errors.py``) pass unchanged.
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Callable

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse

from .errors import json_error

API_PREFIX = "/api/"
MAX_QUERY_CHARS = 8 * 1024  # the longest legitimate query (50 species labels) is about 2 kB
CODE_BY_STATUS = {400: "malformed_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                  405: "method_not_allowed", 406: "not_acceptable", 413: "request_too_large", 414: "query_too_long",
                  415: "unsupported_media_type", 429: "throttled"}
SERVER_ERROR = ("server_error", "Something went wrong on our side.")


def contract_error(status: int) -> HttpResponse:
    """The contract's body for a bare status (no detail from whatever produced it)."""
    if status >= 500:
        return json_error(*SERVER_ERROR, status)
    try:
        message = HTTPStatus(status).phrase + "."
    except ValueError:
        message = "The request was refused."
    return json_error(CODE_BY_STATUS.get(status, "error"), message, status)


def is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if "\x00" in request.path:
            return json_error("malformed_request", "The path contains a NUL character.", 400)
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return json_error("malformed_request", "The query string contains a NUL character.", 400)
        if len(query) > MAX_QUERY_CHARS:
            return json_error("query_too_long", f"The query string exceeds {MAX_QUERY_CHARS} characters.", 414)
        response = self.get_response(request)
        if response.status_code >= 400 and not is_json(response):
            return contract_error(response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exc, RequestDataTooBig):
            return json_error("request_too_large", "A form field exceeds the size limit.", 413)
        if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
            return json_error("malformed_request", "The request has too many form fields.", 400)
        return None
