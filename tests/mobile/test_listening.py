"""The soundscape follows the listener: compass, else GPS course while walking, else every direction
(with a sentence); the headset microphone feeds the adaptive mix; interactive mode sleeps again."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mobile.api import ApiClient
from mobile.services.base import Fix, ServiceUnavailable
from mobile.services.headset import headset_types_have_mic
from mobile.soundscape import SoundscapeController, raised_state
from ml.runtime.spatial import VirtualSource
from ml.runtime.spatial.geometry import destination
from ml.runtime.spatial.modes import Mode

LAT, LNG = 18.2960, -65.7850


class Walker:
    """A straight walk due east at ``speed`` m/s with a clock the test moves."""

    def __init__(self, speed: float = 1.4):
        self.t, self.speed, self.available = 0.0, speed, True

    def current(self) -> Fix:
        if not self.available:
            raise ServiceUnavailable("gps_unavailable", "No GPS position yet.")
        lat, lng = destination(LAT, LNG, 90.0, self.speed * self.t)
        return Fix(lat, lng, 5.0, 1_000.0 + self.t)


class Compass:
    def __init__(self, heading=None, tilt=0.0):
        self.heading, self.tilt = heading, tilt

    def heading_deg(self) -> float:
        if self.heading is None:
            raise ServiceUnavailable("compass_unavailable", "The compass is not answering.")
        return self.heading

    def tilt_deg(self):
        return self.tilt


def tone_source(sid: str, bearing: float, species: str = "s") -> VirtualSource:
    lat, lng = destination(LAT, LNG, bearing, 40.0)
    x = (0.3 * np.sin(2 * np.pi * 3000 * np.arange(48_000) / 48_000)).astype(np.float32)
    return VirtualSource(id=sid, lat=lat, lng=lng, species=species, samples=x, sample_rate=48_000)


def controller(tmp_path, location, compass) -> SoundscapeController:
    ctl = SoundscapeController(ApiClient("http://127.0.0.1:9"), location, compass, tmp_path)
    ctl.set_sources([tone_source("north", 0.0), tone_source("south", 180.0)])
    return ctl


def rms(block: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(block))))


def render(ctl, n=40) -> float:
    return max(rms(ctl.next_block()) for _ in range(n))


def test_focused_mode_points_by_the_compass(tmp_path):
    compass = Compass(heading=0.0)
    ctl = controller(tmp_path, Walker(speed=0.0), compass)
    ctl.set_sources([tone_source("north", 0.0)])
    ctl.set_mode("Focused")
    ctl.update_listener()
    assert ctl.pointing.source == "compass"
    facing = render(ctl)
    compass.heading = 180.0           # turn round: the source is behind, outside the focus
    away = render(ctl, 120)
    assert facing > 100 * away


def test_without_a_compass_walking_follows_the_course_then_every_direction(tmp_path):
    walk = Walker(speed=1.4)
    ctl = controller(tmp_path, walk, Compass(heading=None))
    ctl.set_mode("Focused")
    for t in (0.0, 5.0, 10.0):       # three fixes 7 m apart heading east
        walk.t = t
        ctl.update_listener()
    assert ctl.pointing.source == "course" and abs(ctl.pointing.heading_deg - 90.0) < 1.0
    assert "direction you walk" in ctl.status
    assert ctl.renderer.mode.mode == Mode.FOCUSED
    walk.speed = 0.0                  # stops walking: no course, no compass
    for t in (20.0, 30.0):
        walk.t = t
        ctl.update_listener()
    assert ctl.pointing.source == "none" and "every direction" in ctl.status
    assert ctl.renderer.mode.mode == Mode.CONSTANT   # safe state: the scene still plays, undirected
    assert render(ctl) > 0.0
    assert ctl.mode.mode == Mode.FOCUSED             # the player's choice comes back with a compass
    ctl.compass.heading = 10.0
    ctl.update_listener()
    assert ctl.pointing.source == "compass" and ctl.renderer.mode.mode == Mode.FOCUSED


def test_interactive_mode_wakes_when_raised_and_sleeps_when_lowered(tmp_path):
    compass = Compass(heading=0.0, tilt=0.0)
    ctl = controller(tmp_path, Walker(0.0), compass)
    ctl.set_mode("Interactive")
    ctl.update_listener()
    assert not ctl.mode.active and render(ctl, 5) == 0.0
    compass.tilt = 60.0
    ctl.update_listener()
    assert ctl.mode.active and render(ctl) > 0.0
    compass.tilt = 28.0               # between the thresholds: unchanged
    ctl.update_listener()
    assert ctl.mode.active
    compass.tilt = 5.0
    ctl.update_listener()
    assert not ctl.mode.active
    ctl.activate(True)                # the button wakes it with the phone flat, and that holds
    ctl.update_listener()
    assert ctl.mode.active
    ctl.activate(False)
    assert not ctl.mode.active


@pytest.mark.parametrize("before,tilt,after", [(None, None, None), (None, 50, True), (None, 10, False),
                                               (True, 25, True), (False, 25, False), (True, 19, False),
                                               (False, -40, True), (True, float("nan"), True)])
def test_raised_state_has_hysteresis(before, tilt, after):
    assert raised_state(before, tilt) is after


class BlockMic:
    sample_rate = 48_000

    def __init__(self, level: float):
        self.level, self.started, self.stopped = level, threading.Event(), False

    def start(self, on_block):
        rng = np.random.default_rng(0)
        for _ in range(60):
            on_block((self.level * rng.standard_normal(960)).astype(np.float32))
        self.started.set()

    def stop(self):
        self.stopped = True


def test_the_headset_microphone_feeds_the_adaptive_mix(tmp_path):
    ctl = controller(tmp_path, Walker(0.0), Compass(heading=0.0))
    assert not ctl.start_ambient(BlockMic(0.3), headset_has_mic=False)
    assert "no microphone" in ctl.status
    quiet = render(ctl, 60)
    mic = BlockMic(0.5)                # a loud street around the listener
    assert ctl.start_ambient(mic, headset_has_mic=True) and ctl.hearing_surroundings
    loud = render(ctl, 150)
    assert ctl.renderer.ambient.levels_db is not None
    assert loud > quiet * 1.2          # the boost lifts the scene above the surroundings
    ctl.stop_ambient()
    assert mic.stopped and not ctl.hearing_surroundings


def test_headset_input_types():
    assert headset_types_have_mic([15, 3]) and headset_types_have_mic([7]) and not headset_types_have_mic([15, 8])
