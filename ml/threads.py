"""Thread limits for measurements: timings in ``evaluate``, ``bench-classifier`` and ``cv`` are single-threaded."""
from __future__ import annotations

import contextlib
from typing import ContextManager


def one_thread() -> ContextManager:
    """A context manager limiting BLAS/OpenMP pools to one thread (``threadpoolctl``); without that
    library it changes nothing and timings use the BLAS default."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)
