"""Ogg/Opus decoding straight through libopus (ctypes), at the rate the caller needs.

Phones upload Ogg/Opus. libsndfile decodes it too, but walks the stream to learn its length first
and returns 48 kHz audio that must then be resampled to the model's rate (figures:
``docs/performance.md``). Here the Ogg pages are split into packets in Python and each packet
is decoded by ``opus_decode_float`` directly at 8, 12, 16, 24 or 48 kHz (Opus decodes natively at
those rates, so no resampling follows), with the pre-skip, the end trimming from the last granule
position and the header's output gain applied as RFC 7845 says.

Only what phones send is handled: one logical stream, channel mapping family 0 (mono or stereo).
Anything else — no libopus, another mapping, chained or interleaved streams, a malformed page or a
packet libopus refuses — returns None, and the caller decodes with libsndfile instead, so the
accepted inputs and the error codes are libsndfile's.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import struct
from functools import lru_cache

import numpy as np

OPUS_RATES = (8_000, 12_000, 16_000, 24_000, 48_000)
MAX_FRAME_S = 0.12   # the longest Opus packet: 120 ms


@lru_cache(maxsize=1)
def _libopus():
    """libopus through ctypes with the decoder's and encoder's signatures declared, or None."""
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode_float.restype = ctypes.c_int
    lib.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_void_p,
                                      ctypes.c_int, ctypes.c_int]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode_float.restype = ctypes.c_int32
    lib.opus_encode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
                                      ctypes.c_int32]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_get_version_string.restype = ctypes.c_char_p
    return lib


def available() -> bool:
    return _libopus() is not None


def ogg_packets(data: bytes) -> tuple[list[bytes], int] | None:
    """(packets of the single logical stream, last granule position) or None if the layout is unusual."""
    packets: list[bytes] = []
    partial: list[bytes] = []
    pos, serial, granule = 0, None, -1
    size = len(data)
    while pos < size:
        if size - pos < 27 or data[pos:pos + 4] != b"OggS" or data[pos + 4] != 0:
            return None
        n_seg = data[pos + 26]
        body = pos + 27 + n_seg
        if body > size:
            return None
        page_serial = struct.unpack_from("<I", data, pos + 14)[0]
        if serial is None:
            serial = page_serial
        elif page_serial != serial:
            return None   # multiplexed or chained streams: leave them to libsndfile
        page_granule = struct.unpack_from("<q", data, pos + 6)[0]
        for lace in data[pos + 27:body]:
            if body + lace > size:
                return None
            partial.append(data[body:body + lace])
            body += lace
            if lace < 255:
                packets.append(b"".join(partial))
                partial = []
        if page_granule >= 0:
            granule = page_granule
        pos = body
    return packets, granule


def decode_ogg_opus(data: bytes, sample_rate: int, max_seconds: float) -> np.ndarray | None:
    """(frames, channels) float32 at ``sample_rate``, or None when libsndfile should decode instead."""
    lib = _libopus()
    if lib is None or sample_rate not in OPUS_RATES:
        return None
    parsed = ogg_packets(data)
    if parsed is None:
        return None
    packets, granule = parsed
    if len(packets) < 3 or packets[0][:8] != b"OpusHead" or len(packets[0]) < 19 or packets[1][:8] != b"OpusTags":
        return None
    version, channels, pre_skip, _rate, gain_q8, family = struct.unpack_from("<BBHIhB", packets[0], 8)
    if version >> 4 != 0 or family != 0 or channels not in (1, 2):
        return None
    max_frame = int(MAX_FRAME_S * sample_rate)
    capacity = int((max_seconds + 1.0) * sample_rate)
    out = np.empty((min(capacity, (len(packets) - 2) * max_frame) + max_frame, channels), dtype=np.float32)
    err = ctypes.c_int()
    decoder = lib.opus_decoder_create(sample_rate, channels, ctypes.byref(err))
    if not decoder or err.value != 0:
        return None
    at = 0
    try:
        for packet in packets[2:]:
            if at + max_frame > out.shape[0]:
                return None   # longer than allowed: libsndfile's path reports it
            n = lib.opus_decode_float(decoder, packet, len(packet), out[at:].ctypes.data, max_frame, 0)
            if n < 0:
                return None
            at += n
    finally:
        lib.opus_decoder_destroy(decoder)
    scale = sample_rate / 48_000
    start = int(round(pre_skip * scale))
    end = at if granule < 0 else min(at, int(round(granule * scale)))   # granule: 48 kHz samples incl. pre-skip
    if end <= start:
        return None
    samples = out[start:end]
    if gain_q8:
        samples *= np.float32(10 ** (gain_q8 / (20 * 256)))
    return samples
