"""The interfaces screens and controllers depend on; implementations live next to this module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

BlockCallback = Callable[[np.ndarray], None]


class ServiceUnavailable(RuntimeError):
    """A device service cannot be used now (no permission, no hardware, no fix); ``message`` is human."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class Microphone(Protocol):
    sample_rate: int
    channels: int  # 1 mono, 2 binaural (stereo headset microphone)

    def start(self, on_block: BlockCallback) -> None:
        """Begin capturing; ``on_block`` gets float32 blocks shaped (n,) or (n, 2)."""

    def stop(self) -> None:
        """Stop capturing (idempotent)."""


@dataclass(frozen=True)
class Fix:
    lat: float
    lng: float
    accuracy_m: float
    timestamp: float  # POSIX seconds
    course_deg: float | None = None   # direction of travel the GPS reports (clockwise from north), if any
    speed_mps: float | None = None


@runtime_checkable
class Location(Protocol):
    def current(self) -> Fix:
        """The latest position; raises :class:`ServiceUnavailable` when there is none."""


@runtime_checkable
class Compass(Protocol):
    def heading_deg(self) -> float:
        """Heading in degrees clockwise from north; raises :class:`ServiceUnavailable`."""

    def tilt_deg(self) -> float:
        """Pitch of the phone in degrees (0 flat, 90 upright)."""


@runtime_checkable
class AudioOut(Protocol):
    sample_rate: int

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Play a buffer once (mono or (n, 2)); returns immediately."""

    def stop(self) -> None:
        ...

    def start_stream(self, pull, sample_rate: int, channels: int, block_frames: int) -> None:
        """Start pulling ``block_frames`` at a time from ``pull(frames) -> (frames, channels)`` (gapless)."""

    def stop_stream(self) -> None:
        ...


@runtime_checkable
class SecureStore(Protocol):
    def get(self, key: str) -> str | None:
        ...

    def set(self, key: str, value: str) -> None:
        ...

    def delete(self, key: str) -> None:
        ...
