"""Secure aggregation in live rounds (server side): phases, relay, unmask.

A round opened with ``secure_aggregation={...}`` runs the four phases of
:mod:`ml.runtime.federated.secagg` over the API (message forms in :mod:`ml.runtime.federated.secagg_wire`):

* ``keys``: sampled phones post two X25519 public keys (U1 = those that did);
* ``shares``: the task lists U1's keys; each phone posts one encrypted share blob per peer
  (U2 = those that did); the server stores the blobs only to relay them;
* ``input``: the task carries U2 and the blobs addressed to the phone; phones post masked
  updates (``fl/updates`` with ``masked``), which are stored exactly as sent;
* ``unmask``: survivors S (masked update received) and dropped D = U2 − S are announced; each
  survivor posts its shares of b_v for v ∈ S and of s_v for v ∈ D.

A phase ends when every expected phone has answered, or at its deadline (beat,
:func:`advance_due`) with at least ``threshold`` phones; fewer fail the round. After the unmask
phase the aggregation task rebuilds Σ q_u (:func:`secure_sum`) -- the only plaintext the
server ever computes. Masked updates cannot be norm-checked by the server: the bound on each
coordinate is the public ring range, a known limit of secure aggregation without range proofs.
"""
from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from ml.federated.secagg import SecAggServer
from ml.runtime.federated import secagg_wire as wire
from ml.runtime.federated.secagg import SecAggError
from server.common.errors import ApiError

from .models import Assignment, ClientUpdate, Round, RoundStatus

DEFAULTS: dict[str, Any] = {"threshold": None, "bits": 8, "coord_bound": 0.1, "phase_seconds": 600}
PHASES = ("keys", "shares", "input", "unmask")


def validate_config(config: Any, clients_per_round: int, aggregator: str) -> dict[str, Any]:
    """The complete secure-aggregation settings ({} when off); ``ValueError`` naming the problem.

    ``threshold`` t (default ⌊K/2⌋ + 1, at least a majority) survivors are needed to unmask;
    ``bits`` ∈ {8, 16} is the ring size (8 = one byte per parameter); ``coord_bound`` is the
    per-coordinate range as a fraction of the clip norm; ``phase_seconds`` bounds each phase.
    """
    if not config:
        return {}
    if not isinstance(config, dict):
        raise ValueError("secure_aggregation must be an object or empty.")
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown secure_aggregation keys: {', '.join(sorted(unknown))}.")
    cfg = {**DEFAULTS, **config}
    k = int(clients_per_round)
    if k < 3:
        raise ValueError("Secure aggregation needs clients_per_round >= 3.")
    t = cfg["threshold"] if cfg["threshold"] is not None else k // 2 + 1
    if isinstance(t, bool) or not isinstance(t, int) or not k // 2 + 1 <= t <= k:
        raise ValueError(f"secure_aggregation threshold must be an integer in [{k // 2 + 1}, {k}] (a majority).")
    if cfg["bits"] not in wire.RING_BITS:
        raise ValueError(f"secure_aggregation bits must be one of {wire.RING_BITS}.")
    levels = wire.ring_levels(cfg["bits"], k)
    bound = cfg["coord_bound"]
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 < bound <= 1:
        raise ValueError("secure_aggregation coord_bound must be in (0, 1] (a fraction of clip_norm).")
    secs = cfg["phase_seconds"]
    if isinstance(secs, bool) or not isinstance(secs, int) or not 5 <= secs <= 7 * 86400:
        raise ValueError("secure_aggregation phase_seconds must be an integer in [5, 604800].")
    if aggregator != "mean":
        raise ValueError("Secure aggregation reveals only the sum: it needs the mean aggregator.")
    return {"threshold": t, "bits": cfg["bits"], "coord_bound": float(bound), "phase_seconds": secs, "levels": levels}


def scale_of(rnd: Round) -> float:
    """The public quantisation step s: coordinates are clamped to ±levels·s = ±coord_bound·C."""
    cfg = rnd.secure_aggregation
    return cfg["coord_bound"] * rnd.clip_norm / cfg["levels"]


def start(rnd: Round) -> None:
    """Number the sampled clients 1..K and open the ``keys`` phase (inside the opening transaction)."""
    for i, a in enumerate(rnd.assignments.order_by("pk"), start=1):
        Assignment.objects.filter(pk=a.pk).update(secagg_id=i)
    rnd.secagg_phase = "keys"
    rnd.phase_deadline = _phase_end(rnd, timezone.now())
    rnd.save(update_fields=["secagg_phase", "phase_deadline"])


def _phase_end(rnd: Round, now) -> Any:
    return min(now + timedelta(seconds=rnd.secure_aggregation["phase_seconds"]), rnd.deadline)


def _sets(rnd: Round) -> tuple[list[Assignment], list[Assignment], set[int]]:
    """(U1: keys advertised, U2: shares sent, survivors: secagg ids with a masked update)."""
    rows = list(rnd.assignments.order_by("secagg_id"))
    u1 = [a for a in rows if a.public_keys]
    u2 = [a for a in u1 if a.share_blobs]
    sent = set(ClientUpdate.objects.filter(round=rnd).values_list("user_id", flat=True))
    return u1, u2, {a.secagg_id for a in u2 if a.user_id in sent}


def task_part(rnd: Round, a: Assignment) -> dict | None:
    """The ``secure_aggregation`` part of the phone's task, or None when it has nothing (more) to do."""
    cfg = rnd.secure_aggregation
    phase = rnd.secagg_phase
    part = {"client_id": a.secagg_id, "phase": phase, "threshold": cfg["threshold"], "bits": cfg["bits"],
            "levels": cfg["levels"], "scale": scale_of(rnd),
            "phase_deadline": rnd.phase_deadline.isoformat() if rnd.phase_deadline else None}
    u1, u2, survivors = _sets(rnd)
    ids1, ids2 = {x.secagg_id for x in u1}, {x.secagg_id for x in u2}
    if phase == "keys":
        return {**part, "next": "wait" if a.public_keys else "advertise_keys"}
    if phase == "shares":
        if a.secagg_id not in ids1:
            return None
        return {**part, "next": "wait" if a.share_blobs else "share_keys",
                "peers": {str(x.secagg_id): x.public_keys for x in u1}}
    if phase == "input":
        if a.secagg_id not in ids2:
            return None
        blobs = {str(x.secagg_id): x.share_blobs[str(a.secagg_id)] for x in u2 if x.secagg_id != a.secagg_id}
        return {**part, "next": "wait" if a.secagg_id in survivors else "submit_masked",
                "cohort": sorted(ids2), "shares": blobs}
    if phase == "unmask" and a.secagg_id in survivors and a.revealed is None:
        return {**part, "next": "reveal", "survivors": sorted(survivors), "dropped": sorted(ids2 - survivors)}
    return None


# --- posts ---------------------------------------------------------------------------------------

def _locked(user, data: Any, phase: str) -> tuple[Round, Assignment]:
    """The round (locked) and this user's assignment, checked for ``phase``; raises :class:`ApiError`."""
    if not isinstance(data, dict):
        raise ApiError("malformed_request", "The body must be a JSON object.")
    rid = data.get("round")
    if isinstance(rid, bool) or not isinstance(rid, int) or rid < 1:
        raise ApiError("invalid", "round must be a positive integer.", fields={"round": "invalid"})
    rnd = Round.objects.select_for_update().filter(pk=rid).first()
    if rnd is None:
        raise ApiError("round_unknown", f"There is no round {rid}.", status.HTTP_404_NOT_FOUND)
    a = Assignment.objects.filter(round=rnd, user=user).first()
    if a is None:
        raise ApiError("round_not_assigned", "This phone was not sampled for that round.", status.HTTP_403_FORBIDDEN)
    if not rnd.secure_aggregation:
        raise ApiError("secagg_not_enabled", "This round does not use secure aggregation.")
    if rnd.status != RoundStatus.OPEN or (rnd.phase_deadline and rnd.phase_deadline <= timezone.now()):
        raise ApiError("update_late", "This phase of the round is over.", status.HTTP_409_CONFLICT)
    if rnd.secagg_phase != phase:
        raise ApiError("secagg_wrong_phase", f"The round is in its {rnd.secagg_phase!r} phase, not {phase!r}.",
                       status.HTTP_409_CONFLICT)
    return rnd, a


def _wire(fn, *args):
    try:
        return fn(*args)
    except wire.WireError as exc:
        raise ApiError(exc.code, str(exc)) from None


def advertise_keys(user, data: Any) -> bool:
    """Store the phone's two public keys; returns True when the phase moved on."""
    with transaction.atomic():
        rnd, a = _locked(user, data, "keys")
        if a.public_keys:
            raise ApiError("secagg_duplicate", "This phone already advertised its keys.", status.HTTP_409_CONFLICT)
        keys = _wire(wire.decode_public_keys, data)
        used = {v for x in rnd.assignments.exclude(public_keys=None) for v in x.public_keys.values()}
        if used & {wire.b64(k) for k in keys.values()}:
            raise ApiError("secagg_bad_key", "These public keys are already used in this round.")
        Assignment.objects.filter(pk=a.pk).update(public_keys=wire.encode_public_keys(keys))
        return advance(rnd) is not None


def relay_shares(user, data: Any) -> bool:
    """Store the phone's encrypted shares, one per peer of U1."""
    with transaction.atomic():
        rnd, a = _locked(user, data, "shares")
        if not a.public_keys:
            raise ApiError("secagg_not_in_cohort", "This phone advertised no keys in time.", status.HTTP_409_CONFLICT)
        if a.share_blobs:
            raise ApiError("secagg_duplicate", "This phone already sent its shares.", status.HTTP_409_CONFLICT)
        u1, _, _ = _sets(rnd)
        blobs = _wire(wire.decode_share_blobs, data.get("shares"), {x.secagg_id for x in u1} - {a.secagg_id})
        Assignment.objects.filter(pk=a.pk).update(share_blobs={str(k): wire.b64(v) for k, v in blobs.items()})
        return advance(rnd) is not None


def reveal(user, data: Any) -> str | None:
    """Store a survivor's unmasking shares; returns "aggregate" when aggregation can start."""
    with transaction.atomic():
        rnd, a = _locked(user, data, "unmask")
        _, u2, survivors = _sets(rnd)
        if a.secagg_id not in survivors:
            raise ApiError("secagg_not_in_cohort", "Only phones whose masked update arrived take part in unmasking.",
                           status.HTTP_409_CONFLICT)
        if a.revealed is not None:
            raise ApiError("secagg_duplicate", "This phone already revealed its shares.", status.HTTP_409_CONFLICT)
        shares = _wire(wire.decode_reveal, data.get("shares"), survivors, {x.secagg_id for x in u2} - survivors)
        Assignment.objects.filter(pk=a.pk).update(revealed=wire.encode_reveal(shares))
        return advance(rnd)


def check_masked_update(rnd: Round, user, data: dict) -> tuple[bytes, np.ndarray]:
    """For ``fl/updates`` in a secure round (round locked): (raw bytes, ring vector) or :class:`ApiError`."""
    if rnd.secagg_phase != "input":
        raise ApiError("secagg_wrong_phase", f"The round is in its {rnd.secagg_phase!r} phase, not 'input'.",
                       status.HTTP_409_CONFLICT)
    a = Assignment.objects.get(round=rnd, user=user)
    if not a.share_blobs:
        raise ApiError("secagg_not_in_cohort", "This phone sent no shares in time, so its update cannot be unmasked.",
                       status.HTTP_409_CONFLICT)
    if "update" in data or "masked" not in data:
        raise ApiError("update_malformed", "This round uses secure aggregation: send `masked`, not `update`.",
                       fields={"masked": "required"})
    size = int(rnd.trainable["parameters"])
    y = _wire(wire.decode_ring, data["masked"], size, rnd.secure_aggregation["bits"])
    return wire.unb64(data["masked"], None, "masked"), y


# --- phases --------------------------------------------------------------------------------------

def _fail(rnd: Round, message: str) -> None:
    Round.objects.filter(pk=rnd.pk).update(status=RoundStatus.FAILED, error=message, closed_at=timezone.now())


def advance(rnd: Round, force: bool = False) -> str | None:
    """Move a (locked) secure round to its next phase when every expected phone answered, or when
    ``force`` (the phase deadline passed) with at least t of them. Returns "aggregate", "failed",
    a new phase name, or None when nothing changed."""
    cfg = rnd.secure_aggregation
    t, now = cfg["threshold"], timezone.now()
    u1, u2, survivors = _sets(rnd)
    phase = rnd.secagg_phase
    done, have, nxt = {
        "keys": (len(u1) == rnd.assignments.count(), len(u1), "shares"),
        "shares": (len(u2) == len(u1), len(u2), "input"),
        "input": (len(survivors) == len(u2), len(survivors), "unmask"),
        "unmask": (all(a.revealed is not None for a in u2 if a.secagg_id in survivors),
                   sum(a.revealed is not None for a in u2 if a.secagg_id in survivors), "aggregate"),
    }.get(phase, (False, 0, None))
    if nxt is None or not (done or force):
        return None
    if have < t:
        _fail(rnd, f"Secure aggregation stopped in its {phase} phase: {have} phones answered, "
                   f"the threshold is {t}.")
        return "failed"
    if nxt == "aggregate":
        return nxt
    rnd.secagg_phase = nxt
    rnd.phase_deadline = (rnd.deadline if nxt == "input" else
                          now + timedelta(seconds=cfg["phase_seconds"]) if nxt == "unmask" else _phase_end(rnd, now))
    rnd.save(update_fields=["secagg_phase", "phase_deadline"])
    return nxt


def advance_due() -> list[int]:
    """Force secure rounds whose phase deadline passed onward; returns the rounds to aggregate."""
    ready = []
    due = Round.objects.filter(status=RoundStatus.OPEN, phase_deadline__lte=timezone.now()).exclude(secagg_phase="")
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            rnd = Round.objects.select_for_update().filter(pk=pk, status=RoundStatus.OPEN).first()
            if rnd and rnd.phase_deadline and rnd.phase_deadline <= timezone.now() and advance(rnd, force=True) == "aggregate":
                ready.append(pk)
    return ready


def secure_sum(rnd: Round) -> tuple[np.ndarray, dict]:
    """Σ q_u over the survivors, rebuilt from masked vectors and revealed shares; :class:`SecAggError`
    when fewer than t survivors revealed."""
    cfg = rnd.secure_aggregation
    _, u2, survivors = _sets(rnd)
    server = SecAggServer(threshold=cfg["threshold"], bits=cfg["bits"])
    size = int(rnd.trainable["parameters"])
    for a in u2:
        server.advertise(a.secagg_id, wire.decode_public_keys(a.public_keys))
    by_user = {a.user_id: a.secagg_id for a in u2}
    for row in rnd.updates.filter(masked=True):
        if row.user_id in by_user:
            server.submit(by_user[row.user_id], wire.decode_ring(wire.b64(bytes(row.payload)), size, cfg["bits"]))
    dropped = {a.secagg_id for a in u2} - survivors
    for a in u2:
        if a.secagg_id in survivors and a.revealed is not None:
            server.collect(a.secagg_id, wire.decode_reveal(a.revealed, survivors, dropped))
    if not server.masked:
        raise SecAggError("No masked update arrived.")
    total = server.aggregate()
    share_bytes = sum(len(v) * 3 // 4 for a in u2 for v in a.share_blobs.values())
    info = {"survivors": sorted(survivors), "dropped": sorted(dropped), "reveals": len(server.revealed),
            "threshold": cfg["threshold"], "bits": cfg["bits"], "levels": cfg["levels"], "scale": scale_of(rnd),
            "protocol_bytes_per_client": math.ceil((2 * wire.KEY_BYTES * len(u2) + share_bytes + sum(
                len(a.revealed) * wire.SHARE_BYTES for a in u2 if a.revealed)) / max(1, len(u2)))}
    return total, info
