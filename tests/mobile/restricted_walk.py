"""Run inside the buildozer-only environment (tests/mobile/restricted_env.py) under Xvfb: start the
staged app, then start-up → record (a WAV file as the microphone) → identify → queue, visit the
other screens, and print one JSON line: timings, the queued item, and every module imported.

Usage: <restricted python> restricted_walk.py APP_DIR DATA_DIR MIC_WAV
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
APP, DATA, MIC = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
sys.path.insert(0, str(APP))
sys.path[:] = [p for p in sys.path if not p.endswith("tests/mobile")]  # only the staged app and the env

from kivy.config import Config  # noqa: E402

Config.set("graphics", "width", "412")
Config.set("graphics", "height", "915")

from kivy.clock import Clock  # noqa: E402

from mobile.services.audio_out import CapturingAudioOut  # noqa: E402
from mobile.services.factory import Services  # noqa: E402
from mobile.services.location import SimulatedWalk  # noqa: E402
from mobile.services.microphone import FileMicrophone  # noqa: E402
from mobile.services.secure_store import MemorySecureStore  # noqa: E402
from mobile.ui.app import DawnChorusApp  # noqa: E402

walk = SimulatedWalk()
services = Services(FileMicrophone(MIC), walk, walk, CapturingAudioOut(), MemorySecureStore())
services.secure_store.set("api_token", "offline-test-token")
services.secure_store.set("username", "robin")
app = DawnChorusApp(data_dir=DATA, server_url="http://127.0.0.1:9", services=services)
app.synchronous = True
report: dict = {"problems": []}


def first_frame(_dt) -> None:
    c = app.client
    c.set_online(False)
    c.models.set_region(c.regions[0])
    app.root.go("record")
    report["cold_start_to_record_s"] = time.perf_counter() - T0
    Clock.schedule_once(walk_steps, 0.2)


def walk_steps(_dt) -> None:
    c = app.client
    try:
        c.start_recording()                    # the file microphone pumps the whole clip at once
        take = c.stop_recording()
        c.mark.select(1.0, 4.0)
        t = time.perf_counter()
        ident = c.identify()
        report["identify_ms"] = (time.perf_counter() - t) * 1000.0
        report["identified"] = ident.label
        report["take_s"] = round(take.duration_s, 2)
        c.save(ident.label, ident.confidence)
        report["queued"] = [(it.label, it.state) for it in c.queue.items()]
    except Exception as exc:  # noqa: BLE001 - reported, the test fails on it
        report["problems"].append(f"record/identify/queue: {exc!r}")
    screens = [s for s in app.root.ids.sm.screen_names if s not in ("login",)]
    report["screens"] = []
    for name in screens:
        try:
            app.root.go(name)
            report["screens"].append(name)
        except Exception as exc:  # noqa: BLE001
            report["problems"].append(f"{name}: {exc!r}")
    Clock.schedule_once(finish, 0.5)


def finish(_dt) -> None:
    report["modules"] = sorted(sys.modules)
    report["soundfile_loaded"] = "soundfile" in sys.modules
    print(json.dumps(report), flush=True)
    app.stop()


Clock.schedule_once(first_frame, 0)
app.run()
