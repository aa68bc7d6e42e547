"""Reject oversized request bodies before Django reads them."""
from __future__ import annotations

from typing import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .errors import json_error

FORM_OVERHEAD_BYTES = 256 * 1024


def too_large_message() -> str:
    return f"The request body exceeds {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB."


def refusal(request: HttpRequest) -> HttpResponse | None:
    """413 ``request_too_large`` from the Content-Length header alone, or None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return json_error("malformed_request", "Invalid Content-Length header.", 400)
    if length > settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES:
        return json_error("request_too_large", too_large_message(), 413)
    return None


class UploadSizeLimitMiddleware:
    """Sync and async capable, so under ASGI it adds no thread hop to every request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        return refusal(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest):
        return refusal(request) or await self.get_response(request)
