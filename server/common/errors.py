"""The API's error contract: ``{"error": {"code", "message", "fields"}}`` with a 4xx status.

Codes are stable strings that clients may switch on; messages are for people.
"""
from __future__ import annotations

from typing import Any

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """An error with a stable code, raised from services and views."""

    def __init__(self, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST,
                 fields: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}  # sent with the error (e.g. Content-Range on a 416)


_DRF_CODES: dict[type, str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_request",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested validation detail as ``{"a.b": "first message"}``."""
    if isinstance(detail, dict):
        out: dict[str, str] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and prefix:
                name = prefix
            out.update(flatten_fields(value, name))
        return out
    if isinstance(detail, list):
        if detail and all(not isinstance(d, (dict, list)) for d in detail):
            return {prefix or "non_field_errors": str(detail[0])}
        out = {}
        for i, value in enumerate(detail):
            out.update(flatten_fields(value, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix or "non_field_errors": str(detail)}


def first_code(detail: Any) -> str | None:
    """The code of the first ErrorDetail in a nested DRF detail."""
    if isinstance(detail, dict):
        for value in detail.values():
            code = first_code(value)
            if code:
                return code
    elif isinstance(detail, list):
        for value in detail:
            code = first_code(value)
            if code:
                return code
    elif isinstance(detail, exceptions.ErrorDetail):
        return detail.code
    return None


GENERIC_VALIDATION_CODES = {"invalid", "required", "null", "blank", "max_length", "min_length",
                            "max_value", "min_value", "invalid_choice", "not_a_list", "does_not_exist",
                            "incorrect_type", "parse_error", "date", "datetime", "max_digits",
                            "max_decimal_places", "max_whole_digits", "empty", "not_a_dict",
                            "unique", "make_aware", "overflow", "max_string_length"}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler producing the project's error body."""
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, exc.message, exc.fields), status=exc.status_code,
                        headers=exc.headers or None)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        code = first_code(exc.detail) or "invalid"
        if code in GENERIC_VALIDATION_CODES:
            code = "invalid"
        message = next(iter(fields.values()), "Invalid input.")
        if fields and next(iter(fields)) != "non_field_errors":
            message = f"{next(iter(fields))}: {message}"
        return Response(error_body(code, message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), "error")
    detail = getattr(exc, "detail", str(exc))
    response.data = error_body(code, str(detail))
    return response


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    """The same body for plain Django code paths (middleware, 404/500 handlers)."""
    return JsonResponse(error_body(code, message), status=status_code)
