"""Pick the device services for this platform (Android, desktop, or a file-fed test setup)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .audio_out import AudiostreamOut, CapturingAudioOut, KivyAudioOut, SounddeviceAudioOut
from .base import AudioOut, Compass, Location, Microphone, SecureStore
from .location import PlyerCompass, PlyerLocation, SimulatedWalk
from .microphone import AndroidMicrophone, FileMicrophone, SounddeviceMicrophone
from .power import AndroidPowerState, FixedPowerState, PowerState
from .secure_store import AndroidKeystoreWrapper, FileSecureStore

DEMO_CLIP = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "XC173620_adelaides_warbler.ogg"


def on_android() -> bool:
    return "ANDROID_ARGUMENT" in os.environ or "ANDROID_PRIVATE" in os.environ


@dataclass
class Services:
    microphone: Microphone
    location: Location
    compass: Compass
    audio_out: AudioOut
    secure_store: SecureStore
    notes: list[str] = field(default_factory=list)  # why a fallback was chosen
    power: PowerState = field(default_factory=FixedPowerState)   # unknown on a desktop: no automatic training
    notify: Callable[[str, str], None] | None = None   # (title, text) -> a phone notification; None: plyer's


def default_services(data_dir: str | Path) -> Services:
    """Android: audiostream + plyer. Desktop: sounddevice, else the file named by ``DAWN_MIC_FILE``
    (default: a real fixture clip) and a simulated walk."""
    notes: list[str] = []
    if on_android():
        store = FileSecureStore(Path(data_dir) / "secure", key_wrapper=android_keystore(notes))
        return Services(AndroidMicrophone(), PlyerLocation(), PlyerCompass(), AudiostreamOut(), store, notes,
                        power=AndroidPowerState())
    store = FileSecureStore(Path(data_dir) / "secure")
    mic_file = os.environ.get("DAWN_MIC_FILE")
    mic: Microphone
    if mic_file:
        mic = FileMicrophone(mic_file, realtime=True)
    else:
        try:
            mic = SounddeviceMicrophone()
        except Exception as exc:  # noqa: BLE001 - ServiceUnavailable or PortAudio errors
            notes.append(f"{exc} Using a demo clip as the microphone.")
            mic = FileMicrophone(DEMO_CLIP, realtime=True, loop=True)
    walk = SimulatedWalk()
    return Services(mic, walk, walk, desktop_audio_out(os.environ.get("DAWN_AUDIO_OUT", "auto")), store, notes)


def android_keystore(notes: list[str]) -> AndroidKeystoreWrapper | None:
    """The Keystore wrapper, or None (key file protected by app-private storage only) if it fails."""
    try:
        return AndroidKeystoreWrapper()
    except Exception as exc:  # noqa: BLE001 - very old Android or no Keystore provider
        notes.append(f"Android Keystore unavailable ({exc}); the token key is kept in app-private storage.")
        return None


def desktop_audio_out(choice: str = "auto") -> AudioOut:
    """``auto``: sounddevice (gapless callback stream) when installed, else Kivy; ``capture``: no sound."""
    if choice == "capture":
        return CapturingAudioOut()
    if choice in ("auto", "sounddevice"):
        try:
            return SounddeviceAudioOut()
        except Exception:  # noqa: BLE001 - not installed, or no PortAudio device
            pass
    return KivyAudioOut()
