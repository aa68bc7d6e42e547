"""The real Kivy app under Xvfb: walk record → mark → identify (licence chosen) → queue, a record's edit and
withdrawal, an uploaded record's licence changed through its observation's terms,
the map (a tap opens a point's details and plays its public clip; an unreachable tile server falls
back to the offline basemap, said in words), the artistic mix of a past day, the identification game
(points earned) and the game screens, at a phone and a tablet size; screenshots in
tests/artifacts/mobile/, layout checked (nothing cut off, overlapping, outside the window or stock)."""
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
ARTIFACTS = ROOT / "tests" / "artifacts" / "mobile"
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


@pytest.fixture(scope="module")
def basemap():
    """The offline MBTiles basemap (built once from the bundled Natural Earth data, then reused)."""
    from mobile import basemap_build

    path = basemap_build.ensure()
    if path is None:
        pytest.skip("the world-atlas npm package (webmap/node_modules) is not installed")
    return path


@pytest.mark.parametrize("size", [(412, 915), (800, 1280)], ids=["phone", "tablet"])
def test_walk_through_every_screen(display, basemap, tmp_path, size):
    w, h = size
    env = {**os.environ, "DISPLAY": display, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(tmp_path / "kivy"),
           "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1", "DAWN_MBTILES": str(basemap)}
    out = subprocess.run([sys.executable, str(ROOT / "tests/mobile/ui_walk.py"), str(w), str(h), str(ARTIFACTS),
                          str(tmp_path / "app")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stdout[-2000:] + out.stderr[-3000:]
    report = json.loads(lines[-1])
    assert report["problems"] == []
    names = ["login", "setup", "record", "mark", "identify", "queue", "record_detail", "map", "tiles_offline",
             "soundscape", "game", "quiz", "community", "hunt", "timetravel", "learn", "teams", "withdrawn",
             "record_licence", "licence_saved"]
    assert report["shots"] == [f"{w}x{h}_{n}.png" for n in names]
    for shot in report["shots"]:
        assert (ARTIFACTS / shot).stat().st_size > 5000
    b = report["behaviour"]
    assert b["queued"] == [["Adelaide's Warbler", "waiting"]]  # identified on the phone, queued offline
    # the licence picker: CC BY-NC 4.0 by default, the player's tap on CC BY 4.0 goes into the upload's metadata
    assert b["licence_default"] == "cc-by-nc-4.0" and b["queued_licence"] == ["cc-by-4.0"]
    assert b["detail_licence"] == ["cc-by-4.0", True]
    assert b["before_edit"] == ["Adelaide's Warbler", ""]
    assert b["after_edit"] == ["Bananaquit", "Two birds in the canopy"]  # edited in the queue before upload
    # the map: public points as dots, the obscured one only as its cell, the quest's area; a tap opens the
    # details and the public clip plays
    assert (b["map_points"], b["map_cells"], b["map_areas"]) == (3, 1, 1)
    assert b["map_detail"][:3] == ["Bananaquit", True, 1] and b["map_detail"][3] >= 1
    notice, fell_back = b["tiles_offline"]
    assert "cannot be reached" in notice and fell_back
    assert b["mix"][0] is True and b["mix"][2] == 1  # one Play: the past day's artistic mix
    assert b["live"] == ["alltime", ["alltime"], True, "Quest done: Find three warblers!"]
    first, second, points, identified, progress = b["community"]
    assert (first, second, points, identified) == ("Bananaquit", "Puerto Rican Tody", 12, 1)
    assert "12 points" in progress
    # an uploaded record's page: its licence from the server; CC0 chosen there is PATCHed to its observation's terms
    assert b["uploaded_licence"] == ["cc-by-nc-4.0", True]
    assert b["terms_patch"] == [["/api/v1/observations/55/terms/", {"license": "cc0-1.0"}]]
    queued, history, screen, empty = b["withdrawn"]
    assert (queued, history, screen) == (0, 0, "queue") and empty  # never uploaded, gone from the history
