"""Gapless streaming output: a small ring buffer between a block renderer and the audio device.

A producer thread renders 20 ms blocks whenever the ring has room (a few blocks ahead); the
device's callback (``sounddevice.OutputStream``, Android ``audiostream``, or a clocked test
sink) pulls exactly the frames it needs. When the ring is short at a pull the missing frames are
played as silence and counted as an **underrun** - the audible glitch the benchmark measures.
Pure numpy + threading: no Kivy.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


class AudioRing:
    """Fixed-size float32 ring of (frames, channels); one writer and one reader thread."""

    def __init__(self, capacity_frames: int, channels: int = 2):
        if capacity_frames < 1 or channels < 1:
            raise ValueError("capacity_frames and channels must be positive")
        self.capacity, self.channels = int(capacity_frames), int(channels)
        self._buf = np.zeros((self.capacity, self.channels), np.float32)
        self._read = self._fill = 0
        self._cond = threading.Condition()
        self.underruns = 0          # pulls that found fewer frames than asked
        self.missing_frames = 0     # frames played as silence because of them

    @property
    def available(self) -> int:
        with self._cond:
            return self._fill

    @property
    def free(self) -> int:
        with self._cond:
            return self.capacity - self._fill

    def write(self, block: np.ndarray) -> int:
        """Append as many frames of ``block`` as fit; returns how many were written."""
        x = np.asarray(block, np.float32).reshape(-1, self.channels) if np.ndim(block) == 2 \
            else np.repeat(np.asarray(block, np.float32)[:, None], self.channels, axis=1)
        with self._cond:
            n = min(len(x), self.capacity - self._fill)
            start = (self._read + self._fill) % self.capacity
            first = min(n, self.capacity - start)
            self._buf[start:start + first] = x[:first]
            self._buf[:n - first] = x[first:n]
            self._fill += n
            self._cond.notify_all()
        return n

    def read(self, frames: int, count_underrun: bool = True) -> np.ndarray:
        """Exactly ``frames`` frames: what is buffered, then silence (an underrun when short)."""
        out = np.zeros((frames, self.channels), np.float32)
        with self._cond:
            n = min(frames, self._fill)
            first = min(n, self.capacity - self._read)
            out[:first] = self._buf[self._read:self._read + first]
            out[first:n] = self._buf[:n - first]
            self._read = (self._read + n) % self.capacity
            self._fill -= n
            if n < frames and count_underrun:
                self.underruns += 1
                self.missing_frames += frames - n
            self._cond.notify_all()
        return out

    def wait_for_room(self, frames: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.capacity - self._fill >= frames, timeout)


@dataclass
class StreamStats:
    blocks: int = 0
    underruns: int = 0
    missing_frames: int = 0
    pulls: int = 0


class StreamPlayer:
    """Keeps ``ahead_blocks`` rendered blocks in the ring and lets the device pull from it."""

    def __init__(self, render_block: Callable[[], np.ndarray], sample_rate: int, block_frames: int,
                 channels: int = 2, ahead_blocks: int = 6):
        self.render_block, self.sample_rate, self.block_frames = render_block, int(sample_rate), int(block_frames)
        self.ring = AudioRing(block_frames * max(2, ahead_blocks), channels)
        self.channels = channels
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._output = None
        self.pulls = 0
        self.error: str = ""

    def _produce(self) -> None:
        while not self._stop.is_set():
            if not self.ring.wait_for_room(self.block_frames, timeout=0.1):
                continue
            try:
                block = self.render_block()
            except Exception as exc:  # noqa: BLE001 - the audio thread must not die silently
                self.error = str(exc)
                block = np.zeros((self.block_frames, self.channels), np.float32)
            self.ring.write(block)

    def pull(self, frames: int) -> np.ndarray:
        """The device callback's source: exactly ``frames`` frames, silence-padded on underrun."""
        self.pulls += 1
        return self.ring.read(frames)

    def start(self, output) -> None:
        """Pre-fill half the ring, start the renderer thread, then open the device stream."""
        self.stop()
        self._stop.clear()
        while self.ring.free >= self.block_frames and self.ring.available < self.ring.capacity // 2:
            self.ring.write(self.render_block())
        self._thread = threading.Thread(target=self._produce, daemon=True, name="soundscape-render")
        self._thread.start()
        self._output = output
        output.start_stream(self.pull, self.sample_rate, self.channels, self.block_frames)

    def stop(self) -> None:
        self._stop.set()
        if self._output is not None:
            self._output.stop_stream()
            self._output = None
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stats(self) -> StreamStats:
        return StreamStats(self.pulls, self.ring.underruns, self.ring.missing_frames, self.pulls)


class ClockedSink:
    """A stand-in device: pulls one block every block period on a real-time clock (tests, benchmark,
    and the headless desktop), keeping the last ``keep_s`` seconds of what it 'played'."""

    def __init__(self, keep_s: float = 10.0):
        self.keep_s = keep_s
        self.blocks: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_stream(self, pull: Callable[[int], np.ndarray], sample_rate: int, channels: int, block_frames: int) -> None:
        self._stop.clear()
        period = block_frames / sample_rate
        keep = max(1, int(self.keep_s / period))

        def run() -> None:
            due = time.perf_counter()
            while not self._stop.is_set():
                due += period
                self.blocks.append(pull(block_frames))
                if len(self.blocks) > keep:
                    del self.blocks[: len(self.blocks) - keep]
                delay = due - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)

        self._thread = threading.Thread(target=run, daemon=True, name="clocked-sink")
        self._thread.start()

    def stop_stream(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    def played(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros((0, 2), np.float32)
