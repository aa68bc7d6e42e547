"""One round of aggregation from a strategy configuration: the code shared by the live
server (``server.federated.tasks``) and the offline simulation (``ml.federated.sim``).

A strategy is a JSON object (defaults in :data:`DEFAULT_STRATEGY`)::

    {"aggregator": "mean" | "median" | "trimmed_mean" | "krum" | "multikrum" | "centered_clip" | "distill",
     "weighting": "count" | "loss" | "error" | "uniform", "tau": null,   # for "mean"
     "server_opt": "fedavg" | "fedavgm" | "fedadam" | "fedyogi" | "fedadagrad",
     "server_lr": null, "beta1": null, "beta2": null, "opt_tau": null,  # null = optimiser default
     "trim_beta": 0.1, "krum_f": 1, "krum_m": 1,
     "noise_multiplier": 0.0, "adaptive_clip": false, "clip_quantile": 0.5, "clip_lr": 0.2,
     "distill_steps": 200, "distill_lr": 0.5, "distill_mix": "logits", "reinit_tol": 0.0,
     "norm_bound": null, "cc_tau": null, "cc_iters": 3}

The aggregator turns the K client deltas into one delta Δ (for ``mean``: Σ α_k Δ_k with the
chosen weighting; with noise_multiplier > 0, uniform weights plus Gaussian noise σ·C on the
sum, :mod:`ml.federated.dp`); the server optimiser then applies w_T = w_{T−1} + η_s·step(Δ).
``distill`` replaces both by multi-teacher distillation on the proxy set.

``norm_bound`` ("clip" | "median" | null) first scales every update down to the clip norm C or to
the round's median update norm (norm bounding before any rule: a boosted or noisy update then
weighs no more than an honest one). ``centered_clip`` is Karimireddy et al.'s centered clipping
(τ = ``cc_tau`` or the median distance, ``cc_iters`` iterations). For Multi-Krum, ``krum_m`` = 0
means K − f (every update but the f most suspicious).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ml.federated import dp, robust
from ml.federated.distill import converged, distill
from ml.federated.params import flatten, stack, unflatten
from ml.federated.server_opt import OPTIMISERS, ServerOptimiser
from ml.federated.weights import WEIGHTINGS, aggregation_weights

AGGREGATORS = ("mean", "median", "trimmed_mean", "krum", "multikrum", "centered_clip", "distill")
DEFAULT_STRATEGY: dict[str, Any] = {
    "aggregator": "mean", "weighting": "count", "tau": None,
    "server_opt": "fedavg", "server_lr": None, "beta1": None, "beta2": None, "opt_tau": None,
    "trim_beta": 0.1, "krum_f": 1, "krum_m": 1,
    "noise_multiplier": 0.0, "adaptive_clip": False, "clip_quantile": 0.5, "clip_lr": 0.2,
    "distill_steps": 200, "distill_lr": 0.5, "distill_mix": "logits", "reinit_tol": 0.0,
    "norm_bound": None, "cc_tau": None, "cc_iters": 3,
}


@dataclass(frozen=True)
class ClientUpdate:
    delta: dict[str, np.ndarray]
    n: int
    loss: float
    val_error: float
    raw_norm: float | None = None  # norm before client clipping (for adaptive clipping)


def validate_strategy(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A complete strategy (defaults filled in); ``ValueError`` naming the bad key otherwise."""
    config = dict(config or {})
    unknown = set(config) - set(DEFAULT_STRATEGY)
    if unknown:
        raise ValueError(f"Unknown strategy keys: {', '.join(sorted(unknown))}.")
    s = {**DEFAULT_STRATEGY, **config}
    if s["aggregator"] not in AGGREGATORS:
        raise ValueError(f"aggregator must be one of {', '.join(AGGREGATORS)}.")
    if s["weighting"] not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}.")
    if s["server_opt"] not in OPTIMISERS:
        raise ValueError(f"server_opt must be one of {', '.join(OPTIMISERS)}.")
    for key in ("tau", "server_lr", "beta1", "beta2", "opt_tau"):
        if s[key] is not None and (isinstance(s[key], bool) or not isinstance(s[key], (int, float))):
            raise ValueError(f"{key} must be a number or null.")
    if not 0 <= float(s["trim_beta"]) < 0.5:
        raise ValueError("trim_beta must be in [0, 0.5).")
    for key in ("krum_f", "krum_m", "distill_steps"):
        if isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < (1 if key == "distill_steps" else 0):
            raise ValueError(f"{key} must be a non-negative integer" + (" >= 1" if key == "distill_steps" else "") + ".")
    if s["distill_mix"] not in ("logits", "probs"):
        raise ValueError("distill_mix must be 'logits' or 'probs'.")
    if s["norm_bound"] not in (None, "clip", "median"):
        raise ValueError("norm_bound must be null, 'clip' or 'median'.")
    if s["cc_tau"] is not None and (isinstance(s["cc_tau"], bool) or not isinstance(s["cc_tau"], (int, float))
                                    or not s["cc_tau"] > 0):
        raise ValueError("cc_tau must be a positive number or null.")
    if isinstance(s["cc_iters"], bool) or not isinstance(s["cc_iters"], int) or not 1 <= s["cc_iters"] <= 50:
        raise ValueError("cc_iters must be an integer in [1, 50].")
    if not 0 <= float(s["noise_multiplier"]) <= 100:
        raise ValueError("noise_multiplier must be in [0, 100].")
    optimiser(s)  # validates the optimiser's numbers
    return s


def optimiser(strategy: Mapping[str, Any], state: Mapping[str, np.ndarray] | None = None) -> ServerOptimiser:
    params = {k: strategy[src] for k, src in (("eta", "server_lr"), ("beta1", "beta1"), ("beta2", "beta2"),
                                               ("tau", "opt_tau")) if strategy.get(src) is not None}
    return ServerOptimiser.create(strategy["server_opt"], state=dict(state or {}), **params)


def combine(strategy: Mapping[str, Any], updates: Sequence[ClientUpdate], clip_norm: float,
            rng: np.random.Generator, expected_clients: int | None = None) -> tuple[np.ndarray, dict]:
    """The aggregated flat delta Δ and facts about how it was made (weights, selection, norms)."""
    u = stack([c.delta for c in updates])
    info: dict[str, Any] = {"k": len(updates), "norms": np.linalg.norm(u, axis=1).round(6).tolist()}
    agg = strategy["aggregator"]
    sigma = float(strategy["noise_multiplier"])
    if strategy["norm_bound"]:
        bound = clip_norm if strategy["norm_bound"] == "clip" else float(np.median(np.linalg.norm(u, axis=1)))
        u = robust.bound_norms(u, max(bound, 1e-12))
        info["norm_bound"] = round(float(bound), 6)
    if sigma > 0:
        if agg != "mean":
            raise ValueError("Central DP noise is defined for the mean aggregator only.")
        clipped, _ = dp.clip_rows(u, clip_norm)
        info["weights"] = "uniform (DP)"
        return dp.noisy_mean(clipped, clip_norm, sigma, rng, expected_clients), info
    if agg == "mean":
        alpha = aggregation_weights(strategy["weighting"], n=[c.n for c in updates], loss=[c.loss for c in updates],
                                    error=[c.val_error for c in updates], tau=strategy["tau"], k=len(updates))
        info["weights"] = alpha.round(6).tolist()
        return alpha @ u, info
    if agg == "median":
        return robust.coordinate_median(u), info
    if agg == "trimmed_mean":
        return robust.trimmed_mean(u, float(strategy["trim_beta"])), info
    if agg == "centered_clip":
        return robust.centered_clip(u, strategy["cc_tau"], int(strategy["cc_iters"])), info
    f = min(int(strategy["krum_f"]), max(0, len(updates) - 3))
    m = 1 if agg == "krum" else min(int(strategy["krum_m"]) or len(updates) - f, len(updates))
    delta, chosen = robust.krum(u, f, m)
    info["selected"] = chosen.tolist()
    return delta, info


def aggregate(global_head: Mapping[str, np.ndarray], updates: Sequence[ClientUpdate], strategy: Mapping[str, Any],
              *, clip_norm: float, rng: np.random.Generator, state: Mapping[str, np.ndarray] | None = None,
              proxy_x: np.ndarray | None = None, previous_head: Mapping[str, np.ndarray] | None = None,
              expected_clients: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """(new head, new optimiser state, info) after one round."""
    if not updates:
        raise ValueError("No updates to aggregate.")
    strategy = validate_strategy(strategy)
    info: dict[str, Any] = {"strategy": strategy["aggregator"], "server_opt": strategy["server_opt"]}
    if strategy["aggregator"] == "distill":
        if proxy_x is None:
            raise ValueError("The distill aggregator needs the server's proxy set.")
        reinit = strategy["reinit_tol"] > 0 and converged(previous_head, dict(global_head), strategy["reinit_tol"])
        head = distill(dict(global_head), [c.delta for c in updates], [c.val_error for c in updates], proxy_x,
                       tau=strategy["tau"] or 0.1, steps=strategy["distill_steps"], lr=strategy["distill_lr"],
                       reinit=reinit, rng=rng, mix=strategy["distill_mix"])
        info["reinitialised"] = bool(reinit)
        return head, dict(state or {}), info
    delta, facts = combine(strategy, updates, clip_norm, rng, expected_clients)
    info.update(facts)
    opt = optimiser(strategy, state)
    new = opt.step(flatten(global_head), delta)
    info["update_norm"] = float(np.linalg.norm(delta))
    if strategy["adaptive_clip"]:
        norms = np.asarray([c.raw_norm if c.raw_norm is not None else n for c, n in zip(updates, facts["norms"])])
        info["next_clip_norm"] = dp.adaptive_clip(clip_norm, norms, strategy["clip_quantile"], strategy["clip_lr"])
    return unflatten(new, global_head), opt.state, info


def aggregate_sum(global_head: Mapping[str, np.ndarray], total: np.ndarray, n_clients: int,
                  strategy: Mapping[str, Any], *, clip_norm: float, rng: np.random.Generator,
                  state: Mapping[str, np.ndarray] | None = None, expected_clients: int | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """One round from the *sum* of the clients' flat deltas only (secure aggregation).

    Δ = Σ/n (uniform weights: the server cannot see who sent what), or with central DP
    (Σ + N(0, (σC)²))/K; then the server optimiser as in :func:`aggregate`.
    """
    strategy = validate_strategy(strategy)
    if strategy["aggregator"] != "mean":
        raise ValueError("Only the mean aggregator works on a securely aggregated sum.")
    if n_clients < 1:
        raise ValueError("No updates to aggregate.")
    total = np.asarray(total, np.float64).ravel()
    sigma = float(strategy["noise_multiplier"])
    delta = dp.noisy_mean(total[None, :], clip_norm, sigma, rng, expected_clients) if sigma > 0 else total / n_clients
    opt = optimiser(strategy, state)
    new = opt.step(flatten(global_head), delta)
    info = {"strategy": "mean", "server_opt": strategy["server_opt"], "k": int(n_clients),
            "weights": "uniform (secure aggregation" + (", DP)" if sigma > 0 else ")"),
            "update_norm": float(np.linalg.norm(delta))}
    return unflatten(new, global_head), opt.state, info
