"""The app's colours (RGBA, 0–1): one dark field theme with a green primary and an amber accent."""
from __future__ import annotations

BACKGROUND = (0.07, 0.09, 0.10, 1)
SURFACE = (0.12, 0.15, 0.16, 1)
SURFACE_HI = (0.19, 0.23, 0.24, 1)
PRIMARY = (0.15, 0.52, 0.36, 1)
PRIMARY_LIGHT = (0.35, 0.75, 0.52, 1)
BAR = (0.09, 0.27, 0.19, 1)
ACCENT = (0.98, 0.74, 0.30, 1)
DANGER = (0.70, 0.22, 0.18, 1)
DISABLED = (0.20, 0.23, 0.24, 1)
TEXT = (0.93, 0.95, 0.93, 1)
MUTED = (0.68, 0.74, 0.72, 1)
INK = (0.10, 0.12, 0.10, 1)
OK, WARN, REJECT = (0.45, 0.85, 0.55, 1), (1.0, 0.82, 0.45, 1), (1.0, 0.55, 0.5, 1)
TONES = {"info": (0.16, 0.27, 0.30, 1), "good": (0.13, 0.36, 0.24, 1), "warn": (0.36, 0.28, 0.09, 1),
         "bad": (0.45, 0.14, 0.12, 1)}


def shade(rgba, factor: float) -> tuple[float, float, float, float]:
    """``rgba`` darkened (factor < 1) or lightened (> 1), alpha kept."""
    r, g, b, a = rgba
    return (min(1.0, r * factor), min(1.0, g * factor), min(1.0, b * factor), a)
