"""``ml.runtime`` and the shipped models work in a process where torch cannot be imported."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib.abc, json, sys

class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "librosa", "django", "kivy"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, BlockTorch())
import numpy as np
from ml.runtime.audio import decode
from ml.runtime.classifier import load_classifier

out = {}
for name, clip in (("birds.npz", "XC32051_bananaquit.ogg"), ("baseline.npz", "US8K_159738-8-0-16_siren.ogg")):
    clf = load_classifier(f"fixtures/models/{name}")
    samples, sr = decode(open(f"fixtures/audio/{clip}", "rb").read())
    pred = clf.classify(samples, sr)
    emb = clf.embed_windows(samples, sr)
    out[name] = {"ranked": pred.ranked[0][0], "sum": float(clf.file_probabilities(samples, sr).sum()),
                 "emb": list(emb.shape), "head": list(clf.head()["weight"].shape)}
out["torch_loaded"] = any(m.split(".")[0] == "torch" for m in sys.modules)
print(json.dumps(out))
"""


def test_runtime_imports_and_classifies_with_torch_blocked():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("torch_loaded") is False
    for name, result in out.items():
        assert abs(result["sum"] - 1.0) < 1e-6, name
        assert result["emb"][1] == result["head"][0], name  # the embedding feeds the head
    assert out["birds.npz"]["emb"][0] == 3  # 6 s of audio: three 3-s windows (1.5-s hop)
    assert out["birds.npz"]["ranked"] == "Bananaquit"


def test_blocking_really_blocks():
    proc = subprocess.run([sys.executable, "-c", SCRIPT.split("import numpy")[0] + "import torch\n"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "blocked" in proc.stderr
