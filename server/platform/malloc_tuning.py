"""glibc malloc tuning for the server's processes (web and Celery workers).

The analysis path allocates and frees arrays of a few megabytes for every recording (an STFT
of 5 s at a 128-sample hop is 930 × 1024 floats). By default glibc serves blocks that large with
``mmap`` and gives them back with ``munmap`` on free, so every such array is page-faulted in anew.
Raising the mmap threshold to 32 MiB (glibc's maximum on 64-bit) and the trim threshold to 128 MiB
keeps those blocks in the heap for reuse (figures: ``server/platform/README.md``).

``DAWN_MALLOC_TUNING=0`` leaves glibc's defaults (read through :mod:`server.config`, not Django's
settings: this runs when the ``server`` package is imported, before Django is set up). A no-op where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import ctypes.util

from server.config import load as load_config

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


def tune_malloc() -> bool:
    """Apply the thresholds to this process (inherited by forked children); True when applied."""
    if not load_config().malloc_tuning:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Android's bionic)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
