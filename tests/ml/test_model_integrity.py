"""Model files carry a weights hash, a model set and a version that loaders can check."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml.runtime.classifier import load_classifier
from ml.runtime.features import FeatureParams
from ml.runtime.model_format import (HEADER_KEY, ModelFormatError, file_sha256, load_model_file, save_model,
                                     verify_model_file, weights_digest)

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "models"


def _header(**overrides) -> dict:
    header = {"model_version": "integrity-1", "model_set": "urban",
              "architecture": {"name": "test-arch", "layers": []}, "feature_params": FeatureParams().to_dict(),
              "labels": ["a", "b"], "temperature": 1.0, "unknown_threshold": 0.2, "aggregation": "mean",
              "metrics": {}, "training": {}}
    header.update(overrides)
    return header


def _arrays() -> dict:
    return {"w": np.arange(6, dtype=np.float32).reshape(3, 2), "bits": np.packbits(np.array([1, 0, 1], np.uint8))}


def test_save_writes_a_weights_hash_that_load_checks(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _header(), _arrays())
    header, arrays = load_model_file(path)
    assert header["weights_sha256"] == weights_digest(arrays) and header["model_set"] == "urban"
    # tamper: same shapes and dtypes, different weights, header left as it was
    tampered = dict(arrays)
    tampered["w"] = arrays["w"] + 1
    text = json.dumps(header).encode()
    with open(tmp_path / "t.npz", "wb") as fh:
        np.savez_compressed(fh, **{HEADER_KEY: np.frombuffer(text, np.uint8)}, **tampered)
    with pytest.raises(ModelFormatError, match="weights_sha256"):
        load_model_file(tmp_path / "t.npz")


def test_expected_file_hash_and_version(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _header(), _arrays())
    digest = file_sha256(path)
    header, _ = verify_model_file(path, expected_sha256=digest, expected_version="integrity-1")
    assert header["model_version"] == "integrity-1"
    with pytest.raises(ModelFormatError, match="sha256"):
        verify_model_file(path, expected_sha256="0" * 64)
    with pytest.raises(ModelFormatError, match="expected 'integrity-2'"):
        verify_model_file(path, expected_version="integrity-2")


def test_invalid_model_set_and_digest_are_refused(tmp_path):
    with pytest.raises(ModelFormatError, match="model_set"):
        save_model(tmp_path / "m.npz", _header(model_set="insects"), _arrays())


@pytest.mark.parametrize("name,model_set,n_labels", [("birds.npz", "birds", 22), ("urban.npz", "urban", 10)])
def test_shipped_students_load_and_verify(name, model_set, n_labels):
    path = MODELS / name
    clf = load_classifier(path, expected_sha256=file_sha256(path), expected_version=load_model_file(path)[0]["model_version"])
    assert clf.model_set == model_set and len(clf.labels) == n_labels
    assert clf.header["architecture"]["name"] == "phinet"
    assert path.stat().st_size <= 500_000
    with pytest.raises(ModelFormatError):
        load_classifier(path, expected_sha256="f" * 64)


@pytest.mark.parametrize("model_set", ["birds", "urban"])
def test_shipped_xnor_twins_are_binary_twins_of_the_shipped_students(model_set):
    student, twin = load_classifier(MODELS / f"{model_set}.npz"), load_classifier(MODELS / f"{model_set}-xnor.npz")
    assert twin.labels == student.labels and twin.feature_params == student.feature_params
    assert twin.version == student.version + "-xnor" and twin.header["format_version"] == 2
    assert twin.header["architecture"]["config"]["binary"] is True
    assert twin.header["metrics"]["parameters"] == student.header["metrics"]["parameters"]
    assert 4 * student.header["metrics"]["parameters"] >= 8 * (MODELS / f"{model_set}-xnor.npz").stat().st_size
