"""The client's address, as every login defence sees it.

One rule for DRF's throttles and django-axes: ``X-Forwarded-For`` counts only through
``settings.TRUSTED_PROXIES`` (``DAWN_TRUSTED_PROXIES``) reverse proxies, each of which appends the
address it received from; with 0 the header is ignored and the peer address (``REMOTE_ADDR``) is
the client. A client that writes its own ``X-Forwarded-For`` therefore cannot choose the address
it is counted under.
"""
from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest) -> str:
    """The client address of ``request`` under DRF's ``NUM_PROXIES`` rule (which settings set
    from ``TRUSTED_PROXIES``); django-axes calls it through ``AXES_CLIENT_IP_CALLABLE``."""
    return BaseThrottle().get_ident(request)
