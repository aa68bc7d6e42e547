"""Analysis throughput per worker with and without the verifier, on the ingest benchmark's mix of clips.

``python tests/benchmarks/bench_analysis_verdict.py [--n 60]``: the clips of ``bench_ingest`` (80 % 5-s Ogg/Opus
cuts of birds-pr recordings, 20 % UrbanSound8K clips; the fixture clips without ../shared), each analysed by
``server.recordings.analysis.analyse_audio`` (decode, quality, speech, fingerprint, verdict) on one thread, first
with the field model alone, then with the verifier (the peer measured in the same run). Prints a table and one
JSON line: recordings per second per worker, milliseconds per recording (median and p90), and how often the
verifier changed the answer.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="clips in the mix")
    args = parser.parse_args(argv)
    import django

    django.setup()
    from ml.runtime.audio import probe
    from ml.runtime.classifier import load_classifier
    from ml.threads import one_thread
    from ml.verifier import load_verifier
    from server.recordings.analysis import analyse_audio
    from tests.benchmarks.bench_ingest import SHARED, fixture_clips, shared_clips

    clips = shared_clips(args.n, seed=7) if SHARED.exists() else fixture_clips(args.n)
    field = load_classifier()
    verifier = load_verifier()
    rows, labels = {}, {}
    with one_thread():
        for name, ver in (("field model alone", None), ("field model + verifier", verifier)):
            times, answers = [], []
            for _, data, _ in clips:
                duration = probe(data).duration
                t0 = time.perf_counter()
                out = analyse_audio(data, (0.0, duration), None, field, ver)
                times.append(time.perf_counter() - t0)
                answers.append(out.prediction.label if out.prediction else out.reject_code)
            t = np.array(times)
            rows[name] = {"recordings_per_s": round(len(t) / t.sum(), 2), "ms_median": round(1000 * np.median(t), 1),
                          "ms_p90": round(1000 * np.percentile(t, 90), 1)}
            labels[name] = answers
    changed = float(np.mean([a != b for a, b in zip(*labels.values())]))
    truth = [label for _, _, label in clips]
    for name in rows:
        rows[name]["accuracy_on_mix"] = round(float(np.mean([a == y for a, y in zip(labels[name], truth)])), 3)
    print("| analysis | recordings/s per worker | ms median | ms p90 | accuracy on the mix |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['recordings_per_s']} | {r['ms_median']} | {r['ms_p90']} | {r['accuracy_on_mix']} |")
    print(json.dumps({"bench": "analysis_verdict", "n": len(clips), "field_model": field.version,
                      "verifier": verifier.version, "answers_changed_by_verifier": round(changed, 3), **rows,
                      "target_recordings_per_s": 10}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
