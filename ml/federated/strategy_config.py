"""A federated strategy's settings as typed, frozen dataclasses, read from the JSON object a round stores.

The JSON form is one flat object (every key optional; the defaults are the dataclasses' defaults)::

    {"aggregator": "mean" | "median" | "trimmed_mean" | "krum" | "multikrum" | "centered_clip" | "distill",
     "weighting": "count" | "loss" | "error" | "uniform", "tau": null,   # for "mean" (and distill's temperature)
     "server_opt": "fedavg" | "fedavgm" | "fedadam" | "fedyogi" | "fedadagrad",
     "server_lr": null, "beta1": null, "beta2": null, "opt_tau": null,  # null = optimiser default
     "trim_beta": 0.1, "krum_f": 1, "krum_m": 1,
     "noise_multiplier": 0.0, "adaptive_clip": false, "clip_quantile": 0.5, "clip_lr": 0.2,
     "distill_steps": 200, "distill_lr": 0.5, "distill_mix": "logits", "reinit_tol": 0.0,
     "norm_bound": null, "cc_tau": null, "cc_iters": 3}

Each group of keys belongs to one dataclass, which checks its own values in ``__post_init__`` and raises
:class:`StrategyError` (a ``ValueError``) naming the key: :class:`ServerOptConfig`, :class:`PrivacyConfig`,
:class:`NormBoundConfig`, and one config per aggregator (:class:`MeanConfig`, :class:`TrimmedMeanConfig`, ...).
Every key is checked whichever aggregator is chosen, so a stored strategy never carries a bad value.
Which aggregator uses which config, and its rule, is the registry in :mod:`ml.federated.strategy`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ml.federated.server_opt import OPTIMISERS, ServerOptimiser
from ml.federated.weights import WEIGHTINGS


class StrategyError(ValueError):
    """A strategy setting that cannot be used; the message names the key."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number_or_null(config: Any, *keys: str) -> None:
    for key in keys:
        value = getattr(config, key)
        if value is not None and not _is_number(value):
            raise StrategyError(f"{key} must be a number or null.")


def _count(config: Any, key: str, minimum: int) -> None:
    value = getattr(config, key)
    if not _is_int(value) or value < minimum:
        raise StrategyError(f"{key} must be a non-negative integer" + (" >= 1" if minimum else "") + ".")


@dataclass(frozen=True)
class ServerOptConfig:
    """The server optimiser applied to the aggregated delta; ``None`` means the optimiser's default."""
    server_opt: str = "fedavg"
    server_lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    opt_tau: float | None = None

    def __post_init__(self) -> None:
        if self.server_opt not in OPTIMISERS:
            raise StrategyError(f"server_opt must be one of {', '.join(OPTIMISERS)}.")
        _number_or_null(self, "server_lr", "beta1", "beta2", "opt_tau")
        self.optimiser()  # the optimiser checks its numbers (eta > 0, tau > 0, betas in [0, 1))

    def optimiser(self, state: Mapping[str, np.ndarray] | None = None) -> ServerOptimiser:
        """A fresh optimiser with these settings, continuing from ``state``."""
        params = {name: value for name, value in (("eta", self.server_lr), ("beta1", self.beta1),
                                                  ("beta2", self.beta2), ("tau", self.opt_tau)) if value is not None}
        try:
            return ServerOptimiser.create(self.server_opt, state=dict(state or {}), **params)
        except ValueError as exc:
            raise StrategyError(str(exc)) from None


@dataclass(frozen=True)
class PrivacyConfig:
    """Central differential privacy (Gaussian noise σ·C on the sum) and adaptive clipping of C."""
    noise_multiplier: float = 0.0
    adaptive_clip: bool = False
    clip_quantile: float = 0.5
    clip_lr: float = 0.2

    def __post_init__(self) -> None:
        if not _is_number(self.noise_multiplier) or not 0 <= self.noise_multiplier <= 100:
            raise StrategyError("noise_multiplier must be in [0, 100].")


@dataclass(frozen=True)
class NormBoundConfig:
    """Scale every update down to the clip norm C (``clip``) or the round's median norm (``median``) first."""
    norm_bound: str | None = None

    def __post_init__(self) -> None:
        if self.norm_bound not in (None, "clip", "median"):
            raise StrategyError("norm_bound must be null, 'clip' or 'median'.")


@dataclass(frozen=True)
class MeanConfig:
    """Σ α_k Δ_k with the weighting's α (:mod:`ml.federated.weights`); ``tau`` its temperature."""
    weighting: str = "count"
    tau: float | None = None

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise StrategyError(f"weighting must be one of {', '.join(WEIGHTINGS)}.")
        _number_or_null(self, "tau")


@dataclass(frozen=True)
class MedianConfig:
    """The coordinate-wise median: no settings."""


@dataclass(frozen=True)
class TrimmedMeanConfig:
    """The coordinate-wise mean after dropping the ``trim_beta`` fraction at each end."""
    trim_beta: float = 0.1

    def __post_init__(self) -> None:
        if not _is_number(self.trim_beta) or not 0 <= self.trim_beta < 0.5:
            raise StrategyError("trim_beta must be in [0, 0.5).")


@dataclass(frozen=True)
class KrumConfig:
    """Krum: the one update closest to its K − f − 2 nearest neighbours, ``krum_f`` the assumed attackers."""
    krum_f: int = 1

    def __post_init__(self) -> None:
        _count(self, "krum_f", 0)


@dataclass(frozen=True)
class MultiKrumConfig:
    """Multi-Krum: the mean of the ``krum_m`` best-scored updates (0 means K − f)."""
    krum_f: int = 1
    krum_m: int = 1

    def __post_init__(self) -> None:
        _count(self, "krum_f", 0)
        _count(self, "krum_m", 0)


@dataclass(frozen=True)
class CenteredClipConfig:
    """Centered clipping (Karimireddy et al.): radius ``cc_tau`` (null: the median distance), ``cc_iters`` rounds."""
    cc_tau: float | None = None
    cc_iters: int = 3

    def __post_init__(self) -> None:
        if self.cc_tau is not None and (not _is_number(self.cc_tau) or not self.cc_tau > 0):
            raise StrategyError("cc_tau must be a positive number or null.")
        if not _is_int(self.cc_iters) or not 1 <= self.cc_iters <= 50:
            raise StrategyError("cc_iters must be an integer in [1, 50].")


@dataclass(frozen=True)
class DistillConfig:
    """Multi-teacher distillation on the proxy set (:mod:`ml.federated.distill`); ``tau`` the teachers'
    weighting temperature (null: 0.1)."""
    tau: float | None = None
    distill_steps: int = 200
    distill_lr: float = 0.5
    distill_mix: str = "logits"
    reinit_tol: float = 0.0

    def __post_init__(self) -> None:
        _number_or_null(self, "tau")
        _count(self, "distill_steps", 1)
        if self.distill_mix not in ("logits", "probs"):
            raise StrategyError("distill_mix must be 'logits' or 'probs'.")


SHARED_CONFIGS = (ServerOptConfig, PrivacyConfig, NormBoundConfig)
AGGREGATOR_CONFIGS = (MeanConfig, MedianConfig, TrimmedMeanConfig, KrumConfig, MultiKrumConfig, CenteredClipConfig,
                      DistillConfig)


def keys_of(config_class: type) -> tuple[str, ...]:
    """The JSON keys a config dataclass reads (its field names)."""
    return tuple(f.name for f in dataclasses.fields(config_class))


def defaults_of(config_class: type) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(config_class)}


def build(config_class: type, values: Mapping[str, Any]):
    """``config_class`` from the keys of ``values`` it reads (the others keep their defaults)."""
    return config_class(**{k: values[k] for k in keys_of(config_class) if k in values})
