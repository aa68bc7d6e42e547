"""Websocket authentication: the API token travels in the ``Sec-WebSocket-Protocol`` header.

The client offers two subprotocols, ``dawn.v1`` and ``token.<api token>``; the server accepts
``dawn.v1`` (it never echoes the token). The token is checked exactly as the HTTP API checks it
(django-rest-knox: digest comparison, expiry, auto-refresh), so a token with characters added or
removed is refused. Without a token subprotocol the socket is anonymous, or signed in through
the session cookie (a browser with a Django session).

Refusals happen after the handshake, so that the client sees a stable close code:

- ``4401``: the offered token is unknown, expired or its user inactive;
- ``4400``: the URL carries ``?token=`` (tokens never travel in URLs, which end up in logs).

The refused socket never reaches a consumer, and no anonymous fallback is made for it.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

PROTOCOL = "dawn.v1"
TOKEN_PROTOCOL_PREFIX = "token."
CLOSE_TOKEN_IN_URL = 4400
CLOSE_AUTHENTICATION_FAILED = 4401


def offered_token(subprotocols: list[str]) -> str | None:
    """The token from a ``token.<token>`` subprotocol, or None when none is offered."""
    for protocol in subprotocols:
        if protocol.startswith(TOKEN_PROTOCOL_PREFIX):
            return protocol[len(TOKEN_PROTOCOL_PREFIX):]
    return None


def accepted_subprotocol(scope: dict) -> str | None:
    """What the server accepts: ``dawn.v1`` when the client offered it, else nothing."""
    return PROTOCOL if PROTOCOL in scope.get("subprotocols", ()) else None


def token_in_url(scope: dict) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"), keep_blank_values=True)
    return "token" in query


@database_sync_to_async
def user_for_token(token: str):
    """The active user owning API token ``token`` exactly, or None."""
    from rest_framework.exceptions import AuthenticationFailed

    from server.accounts.authentication import TokenAuthentication

    try:
        user, _ = TokenAuthentication().authenticate_credentials(token.encode())
    except (AuthenticationFailed, UnicodeError):
        return None
    return user


async def refuse(scope: dict, receive, send, code: int) -> None:
    """Complete the handshake (with ``dawn.v1`` when offered, as browsers require) and close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "subprotocol": accepted_subprotocol(scope)})
    await send({"type": "websocket.close", "code": code})


def accepting_with_protocol(scope: dict, send):
    """``send`` that adds ``dawn.v1`` to the consumer's accept when the client offered it (the
    consumers accept without choosing a subprotocol)."""
    protocol = accepted_subprotocol(scope)
    if protocol is None:
        return send

    async def wrapped(message):
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = dict(message, subprotocol=protocol)
        await send(message)

    return wrapped


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from a ``token.<token>`` subprotocol; refuses bad tokens and tokens in URLs."""

    async def __call__(self, scope, receive, send):
        if token_in_url(scope):
            return await refuse(scope, receive, send, CLOSE_TOKEN_IN_URL)
        token = offered_token(scope.get("subprotocols", []))
        if token is not None:
            user = await user_for_token(token)
            if user is None:
                return await refuse(scope, receive, send, CLOSE_AUTHENTICATION_FAILED)
            scope = dict(scope, user=user)
        return await super().__call__(scope, receive, accepting_with_protocol(scope, send))


def TokenAuthMiddlewareStack(inner):
    """Session authentication first, then the token (which wins when offered)."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
