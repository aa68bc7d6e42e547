"""HTTP client for the Dawn Chorus API: token auth, the error contract, offline detection.

Every failure becomes :class:`ApiError` with a stable ``code`` and a message a player can read:
the server's ``{"error": {"code", "message", "fields"}}`` for 4xx, ``server_error`` for 5xx,
``offline`` when the network is off or unreachable, ``auth_required`` when the token is revoked or
has expired (tokens expire after days without use; the player signs in again).

The token goes only in the ``Authorization`` header; the websocket carries it as a subprotocol
(:attr:`ApiClient.ws_subprotocols`), never in a URL.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

DEFAULT_TIMEOUT_S = 20.0
WS_PROTOCOL = "dawn.v1"
SPECIES_PAGE_SIZE = 50    # the server's largest species page
MAX_SPECIES_PAGES = 100


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 0, fields: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.fields = code, message, status, fields or {}

    @property
    def retryable(self) -> bool:
        """Worth trying again later: offline, timeouts, 5xx, throttling."""
        return self.status == 0 or self.status >= 500 or self.status == 429

    @property
    def auth_problem(self) -> bool:
        return self.status == 401


@dataclass
class Connectivity:
    """The app's idea of whether the network is usable; tests switch it off and on."""

    online: bool = True


@dataclass
class ApiClient:
    base_url: str
    token: str | None = None
    connectivity: Connectivity = field(default_factory=Connectivity)
    timeout_s: float = DEFAULT_TIMEOUT_S
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    @property
    def ws_url(self) -> str:
        base = self.base_url.rstrip("/")
        base = "ws" + base[4:] if base.startswith("http") else base
        return f"{base}/ws/v1/events/"

    @property
    def map_ws_url(self) -> str:
        """The live map socket (``/ws/map/``: public points of new observations in a subscribed box)."""
        return self.ws_url.replace("/ws/v1/events/", "/ws/map/")

    @property
    def ws_subprotocols(self) -> list[str]:
        """What the websocket offers: the protocol version, and the token when signed in."""
        return [WS_PROTOCOL] + ([f"token.{self.token}"] if self.token else [])

    def request(self, method: str, path: str, *, auth: bool = True, **kw) -> requests.Response:
        if not self.connectivity.online:
            raise ApiError("offline", "You are offline. Recordings wait in the queue and upload later.")
        headers = dict(kw.pop("headers", {}) or {})
        if auth and self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            response = self.session.request(method, self.url(path), headers=headers,
                                            timeout=kw.pop("timeout", self.timeout_s), **kw)
        except requests.Timeout:
            raise ApiError("offline", "The server did not answer in time; will try again.") from None
        except requests.RequestException:
            raise ApiError("offline", "The server cannot be reached; will try again.") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def get_json(self, path: str, **kw) -> Any:
        return parse_json(self.request("GET", path, **kw))

    def post_json(self, path: str, body: dict | None = None, **kw) -> Any:
        response = self.request("POST", path, json=body or {}, **kw)
        return parse_json(response) if response.content else {}

    # --- accounts -------------------------------------------------------------------------
    def register(self, username: str, password: str, email: str = "") -> dict:
        body = {"username": username, "password": password}
        if email:
            body["email"] = email
        data = self.post_json("/api/v1/auth/register/", body, auth=False)
        self.token = data["token"]
        return data

    def login(self, username: str, password: str) -> dict:
        data = self.post_json("/api/v1/auth/login/", {"username": username, "password": password}, auth=False)
        self.token = data["token"]
        return data

    def me(self) -> dict:
        return self.get_json("/api/v1/auth/me/")

    # --- recordings -----------------------------------------------------------------------
    def session_token(self) -> dict | None:
        """A recording session token (anti-cheat); None when this server does not issue them."""
        try:
            return self.post_json("/api/v1/recordings/session-token/")
        except ApiError as exc:
            if exc.status in (404, 405):
                return None
            raise

    def upload_recording(self, audio: bytes, filename: str, metadata: dict) -> dict:
        response = self.request("POST", "/api/v1/recordings/", files={"audio": (filename, audio)},
                                data={"metadata": json.dumps(metadata)}, timeout=max(self.timeout_s, 60.0))
        return parse_json(response)

    def recording(self, recording_id: str) -> dict:
        return self.get_json(f"/api/v1/recordings/{recording_id}/")

    def observations(self, bbox: tuple[float, float, float, float], **params) -> dict:
        """The observation list's GeoJSON page within ``bbox``; ``params`` are further filters by their API
        names (``grade="research"``; ``status`` is the deprecated old name of ``grade``)."""
        query = {"bbox": ",".join(f"{v:.6f}" for v in bbox), **params}
        return self.get_json("/api/v1/observations/", params=query)

    def species(self, max_pages: int = MAX_SPECIES_PAGES) -> list[dict]:
        """The whole catalogue, following ``next`` page by page (the server caps a page's size).

        Raises ``ApiError("species_pack_truncated")`` when a page is unreadable, the pages run out
        before the announced ``count``, or there are more than ``max_pages``: never a half list.
        """
        entries: list[dict] = []
        url: str | None = "/api/v1/species/"
        params: dict | None = {"page_size": SPECIES_PAGE_SIZE}
        count: int | None = None
        for _ in range(max_pages):
            data = self.get_json(url, params=params)
            if isinstance(data, list):  # an unpaginated server
                return data
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                raise ApiError("species_pack_truncated", "The species list arrived damaged; the previous "
                               "list stays in use.")
            if isinstance(data.get("count"), int):
                count = data["count"]
            entries.extend(data["results"])
            url, params = same_origin_path(data.get("next")), None
            if not url:
                break
        else:
            raise ApiError("species_pack_truncated", f"The species list has more than {max_pages} pages; "
                           "the previous list stays in use.")
        if count is not None and len(entries) != count:
            raise ApiError("species_pack_truncated", f"The species list arrived incomplete ({len(entries)} of "
                           f"{count}); the previous list stays in use.")
        return entries

    def download(self, path: str, max_bytes: int) -> requests.Response:
        """A streamed GET (model files); the caller reads at most ``max_bytes``."""
        return self.request("GET", path, stream=True, timeout=max(self.timeout_s, 120.0))


def same_origin_path(link: object) -> str | None:
    """The path and query of a pagination link, so the next page is asked of this client's server
    (with its token) whatever host the link names; None for no link."""
    if not isinstance(link, str) or not link:
        return None
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def parse_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ApiError("bad_response", "The server sent an answer the app cannot read.",
                       response.status_code) from None


def error_from_response(response: requests.Response) -> ApiError:
    status = response.status_code
    code, message, fields = "", "", {}
    try:
        body = response.json()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code, message = str(err.get("code") or ""), str(err.get("message") or "")
            fields = err.get("fields") if isinstance(err.get("fields"), dict) else {}
    except ValueError:
        pass
    if status == 401:
        return ApiError("auth_required", "Your sign-in is no longer valid. Please sign in again; "
                        "your recordings stay in the queue.", status, fields)
    if status >= 500:
        return ApiError("server_error", "The server has a problem right now; the app will try again later.",
                        status, fields)
    if status == 429:
        return ApiError("throttled", "Too many requests; the app will try again shortly.", status, fields)
    return ApiError(code or f"http_{status}", message or f"The server refused the request ({status}).",
                    status, fields)
