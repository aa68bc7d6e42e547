"""Public clips: the only audio of an observation that anyone besides its owner, researchers and
admins may hear.

A clip is Ogg/Opus made from PCM (``ml.runtime.reencode.public_clip``: the marked segment, speech
muted, no container tags), kept in the file store (:mod:`server.platform.storage`) as
``public/clips/<t0t1>/<token>.ogg`` and named by ``Observation.public_clip_token``, a random
``secrets.token_urlsafe`` value that says nothing about the observation. Invariants:

* a clip exists only while the observation's licence allows publishing (:func:`licence_allows`);
* the token is the only name of the file, and it is reached only through :func:`clip_url`;
* :func:`clip_name` (and :func:`open_clip`, :func:`read_clip`) return nothing for an observation whose
  licence no longer allows publishing, so every feature that plays audio skips it even if a file is
  left behind;
* the store never hands out a URL for a clip: clients fetch it from the clip view by its token.
"""
from __future__ import annotations

import re
import secrets

from django.core.files import File
from django.db import transaction
from django.urls import reverse

from server.platform import storage as files

from .models import Observation, Source
from .record_terms import DEFAULT_LICENSE_URL

CLIP_DIR = "public/clips"
TOKEN_BYTES = 24   # 32 URL-safe characters, 192 random bits
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CONTENT_TYPE = "audio/ogg"
# an app observation written without a licence (older rows, raw-SQL loaders) is under the app's default
DEFAULT_APP_LICENSE = DEFAULT_LICENSE_URL
OPEN_LICENCE = re.compile(
    r"creativecommons\.org/(licenses|publicdomain)/|^\s*(cc[\s-]?by|cc0|cc[\s-]?zero|public\s+domain)\b",
    re.IGNORECASE)


def effective_licence(obs: Observation) -> str:
    """The record's one licence, the same in every output (popup, CSV, Darwin Core): the stored one, or
    for an app observation stored without one the app's default (CC BY-NC 4.0)."""
    if not obs.license and obs.source == Source.APP:
        return DEFAULT_APP_LICENSE
    return obs.license


def licence_allows(licence: str) -> bool:
    """Any Creative Commons licence, CC0 or public domain; an empty or unknown licence does not."""
    return bool(licence) and OPEN_LICENCE.search(licence) is not None


def publishable(obs: Observation) -> bool:
    return licence_allows(effective_licence(obs))


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def relative_path(token: str) -> str:
    if not TOKEN_PATTERN.match(token):
        raise ValueError("not a clip token")
    return f"{CLIP_DIR}/{token[:2]}/{token}.ogg"


def clip_name(obs: Observation) -> str | None:
    """The stored name of the observation's public clip, or None (no clip, licence closed, file gone)."""
    if not obs.public_clip_token or not publishable(obs):
        return None
    name = relative_path(obs.public_clip_token)
    return name if files.exists(name) else None


def open_clip(obs: Observation) -> File | None:
    """The observation's public clip opened for reading (the caller closes it), or None as :func:`clip_name`."""
    if not obs.public_clip_token or not publishable(obs):
        return None
    try:
        return files.open_file(relative_path(obs.public_clip_token))
    except FileNotFoundError:
        return None


def read_clip(obs: Observation) -> bytes | None:
    """The bytes of the observation's public clip, or None as :func:`clip_name`."""
    fh = open_clip(obs)
    if fh is None:
        return None
    with fh:
        return fh.read()


def clip_url(obs: Observation) -> str | None:
    """Path of the public clip's URL (the clip view's, never the store's), or None where the observation has none."""
    if clip_name(obs) is None:
        return None
    return reverse("public-clip", kwargs={"token": obs.public_clip_token})


def observation_for_token(token: str) -> Observation | None:
    if not TOKEN_PATTERN.match(token):
        return None
    return Observation.objects.filter(public_clip_token=token).first()


def prepare(obs: Observation, data: bytes | None) -> str | None:
    """Write ``data`` (a clip from ``ml.runtime.reencode.public_clip``) under a fresh token and set
    ``obs.public_clip_token`` without saving; returns the relative path written, or None (nothing
    written) where the licence forbids publishing or ``data`` is None. The caller saves ``obs`` and,
    if its transaction fails, removes the file with :func:`discard`."""
    if data is None or not publishable(obs):
        return None
    token = new_token()
    rel = relative_path(token)
    files.put(rel, data)
    obs.public_clip_token = token
    return rel


def discard(paths: list[str]) -> None:
    """Remove clip files that no committed row names (a failed transaction's)."""
    for rel in paths:
        files.delete(rel)


def attach(obs: Observation, data: bytes | None) -> bool:
    """Make ``data`` the public clip of the saved ``obs``, replacing any earlier one (whose file is
    removed once the transaction commits); returns whether ``obs`` now has a new clip."""
    old = obs.public_clip_token
    rel = prepare(obs, data)
    if rel is None:
        return False
    try:
        obs.save(update_fields=["public_clip_token"])
    except Exception:
        discard([rel])
        obs.public_clip_token = old
        raise
    if old:
        transaction.on_commit(lambda: discard([relative_path(old)]))
    return True


def detach(obs: Observation) -> None:
    """Remove ``obs``'s public clip (row first; the file once the transaction commits)."""
    old = obs.public_clip_token
    if not old:
        return
    obs.public_clip_token = None
    obs.save(update_fields=["public_clip_token"])
    transaction.on_commit(lambda: discard([relative_path(old)]))
