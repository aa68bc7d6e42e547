"""Which way the phone points, from its sensors: pure maths, no Kivy, no plyer.

Android's sensor frame: ``x`` to the right of the screen, ``y`` up along the screen, ``z`` out of
the screen towards the user. The accelerometer at rest reads the reaction to gravity (``+z`` when
the phone lies face up); the magnetometer reads the Earth's field, which points to magnetic north
and, away from the equator, steeply down.

:func:`tilt_compensated_heading` does what Android's ``SensorManager.getRotationMatrix`` and
``getOrientation`` do: East = field × gravity, North = gravity × East, both in the phone's frame,
so the result does not depend on how the phone is tilted. The direction the phone *points* is
``cos(t)·y − sin(t)·z`` with ``t`` the screen's tilt from lying face up, clamped to [0°, 90°]: the
top edge when the phone lies flat, the back camera when it is held upright (portrait or landscape),
a blend in between whose horizontal part lies along the same line when the phone is only pitched,
weighted towards the more horizontal axis so a small sideways roll barely moves it. Its heading is ``atan2(East·f, North·f)`` in degrees clockwise from
magnetic north; adding the local declination gives true north. Reading ``atan2(y, x)`` of the raw
field instead, as a flat-phone shortcut, is a quarter turn off and swings with every tilt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Vector = tuple[float, float, float]

MIN_FIELD_UT = 5.0       # the Earth's field is 25–65 µT; below this the magnetometer is not answering
MAX_FIELD_UT = 200.0     # far above it: a magnet or a steel frame, the heading would be wrong
MIN_GRAVITY = 3.0        # m/s²; below this (free fall, no sensor) there is no "down"
STALE_S = 3.0            # a reading older than this is no reading


def _finite(v: object) -> bool:
    return isinstance(v, (list, tuple)) and len(v) >= 3 and all(
        isinstance(c, (int, float)) and math.isfinite(c) for c in v[:3])


def _cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _norm(a: Vector) -> float:
    return math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def _dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


class HeadingUnavailable(ValueError):
    """The sensors give no usable heading; ``code`` is stable, ``message`` is for the player."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def tilt_compensated_heading(gravity: object, field: object, declination_deg: float = 0.0) -> float:
    """Heading in [0, 360) of where the phone points, degrees clockwise from true north (magnetic
    north plus ``declination_deg``, east positive). Raises :class:`HeadingUnavailable` for missing,
    non-finite, too weak or too strong readings, or a field parallel to gravity (at a magnetic pole)."""
    if not _finite(gravity) or _norm(tuple(gravity[:3])) < MIN_GRAVITY:  # type: ignore[index]
        raise HeadingUnavailable("no_gravity", "The motion sensor is not answering.")
    if not _finite(field):
        raise HeadingUnavailable("no_field", "The compass is not answering.")
    g: Vector = tuple(float(c) for c in gravity[:3])  # type: ignore[index, assignment]
    m: Vector = tuple(float(c) for c in field[:3])  # type: ignore[index, assignment]
    strength = _norm(m)
    if strength < MIN_FIELD_UT:
        raise HeadingUnavailable("no_field", "The compass is not answering.")
    if strength > MAX_FIELD_UT:
        raise HeadingUnavailable("magnetic_interference", "Something magnetic is near the phone; "
                                 "move away from metal to use the compass.")
    east = _cross(m, g)
    e_len = _norm(east)
    if e_len < 1e-6 * strength * _norm(g):
        raise HeadingUnavailable("no_field", "The compass cannot tell north here.")
    east = (east[0] / e_len, east[1] / e_len, east[2] / e_len)
    g_len = _norm(g)
    up = (g[0] / g_len, g[1] / g_len, g[2] / g_len)
    north = _cross(up, east)
    t = math.acos(max(-1.0, min(1.0, up[2])))   # the screen's tilt from lying face up
    t = min(t, math.pi / 2)
    forward = (0.0, math.cos(t), -math.sin(t))   # the top edge when flat, the back camera when upright
    e, n = _dot(east, forward), _dot(north, forward)
    if math.hypot(e, n) < 1e-6:
        raise HeadingUnavailable("no_field", "The phone is on its side; hold it upright or flat.")
    return (math.degrees(math.atan2(e, n)) + declination_deg) % 360.0


def pitch_deg(gravity: object) -> float | None:
    """How far the top edge is raised above the horizon (0 flat, 90 upright, negative tipped down);
    None without a reading."""
    if not _finite(gravity):
        return None
    x, y, z = (float(c) for c in gravity[:3])  # type: ignore[index]
    if math.hypot(x, z) == 0.0 and y == 0.0:
        return None
    return math.degrees(math.atan2(y, math.hypot(x, z)))


class LowPass:
    """Exponential smoothing of a 3-vector (sensor noise, hand tremor); ``alpha`` is the new sample's weight."""

    def __init__(self, alpha: float = 0.2):
        self.alpha = alpha
        self.value: Vector | None = None

    def feed(self, v: object) -> Vector | None:
        if not _finite(v):
            return self.value
        x: Vector = tuple(float(c) for c in v[:3])  # type: ignore[index, assignment]
        if self.value is None:
            self.value = x
        else:
            a = self.alpha
            self.value = tuple(p + a * (q - p) for p, q in zip(self.value, x))  # type: ignore[assignment]
        return self.value


@dataclass(frozen=True)
class Pointing:
    """Where the listener faces and why: ``source`` is compass, course or none; ``note`` is for the player."""

    heading_deg: float | None
    source: str
    note: str = ""


def choose_pointing(compass_deg: float | None, compass_problem: str, course_deg: float | None,
                    speed_mps: float | None, min_speed_mps: float = 0.7) -> Pointing:
    """DESIGN's fallback chain for focused listening: the compass, else the GPS course while walking
    (at least ``min_speed_mps``), else nothing — with a sentence saying which and why."""
    if compass_deg is not None and math.isfinite(compass_deg):
        return Pointing(compass_deg % 360.0, "compass")
    walking = speed_mps is not None and math.isfinite(speed_mps) and speed_mps >= min_speed_mps
    if course_deg is not None and math.isfinite(course_deg) and walking:
        return Pointing(course_deg % 360.0, "course",
                        f"{compass_problem or 'No compass.'} Following the direction you walk.")
    return Pointing(None, "none", f"{compass_problem or 'No compass.'} Walk a few steps, or listen to "
                                  "every direction at once.")
