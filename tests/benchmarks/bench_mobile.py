"""Field-client benchmarks: on-device identification of a 3-s segment, cold start to the record
screen (Xvfb), and the soundscape renderer with 32 sources at 20 ms blocks.

    .venv/bin/python tests/benchmarks/bench_mobile.py [--repeats 30] [--seconds 20]

Prints a table and one JSON line. Targets (issue #7): identification <= 30 ms (numpy only),
cold start <= 3 s (also in the environment holding only what mobile/buildozer.spec lists:
tests/mobile/restricted_env.py), no underruns at 20 ms blocks. Peers measured in the same run: the classifier
alone vs the phone's full identify step (classifier + quality + speech checks); 32 sources vs 8.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from ml.runtime.classifier import load_classifier  # noqa: E402
from mobile.identify import identify  # noqa: E402

COLD_START = r"""
import sys, time
t0 = float(sys.argv[1]); sys.path.insert(0, sys.argv[2])
from kivy.config import Config
Config.set("graphics", "width", "412"); Config.set("graphics", "height", "915")
from kivy.clock import Clock
from mobile.services.factory import default_services
from mobile.ui.app import DawnChorusApp
from mobile.modelstore import REGIONS
services = default_services(sys.argv[3])
services.secure_store.set("api_token", "bench"); services.secure_store.set("username", "bench")
app = DawnChorusApp(data_dir=sys.argv[3], server_url="http://127.0.0.1:9", services=services)
def shown(_dt):
    if app.root is not None and app.root.ids.sm.current == "record":
        print("READY", time.time() - t0, flush=True); app.stop()
Clock.schedule_once(shown, 0)
app.run()
"""


def bench_identify(repeats: int) -> dict:
    clf = load_classifier()
    clips = sorted(glob.glob(str(ROOT / "fixtures/audio/XC*.ogg")))
    segs = []
    for path in clips:
        x, sr = soundfile.read(path, dtype="float32")
        segs.append((x[: 3 * sr], sr))
    clf.classify(*segs[0])  # warm caches
    cls, full = [], []
    for _ in range(repeats):
        for x, sr in segs:
            t = time.perf_counter()
            clf.classify(x, sr)
            cls.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            identify(clf, x, sr)
            full.append((time.perf_counter() - t) * 1000)
    return {"classify_ms_median": statistics.median(cls), "classify_ms_p95": float(np.percentile(cls, 95)),
            "identify_with_checks_ms_median": statistics.median(full),
            "identify_with_checks_ms_p95": float(np.percentile(full, 95)), "segments": len(cls)}


def bench_cold_start(runs: int = 3, restricted: bool = False) -> dict:
    """Cold start to the record screen with this interpreter, or (``restricted``) in the environment
    holding only what mobile/buildozer.spec lists, running the app staged as buildozer packages it."""
    if shutil.which("Xvfb") is None:
        return {"cold_start_s": None}
    python, app_root, isolate = [sys.executable], ROOT, []
    mic = ROOT / "fixtures/audio/XC32051_bananaquit.ogg"
    if restricted:
        from mobile.services.audio_out import wav_bytes
        from mobile.services.microphone import FileMicrophone
        from tests.mobile.restricted_env import build

        env_ = build()
        python, app_root, isolate = [str(env_.python)], env_.app, ["-I"]
        clip = FileMicrophone(mic)
        mic = Path(tempfile.mkdtemp()) / "mic.wav"
        mic.write_bytes(wav_bytes(clip.samples, clip.sample_rate))   # the phone build reads WAV only
    display = ":%d" % (150 + os.getpid() % 50)
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x1400x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    times = []
    try:
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "models").mkdir()
                (Path(tmp) / "models" / "region.json").write_text('{"key": "pr"}')
                env = {**os.environ, "DISPLAY": display, "KIVY_NO_ARGS": "1", "KIVY_HOME": tmp + "/kivy",
                       "KIVY_NO_CONSOLELOG": "1", "KIVY_CLIPBOARD": "sdl2", "DAWN_MIC_FILE": str(mic)}
                out = subprocess.run([*python, *isolate, "-c", COLD_START, str(time.time()), str(app_root), tmp],
                                     env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
                ready = [line for line in out.stdout.splitlines() if line.startswith("READY")]
                if ready:
                    times.append(float(ready[0].split()[1]))
    finally:
        xvfb.terminate()
    return {"cold_start_s_median": statistics.median(times) if times else None, "cold_start_runs": len(times)}


def bench_soundscape(n_sources: int, seconds: float) -> dict:
    from mobile.services.location import SimulatedWalk, offset
    from mobile.soundscape import SoundscapeController, source_from_file

    walk = SimulatedWalk(radius_m=40)
    sc = SoundscapeController(None, walk, walk, tempfile.mkdtemp())
    files = sorted(glob.glob(str(ROOT / "fixtures/audio/XC*.ogg")))
    srcs = []
    for i in range(n_sources):
        lat, lng = offset(walk.lat0, walk.lng0, 15.0 * ((i % 8) - 4), 12.0 * ((i // 8) - 2))
        f = files[i % len(files)]
        srcs.append(source_from_file(f, f"s{i}", lat, lng, Path(f).stem, count=1 + i % 5))
    t = time.perf_counter()
    sc.set_sources(srcs)
    prepare_s = time.perf_counter() - t
    blocks = int(seconds / 0.02)
    for _ in range(blocks):
        sc.next_block()
    ms = list(sc.stats.times_ms)
    out = {"sources": n_sources, "blocks": blocks, "block_ms": 20.0, "prepare_s": prepare_s,
           "render_ms_median": statistics.median(ms), "render_ms_p99": float(np.percentile(ms, 99)),
           "render_ms_max": max(ms), "underruns": sc.stats.underruns}
    # the real output path: render-ahead thread → ring buffer (6 blocks) → a device pulling 20 ms in real time
    from mobile.streaming import ClockedSink

    stream_s = min(seconds, 10.0)
    sink = ClockedSink(keep_s=1.0)
    player = sc.play(sink)
    time.sleep(stream_s)
    sc.stop()
    st = player.stats
    out.update({"stream_s": stream_s, "stream_pulls": st.pulls, "stream_underruns": st.underruns,
                "stream_missing_ms": 1000.0 * st.missing_frames / sc.renderer.cfg.sample_rate})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    ident = bench_identify(args.repeats)
    cold = bench_cold_start()
    cold_restricted = bench_cold_start(restricted=True)
    sc32 = bench_soundscape(32, args.seconds)
    sc8 = bench_soundscape(8, args.seconds)
    rows = [("identify 3 s: classifier (ms, median / p95)", f"{ident['classify_ms_median']:.1f} / {ident['classify_ms_p95']:.1f}", "<= 30"),
            ("identify 3 s: + quality + speech checks (ms)", f"{ident['identify_with_checks_ms_median']:.1f} / {ident['identify_with_checks_ms_p95']:.1f}", "peer"),
            ("cold start to record screen (s, median)", f"{cold['cold_start_s_median']:.2f}" if cold.get("cold_start_s_median") else "n/a", "<= 3"),
            ("cold start, buildozer-only environment (s, median)", f"{cold_restricted['cold_start_s_median']:.2f}" if cold_restricted.get("cold_start_s_median") else "n/a", "<= 3"),
            ("soundscape 32 src: block render (ms, median / p99 / max)", f"{sc32['render_ms_median']:.2f} / {sc32['render_ms_p99']:.2f} / {sc32['render_ms_max']:.2f}", "< 20"),
            ("soundscape 32 src: blocks slower than 20 ms", f"{sc32['underruns']} of {sc32['blocks']}", "0"),
            ("soundscape 32 src: streamed underruns (ring, real time)", f"{sc32['stream_underruns']} of {sc32['stream_pulls']}", "0"),
            ("soundscape 32 src: scene preparation (s)", f"{sc32['prepare_s']:.2f}", "-"),
            ("soundscape 8 src (peer): block render (ms, median / p99)", f"{sc8['render_ms_median']:.2f} / {sc8['render_ms_p99']:.2f}", "peer"),
            ("soundscape 8 src: blocks slower than 20 ms", f"{sc8['underruns']} of {sc8['blocks']}", "0"),
            ("soundscape 8 src: streamed underruns (ring, real time)", f"{sc8['stream_underruns']} of {sc8['stream_pulls']}", "0")]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>24}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>24}  {target}")
    print(json.dumps({"bench": "mobile", "identify": ident, "cold_start": cold,
                      "cold_start_restricted": cold_restricted, "soundscape_32": sc32,
                      "soundscape_8": sc8}, default=float))


if __name__ == "__main__":
    main()
