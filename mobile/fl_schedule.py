"""When the phone contributes to federated learning by itself: opted in, charging, idle, not too often.

:class:`AutoTrainer` is woken by the app every minute (``tick``); it decides with
:func:`mobile.fl.eligible` plus a :class:`SchedulePolicy` and calls ``FLClient.contribute``.
Idle means the screen is off, or nobody touched the app for ``idle_after_s`` (the app reports
touches with ``note_activity``). After a contribution it waits ``after_contribution_s``; when the
server has no task, ``after_no_task_s``; after a failure it backs off exponentially. A secure
round in progress is followed up every ``secure_step_s`` while the conditions hold. Desktop builds
(no known charging state) never train by themselves: the "Contribute now" button does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .fl import FLOutcome, FLUnavailable, eligible
from .services.power import PowerState

WAIT_CODES = {"no_task", "too_few", "not_opted_in", "model_mismatch"}   # not failures: just not now


@dataclass(frozen=True)
class SchedulePolicy:
    idle_after_s: float = 300.0
    min_battery: float = 0.5
    after_contribution_s: float = 6 * 3600.0
    after_no_task_s: float = 1800.0
    secure_step_s: float = 10.0
    backoff_s: float = 900.0
    max_backoff_s: float = 6 * 3600.0


class AutoTrainer:
    def __init__(self, fl, power: PowerState, on_android: bool, policy: SchedulePolicy = SchedulePolicy(),
                 clock: Callable[[], float] = time.time):
        self.fl, self.power, self.on_android, self.policy, self.clock = fl, power, on_android, policy, clock
        self.last_activity = clock()
        self.next_try = 0.0
        self.failures = 0
        self.last_message = ""   # what the last automatic attempt did

    def note_activity(self, now: float | None = None) -> None:
        """The player touched the app: not idle."""
        self.last_activity = self.clock() if now is None else now

    def conditions(self, now: float) -> tuple[bool, str]:
        """(may train now, why not) from consent, power and idleness."""
        snap = self.power.snapshot()
        idle = snap.screen_on is False or now - self.last_activity >= self.policy.idle_after_s
        charged = bool(snap.charging) and (snap.battery_fraction is None
                                           or snap.battery_fraction >= self.policy.min_battery)
        if not self.fl.prefs.opted_in:
            return False, "Off: you have not opted in."
        if not self.on_android:
            return False, "On this computer the model is trained only when you press the button."
        if not eligible(True, True, charged, idle, on_demand=False):
            return False, "Waits until the phone is charging (at least half full) and not in use."
        if now < self.next_try:
            return False, f"Next automatic contribution in about {max(1, round((self.next_try - now) / 60))} min."
        return True, ""

    def tick(self, now: float | None = None) -> FLOutcome | None:
        """Contribute when due; returns what happened (None when it was not the time)."""
        now = self.clock() if now is None else now
        if not self.conditions(now)[0]:
            return None
        try:
            outcome = self.fl.contribute()
        except FLUnavailable as exc:
            if exc.code in WAIT_CODES:
                self.failures, self.next_try = 0, now + self.policy.after_no_task_s
            else:
                self._back_off(now)
            self.last_message = exc.message
            return None
        except Exception as exc:  # noqa: BLE001 - network down, server 5xx: try again later
            self._back_off(now)
            self.last_message = f"Could not contribute ({exc}); will try again later."
            return None
        self.failures = 0
        self.next_try = now + (self.policy.secure_step_s if outcome.status in ("step", "waiting")
                               else self.policy.after_contribution_s)
        self.last_message = outcome.message
        return outcome

    def status_line(self, now: float | None = None) -> str:
        """For the Learn screen: why it waits (or that it is ready), and the last automatic attempt."""
        ok, why = self.conditions(self.clock() if now is None else now)
        line = why or "Ready: contributes at the next check (every minute)."
        return f"{line} Last automatic attempt: {self.last_message}" if self.last_message else line

    def _back_off(self, now: float) -> None:
        self.failures += 1
        delay = min(self.policy.backoff_s * 2 ** (self.failures - 1), self.policy.max_backoff_s)
        self.next_try = now + delay
