"""The phone's trainer (softmax regression + FedProx) and the update codec (clip, int8)."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from ml.runtime.federated import codec
from ml.runtime.federated.trainer import LocalHyper, error_rate, train_head


def blobs(rng, n=300, d=8, labels=3):
    centres = rng.normal(0, 3, size=(labels, d))
    y = rng.integers(0, labels, n)
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def zero_head(d=8, labels=3):
    return {"weight": np.zeros((d, labels), np.float32), "bias": np.zeros(labels, np.float32)}


def test_local_training_learns_and_reports():
    rng = np.random.default_rng(0)
    x, y = blobs(rng)
    res = train_head(zero_head(), x, y, LocalHyper(epochs=5, lr=0.1), rng)
    assert res.n == 300 and res.loss < 0.5 and res.val_error < 0.1
    assert error_rate(res.delta, x, y) < 0.1  # from a zero head the delta is the trained head


def test_fedprox_keeps_the_local_model_close_to_the_global_one():
    rng = np.random.default_rng(1)
    x, y = blobs(rng)
    free = train_head(zero_head(), x, y, LocalHyper(epochs=5, lr=0.1, mu=0.0), np.random.default_rng(2))
    prox = train_head(zero_head(), x, y, LocalHyper(epochs=5, lr=0.1, mu=1.0), np.random.default_rng(2))
    assert codec.l2_norm(prox.delta) < 0.7 * codec.l2_norm(free.delta)


def test_trainer_rejects_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        train_head(zero_head(), np.zeros((3, 5)), np.zeros(3, int), LocalHyper(), rng)
    with pytest.raises(ValueError):
        train_head(zero_head(), np.zeros((3, 8)), np.array([0, 1, 7]), LocalHyper(), rng)
    with pytest.raises(ValueError):
        train_head(zero_head(), np.zeros((3, 8)), np.zeros(3, int), LocalHyper(epochs=0), rng)


def test_clip_and_quantise_are_bounded_unbiased_and_a_quarter_of_float32():
    rng = np.random.default_rng(0)
    update = {"weight": rng.normal(size=(128, 32)).astype(np.float32), "bias": rng.normal(size=32).astype(np.float32)}
    clipped, norm = codec.clip_update(update, 1.0)
    assert norm > 1 and codec.l2_norm(clipped) == pytest.approx(1.0, rel=1e-5)
    enc = codec.encode(clipped, rng)
    dec = codec.decode(enc, {"weight": (128, 32), "bias": (32,)})
    assert codec.l2_norm(dec) <= 1.0 * (1 + codec.CLIP_SLACK)
    float_bytes = 4 * (128 * 32 + 32)
    assert codec.payload_bytes(enc) <= float_bytes / 4 + 8
    mean = np.mean([codec.decode(codec.encode(clipped, rng), {"weight": (128, 32), "bias": (32,)})["weight"]
                    for _ in range(200)], axis=0)
    assert np.abs(mean - clipped["weight"]).max() < 0.2 * np.abs(clipped["weight"]).max()


@pytest.mark.parametrize("mutate,code", [
    (lambda e: e.pop("bias"), "update_shape_mismatch"),
    (lambda e: e["weight"].update(shape=[4, 4]), "update_shape_mismatch"),
    (lambda e: e["weight"].update(scale=float("nan")), "update_not_finite"),
    (lambda e: e["weight"].update(scale=1e308), "update_not_finite"),
    (lambda e: e["weight"].update(scale=-1.0), "update_malformed"),
    (lambda e: e["weight"].update(q="***"), "update_malformed"),
    (lambda e: e["weight"].update(q=base64.b64encode(b"\x01" * 5).decode()), "update_shape_mismatch"),
    (lambda e: e["weight"].update(extra=1), "update_malformed"),
])
def test_decode_rejects_malformed_updates(mutate, code):
    rng = np.random.default_rng(0)
    enc = codec.encode({"weight": rng.normal(size=(8, 3)), "bias": rng.normal(size=3)}, rng)
    mutate(enc)
    with pytest.raises(codec.UpdateFormatError) as err:
        codec.decode(enc, {"weight": (8, 3), "bias": (3,)})
    assert err.value.code == code
