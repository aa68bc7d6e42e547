"""Export a trained torch student to the runtime model file (:mod:`ml.runtime.model_format`)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ml.models.phinet import PhiNet, count_parameters, export_arrays
from ml.runtime.features import FeatureParams
from ml.runtime.model_format import save_model
from ml.runtime.phinet_model import ARCHITECTURE


def student_header(model: PhiNet, *, labels: list[str], model_set: str, version: str, params: FeatureParams,
                   input_scale: float, temperature: float = 1.0, unknown_threshold: float = 0.0,
                   metrics: dict | None = None, training: dict | None = None, layers: list[dict],
                   aggregation: str = "mean") -> dict:
    """The runtime header of a ``phinet`` student (arrays are filled in by ``save_model``); ``aggregation`` is how
    the runtime pools a file's windows (:func:`ml.runtime.classifier.aggregate_windows`)."""
    return {
        "format_version": 2 if model.cfg.binary and model.cfg.binary_shortcuts else 1,  # see model_format
        "model_version": version,
        "model_set": model_set,
        "architecture": {"name": ARCHITECTURE, "config": model.cfg.to_dict(),
                         "parameters": count_parameters(model),
                         "input": {"n_mels": params.n_mels, "norm": "window-mean", "scale": float(input_scale)},
                         "layers": layers},
        "feature_params": params.to_dict(),
        "labels": list(labels),
        "temperature": float(temperature),
        "unknown_threshold": float(unknown_threshold),
        "aggregation": aggregation,
        "metrics": metrics or {},
        "training": {"exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **(training or {})},
    }


def export_student(model: PhiNet, path: str | Path, *, encoding: str = "float16", **header_fields) -> int:
    """Write ``model`` (eval statistics, BN folded) to ``path``; return the file size in bytes."""
    model.eval()
    layers, arrays = export_arrays(model, encoding)
    header = student_header(model, layers=layers, **header_fields)
    header["training"]["weight_encoding"] = encoding
    return save_model(path, header, arrays)
