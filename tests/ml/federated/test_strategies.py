"""Aggregation weights, server optimisers, robust aggregators and the round driver."""
from __future__ import annotations

import numpy as np
import pytest

from ml.federated import robust
from ml.federated.params import flatten, stack, unflatten
from ml.federated.server_opt import ServerOptimiser
from ml.federated.strategy import ClientUpdate, aggregate, validate_strategy
from ml.federated.weights import aggregation_weights


def test_count_weights_are_sample_shares():
    assert np.allclose(aggregation_weights("count", n=[10, 30, 60]), [0.1, 0.3, 0.6])


def test_loss_and_error_weights_favour_better_clients_and_flatten_with_temperature():
    loss = [0.2, 1.0, 2.0]
    sharp = aggregation_weights("loss", loss=loss, tau=0.1)
    soft = aggregation_weights("loss", loss=loss, tau=100.0)
    assert sharp[0] > 0.99 and np.isclose(sharp.sum(), 1)
    assert np.allclose(soft, 1 / 3, atol=0.01)
    err = aggregation_weights("error", error=[0.1, 0.5], tau=0.1)
    assert np.isclose(err[0] / err[1], np.exp(4.0))


def test_bad_weighting_inputs_raise():
    with pytest.raises(ValueError):
        aggregation_weights("count", n=[0, 0])
    with pytest.raises(ValueError):
        aggregation_weights("loss", loss=[1.0], tau=0)
    with pytest.raises(ValueError):
        aggregation_weights("votes", n=[1])


def test_fedavg_moves_towards_clients_with_plus_sign():
    w = np.zeros(3)
    clients = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    delta = aggregation_weights("count", n=[1, 1]) @ (clients - w)
    assert np.allclose(ServerOptimiser.create("fedavg").step(w, delta), [2, 2, 2])
    assert np.allclose(ServerOptimiser.create("fedavg", eta=0.5).step(w, delta), [1, 1, 1])


def test_momentum_accumulates_and_adaptive_optimisers_normalise_the_step():
    opt = ServerOptimiser.create("fedavgm", beta1=0.5)
    w = opt.step(np.zeros(2), np.ones(2))
    w = opt.step(w, np.ones(2))
    assert np.allclose(w, [2.5, 2.5])  # 1 + (0.5 + 1)
    for name in ("fedadam", "fedyogi", "fedadagrad"):
        opt = ServerOptimiser.create(name, eta=0.1)
        small = opt.step(np.zeros(2), np.array([1e-1, 1e3]))
        assert np.all(small > 0) and np.all(np.isfinite(small))
        # sign-like adaptivity: both coordinates move by the same order of magnitude
        assert small[1] / small[0] < 10, name
        assert set(opt.state) == {"m", "v"}


def test_optimiser_rejects_bad_hyperparameters():
    with pytest.raises(ValueError):
        ServerOptimiser.create("fedadam", beta1=1.5)
    with pytest.raises(ValueError):
        ServerOptimiser.create("sgd")


def test_median_and_trimmed_mean_ignore_outliers():
    rng = np.random.default_rng(0)
    honest = rng.normal(1.0, 0.1, size=(8, 50))
    evil = np.full((2, 50), 1e6)
    u = np.vstack([honest, evil])
    assert np.abs(robust.coordinate_median(u) - 1).max() < 0.2
    assert np.abs(robust.trimmed_mean(u, 0.2) - 1).max() < 0.2
    assert robust.trimmed_mean(u, 0.0).mean() > 1e5  # no trimming: plain mean is dragged away


def test_krum_picks_an_honest_update_and_multikrum_averages_honest_ones():
    rng = np.random.default_rng(1)
    honest = rng.normal(0.0, 0.1, size=(7, 20)) + 5
    evil = rng.normal(-50, 0.1, size=(2, 20))
    u = np.vstack([evil, honest])
    agg, chosen = robust.krum(u, f=2)
    assert chosen[0] >= 2 and np.abs(agg - 5).max() < 0.5
    agg, chosen = robust.krum(u, f=2, m=4)
    assert len(chosen) == 4 and min(chosen) >= 2
    with pytest.raises(ValueError):
        robust.krum(u[:3], f=1)


def test_params_round_trip_and_shape_checks():
    p = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.array([7, 8, 9], np.float32)}
    back = unflatten(flatten(p), p)
    assert all(np.array_equal(back[k], p[k]) for k in p)
    with pytest.raises(ValueError):
        stack([p, {"weight": p["weight"]}])


def head(d=4, labels=3, value=0.0):
    return {"weight": np.full((d, labels), value, np.float32), "bias": np.full(labels, value, np.float32)}


def test_aggregate_mean_applies_weighted_delta_and_reports():
    updates = [ClientUpdate(head(value=1.0), n=1, loss=1.0, val_error=0.5),
               ClientUpdate(head(value=4.0), n=2, loss=1.0, val_error=0.5)]
    new, state, info = aggregate(head(), updates, {"aggregator": "mean"}, clip_norm=100, rng=np.random.default_rng(0))
    assert np.allclose(new["weight"], 3.0) and np.allclose(new["bias"], 3.0)
    assert info["weights"] == [pytest.approx(1 / 3), pytest.approx(2 / 3)]


def test_aggregate_with_dp_noise_is_noisy_but_centred():
    updates = [ClientUpdate(head(value=0.1), n=5, loss=1.0, val_error=0.5) for _ in range(10)]
    rng = np.random.default_rng(0)
    runs = [aggregate(head(), updates, {"noise_multiplier": 1.0}, clip_norm=1.0, rng=rng)[0]["weight"] for _ in range(300)]
    mean = np.mean(runs, axis=0)
    spread = np.std(runs, axis=0)
    assert np.allclose(mean, 0.1, atol=0.02)
    assert np.allclose(spread, 0.1, rtol=0.2)  # σC / K = 1 * 1 / 10


def test_strategy_validation_names_the_problem():
    with pytest.raises(ValueError, match="aggregator"):
        validate_strategy({"aggregator": "best"})
    with pytest.raises(ValueError, match="Unknown strategy keys"):
        validate_strategy({"lr": 1})
    with pytest.raises(ValueError, match="trim_beta"):
        validate_strategy({"trim_beta": 0.7})
    assert validate_strategy(None)["aggregator"] == "mean"


def test_distill_aggregator_moves_student_towards_teachers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    target = {"weight": rng.normal(size=(4, 3)).astype(np.float32), "bias": np.zeros(3, np.float32)}
    updates = [ClientUpdate(target, n=10, loss=0.5, val_error=0.1)]
    new, _, info = aggregate(head(), updates, {"aggregator": "distill", "distill_steps": 500}, clip_norm=10,
                             rng=rng, proxy_x=x)
    agree = np.mean(np.argmax(x @ new["weight"], 1) == np.argmax(x @ target["weight"], 1))
    assert agree > 0.9
