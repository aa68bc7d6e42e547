"""The field client's logic without a window: record a real clip, mark, identify, queue offline."""
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from mobile.controller import FieldClient, UserError
from mobile.offline_queue import WAITING
from mobile.services.microphone import FileMicrophone

from .conftest import AUDIO, ROOT, make_services


def test_record_mark_identify_and_queue_a_real_clip_offline(field):
    field.recorder.set_gain(6.0)
    field.start_recording()  # offline: no session token, recording still works
    take = field.stop_recording()
    assert take.duration_s == pytest.approx(6.0, abs=0.05) and take.channels == 1
    assert field.recorder.level[0] > -60  # the meter saw the bird
    field.mark.select(1.0, 4.0)
    assert field.mark.selection().shape[0] == 3 * take.sample_rate
    field.mark.play_selection()
    played, sr = field.services.audio_out.played[-1]
    assert sr == take.sample_rate and played.shape[0] == 3 * sr
    ident = field.identify()
    assert ident.label == "Adelaide's Warbler" and 0.41 <= ident.confidence <= 1.0
    assert ident.model_version == "field-phinet-2026.12-s20261206" and not ident.blocked
    assert all(lab != ident.label for lab, _ in ident.alternatives)
    item = field.save(ident.label)
    assert item.state == WAITING
    meta = item.metadata
    assert meta["segment"] == {"start_s": 1.0, "end_s": 4.0}
    assert meta["identification"]["label"] == "Adelaide's Warbler"
    assert meta["identification"]["confidence"] == pytest.approx(ident.confidence, abs=1e-4)
    assert meta["recorded_at"].endswith("+00:00") and meta["location"]["accuracy_m"] == 8.0
    assert 8 <= len(meta["idempotency_key"]) <= 64
    result = field.sync()  # still offline: nothing lost, nothing rejected
    assert result.offline and field.queue.get(item.key).state == WAITING
    assert field.queue.get(item.key).attempts == 1


def test_quality_verdicts_for_quiet_and_clipped_takes(tmp_path):
    quiet = make_services()
    quiet.microphone.samples = quiet.microphone.samples * 1e-4
    client = FieldClient(tmp_path / "a", "http://127.0.0.1:9", quiet)
    client.start_recording()
    client.stop_recording()
    codes = {v.code for v in client.identify().verdicts}
    assert "silent" in codes and client.identification.blocked
    client.close()
    loud = make_services()
    client = FieldClient(tmp_path / "b", "http://127.0.0.1:9", loud)
    client.recorder.set_gain(30.0)  # +30 dB drives the ADC into clipping
    client.start_recording()
    client.stop_recording()
    assert client.recorder.clipping
    assert "clipped" in {v.code for v in client.identify().verdicts}
    client.close()


def test_speech_is_flagged(tmp_path):
    client = FieldClient(tmp_path, "http://127.0.0.1:9", make_services(AUDIO / "speech_espeak.wav"))
    client.start_recording()
    take = client.stop_recording()
    client.mark.select(0, take.duration_s)
    assert "speech_detected" in {v.code for v in client.identify().verdicts}
    client.close()


def test_gps_unavailable_keeps_the_take(field):
    field.start_recording()
    field.stop_recording()
    field.identify()
    field.services.location.available = False
    with pytest.raises(UserError) as exc:
        field.save("unknown")
    assert exc.value.code == "gps_unavailable" and "GPS" in exc.value.message
    assert field.mark is not None and field.queue.items() == []
    field.services.location.available = True
    assert field.save("unknown").metadata["identification"] == {
        "label": "unknown", "confidence": None, "model_version": "field-phinet-2026.12-s20261206"}


def test_the_take_carries_the_chosen_licence_and_rating(field):
    field.start_recording()
    field.stop_recording()
    field.identify()
    with pytest.raises(UserError) as exc:
        field.save("unknown", licence="all-rights-reserved")
    assert exc.value.code == "invalid_license" and field.mark is not None
    with pytest.raises(UserError) as exc:
        field.save("unknown", rating="F")
    assert exc.value.code == "invalid_rating" and field.queue.items() == []
    meta = field.save("unknown", licence="cc0-1.0", rating="B").metadata
    assert meta["license"] == "cc0-1.0" and meta["rating"] == "B"
    field.start_recording()
    field.stop_recording()
    field.identify()
    plain = field.save("unknown").metadata
    assert plain["license"] == "cc-by-nc-4.0" and "rating" not in plain  # the default; no rating


def test_binaural_take_keeps_two_channels(tmp_path):
    import soundfile

    x, sr = soundfile.read(AUDIO / "XC32051_bananaquit.ogg", dtype="float32")
    stereo = np.stack([x, 0.5 * x], axis=1)
    soundfile.write(tmp_path / "stereo.wav", stereo, sr)
    services = make_services()
    services.microphone = FileMicrophone(tmp_path / "stereo.wav", keep_stereo=True)
    client = FieldClient(tmp_path / "app", "http://127.0.0.1:9", services)
    assert client.recorder.binaural
    client.start_recording()
    take = client.stop_recording()
    assert take.channels == 2
    item = client.save(client.identify().label)
    data = client.queue.audio(item)
    assert soundfile.info(__import__("io").BytesIO(data)).channels == 2
    client.close()


def test_discard_and_too_short(field):
    field.start_recording()
    field.discard()
    assert field.mark is None and not field.recorder.recording
    field.recorder.max_seconds = 0.2
    field.start_recording()
    with pytest.raises(UserError) as exc:
        field.stop_recording()
    assert exc.value.code == "take_too_short"


def test_mobile_imports_neither_torch_nor_django():
    code = ("import sys, pkgutil, importlib, mobile\n"
            "for m in pkgutil.walk_packages(mobile.__path__, 'mobile.'):\n"
            "    if m.name != 'mobile.main': importlib.import_module(m.name)\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'django', 'rest_framework', 'librosa'))\n"
            "print(len([k for k in sys.modules if k.startswith('mobile.')]), bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1",
                              "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert out.returncode == 0, out.stderr
    count, bad = out.stdout.strip().split(" ", 1)
    assert int(count) >= 15 and bad == "[]"


def test_token_is_stored_encrypted(tmp_path):
    from mobile.services.secure_store import FileSecureStore

    store = FileSecureStore(tmp_path)
    store.set("api_token", "abc123secret")
    assert b"abc123secret" not in (tmp_path / "secrets.bin").read_bytes()
    assert FileSecureStore(tmp_path).get("api_token") == "abc123secret"
    (tmp_path / "secrets.bin").write_bytes(b"garbage")
    assert FileSecureStore(tmp_path).get("api_token") is None
    assert (tmp_path / "secrets.bin").stat().st_mode & 0o077 == 0
    assert (tmp_path / "secrets.key").stat().st_mode & 0o077 == 0


class XorKeystore:
    """A stand-in for the Android Keystore: wraps with a key the files never hold."""

    def __init__(self, secret: int):
        self.secret = secret

    def wrap(self, data: bytes) -> bytes:
        return b"W" + bytes(b ^ self.secret for b in data)

    def unwrap(self, blob: bytes) -> bytes:
        if not blob.startswith(b"W"):
            raise ValueError("not wrapped")
        out = bytes(b ^ self.secret for b in blob[1:])
        if not out.isascii() or len(out.strip()) != 44:
            raise ValueError("wrong keystore key")
        return out


def test_keystore_wrapped_key_survives_restarts_migrates_old_files_and_fails_safe(tmp_path):
    from cryptography.fernet import Fernet

    from mobile.services.secure_store import FileSecureStore

    plain_dir, wrapped_dir = tmp_path / "plain", tmp_path / "wrapped"
    FileSecureStore(plain_dir).set("api_token", "old-token")           # an install from before the keystore
    migrated = FileSecureStore(plain_dir, key_wrapper=XorKeystore(0x5A))
    assert migrated.get("api_token") == "old-token"                        # still signed in after the update
    assert (plain_dir / "secrets.key").read_bytes().startswith(b"W")       # and the key file is wrapped now

    store = FileSecureStore(wrapped_dir, key_wrapper=XorKeystore(0x33))
    store.set("api_token", "s3cret")
    key_file = (wrapped_dir / "secrets.key").read_bytes()
    assert key_file.startswith(b"W") and len(key_file.strip()) != 44     # no bare Fernet key on disk
    assert FileSecureStore(wrapped_dir, key_wrapper=XorKeystore(0x33)).get("api_token") == "s3cret"
    with pytest.raises(Exception):                                          # the files alone do not reveal it
        Fernet(key_file.strip()).decrypt((wrapped_dir / "secrets.bin").read_bytes())
    lost = FileSecureStore(wrapped_dir, key_wrapper=XorKeystore(0x77))     # keystore reset: sign in again
    assert lost.get("api_token") is None
    lost.set("api_token", "fresh")
    assert FileSecureStore(wrapped_dir, key_wrapper=XorKeystore(0x77)).get("api_token") == "fresh"


def test_android_staging_has_the_runtime_and_nothing_heavy(tmp_path):
    from mobile.stage import stage

    dest = stage(tmp_path / "app")
    assert (dest / "main.py").exists() and (dest / "ml" / "runtime" / "classifier.py").exists()
    assert sorted(p.name for p in (dest / "fixtures" / "models").iterdir()) == ["field.npz"]   # the fallback only
    assert (dest / "mobile" / "ui" / "kv" / "root.kv").exists()
    assert not (dest / "server").exists() and not (dest / "ml" / "train.py").exists()
    text = "\n".join(p.read_text() for p in dest.rglob("*.py"))
    import re

    assert not re.search(r"^\s*(import|from) (torch|django|librosa)\b", text, re.M)
    spec = (ROOT / "mobile" / "buildozer.spec").read_text()
    assert "RECORD_AUDIO" in spec and "ACCESS_FINE_LOCATION" in spec and "INTERNET" in spec
    req = next(line for line in spec.splitlines() if line.startswith("requirements"))
    assert "numpy" in req and "kivy" in req and "plyer" in req and "torch" not in req
