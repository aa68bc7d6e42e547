"""Secure aggregation over HTTP: the JSON forms of the protocol's messages and the phone's side.

The live protocol (``/api/v1/fl/...``) runs :mod:`ml.runtime.federated.secagg` in four phases, each a
round trip through the server, which only relays and stores:

===========  ==========================================  =====================================
phase        the task tells the phone                    the phone posts
===========  ==========================================  =====================================
``keys``     its ``client_id``                           ``fl/secagg/keys``: two X25519 public keys
``shares``   ``peers``: everyone's public keys (U1)      ``fl/secagg/shares``: one AES-GCM blob per peer
``input``    ``cohort`` U2 and the blobs addressed to    ``fl/updates`` with ``masked``: y_u in Z_2^bits
             it
``unmask``   ``survivors`` S and ``dropped`` D           ``fl/secagg/reveal``: share of b_v (v ∈ S) or
                                                         of s_v (v ∈ D), never both
===========  ==========================================  =====================================

Quantisation to the ring: with K clients and ``bits``-bit ring elements the sum of K values in
[−L, L] must stay inside [−2^(bits−1), 2^(bits−1)), so L = ⌊(2^(bits−1) − 1)/K⌋ levels
(:func:`ring_levels`). Every client uses the round's public scale ``s``: it clamps each
coordinate of its (clipped) delta to ±L·s and rounds x/s stochastically (unbiased inside the
range). The server unmasks Σ q_u and releases s·Σ q_u. With ``bits = 8`` the masked vector is
one byte per parameter: 1/4 of a float32 update.

Everything here is numpy + ``cryptography``; no Django. The server decodes the same forms
(:mod:`server.federated.secagg`).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ml.runtime.federated.secagg import CIPHERTEXT_BYTES, PRIME, SHARE_BYTES, SecAggClient, SecAggError, share_bytes

KEY_BYTES = 32
RING_BITS = (8, 16)


class WireError(ValueError):
    """A malformed secure-aggregation message; ``code`` is the stable API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: Any, length: int | None, what: str, code: str = "secagg_malformed") -> bytes:
    """Decode base64 ``value``; :class:`WireError` unless it is a string of exactly ``length`` bytes."""
    if not isinstance(value, str) or (length is not None and len(value) > 4 * (length // 3 + 2)):
        raise WireError(code, f"{what} must be a base64 string" + (f" of {length} bytes." if length else "."))
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(code, f"{what} is not valid base64.") from None
    if length is not None and len(raw) != length:
        raise WireError(code, f"{what} must hold {length} bytes, not {len(raw)}.")
    return raw


def ring_levels(bits: int, clients: int) -> int:
    """L: the largest |q| each of ``clients`` values may take so that their sum fits ``bits`` bits."""
    if bits not in RING_BITS:
        raise ValueError(f"bits must be one of {RING_BITS}.")
    levels = (2 ** (bits - 1) - 1) // max(1, clients)
    if levels < 1:
        raise ValueError(f"A {bits}-bit ring cannot hold the sum of {clients} clients.")
    return levels


def quantise_to_ring(flat: np.ndarray, scale: float, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Signed integers q with |q| <= levels, E[q·scale] = clamp(x, ±levels·scale)."""
    y = np.clip(np.asarray(flat, np.float64) / scale, -levels, levels)
    low = np.floor(y)
    return (low + (rng.random(y.shape) < (y - low))).astype(np.int64)


def encode_ring(y: np.ndarray, bits: int) -> str:
    dtype = "<u1" if bits == 8 else "<u2"
    return b64(np.asarray(y, np.uint64).astype(dtype).tobytes())


def decode_ring(value: Any, size: int, bits: int) -> np.ndarray:
    """A masked vector of ``size`` ring elements (uint64); :class:`WireError` on a bad length."""
    raw = unb64(value, size * bits // 8, "masked", code="update_shape_mismatch")
    return np.frombuffer(raw, "<u1" if bits == 8 else "<u2").astype(np.uint64)


def encode_public_keys(keys: Mapping[str, bytes]) -> dict[str, str]:
    return {"c_pk": b64(keys["c_pk"]), "s_pk": b64(keys["s_pk"])}


def decode_public_keys(obj: Any) -> dict[str, bytes]:
    if not isinstance(obj, Mapping):
        raise WireError("secagg_malformed", "Public keys must be an object with c_pk and s_pk.")
    keys = {k: unb64(obj.get(k), KEY_BYTES, k, code="secagg_bad_key") for k in ("c_pk", "s_pk")}
    if keys["c_pk"] == keys["s_pk"]:
        raise WireError("secagg_bad_key", "c_pk and s_pk must be different keys.")
    return keys


def decode_share_blobs(obj: Any, expected: set[int]) -> dict[int, bytes]:
    """{recipient id: ciphertext}; exactly one blob for every id in ``expected``."""
    if not isinstance(obj, Mapping):
        raise WireError("secagg_malformed", "shares must be an object {peer id: base64 ciphertext}.")
    try:
        ids = {int(k): v for k, v in obj.items()}
    except (TypeError, ValueError):
        raise WireError("secagg_malformed", "Share recipients must be client ids.") from None
    if set(ids) != expected:
        raise WireError("secagg_bad_shares", f"Send one share message to each of the peers {sorted(expected)}.")
    return {k: unb64(v, CIPHERTEXT_BYTES, f"share for {k}") for k, v in ids.items()}


def encode_reveal(shares: Mapping[int, tuple[str, int]]) -> dict[str, dict[str, str]]:
    return {str(v): {"kind": kind, "share": b64(share_bytes(value))} for v, (kind, value) in shares.items()}


def decode_reveal(obj: Any, survivors: set[int], dropped: set[int]) -> dict[int, tuple[str, int]]:
    """Shares revealed for the unmask step: ``b`` for every survivor, ``s`` for every dropped client."""
    if not isinstance(obj, Mapping):
        raise WireError("secagg_malformed", "shares must be an object {peer id: {kind, share}}.")
    out: dict[int, tuple[str, int]] = {}
    for key, item in obj.items():
        try:
            peer = int(key)
        except (TypeError, ValueError):
            raise WireError("secagg_malformed", "Reveal keys must be client ids.") from None
        if not isinstance(item, Mapping) or set(item) != {"kind", "share"}:
            raise WireError("secagg_malformed", f"Reveal for {peer} needs exactly kind and share.")
        want = "b" if peer in survivors else "s" if peer in dropped else None
        if want is None or item["kind"] != want:
            raise WireError("secagg_bad_reveal", f"Client {peer} needs a share of kind {want!r}"
                            if want else f"Client {peer} is not in this round's cohort.")
        value = int.from_bytes(unb64(item["share"], SHARE_BYTES, f"share of {peer}"), "big")
        if value >= PRIME:
            raise WireError("secagg_bad_reveal", f"The share of {peer} is not a field element.")
        out[peer] = (want, value)
    if set(out) != survivors | dropped:
        raise WireError("secagg_bad_reveal", "Reveal one share for every survivor and every dropped client.")
    return out


@dataclass
class PhoneSecAgg:
    """The phone's state across the phases of one round (kept in memory or on disk by the app)."""
    client_id: int
    threshold: int
    client: SecAggClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = SecAggClient(self.client_id)

    @classmethod
    def from_task(cls, sa: Mapping[str, Any]) -> "PhoneSecAgg":
        return cls(int(sa["client_id"]), int(sa["threshold"]))

    def keys_body(self, round_id: int) -> dict:
        return {"round": round_id, **encode_public_keys(self.client.public_keys())}

    def shares_body(self, round_id: int, sa: Mapping[str, Any]) -> dict:
        peers = {int(k): decode_public_keys(v) for k, v in sa["peers"].items()}
        if self.client_id not in peers or peers[self.client_id] != self.client.public_keys():
            raise SecAggError("The server's peer list does not carry my own keys.")
        blobs = self.client.share_keys(peers, self.threshold)
        return {"round": round_id, "shares": {str(v): b64(blob) for v, blob in blobs.items()}}

    def masked(self, sa: Mapping[str, Any], delta: Mapping[str, np.ndarray], rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """(the ``masked`` field of the update, the integers q it hides) for a clipped delta."""
        blobs = {int(k): unb64(v, CIPHERTEXT_BYTES, "share") for k, v in sa["shares"].items()}
        self.client.receive_shares(blobs, cohort={int(c) for c in sa["cohort"]})
        flat = np.concatenate([np.asarray(delta[k], np.float64).ravel() for k in sorted(delta)])
        q = quantise_to_ring(flat, float(sa["scale"]), int(sa["levels"]), rng)
        return encode_ring(self.client.mask(q, int(sa["bits"])), int(sa["bits"])), q

    def reveal_body(self, round_id: int, sa: Mapping[str, Any]) -> dict:
        shares = self.client.reveal({int(v) for v in sa["survivors"]}, {int(v) for v in sa["dropped"]})
        return {"round": round_id, "shares": encode_reveal(shares)}
