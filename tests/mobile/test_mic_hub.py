"""The recorder and the adaptive mix share one microphone; a refused notification permission turns the
opt-in back off in words."""
from __future__ import annotations

import numpy as np

from mobile import controller as controller_module
from mobile.api import Connectivity
from mobile.controller import FieldClient
from mobile.services.mic_hub import MicrophoneHub
from mobile.soundscape import SoundscapeController

from .conftest import make_services


class CountingMic:
    sample_rate, channels = 48_000, 1

    def __init__(self):
        self.starts = self.stops = 0
        self.on_block = None

    def start(self, on_block):
        self.starts += 1
        self.on_block = on_block

    def stop(self):
        self.stops += 1

    def push(self, n=5):
        for _ in range(n):
            self.on_block(np.full(960, 0.1, np.float32))


def test_taps_share_one_device_start():
    device = CountingMic()
    hub = MicrophoneHub(device)
    a, b = hub.tap(), hub.tap()
    got_a, got_b = [], []
    a.start(got_a.append)
    b.start(got_b.append)
    device.push(3)
    assert device.starts == 1 and len(got_a) == len(got_b) == 3 and a.sample_rate == 48_000
    a.stop()
    device.push(2)
    assert device.stops == 0 and len(got_a) == 3 and len(got_b) == 5
    b.stop()
    b.stop()                                     # idempotent
    assert device.stops == 1


def test_recording_while_the_soundscape_listens_to_the_surroundings(tmp_path, monkeypatch):
    monkeypatch.setenv("DAWN_HEADSET_MIC", "1")
    device = CountingMic()
    services = make_services()
    services.microphone = device
    client = FieldClient(tmp_path, "http://127.0.0.1:9", services, Connectivity(online=False))
    try:
        sc = SoundscapeController(client.api, services.location, services.compass, tmp_path / "clips")
        ambient = client.ambient_microphone()
        assert ambient is not None and sc.start_ambient(ambient, headset_has_mic=True)
        client.start_recording()
        device.push(60)                          # 1.2 s: both listeners hear it
        take = client.stop_recording()
        assert take.duration_s > 1.0 and device.starts == 1 and device.stops == 0
        sc.next_block()
        assert sc.renderer.ambient.levels_db is not None
        sc.stop_ambient()
        assert device.stops == 1
    finally:
        client.close()
    monkeypatch.delenv("DAWN_HEADSET_MIC")
    assert FieldClient.ambient_microphone(client) is None   # no headset microphone: the mix keeps its level


def test_a_refused_notification_permission_turns_the_opt_in_off(tmp_path, monkeypatch):
    monkeypatch.setattr(controller_module, "request_notifications", lambda done: done(False))
    client = FieldClient(tmp_path, "http://127.0.0.1:9", make_services(), Connectivity(online=False))
    try:
        client.set_notifications(True)
        assert not client.notifier.enabled
        level, text = client.notices[-1]
        assert level == "error" and "Settings" in text
    finally:
        client.close()
