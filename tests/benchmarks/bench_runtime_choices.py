"""The design choices in ``ml/runtime`` that rest on a speed difference, each timed against its peer.

    .venv/bin/python tests/benchmarks/bench_runtime_choices.py [--repeats 30]

On the shipped fixture clips (``fixtures/audio``, 6-s Ogg/Opus bird takes at 48 kHz) and the shipped
PhiNet student (``fixtures/models/birds.npz``), in this process, median of ``--repeats`` runs:

* log-mel of every 3-s window: ``batch_features.log_mel_windows`` against ``features.log_mel`` per window;
* Ogg/Opus decoding at the model's rate: libopus (``opus.decode_ogg_opus``) against libsndfile and the
  block resampler (``audio._decode_blocks``, what ``audio.decode`` falls back to);
* the public clip's encoding, 5 s at 24 kHz: libopus at complexity 5 (what ``reencode`` uses) against
  complexity 10 and libsndfile's writer (``audio.encode_ogg_opus``);
* the PhiNet student on 60 s of audio: ``WINDOW_BATCH`` windows at a time against all windows at once;
* numpy's real FFT of the quality checks' frames in float32 against float64.

Prints a table and one JSON line. Figures and the machine they came from: ``docs/performance.md``.
"""
from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ml.runtime import audio, batch_features, features, opus, opus_encode, phinet_model  # noqa: E402
from ml.runtime.classifier import load_classifier  # noqa: E402


def paired_ms(chosen, peer, repeats: int) -> tuple[float, float]:
    """Median milliseconds of ``chosen`` and ``peer``, run alternately so that a shared machine's load
    falls on both alike."""
    chosen(), peer()  # warm caches (filterbanks, libopus, the model's plan)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((chosen, times[0]), (peer, times[1])):
            t = time.perf_counter()
            fn()
            out.append(1000.0 * (time.perf_counter() - t))
    return statistics.median(times[0]), statistics.median(times[1])


def rows(repeats: int) -> list[dict]:
    take = Path(sorted(glob.glob(str(ROOT / "fixtures/audio/XC*.ogg")))[0]).read_bytes()
    model = load_classifier(ROOT / "fixtures/models/birds.npz")
    params, sr = model.feature_params, model.feature_params.sample_rate
    samples, _ = audio.decode(take, sample_rate=sr)
    five_s = samples[: 5 * sr].astype(np.float32)
    minute = np.tile(samples, 60 * sr // len(samples) + 1)[: 60 * sr].astype(np.float32)
    info = audio.probe(take)
    frames = np.lib.stride_tricks.sliding_window_view(five_s, 1024)[::256]

    def per_window():
        return [features.log_mel(w, params) for w in features.windows(five_s, params)]

    def all_at_once():
        saved = phinet_model.WINDOW_BATCH
        phinet_model.WINDOW_BATCH = 10**6
        try:
            model.classify(minute, sr)
        finally:
            phinet_model.WINDOW_BATCH = saved

    out = []

    def row(name: str, chosen: str, chosen_fn, peer: str, peer_fn, repeats: int = repeats) -> None:
        chosen_ms, peer_ms = paired_ms(chosen_fn, peer_fn, repeats)
        out.append({"choice": name, "chosen": chosen, "chosen_ms": round(chosen_ms, 2), "peer": peer,
                    "peer_ms": round(peer_ms, 2), "peer_over_chosen": round(peer_ms / chosen_ms, 2)})

    row("log-mel of a 5-s clip", "log_mel_windows", lambda: batch_features.log_mel_windows(five_s, params),
        "log_mel per window", per_window)
    row("decode a 6-s phone take", "libopus", lambda: opus.decode_ogg_opus(take, sr, 60.0),
        "libsndfile + resampler", lambda: audio._decode_blocks(take, info, sr, 60.0))
    clip = five_s if sr == 24_000 else audio.resample(five_s, sr, 24_000)
    row("encode a 5-s public clip", "libopus complexity 5", lambda: opus_encode.encode(clip, 24_000, complexity=5),
        "libopus complexity 10", lambda: opus_encode.encode(clip, 24_000, complexity=10))
    row("encode a 5-s public clip", "libopus complexity 5", lambda: opus_encode.encode(clip, 24_000, complexity=5),
        "libsndfile's writer", lambda: audio.encode_ogg_opus(clip, 24_000))
    row("PhiNet on 60 s of audio", f"WINDOW_BATCH = {phinet_model.WINDOW_BATCH}", lambda: model.classify(minute, sr),
        "all windows at once", all_at_once, max(5, repeats // 3))
    row("numpy rfft of 5 s of frames", "float64", lambda: np.fft.rfft(frames.astype(np.float64)),
        "float32", lambda: np.fft.rfft(frames))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    results = rows(args.repeats)
    print(f"{'choice':<28} {'chosen':<24} {'ms':>8}   {'peer':<24} {'ms':>8}  peer/chosen", file=sys.stderr)
    for r in results:
        print(f"{r['choice']:<28} {r['chosen']:<24} {r['chosen_ms']:>8.2f}   {r['peer']:<24} {r['peer_ms']:>8.2f}  "
              f"{r['peer_over_chosen']:>6.2f}", file=sys.stderr)
    print(json.dumps({"benchmark": "runtime-choices", "repeats": args.repeats, "rows": results}))


if __name__ == "__main__":
    main()
