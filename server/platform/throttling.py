"""The API's one rate-limiting mechanism: DRF's scoped throttles.

A view (or a viewset action) names its ``throttle_scope``; ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
in settings holds each scope's rate (``N/s``, ``N/min``, ``N/hour``, ``N/day``). Signed-in callers are
counted per user, anonymous ones per client address (``DAWN_TRUSTED_PROXIES``). Over the rate, DRF
raises ``Throttled``, which the error handler answers ``429`` with the code ``throttled`` and a
``Retry-After`` header (seconds).

:class:`ScopedRateThrottle` is the project's default throttle class (``DEFAULT_THROTTLE_CLASSES``). It
is DRF's, with two rules:

* only requests that change something (not ``GET``, ``HEAD``, ``OPTIONS``) are counted, so a view whose
  writes are limited can still be read freely;
* when the cache that holds the counters (Redis) cannot be reached the request is let through and the
  failure logged: recording and playing keep working while Redis is down.
"""
from __future__ import annotations

import logging

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

log = logging.getLogger(__name__)


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's ``ScopedRateThrottle`` for unsafe methods, open when its cache is unreachable."""

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        try:
            return super().allow_request(request, view)
        except Exception:  # the counters' cache is down: limit nothing rather than fail the request
            log.warning("throttle scope %r not checked: its cache is unreachable", getattr(self, "scope", None),
                        exc_info=True)
            return True
