"""The verdict's gate (ml.verdict.Gate / fit_gate): when the verifier is skipped, and the shipped default field model."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ml.runtime.classifier import default_model_path, load_classifier
from ml.verdict import Combination, Gate, fit_gate, server_verdict

REPO = Path(__file__).resolve().parents[2]
LABELS = ("a", "b", "c")


class CountingVerifier:
    """Says ``label`` with certainty and counts how often it ran."""

    version = "counting-verifier-1"
    unknown_threshold = 0.5

    def __init__(self, labels, label, combination):
        self.labels, self.label, self.combination, self.calls = tuple(labels), label, combination, 0

    def file_probabilities(self, samples, sample_rate):
        self.calls += 1
        p = np.full(len(self.labels), 0.001)
        p[self.labels.index(self.label)] = 1.0
        return p / p.sum()

    def decide(self, probs, top_k=5):
        from ml.verifier import prediction_of

        return prediction_of(self.labels, probs, self.unknown_threshold, self.version, top_k)


def test_gate_skips_only_a_sure_answer_of_a_gated_label_from_its_own_field_model():
    gate = Gate(0.8, ("a",), "field-1")
    assert gate.skips("field-1", LABELS, [0.9, 0.05, 0.05])
    assert not gate.skips("field-1", LABELS, [0.7, 0.2, 0.1])     # below the threshold
    assert not gate.skips("field-1", LABELS, [0.05, 0.9, 0.05])   # sure, but not a gated label
    assert not gate.skips("field-2", LABELS, [0.9, 0.05, 0.05])   # another field model: never skips
    assert not Gate().skips("field-1", LABELS, [1.0, 0.0, 0.0])   # the default gate never skips
    assert Gate(0.8, ("a",)).skips("any", LABELS, [0.9, 0.05, 0.05])  # "" matches any field model (CV)


def test_gate_round_trips_and_rejects_nonsense():
    gate = Gate(0.9, ("a", "b"), "field-1")
    assert Gate.from_dict(gate.to_dict()) == gate
    assert Gate.from_dict({}) == Gate() and Gate.from_dict({"threshold": 0.5, "labels": []}) == Gate()
    for bad in ({"threshold": 2.0, "labels": ["a"]}, {"threshold": "x", "labels": ["a"]}, {"labels": ["a"]}):
        with pytest.raises(ValueError):
            Gate.from_dict(bad)
    with pytest.raises(ValueError):
        Combination.from_dict({"gate": {"threshold": -1, "labels": ["a"]}})
    assert Combination.from_dict(Combination(gate=gate.to_dict()).to_dict()).gate == gate.to_dict()


def test_fit_gate_admits_labels_the_field_model_gets_right_when_sure_and_keeps_accuracy():
    # 10 files of "a": the field model sure and right; 10 it surely calls "c", 4 of them "b"; 10 unsure ones
    probs, y, verdict_right = [], [], []
    for _ in range(10):
        probs.append([0.95, 0.03, 0.02]); y.append("a"); verdict_right.append(True)
    for k in range(10):
        probs.append([0.02, 0.03, 0.95]); y.append("b" if k < 4 else "c"); verdict_right.append(True)
    for _ in range(10):
        probs.append([0.4, 0.35, 0.25]); y.append("b"); verdict_right.append(True)
    gate = fit_gate(LABELS, np.array(probs), verdict_right, y, field_version="f-1")
    assert gate.labels == ("a",) and gate.field_version == "f-1"
    assert gate.fitted_on["skipped"] == pytest.approx(10 / 30, abs=1e-3)
    assert gate.fitted_on["gated_accuracy"] >= gate.fitted_on["verdict_accuracy"] - 0.005
    # a field model never better than the verdict: the gate never skips
    assert fit_gate(LABELS, np.array(probs), [True] * 30, ["b"] * 30).labels == ()


def test_server_verdict_skips_the_verifier_and_its_decode_where_the_gate_says_so():
    clf = load_classifier(REPO / "fixtures/models/baseline.npz")
    x = np.random.default_rng(0).normal(0, 0.1, 24_000 * 4).astype(np.float32)
    own = clf.classify(x, 24_000, top_k=5)
    top = own.ranked[0][0]
    other = next(lab for lab in clf.labels if lab != top)
    decoded = []

    def audio48():
        decoded.append(1)
        return x, 24_000

    gated = Combination(0.2, 1.0, 0.0, 0.3, gate=Gate(0.0, (top,), clf.version).to_dict()).to_dict()
    ver = CountingVerifier(clf.labels, other, gated)
    verdict = server_verdict(x, 24_000, clf, ver, verifier_audio=audio48, top_k=5)
    assert verdict.prediction == own and set(verdict.answers) == {"field"}
    assert ver.calls == 0 and decoded == []
    # the same gate fitted for another field model: the verifier runs and decides
    ver.combination = Combination(0.2, 1.0, 0.0, 0.3, gate=Gate(0.0, (top,), "other-field").to_dict()).to_dict()
    verdict = server_verdict(x, 24_000, clf, ver, verifier_audio=audio48, top_k=5)
    assert verdict.prediction.label == other and ver.calls == 1 and decoded == [1]
    assert set(verdict.answers) == {"field", "verifier"}


def test_the_default_field_model_names_birds_and_city_sounds_and_verifies():
    path = default_model_path()
    assert path == REPO / "fixtures/models/field.npz"
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    clf = load_classifier(expected_sha256=sha)
    assert len(clf.labels) == 33 and {"siren", "dog_bark", "Bananaquit", "no_target"} <= set(clf.labels)
    assert load_classifier().version == clf.version
    with pytest.raises(Exception):
        load_classifier(expected_sha256="0" * 64)


def test_fit_gate_cli_refuses_a_missing_manifest_and_writes_nothing(tmp_path, capsys):
    from ml.cli import main

    out = tmp_path / "gated.npz"
    assert main(["fit-gate", "--manifest", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert '"manifest_invalid"' in capsys.readouterr().out and not out.exists()
