"""Recording session tokens: proof that an upload comes from the in-app recorder.

The app asks for a token when recording starts (``POST /recordings/session-token/``); the server
signs ``{user, nonce, issued}``. The upload's metadata carries it; ingest checks the signature,
the owner, that the recording started within ``RECORDING_TOKEN_TTL_S`` (default 6 h) of issue,
and that the upload comes within ``RECORDING_TOKEN_UPLOAD_TTL_S`` (default 7 days, for offline
queues); it stores the nonce on the recording (unique), so a token serves one recording only.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.core import signing
from rest_framework import status

from server.common.errors import ApiError

SALT = "dawn-chorus.recording-session"


CLOCK_SKEW = timedelta(minutes=5)


def ttl() -> timedelta:
    """How long after issue a recording may start with the token."""
    return timedelta(seconds=int(getattr(settings, "RECORDING_TOKEN_TTL_S", 6 * 3600)))


def upload_ttl() -> timedelta:
    """How long after issue the recording may be uploaded (offline queues)."""
    return timedelta(seconds=int(getattr(settings, "RECORDING_TOKEN_UPLOAD_TTL_S", 7 * 86400)))


def issue(user_id: int) -> tuple[str, datetime]:
    now = datetime.now(timezone.utc)
    token = signing.dumps({"u": user_id, "n": secrets.token_hex(12), "t": int(now.timestamp())}, salt=SALT,
                          compress=False)
    return token, now + ttl()


def expired() -> ApiError:
    return ApiError("recording_token_expired", "The recording session token has expired.",
                    status.HTTP_403_FORBIDDEN, fields={"session_token": "expired"})


def verify(token: object, user_id: int, recorded_at: datetime | None = None) -> str:
    """The token's nonce if it is a valid, unexpired token of ``user_id`` (for a recording that
    started at ``recorded_at``); else an ApiError."""
    if not token:
        raise ApiError("recording_token_missing", "Record with the app: metadata.session_token is required.",
                       fields={"session_token": "required"})
    if not isinstance(token, str) or len(token) > 300:
        raise ApiError("recording_token_invalid", "The recording session token is not valid.",
                       status.HTTP_403_FORBIDDEN, fields={"session_token": "invalid"})
    try:
        data = signing.loads(token, salt=SALT, max_age=upload_ttl())
    except signing.SignatureExpired:
        raise expired() from None
    except signing.BadSignature:
        raise ApiError("recording_token_invalid", "The recording session token is not valid.",
                       status.HTTP_403_FORBIDDEN, fields={"session_token": "invalid"}) from None
    if not isinstance(data, dict) or data.get("u") != user_id or not isinstance(data.get("n"), str) \
            or not isinstance(data.get("t"), int):
        raise ApiError("recording_token_invalid", "This recording session token belongs to someone else.",
                       status.HTTP_403_FORBIDDEN, fields={"session_token": "invalid"})
    issued = datetime.fromtimestamp(data["t"], timezone.utc)
    if recorded_at is not None and not issued - CLOCK_SKEW <= recorded_at <= issued + ttl():
        raise expired()
    return data["n"]


def reused() -> ApiError:
    return ApiError("recording_token_reused", "This recording session token was already used for another upload.",
                    status.HTTP_403_FORBIDDEN, fields={"session_token": "reused"})
