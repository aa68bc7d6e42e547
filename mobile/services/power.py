"""Charging, battery and screen state: the phone trains the model only when that costs the player nothing.

Android: plyer's battery facade (``isCharging``, ``percentage``) and ``PowerManager.isInteractive``
(screen on) through pyjnius. Elsewhere the state is unknown (``None``): a desktop never trains
by itself, only on demand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class PowerSnapshot:
    charging: bool | None = None
    battery_fraction: float | None = None   # 0..1
    screen_on: bool | None = None


@runtime_checkable
class PowerState(Protocol):
    def snapshot(self) -> PowerSnapshot:
        """The current state; fields the platform cannot tell are None."""


class AndroidPowerState:
    """plyer battery + PowerManager; any failure reads as "unknown", never as "charging"."""

    def snapshot(self) -> PowerSnapshot:
        charging = fraction = screen = None
        try:
            from plyer import battery

            status = battery.status or {}
            charging = bool(status.get("isCharging")) if "isCharging" in status else None
            pct = status.get("percentage")
            fraction = float(pct) / 100.0 if isinstance(pct, (int, float)) else None
        except Exception:  # noqa: BLE001 - facade missing or not implemented on this device
            pass
        try:
            from jnius import autoclass

            activity = autoclass("org.kivy.android.PythonActivity").mActivity
            context = autoclass("android.content.Context")
            screen = bool(activity.getSystemService(context.POWER_SERVICE).isInteractive())
        except Exception:  # noqa: BLE001
            pass
        return PowerSnapshot(charging, fraction, screen)


class FixedPowerState:
    """A desktop (everything unknown) or a test that sets the state it needs."""

    def __init__(self, charging: bool | None = None, battery_fraction: float | None = None,
                 screen_on: bool | None = None):
        self.charging, self.battery_fraction, self.screen_on = charging, battery_fraction, screen_on

    def snapshot(self) -> PowerSnapshot:
        return PowerSnapshot(self.charging, self.battery_fraction, self.screen_on)
