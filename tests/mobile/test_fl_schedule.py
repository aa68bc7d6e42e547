"""Automatic federated contributions: only opted in, on Android, charging, idle, and not too often."""
from __future__ import annotations

from types import SimpleNamespace

from mobile.fl import FLOutcome, FLUnavailable
from mobile.fl_schedule import AutoTrainer, SchedulePolicy
from mobile.services.power import FixedPowerState

POLICY = SchedulePolicy(idle_after_s=300, min_battery=0.5, after_contribution_s=3600, after_no_task_s=600,
                        secure_step_s=10, backoff_s=100, max_backoff_s=400)


class FakeFL:
    def __init__(self, *results):
        self.prefs = SimpleNamespace(opted_in=True)
        self.results = list(results)
        self.calls = 0

    def contribute(self):
        self.calls += 1
        r = self.results.pop(0)
        if isinstance(r, Exception):
            raise r
        return r


def trainer(fl, power, android=True):
    return AutoTrainer(fl, power, on_android=android, policy=POLICY, clock=lambda: 0.0)


def sent():
    return FLOutcome("sent", "Thank you!", 3)


def test_trains_only_when_charging_half_full_and_idle():
    power = FixedPowerState(charging=False, battery_fraction=0.9, screen_on=True)
    fl = FakeFL(sent())
    t = trainer(fl, power)
    assert t.tick(now=1000) is None and "charging" in t.status_line(1000)       # not charging
    power.charging = True
    assert t.tick(now=100) is None                                             # touched 100 s ago
    power.battery_fraction = 0.3
    assert t.tick(now=1000) is None                                            # idle, but battery low
    power.battery_fraction = 0.8
    assert t.tick(now=1000).status == "sent" and fl.calls == 1
    assert t.tick(now=1000 + 60) is None and "min" in t.status_line(1060)     # waits after contributing
    assert "Thank you!" in t.status_line(1060)


def test_screen_off_counts_as_idle_but_a_touch_does_not():
    power = FixedPowerState(charging=True, battery_fraction=None, screen_on=False)
    fl = FakeFL(sent())
    t = trainer(fl, power)
    t.note_activity(now=50)
    assert t.tick(now=60).status == "sent"          # screen off: idle at once
    power.screen_on = True
    t2 = trainer(FakeFL(sent()), power)
    t2.note_activity(now=50)
    assert t2.tick(now=60) is None and t2.tick(now=400) is not None


def test_never_without_opt_in_and_never_by_itself_on_a_desktop():
    power = FixedPowerState(charging=True, battery_fraction=1.0, screen_on=False)
    fl = FakeFL(sent())
    fl.prefs.opted_in = False
    assert trainer(fl, power).tick(now=10_000) is None
    fl.prefs.opted_in = True
    desk = trainer(fl, power, android=False)
    assert desk.tick(now=10_000) is None and "press the button" in desk.status_line(10_000)
    assert fl.calls == 0
    unknown = FakeFL(sent())
    assert trainer(unknown, FixedPowerState()).tick(now=10_000) is None and unknown.calls == 0   # unknown power


def test_no_task_waits_secure_rounds_follow_up_and_failures_back_off():
    power = FixedPowerState(charging=True, battery_fraction=1.0, screen_on=False)
    fl = FakeFL(FLUnavailable("no_task", "No round now."), FLOutcome("step", "keys sent", 4),
                FLOutcome("sent", "masked update accepted", 4), ConnectionError("offline"),
                ConnectionError("offline"), FLUnavailable("secagg_failed", "lost"), sent())
    t = trainer(fl, power)
    assert t.tick(now=0) is None and t.next_try == 600 and "No round now." in t.status_line(0)
    assert t.tick(now=600).status == "step" and t.next_try == 610
    assert t.tick(now=610).status == "sent" and t.next_try == 610 + 3600
    now = 610 + 3600
    assert t.tick(now=now) is None and t.next_try == now + 100            # first failure: 100 s
    assert t.tick(now=now + 100) is None and t.next_try == now + 300       # then 200 s
    assert t.tick(now=now + 300) is None and t.next_try == now + 700       # then 400 s (the cap)
    assert t.tick(now=now + 700).status == "sent" and t.failures == 0
    assert fl.calls == 7
