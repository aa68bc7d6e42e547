"""Recording and marking logic (no Kivy): gain, live level, start/stop/discard, segment selection."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from . import dsp
from .services.base import AudioOut, Microphone

MAX_TAKE_S = 120.0
MIN_GAIN_DB, MAX_GAIN_DB = -20.0, 30.0


@dataclass(frozen=True)
class Take:
    samples: np.ndarray  # float32 (n,) mono or (n, 2) binaural
    sample_rate: int
    started_at: float  # POSIX seconds (UTC)
    session_token: str | None

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / float(self.sample_rate)

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])


class RecordController:
    """Drives a :class:`Microphone`; the screen polls :attr:`level` and :meth:`recent` to draw."""

    def __init__(self, microphone: Microphone, max_seconds: float = MAX_TAKE_S):
        self.mic = microphone
        self.max_seconds = max_seconds
        self.gain_db = 0.0
        self.recording = False
        self.level = (dsp.DB_FLOOR, dsp.DB_FLOOR)  # (rms, peak) dBFS of the latest block
        self.clipping = False
        self._blocks: list[np.ndarray] = []
        self._n = 0
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._token: str | None = None
        self.take: Take | None = None

    @property
    def sample_rate(self) -> int:
        return int(self.mic.sample_rate)

    @property
    def binaural(self) -> bool:
        return int(getattr(self.mic, "channels", 1)) == 2

    def set_gain(self, gain_db: float) -> float:
        self.gain_db = float(min(MAX_GAIN_DB, max(MIN_GAIN_DB, gain_db)))
        return self.gain_db

    @property
    def elapsed_s(self) -> float:
        return self._n / float(self.sample_rate)

    def start(self, session_token: str | None = None) -> None:
        if self.recording:
            return
        with self._lock:
            self._blocks, self._n = [], 0
        self.take, self._token, self.clipping = None, session_token, False
        self._started_at = time.time()
        self.recording = True
        self.mic.start(self._on_block)

    def _on_block(self, block: np.ndarray) -> None:
        if not self.recording:
            return
        x = dsp.apply_gain(block, self.gain_db)
        self.level = dsp.level_dbfs(x)
        self.clipping = self.clipping or self.level[1] >= -0.01
        with self._lock:
            room = int(self.max_seconds * self.sample_rate) - self._n
            if room <= 0:
                return
            x = x[:room]
            self._blocks.append(x)
            self._n += x.shape[0]

    def recent(self, seconds: float = 3.0) -> np.ndarray:
        """The last ``seconds`` of audio (mono), for the live spectrogram."""
        with self._lock:
            blocks = list(self._blocks[-max(1, int(seconds / 0.02)):])
        if not blocks:
            return np.zeros(0, np.float32)
        x = np.concatenate(blocks)
        x = x.mean(axis=1) if x.ndim == 2 else x
        return x[-int(seconds * self.sample_rate):]

    @property
    def full(self) -> bool:
        return self._n >= int(self.max_seconds * self.sample_rate)

    def stop(self) -> Take | None:
        """Finish the take; None when nothing was captured."""
        if not self.recording:
            return self.take
        self.mic.stop()
        self.recording = False
        with self._lock:
            blocks, self._blocks = self._blocks, []
        if not blocks:
            return None
        self.take = Take(np.concatenate(blocks).astype(np.float32), self.sample_rate, self._started_at, self._token)
        return self.take

    def discard(self) -> None:
        if self.recording:
            self.mic.stop()
            self.recording = False
        with self._lock:
            self._blocks, self._n = [], 0
        self.take = None
        self.level = (dsp.DB_FLOOR, dsp.DB_FLOOR)


class MarkController:
    """The player's selection on the take's waveform, in seconds."""

    def __init__(self, take: Take, audio_out: AudioOut | None = None, default_s: float = 3.0):
        self.take = take
        self.audio_out = audio_out
        d = take.duration_s
        self.start_s, self.end_s = dsp.clamp_selection(0.0, min(d, default_s), d)

    def select(self, start_s: float, end_s: float) -> tuple[float, float]:
        self.start_s, self.end_s = dsp.clamp_selection(start_s, end_s, self.take.duration_s)
        return self.start_s, self.end_s

    def drag(self, x0: float, x1: float, width: float) -> tuple[float, float]:
        d = self.take.duration_s
        return self.select(dsp.x_to_seconds(x0, width, d), dsp.x_to_seconds(x1, width, d))

    def selection(self) -> np.ndarray:
        sr = self.take.sample_rate
        return self.take.samples[int(self.start_s * sr):int(self.end_s * sr)]

    def play_selection(self) -> None:
        if self.audio_out is not None:
            self.audio_out.play(self.selection(), self.take.sample_rate)

    def envelope(self, columns: int) -> tuple[np.ndarray, np.ndarray]:
        return dsp.waveform_envelope(self.take.samples, columns)
