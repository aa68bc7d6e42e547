"""Secure aggregation (Bonawitz et al., CCS 2017), the phone's half: the primitives shared with the
server (PRG, pairwise seeds, Shamir sharing, ring arithmetic) and one client's side of the protocol.
The server learns only the sum of the surviving clients' integer vectors, even when some clients drop
out after sharing keys; its side is :mod:`ml.federated.secagg`.

Protocol, for clients u with ids 1..n and a threshold t:

1. **Advertise keys.** Each client makes two X25519 key pairs: ``c`` to encrypt messages to
   peers, ``s`` for pairwise masks; it also draws a 32-byte self-mask seed ``b_u``.
2. **Share keys.** Each client Shamir-splits ``s_u^SK`` and ``b_u`` into n shares
   (threshold t, over the prime field GF(2^521 − 1)) and sends share v to peer v, encrypted
   with AES-GCM under HKDF(X25519(c_u^SK, c_v^PK)); the server only relays ciphertexts.
3. **Masked input.** Client u sends ``y_u = x_u + PRG(b_u) + Σ_{v>u} p_uv − Σ_{v<u} p_uv
   (mod 2^bits)`` with ``p_uv = PRG(HKDF(X25519(s_u^SK, s_v^PK)))`` (ChaCha20 key stream), so
   pairwise masks cancel in the sum.
4. **Unmask.** The server names the survivors S (masked input received) and the dropped D.
   Each survivor reveals, per peer, its share of ``b_v`` (v ∈ S) or of ``s_v^SK`` (v ∈ D),
   never both for one peer. With t shares the server rebuilds ``b_v`` for survivors (removes
   their self masks) and ``s_v^SK`` for dropped clients (removes the pairwise masks survivors
   added for them). What remains is Σ_{u∈S} x_u mod 2^bits.

An individual y_u stays hidden behind pairwise masks with every other survivor, whose keys
the server never learns. Integer inputs are signed and must satisfy |Σ x| < 2^(bits−1).

numpy + ``cryptography`` only (DESIGN §1): it runs on the phone.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PRIME = 2 ** 521 - 1  # Mersenne prime: the Shamir field
SHARE_BYTES = 66      # one field element, big-endian
CIPHERTEXT_BYTES = 12 + 2 * SHARE_BYTES + 16  # nonce + (share of s_sk, share of b) + GCM tag
DEFAULT_BITS = 16     # enough for the sum of up to 258 int8 vectors


class SecAggError(RuntimeError):
    """The protocol cannot complete (too few survivors, a bad message)."""


# --- primitives --------------------------------------------------------------------------------

def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def prg(seed: bytes, size: int, bits: int = DEFAULT_BITS) -> np.ndarray:
    """``size`` pseudo-random integers in [0, 2^bits) from a 32-byte seed (ChaCha20 key stream)."""
    width = 2 if bits <= 16 else 4 if bits <= 32 else 8
    enc = Cipher(algorithms.ChaCha20(seed, b"\x00" * 16), mode=None).encryptor()
    raw = enc.update(b"\x00" * (size * width))
    vals = np.frombuffer(raw, dtype={2: "<u2", 4: "<u4", 8: "<u8"}[width]).astype(np.uint64)
    return vals & np.uint64((1 << bits) - 1) if bits < 64 else vals


def _pub_bytes(pk: X25519PublicKey) -> bytes:
    return pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _priv_bytes(sk: X25519PrivateKey) -> bytes:
    return sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())


def pairwise_seed(sk: X25519PrivateKey, peer_pk: bytes) -> bytes:
    return _hkdf(sk.exchange(X25519PublicKey.from_public_bytes(peer_pk)), b"dawn-chorus secagg mask")


def share_bytes(value: int) -> bytes:
    """A field element as :data:`SHARE_BYTES` big-endian bytes."""
    return int(value).to_bytes(SHARE_BYTES, "big")


def shamir_split(secret: bytes, n: int, t: int, xs: list[int] | None = None) -> dict[int, int]:
    """n shares {x: y} of a secret of at most 64 bytes; any t rebuild it, t − 1 reveal nothing."""
    if not 1 <= t <= n:
        raise ValueError("Need 1 <= t <= n.")
    s = int.from_bytes(secret, "big")
    coeffs = [s] + [secrets.randbelow(PRIME) for _ in range(t - 1)]
    xs = xs or list(range(1, n + 1))
    return {x: sum(c * pow(x, i, PRIME) for i, c in enumerate(coeffs)) % PRIME for x in xs}


def shamir_combine(shares: dict[int, int], length: int = 32) -> bytes:
    """The secret from ``shares`` (Lagrange interpolation at 0); wrong if fewer than t shares."""
    total = 0
    items = list(shares.items())
    for i, (xi, yi) in enumerate(items):
        num, den = 1, 1
        for j, (xj, _) in enumerate(items):
            if i != j:
                num = num * (-xj) % PRIME
                den = den * (xi - xj) % PRIME
        total = (total + yi * num * pow(den, PRIME - 2, PRIME)) % PRIME
    if total >= 1 << (8 * length):
        return total.to_bytes(66, "big")[-length:]  # not a valid secret: garbage of the right length
    return total.to_bytes(length, "big")


def to_ring(x: np.ndarray, bits: int = DEFAULT_BITS) -> np.ndarray:
    """Signed integers as elements of Z_{2^bits} (uint64)."""
    return np.asarray(x, np.int64).astype(np.uint64) & np.uint64((1 << bits) - 1)


def from_ring(v: np.ndarray, bits: int = DEFAULT_BITS) -> np.ndarray:
    """Elements of Z_{2^bits} back to signed integers in [−2^(bits−1), 2^(bits−1))."""
    v = np.asarray(v, np.uint64).astype(np.int64)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


# --- client ------------------------------------------------------------------------------------

@dataclass
class SecAggClient:
    """One phone's side of the protocol."""
    cid: int
    c_sk: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    s_sk: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    b_seed: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    peers: dict[int, dict[str, bytes]] = field(default_factory=dict)
    held: dict[int, dict[str, int]] = field(default_factory=dict)  # shares others gave me

    def public_keys(self) -> dict[str, bytes]:
        return {"c_pk": _pub_bytes(self.c_sk.public_key()), "s_pk": _pub_bytes(self.s_sk.public_key())}

    def _channel(self, peer: int) -> AESGCM:
        shared = self.c_sk.exchange(X25519PublicKey.from_public_bytes(self.peers[peer]["c_pk"]))
        return AESGCM(_hkdf(shared, b"dawn-chorus secagg channel"))

    def share_keys(self, peers: dict[int, dict[str, bytes]], threshold: int) -> dict[int, bytes]:
        """Encrypted shares of (s_sk, b_seed) for every peer, keyed by recipient id."""
        self.peers = {v: k for v, k in peers.items() if v != self.cid}
        ids = sorted(peers)
        s_shares = shamir_split(_priv_bytes(self.s_sk), len(ids), threshold, xs=ids)
        b_shares = shamir_split(self.b_seed, len(ids), threshold, xs=ids)
        self.held[self.cid] = {"s": s_shares[self.cid], "b": b_shares[self.cid]}
        out = {}
        for v in self.peers:
            nonce = secrets.token_bytes(12)
            msg = share_bytes(s_shares[v]) + share_bytes(b_shares[v])
            out[v] = nonce + self._channel(v).encrypt(nonce, msg, f"{self.cid}->{v}".encode())
        return out

    def receive_shares(self, ciphertexts: dict[int, bytes], cohort: set[int] | None = None) -> None:
        """Decrypt the shares peers sent me. ``cohort`` (the clients whose shares the server
        relayed, U2) limits the peers I mask with; a bad ciphertext raises :class:`SecAggError`."""
        for u, blob in ciphertexts.items():
            if u not in self.peers or len(blob) != CIPHERTEXT_BYTES:
                raise SecAggError(f"Unexpected share message from client {u}.")
            try:
                msg = self._channel(u).decrypt(blob[:12], blob[12:], f"{u}->{self.cid}".encode())
            except InvalidTag:
                raise SecAggError(f"The share message from client {u} does not authenticate.") from None
            self.held[u] = {"s": int.from_bytes(msg[:SHARE_BYTES], "big"),
                            "b": int.from_bytes(msg[SHARE_BYTES:], "big")}
        if cohort is not None:
            if self.cid not in cohort or not set(ciphertexts) >= set(cohort) - {self.cid}:
                raise SecAggError("The cohort does not match the share messages relayed to me.")
            self.peers = {v: k for v, k in self.peers.items() if v in cohort}

    def mask(self, x: np.ndarray, bits: int = DEFAULT_BITS) -> np.ndarray:
        """y_u = x_u + PRG(b_u) + Σ_{v>u} p_uv − Σ_{v<u} p_uv  (mod 2^bits)."""
        x = np.asarray(x).ravel()
        y = to_ring(x, bits) + prg(self.b_seed, x.size, bits)
        for v, keys in self.peers.items():
            p = prg(pairwise_seed(self.s_sk, keys["s_pk"]), x.size, bits)
            y = y + p if self.cid < v else y - p
        return y & np.uint64((1 << bits) - 1)

    def reveal(self, survivors: set[int], dropped: set[int]) -> dict[int, tuple[str, int]]:
        """Per peer, the share of b (survivor) or of s_sk (dropped); refuses overlapping sets."""
        if survivors & dropped or self.cid not in survivors:
            raise SecAggError("The server's survivor and dropout lists are inconsistent.")
        out = {}
        for v, sh in self.held.items():
            if v in survivors:
                out[v] = ("b", sh["b"])
            elif v in dropped:
                out[v] = ("s", sh["s"])
        return out
