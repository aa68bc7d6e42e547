"""API token authentication: django-rest-knox's class, with undecodable tokens refused cleanly.

Contract: ``Authorization: Token <token>``; a wrong, expired or altered token, or one that is not
UTF-8, answers ``401 authentication_failed`` (knox 5.1 lets a non-UTF-8 token escape as a
``UnicodeDecodeError``, a 500).
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of :class:`TokenAuthentication` (knox's, for this subclass)."""

    target_class = "server.accounts.authentication.TokenAuthentication"
