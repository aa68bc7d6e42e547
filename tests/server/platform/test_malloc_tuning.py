"""Server processes keep multi-megabyte arrays in the heap instead of mmap-ing each one anew."""
import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import ctypes, sys
import numpy as np
if sys.argv[1] == "server":
    import server  # noqa: F401  (server/celery.py tunes malloc on import)
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd
a = np.ones(8 * 1024 * 1024 // 8)  # 8 MiB
print(libc.mallinfo2().hblkhd - before)
"""


def mmapped_bytes_for_8mib(mode: str, **env: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2"),
                    reason="glibc only")
def test_server_processes_serve_large_arrays_from_the_heap():
    assert mmapped_bytes_for_8mib("plain") >= 8 * 1024 * 1024  # glibc's default: a fresh mmap
    assert mmapped_bytes_for_8mib("server") == 0
    assert mmapped_bytes_for_8mib("server", DAWN_MALLOC_TUNING="0") >= 8 * 1024 * 1024
