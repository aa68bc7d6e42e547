"""What a phone sends: a clipped, int8-quantised update of the trainable tensors.

* :func:`clip_update` scales the whole update so its L2 norm is at most ``clip_norm`` C.
* :func:`quantise` turns each tensor into int8 values and one float32 scale
  (``x ≈ scale · q``, ``scale = max|x| / 127``) with *stochastic* rounding, so the quantised
  update is unbiased (E[scale · q] = x) and the server's average carries no rounding bias.
  An int8 tensor costs 1 byte per value plus 4 bytes of scale: ~1/4 of float32.
* :func:`encode` / :func:`decode` give the JSON form used by ``POST /api/v1/fl/updates``:
  ``{name: {"shape": [...], "scale": float, "q": base64(int8 bytes)}}``.

Dequantised values obey |x| <= 127·scale, so a quantised clipped update can exceed C only by
rounding; the server allows ``clip_norm · (1 + CLIP_SLACK)``.
"""
from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Mapping

import numpy as np

QMAX = 127
CLIP_SLACK = 0.02  # dequantised norm may exceed C by this fraction (stochastic rounding)
MAX_TENSORS = 16
MAX_VALUES = 2_000_000
MAX_SCALE = 1e30  # beyond this, 127 * scale overflows float32


class UpdateFormatError(ValueError):
    """A malformed update payload; ``code`` is the stable API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def l2_norm(update: Mapping[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(np.asarray(v, np.float64)))) for v in update.values())))


def clip_update(update: Mapping[str, np.ndarray], clip_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """(update scaled to norm <= clip_norm, its norm before clipping)."""
    norm = l2_norm(update)
    factor = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    return {k: (np.asarray(v, np.float64) * factor).astype(np.float32) for k, v in update.items()}, norm


def quantise(x: np.ndarray, rng: np.random.Generator, scale: float | None = None) -> tuple[np.ndarray, float]:
    """(int8 values, scale) with stochastic rounding; ``scale`` fixed by the caller or max|x|/127.

    Values beyond ±127·scale saturate (only possible with a caller-fixed scale).
    """
    x = np.asarray(x, np.float64)
    if scale is None:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        scale = peak / QMAX if peak > 0 else 1.0
    y = x / scale
    low = np.floor(y)
    q = low + (rng.random(y.shape) < (y - low))
    return np.clip(q, -QMAX, QMAX).astype(np.int8), float(scale)


def dequantise(q: np.ndarray, scale: float) -> np.ndarray:
    return q.astype(np.float32) * np.float32(scale)


def encode(update: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict[str, dict]:
    """JSON-ready quantised form of a (clipped) update."""
    out = {}
    for name in sorted(update):
        q, scale = quantise(update[name], rng)
        out[name] = {"shape": list(q.shape), "scale": scale, "q": base64.b64encode(q.tobytes()).decode("ascii")}
    return out


def payload_bytes(encoded: Mapping[str, Mapping]) -> int:
    """Bytes of update content: int8 values plus a float32 scale per tensor (before base64)."""
    return int(sum(int(np.prod(t["shape"], dtype=np.int64)) + 4 for t in encoded.values()))


def decode(encoded: Any, expected: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Validate and dequantise an encoded update against the expected tensor shapes.

    Raises :class:`UpdateFormatError` with codes ``update_malformed``, ``update_shape_mismatch``
    or ``update_not_finite``.
    """
    if not isinstance(encoded, dict) or not encoded or len(encoded) > MAX_TENSORS:
        raise UpdateFormatError("update_malformed", "The update must be an object of tensors.")
    if set(encoded) != set(expected):
        raise UpdateFormatError("update_shape_mismatch",
                                f"The update must hold exactly the tensors {sorted(expected)}, got {sorted(encoded)}.")
    out = {}
    for name, shape in expected.items():
        t = encoded[name]
        if not isinstance(t, dict) or set(t) != {"shape", "scale", "q"}:
            raise UpdateFormatError("update_malformed", f"Tensor {name!r} needs exactly shape, scale and q.")
        if not isinstance(t["shape"], list) or [d for d in t["shape"]] != list(shape) or \
                any(isinstance(d, bool) for d in t["shape"]):
            raise UpdateFormatError("update_shape_mismatch",
                                    f"Tensor {name!r} must have shape {list(shape)}, got {t['shape']!r}.")
        scale = t["scale"]
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise UpdateFormatError("update_malformed", f"Tensor {name!r}: scale must be a number.")
        if not math.isfinite(scale) or abs(scale) > MAX_SCALE:
            raise UpdateFormatError("update_not_finite", f"Tensor {name!r}: scale is NaN or infinite.")
        if scale <= 0:
            raise UpdateFormatError("update_malformed", f"Tensor {name!r}: scale must be positive.")
        if not isinstance(t["q"], str):
            raise UpdateFormatError("update_malformed", f"Tensor {name!r}: q must be a base64 string.")
        size = int(np.prod(shape, dtype=np.int64))
        if size > MAX_VALUES or len(t["q"]) > 4 * (size // 3 + 2):
            raise UpdateFormatError("update_shape_mismatch", f"Tensor {name!r} holds too many values.")
        try:
            raw = base64.b64decode(t["q"], validate=True)
        except (binascii.Error, ValueError):
            raise UpdateFormatError("update_malformed", f"Tensor {name!r}: q is not valid base64.") from None
        if len(raw) != size:
            raise UpdateFormatError("update_shape_mismatch",
                                    f"Tensor {name!r} holds {len(raw)} values, its shape needs {size}.")
        x = dequantise(np.frombuffer(raw, np.int8).reshape(shape), scale)
        if not np.all(np.isfinite(x)):
            raise UpdateFormatError("update_not_finite", f"Tensor {name!r} holds NaN or infinite values.")
        out[name] = x
    return out
