"""Secure aggregation: exact sums with 30 % dropouts, nothing individual recoverable by the server."""
from __future__ import annotations

import numpy as np
import pytest

from ml.federated.secagg import run_protocol
from ml.runtime.federated.secagg import SecAggError, from_ring, prg, shamir_combine, shamir_split, to_ring

D = 2048


def inputs(n: int, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {cid: rng.integers(-127, 128, size=D) for cid in range(1, n + 1)}


def test_sum_is_exact_without_dropouts():
    x = inputs(5)
    total, _ = run_protocol(x, threshold=3)
    assert np.array_equal(total, sum(x.values()))


def test_sum_is_exact_with_30_percent_dropouts_after_masking_keys_were_shared():
    x = inputs(10, seed=1)
    dropped = {2, 5, 9}  # 30 % of the clients vanish after sharing keys, before sending input
    total, server = run_protocol(x, threshold=6, drop_after_sharing=dropped)
    assert np.array_equal(total, sum(v for cid, v in x.items() if cid not in dropped))
    assert set(server.masked) == set(x) - dropped
    # naive sum of what arrived is garbage: the dropped clients' pairwise masks do not cancel
    naive = from_ring(sum(server.masked.values()) & np.uint64(0xFFFF))
    assert not np.array_equal(naive, total)


def test_too_many_dropouts_abort_instead_of_revealing():
    x = inputs(6, seed=2)
    with pytest.raises(SecAggError):
        run_protocol(x, threshold=4, drop_after_sharing={1, 2, 3})


def test_server_cannot_recover_an_individual_update_from_what_it_stores():
    x = inputs(6, seed=3)
    secret = np.random.default_rng(99).integers(-127, 128, size=D)
    x[1] = secret
    total, server = run_protocol(x, threshold=4, drop_after_sharing={6})
    # 1. the server never holds client 1's mask key: survivors only reveal self-mask shares for survivors
    kinds = {kind for shares in server.revealed.values() for peer, (kind, _) in shares.items() if peer == 1}
    assert kinds == {"b"}
    # 2. its best attempt -- remove client 1's self mask (rebuilt from shares) and the pairwise masks
    #    it can rebuild (those with the dropped client 6) -- is still uncorrelated with the input
    b1 = shamir_combine(dict(list({r: s[1][1] for r, s in server.revealed.items()}.items())[:4]))
    attempt = from_ring((server.masked[1] - prg(b1, D)) & np.uint64(0xFFFF))
    assert np.abs(np.corrcoef(attempt, secret)[0, 1]) < 0.1
    assert np.mean(np.abs(attempt)) > 100 * np.mean(np.abs(secret)) / 10  # spread over the whole ring
    # 3. the masked vector itself is uniform-looking over Z_2^16, unrelated to the input
    y = server.masked[1].astype(np.float64)
    assert abs(y.mean() / 2 ** 16 - 0.5) < 0.05 and np.abs(np.corrcoef(y, secret)[0, 1]) < 0.1
    # 4. ciphertexts relayed by the server do not decrypt with anything it holds (no private keys)
    assert all(isinstance(blob, bytes) and len(blob) > 28 for c in server.ciphertexts.values() for blob in c.values())
    # ...and yet the sum is right
    assert np.array_equal(total, sum(v for cid, v in x.items() if cid != 6))


def test_shamir_threshold():
    secret = bytes(range(32))
    shares = shamir_split(secret, n=7, t=4)
    assert shamir_combine(dict(list(shares.items())[:4])) == secret
    assert shamir_combine(dict(list(shares.items())[3:])) == secret
    assert shamir_combine(dict(list(shares.items())[:3])) != secret


def test_ring_round_trip_and_prg_determinism():
    v = np.array([-32768, -1, 0, 1, 32767])
    assert np.array_equal(from_ring(to_ring(v)), v)
    seed = bytes(32)
    assert np.array_equal(prg(seed, 100), prg(seed, 100)) and not np.array_equal(prg(seed, 100), prg(b"\x01" * 32, 100))
