"""Reject oversized request bodies before Django reads them."""
from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .errors import json_error

FORM_OVERHEAD_BYTES = 256 * 1024


class UploadSizeLimitMiddleware:
    """Answer 413 ``request_too_large`` from the Content-Length header alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error("malformed_request", "Invalid Content-Length header.", 400)
        if length > settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES:
            return json_error("request_too_large",
                              f"The request body exceeds {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
                              413)
        return self.get_response(request)
