"""Export a trained torch student to the runtime model file (:mod:`ml.runtime.model_format`)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ml.models.phinet import PhiNet, count_parameters, export_arrays, int8_rows
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


# --- the compact XNOR twin ------------------------------------------------------------------------------

RUNTIME_DEFAULTS = {"stride": [1, 1], "groups": 1, "activation": "none", "binarize_input": False, "shortcut": False}


class CompactTwin:
    """Builds the runtime layers of a compact XNOR twin and counts the stored bytes of each part.

    Encodings (all in the three blobs of :class:`ml.models.phinet.Blobs`; float16 for the few floats):
    binary weights bit-packed, their per-filter ``alpha`` an int8 ``[1, C]`` vector with one scale; full-
    precision conv weights (the stem, float depthwise) int8 with one scale per output channel; every bias an
    int8 ``[1, C]`` vector with one scale (``bias_levels`` each side of zero; the alphas ``alpha_levels``); the head
    int8 with one scale per embedding row (``head_levels``). 127 levels is plain int8; fewer leave the archive's
    deflate fewer symbols to code, so the file shrinks while the runtime format stays int8.
    """

    def __init__(self, head_levels: int = 127, bias_levels: int = 127, alpha_levels: int = 127):
        from ml.models.phinet import Blobs

        for name, levels in (("head_levels", head_levels), ("bias_levels", bias_levels),
                             ("alpha_levels", alpha_levels)):
            if not 1 <= levels <= 127:
                raise ValueError(f"{name} must be 1-127, got {levels}.")
        self.head_levels, self.vector_levels = head_levels, {"biases": bias_levels, "alphas": alpha_levels}
        self.blobs = Blobs("float16")
        self.parts: dict[str, int] = {}

    def _count(self, part: str, n_bytes: int) -> None:
        self.parts[part] = self.parts.get(part, 0) + int(n_bytes)

    def int8(self, values: np.ndarray, part: str, levels: int = 127, vector: bool = False) -> dict:
        """An int8 spec; ``vector`` stores a (C,) vector (``part`` "biases" or "alphas") as ``[1, C]`` with one scale
        and that part's levels."""
        v = np.asarray(values, np.float32).reshape(1, -1) if vector else np.asarray(values, np.float32)
        levels = self.vector_levels[part] if vector else levels
        q, scale = int8_rows(v, levels)
        self._count(part, q.size)
        self._count("scales", 2 * scale.size)
        return {"encoding": "int8", "shape": [int(d) for d in v.shape], "q": "blob.int8",
                "q_offset": self.blobs.add("blob.int8", q), "scale": "blob.float",
                "scale_offset": self.blobs.float(scale)["offset"]}

    def binary(self, signs: np.ndarray, alpha: np.ndarray, part: str) -> dict:
        bits = np.packbits((signs.reshape(-1) > 0).astype(np.uint8))
        self._count(part, bits.size)
        return {"encoding": "binary", "shape": [int(d) for d in signs.shape], "bits": "blob.bits",
                "bits_offset": self.blobs.add("blob.bits", bits), "alpha": self.int8(alpha, "alphas", vector=True)}

    def conv(self, conv, part: str) -> dict:
        from ml.models.phinet import _fold

        w, bias, alpha = _fold(conv)
        weight = self.binary(w, alpha, part) if alpha is not None else self.int8(w, part)
        layer = {"type": "conv", "weight": weight, "bias": self.int8(bias, "biases", vector=True),
                 "stride": [conv.stride, conv.stride], "groups": conv.groups, "activation": conv.act,
                 "binarize_input": conv.binary, "shortcut": conv.shortcut}
        return {k: v for k, v in layer.items() if v != RUNTIME_DEFAULTS.get(k)}  # the header is 15 % of the file

    def se(self, se) -> dict:
        import torch

        refs: dict = {"type": "se", "binarize_input": se.binary}
        for key, fc in (("1", se.fc1), ("2", se.fc2)):
            w = fc.weight.detach()
            if se.binary:
                refs[f"w{key}"] = self.binary(torch.where(w > 0, 1.0, -1.0).numpy(), w.abs().mean(dim=1).numpy(),
                                              "se_bits")
            else:
                refs[f"w{key}"] = self.int8(w.numpy(), "se_int8")
            refs[f"b{key}"] = self.int8(fc.bias.detach().numpy(), "biases", vector=True)
        return refs

    def layers(self, model: PhiNet) -> tuple[list[dict], dict[str, np.ndarray]]:
        """The runtime ``architecture.layers`` and arrays of ``model`` (eval statistics, BN folded)."""
        def part(conv) -> str:
            if not conv.binary:
                return "stem_int8" if conv is model.stem else "depthwise_int8"
            return "depthwise_bits" if conv.groups > 1 else "pointwise_bits"

        layers = [self.conv(model.stem, part(model.stem))]
        for block in model.blocks:
            inner = [self.conv(block.expand, part(block.expand))] if block.expand is not None else []
            inner.append(self.conv(block.dw, part(block.dw)))
            if block.se is not None:
                inner.append(self.se(block.se))
            inner.append(self.conv(block.project, part(block.project)))
            layers.append({"type": "block", "residual": block.residual, "layers": inner})
        layers.append(self.conv(model.neck, part(model.neck)))
        layers.append({"type": "pool"})
        layers.append({"type": "dense", "weight": self.int8(model.head.weight.detach().numpy().T, "head",
                                                            self.head_levels),
                       "bias": self.int8(model.head.bias.detach().numpy(), "biases", vector=True)})
        return layers, self.blobs.arrays()


def export_compact_twin(model: PhiNet, path: str | Path, *, head_levels: int = 127, bias_levels: int = 127,
                        alpha_levels: int = 127, **header_fields
                        ) -> tuple[int, dict[str, int]]:
    """Write an XNOR twin ``model`` in the compact encoding of :class:`CompactTwin` to ``path``.

    Returns (file size in bytes, stored bytes per part before the archive's compression: ``pointwise_bits``
    (1x1 convs), ``se_bits``, ``depthwise_bits`` or ``depthwise_int8``, ``stem_int8``, ``head``, ``biases``,
    ``alphas``, ``scales`` (float16), ``header`` (the JSON header, compressed as stored) and ``archive`` (the
    rest: zip and npy headers, what compression saved counted negative)).
    """
    import zipfile

    from ml.runtime.model_format import HEADER_KEY

    if not model.cfg.binary:
        raise ValueError("export_compact_twin writes XNOR twins (binary=True) only.")
    model.eval()
    twin = CompactTwin(head_levels, bias_levels, alpha_levels)
    layers, arrays = twin.layers(model)
    header = student_header(model, layers=layers, **header_fields)
    header["training"]["weight_encoding"] = f"compact-xnor (levels: head {head_levels}, biases {bias_levels}, " \
                                            f"alphas {alpha_levels})"
    size = save_model(path, header, arrays)
    with zipfile.ZipFile(path) as zf:
        twin._count("header", next(i.compress_size for i in zf.infolist() if i.filename.startswith(HEADER_KEY)))
    twin._count("archive", size - sum(twin.parts.values()))
    return size, dict(twin.parts)
