"""Server optimisers applied to the aggregated update (Reddi et al. 2021, "Adaptive Federated
Optimization"), in the weighted delta form

    Δ_T = Σ_k α_k (w_k − w_{T−1})          (the pseudo-gradient, pointing *towards* the clients)
    w_T = w_{T−1} + η_s · step(Δ_T)

The sign is ``+``: Δ is the clients' direction of improvement (w_k − w_{T−1}), so the server
moves along it. (The source paper prints it as ``−``, which would move away from the clients.)

* ``fedavg``:     step = Δ                                   (η_s = 1 gives plain FedAvg)
* ``fedavgm``:    m = β1·m + Δ;                step = m      (server momentum)
* ``fedadagrad``: v = v + Δ²;                  step = m / (√v + τ)
* ``fedadam``:    v = β2·v + (1 − β2)·Δ²;      step = m / (√v + τ)
* ``fedyogi``:    v = v − (1 − β2)·Δ²·sign(v − Δ²); step = m / (√v + τ)

with m = β1·m + (1 − β1)·Δ for the three adaptive optimisers and τ their adaptivity floor.
State is a dict of flat float64 arrays so the server can persist it between rounds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OPTIMISERS = ("fedavg", "fedavgm", "fedadagrad", "fedadam", "fedyogi")
DEFAULTS = {
    "fedavg": {"eta": 1.0},
    "fedavgm": {"eta": 1.0, "beta1": 0.9},
    "fedadagrad": {"eta": 0.1, "beta1": 0.0, "tau": 1e-3},
    "fedadam": {"eta": 0.01, "beta1": 0.9, "beta2": 0.99, "tau": 1e-3},
    "fedyogi": {"eta": 0.01, "beta1": 0.9, "beta2": 0.99, "tau": 1e-3},
}


@dataclass
class ServerOptimiser:
    """One server optimiser with its hyperparameters and persistent state."""
    name: str = "fedavg"
    eta: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    state: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str, **params) -> "ServerOptimiser":
        if name not in OPTIMISERS:
            raise ValueError(f"Unknown server optimiser {name!r}; choose one of {', '.join(OPTIMISERS)}.")
        unknown = set(params) - {"eta", "beta1", "beta2", "tau", "state"}
        if unknown:
            raise ValueError(f"Unknown server optimiser parameters: {', '.join(sorted(unknown))}.")
        merged = {**DEFAULTS[name], **params}
        opt = cls(name=name, **{k: v for k, v in merged.items() if k != "state"})
        opt.state = {k: np.asarray(v, np.float64) for k, v in (params.get("state") or {}).items()}
        if opt.eta <= 0 or opt.tau <= 0 or not 0 <= opt.beta1 < 1 or not 0 <= opt.beta2 < 1:
            raise ValueError("Server optimiser needs eta > 0, tau > 0 and 0 <= beta1, beta2 < 1.")
        return opt

    def step(self, weights: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """New flat weights from the current flat ``weights`` and aggregated ``delta``."""
        w = np.asarray(weights, np.float64)
        d = np.asarray(delta, np.float64)
        if w.shape != d.shape:
            raise ValueError(f"Delta of shape {d.shape} does not match weights {w.shape}.")
        if self.name == "fedavg":
            return w + self.eta * d
        m = self.state.get("m")
        m = np.zeros_like(d) if m is None or m.shape != d.shape else m
        if self.name == "fedavgm":
            m = self.beta1 * m + d
            self.state["m"] = m
            return w + self.eta * m
        m = self.beta1 * m + (1 - self.beta1) * d
        v = self.state.get("v")
        v = np.full_like(d, self.tau ** 2) if v is None or v.shape != d.shape else v
        d2 = d * d
        if self.name == "fedadagrad":
            v = v + d2
        elif self.name == "fedadam":
            v = self.beta2 * v + (1 - self.beta2) * d2
        else:  # fedyogi
            v = v - (1 - self.beta2) * d2 * np.sign(v - d2)
        self.state["m"], self.state["v"] = m, v
        return w + self.eta * m / (np.sqrt(v) + self.tau)
