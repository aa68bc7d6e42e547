"""PhiNet-style students in torch: inverted residual blocks with squeeze-and-excitation, and
their XNOR binary twins; :func:`export_arrays` turns a trained model into runtime layers.

Scaling (after PhiNet, Paissan et al. 2022):

* ``alpha`` (width) multiplies every channel count;
* ``t0`` is the first block's expansion factor; ``beta`` (shape) makes it grow linearly to
  ``beta * t0`` at the last block;
* ``blocks`` (B) inverted residual blocks; three of them (the first, and those at 1/3 and 2/3
  of the depth) downsample by 2 and widen the channels by 1.5x.

Block: 1x1 expand -> BN -> act -> 3x3 depthwise (stride) -> BN -> act -> SE -> 1x1 project ->
BN (+ input when the shape is kept). Then a 1x1 "neck" conv + BN + relu6, global average pool
(the embedding) and a dense head.

XNOR variant (``binary=True``, Rastegari et al. 2016): every conv inside the blocks and the
neck uses sign-binarised weights scaled per filter by alpha = mean |W| and sign-binarised
inputs; the straight-through estimator passes the gradient where |x| <= 1; the float latent
weights are what the optimiser updates. The SE layers are XNOR too; the stem conv and the dense
head stay full precision; block activations are the identity (the sign is the non-linearity) and
the residual path stays float. ``binary_shortcuts`` adds a real-valued, parameter-free shortcut
around every binary 1x1 conv (Bi-Real Net, Liu et al. 2018: the input's channels tiled or averaged
to the output's, added before the activation), so what a sign throws away still reaches the next
layer. ``binary_depthwise=False`` keeps the 3x3 depthwise convs full
precision (6 % of the weights; nine weights per filter lose most of what they say when binarised,
as binary MobileNets found).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class PhiNetConfig:
    alpha: float = 0.5
    beta: float = 1.0
    t0: float = 3.0
    blocks: int = 5
    base_channels: int = 32
    embed_dim: int = 96
    binary: bool = False
    se: bool = True
    binary_depthwise: bool = True  # XNOR twin: False keeps the 3x3 depthwise convs full precision
    binary_shortcuts: bool = False  # XNOR twin: a real-valued shortcut around every binary 1x1 conv (Bi-Real)

    def to_dict(self) -> dict:
        return asdict(self)


def _round(c: float, to: int = 4) -> int:
    return max(to, int(round(c / to)) * to)


def block_plan(cfg: PhiNetConfig) -> tuple[int, list[tuple[int, int, int, int]]]:
    """(stem channels, [(in, expanded, out, stride) per block])."""
    stem = _round(cfg.alpha * cfg.base_channels / 2)
    down = {0, math.ceil(cfg.blocks / 3), math.ceil(2 * cfg.blocks / 3)}
    width = cfg.alpha * cfg.base_channels
    plan, c_in = [], stem
    for i in range(cfg.blocks):
        stride = 2 if i in down else 1
        if stride == 2 and i > 0:
            width *= 1.5
        c_out = _round(width)
        t = cfg.t0 * (1 + (cfg.beta - 1) * i / max(1, cfg.blocks - 1))
        plan.append((c_in, _round(c_in * t), c_out, stride))
        c_in = c_out
    return stem, plan


class BinarizeSTE(torch.autograd.Function):
    """sign(x) forward; straight-through gradient where |x| <= 1."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def binarize(x: torch.Tensor) -> torch.Tensor:
    return BinarizeSTE.apply(x)


def match_channels(x: torch.Tensor, c_out: int) -> torch.Tensor:
    """Parameter-free map of ``x``'s channels to ``c_out``: tiled when widening; when narrowing, zero-padded to
    k * c_out channels and averaged over the k groups of c_out (the runtime's ``match_channels``)."""
    n, c_in, h, w = x.shape
    if c_out > c_in:
        return x.repeat(1, math.ceil(c_out / c_in), 1, 1)[:, :c_out]
    if c_out < c_in:
        k = math.ceil(c_in / c_out)
        return F.pad(x, (0, 0, 0, 0, 0, k * c_out - c_in)).reshape(n, k, c_out, h, w).mean(dim=1)
    return x


class Conv(nn.Module):
    """Conv (no bias) + BN (+ a real shortcut from the input) + activation; XNOR when ``binary``."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1,
                 act: str = "relu6", binary: bool = False, shortcut: bool = False):
        super().__init__()
        if shortcut and (k != 1 or stride != 1 or groups != 1):
            raise ValueError("a shortcut needs a 1x1 conv with stride 1")
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act, self.binary, self.stride, self.groups, self.shortcut = act, binary, stride, groups, shortcut

    def effective_weight(self) -> torch.Tensor:
        w = self.conv.weight
        if not self.binary:
            return w
        alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
        return binarize(w) * alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = binarize(x) if self.binary else x
        y = F.conv2d(inp, self.effective_weight(), None, self.conv.stride, self.conv.padding, groups=self.groups)
        y = self.bn(y)
        if self.shortcut:
            y = y + match_channels(x, y.shape[1])
        if self.act == "relu6":
            return F.relu6(y)
        if self.act == "hswish":
            return F.hardswish(y)
        return y


def binary_linear(x: torch.Tensor, fc: nn.Linear) -> torch.Tensor:
    """XNOR linear layer: sign(x) times sign(W) scaled per output by mean |W|, plus the float bias."""
    alpha = fc.weight.abs().mean(dim=1, keepdim=True)
    return F.linear(binarize(x), binarize(fc.weight) * alpha, fc.bias)


class SE(nn.Module):
    """Squeeze-and-excitation (reduction 4); both FC layers are XNOR in the binary variant."""

    def __init__(self, c: int, binary: bool = False):
        super().__init__()
        r = max(4, c // 4)
        self.fc1, self.fc2 = nn.Linear(c, r), nn.Linear(r, c)
        self.binary = binary

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mean(dim=(2, 3))
        if self.binary:
            g = torch.sigmoid(binary_linear(F.relu(binary_linear(z, self.fc1)), self.fc2))
        else:
            g = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))
        return x * g[:, :, None, None]


class Block(nn.Module):
    def __init__(self, c_in: int, c_exp: int, c_out: int, stride: int, cfg: PhiNetConfig):
        super().__init__()
        act = "none" if cfg.binary else "hswish"
        short = cfg.binary and cfg.binary_shortcuts
        self.expand = Conv(c_in, c_exp, 1, act=act, binary=cfg.binary, shortcut=short) if c_exp != c_in else None
        self.dw = Conv(c_exp, c_exp, 3, stride, groups=c_exp, act=act, binary=cfg.binary and cfg.binary_depthwise)
        self.se = SE(c_exp, cfg.binary) if cfg.se else None
        self.project = Conv(c_exp, c_out, 1, act="none", binary=cfg.binary, shortcut=short)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class PhiNet(nn.Module):
    """Log-mel window ``(n, 1, n_mels, frames)`` (already normalised) -> logits."""

    def __init__(self, cfg: PhiNetConfig, n_labels: int):
        super().__init__()
        self.cfg = cfg
        stem, plan = block_plan(cfg)
        self.stem = Conv(1, stem, 3, 2, act="none" if cfg.binary else "relu6")
        self.blocks = nn.ModuleList(Block(*p, cfg=cfg) for p in plan)
        self.neck = Conv(plan[-1][2], cfg.embed_dim, 1, act="relu6", binary=cfg.binary,
                         shortcut=cfg.binary and cfg.binary_shortcuts)
        self.head = nn.Linear(cfg.embed_dim, n_labels)
        self.dropout = nn.Dropout(0.2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.neck(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


def count_parameters(model: nn.Module) -> int:
    """Inference parameters (BN folded into the convs: one bias per conv output channel)."""
    total = 0
    for m in model.modules():
        if isinstance(m, Conv):
            total += m.conv.weight.numel() + m.conv.out_channels
        elif isinstance(m, nn.Linear):
            total += m.weight.numel() + m.bias.numel()
    return total


def macs_per_window(model: "PhiNet", n_mels: int, frames: int) -> int:
    """Multiply-accumulates of one window's forward pass."""
    total = 0
    hooks = []

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, Conv):
            c = mod.conv
            total += out.numel() * (c.in_channels // c.groups) * c.kernel_size[0] * c.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features

    for m in model.modules():
        if isinstance(m, (Conv, nn.Linear)):
            hooks.append(m.register_forward_hook(hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, n_mels, frames))
    model.train(was)
    for h in hooks:
        h.remove()
    return int(total)


# --- export ------------------------------------------------------------------------------------

def _fold(conv: Conv) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(weight or signs, bias, per-filter alpha for binary) with batch norm folded in."""
    bn = conv.bn
    gamma = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    bias = (bn.bias - bn.running_mean * gamma).detach().numpy().astype(np.float32)
    w = conv.conv.weight.detach()
    if conv.binary:
        alpha = w.abs().mean(dim=(1, 2, 3)) * gamma
        signs = torch.where(w > 0, 1.0, -1.0)  # sign(0) -> -1 at export; a latent weight of exactly 0 is vanishingly rare
        return signs.numpy().astype(np.float32), bias, alpha.numpy().astype(np.float32)
    return (w * gamma[:, None, None, None]).numpy().astype(np.float32), bias, None


class Blobs:
    """Accumulates small tensors into 1-D blobs (one archive entry per dtype)."""

    def __init__(self, float_dtype: str):
        self.float_dtype = float_dtype
        self.parts: dict[str, list[np.ndarray]] = {"blob.float": [], "blob.bits": [], "blob.int8": []}
        self.sizes = {k: 0 for k in self.parts}

    def add(self, blob: str, values: np.ndarray) -> int:
        offset = self.sizes[blob]
        self.parts[blob].append(values.reshape(-1))
        self.sizes[blob] += values.size
        return offset

    def float(self, values: np.ndarray) -> dict:
        v = np.asarray(values, dtype=np.float32)
        return {"array": "blob.float", "encoding": self.float_dtype, "shape": [int(d) for d in v.shape],
                "offset": self.add("blob.float", v)}

    def arrays(self) -> dict[str, np.ndarray]:
        dtypes = {"blob.float": self.float_dtype, "blob.bits": "uint8", "blob.int8": "int8"}
        return {k: np.concatenate(v).astype(dtypes[k]) for k, v in self.parts.items() if v}


def int8_rows(values: np.ndarray, levels: int = 127) -> tuple[np.ndarray, np.ndarray]:
    """(q int8 of shape (rows, -1) in [-levels, levels], scale float32 per row): ``values ≈ q * scale``, one
    scale per first-axis row (an output channel; a ``[1, C]`` vector gets one scale for the whole vector)."""
    flat = np.asarray(values, np.float32).reshape(values.shape[0], -1)
    scale = np.maximum(np.abs(flat).max(axis=1), 1e-12) / levels
    q = np.clip(np.round(flat / scale[:, None]), -levels, levels).astype(np.int8)
    return q, scale.astype(np.float32)


def encode_tensor(name: str, w: np.ndarray, encoding: str, arrays: dict, alpha: np.ndarray | None = None,
                  blobs: Blobs | None = None) -> dict:
    """Store ``w`` under ``name`` (or into ``blobs``) with ``encoding``; return its runtime spec."""
    shape = [int(d) for d in w.shape]
    if blobs is not None:
        if alpha is not None:
            bits = np.packbits((w.reshape(-1) > 0).astype(np.uint8))
            return {"encoding": "binary", "shape": shape, "bits": "blob.bits", "bits_offset": blobs.add("blob.bits", bits),
                    "alpha": "blob.float", "alpha_offset": blobs.float(alpha)["offset"]}
        if encoding == "int8":
            q, scale = int8_rows(w)
            return {"encoding": "int8", "shape": shape, "q": "blob.int8", "q_offset": blobs.add("blob.int8", q),
                    "scale": "blob.float", "scale_offset": blobs.float(scale)["offset"]}
        return blobs.float(w)
    if alpha is not None:
        arrays[f"{name}.bits"] = np.packbits((w.reshape(-1) > 0).astype(np.uint8))
        arrays[f"{name}.alpha"] = alpha.astype(np.float32)
        return {"array": name, "encoding": "binary", "shape": shape}
    if encoding == "int8":
        q, scale = int8_rows(w)
        arrays[f"{name}.q"], arrays[f"{name}.scale"] = q.reshape(shape), scale
        return {"array": name, "encoding": "int8", "shape": shape}
    arrays[name] = w.astype(encoding)
    return {"array": name, "encoding": encoding, "shape": shape}


def _conv_layer(name: str, conv: Conv, encoding: str, arrays: dict, blobs: Blobs | None = None) -> dict:
    w, bias, alpha = _fold(conv)
    if blobs is not None:
        bias_ref: str | dict = blobs.float(bias)
    else:
        arrays[f"{name}.bias"] = bias
        bias_ref = f"{name}.bias"
    layer = {"type": "conv", "weight": encode_tensor(f"{name}.weight", w, encoding, arrays, alpha, blobs),
             "bias": bias_ref, "stride": [conv.stride, conv.stride], "groups": conv.groups,
             "activation": conv.act, "binarize_input": conv.binary}
    if conv.shortcut:  # only format_version 2 files name it; version 1 files stay as they were
        layer["shortcut"] = True
    return layer


def _se_layer(name: str, se: SE, fenc: str, arrays: dict, blobs: Blobs | None) -> dict:
    """SE weights in torch layout (out, in); XNOR SE layers store signs + per-output alpha."""
    refs: dict = {"type": "se", "binarize_input": se.binary}
    for key, fc in (("1", se.fc1), ("2", se.fc2)):
        w = fc.weight.detach()
        if se.binary:
            alpha = w.abs().mean(dim=1).numpy()
            signs = torch.where(w > 0, 1.0, -1.0).numpy()
            refs[f"w{key}"] = encode_tensor(f"{name}.w{key}", signs, fenc, arrays, alpha, blobs)
        elif blobs is not None:
            refs[f"w{key}"] = blobs.float(w.numpy())
        else:
            arrays[f"{name}.w{key}"] = _float(w, fenc)
            refs[f"w{key}"] = f"{name}.w{key}"
        if blobs is not None:
            refs[f"b{key}"] = blobs.float(fc.bias.detach().numpy())
        else:
            arrays[f"{name}.b{key}"] = _float(fc.bias, fenc)
            refs[f"b{key}"] = f"{name}.b{key}"
    return refs


def _float(t: torch.Tensor, encoding: str) -> np.ndarray:
    return t.detach().numpy().astype(np.float16 if encoding == "float16" else np.float32)


def export_arrays(model: PhiNet, encoding: str = "float16", packed: bool = True
                  ) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Runtime ``architecture.layers`` and arrays of a trained model (BN folded; eval statistics).

    ``encoding`` (float32, float16 or int8) applies to full-precision convs; binary convs are
    bit-packed; SE, biases, alphas and the head are stored as float16 unless ``encoding`` is
    float32. ``packed`` puts every tensor but the head into a few blobs (see the runtime).
    """
    if encoding not in ("float32", "float16", "int8"):
        raise ValueError(f"unknown encoding {encoding!r}")
    fenc = "float32" if encoding == "float32" else "float16"
    arrays: dict[str, np.ndarray] = {}
    blobs = Blobs(fenc) if packed else None
    layers = [_conv_layer("stem", model.stem, encoding, arrays, blobs)]
    for i, block in enumerate(model.blocks):
        inner = []
        if block.expand is not None:
            inner.append(_conv_layer(f"b{i}.expand", block.expand, encoding, arrays, blobs))
        inner.append(_conv_layer(f"b{i}.dw", block.dw, encoding, arrays, blobs))
        if block.se is not None:
            inner.append(_se_layer(f"b{i}.se", block.se, fenc, arrays, blobs))
        inner.append(_conv_layer(f"b{i}.project", block.project, encoding, arrays, blobs))
        layers.append({"type": "block", "residual": block.residual, "layers": inner})
    layers.append(_conv_layer("neck", model.neck, encoding, arrays, blobs))
    if blobs is not None:
        arrays.update(blobs.arrays())
    layers.append({"type": "pool"})
    arrays["head.weight"] = _float(model.head.weight.T, fenc)
    arrays["head.bias"] = _float(model.head.bias, fenc)
    layers.append({"type": "dense", "weight": "head.weight", "bias": "head.bias"})
    return layers, arrays


def from_runtime(clf) -> PhiNet:
    """A torch PhiNet (eval mode) holding the weights of a loaded full-precision runtime ``phinet`` file.

    Batch norm is folded into the runtime convolutions, so every BN here is the identity (scale 1,
    mean 0, variance 1 - eps) and carries the folded bias. Used to distil an XNOR twin from a
    student that was trained and exported earlier (``python -m ml train --xnor-from``).
    """
    cfg = PhiNetConfig(**clf.header["architecture"]["config"])
    if cfg.binary:
        raise ValueError("from_runtime needs a full-precision student, not an XNOR one.")
    return load_runtime_weights(PhiNet(cfg, len(clf.labels)).eval(), clf)


def load_runtime_weights(model: PhiNet, clf) -> PhiNet:
    """Copy the decoded weights of the loaded runtime file ``clf`` into ``model`` (same architecture) and return it.

    Every BN becomes the identity carrying the file's folded bias. For an XNOR file the decoded weights are
    ``alpha * sign`` (the torch network the file describes, as the parity tests use it); ``ValueError`` when
    the file's layers do not match ``model``.
    """
    convs: list[Conv] = [model.stem]
    ses: list[SE] = []
    for block in model.blocks:
        convs += ([block.expand] if block.expand is not None else []) + [block.dw]
        ses += [block.se] if block.se is not None else []
        convs.append(block.project)
    convs.append(model.neck)
    steps: list[dict] = []

    def walk(plan: list[dict]) -> None:
        for step in plan:
            if step["type"] == "block":
                walk(step["layers"])
            elif step["type"] in ("conv", "se"):
                steps.append(step)

    walk(clf.plan)
    conv_steps = [s for s in steps if s["type"] == "conv"]
    se_steps = [s for s in steps if s["type"] == "se"]
    if len(conv_steps) != len(convs) or len(se_steps) != len(ses):
        raise ValueError("the runtime layers do not match the architecture config.")
    with torch.no_grad():
        for conv, step in zip(convs, conv_steps):
            if tuple(conv.conv.weight.shape) != step["w"].shape:
                raise ValueError(f"conv weight {step['w'].shape} does not fit {tuple(conv.conv.weight.shape)}.")
            conv.conv.weight.copy_(torch.from_numpy(step["w"]))
            conv.bn.weight.fill_(1.0)
            conv.bn.bias.copy_(torch.from_numpy(step["b"]))
            conv.bn.running_mean.zero_()
            conv.bn.running_var.fill_(1.0 - conv.bn.eps)
        for se, step in zip(ses, se_steps):
            se.fc1.weight.copy_(torch.from_numpy(step["w1t"].T))
            se.fc1.bias.copy_(torch.from_numpy(step["b1"]))
            se.fc2.weight.copy_(torch.from_numpy(step["w2t"].T))
            se.fc2.bias.copy_(torch.from_numpy(step["b2"]))
        head = clf.head()
        model.head.weight.copy_(torch.from_numpy(head["weight"].T))
        model.head.bias.copy_(torch.from_numpy(head["bias"]))
    return model
