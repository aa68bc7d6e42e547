"""Offline federated simulation on real non-IID data (``python -m ml federated-sim``).

Clients are the recordists of ``birds-pr`` (natural non-IID split, 51 recordings down to 1)
or, with ``--dirichlet α``, a Dirichlet(α) split by label over ``--clients`` clients. 20 % of
the recordings of every species (at least one) are held out as the server's validation set,
by recording. Each client trains the head with the very same runtime trainer as the phone
(:mod:`ml.runtime.federated.trainer`) on window embeddings of the shipped model's backbone,
clips and int8-quantises its update (:mod:`ml.runtime.federated.codec`), and the server
aggregates with :func:`ml.federated.strategy.aggregate` -- the live server's code.

Malicious clients (``--malicious 0.2 --attack ...``): ``signflip`` sends −10·Δ (a boosted
sign flip), ``scale`` sends 10·Δ, ``noise`` sends Gaussian noise with 10× the honest update's
norm, ``mixed`` cycles through the three. Attackers skip clipping (a hostile phone ignores
it); the live server would reject their over-norm updates, which the simulation does not.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ml.federated import dp
from ml.federated.simdata import Recording
from ml.federated.strategy import ClientUpdate, aggregate, parse_strategy
from ml.runtime.federated import codec
from ml.runtime.federated.trainer import LocalHyper, train_head

SILENCE_RMS = 1e-4


@dataclass
class Client:
    name: str
    x: np.ndarray
    y: np.ndarray
    n_recordings: int


@dataclass
class SimData:
    clients: list[Client]
    val: list[tuple[np.ndarray, int]]  # per validation recording: (sounding windows, label)
    labels: tuple[str, ...]
    warm: Client | None = None  # server-side data of held-out recordists: warm-start training and proxy set


@dataclass
class SimConfig:
    rounds: int = 50
    clients_per_round: int = 10
    local: LocalHyper = field(default_factory=LocalHyper)
    clip_norm: float = 5.0
    dropout: float = 0.0
    malicious: float = 0.0
    attack: str = "signflip"
    epsilon: float | None = None
    delta: float = 1e-5
    seed: int = 0


def train_windows(r: Recording, keep: float = 0.5) -> np.ndarray:
    """Indices of the recording's most active windows (weak labels: the bird is not in all of them)."""
    n = max(1, int(np.ceil(keep * len(r.emb))))
    return np.sort(np.argsort(-r.activity, kind="stable")[:n])


def build(recordings: list[Recording], labels: tuple[str, ...], seed: int = 0, dirichlet: float | None = None,
          n_clients: int = 27, val_fraction: float = 0.2, warm_fraction: float = 0.0) -> SimData:
    """Validation recordings, then (with ``warm_fraction``) a seeded share of the remaining
    recordists whose data the server trains the first head on centrally, then the clients."""
    rng = np.random.default_rng(seed)
    index = {lab: i for i, lab in enumerate(labels)}
    by_species: dict[str, list[int]] = {}
    for i, r in enumerate(recordings):
        by_species.setdefault(r.label, []).append(i)
    val_ids: set[int] = set()
    for sp in sorted(by_species):
        ids = list(by_species[sp])
        rng.shuffle(ids)
        if len(ids) > 1:
            val_ids.update(ids[: max(1, round(val_fraction * len(ids)))])
    val = []
    for i in sorted(val_ids):
        r = recordings[i]
        sounding = r.rms >= SILENCE_RMS
        val.append((r.emb[sounding] if sounding.any() else r.emb, index[r.label]))
    train = [i for i in range(len(recordings)) if i not in val_ids]
    warm = None
    if warm_fraction > 0:
        people = sorted({recordings[i].recordist for i in train})
        picked = set(np.random.default_rng(seed + 1).choice(
            people, size=max(1, round(warm_fraction * len(people))), replace=False).tolist())
        warm_ids = [i for i in train if recordings[i].recordist in picked]
        train = [i for i in train if recordings[i].recordist not in picked]
        warm = _client("server-warm-start", warm_ids, recordings, index)
    if dirichlet is None:
        owners = {}
        for i in train:
            owners.setdefault(recordings[i].recordist, []).append(i)
    else:
        owners = {f"client-{k:02d}": [] for k in range(n_clients)}
        names = sorted(owners)
        for sp in sorted(by_species):
            ids = [i for i in by_species[sp] if i not in val_ids]
            p = rng.dirichlet([dirichlet] * n_clients)
            for i in ids:
                owners[names[rng.choice(n_clients, p=p)]].append(i)
    clients = [_client(name, owners[name], recordings, index) for name in sorted(owners) if owners[name]]
    return SimData(clients, val, labels, warm)


def _client(name: str, ids: list[int], recordings: list[Recording], index: dict[str, int]) -> Client:
    xs = [recordings[i].emb[train_windows(recordings[i])] for i in ids]
    ys = [np.full(len(x), index[recordings[i].label]) for i, x in zip(ids, xs)]
    return Client(name, np.concatenate(xs), np.concatenate(ys), len(ids))


def warm_start(head0: dict, data: SimData, hyper: LocalHyper, epochs: int = 50, seed: int = 0) -> dict:
    """The first model: the head trained centrally on the held-out recordists' data (the issue's
    "central training"), disjoint from every FL client's recordings."""
    if data.warm is None:
        raise ValueError("Build the data with warm_fraction > 0 for a warm start.")
    res = train_head(head0, data.warm.x, data.warm.y, LocalHyper(epochs=epochs, lr=hyper.lr,
                                                                 batch_size=hyper.batch_size),
                     np.random.default_rng(seed))
    return {k: (head0[k] + res.delta[k]).astype(np.float32) for k in head0}


def accuracy(head: dict, val: list[tuple[np.ndarray, int]]) -> float:
    right = 0
    for emb, y in val:
        z = emb @ head["weight"] + head["bias"]
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        right += int(np.argmax(p.mean(axis=0)) == y)
    return right / len(val)


def centralised(head0: dict, data: SimData, hyper: LocalHyper, epochs: int, seed: int = 0) -> float:
    """Accuracy of the same head trained on the union of the clients' data."""
    x = np.concatenate([c.x for c in data.clients])
    y = np.concatenate([c.y for c in data.clients])
    res = train_head(head0, x, y, LocalHyper(epochs=epochs, lr=hyper.lr, batch_size=hyper.batch_size),
                     np.random.default_rng(seed))
    return accuracy({k: head0[k] + res.delta[k] for k in head0}, data.val)


def proxy_set(data: SimData) -> np.ndarray:
    """Unlabelled server data for distillation: the warm-start recordists' windows when there are
    any, else every other validation recording (the first pass's choice)."""
    if data.warm is not None:
        return data.warm.x
    return np.concatenate([v[0] for v in data.val[::2]])


def _attack(delta: dict, kind: str, rng: np.random.Generator) -> dict:
    if kind == "signflip":
        return {k: -10.0 * v for k, v in delta.items()}
    if kind == "scale":
        return {k: 10.0 * v for k, v in delta.items()}
    norm = codec.l2_norm(delta)
    noise = {k: rng.normal(size=v.shape) for k, v in delta.items()}
    return {k: (10.0 * norm / max(codec.l2_norm(noise), 1e-12)) * v for k, v in noise.items()}


def run(head0: dict, data: SimData, strategy: dict, cfg: SimConfig,
        log: Callable[[str], None] | None = None) -> dict:
    """Run ``cfg.rounds`` rounds; returns accuracy per round, bytes per round, ε and wall time."""
    rng = np.random.default_rng(cfg.seed)
    m = len(data.clients)
    k = min(cfg.clients_per_round, m)
    n_bad = int(round(cfg.malicious * m))
    bad = set(rng.choice(m, size=n_bad, replace=False).tolist()) if n_bad else set()
    sigma = 0.0
    if cfg.epsilon is not None:
        sigma = dp.noise_for_budget(cfg.epsilon, cfg.delta, cfg.rounds, k / m)
        strategy = {**strategy, "noise_multiplier": sigma, "weighting": "uniform"}
    parsed = parse_strategy(strategy)
    head = {kk: v.copy() for kk, v in head0.items()}
    state: dict = {}
    prev = None
    acc = [accuracy(head, data.val)]
    up_bytes, eps = [], []
    ledger = dp.PrivacyLedger(cfg.delta)
    clip = cfg.clip_norm
    proxy = proxy_set(data)
    t0 = time.perf_counter()
    for rnd in range(cfg.rounds):
        chosen = rng.choice(m, size=k, replace=False)
        updates, sent = [], 0
        for j, ci in enumerate(chosen):
            if cfg.dropout and rng.random() < cfg.dropout:
                continue
            c = data.clients[ci]
            res = train_head(head, c.x, c.y, cfg.local, rng)
            delta, raw_norm = res.delta, codec.l2_norm(res.delta)
            if ci in bad:
                kind = cfg.attack if cfg.attack != "mixed" else ("signflip", "scale", "noise")[ci % 3]
                delta = _attack(delta, kind, rng)
            else:
                delta, raw_norm = codec.clip_update(delta, clip)
            enc = codec.encode(delta, rng)
            sent += codec.payload_bytes(enc)
            delta = codec.decode(enc, {kk: v.shape for kk, v in head.items()})
            updates.append(ClientUpdate(delta, res.n, res.loss, res.val_error, raw_norm))
        if updates:
            new, state, info = aggregate(head, updates, parsed, clip_norm=clip, rng=rng, state=state,
                                         proxy_x=proxy,
                                         previous_head=prev, expected_clients=k)
            prev, head = head, new
            clip = info.get("next_clip_norm", clip)
        up_bytes.append(sent / max(1, len(updates)))
        if sigma > 0:
            eps.append(ledger.record_round(k / m, sigma))
        acc.append(accuracy(head, data.val))
        if log and (rnd + 1) % 10 == 0:
            log(f"  round {rnd + 1}: accuracy {acc[-1]:.3f}")
    return {"accuracy": acc, "final_accuracy": acc[-1], "best_accuracy": max(acc),
            "bytes_per_client_round": float(np.mean(up_bytes)), "float32_bytes": 4 * sum(v.size for v in head0.values()),
            "epsilon": eps[-1] if eps else None, "noise_multiplier": sigma, "wall_s": time.perf_counter() - t0,
            "malicious_clients": sorted(int(b) for b in bad)}


STRATEGIES: dict[str, dict] = {
    "fedavg": {"aggregator": "mean", "weighting": "count"},
    "fedavg-loss": {"aggregator": "mean", "weighting": "loss", "tau": 1.0},
    "fedavg-error": {"aggregator": "mean", "weighting": "error", "tau": 0.1},
    "fedavgm": {"aggregator": "mean", "server_opt": "fedavgm", "server_lr": 1.0, "beta1": 0.5},
    "fedadam": {"aggregator": "mean", "server_opt": "fedadam", "server_lr": 0.01},
    "fedyogi": {"aggregator": "mean", "server_opt": "fedyogi", "server_lr": 0.01},
    "fedadagrad": {"aggregator": "mean", "server_opt": "fedadagrad", "server_lr": 0.02},
    "median": {"aggregator": "median"},
    "trimmed": {"aggregator": "trimmed_mean", "trim_beta": 0.2},
    "krum": {"aggregator": "multikrum", "krum_f": 2, "krum_m": 0},  # m = K − f
    "centered-clip": {"aggregator": "centered_clip"},
    "median+nb": {"aggregator": "median", "norm_bound": "median"},
    "trimmed+nb": {"aggregator": "trimmed_mean", "trim_beta": 0.2, "norm_bound": "median"},
    "krum+nb": {"aggregator": "multikrum", "krum_f": 2, "krum_m": 0, "norm_bound": "median"},
    "centered-clip+nb": {"aggregator": "centered_clip", "norm_bound": "median"},
    "fedavg+nb": {"aggregator": "mean", "weighting": "count", "norm_bound": "median"},
    "distill": {"aggregator": "distill", "distill_steps": 100, "tau": 1.0},
    "distill-probs": {"aggregator": "distill", "distill_steps": 100, "tau": 0.1, "distill_mix": "probs"},
}


def plot(results: dict[str, dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, r in results.items():
        if "accuracy" in r:
            ax.plot(r["accuracy"], label=name)
    ax.set_xlabel("round")
    ax.set_ylabel("validation accuracy (file level)")
    ax.legend(fontsize=7)
    acc_path = out / "accuracy_per_round.png"
    fig.savefig(acc_path, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [n for n in results if "bytes_per_client_round" in results[n]]
    ax.bar(names, [results[n]["bytes_per_client_round"] for n in names], label="int8 upload")
    if names:
        ax.axhline(results[names[0]]["float32_bytes"], color="r", label="float32 update")
    ax.set_ylabel("bytes per client per round")
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.legend()
    fig.tight_layout()
    bytes_path = out / "bytes_per_round.png"
    fig.savefig(bytes_path, dpi=110)
    plt.close(fig)
    return [str(acc_path), str(bytes_path)]


def summary_line(results: dict) -> str:
    return json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "accuracy"} if isinstance(v, dict) else v
                       for k, v in results.items()}, default=float)
