"""Responses that carry a recording's private audio, for the people allowed to hear it.

* the owner gets the stored bytes (the upload as sent, or its speech-muted copy);
* researchers and admins get a tag-free FLAC copy (``ml.runtime.reencode.tag_free_flac``): the
  same samples, channels and rate, without any container metadata of the upload.

Everyone else hears only the observation's public clip (``server.observations.public_clips``).
Both responses are ``Cache-Control: private`` and answer byte ranges (:mod:`server.common.byte_ranges`). The audio comes from an :class:`AudioSource`: a name in
the file store (app recordings) or a local file shipped with the repository (imported clips).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from django.http import HttpRequest, HttpResponse
from rest_framework import status

from ml.runtime.audio import AudioError
from ml.runtime.reencode import tag_free_flac
from server.common.byte_ranges import file_response
from server.common.errors import ApiError
from server.platform import storage as files

CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "opus": "audio/ogg",
                 "mp3": "audio/mpeg"}
CACHE_CONTROL = "private, max-age=300"


@dataclass(frozen=True)
class AudioSource:
    """Private audio: ``stored`` names a file in the file store, else ``local`` is a file on this machine."""

    stored: str | None = None
    local: Path | None = None

    @property
    def ext(self) -> str:
        name = self.stored if self.stored is not None else str(self.local)
        return PurePosixPath(name).suffix.lstrip(".").lower()

    def open(self) -> IO[bytes]:
        """The audio opened for binary reading; ``FileNotFoundError`` (an ``OSError``) when it is gone."""
        if self.stored is not None:
            return files.open_file(self.stored)
        return self.local.open("rb")

    def read_bytes(self) -> bytes:
        with self.open() as fh:
            return fh.read()


def _open(source: AudioSource):
    try:
        return source.open()
    except (OSError, ValueError):
        raise ApiError("audio_missing", "The stored audio is not available.", status.HTTP_404_NOT_FOUND) from None


def original_response(request: HttpRequest, source: AudioSource, name: str) -> HttpResponse:
    """The stored file byte for byte (owner only); ``name`` is the download's file name stem."""
    ext = source.ext
    response = file_response(request, _open(source), CONTENT_TYPES.get(ext, "application/octet-stream"),
                             filename=f"{name}.{ext}")
    response["Cache-Control"] = CACHE_CONTROL
    return response


def tag_free_response(request: HttpRequest, source: AudioSource, name: str) -> HttpResponse:
    """A FLAC copy of the stored file that carries none of its tags (researchers and admins)."""
    with _open(source) as fh:
        data = fh.read()
    try:
        copy = tag_free_flac(data)
    except AudioError as exc:
        raise ApiError(exc.code, exc.message, status.HTTP_422_UNPROCESSABLE_ENTITY) from None
    response = file_response(request, copy, "audio/flac", filename=f"{name}.flac")
    response["Cache-Control"] = CACHE_CONTROL
    return response
