"""The benchmark's per-model runner on real fixture clips (the full benchmark needs ../shared/data)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ml.bench import BenchError, run_runtime_model
from ml.runtime.audio import decode

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"


def test_run_runtime_model_scores_and_times_every_file():
    files = [("XC32051_bananaquit.ogg", "Bananaquit"), ("XC370024_puerto_rican_vireo.ogg", "Puerto Rican Vireo"),
             ("XC308530_puerto_rican_owl.ogg", "Puerto Rican Owl"), ("XC173411_puerto_rican_amazon.ogg", "Puerto Rican Amazon")]
    decoded = [decode((AUDIO / name).read_bytes()) for name, _ in files] + [None]  # None: an unreadable file
    y = [label for _, label in files] + ["Bananaquit"]
    classes = sorted(set(y))
    out = run_runtime_model(ROOT / "fixtures" / "models" / "baseline.npz", decoded, y, classes)
    assert out["n"] == 4 and 0 <= out["accuracy"] <= 1 and 0 <= out["ece"] <= 1
    assert out["windows"] >= 4 and out["ms_per_window"] > 0 and out["ms_per_file"] >= out["ms_per_window"]
    assert out["model_bytes"] == (ROOT / "fixtures" / "models" / "baseline.npz").stat().st_size
    assert out["labels_unknown_to_model"] == []
    with pytest.raises(BenchError, match="decoded"):
        run_runtime_model(ROOT / "fixtures" / "models" / "baseline.npz", [None], ["Bananaquit"], classes)


def test_xnor_targets_compare_the_twin_with_its_full_precision_student():
    from ml.bench import xnor_targets

    rows = [{"model": "urban.npz", "accuracy": 0.65, "model_bytes": 95_000, "parameters": 50_000},
            {"model": "urban-xnor.npz", "accuracy": 0.61, "model_bytes": 24_000, "parameters": 50_000},
            {"model": "baseline.npz", "accuracy": 0.9, "model_bytes": 1_000, "parameters": 10}]
    out = xnor_targets(rows, "urban")
    assert out["xnor_accuracy_gap"] == 0.04 and out["xnor_within_5_points"] is True
    assert out["xnor_size_ratio_vs_fp32_weights"] == 8.33 and out["xnor_size_met (>= 8x)"] is True
    assert out["xnor_size_ratio_vs_shipped"] == 3.96
    rows[1].update(accuracy=0.59, model_bytes=26_000)
    out = xnor_targets(rows, "urban")
    assert out["xnor_within_5_points"] is False and out["xnor_size_met (>= 8x)"] is False
    assert xnor_targets(rows, "birds") == {} and xnor_targets(rows[:1], "urban") == {}


def test_cv_figures_report_both_groupings_with_intervals(tmp_path):
    from ml.bench import CV_COMMANDS, cv_figures
    from tests.ml.test_cv import _clip_manifest

    lines: list[str] = []
    out = cv_figures(_clip_manifest(tmp_path), repeats=1, log=lines.append, cache_dir=tmp_path / "cache")
    assert set(out) == {"baseline_by_recording", "baseline_by_recordist"}
    for entry in out.values():
        assert entry["folds"] == 5 and entry["repeats"] == 1 and entry["n_files"] == 15
        acc = entry["metrics"]["accuracy"]
        assert acc["n"] == 5 and 0 <= acc["low"] <= acc["mean"] <= acc["high"] <= 1
        assert 0 <= entry["ece_pooled"] <= 1
    assert any("grouped by recordist" in line and "| accuracy |" in line for line in lines)
    assert "--model-kind phinet" in CV_COMMANDS["phinet"]
