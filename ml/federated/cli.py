"""``python -m ml federated-sim``: the federated simulation from the command line.

Wire into ``ml/cli.py`` with ``from ml.federated.cli import add_subcommands; add_subcommands(sub)``.
Also runnable as ``python -m ml.federated.cli federated-sim ...``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("federated-sim", help="Simulate federated rounds on birds-pr recordists.")
    p.add_argument("--strategies", default="fedavg,fedavg-error,fedadam,median,trimmed,krum,centered-clip+nb,distill",
                   help="Comma-separated names from ml.federated.sim.STRATEGIES.")
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--clients-per-round", type=int, default=10)
    p.add_argument("--local-epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--mu", type=float, default=0.0, help="FedProx proximal weight.")
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--malicious", type=float, default=0.0, help="Fraction of malicious clients.")
    p.add_argument("--attack", default="signflip", choices=("signflip", "scale", "noise", "mixed"))
    p.add_argument("--dirichlet", type=float, default=None, help="Dirichlet(α) split by label instead of recordists.")
    p.add_argument("--clients", type=int, default=27, help="Number of clients with --dirichlet.")
    p.add_argument("--epsilon", type=float, default=None, help="Central DP budget over all rounds (δ = --delta).")
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--init", default="warm", choices=("warm", "shipped", "zero"),
                   help="warm: head trained centrally on held-out recordists (disjoint from the clients); "
                        "shipped: the shipped model's head (trained partly on the same recordings); zero: zeros.")
    p.add_argument("--warm-fraction", type=float, default=0.25, help="Share of recordists held out for --init warm.")
    p.add_argument("--model", default=None, help="Model file whose backbone embeds (default: the shipped model).")
    p.add_argument("--manifest", default=None)
    p.add_argument("--plots", default="var/federated-sim", help="Folder for the plots ('' for none).")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_federated_sim)


def cmd_federated_sim(args: argparse.Namespace) -> int:
    from ml.federated import sim
    from ml.federated.embedding import head_of
    from ml.federated.simdata import DEFAULT_MANIFEST, load_recordings
    from ml.runtime.classifier import load_classifier
    from ml.runtime.federated.trainer import LocalHyper

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    recs = load_recordings(args.model, Path(args.manifest) if args.manifest else DEFAULT_MANIFEST, log=log)
    clf = load_classifier(args.model)
    head0 = head_of(clf)
    if args.init != "shipped":
        head0 = {k: np.zeros_like(v) for k, v in head0.items()}
    data = sim.build(recs, clf.labels, seed=args.seed, dirichlet=args.dirichlet, n_clients=args.clients,
                     warm_fraction=args.warm_fraction if args.init == "warm" else 0.0)
    hyper = LocalHyper(args.local_epochs, args.lr, args.batch_size, args.mu)
    if args.init == "warm":
        head0 = sim.warm_start(head0, data, hyper)
    cfg = sim.SimConfig(rounds=args.rounds, clients_per_round=args.clients_per_round, local=hyper, clip_norm=args.clip,
                        dropout=args.dropout, malicious=args.malicious, attack=args.attack, epsilon=args.epsilon,
                        delta=args.delta, seed=args.seed)
    results: dict = {"clients": len(data.clients), "val_recordings": len(data.val),
                     "initial_accuracy": sim.accuracy(head0, data.val),
                     "centralised_accuracy": sim.centralised(head0, data, hyper, epochs=args.local_epochs * 4)}
    for name in args.strategies.split(","):
        log(f"strategy {name}")
        results[name] = sim.run(head0, data, sim.STRATEGIES[name], cfg, log)
    print(f"{'strategy':<14}{'final acc':>10}{'best acc':>10}{'bytes/client':>14}{'epsilon':>9}{'wall s':>8}")
    print(f"{'centralised':<14}{results['centralised_accuracy']:>10.3f}")
    for name in args.strategies.split(","):
        r = results[name]
        eps = f"{r['epsilon']:.2f}" if r["epsilon"] is not None else "-"
        print(f"{name:<14}{r['final_accuracy']:>10.3f}{r['best_accuracy']:>10.3f}{r['bytes_per_client_round']:>14.0f}"
              f"{eps:>9}{r['wall_s']:>8.1f}")
    if args.plots:
        results["plots"] = sim.plot({k: v for k, v in results.items() if isinstance(v, dict)}, Path(args.plots))
    print(sim.summary_line(results))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.federated.cli")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
