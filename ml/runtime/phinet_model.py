"""numpy inference for the ``phinet`` CNN students (full precision and XNOR binary).

Input: the runtime log-mel of each 3-s window (:func:`ml.runtime.batch_features.log_mel_windows`),
minus the window's mean (gain invariance), divided by ``architecture.input.scale``; laid out
channels-last ``(n, n_mels, frames, 1)``. ``architecture.layers`` is a list of:

* ``conv`` -- ``weight`` (an encoded tensor, see below) of torch shape ``(out, in/groups, kh, kw)``,
  ``bias`` ``(out,)`` (batch norm already folded in), ``stride [sh, sw]``, ``groups`` (1 or
  depthwise), zero padding ``kh//2, kw//2``, ``activation`` (``relu6``, ``hswish`` or ``none``),
  ``binarize_input`` (XNOR layers take ``sign(x)``; a padded zero stays 0), ``shortcut`` (1x1, stride 1
  only: :func:`match_channels` of the layer's real input is added before the activation);
* ``se`` -- squeeze-and-excitation with weights in torch layout (out, in):
  ``x * sigmoid(fc2(relu(fc1(mean(x)))))``, ``fc(z) = z @ w.T + b``; with ``binarize_input``
  each fc takes ``sign`` of its input (XNOR);
* ``block`` -- ``layers`` (nested) and ``residual`` (add the block's input to its output);
* ``pool`` -- global average over frequency and time: the **embedding**;
* ``dense`` -- the head, ``weight (d, n_labels)`` and ``bias``: float array names, or (compact XNOR twins,
  ``ml.export.export_compact_twin``) encoded tensors decoded to float32 like the others; :meth:`with_head` then
  stores the new head as plain float32 arrays.

Encoded tensors are ``{"array": NAME, "encoding": E, "shape": [...]}`` with E one of
``float32``/``float16`` (array NAME), ``int8`` (NAME.q int8 and NAME.scale float per output
channel: ``w = q * scale``) or ``binary`` (NAME.bits: ``numpy.packbits`` of ``w > 0`` in C
order, NAME.alpha float per output channel: ``w = alpha * (+1 | -1)``). Binary layers are
computed as float products of +-1 values, which is exactly the XNOR-popcount result scaled by alpha.

Packed files (the default export) keep the many small tensors in a few 1-D blobs to save the
per-entry overhead of the archive: a spec with ``"offset": k`` reads its values from the blob
``array`` starting at element ``k`` (``"bits_offset"``/``"alpha_offset"``/``"q_offset"``/
``"scale_offset"`` likewise for the parts of binary and int8 tensors, whose ``bits``/``q``/
``alpha``/``scale`` keys then name the blobs). Bias and SE references may be array names or
such specs. A vector of ``C`` values (a bias, or a binary tensor's ``alpha`` given as a spec instead
of a blob slice) may be encoded as shape ``[1, C]``: int8 with one scale for the whole vector.
"""
from __future__ import annotations

import json

import numpy as np

from ml.runtime.batch_features import log_mel_windows
from ml.runtime.classifier import WindowedClassifier, build_classifier, register_architecture
from ml.runtime.model_format import ModelFormatError

ARCHITECTURE = "phinet"
ENCODINGS = ("float32", "float16", "int8", "binary")
ACTIVATIONS = ("relu6", "hswish", "none")
# Windows run through the network this many at a time: small enough that a block's activations stay
# in the CPU cache (figures: docs/performance.md); the results do not depend on it.
WINDOW_BATCH = 8


def _fail(message: str) -> None:
    raise ModelFormatError(f"{ARCHITECTURE}: {message}")


def _slice(arrays: dict[str, np.ndarray], name: object, offset: object, size: int, kind: str) -> np.ndarray:
    """``size`` elements of 1-D blob ``name`` from ``offset``; errors for bad references."""
    if not isinstance(name, str) or name not in arrays:
        _fail(f"missing array {name!r}.")
    blob = arrays[name]
    if blob.dtype.kind != kind or blob.ndim != 1:
        _fail(f"blob {name!r} must be 1-D of kind {kind!r}, got {blob.dtype} {blob.shape}.")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or offset + size > blob.size:
        _fail(f"slice {offset!r}+{size} lies outside blob {name!r} ({blob.size} elements).")
    return blob[offset: offset + size]


def decode_tensor(spec: dict, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Float32 tensor of an encoded weight spec (see the module docstring)."""
    if isinstance(spec, dict) and any(k.endswith("offset") for k in spec):
        return _decode_packed(spec, arrays)
    if not isinstance(spec, dict):
        _fail(f"weight spec must be an object, got {spec!r}.")
    name, encoding, shape = spec.get("array"), spec.get("encoding"), spec.get("shape")
    if encoding not in ENCODINGS:
        _fail(f"unknown weight encoding {encoding!r}.")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        _fail(f"weight {name!r} has an invalid shape {shape!r}.")
    size, out = int(np.prod(shape)), shape[0]

    def get(key: str, kind: str) -> np.ndarray:
        if key not in arrays:
            _fail(f"missing array {key!r}.")
        a = arrays[key]
        if a.dtype.kind != kind:
            _fail(f"array {key!r} has dtype {a.dtype}, expected kind {kind!r}.")
        return a

    if encoding in ("float32", "float16"):
        w = get(name, "f")
        if list(w.shape) != shape:
            _fail(f"array {name!r} has shape {list(w.shape)}, expected {shape}.")
        return w.astype(np.float32)
    if encoding == "int8":
        q, scale = get(f"{name}.q", "i"), get(f"{name}.scale", "f")
        if list(q.shape) != shape or scale.shape != (out,):
            _fail(f"int8 weight {name!r} has shapes {q.shape}/{scale.shape}, expected {shape}/({out},).")
        return (q.astype(np.float32).reshape(out, -1) * scale.astype(np.float32)[:, None]).reshape(shape)
    bits = get(f"{name}.bits", "u")
    alpha = _vector(spec["alpha"], arrays, out) if isinstance(spec.get("alpha"), dict) else get(f"{name}.alpha", "f")
    if bits.ndim != 1 or bits.size != (size + 7) // 8 or alpha.shape != (out,):
        _fail(f"binary weight {name!r} has {bits.size} bytes/alpha {alpha.shape}; expected {(size + 7) // 8}/({out},).")
    signs = np.unpackbits(bits, count=size).astype(np.float32) * 2.0 - 1.0
    return (signs.reshape(out, -1) * alpha.astype(np.float32)[:, None]).reshape(shape)


def _decode_packed(spec: dict, arrays: dict[str, np.ndarray]) -> np.ndarray:
    encoding, shape = spec.get("encoding"), spec.get("shape")
    if encoding not in ENCODINGS:
        _fail(f"unknown weight encoding {encoding!r}.")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                                            for d in shape):
        _fail(f"packed tensor has an invalid shape {shape!r}.")
    size, out = int(np.prod(shape)), shape[0]
    if encoding in ("float32", "float16"):
        return _slice(arrays, spec.get("array"), spec.get("offset"), size, "f").astype(np.float32).reshape(shape)
    if encoding == "int8":
        q = _slice(arrays, spec.get("q"), spec.get("q_offset"), size, "i").astype(np.float32)
        scale = _slice(arrays, spec.get("scale"), spec.get("scale_offset"), out, "f").astype(np.float32)
        return (q.reshape(out, -1) * scale[:, None]).reshape(shape)
    bits = _slice(arrays, spec.get("bits"), spec.get("bits_offset"), (size + 7) // 8, "u")
    if isinstance(spec.get("alpha"), dict):
        alpha = _vector(spec["alpha"], arrays, out)
    else:
        alpha = _slice(arrays, spec.get("alpha"), spec.get("alpha_offset"), out, "f").astype(np.float32)
    signs = np.unpackbits(bits, count=size).astype(np.float32) * 2.0 - 1.0
    return (signs.reshape(out, -1) * alpha[:, None]).reshape(shape)


def _vector(spec: dict, arrays: dict[str, np.ndarray], n: int) -> np.ndarray:
    """(n,) float32 of a spec of shape ``[n]`` or ``[1, n]`` (one int8 scale for the whole vector)."""
    if spec.get("encoding") == "binary":
        _fail("a vector (bias, alpha) cannot be binary.")
    v = decode_tensor(spec, arrays)
    if v.shape not in ((n,), (1, n)):
        _fail(f"tensor {spec.get('array', spec.get('q'))!r} has shape {v.shape}, expected ({n},) or (1, {n}).")
    return v.reshape(n)


def activate(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "relu6":
        return np.clip(x, 0.0, 6.0)
    if kind == "hswish":
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0
    return x


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def match_channels(x: np.ndarray, c_out: int) -> np.ndarray:
    """Channels-last ``x`` mapped to ``c_out`` channels without parameters: tiled when widening; when
    narrowing, zero-padded to k * c_out channels and averaged over the k groups of c_out."""
    c_in = x.shape[-1]
    if c_out > c_in:
        return np.tile(x, (1,) * (x.ndim - 1) + (-(-c_out // c_in),))[..., :c_out]
    if c_out < c_in:
        k = -(-c_in // c_out)
        if k * c_out != c_in:
            x = np.concatenate([x, np.zeros((*x.shape[:-1], k * c_out - c_in), x.dtype)], axis=-1)
        return x.reshape(*x.shape[:-1], k, c_out).mean(axis=-2)
    return x


def _shifted(xp: np.ndarray, i: int, j: int, ho: int, wo: int, sh: int, sw: int) -> np.ndarray:
    return xp[:, i: i + sh * (ho - 1) + 1: sh, j: j + sw * (wo - 1) + 1: sw, :]


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: tuple[int, int], groups: int) -> np.ndarray:
    """Channels-last convolution with zero 'same' padding; ``w`` in torch layout (out, in/g, kh, kw)."""
    n, h, wd, c = x.shape
    out, cin_g, kh, kw = w.shape
    sh, sw = stride
    ph, pw = kh // 2, kw // 2
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    if kh == 1 and kw == 1 and groups == 1:
        xs = x[:, ::sh, ::sw, :] if (sh, sw) != (1, 1) else x
        y = xs.reshape(-1, c) @ w.reshape(out, c).T
        return y.reshape(n, ho, wo, out) + bias
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0))) if (ph or pw) else x
    if groups == 1:
        cols = np.concatenate([_shifted(xp, i, j, ho, wo, sh, sw) for i in range(kh) for j in range(kw)], axis=-1)
        wmat = w.transpose(2, 3, 1, 0).reshape(kh * kw * c, out)
        return (cols.reshape(-1, kh * kw * c) @ wmat).reshape(n, ho, wo, out) + bias
    # depthwise: groups == channels == out. One contiguous (c,) tap vector per offset and a
    # reused product buffer, not ``y += slice * w[:, 0, i, j]`` (a strided tap vector makes
    # numpy's broadcast loop slow; docs/performance.md), with the same sums in the same order.
    taps = np.ascontiguousarray(w[:, 0].transpose(1, 2, 0), dtype=np.float32)  # (kh, kw, c)
    y = np.multiply(_shifted(xp, 0, 0, ho, wo, sh, sw), taps[0, 0], dtype=np.float32)
    tmp = np.empty_like(y)
    for i in range(kh):
        for j in range(kw):
            if i or j:
                np.multiply(_shifted(xp, i, j, ho, wo, sh, sw), taps[i, j], out=tmp)
                y += tmp
    y += bias
    return y


class PhiNetClassifier(WindowedClassifier):
    """numpy inference for ``phinet`` files (see the module docstring)."""

    def __init__(self, header: dict, arrays: dict[str, np.ndarray]):
        super().__init__(header, arrays)
        arch = header["architecture"]
        inp = arch.get("input") or {}
        scale = inp.get("scale")
        if not isinstance(scale, (int, float)) or not scale > 0:
            _fail("architecture.input.scale must be a positive number.")
        self.input_scale = float(scale)
        self.plan = [self._compile(layer, arrays) for layer in arch["layers"]]
        if not self.plan or self.plan[-1]["type"] != "dense" or self.plan[-2]["type"] != "pool":
            _fail("the layer list must end with 'pool' and 'dense'.")
        head = arch["layers"][-1]
        self._encoded_head = None
        if isinstance(head.get("weight"), dict) or isinstance(head.get("bias"), dict):
            w = decode_tensor(head.get("weight"), arrays)
            if w.ndim != 2:
                _fail(f"the head weight must be 2-D, got {w.shape}.")
            self._encoded_head = {"weight": w, "bias": self._float(head.get("bias"), arrays, (w.shape[1],))}
        else:
            self.head_arrays = (head.get("weight"), head.get("bias"))
        w = self._head_f32()["weight"]
        if w.shape[1] != len(self.labels):
            _fail(f"the head outputs {w.shape[1]} values for {len(self.labels)} labels.")
        self._check_widths(w.shape[0])

    def _compile(self, layer: dict, arrays: dict[str, np.ndarray]) -> dict:
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind == "conv":
            w = decode_tensor(layer.get("weight"), arrays)
            if w.ndim != 4:
                _fail(f"conv weight must be 4-D, got {w.shape}.")
            bias = self._float(layer.get("bias"), arrays, (w.shape[0],))
            groups = layer.get("groups", 1)
            if groups not in (1, w.shape[0]) or (groups != 1 and w.shape[1] != 1):
                _fail(f"conv groups must be 1 or depthwise, got {groups} for weight {w.shape}.")
            stride = layer.get("stride", [1, 1])
            if not (isinstance(stride, list) and len(stride) == 2 and all(isinstance(s, int) and s >= 1 for s in stride)):
                _fail(f"invalid stride {stride!r}.")
            if layer.get("activation", "none") not in ACTIVATIONS:
                _fail(f"unknown activation {layer.get('activation')!r}.")
            shortcut = layer.get("shortcut", False)
            if not isinstance(shortcut, bool) or (shortcut and (w.shape[2:] != (1, 1) or stride != [1, 1] or groups != 1)):
                _fail(f"a shortcut must be true or false, and only on a 1x1 conv with stride 1, got {shortcut!r}.")
            if shortcut and self.header["format_version"] < 2:
                _fail("a conv layer with a shortcut needs format_version 2.")
            return {"type": "conv", "w": w, "b": bias, "stride": tuple(stride), "groups": int(groups), "shortcut": shortcut,
                    "act": layer.get("activation", "none"), "binarize": bool(layer.get("binarize_input", False)),
                    "in": w.shape[1] * (w.shape[0] if groups != 1 else 1), "out": w.shape[0]}
        if kind == "se":
            w1 = self._float(layer.get("w1"), arrays, None)
            if w1.ndim != 2:
                _fail("se w1 must be 2-D.")
            r, c = w1.shape
            w2 = self._float(layer.get("w2"), arrays, (c, r))
            return {"type": "se", "w1t": np.ascontiguousarray(w1.T), "b1": self._float(layer.get("b1"), arrays, (r,)),
                    "w2t": np.ascontiguousarray(w2.T), "b2": self._float(layer.get("b2"), arrays, (c,)),
                    "binarize": bool(layer.get("binarize_input", False)), "in": c, "out": c}
        if kind == "block":
            inner = layer.get("layers")
            if not isinstance(inner, list) or not inner:
                _fail("a block needs a non-empty 'layers' list.")
            return {"type": "block", "layers": [self._compile(x, arrays) for x in inner],
                    "residual": bool(layer.get("residual", False))}
        if kind == "pool":
            return {"type": "pool"}
        if kind == "dense":
            return {"type": "dense"}
        _fail(f"unknown layer type {kind!r}.")

    def _head_f32(self) -> dict[str, np.ndarray]:
        return self._encoded_head if self._encoded_head is not None else super()._head_f32()

    def with_head(self, head: dict, version: str):
        """See :meth:`WindowedClassifier.with_head`; an encoded head is first rewritten as plain float32 arrays
        ``head.weight``/``head.bias`` (the blobs keep the old values, unused)."""
        if self._encoded_head is None:
            return super().with_head(head, version)
        header = json.loads(json.dumps({k: v for k, v in self.header.items() if k not in ("arrays", "weights_sha256")}))
        header["architecture"]["layers"][-1] = {"type": "dense", "weight": "head.weight", "bias": "head.bias"}
        arrays = {**self.storage, "head.weight": self._encoded_head["weight"], "head.bias": self._encoded_head["bias"]}
        header["arrays"] = {n: {"shape": list(a.shape), "dtype": a.dtype.name} for n, a in arrays.items()}
        return build_classifier(header, arrays).with_head(head, version)

    @staticmethod
    def _float(name: object, arrays: dict[str, np.ndarray], shape: tuple | None) -> np.ndarray:
        if isinstance(name, dict):
            if shape is not None and len(shape) == 1:
                return _vector(name, arrays, shape[0])
            a = decode_tensor(name, arrays)
            if shape is not None and a.shape != shape:
                _fail(f"tensor {name.get('array')!r} has shape {a.shape}, expected {shape}.")
            return a
        if not isinstance(name, str) or name not in arrays:
            _fail(f"missing array {name!r}.")
        a = arrays[name]
        if a.dtype.kind != "f" or (shape is not None and a.shape != shape):
            _fail(f"array {name!r} must be float with shape {shape}, got {a.dtype} {a.shape}.")
        return a.astype(np.float32)

    def _check_widths(self, embed_dim: int) -> None:
        width = 1

        def walk(plan: list[dict], width: int) -> int:
            for step in plan:
                if step["type"] in ("conv", "se"):
                    if step["in"] != width:
                        _fail(f"a {step['type']} layer expects {step['in']} channels but receives {width}.")
                    width = step["out"]
                elif step["type"] == "block":
                    out = walk(step["layers"], width)
                    if step["residual"] and out != width:
                        _fail("a residual block must keep its channel count.")
                    width = out
            return width

        width = walk(self.plan[:-2], width)
        if width != embed_dim:
            _fail(f"the embedding has {width} channels but the head expects {embed_dim}.")

    def network_input(self, samples: np.ndarray) -> np.ndarray:
        """(n_windows, n_mels, frames, 1) normalised log-mels of samples at the model's rate."""
        log_mels, _ = log_mel_windows(samples, self.feature_params)
        x = (log_mels - log_mels.mean(axis=(1, 2), keepdims=True)) / self.input_scale
        return x[..., None].astype(np.float32)

    def _run(self, plan: list[dict], x: np.ndarray) -> np.ndarray:
        for step in plan:
            kind = step["type"]
            if kind == "conv":
                inp = np.sign(x) if step["binarize"] else x
                y = conv2d(inp, step["w"], step["b"], step["stride"], step["groups"])
                if step["shortcut"]:
                    y += match_channels(x, y.shape[-1])
                x = activate(y, step["act"])
            elif kind == "se":
                z = x.mean(axis=(1, 2))
                sign = np.sign if step["binarize"] else (lambda v: v)
                h = np.maximum(sign(z) @ step["w1t"] + step["b1"], 0.0)
                g = sigmoid(sign(h) @ step["w2t"] + step["b2"])
                x = x * g[:, None, None, :]
            elif kind == "block":
                y = self._run(step["layers"], x)
                x = x + y if step["residual"] else y
            elif kind == "pool":
                x = x.mean(axis=(1, 2))
        return x

    def embeddings_from_input(self, x: np.ndarray) -> np.ndarray:
        """(n, d) embeddings of network inputs, :data:`WINDOW_BATCH` windows at a time."""
        if len(x) <= WINDOW_BATCH:
            return self._run(self.plan[:-1], x).astype(np.float32)
        return np.concatenate([self._run(self.plan[:-1], x[i: i + WINDOW_BATCH]).astype(np.float32)
                               for i in range(0, len(x), WINDOW_BATCH)])

    def window_embeddings(self, samples: np.ndarray) -> np.ndarray:
        return self.embeddings_from_input(self.network_input(samples))


@register_architecture(ARCHITECTURE)
def build(header: dict, arrays: dict[str, np.ndarray]) -> PhiNetClassifier:
    return PhiNetClassifier(header, arrays)
