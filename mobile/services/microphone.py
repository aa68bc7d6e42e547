"""Microphones: a file source (tests, demos), sounddevice (desktop) and plyer/audiostream (Android)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from .base import BlockCallback, ServiceUnavailable

BLOCK_S = 0.05


class FileMicrophone:
    """Plays a real audio file into the recorder block by block, optionally in real time."""

    def __init__(self, path: str | Path, *, realtime: bool = False, block_s: float = BLOCK_S,
                 loop: bool = False, keep_stereo: bool = False):
        from ..pcm import read_audio_file  # WAV with the standard library; other formats on desktops only

        try:
            data, sr = read_audio_file(path, keep_stereo=keep_stereo)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is "unavailable"
            raise ServiceUnavailable("mic_file", f"Cannot read {path}: {exc}") from None
        if data.shape[0] == 0:
            raise ServiceUnavailable("mic_file", f"{path} holds no audio.")
        self.samples = data
        self.sample_rate = int(sr)
        self.channels = 2 if self.samples.ndim == 2 else 1
        self.realtime, self.block_s, self.loop = realtime, block_s, loop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()

    def start(self, on_block: BlockCallback) -> None:
        self._stop.clear()
        self.finished.clear()
        if not self.realtime:
            self._run(on_block)
            return
        self._thread = threading.Thread(target=self._run, args=(on_block,), daemon=True, name="file-mic")
        self._thread.start()

    def _run(self, on_block: BlockCallback) -> None:
        n = max(1, int(self.block_s * self.sample_rate))
        pos = 0
        while not self._stop.is_set():
            if pos >= len(self.samples):
                if not self.loop:
                    break
                pos = 0
            on_block(self.samples[pos:pos + n])
            pos += n
            if self.realtime:
                time.sleep(self.block_s)
        self.finished.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None


class SounddeviceMicrophone:
    """Desktop microphone through the optional ``sounddevice`` package (PortAudio)."""

    def __init__(self, sample_rate: int = 48_000, prefer_stereo: bool = True):
        try:
            import sounddevice  # type: ignore[import-not-found]
        except Exception:  # noqa: BLE001 - missing package or PortAudio
            raise ServiceUnavailable("mic_missing", "No microphone driver: install 'sounddevice' "
                                     "or run with DAWN_MIC_FILE=<audio file>.") from None
        self._sd = sounddevice
        try:
            info = sounddevice.query_devices(kind="input")
        except Exception:  # noqa: BLE001
            raise ServiceUnavailable("mic_missing", "No microphone was found.") from None
        self.sample_rate = sample_rate
        self.channels = 2 if prefer_stereo and int(info.get("max_input_channels", 1)) >= 2 else 1
        self._stream = None

    def start(self, on_block: BlockCallback) -> None:
        def callback(indata, frames, time_info, status):  # noqa: ARG001
            block = indata.copy()
            on_block(block[:, 0] if self.channels == 1 else block)

        self._stream = self._sd.InputStream(samplerate=self.sample_rate, channels=self.channels,
                                            dtype="float32", blocksize=int(BLOCK_S * self.sample_rate),
                                            callback=callback)
        self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


class AndroidMicrophone:
    """Android microphone through ``audiostream`` (python-for-android recipe), 16-bit PCM."""

    def __init__(self, sample_rate: int = 44_100, channels: int = 1):
        try:
            from audiostream import get_input  # type: ignore[import-not-found]
        except Exception:  # noqa: BLE001
            raise ServiceUnavailable("mic_missing", "The microphone is not available on this device.") from None
        self._get_input = get_input
        self.sample_rate, self.channels = sample_rate, channels
        self._mic = None
        self._stop = threading.Event()

    def start(self, on_block: BlockCallback) -> None:
        def callback(buf: bytes) -> None:
            pcm = np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
            on_block(pcm.reshape(-1, 2) if self.channels == 2 else pcm)

        self._mic = self._get_input(callback=callback, source="default", rate=self.sample_rate,
                                    channels=self.channels, encoding=16, buffersize=2048)
        self._mic.start()
        self._stop.clear()

        def pump() -> None:
            while not self._stop.is_set():
                self._mic.poll()
                time.sleep(0.01)

        threading.Thread(target=pump, daemon=True, name="android-mic").start()

    def stop(self) -> None:
        self._stop.set()
        if self._mic is not None:
            self._mic.stop()
            self._mic = None
