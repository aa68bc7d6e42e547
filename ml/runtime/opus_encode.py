"""Ogg/Opus encoding straight through libopus (ctypes), with an Ogg muxer in Python.

The public clip is encoded for every accepted recording, and libsndfile's Opus writer
(``audio.encode_ogg_opus``) spends much more than libopus itself needs on a short clip (figures:
``docs/performance.md``). Here each 20-ms frame goes to ``opus_encode_float`` and the packets are laid
into Ogg pages as RFC 7845 says: an ``OpusHead`` page (pre-skip = the encoder's lookahead), an
``OpusTags`` page holding only the vendor string and no user comments, then audio pages whose
granule positions count 48 kHz samples including the pre-skip; the last page's granule trims the
padding, so the decoded length equals the input's.

Mono or stereo at 8, 12, 16, 24 or 48 kHz only; without libopus :func:`encode` returns None and the
caller uses libsndfile instead.
"""
from __future__ import annotations

import ctypes
import struct
import zlib

import numpy as np

from .opus import OPUS_RATES, _libopus

APPLICATION_AUDIO = 2049
SET_COMPLEXITY = 4010
GET_LOOKAHEAD = 4027
FRAME_S = 0.02
MAX_PACKET = 4000
PACKETS_PER_PAGE = 50
_REVERSED_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, MSB first, initial 0, no final XOR), computed with zlib's
    reflected CRC over bit-reversed bytes, its initial and final XOR cancelled by the zero-message term."""
    reflected = zlib.crc32(data.translate(_REVERSED_BITS)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{reflected:032b}"[::-1], 2)


def ogg_page(packets: list[bytes], granule: int, serial: int, sequence: int, flags: int) -> bytes:
    """One Ogg page holding whole ``packets`` (their lacing must fit 255 segments)."""
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    if len(lacing) > 255:
        raise ValueError("too many segments for one Ogg page")
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = header + bytes(lacing) + b"".join(packets)
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def opus_head(channels: int, pre_skip: int, sample_rate: int) -> bytes:
    return struct.pack("<8sBBHIhB", b"OpusHead", 1, channels, pre_skip, sample_rate, 0, 0)


def opus_tags(vendor: bytes) -> bytes:
    """A comment header with the vendor string and no user comments."""
    return b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)


def encode(x: np.ndarray, sample_rate: int, complexity: int = 10, serial: int = 0x44617764) -> bytes | None:
    """Ogg/Opus bytes of ``x`` (float, (n,) mono or (n, 2) stereo, in [-1, 1]) holding no tags, or
    None when libopus is missing or ``sample_rate`` is not an Opus rate."""
    lib = _libopus()
    if lib is None or sample_rate not in OPUS_RATES:
        return None
    pcm = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float32)), -1.0, 1.0)
    pcm = pcm.reshape(pcm.shape[0], -1)
    channels = pcm.shape[1]
    if channels not in (1, 2):
        return None
    err = ctypes.c_int()
    encoder = lib.opus_encoder_create(sample_rate, channels, APPLICATION_AUDIO, ctypes.byref(err))
    if not encoder or err.value != 0:
        return None
    try:
        ctl = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int32)(("opus_encoder_ctl", lib))
        ctl(encoder, SET_COMPLEXITY, complexity)
        lookahead = ctypes.c_int32()
        get = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int32))(
            ("opus_encoder_ctl", lib))
        get(encoder, GET_LOOKAHEAD, ctypes.byref(lookahead))
        frame = int(FRAME_S * sample_rate)
        n_frames = -(-(pcm.shape[0] + lookahead.value) // frame)
        padded = np.zeros((n_frames * frame, channels), dtype=np.float32)
        padded[:pcm.shape[0]] = pcm
        out = ctypes.create_string_buffer(MAX_PACKET)
        packets = []
        for i in range(n_frames):
            chunk = padded[i * frame:(i + 1) * frame]
            n = lib.opus_encode_float(encoder, chunk.ctypes.data, frame, out, MAX_PACKET)
            if n < 0:
                return None
            packets.append(out.raw[:n])
    finally:
        lib.opus_encoder_destroy(encoder)
    scale = 48_000 // sample_rate
    pre_skip = lookahead.value * scale
    end = pre_skip + pcm.shape[0] * scale
    pages = [ogg_page([opus_head(channels, pre_skip, sample_rate)], 0, serial, 0, 0x02),
             ogg_page([opus_tags(lib.opus_get_version_string())], 0, serial, 1, 0)]
    for start in range(0, len(packets), PACKETS_PER_PAGE):
        group = packets[start:start + PACKETS_PER_PAGE]
        last = start + len(group) >= len(packets)
        granule = end if last else (start + len(group)) * frame * scale   # decoded so far, pre-skip included
        pages.append(ogg_page(group, granule, serial, len(pages), 0x04 if last else 0))
    return b"".join(pages)
