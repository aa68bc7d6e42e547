"""Whether the connected headphones carry a microphone (the adaptive mix listens through it).

Android lists input devices through ``AudioManager.getDevices(GET_DEVICES_INPUTS)``; a wired
headset, a USB headset or a Bluetooth headset (SCO) has one. On a desktop ``DAWN_HEADSET_MIC=1``
says so (there is no portable way to ask).
"""
from __future__ import annotations

import os

GET_DEVICES_INPUTS = 1
HEADSET_INPUT_TYPES = frozenset({3, 7, 22})   # TYPE_WIRED_HEADSET, TYPE_BLUETOOTH_SCO, TYPE_USB_HEADSET


def headset_types_have_mic(types: list[int]) -> bool:
    return any(t in HEADSET_INPUT_TYPES for t in types)


def headset_has_microphone() -> bool:
    """True when a headset microphone is connected now; False when unknown."""
    try:
        from jnius import autoclass  # type: ignore[import-not-found]

        activity = autoclass("org.kivy.android.PythonActivity").mActivity
        manager = activity.getSystemService(autoclass("android.content.Context").AUDIO_SERVICE)
        return headset_types_have_mic([d.getType() for d in manager.getDevices(GET_DEVICES_INPUTS)])
    except Exception:  # noqa: BLE001 - not on Android (or API < 23)
        return os.environ.get("DAWN_HEADSET_MIC", "") == "1"
