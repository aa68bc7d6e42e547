"""The tilt-compensated compass from synthetic sensor vectors (known orientations give known
headings), the pointing fallback chain, and the plyer compass when its sensors report nothing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mobile.heading import HeadingUnavailable, LowPass, choose_pointing, pitch_deg, tilt_compensated_heading
from mobile.services.base import ServiceUnavailable
from mobile.services.location import PlyerCompass

G = 9.81
FIELD_ENU = np.array([0.0, 27.0, -30.0])   # µT east, north, up: Puerto Rico, about 48° inclination


def rot(axis: np.ndarray, deg: float) -> np.ndarray:
    a = np.radians(deg)
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(a) * kx + (1 - math.cos(a)) * kx @ kx


def readings(yaw: float, pitch: float = 0.0, roll: float = 0.0, spin: float = 0.0):
    """Accelerometer and magnetometer in the phone's frame: the phone starts flat, screen up, top edge
    north; turns clockwise by ``yaw``, raises its top by ``pitch``, rolls by ``roll`` about its long
    axis and (upright) spins ``spin`` in the screen's plane."""
    basis = np.eye(3)                     # columns: the phone's x, y, z in east-north-up
    basis = rot(np.array([0, 0, 1.0]), -yaw) @ basis
    basis = rot(basis[:, 0], pitch) @ basis
    basis = rot(basis[:, 1], roll) @ basis
    basis = rot(basis[:, 2], spin) @ basis
    up = np.array([0, 0, G])
    return tuple(basis.T @ up), tuple(basis.T @ FIELD_ENU)


def err(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


@pytest.mark.parametrize("yaw", [0, 45, 90, 135, 180, 225, 270, 315, 359])
@pytest.mark.parametrize("pitch", [0, 20, 45, 70, 90])
def test_known_orientations_give_known_headings(yaw, pitch):
    g, m = readings(yaw, pitch)
    assert err(tilt_compensated_heading(g, m), yaw) < 0.01


@pytest.mark.parametrize("yaw", [10, 100, 250])
def test_roll_and_landscape_barely_move_it(yaw):
    for roll in (-15, 15):
        g, m = readings(yaw, 0, roll)
        assert err(tilt_compensated_heading(g, m), yaw) < 5.0
    g, m = readings(yaw, 90, 0, spin=90)   # held upright in landscape: the back camera still points yaw
    assert err(tilt_compensated_heading(g, m), yaw) < 0.01


def test_the_raw_field_shortcut_was_a_quarter_turn_off():
    g, m = readings(0)
    old = (math.degrees(math.atan2(m[1], m[0])) + 360) % 360
    assert err(old, 0) == pytest.approx(90, abs=0.01) and err(tilt_compensated_heading(g, m), 0) < 0.01


def test_declination_turns_magnetic_into_true_north():
    g, m = readings(30)
    assert err(tilt_compensated_heading(g, m, declination_deg=-13.0), 17.0) < 0.01


@pytest.mark.parametrize("gravity,field,code", [
    (None, (0, 27, -30), "no_gravity"), ((0, 0, 0.1), (0, 27, -30), "no_gravity"),
    ((0, 0, G), None, "no_field"), ((0, 0, G), (0, 0, 0), "no_field"), ((0, 0, G), (float("nan"), 1, 1), "no_field"),
    ((0, 0, G), (0, 0, -40), "no_field"), ((0, 0, G), (0, 900, 0), "magnetic_interference")])
def test_missing_or_impossible_readings_say_why(gravity, field, code):
    with pytest.raises(HeadingUnavailable) as exc:
        tilt_compensated_heading(gravity, field)
    assert exc.value.code == code and exc.value.message


def test_pitch_and_smoothing():
    assert pitch_deg(readings(0, 0)[0]) == pytest.approx(0, abs=1e-6)
    assert pitch_deg(readings(77, 60)[0]) == pytest.approx(60, abs=1e-6)
    assert pitch_deg(None) is None
    lp = LowPass(0.5)
    assert lp.feed((0, 0, 2)) == (0, 0, 2) and lp.feed((0, 0, 4)) == (0, 0, 3) and lp.feed(None) == (0, 0, 3)


def test_the_fallback_chain_compass_then_course_then_none():
    assert choose_pointing(12.0, "", 200.0, 1.5).source == "compass"
    walking = choose_pointing(None, "The compass is not answering.", 200.0, 1.4)
    assert (walking.source, walking.heading_deg) == ("course", 200.0) and "direction you walk" in walking.note
    standing = choose_pointing(None, "The compass is not answering.", 200.0, 0.2)
    assert standing.heading_deg is None and "every direction" in standing.note


class Sensor:
    def __init__(self, **values):
        self.__dict__.update(values)

    def enable(self):
        pass


def test_the_plyer_compass_uses_both_sensors_and_reports_silence_in_words():
    g, m = readings(123, 30)
    compass = PlyerCompass(sensors=(Sensor(field=m), Sensor(acceleration=g)))
    assert err(compass.heading_deg(), 123) < 0.5
    assert compass.tilt_deg() == pytest.approx(30, abs=0.5)
    silent = PlyerCompass(sensors=(Sensor(field=(None, None, None)), Sensor(acceleration=(None, None, None))))
    with pytest.raises(ServiceUnavailable) as exc:
        silent.heading_deg()
    assert exc.value.code == "compass_unavailable" and "not answering" in exc.value.message
    assert silent.tilt_deg() is None
    absent = PlyerCompass(sensors=None)   # no plyer backend at all (a desktop)
    with pytest.raises(ServiceUnavailable):
        absent.heading_deg()
