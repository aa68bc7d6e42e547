"""The field model: the runtime's ``mean-target`` aggregation, the dense targets, and a tiny end-to-end fit."""
from __future__ import annotations

import numpy as np
import pytest

from ml.runtime.classifier import NO_TARGET, aggregate_windows, load_classifier


def test_mean_target_leaves_out_windows_dominated_by_no_target():
    probs = np.array([[0.7, 0.1, 0.2],   # target a
                      [0.05, 0.05, 0.9],  # no_target: left out
                      [0.5, 0.3, 0.2],   # target a
                      [0.0, 1.0, 0.0]])  # silent: left out
    sounding = np.array([True, True, True, False])
    p = aggregate_windows(probs, sounding, "mean-target", 2)
    kept = probs[[0, 2], :2].mean(axis=0)
    np.testing.assert_allclose(p, [*(kept / kept.sum()), 0.0])
    # the plain mean keeps the no_target window and the no_target column
    np.testing.assert_allclose(aggregate_windows(probs, sounding, "mean"), probs[:3].mean(axis=0))


def test_mean_target_of_a_file_heard_as_no_target_throughout_uses_every_sounding_window():
    probs = np.array([[0.2, 0.1, 0.7], [0.1, 0.3, 0.6]])
    p = aggregate_windows(probs, np.array([True, True]), "mean-target", 2)
    mean = probs[:, :2].mean(axis=0)
    np.testing.assert_allclose(p, [*(mean / mean.sum()), 0.0])
    assert p[2] == 0.0


def test_mean_target_of_silence_is_uniform_over_the_targets():
    p = aggregate_windows(np.full((2, 3), 1 / 3), np.array([False, False]), "mean-target", 2)
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0])


torch = pytest.importorskip("torch")


def test_presence_is_relative_to_the_best_window_and_short_files_hold_their_label():
    from ml.field import presence

    q = np.array([[0.9, 0.1], [0.2, 0.8], [0.45, 0.55]])
    np.testing.assert_allclose(presence(np.zeros((3, 1)), q, 0, None), [1.0, 0.2 / 0.45, 1.0])
    logits = np.array([[4.0], [-4.0], [0.0]])  # BirdNET's column for the label: its sigmoid scores
    pi = presence(logits, q, 0, 0)
    assert pi[0] == 1.0 and pi[1] < 0.05 and pi[2] == 1.0
    np.testing.assert_allclose(presence(np.zeros((2, 1)), q[:2], 0, None), [1.0, 1.0])


def _synthetic_data(n_files: int = 12):
    """Two labels; files of four windows whose BirdNET 'logits' mark the label in their first two windows."""
    from ml.field import FieldData
    from ml.runtime.features import FeatureParams

    rng = np.random.default_rng(0)
    mels, rms, birdnet, labels_of = [], [], [], []
    for i in range(n_files):
        y = i % 2
        m = rng.normal(-6, 1, (4, 64, 113)).astype(np.float16)
        m[:2, 10 + 30 * y: 20 + 30 * y] += 4  # the sound: a band per label in the first two windows
        mels.append(m)
        rms.append(np.full(4, 0.1, np.float32))
        b = rng.normal(-5, 1, (4, 16)).astype(np.float32)
        b[:2, y] = 5  # the two labels' "BirdNET" columns are 0 and 1
        birdnet.append(b)
        labels_of.append(["a", "b"][y])
    return FieldData(mels, rms, birdnet, labels_of, ["a", "b"], {}, FeatureParams(hop_length=640))


def test_dense_targets_put_no_target_on_the_windows_without_the_label(monkeypatch):
    from ml import field

    data = _synthetic_data()
    monkeypatch.setattr("ml.teachers.birdnet.label_columns", lambda names, sci=None: {"a": 0, "b": 1})
    monkeypatch.setattr(field, "shipped_scalars", lambda: (1.0, 0.0, 1.0, 0.0))
    cfg = field.FieldConfig(probe_windows_per_file=2)
    teacher = field.fit_teacher(data, list(range(12)), cfg)
    dense = field.dense_set(data, list(range(12)), teacher)
    assert dense.x.shape[0] == 48 and dense.label_targets.shape == (48, 3) == dense.kd_targets.shape
    np.testing.assert_allclose(dense.label_targets.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(dense.kd_targets.sum(axis=1), 1.0, atol=1e-5)
    first = dense.label_targets[:2]  # file 0 (label a): its first two windows hold a, the last two do not
    assert (first[:, 0] > 0.99).all()
    assert (dense.label_targets[2:4, 2] > 0.9).all()


def test_fit_field_exports_a_runtime_model_with_no_target(monkeypatch, tmp_path, load_clip):
    from ml import field

    data = _synthetic_data()
    monkeypatch.setattr("ml.teachers.birdnet.label_columns", lambda names, sci=None: {"a": 0, "b": 1})
    monkeypatch.setattr(field, "shipped_scalars", lambda: (1.0, 0.0, 1.0, 0.0))
    cfg = field.FieldConfig(alpha=0.25, blocks=4, epochs=1, windows_per_epoch=48, batch_size=16,
                            probe_windows_per_file=2)
    out = tmp_path / "field.npz"
    report = field.fit_field(data, list(range(8)), list(range(8, 12)), cfg, out, version="test-field")
    clf = load_classifier(out)
    assert clf.labels == ("a", "b", NO_TARGET) and clf.header["aggregation"] == "mean-target"
    assert report["model_bytes"] == out.stat().st_size
    samples, sr = load_clip("XC32051_bananaquit.ogg")
    p = clf.file_probabilities(samples, sr)
    assert p.shape == (3,) and p[2] == 0.0 and abs(p.sum() - 1) < 1e-9
    assert clf.classify(samples, sr).label in ("a", "b", "unknown")


def test_train_field_refuses_a_missing_manifest_and_writes_nothing(tmp_path, capsys):
    from ml.cli import main

    out = tmp_path / "field.npz"
    assert main(["train-field", "--manifest", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert '"manifest_invalid"' in capsys.readouterr().out
    assert not out.exists()


def test_the_shipped_field_model_names_birds_and_city_sounds_within_500_kb(load_clip):
    from ml.runtime.classifier import MODELS_DIR

    path = MODELS_DIR / "field.npz"
    clf = load_classifier(path)
    assert path.stat().st_size <= 500_000
    assert len(clf.labels) == 33 and clf.labels[-1] == NO_TARGET and clf.header["aggregation"] == "mean-target"
    assert {"Puerto Rican Owl", "Elfin Woods Warbler", "dog_bark", "siren"} <= set(clf.labels)
    for clip, label in (("XC308530_puerto_rican_owl.ogg", "Puerto Rican Owl"),  # issue 25: the baseline said dog_bark
                        ("US8K_130030-3-0-0_dog_bark.ogg", "dog_bark")):
        samples, sr = load_clip(clip)
        pred = clf.classify(samples, sr, top_k=33)
        assert pred.label == label
        assert dict(pred.ranked)[NO_TARGET] == 0.0
