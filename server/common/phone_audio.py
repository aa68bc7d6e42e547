"""PCM WAV renditions of Ogg/Opus audio for phones: ``?audio=wav`` on an audio route (not ``format``,
which Django REST framework keeps for choosing a renderer).

A phone build carries neither libsndfile nor libopus (``mobile/buildozer.spec``), and Python's
standard library reads WAV; so the routes phones play (soundscape clips and mixes, the game's
clips) answer ``?audio=wav`` with the same audio decoded to 16-bit mono PCM at
:data:`PHONE_RATE` (birds and city sounds sit well below its 12 kHz Nyquist limit). The answer
names its source in ``X-Clip-SHA256`` (the Ogg file's digest, which the phone's cache is keyed
by) and carries the ETag ``"<sha>-wav"``; byte ranges work as on the original. Any other
``audio`` value answers ``400 invalid_audio_format``; audio that cannot be decoded answers
``422 audio_undecodable`` rather than a half-written body.
"""
from __future__ import annotations

import hashlib
import io
import wave
from typing import IO

import numpy as np
from django.http import HttpRequest, HttpResponse
from rest_framework import status

from .byte_ranges import file_response
from .errors import ApiError

PHONE_RATE = 24_000
PARAM = "audio"


def wants_wav(request: HttpRequest) -> bool:
    """True for ``?audio=wav``; False without ``audio`` or with ``ogg``; ``400 invalid_audio_format`` otherwise."""
    value = request.GET.get(PARAM)
    if value is None or value == "ogg":
        return False
    if value == "wav":
        return True
    raise ApiError("invalid_audio_format", "audio must be ogg or wav.", fields={PARAM: "ogg or wav."})


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV of float samples in [-1, 1] (clipped)."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def audio_response(request: HttpRequest, fh: IO[bytes], content_type: str, *, etag: str | None = None,
                   sha256: str | None = None) -> HttpResponse:
    """``fh`` as :func:`file_response` answers it, or its WAV rendition when the request asks for one."""
    if not wants_wav(request):
        return file_response(request, fh, content_type, etag=etag)
    from ml.runtime.audio import AudioError, decode

    with fh:
        data = fh.read()
    source = sha256 or hashlib.sha256(data).hexdigest()
    try:
        samples, rate = decode(data, sample_rate=PHONE_RATE)
    except AudioError as exc:
        raise ApiError("audio_undecodable", f"The audio cannot be converted for the phone ({exc.code}).",
                       status.HTTP_422_UNPROCESSABLE_ENTITY) from None
    response = file_response(request, io.BytesIO(wav_bytes(samples, rate)), "audio/wav", etag=f'"{source}-wav"')
    response["X-Clip-SHA256"] = source
    return response
