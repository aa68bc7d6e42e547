"""One microphone, several listeners: the recorder and the adaptive mix's ambient meter share it.

:meth:`MicrophoneHub.tap` returns a :class:`~mobile.services.base.Microphone` of its own; the
device starts when the first tap starts and stops when the last one stops, and every running tap
gets every block. Android's ``audiostream`` (and PortAudio) would otherwise open a second input
stream, or lose the first listener, when the soundscape listens while the player records.
"""
from __future__ import annotations

import threading

from .base import BlockCallback, Microphone


class MicrophoneHub:
    def __init__(self, device: Microphone):
        self.device = device
        self._lock = threading.Lock()
        self._running: dict[int, BlockCallback] = {}

    def tap(self) -> "MicTap":
        return MicTap(self)

    def _deliver(self, block) -> None:
        for callback in list(self._running.values()):
            callback(block)

    def _start(self, tap: "MicTap", on_block: BlockCallback) -> None:
        with self._lock:
            first = not self._running
            self._running[id(tap)] = on_block
        if first:
            try:
                self.device.start(self._deliver)
            except Exception:
                with self._lock:
                    self._running.pop(id(tap), None)
                raise

    def _stop(self, tap: "MicTap") -> None:
        with self._lock:
            was = self._running.pop(id(tap), None) is not None
            last = was and not self._running
        if last:
            self.device.stop()


class MicTap:
    """A hub's microphone for one listener (the Microphone protocol)."""

    def __init__(self, hub: MicrophoneHub):
        self.hub = hub

    def __getattr__(self, name: str):   # sample_rate, channels, and a file microphone's extras
        return getattr(self.hub.device, name)

    def start(self, on_block: BlockCallback) -> None:
        self.hub._start(self, on_block)

    def stop(self) -> None:
        self.hub._stop(self)
