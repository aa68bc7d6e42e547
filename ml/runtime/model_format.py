"""The runtime model file: one versioned, self-describing ``.npz`` loadable with numpy alone.

Layout (a plain zip archive written by :func:`numpy.savez_compressed`, never pickled):

* ``__header__`` -- uint8 array holding UTF-8 JSON (see :data:`REQUIRED_HEADER_KEYS`)::

    {"format": "dawn-chorus-model", "format_version": 1,   # 2 where a phinet conv has a shortcut
     "model_version": "baseline-2026.11-1",
     "architecture": {"name": "logmel-stats-mlp", "layers": [...]},
     "feature_params": {...FeatureParams...}, "labels": [...],
     "temperature": 1.3, "unknown_threshold": 0.4, "aggregation": "mean",
     "model_set": "birds",            # optional: "birds" | "urban"
     "metrics": {...}, "training": {...},
     "weights_sha256": "...",         # optional (written by save_model): checked on load
     "arrays": {"dense_0.weight": {"shape": [262, 128], "dtype": "float16"}, ...}}

* one array per weight tensor, named in ``header["arrays"]`` (float16/float32; uint8 for
  bit-packed binary layers; int8/int32 for quantised layers).

:func:`load_model_file` validates everything it can without knowing the architecture
(magic, version, header fields, declared array names, shapes and dtypes, finiteness) and
raises :class:`ModelFormatError` with a readable message otherwise. Architecture-specific
checks (layer shapes chaining, output size == number of labels) are done by the
architecture's builder in :mod:`ml.runtime.classifier`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ml.runtime.features import FeatureParams

FORMAT_NAME = "dawn-chorus-model"
FORMAT_VERSION = 1  # what a file is written as unless its contents need a later version
# 2: a ``phinet`` conv layer may carry ``"shortcut": true`` (XNOR twins with Bi-Real shortcuts). Files that
# use it say 2, so a runtime from before it refuses them instead of silently computing something else.
READABLE_FORMAT_VERSIONS = (1, 2)
HEADER_KEY = "__header__"
AGGREGATIONS = ("mean", "mean-target")  # see ml.runtime.classifier.aggregate_windows
NO_TARGET = "no_target"  # the label "mean-target" leaves out of a file's answer
ALLOWED_DTYPES = ("float16", "float32", "uint8", "int8", "int32")
MAX_FILE_BYTES = 64 * 1024 * 1024       # compressed size on disk
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024  # guards against zip bombs
MAX_HEADER_BYTES = 4 * 1024 * 1024
RESERVED_LABELS = ("unknown",)
MODEL_SETS = ("birds", "urban")

REQUIRED_HEADER_KEYS = (
    "format", "format_version", "model_version", "architecture", "feature_params", "labels",
    "temperature", "unknown_threshold", "aggregation", "metrics", "training", "arrays",
)


class ModelFormatError(ValueError):
    """A model file that is not a valid Dawn Chorus runtime model."""


def _fail(message: str) -> None:
    raise ModelFormatError(message)


def validate_header(header: Any) -> dict:
    """Check the architecture-independent header fields; return the header."""
    if not isinstance(header, dict):
        _fail("The model header is not a JSON object.")
    if header.get("format") != FORMAT_NAME:
        _fail(f"Not a Dawn Chorus model: format is {header.get('format')!r}, expected {FORMAT_NAME!r}.")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        _fail(f"format_version must be an integer, got {version!r}.")
    if version not in READABLE_FORMAT_VERSIONS:
        _fail(f"Unsupported model format_version {version}; this build reads versions "
              f"{', '.join(map(str, READABLE_FORMAT_VERSIONS))}.")
    missing = [k for k in REQUIRED_HEADER_KEYS if k not in header]
    if missing:
        _fail(f"The model header lacks {', '.join(missing)}.")
    if not isinstance(header["model_version"], str) or not header["model_version"].strip():
        _fail("model_version must be a non-empty string.")
    arch = header["architecture"]
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str) or not arch["name"]:
        _fail("architecture must be an object with a non-empty 'name'.")
    if not isinstance(arch.get("layers"), list):
        _fail("architecture.layers must be a list.")
    _validate_feature_params(header["feature_params"])
    labels = header["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        _fail("labels must be a non-empty list of non-empty strings.")
    if len(set(labels)) != len(labels):
        _fail("labels must be unique.")
    reserved = sorted(set(labels) & set(RESERVED_LABELS))
    if reserved:
        _fail(f"labels must not use the reserved name(s) {reserved}.")
    temperature = header["temperature"]
    if not _is_number(temperature) or not temperature > 0:
        _fail(f"temperature must be a positive finite number, got {temperature!r}.")
    threshold = header["unknown_threshold"]
    if not _is_number(threshold) or not 0.0 <= threshold <= 1.0:
        _fail(f"unknown_threshold must be a number in [0, 1], got {threshold!r}.")
    if header["aggregation"] not in AGGREGATIONS:
        _fail(f"Unsupported aggregation {header['aggregation']!r}; known: {', '.join(AGGREGATIONS)}.")
    if header["aggregation"] == "mean-target" and NO_TARGET not in labels:
        _fail(f"aggregation 'mean-target' needs a {NO_TARGET!r} label.")
    model_set = header.get("model_set")
    if model_set is not None and model_set not in MODEL_SETS:
        _fail(f"model_set must be one of {', '.join(MODEL_SETS)}, got {model_set!r}.")
    digest = header.get("weights_sha256")
    if digest is not None and (not isinstance(digest, str) or len(digest) != 64):
        _fail("weights_sha256 must be a 64-character hex string.")
    if not isinstance(header["metrics"], dict) or not isinstance(header["training"], dict):
        _fail("metrics and training must be JSON objects.")
    specs = header["arrays"]
    if not isinstance(specs, dict) or not specs:
        _fail("arrays must be a non-empty object mapping names to {shape, dtype}.")
    for name, spec in specs.items():
        if name == HEADER_KEY or not isinstance(name, str) or not name:
            _fail(f"Invalid array name {name!r}.")
        if not isinstance(spec, dict) or not isinstance(spec.get("shape"), list) or \
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in spec["shape"]):
            _fail(f"Array {name!r}: shape must be a list of non-negative integers.")
        if spec.get("dtype") not in ALLOWED_DTYPES:
            _fail(f"Array {name!r}: dtype {spec.get('dtype')!r} is not one of {', '.join(ALLOWED_DTYPES)}.")
    return header


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate_feature_params(data: Any) -> FeatureParams:
    if not isinstance(data, dict):
        _fail("feature_params must be a JSON object.")
    unknown = sorted(set(data) - set(FeatureParams.__dataclass_fields__))
    if unknown:
        _fail(f"feature_params has unknown fields {unknown}.")
    try:
        params = FeatureParams.from_dict(data)
    except TypeError as exc:
        raise ModelFormatError(f"feature_params are invalid: {exc}") from None
    for key, value in params.to_dict().items():
        if not _is_number(value) or value <= 0:
            _fail(f"feature_params.{key} must be a positive number, got {value!r}.")
    if params.fmax > params.sample_rate / 2 or params.fmin >= params.fmax:
        _fail("feature_params need 0 < fmin < fmax <= sample_rate / 2.")
    return params


def feature_params_of(header: Mapping) -> FeatureParams:
    """The :class:`FeatureParams` a (validated) header was trained with."""
    return _validate_feature_params(header["feature_params"])


def _check_array(name: str, array: np.ndarray, spec: Mapping) -> None:
    if array.dtype.hasobject:
        _fail(f"Array {name!r} holds Python objects; pickled data is refused.")
    if array.dtype.name not in ALLOWED_DTYPES:
        _fail(f"Array {name!r} has dtype {array.dtype.name}, allowed: {', '.join(ALLOWED_DTYPES)}.")
    if list(array.shape) != list(spec["shape"]):
        _fail(f"Array {name!r} has shape {list(array.shape)}, the header declares {spec['shape']}.")
    if array.dtype.name != spec["dtype"]:
        _fail(f"Array {name!r} has dtype {array.dtype.name}, the header declares {spec['dtype']}.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        _fail(f"Array {name!r} holds NaN or infinite values.")


def weights_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes (sorted by name): the weights' identity."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{list(a.shape)}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (what the model registry and the phone compare)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_model_file(path: str | os.PathLike, *, expected_sha256: str | None = None,
                      expected_version: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """:func:`load_model_file` plus checks of the file's sha256 and ``model_version``.

    Raises :class:`ModelFormatError` naming the expected and the actual value on a mismatch.
    """
    if expected_sha256 is not None:
        actual = file_sha256(path)
        if actual != expected_sha256.lower():
            _fail(f"Model file {path} has sha256 {actual}, expected {expected_sha256}: "
                  "the download is corrupt or the file was replaced.")
    header, arrays = load_model_file(path)
    if expected_version is not None and header["model_version"] != expected_version:
        _fail(f"Model file {path} holds version {header['model_version']!r}, expected {expected_version!r}.")
    return header, arrays


def save_model(path: str | os.PathLike, header: Mapping, arrays: Mapping[str, np.ndarray]) -> int:
    """Validate and write a model file; return its size in bytes.

    ``header["arrays"]`` is filled in from ``arrays`` (shape and dtype of each);
    ``format`` and ``format_version`` default to this build's.
    """
    header = dict(header)
    header.setdefault("format", FORMAT_NAME)
    header.setdefault("format_version", FORMAT_VERSION)
    clean: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        array = np.ascontiguousarray(value)
        clean[name] = array
    header["arrays"] = {name: {"shape": list(a.shape), "dtype": a.dtype.name} for name, a in clean.items()}
    header["weights_sha256"] = weights_digest(clean)
    validate_header(header)
    for name, array in clean.items():
        _check_array(name, array, header["arrays"][name])
    text = json.dumps(header, ensure_ascii=False, sort_keys=True, allow_nan=False)
    payload = {HEADER_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **clean}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:  # a file object keeps numpy from appending ".npz"
        np.savez_compressed(fh, **payload)
    os.replace(tmp, path)
    return path.stat().st_size


def load_model_file(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and validate a model file: ``(header, arrays)``. Raises :class:`ModelFormatError`."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelFormatError(f"Cannot read model file {path}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        _fail(f"Model file {path} is {size} bytes; the limit is {MAX_FILE_BYTES}.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFormatError(f"{path} is not a model file (not a readable .npz archive: {exc}).") from None
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES:
        _fail(f"Model file {path} expands beyond {MAX_UNCOMPRESSED_BYTES} bytes.")
    names = {i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in infos}
    if HEADER_KEY not in names:
        _fail(f"{path} has no {HEADER_KEY} entry; not a Dawn Chorus model.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw_header = npz[HEADER_KEY]
            if raw_header.dtype != np.uint8 or raw_header.ndim != 1 or raw_header.size > MAX_HEADER_BYTES:
                _fail(f"{path}: {HEADER_KEY} must be a 1-D uint8 array of UTF-8 JSON.")
            try:
                header = json.loads(raw_header.tobytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelFormatError(f"{path}: the header is not valid JSON ({exc}).") from None
            validate_header(header)
            specs = header["arrays"]
            missing = sorted(set(specs) - names)
            if missing:
                _fail(f"{path} lacks the array(s) {', '.join(missing)} named in its header.")
            extra = sorted(names - set(specs) - {HEADER_KEY})
            if extra:
                _fail(f"{path} holds array(s) {', '.join(extra)} its header does not declare.")
            arrays = {}
            for name, spec in specs.items():
                array = npz[name]
                _check_array(name, array, spec)
                arrays[name] = array
            expected = header.get("weights_sha256")
            if expected is not None and weights_digest(arrays) != expected:
                _fail(f"{path}: the weights do not match the header's weights_sha256 "
                      "(the file was altered or damaged).")
    except ModelFormatError:
        raise
    except ValueError as exc:  # numpy: "Object arrays cannot be loaded when allow_pickle=False" etc.
        if "pickle" in str(exc).lower():
            raise ModelFormatError(f"{path} holds pickled data, which is refused.") from None
        raise ModelFormatError(f"{path} is corrupt: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError) as exc:
        raise ModelFormatError(f"{path} is corrupt or truncated: {exc}") from None
    return header, arrays
