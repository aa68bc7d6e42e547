"""Secure aggregation (Bonawitz et al., CCS 2017), the server's half: :class:`SecAggServer` stores
what the clients send and rebuilds the sum of the survivors' vectors; :func:`run_protocol` runs all
four steps in memory. The protocol, its primitives and the client are in :mod:`ml.runtime.federated.secagg`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ml.runtime.federated.secagg import (DEFAULT_BITS, SecAggClient, SecAggError, from_ring, pairwise_seed, prg,
                                         shamir_combine)


@dataclass
class SecAggServer:
    """The aggregator. Its attributes are everything it ever stores."""
    threshold: int
    bits: int = DEFAULT_BITS
    public_keys: dict[int, dict[str, bytes]] = field(default_factory=dict)
    ciphertexts: dict[int, dict[int, bytes]] = field(default_factory=dict)  # recipient -> sender -> blob
    masked: dict[int, np.ndarray] = field(default_factory=dict)
    revealed: dict[int, dict[int, tuple[str, int]]] = field(default_factory=dict)  # revealer -> peer -> share

    def advertise(self, cid: int, keys: dict[str, bytes]) -> None:
        self.public_keys[cid] = keys

    def relay(self, sender: int, blobs: dict[int, bytes]) -> None:
        for v, blob in blobs.items():
            self.ciphertexts.setdefault(v, {})[sender] = blob

    def submit(self, cid: int, y: np.ndarray) -> None:
        if cid not in self.public_keys or cid in self.masked:
            raise SecAggError(f"Client {cid} is unknown or already submitted.")
        self.masked[cid] = np.asarray(y, np.uint64)

    def survivors(self) -> tuple[set[int], set[int]]:
        s = set(self.masked)
        return s, set(self.public_keys) - s

    def collect(self, cid: int, shares: dict[int, tuple[str, int]]) -> None:
        self.revealed[cid] = shares

    def aggregate(self) -> np.ndarray:
        """Σ_{u∈S} x_u as signed integers; raises :class:`SecAggError` below the threshold."""
        survivors, dropped = self.survivors()
        if len(survivors) < self.threshold or len(self.revealed) < self.threshold:
            raise SecAggError(f"Only {len(survivors)} survivors / {len(self.revealed)} reveals; "
                              f"the threshold is {self.threshold}.")
        size = next(iter(self.masked.values())).size
        mod = np.uint64((1 << self.bits) - 1)
        total = np.zeros(size, np.uint64)
        for y in self.masked.values():
            total = (total + y) & mod

        def rebuild(peer: int, kind: str) -> bytes:
            shares = {r: sh[peer][1] for r, sh in self.revealed.items() if peer in sh and sh[peer][0] == kind}
            if len(shares) < self.threshold:
                raise SecAggError(f"Too few shares to rebuild client {peer}'s {kind}.")
            return shamir_combine(dict(list(shares.items())[: self.threshold]))

        for u in survivors:
            total = (total - prg(rebuild(u, "b"), size, self.bits)) & mod
        for v in dropped:
            s_sk = X25519PrivateKey.from_private_bytes(rebuild(v, "s"))
            for u in survivors:
                p = prg(pairwise_seed(s_sk, self.public_keys[u]["s_pk"]), size, self.bits)
                total = (total - p if u < v else total + p) & mod
        return from_ring(total, self.bits)


def run_protocol(inputs: dict[int, np.ndarray], threshold: int, drop_after_sharing: set[int] = frozenset(),
                 bits: int = DEFAULT_BITS) -> tuple[np.ndarray, SecAggServer]:
    """Run all four steps in memory (simulation and tests); returns (sum, the server's state)."""
    clients = {cid: SecAggClient(cid) for cid in inputs}
    server = SecAggServer(threshold=threshold, bits=bits)
    for cid, c in clients.items():
        server.advertise(cid, c.public_keys())
    for cid, c in clients.items():
        server.relay(cid, c.share_keys(server.public_keys, threshold))
    for cid, c in clients.items():
        c.receive_shares(server.ciphertexts.get(cid, {}))
    for cid, c in clients.items():
        if cid not in drop_after_sharing:
            server.submit(cid, c.mask(inputs[cid], bits))
    survivors, dropped = server.survivors()
    for cid in survivors:
        server.collect(cid, clients[cid].reveal(survivors, dropped))
    return server.aggregate(), server
