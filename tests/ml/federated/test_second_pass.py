"""Second pass of issue #4: norm bounding, centered clipping, Multi-Krum with m = K − f, logit-space
distillation, aggregation from a secure sum, warm-start data split, and the secure-aggregation
wire forms."""
from __future__ import annotations

import numpy as np
import pytest

from ml.federated import robust
from ml.federated.distill import distill, teacher_mix
from ml.federated.sim import build, warm_start
from ml.federated.simdata import Recording
from ml.federated.strategy import ClientUpdate, aggregate, aggregate_sum, combine, validate_strategy
from ml.runtime.federated import secagg_wire as wire
from ml.runtime.federated.secagg import SHARE_BYTES
from ml.runtime.federated.trainer import LocalHyper


def honest_and_bad(seed: int = 0, k: int = 10, bad: int = 2, p: int = 50):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=p)
    u = truth + 0.3 * rng.normal(size=(k, p))
    u[:bad] = -10 * u[:bad]  # boosted sign flip
    return truth, u


def test_centered_clipping_resists_boosted_sign_flips_where_the_mean_collapses():
    truth, u = honest_and_bad()
    cc = robust.centered_clip(u)
    mean = u.mean(axis=0)
    assert np.linalg.norm(cc - truth) < 0.25 * np.linalg.norm(truth)
    assert np.dot(mean, truth) < 0  # plain mean points the wrong way
    clean = truth + 0.3 * np.random.default_rng(1).normal(size=(10, truth.size))
    assert np.allclose(robust.centered_clip(clean, tau=1e6), clean.mean(axis=0))  # huge τ = the mean


def test_norm_bounding_caps_each_update_and_leaves_small_ones_alone():
    _, u = honest_and_bad()
    b = robust.bound_norms(u, 2.0)
    assert np.all(np.linalg.norm(b, axis=1) <= 2.0 + 1e-9)
    small = np.ones((2, 4)) * 0.1
    assert np.array_equal(robust.bound_norms(small, 2.0), small)
    ups = [ClientUpdate({"w": row.astype(np.float32)}, 10, 1.0, 0.5) for row in u]
    delta, info = combine(validate_strategy({"norm_bound": "median"}), ups, 1.0, np.random.default_rng(0))
    assert info["norm_bound"] == pytest.approx(np.median(np.linalg.norm(u, axis=1)), rel=1e-5)
    assert np.linalg.norm(delta) <= info["norm_bound"] + 1e-6


def test_multikrum_with_m_zero_keeps_k_minus_f_and_drops_the_attackers():
    _, u = honest_and_bad()
    ups = [ClientUpdate({"w": row}, 10, 1.0, 0.5) for row in u]
    _, info = combine(validate_strategy({"aggregator": "multikrum", "krum_f": 2, "krum_m": 0}), ups, 1.0,
                      np.random.default_rng(0))
    assert sorted(info["selected"]) == list(range(2, 10))


def test_new_strategy_keys_are_validated():
    for bad in ({"norm_bound": "max"}, {"cc_tau": -1}, {"cc_iters": 0}, {"distill_mix": "votes"}):
        with pytest.raises(ValueError):
            validate_strategy(bad)


def test_logit_mixing_of_linear_teachers_is_the_averaged_head_and_the_student_learns_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    g = {"weight": np.zeros((8, 3), np.float32), "bias": np.zeros(3, np.float32)}
    deltas = [{"weight": rng.normal(size=(8, 3)).astype(np.float32), "bias": rng.normal(size=3).astype(np.float32)}
              for _ in range(3)]
    alpha = np.full(3, 1 / 3)
    avg = {k: sum(d[k] for d in deltas) / 3 for k in g}
    target = teacher_mix([{k: g[k] + d[k] for k in g} for d in deltas], alpha, x, mix="logits")
    z = x @ avg["weight"] + avg["bias"]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    assert np.allclose(target, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    student = distill(g, deltas, [0.2, 0.2, 0.2], x, tau=1.0, steps=300, lr=1.0)
    agree = np.mean(np.argmax(x @ student["weight"] + student["bias"], 1) == np.argmax(z, 1))
    assert agree > 0.9


def test_aggregate_sum_is_the_uniform_mean_of_aggregate_and_refuses_robust_rules():
    rng = np.random.default_rng(3)
    head = {"weight": rng.normal(size=(4, 2)).astype(np.float32), "bias": np.zeros(2, np.float32)}
    ups = [ClientUpdate({k: rng.normal(size=v.shape).astype(np.float32) for k, v in head.items()}, n, 1.0, 0.5)
           for n in (3, 5, 9)]
    ref, _, _ = aggregate(head, ups, {"weighting": "uniform"}, clip_norm=10.0, rng=rng)
    total = sum(np.concatenate([u.delta[k].ravel() for k in sorted(head)]).astype(np.float64) for u in ups)
    got, _, info = aggregate_sum(head, total, 3, {}, clip_norm=10.0, rng=rng)
    assert all(np.allclose(got[k], ref[k], atol=1e-6) for k in head) and info["k"] == 3
    with pytest.raises(ValueError):
        aggregate_sum(head, total, 3, {"aggregator": "median"}, clip_norm=1.0, rng=rng)


def test_warm_start_recordists_are_disjoint_from_the_clients_and_the_warm_head_learns():
    rng = np.random.default_rng(0)
    labels = ("a", "b")
    recs = []
    for i in range(24):
        lab = labels[i % 2]
        emb = rng.normal(size=(6, 4)).astype(np.float32) + (3 if lab == "a" else -3)
        recs.append(Recording(str(i), lab, f"person{i % 8}", emb, np.ones(6, np.float32), np.ones(6, np.float32)))
    data = build(recs, labels, seed=0, warm_fraction=0.25)
    owners = {c.name for c in data.clients}
    assert data.warm is not None and len(owners) == 6 and len(data.warm.y) > 0
    warm_people = {f"person{p}" for p in range(8)} - owners
    assert len(warm_people) == 2  # 25 % of 8 recordists, none of them a client
    zero = {"weight": np.zeros((4, 2), np.float32), "bias": np.zeros(2, np.float32)}
    head = warm_start(zero, data, LocalHyper(epochs=5, lr=0.1, batch_size=8))
    z = data.warm.x @ head["weight"] + head["bias"]
    assert np.mean(np.argmax(z, 1) == data.warm.y) > 0.9


def test_ring_quantisation_is_unbiased_inside_the_range_and_clamped_outside():
    assert wire.ring_levels(8, 10) == 12 and wire.ring_levels(16, 10) == 3276
    with pytest.raises(ValueError):
        wire.ring_levels(8, 200)
    rng = np.random.default_rng(0)
    x = np.full(20000, 0.37)
    q = wire.quantise_to_ring(x, 0.1, 12, rng)
    assert abs(q.mean() * 0.1 - 0.37) < 0.005 and set(np.unique(q)) == {3, 4}
    assert np.all(wire.quantise_to_ring(np.array([50.0, -50.0]), 0.1, 12, rng) == [12, -12])
    y = np.array([0, 255, 7], np.uint64)
    assert np.array_equal(wire.decode_ring(wire.encode_ring(y, 8), 3, 8), y)
    with pytest.raises(wire.WireError):
        wire.decode_ring(wire.encode_ring(y, 8), 4, 8)


def test_reveal_messages_must_name_one_kind_per_peer():
    share = wire.b64(b"\x01" * SHARE_BYTES)
    ok = wire.decode_reveal({"1": {"kind": "b", "share": share}, "2": {"kind": "s", "share": share}}, {1}, {2})
    assert ok[1][0] == "b" and ok[2][0] == "s"
    for bad in ({"1": {"kind": "s", "share": share}, "2": {"kind": "s", "share": share}},  # s of a survivor
                {"1": {"kind": "b", "share": share}},                                      # incomplete
                {"1": {"kind": "b", "share": "@@"}, "2": {"kind": "s", "share": share}},
                {"1": {"kind": "b", "share": wire.b64(b"\xff" * SHARE_BYTES)}, "2": {"kind": "s", "share": share}}):
        with pytest.raises(wire.WireError):
            wire.decode_reveal(bad, {1}, {2})
