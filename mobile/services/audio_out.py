"""Audio output: a recorder for tests, sounddevice on desktops, audiostream on Android, Kivy's
SoundLoader as a fallback.

Two ways to play: ``play(samples, sr)`` for a finished buffer (the marked selection) and
``start_stream(pull, sr, channels, block_frames)`` / ``stop_stream()`` for the soundscape, where the
device pulls blocks from :class:`mobile.streaming.StreamPlayer`'s ring buffer (gapless).
"""
from __future__ import annotations

import io
import os
import tempfile
import threading

import numpy as np

from mobile.streaming import ClockedSink


class CapturingAudioOut:
    """Keeps what would be played (tests and headless runs)."""

    def __init__(self, sample_rate: int = 48_000):
        self.sample_rate = sample_rate
        self.played: list[tuple[np.ndarray, int]] = []

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self.played.append((np.asarray(samples), int(sample_rate)))

    def stop(self) -> None:
        pass

    def start_stream(self, pull, sample_rate: int, channels: int, block_frames: int) -> None:
        self.sink = ClockedSink()
        self.sink.start_stream(pull, sample_rate, channels, block_frames)

    def stop_stream(self) -> None:
        if getattr(self, "sink", None) is not None:
            self.sink.stop_stream()


class SounddeviceAudioOut:
    """Desktop output through the optional ``sounddevice`` package."""

    def __init__(self, sample_rate: int = 48_000):
        import sounddevice  # type: ignore[import-not-found]

        self._sd = sounddevice
        self.sample_rate = sample_rate

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self._sd.play(np.asarray(samples, dtype=np.float32), int(sample_rate))

    def stop(self) -> None:
        self._sd.stop()

    def start_stream(self, pull, sample_rate: int, channels: int, block_frames: int) -> None:
        """A callback stream: PortAudio asks for ``frames`` and gets them from the ring."""
        def callback(outdata, frames, _time, _status) -> None:
            outdata[:] = pull(frames)

        self._stream = self._sd.OutputStream(samplerate=sample_rate, channels=channels, dtype="float32",
                                             blocksize=block_frames, callback=callback)
        self._stream.start()

    def stop_stream(self) -> None:
        stream, self._stream = getattr(self, "_stream", None), None
        if stream is not None:
            stream.stop()
            stream.close()


class AudiostreamOut:
    """Android output through ``audiostream`` (python-for-android recipe): a pump thread pushes the
    ring's blocks as 16-bit PCM into a streaming ``AudioSample`` - gapless."""

    def __init__(self, sample_rate: int = 48_000):
        self.sample_rate = sample_rate
        self._fallback = KivyAudioOut(sample_rate)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self._fallback.play(samples, sample_rate)

    def stop(self) -> None:
        self._fallback.stop()

    def start_stream(self, pull, sample_rate: int, channels: int, block_frames: int) -> None:
        from audiostream import AudioSample, get_output  # type: ignore[import-not-found]

        stream = get_output(channels=channels, rate=sample_rate, buffersize=block_frames * 2)
        sample = AudioSample()
        stream.add_sample(sample)
        sample.play()
        self._stop.clear()

        def pump() -> None:
            while not self._stop.is_set():
                block = pull(block_frames)  # sample.write blocks while the device buffer is full
                sample.write((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())
            sample.stop()

        self._thread = threading.Thread(target=pump, daemon=True, name="audiostream-pump")
        self._thread.start()

    def stop_stream(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


class KivyAudioOut:
    """Plays a buffer by writing a temporary WAV for Kivy's SoundLoader (works on Android too)."""

    def __init__(self, sample_rate: int = 48_000):
        self.sample_rate = sample_rate
        self._sound = None
        self._path = os.path.join(tempfile.gettempdir(), "dawnchorus-playback.wav")

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        from kivy.core.audio import SoundLoader

        self.stop()
        with open(self._path, "wb") as fh:
            fh.write(wav_bytes(samples, sample_rate))
        self._sound = SoundLoader.load(self._path)
        if self._sound is not None:
            self._sound.play()

    def stop(self) -> None:
        if self._sound is not None:
            self._sound.stop()
            self._sound = None

    def start_stream(self, pull, sample_rate: int, channels: int, block_frames: int, chunk_s: float = 1.0) -> None:
        """Last resort without a streaming API: play 1-s chunks back to back (small gaps are possible)."""
        self._stop = threading.Event()
        n = max(block_frames, int(chunk_s * sample_rate))

        def run() -> None:
            while not self._stop.is_set():
                self.play(pull(n), sample_rate)
                self._stop.wait(n / sample_rate)

        self._thread = threading.Thread(target=run, daemon=True, name="kivy-chunks")
        self._thread.start()

    def stop_stream(self) -> None:
        if getattr(self, "_stop", None) is not None:
            self._stop.set()
            self._thread.join(timeout=3)
        self.stop()


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of a mono or (n, 2) float buffer, written with the standard library only."""
    import wave

    x = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    channels = 1 if x.ndim == 1 else x.shape[1]
    pcm = (x * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
