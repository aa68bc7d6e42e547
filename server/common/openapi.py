"""OpenAPI postprocessing: the error contract as a component, documented on every operation's 4xx.

``document_errors`` (a drf-spectacular postprocessing hook, ``SPECTACULAR_SETTINGS``) adds the
``Error`` schema and gives every operation the 4xx responses the API can answer it with:

* 400 (a malformed request or query: ``malformed_request``, ``invalid_filter``, ...), 401 (a bad or
  expired token), 403 (a role or level the caller lacks) and 414 (``query_too_long``) on every
  operation;
* 404 where the path names a resource (a path parameter) or the list is paginated (a ``page`` past
  the end);
* 409 (a conflict with the current state: ``idempotency_key_reused``, ``already_answered``,
  ``team_full``, ...), 413 (``request_too_large``), 415 (``unsupported_media_type``) and 429
  (``throttled``, with ``Retry-After``) where a request body is sent.

Responses a view documents itself keep their descriptions; every 4xx gets the ``Error`` body.
"""
from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": 'The error contract: {"error": {"code", "message", "fields"}}. ``code`` is stable.',
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"],
        "properties": {"code": {"type": "string", "example": "invalid_filter"},
                       "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": True}},
    }},
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WRITE_METHODS = ("put", "post", "patch")
DESCRIPTIONS = {
    "400": "Bad request: malformed body or query, or a value out of range (see the error code).",
    "401": "Not authenticated, or the token is invalid or expired.",
    "403": "The caller's role or level does not allow this.",
    "404": "No such resource.",
    "409": "The request conflicts with the current state (see the error code).",
    "413": "The request body is too large (request_too_large).",
    "414": "The query string is too long (query_too_long).",
    "415": "The body's content type is not one this operation reads (unsupported_media_type).",
    "429": "Too many requests (throttled); Retry-After gives the seconds to wait.",
}


def statuses_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The 4xx statuses every operation of this shape can answer."""
    out = ["400", "401", "403", "414"]
    if "{" in path or any(p.get("name") == "page" for p in operation.get("parameters", [])):
        out.append("404")
    if method in WRITE_METHODS:
        out += ["409", "413", "415", "429"]
    return out


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in statuses_for(path, method, operation):
                responses.setdefault(status, {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.startswith("4"):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
                    if not response.get("description"):
                        response["description"] = DESCRIPTIONS.get(status, "Client error.")
    return result
