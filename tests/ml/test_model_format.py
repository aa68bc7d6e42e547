"""Runtime model file: round trip, the shipped baseline, and refusal of broken or hostile files."""
from __future__ import annotations

import copy
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ml.runtime.classifier import load_classifier
from ml.runtime.features import FeatureParams
from ml.runtime.model_format import (FORMAT_NAME, FORMAT_VERSION, HEADER_KEY, ModelFormatError, load_model_file,
                                     save_model)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "fixtures" / "models" / "baseline.npz"


def tiny_header(**overrides) -> dict:
    header = {
        "model_version": "test-1",
        "architecture": {"name": "test-arch", "layers": [{"type": "dense", "weight": "w", "bias": "b"}]},
        "feature_params": FeatureParams().to_dict(),
        "labels": ["a", "b", "c"],
        "temperature": 1.5,
        "unknown_threshold": 0.3,
        "aggregation": "mean",
        "metrics": {"accuracy": 0.5},
        "training": {"data": "synthetic"},
    }
    header.update(overrides)
    return header


def tiny_arrays() -> dict:
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(4, 3)).astype(np.float16), "b": np.zeros(3, np.float32)}


def write_raw(path: Path, header: dict, arrays: dict, allow_pickle: bool = False) -> Path:
    """Write an npz without any validation (to build broken files)."""
    text = json.dumps(header).encode()
    with open(path, "wb") as fh:
        np.savez(fh, **{HEADER_KEY: np.frombuffer(text, np.uint8)}, **arrays)
    return path


def valid_raw_header(arrays: dict, **overrides) -> dict:
    header = tiny_header(**overrides)
    header.setdefault("format", FORMAT_NAME)
    header.setdefault("format_version", FORMAT_VERSION)
    header["arrays"] = {k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in arrays.items()}
    return header


def test_round_trip(tmp_path):
    arrays = tiny_arrays()
    size = save_model(tmp_path / "m.npz", tiny_header(), arrays)
    assert size == (tmp_path / "m.npz").stat().st_size > 0
    header, loaded = load_model_file(tmp_path / "m.npz")
    assert header["format"] == FORMAT_NAME and header["format_version"] == FORMAT_VERSION
    assert header["labels"] == ["a", "b", "c"] and header["temperature"] == 1.5
    assert header["arrays"]["w"] == {"shape": [4, 3], "dtype": "float16"}
    assert set(loaded) == {"w", "b"}
    np.testing.assert_array_equal(loaded["w"], arrays["w"])
    assert loaded["w"].dtype == np.float16


def test_shipped_baseline_is_small_self_describing_and_loads():
    assert SHIPPED.stat().st_size < 1_000_000
    header, arrays = load_model_file(SHIPPED)
    assert header["architecture"]["name"] == "logmel-stats-mlp"
    assert header["aggregation"] == "mean"
    assert FeatureParams.from_dict(header["feature_params"]) == FeatureParams()
    labels = header["labels"]
    assert len(labels) == 32 and "Adelaide's Warbler" in labels and "dog_bark" in labels
    assert header["temperature"] > 0 and 0 < header["unknown_threshold"] < 1
    for name in ("birds_test", "urban_test_fold2"):
        assert {"n", "accuracy", "macro_f1", "ece"} <= set(header["metrics"][name])
    assert "licence" in header["training"]
    assert all(a.dtype in (np.float16, np.float32) for a in arrays.values())
    clf = load_classifier(SHIPPED)
    assert clf.version == header["model_version"] and clf.labels == tuple(labels)


@pytest.mark.parametrize("change, message", [
    ({"format": "something-else"}, "Not a Dawn Chorus model"),
    ({"format_version": 3}, "format_version 3"),
    ({"labels": ["a", "a", "c"]}, "unique"),
    ({"labels": ["a", "unknown", "c"]}, "reserved"),
    ({"temperature": 0}, "temperature"),
    ({"unknown_threshold": 1.5}, "unknown_threshold"),
    ({"aggregation": "max"}, "aggregation"),
    ({"aggregation": "mean-target"}, "no_target"),
    ({"feature_params": {"sample_rate": 24000, "bogus": 1}}, "unknown fields"),
])
def test_bad_headers_are_refused_on_load(tmp_path, change, message):
    arrays = tiny_arrays()
    header = valid_raw_header(arrays)
    header.update(change)
    path = write_raw(tmp_path / "m.npz", header, arrays)
    with pytest.raises(ModelFormatError, match=message):
        load_model_file(path)


def test_missing_header_key(tmp_path):
    arrays = tiny_arrays()
    header = valid_raw_header(arrays)
    del header["labels"]
    with pytest.raises(ModelFormatError, match="lacks labels"):
        load_model_file(write_raw(tmp_path / "m.npz", header, arrays))


def test_missing_array(tmp_path):
    arrays = tiny_arrays()
    header = valid_raw_header(arrays)
    del arrays["b"]
    with pytest.raises(ModelFormatError, match="lacks the array"):
        load_model_file(write_raw(tmp_path / "m.npz", header, arrays))


def test_undeclared_array(tmp_path):
    arrays = tiny_arrays()
    header = valid_raw_header(arrays)
    arrays["extra"] = np.ones(2, np.float32)
    with pytest.raises(ModelFormatError, match="does not declare"):
        load_model_file(write_raw(tmp_path / "m.npz", header, arrays))


def test_shape_mismatch(tmp_path):
    arrays = tiny_arrays()
    header = valid_raw_header(arrays)
    arrays["w"] = arrays["w"].T.copy()
    with pytest.raises(ModelFormatError, match="shape"):
        load_model_file(write_raw(tmp_path / "m.npz", header, arrays))


def test_nan_weights_refused_on_save_and_load(tmp_path):
    arrays = tiny_arrays()
    arrays["b"][1] = np.nan
    with pytest.raises(ModelFormatError, match="NaN"):
        save_model(tmp_path / "x.npz", tiny_header(), arrays)
    with pytest.raises(ModelFormatError, match="NaN"):
        load_model_file(write_raw(tmp_path / "m.npz", valid_raw_header(arrays), arrays))
    assert not (tmp_path / "x.npz").exists()


def test_object_array_pickle_refused(tmp_path):
    arrays = tiny_arrays()
    header = valid_raw_header(arrays)
    arrays["b"] = np.array([{"evil": 1}, None, 3], dtype=object)  # np.savez pickles object arrays
    with pytest.raises(ModelFormatError, match="pickle"):
        load_model_file(write_raw(tmp_path / "m.npz", header, arrays))
    with pytest.raises(ModelFormatError):
        save_model(tmp_path / "y.npz", tiny_header(), {"w": arrays["w"], "b": arrays["b"]})


def test_plain_pickle_file_refused(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFormatError):
        load_model_file(path)


def test_truncated_shipped_model(tmp_path):
    data = SHIPPED.read_bytes()
    for keep in (0, 100, len(data) // 2, len(data) - 10):
        path = tmp_path / f"t{keep}.npz"
        path.write_bytes(data[:keep])
        with pytest.raises(ModelFormatError):
            load_model_file(path)


def test_corrupted_weights_detected(tmp_path):
    data = bytearray(SHIPPED.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = max(zf.infolist(), key=lambda i: i.compress_size)
    # middle of the largest member's compressed data (past its 30-byte local header and name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    mid = start + info.compress_size // 2
    data[mid: mid + 16] = bytes(b ^ 0x5A for b in data[mid: mid + 16])
    path = tmp_path / "c.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError):
        load_model_file(path)


def test_not_a_zip_and_missing_file(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFormatError, match="not a model file"):
        load_model_file(tmp_path / "text.npz")
    with pytest.raises(ModelFormatError, match="Cannot read"):
        load_model_file(tmp_path / "nope.npz")


def test_npz_without_header(tmp_path):
    with open(tmp_path / "m.npz", "wb") as fh:
        np.savez(fh, w=np.ones(3, np.float32))
    with pytest.raises(ModelFormatError, match=HEADER_KEY):
        load_model_file(tmp_path / "m.npz")


def test_unknown_architecture(tmp_path):
    save_model(tmp_path / "m.npz", tiny_header(), tiny_arrays())
    with pytest.raises(ModelFormatError, match="Unknown architecture 'test-arch'"):
        load_classifier(tmp_path / "m.npz")


def test_baseline_layer_shapes_are_checked(tmp_path):
    header, arrays = load_model_file(SHIPPED)
    header = copy.deepcopy(header)
    header["labels"] = header["labels"][:-1]  # the last dense layer still has 32 outputs
    del header["arrays"]
    save_model(tmp_path / "m.npz", header, arrays)
    with pytest.raises(ModelFormatError, match="outputs 32 values for 31 labels"):
        load_classifier(tmp_path / "m.npz")
