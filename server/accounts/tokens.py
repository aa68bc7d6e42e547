"""API tokens (django-rest-knox): issued at login, hashed at rest, expiring, revoked at logout.

The database keeps a token's SHA-512 digest and its first 15 characters (the ``dawn_`` prefix and
10 hex digits, an index for the lookup), never the token itself, so a token is shown exactly once:
in the login or register answer. A token expires ``REST_KNOX["TOKEN_TTL"]`` after its last use
(``DAWN_TOKEN_TTL_DAYS``) and at the latest ``AUTO_REFRESH_MAX_TTL`` after its issue
(``DAWN_TOKEN_MAX_TTL_DAYS``); an expired one is refused with ``401 authentication_failed``.
"""
from __future__ import annotations

from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken

from .models import User

# a user keeps at most this many live tokens (phones, browsers); a new login drops the oldest
MAX_TOKENS_PER_USER = 10


def issue_token(user: User) -> tuple[str, datetime | None]:
    """A new token for ``user`` and its expiry; older tokens beyond the per-user cap are revoked."""
    instance, token = AuthToken.objects.create(user=user)
    stale = AuthToken.objects.filter(user=user).order_by("-created").values_list("digest", flat=True)[MAX_TOKENS_PER_USER:]
    AuthToken.objects.filter(digest__in=list(stale)).delete()
    return token, instance.expiry


def revoke_token(token: AuthToken) -> None:
    """Revoke one token (the one a logout came with)."""
    token.delete()


def revoke_all_tokens(user: User) -> int:
    """Revoke every token of ``user``; returns how many there were."""
    return AuthToken.objects.filter(user=user).delete()[0]


def purge_expired() -> dict[str, int]:
    """Delete expired tokens (knox deletes them only when they are presented) and recorded login
    failures older than the lockout cool-off (they no longer count, and hold addresses and user
    agents). Returns how many of each were deleted."""
    now = timezone.now()
    tokens = AuthToken.objects.filter(expiry__lt=now).delete()[0]
    failures = AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()[0]
    return {"tokens": tokens, "login_failures": failures}
