"""The answer to a locked-out login (django-axes ``AXES_LOCKOUT_CALLABLE``).

Under ``/api/`` the error contract, ``429 account_locked`` with ``Retry-After``; elsewhere (the
Django admin's login form) a plain-text 429 with the same message. Either way the login was
refused before the password was checked.
"""
from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from server.common.errors import json_error

ACCOUNT_LOCKED = "account_locked"


def lockout_message() -> str:
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return (f"Too many failed sign-ins for this account or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """A 429 naming the cool-off; JSON ``account_locked`` for API paths."""
    if request.path.startswith("/api/"):
        response = json_error(ACCOUNT_LOCKED, lockout_message(), 429)
    else:
        response = HttpResponse(lockout_message(), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
