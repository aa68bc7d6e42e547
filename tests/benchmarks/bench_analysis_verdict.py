"""Analysis throughput per worker with and without the verifier, on the ingest benchmark's mix of clips.

``python tests/benchmarks/bench_analysis_verdict.py [--n 60]``: the clips of ``bench_ingest`` (80 % 5-s Ogg/Opus
cuts of birds-pr recordings, 20 % UrbanSound8K clips; the fixture clips without ../shared), each analysed by
``server.recordings.analysis.analyse_audio`` (decode, quality, speech, fingerprint, verdict) on one thread, first
with the field model alone, then with the verifier on every recording, then with the verifier behind the verdict's
gate (``ml.verdict.Gate``, from the verifier file's combination; the row is left out when it has none). The peers are
measured in the same run. Prints a table and one JSON line: recordings per second per worker, milliseconds per
recording (median and p90), how often the verifier changed the answer and how often the gate skipped it.
``--model`` / ``--verifier`` pick the files (default: ``load_classifier()``'s and ``load_verifier()``'s).
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
    parser.add_argument("--model", default=None, help="field model file (default: the shipped default)")
    parser.add_argument("--verifier", default=None, help="verifier file (default: the shipped verifier)")
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
    import copy

    field = load_classifier(args.model)
    verifier = load_verifier(args.verifier)
    always = copy.copy(verifier)
    always.combination = {k: v for k, v in verifier.combination.items() if k != "gate"}
    runs = [("field model alone", None), ("field model + verifier", always)]
    if verifier.combination.get("gate"):
        runs.append(("field model + verifier behind the gate", verifier))
    rows, labels, skipped = {}, {}, 0.0
    with one_thread():
        for name, ver in runs:
            times, answers, ran = [], [], []
            for _, data, _ in clips:
                duration = probe(data).duration
                t0 = time.perf_counter()
                out = analyse_audio(data, (0.0, duration), None, field, ver)
                times.append(time.perf_counter() - t0)
                answers.append(out.prediction.label if out.prediction else out.reject_code)
                ran.append("verifier" in out.answers or out.prediction is None)
            t = np.array(times)
            rows[name] = {"recordings_per_s": round(len(t) / t.sum(), 2), "ms_median": round(1000 * np.median(t), 1),
                          "ms_p90": round(1000 * np.percentile(t, 90), 1)}
            labels[name] = answers
            if ver is verifier and ver is not always:
                skipped = 1.0 - float(np.mean(ran))
    changed = float(np.mean([a != b for a, b in zip(labels["field model alone"], labels["field model + verifier"])]))
    truth = [label for _, _, label in clips]
    for name in rows:
        rows[name]["accuracy_on_mix"] = round(float(np.mean([a == y for a, y in zip(labels[name], truth)])), 3)
    print("| analysis | recordings/s per worker | ms median | ms p90 | accuracy on the mix |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['recordings_per_s']} | {r['ms_median']} | {r['ms_p90']} | {r['accuracy_on_mix']} |")
    print(json.dumps({"bench": "analysis_verdict", "n": len(clips), "field_model": field.version,
                      "verifier": verifier.version, "answers_changed_by_verifier": round(changed, 3),
                      "gate": verifier.combination.get("gate") or None, "skipped_by_gate": round(skipped, 3), **rows,
                      "target_recordings_per_s": 10}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
