"""Responses that carry a recording's private audio, for the people allowed to hear it.

* the owner gets the stored bytes (the upload as sent, or its speech-muted copy);
* researchers and admins get a tag-free FLAC copy (``ml.runtime.reencode.tag_free_flac``): the
  same samples, channels and rate, without any container metadata of the upload.

Everyone else hears only the observation's public clip (``server.observations.public_clips``).
Both responses are ``Cache-Control: private``.
"""
from __future__ import annotations

from pathlib import Path

from django.http import FileResponse
from rest_framework import status

from ml.runtime.audio import AudioError
from ml.runtime.reencode import tag_free_flac
from server.common.errors import ApiError

CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "opus": "audio/ogg",
                 "mp3": "audio/mpeg"}
CACHE_CONTROL = "private, max-age=300"


def _open(path: Path):
    try:
        return path.open("rb")
    except OSError:
        raise ApiError("audio_missing", "The stored audio is not available.", status.HTTP_404_NOT_FOUND) from None


def original_response(path: Path, name: str) -> FileResponse:
    """The stored file byte for byte (owner only); ``name`` is the download's file name stem."""
    ext = path.suffix.lstrip(".").lower()
    response = FileResponse(_open(path), content_type=CONTENT_TYPES.get(ext, "application/octet-stream"),
                            filename=f"{name}.{ext}")
    response["Cache-Control"] = CACHE_CONTROL
    return response


def tag_free_response(path: Path, name: str) -> FileResponse:
    """A FLAC copy of the stored file that carries none of its tags (researchers and admins)."""
    with _open(path) as fh:
        data = fh.read()
    try:
        copy = tag_free_flac(data)
    except AudioError as exc:
        raise ApiError(exc.code, exc.message, status.HTTP_422_UNPROCESSABLE_ENTITY) from None
    response = FileResponse(copy, content_type="audio/flac", filename=f"{name}.flac")
    response["Cache-Control"] = CACHE_CONTROL
    return response
