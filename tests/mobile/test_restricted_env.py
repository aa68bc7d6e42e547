"""The phone code runs with only what mobile/buildozer.spec lists: a venv of exactly those
distributions (plus what their python-for-android recipes pull in) runs the staged app under Xvfb
through start-up → record (file microphone) → identify → queue, and imports nothing else."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from mobile.services.audio_out import wav_bytes
from mobile.services.microphone import FileMicrophone

from .conftest import WARBLER
from .restricted_env import ROOT, allowed_distributions, build, foreign_modules, spec_requirements
from .test_ui_xvfb import display  # noqa: F401 - the private X display fixture

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")


def test_the_spec_lists_what_the_phone_imports_and_nothing_desktop_only():
    reqs = spec_requirements()
    assert {"kivy", "numpy", "plyer", "requests", "websockets", "cryptography"} <= set(reqs)
    assert not {"soundfile", "h3", "scipy", "torch", "django", "sounddevice"} & set(reqs)
    dists = allowed_distributions(reqs)
    assert "cffi" in dists and "pycparser" in dists and "filetype" in dists   # the recipes' own dependencies
    assert "pyjnius" not in dists and "android" not in dists


def test_foreign_modules_names_what_the_spec_does_not_cover():
    allowed = frozenset({"kivy", "numpy"})
    mods = ["os", "json", "kivy.core", "numpy", "mobile.api", "ml", "ml.runtime.audio", "_io",
            "soundfile", "h3", "ml.train", "server.settings"]
    assert foreign_modules(mods, allowed) == ["h3", "ml.train", "server.settings", "soundfile"]


def test_record_identify_queue_in_the_buildozer_only_environment(display, tmp_path):  # noqa: F811
    env = build()
    mic = tmp_path / "mic.wav"
    clip = FileMicrophone(WARBLER)
    mic.write_bytes(wav_bytes(clip.samples, clip.sample_rate))   # phones record PCM; no decoder needed
    probe = subprocess.run([str(env.python), "-c", "import soundfile"], capture_output=True, text=True)
    assert probe.returncode != 0, "the restricted environment must not hold soundfile"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run_env.update({"DISPLAY": display, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(tmp_path / "kivy"),
                    "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1", "KIVY_CLIPBOARD": "sdl2"})
    out = subprocess.run([str(env.python), "-I", str(ROOT / "tests/mobile/restricted_walk.py"), str(env.app),
                          str(tmp_path / "data"), str(mic)], cwd=tmp_path, env=run_env, capture_output=True,
                         text=True, timeout=180)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stdout[-2000:] + out.stderr[-3000:]
    report = json.loads(lines[-1])
    assert report["problems"] == []
    assert report["identified"] == "Adelaide's Warbler"
    assert report["queued"] == [["Adelaide's Warbler", "waiting"]]
    assert {"record", "queue", "map"} <= set(report["screens"])
    assert not report["soundfile_loaded"]
    assert foreign_modules(report["modules"], env.top_level) == []
    assert all(m.startswith("ml.runtime") or m == "ml" for m in report["modules"] if m.split(".")[0] == "ml")
