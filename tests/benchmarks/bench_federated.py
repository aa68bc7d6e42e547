"""Federated benchmark (not collected by default): accuracy vs centralised, bytes, aggregation
speed (1,000 × 100k), robustness with 20 % malicious clients (sign flip, ×10 scaling, noise),
the DP cost at ε ≤ 8, distillation, and Flower's FedAvg as a peer on identical partitions.

Run: ``.venv/bin/python tests/benchmarks/bench_federated.py [--inits zero,warm] [--seeds 2]``
(needs ../shared/data/birds-pr; embeddings are cached under var/cache/federated/; Flower is
run from ``var/flwr-site`` when present). ``warm``: 25 % of the recordists (seeded) are held
out from the clients and the first head is trained centrally on them; ``zero``: head from
zeros, every recordist is a client. Peers measured in the same run: centralised training of
the same head on the union of the clients' data (from the same start), and Flower FedAvg.
Prints tables and one JSON line; writes plots to var/federated-sim/.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CLEAN = ("fedavg", "fedavg-loss", "fedavg-error", "fedavgm", "fedadam", "fedyogi", "fedadagrad", "median", "trimmed",
         "krum", "centered-clip", "fedavg+nb", "krum+nb", "centered-clip+nb", "distill", "distill-probs")
ROBUST = ("fedavg", "median", "trimmed", "krum", "centered-clip", "fedavg+nb", "median+nb", "trimmed+nb", "krum+nb",
          "centered-clip+nb")
ATTACKS = ("signflip", "scale", "noise")
DP_RUNS = {"C=5, eta=1": (5.0, {}), "C=0.3, eta=0.3": (0.3, {"server_lr": 0.3}),
           "adaptive C, eta=0.3": (1.0, {"server_lr": 0.3, "adaptive_clip": True})}


def aggregation_speed(k: int = 1000, p: int = 100_000, seed: int = 0) -> dict:
    from ml.federated import robust
    from ml.federated.weights import aggregation_weights

    rng = np.random.default_rng(seed)
    u = rng.normal(size=(k, p)).astype(np.float64)
    alpha = aggregation_weights("count", n=rng.integers(1, 100, k))
    out = {}
    for name, fn in (("fedavg", lambda: alpha @ u), ("median", lambda: robust.coordinate_median(u)),
                     ("trimmed_mean", lambda: robust.trimmed_mean(u, 0.1)), ("krum", lambda: robust.krum(u, f=200)),
                     ("centered_clip", lambda: robust.centered_clip(u))):
        t0 = time.perf_counter()
        fn()
        out[name] = round(time.perf_counter() - t0, 3)
    return out


def flower(init: str, rounds: int) -> dict | None:
    site = ROOT / "var" / "flwr-site"
    if not site.exists():
        return None
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "ml.federated.flower_peer", "--rounds", str(rounds), "--init", init],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if out.returncode == 0 and lines else {"error": out.stderr[-500:]}


def mean_over_seeds(head0, data, strategy, cfg, seeds: int, **over) -> dict:
    from ml.federated import sim

    runs = [sim.run(head0, data, strategy, sim.SimConfig(**{**cfg.__dict__, **over, "seed": s})) for s in range(seeds)]
    return {"final_accuracy": float(np.mean([r["final_accuracy"] for r in runs])),
            "last10_accuracy": float(np.mean([np.mean(r["accuracy"][-10:]) for r in runs])),
            "per_seed": [round(r["final_accuracy"], 4) for r in runs]}


def bench_init(init: str, rounds: int, seeds: int, recs, clf) -> dict:
    from ml.federated import sim
    from ml.federated.embedding import head_of
    from ml.runtime.federated.trainer import LocalHyper

    hyper = LocalHyper(epochs=5, lr=0.05, batch_size=32)
    data = sim.build(recs, clf.labels, seed=0, warm_fraction=0.25 if init == "warm" else 0.0)
    head0 = {k: np.zeros_like(v) for k, v in head_of(clf).items()}
    if init == "warm":
        head0 = sim.warm_start(head0, data, hyper)
    cfg = sim.SimConfig(rounds=rounds, clients_per_round=10, local=hyper, clip_norm=5.0, seed=0)
    res: dict = {"clients": len(data.clients), "val_recordings": len(data.val),
                 "warm_windows": 0 if data.warm is None else len(data.warm.y),
                 "initial_accuracy": sim.accuracy(head0, data.val),
                 "centralised_accuracy": sim.centralised(head0, data, hyper, epochs=50)}
    clean = {n: sim.run(head0, data, sim.STRATEGIES[n], cfg) for n in CLEAN}
    clean["fedprox(mu=0.1)"] = sim.run(head0, data, sim.STRATEGIES["fedavg"],
                                       sim.SimConfig(**{**cfg.__dict__, "local": LocalHyper(5, 0.05, 32, 0.1)}))
    clean["fedavg+30%drop"] = sim.run(head0, data, sim.STRATEGIES["fedavg"], sim.SimConfig(**{**cfg.__dict__,
                                                                                             "dropout": 0.3}))
    res["plots"] = sim.plot(clean, ROOT / "var" / "federated-sim" / init)
    res["clean"] = {n: {k: v for k, v in r.items() if k not in ("accuracy", "malicious_clients")}
                    for n, r in clean.items()}
    robust = {"clean": {n: mean_over_seeds(head0, data, sim.STRATEGIES[n], cfg, seeds) for n in ROBUST}}
    for attack in ATTACKS:
        robust[attack] = {n: mean_over_seeds(head0, data, sim.STRATEGIES[n], cfg, seeds, malicious=0.2, attack=attack)
                          for n in ROBUST}
    res["robustness"] = robust
    res["dp"] = {}
    for name, (clip, extra) in DP_RUNS.items():
        r = sim.run(head0, data, {**sim.STRATEGIES["fedavg"], **extra},
                    sim.SimConfig(**{**cfg.__dict__, "clip_norm": clip, "epsilon": 8.0}))
        res["dp"][name] = {k: v for k, v in r.items() if k not in ("accuracy", "malicious_clients")}
    res["flower"] = flower(init, rounds)
    if res["flower"] and "accuracy" in res["flower"]:
        res["flower"].pop("accuracy")
    return res


def print_init(init: str, r: dict) -> None:
    print(f"\n== init={init}: {r['clients']} clients, {r['val_recordings']} validation recordings, "
          f"warm-start windows {r['warm_windows']}, 10 clients/round")
    print(f"{'run':<20}{'final':>8}{'best':>8}{'bytes/client':>14}{'float32':>9}{'eps':>7}{'wall s':>8}")
    print(f"{'initial head':<20}{r['initial_accuracy']:>8.3f}")
    print(f"{'centralised (peer)':<20}{r['centralised_accuracy']:>8.3f}")
    rows = dict(r["clean"])
    if r["flower"] and "final_accuracy" in r["flower"]:
        rows["flower fedavg (peer)"] = {**r["flower"], "float32_bytes": r["flower"]["bytes_per_client_round"],
                                        "epsilon": None}
    rows.update({f"DP {n}": v for n, v in r["dp"].items()})
    for n, v in rows.items():
        eps = f"{v['epsilon']:.2f}" if v.get("epsilon") is not None else "-"
        print(f"{n:<20}{v['final_accuracy']:>8.3f}{v['best_accuracy']:>8.3f}{v['bytes_per_client_round']:>14.0f}"
              f"{v['float32_bytes']:>9}{eps:>7}{v['wall_s']:>8.1f}")
    print("20% malicious, mean final accuracy over seeds (last-10-round mean in brackets):")
    print(f"{'rule':<18}" + "".join(f"{c:>16}" for c in ("clean",) + ATTACKS))
    for n in ROBUST:
        print(f"{n:<18}" + "".join(f"{r['robustness'][c][n]['final_accuracy']:>9.3f} ({r['robustness'][c][n]['last10_accuracy']:.3f})"
                                   for c in ("clean",) + ATTACKS))


def main() -> int:
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
    except ImportError:
        pass
    logging.getLogger("absl").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser()
    ap.add_argument("--inits", default="zero,warm")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    from ml.federated.simdata import load_recordings
    from ml.runtime.classifier import load_classifier

    recs = load_recordings(log=lambda m: print(m, file=sys.stderr))
    clf = load_classifier()
    out: dict = {"rounds": args.rounds, "clients_per_round": 10, "seeds": args.seeds}
    for init in args.inits.split(","):
        out[init] = bench_init(init, args.rounds, args.seeds, recs, clf)
        print_init(init, out[init])
    out["aggregation_s"] = aggregation_speed()
    print("\naggregation of 1000 x 100k updates, one core (s):", out["aggregation_s"])
    for init in args.inits.split(","):
        r = out[init]
        best = max(r["clean"], key=lambda n: r["clean"][n]["final_accuracy"])
        r["best_strategy"], r["best_gap_points"] = best, round(100 * (r["centralised_accuracy"]
                                                                      - r["clean"][best]["final_accuracy"]), 2)
    print(json.dumps(out, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
