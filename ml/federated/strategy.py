"""One round of aggregation from a strategy: the code shared by the live server
(``server.federated.aggregation``) and the offline simulation (``ml.federated.sim``).

A strategy is stored as a JSON object (its keys: :mod:`ml.federated.strategy_config`) and read once
by :func:`parse_strategy` into a frozen :class:`Strategy`: the aggregator's name and config, the server
optimiser, privacy and norm-bound settings. :data:`AGGREGATORS` is the registry, the way Flower's
strategies pair their settings with ``aggregate_fit``: each name maps to its config dataclass and a
pure rule ``rule(config, RoundInputs) -> Combined``.

The rule turns the K client deltas into one delta Δ (for ``mean``: Σ α_k Δ_k with the chosen
weighting; with noise_multiplier > 0, uniform weights plus Gaussian noise σ·C on the sum,
:mod:`ml.federated.dp`); the server optimiser then applies w_T = w_{T−1} + η_s·step(Δ).
``distill`` replaces both by multi-teacher distillation on the proxy set: its rule returns the head.

``norm_bound`` ("clip" | "median" | null) first scales every update down to the clip norm C or to
the round's median update norm (norm bounding before any rule: a boosted or noisy update then
weighs no more than an honest one). ``centered_clip`` is Karimireddy et al.'s centered clipping
(τ = ``cc_tau`` or the median distance, ``cc_iters`` iterations). For Multi-Krum, ``krum_m`` = 0
means K − f (every update but the f most suspicious).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ml.federated import dp, robust
from ml.federated.distill import converged, distill
from ml.federated.params import flatten, stack, unflatten
from ml.federated.server_opt import ServerOptimiser
from ml.federated.strategy_config import (AGGREGATOR_CONFIGS, SHARED_CONFIGS, CenteredClipConfig, DistillConfig,
                                          KrumConfig, MeanConfig, MedianConfig, MultiKrumConfig, NormBoundConfig,
                                          PrivacyConfig, ServerOptConfig, StrategyError, TrimmedMeanConfig, build,
                                          defaults_of)
from ml.federated.weights import aggregation_weights


@dataclass(frozen=True)
class ClientUpdate:
    delta: dict[str, np.ndarray]
    n: int
    loss: float
    val_error: float
    raw_norm: float | None = None  # norm before client clipping (for adaptive clipping)


@dataclass(frozen=True)
class RoundInputs:
    """What a rule may read about one round: the updates, their stacked flat deltas (K × P, after norm
    bounding), the global head, the round's generator, and for distillation the proxy set and last head."""
    updates: Sequence[ClientUpdate]
    rows: np.ndarray
    global_head: Mapping[str, np.ndarray]
    rng: np.random.Generator
    proxy_x: np.ndarray | None = None
    previous_head: Mapping[str, np.ndarray] | None = None


@dataclass(frozen=True)
class Combined:
    """A rule's result: the flat delta Δ for the server optimiser, or (distillation) the new head itself,
    and facts about how it was made (weights, selection)."""
    delta: np.ndarray | None = None
    head: dict[str, np.ndarray] | None = None
    facts: dict[str, Any] = field(default_factory=dict)


# --- the rules (pure: they read their config and the round, nothing else) ------------------------

def mean_rule(config: MeanConfig, inputs: RoundInputs) -> Combined:
    ups = inputs.updates
    alpha = aggregation_weights(config.weighting, n=[c.n for c in ups], loss=[c.loss for c in ups],
                                error=[c.val_error for c in ups], tau=config.tau, k=len(ups))
    return Combined(delta=alpha @ inputs.rows, facts={"weights": alpha.round(6).tolist()})


def median_rule(config: MedianConfig, inputs: RoundInputs) -> Combined:
    return Combined(delta=robust.coordinate_median(inputs.rows))


def trimmed_mean_rule(config: TrimmedMeanConfig, inputs: RoundInputs) -> Combined:
    return Combined(delta=robust.trimmed_mean(inputs.rows, float(config.trim_beta)))


def centered_clip_rule(config: CenteredClipConfig, inputs: RoundInputs) -> Combined:
    return Combined(delta=robust.centered_clip(inputs.rows, config.cc_tau, config.cc_iters))


def _krum(f_assumed: int, m_wanted: int | None, inputs: RoundInputs) -> Combined:
    """Krum (``m_wanted`` None: m = 1) or Multi-Krum (0: m = K − f); f is capped at K − 3."""
    k = len(inputs.updates)
    f = min(f_assumed, max(0, k - 3))
    m = 1 if m_wanted is None else min(m_wanted or k - f, k)
    delta, chosen = robust.krum(inputs.rows, f, m)
    return Combined(delta=delta, facts={"selected": chosen.tolist()})


def krum_rule(config: KrumConfig, inputs: RoundInputs) -> Combined:
    return _krum(config.krum_f, None, inputs)


def multikrum_rule(config: MultiKrumConfig, inputs: RoundInputs) -> Combined:
    return _krum(config.krum_f, config.krum_m, inputs)


def distill_rule(config: DistillConfig, inputs: RoundInputs) -> Combined:
    if inputs.proxy_x is None:
        raise ValueError("The distill aggregator needs the server's proxy set.")
    reinit = config.reinit_tol > 0 and converged(inputs.previous_head, dict(inputs.global_head), config.reinit_tol)
    head = distill(dict(inputs.global_head), [c.delta for c in inputs.updates], [c.val_error for c in inputs.updates],
                   inputs.proxy_x, tau=config.tau or 0.1, steps=config.distill_steps, lr=config.distill_lr,
                   reinit=reinit, rng=inputs.rng, mix=config.distill_mix)
    return Combined(head=head, facts={"reinitialised": bool(reinit)})


@dataclass(frozen=True)
class Aggregator:
    """One registered strategy: its config dataclass and its pure rule."""
    config: type
    rule: Callable[[Any, RoundInputs], Combined]


AGGREGATORS: dict[str, Aggregator] = {
    "mean": Aggregator(MeanConfig, mean_rule),
    "median": Aggregator(MedianConfig, median_rule),
    "trimmed_mean": Aggregator(TrimmedMeanConfig, trimmed_mean_rule),
    "krum": Aggregator(KrumConfig, krum_rule),
    "multikrum": Aggregator(MultiKrumConfig, multikrum_rule),
    "centered_clip": Aggregator(CenteredClipConfig, centered_clip_rule),
    "distill": Aggregator(DistillConfig, distill_rule),
}
DEFAULT_STRATEGY: dict[str, Any] = {"aggregator": "mean"}
for _config in (*SHARED_CONFIGS, *AGGREGATOR_CONFIGS):
    DEFAULT_STRATEGY.update(defaults_of(_config))


# --- the parsed strategy ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Strategy:
    """A checked strategy: the aggregator's name and config, and the settings every aggregator shares."""
    aggregator: str = "mean"
    config: Any = field(default_factory=MeanConfig)
    server: ServerOptConfig = field(default_factory=ServerOptConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    norm_bound: NormBoundConfig = field(default_factory=NormBoundConfig)

    def __post_init__(self) -> None:
        if self.aggregator not in AGGREGATORS:
            raise StrategyError(f"aggregator must be one of {', '.join(AGGREGATORS)}.")
        if not isinstance(self.config, AGGREGATORS[self.aggregator].config):
            raise StrategyError(f"The {self.aggregator} aggregator takes a "
                                f"{AGGREGATORS[self.aggregator].config.__name__}.")

    def optimiser(self, state: Mapping[str, np.ndarray] | None = None) -> ServerOptimiser:
        return self.server.optimiser(state)


def parse_strategy(config: Mapping[str, Any] | Strategy | None) -> Strategy:
    """The :class:`Strategy` of a JSON object (missing keys take their defaults); every key is checked
    whichever aggregator is chosen. ``StrategyError`` (a ``ValueError``) naming the bad key otherwise."""
    if isinstance(config, Strategy):
        return config
    values = dict(config or {})
    unknown = set(values) - set(DEFAULT_STRATEGY)
    if unknown:
        raise StrategyError(f"Unknown strategy keys: {', '.join(sorted(unknown))}.")
    name = values.get("aggregator", "mean")
    if name not in AGGREGATORS:
        raise StrategyError(f"aggregator must be one of {', '.join(AGGREGATORS)}.")
    configs = {cls: build(cls, values) for cls in (*AGGREGATOR_CONFIGS, *SHARED_CONFIGS)}
    return Strategy(aggregator=name, config=configs[AGGREGATORS[name].config], server=configs[ServerOptConfig],
                    privacy=configs[PrivacyConfig], norm_bound=configs[NormBoundConfig])


def validate_strategy(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The complete JSON strategy (defaults filled in) after :func:`parse_strategy` accepted it."""
    parse_strategy(config)
    return {**DEFAULT_STRATEGY, **dict(config or {})}


# --- one round -------------------------------------------------------------------------------------

def combine(strategy: Mapping[str, Any] | Strategy, updates: Sequence[ClientUpdate], clip_norm: float,
            rng: np.random.Generator, expected_clients: int | None = None, *,
            global_head: Mapping[str, np.ndarray] | None = None) -> tuple[np.ndarray, dict]:
    """The aggregated flat delta Δ and facts about how it was made (weights, selection, norms), for
    every aggregator but ``distill`` (which makes a head, see :func:`aggregate`)."""
    strategy = parse_strategy(strategy)
    u = stack([c.delta for c in updates])
    info: dict[str, Any] = {"k": len(updates), "norms": np.linalg.norm(u, axis=1).round(6).tolist()}
    sigma = float(strategy.privacy.noise_multiplier)
    if strategy.norm_bound.norm_bound:
        bound = (clip_norm if strategy.norm_bound.norm_bound == "clip"
                 else float(np.median(np.linalg.norm(u, axis=1))))
        u = robust.bound_norms(u, max(bound, 1e-12))
        info["norm_bound"] = round(float(bound), 6)
    if sigma > 0:
        if strategy.aggregator != "mean":
            raise ValueError("Central DP noise is defined for the mean aggregator only.")
        clipped, _ = dp.clip_rows(u, clip_norm)
        info["weights"] = "uniform (DP)"
        return dp.noisy_mean(clipped, clip_norm, sigma, rng, expected_clients), info
    result = AGGREGATORS[strategy.aggregator].rule(strategy.config, RoundInputs(updates, u, global_head or {}, rng))
    info.update(result.facts)
    return result.delta, info


def aggregate(global_head: Mapping[str, np.ndarray], updates: Sequence[ClientUpdate],
              strategy: Mapping[str, Any] | Strategy | None, *, clip_norm: float, rng: np.random.Generator,
              state: Mapping[str, np.ndarray] | None = None, proxy_x: np.ndarray | None = None,
              previous_head: Mapping[str, np.ndarray] | None = None,
              expected_clients: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """(new head, new optimiser state, info) after one round."""
    if not updates:
        raise ValueError("No updates to aggregate.")
    strategy = parse_strategy(strategy)
    info: dict[str, Any] = {"strategy": strategy.aggregator, "server_opt": strategy.server.server_opt}
    if strategy.aggregator == "distill":
        result = AGGREGATORS["distill"].rule(strategy.config, RoundInputs(
            updates, stack([c.delta for c in updates]), global_head, rng, proxy_x, previous_head))
        info.update(result.facts)
        return result.head, dict(state or {}), info
    delta, facts = combine(strategy, updates, clip_norm, rng, expected_clients, global_head=global_head)
    info.update(facts)
    opt = strategy.optimiser(state)
    new = opt.step(flatten(global_head), delta)
    info["update_norm"] = float(np.linalg.norm(delta))
    if strategy.privacy.adaptive_clip:
        norms = np.asarray([c.raw_norm if c.raw_norm is not None else n for c, n in zip(updates, facts["norms"])])
        info["next_clip_norm"] = dp.adaptive_clip(clip_norm, norms, strategy.privacy.clip_quantile,
                                                  strategy.privacy.clip_lr)
    return unflatten(new, global_head), opt.state, info


def aggregate_sum(global_head: Mapping[str, np.ndarray], total: np.ndarray, n_clients: int,
                  strategy: Mapping[str, Any] | Strategy | None, *, clip_norm: float, rng: np.random.Generator,
                  state: Mapping[str, np.ndarray] | None = None, expected_clients: int | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """One round from the *sum* of the clients' flat deltas only (secure aggregation).

    Δ = Σ/n (uniform weights: the server cannot see who sent what), or with central DP
    (Σ + N(0, (σC)²))/K; then the server optimiser as in :func:`aggregate`.
    """
    strategy = parse_strategy(strategy)
    if strategy.aggregator != "mean":
        raise ValueError("Only the mean aggregator works on a securely aggregated sum.")
    if n_clients < 1:
        raise ValueError("No updates to aggregate.")
    total = np.asarray(total, np.float64).ravel()
    sigma = float(strategy.privacy.noise_multiplier)
    delta = dp.noisy_mean(total[None, :], clip_norm, sigma, rng, expected_clients) if sigma > 0 else total / n_clients
    opt = strategy.optimiser(state)
    new = opt.step(flatten(global_head), delta)
    info = {"strategy": "mean", "server_opt": strategy.server.server_opt, "k": int(n_clients),
            "weights": "uniform (secure aggregation" + (", DP)" if sigma > 0 else ")"),
            "update_norm": float(np.linalg.norm(delta))}
    return unflatten(new, global_head), opt.state, info
