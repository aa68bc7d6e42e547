"""Peer check: Flower's (``flwr``) FedAvg on the simulation's very partitions.

Flower's simulation engine needs Ray, which is not installed here, so this drives Flower's own
``FedAvg`` strategy object in-process: each round the same number of clients is sampled from
the same partition, each trains the head with the runtime trainer (float32, no clipping or
quantisation: Flower's default wire format), and ``FedAvg.aggregate_fit`` (weighted by
``num_examples``) makes the next global head. Run in its own interpreter so Flower's pinned
dependencies stay out of the project's environment::

    PYTHONPATH=var/flwr-site .venv/bin/python -m ml.federated.flower_peer --rounds 50 --init warm

Prints one JSON line: final/best accuracy, accuracy per round, bytes per client, wall time.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ml.federated import sim
from ml.runtime.federated.trainer import LocalHyper, train_head

NAMES = ("bias", "weight")


def run_flower_fedavg(head0: dict, data: sim.SimData, cfg: sim.SimConfig) -> dict:
    import flwr
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    strategy = FedAvg(fraction_fit=1.0, min_fit_clients=1, min_available_clients=1)
    params = ndarrays_to_parameters([np.asarray(head0[n], np.float32) for n in NAMES])
    rng = np.random.default_rng(cfg.seed)
    m = len(data.clients)
    k = min(cfg.clients_per_round, m)
    head = {n: np.asarray(head0[n], np.float32) for n in NAMES}
    acc = [sim.accuracy(head, data.val)]
    t0 = time.perf_counter()
    for rnd in range(1, cfg.rounds + 1):
        results = []
        for ci in rng.choice(m, size=k, replace=False):
            c = data.clients[ci]
            res = train_head(head, c.x, c.y, cfg.local, rng)
            local = [head[n] + res.delta[n] for n in NAMES]
            results.append((None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters(local), res.n, {})))
        params, _ = strategy.aggregate_fit(rnd, results, [])
        head = dict(zip(NAMES, (np.asarray(a, np.float32) for a in parameters_to_ndarrays(params))))
        acc.append(sim.accuracy(head, data.val))
    return {"flwr_version": flwr.__version__, "accuracy": acc, "final_accuracy": acc[-1], "best_accuracy": max(acc),
            "bytes_per_client_round": 4 * sum(v.size for v in head.values()), "wall_s": time.perf_counter() - t0}


def main(argv=None) -> int:
    from ml.federated.embedding import head_of
    from ml.federated.simdata import load_recordings
    from ml.runtime.classifier import load_classifier

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--clients-per-round", type=int, default=10)
    ap.add_argument("--init", default="warm", choices=("zero", "warm"))
    ap.add_argument("--warm-fraction", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    clf = load_classifier()
    hyper = LocalHyper(epochs=5, lr=0.05, batch_size=32)
    data = sim.build(load_recordings(log=lambda m: None), clf.labels, seed=0,
                     warm_fraction=args.warm_fraction if args.init == "warm" else 0.0)
    head0 = {k: np.zeros_like(v) for k, v in head_of(clf).items()}
    if args.init == "warm":
        head0 = sim.warm_start(head0, data, hyper)
    cfg = sim.SimConfig(rounds=args.rounds, clients_per_round=args.clients_per_round, local=hyper, seed=args.seed)
    print(json.dumps(run_flower_fedavg(head0, data, cfg), default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
