"""Retry delays for uploads: capped exponential backoff with full jitter."""
from __future__ import annotations

import random

BASE_S = 5.0
CAP_S = 15 * 60.0


def retry_delay(attempts: int, rng: random.Random | None = None, base_s: float = BASE_S,
                cap_s: float = CAP_S) -> float:
    """Seconds to wait after ``attempts`` failed tries: uniform in [ceiling/2, ceiling],
    ceiling = min(cap, base * 2**(attempts-1))."""
    if attempts < 1:
        return 0.0
    ceiling = min(cap_s, base_s * 2.0 ** min(attempts - 1, 30))
    r = (rng or random).random()
    return ceiling * (0.5 + 0.5 * r)
