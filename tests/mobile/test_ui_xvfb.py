"""The real Kivy app under Xvfb: walk record → mark → identify → queue (and the other screens)
at a phone and a tablet size, save screenshots in tests/artifacts/, and check the layout."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")


@pytest.fixture(scope="module")
def display(tmp_path_factory):
    """A private X display on the first free number from 90."""
    for number in range(90, 140):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x1400x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.1)
        if proc.poll() is None:
            yield f":{number}"
            proc.terminate()
            proc.wait(10)
            return
    pytest.skip("no free X display")


@pytest.mark.parametrize("size", [(412, 915), (800, 1280)], ids=["phone", "tablet"])
def test_walk_through_every_screen(display, tmp_path, size):
    w, h = size
    env = {**os.environ, "DISPLAY": display, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(tmp_path / "kivy"),
           "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "tests/mobile/ui_walk.py"), str(w), str(h), str(ARTIFACTS),
                          str(tmp_path / "app")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stdout[-2000:] + out.stderr[-3000:]
    report = json.loads(lines[-1])
    assert report["problems"] == []
    names = ["login", "setup", "record", "mark", "identify", "queue", "map", "soundscape", "game", "quiz", "hunt", "timetravel",
             "learn", "teams"]
    assert report["shots"] == [f"{w}x{h}_{n}.png" for n in names]
    for shot in report["shots"]:
        assert (ARTIFACTS / shot).stat().st_size > 5000
    assert report["queued"] == [["Adelaide's Warbler", "waiting"]]  # identified on the phone, queued offline
