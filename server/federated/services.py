"""Federated rounds: open (sample clients), hand out tasks, accept or reject updates."""
from __future__ import annotations

import io
import logging
import math
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from ml.federated.embedding import head_of
from ml.federated.strategy import parse_strategy, validate_strategy
from ml.runtime.federated import codec
from server.common.errors import ApiError
from server.modelregistry import services as registry
from server.observations.services import app_observation_count

from . import secagg
from .models import Assignment, ClientUpdate, Enrollment, Round, RoundStatus

if TYPE_CHECKING:
    from server.modelregistry.models import ModelVersion

log = logging.getLogger(__name__)
ROUND_FIELDS = ("local_epochs", "learning_rate", "batch_size", "proximal_mu", "strategy", "clip_norm", "dp_delta",
                "clients_per_round", "min_recordings", "quorum", "server_steps", "promote_tolerance", "seed",
                "secure_aggregation")


# --- enrolment and eligibility ----------------------------------------------------------------

def set_enrollment(user, opted_in: bool) -> Enrollment:
    enrollment, _ = Enrollment.objects.update_or_create(user=user, defaults={"opted_in": opted_in})
    return enrollment


def eligible_users(min_recordings: int):
    """Opted-in players with at least ``min_recordings`` server-validated observations."""
    return (get_user_model().objects.filter(fl_enrollment__opted_in=True, is_active=True)
            .annotate(n_obs=app_observation_count("observations"))
            .filter(n_obs__gte=min_recordings))


# --- opening -----------------------------------------------------------------------------------

def trainable_spec(mv: ModelVersion) -> dict:
    head = head_of(load_model(mv))
    return {"part": "head", "tensors": {k: list(v.shape) for k, v in sorted(head.items())},
            "parameters": int(sum(v.size for v in head.values()))}


def load_model(mv: ModelVersion):
    """The runtime classifier of a registered version."""
    from ml.runtime.classifier import load_classifier

    return load_classifier(registry.file_path(mv))


def validate_round_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Check round settings; raise ``ValueError`` naming the problem."""
    unknown = set(values) - set(ROUND_FIELDS) - {"duration_minutes"}
    if unknown:
        raise ValueError(f"Unknown round settings: {', '.join(sorted(unknown))}.")
    out = dict(values)
    if "strategy" in out:
        out["strategy"] = {k: v for k, v in validate_strategy(out["strategy"]).items()
                           if k in (out["strategy"] or {})}
    k = out.get("clients_per_round", 10)
    q = out.get("quorum", min(5, k))
    if not (isinstance(k, int) and k >= 1) or not (isinstance(q, int) and 1 <= q <= k):
        raise ValueError("Need clients_per_round >= 1 and 1 <= quorum <= clients_per_round.")
    if not out.get("clip_norm", 1.0) > 0:
        raise ValueError("clip_norm must be positive.")
    if not 0 < out.get("dp_delta", 1e-5) < 1:
        raise ValueError("dp_delta must be in (0, 1).")
    if out.get("secure_aggregation"):
        out["secure_aggregation"] = secagg.validate_config(out["secure_aggregation"], k,
                                                           parse_strategy(out.get("strategy")).aggregator)
    return out


def open_round(*, model_version: ModelVersion | None = None, duration: timedelta = timedelta(hours=1),
               schedule=None, **values) -> Round:
    """Open a round on ``model_version`` (the current field model by default), sampling K of M clients."""
    values = validate_round_settings(values)
    values.setdefault("quorum", min(5, values.get("clients_per_round", 10)))
    mv = model_version or registry.current_version()
    if mv is None:
        raise ValueError("No current model to fine-tune.")
    spec = trainable_spec(mv)
    with transaction.atomic():
        rnd = Round.objects.create(model_version=mv, trainable=spec, deadline=timezone.now() + duration,
                                   schedule=schedule, **values)
        if not rnd.seed:
            rnd.seed = random.SystemRandom().randrange(1, 2 ** 62)
        pool = sorted(eligible_users(rnd.min_recordings).values_list("pk", flat=True))
        rnd.eligible_count = len(pool)
        chosen = random.Random(rnd.seed).sample(pool, min(rnd.clients_per_round, len(pool)))
        Assignment.objects.bulk_create([Assignment(round=rnd, user_id=uid) for uid in chosen])
        rnd.save(update_fields=["seed", "eligible_count"])
        if rnd.secure_aggregation:
            secagg.start(rnd)
    log.info("opened %s with %d of %d eligible clients", rnd, len(chosen), len(pool))
    return rnd


# --- tasks for phones --------------------------------------------------------------------------

def task_for(user) -> dict | None:
    """The open round this user was sampled for and has not answered yet, as the phone's task."""
    enrollment = Enrollment.objects.filter(user=user).first()
    if enrollment is None or not enrollment.opted_in:
        return None
    now = timezone.now()
    open_ones = (Assignment.objects.select_related("round", "round__model_version")
                 .filter(user=user, round__status=RoundStatus.OPEN).order_by("-round__created_at"))
    for assignment in open_ones[:20]:
        rnd = assignment.round
        if rnd.secure_aggregation:
            secure = secagg.task_part(rnd, assignment)
            if secure is not None:
                break
        elif rnd.deadline > now and not rnd.updates.filter(user=user).exists():
            secure = None
            break
    else:
        return None
    if assignment.fetched_at is None:
        Assignment.objects.filter(pk=assignment.pk).update(fetched_at=now)
    mv = rnd.model_version
    return {
        "round": rnd.pk,
        "model": {"version": mv.version, "model_set": mv.model_set, "sha256": mv.sha256,
                  "size_bytes": mv.size_bytes, "download_url": f"/api/v1/models/{mv.version}/download/"},
        "trainable": rnd.trainable,
        "hyperparameters": {"local_epochs": rnd.local_epochs, "learning_rate": rnd.learning_rate,
                            "batch_size": rnd.batch_size, "proximal_mu": rnd.proximal_mu},
        "strategy": parse_strategy(rnd.strategy).aggregator,
        "clip_norm": rnd.clip_norm,
        "quantisation": {"dtype": "int8", "scale": "per-tensor", "rounding": "stochastic"},
        "secure_aggregation": secure,
        "deadline": rnd.deadline.isoformat(),
        "epsilon_so_far": rnd.model_version.metrics.get("dp_epsilon") if isinstance(rnd.model_version.metrics, dict) else None,
    }


# --- updates -----------------------------------------------------------------------------------

def _number(data: dict, key: str, lo: float, hi: float, integer: bool = False) -> float:
    value = data.get(key)
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        raise ApiError("invalid", f"{key} must be {'an integer' if integer else 'a number'}.", fields={key: "invalid"})
    if not math.isfinite(value):
        raise ApiError("update_not_finite", f"{key} is NaN or infinite.", fields={key: "not_finite"})
    if not lo <= value <= hi:
        raise ApiError("invalid", f"{key} must be between {lo:g} and {hi:g}.", fields={key: "out_of_range"})
    return value


def _round_id(data: dict) -> int:
    value = data.get("round")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError("invalid", "round must be a positive integer.", fields={"round": "invalid"})
    return value


def submit_update(user, data: Any, request_bytes: int) -> tuple[ClientUpdate, bool]:
    """Validate and store one update; returns (update, quorum reached). Raises :class:`ApiError`."""
    if not isinstance(data, dict):
        raise ApiError("malformed_request", "The body must be a JSON object.")
    round_id = _round_id(data)
    n = int(_number(data, "n_examples", 1, 10_000_000, integer=True))
    loss = _number(data, "train_loss", 0.0, 1e6)
    val_error = _number(data, "val_error", 0.0, 1.0)
    version = data.get("model_version")
    if not isinstance(version, str) or not version:
        raise ApiError("invalid", "model_version must be a non-empty string.", fields={"model_version": "required"})
    with transaction.atomic():
        rnd = Round.objects.select_for_update().select_related("model_version").filter(pk=round_id).first()
        if rnd is None:
            raise ApiError("round_unknown", f"There is no round {round_id}.", status.HTTP_404_NOT_FOUND)
        if not Assignment.objects.filter(round=rnd, user=user).exists():
            raise ApiError("round_not_assigned", "This phone was not sampled for that round.", status.HTTP_403_FORBIDDEN)
        if ClientUpdate.objects.filter(round=rnd, user=user).exists():
            raise ApiError("update_duplicate", "This phone already sent its update for that round.",
                           status.HTTP_409_CONFLICT)
        if rnd.status != RoundStatus.OPEN or rnd.deadline <= timezone.now():
            raise ApiError("update_late", "The round is closed: the deadline passed or aggregation started.",
                           status.HTTP_409_CONFLICT)
        if version != rnd.model_version.version:
            raise ApiError("update_wrong_model_version",
                           f"The round trains {rnd.model_version.version}, the update was made on {version}.",
                           status.HTTP_409_CONFLICT, fields={"model_version": "mismatch"})
        if rnd.secure_aggregation:
            payload, _ = secagg.check_masked_update(rnd, user, data)
            norm, size, masked = None, len(payload), True
        else:
            payload, norm = _plain_update(rnd, data)
            size, masked = codec.payload_bytes(data["update"]), False
        try:
            with transaction.atomic():
                stored = ClientUpdate.objects.create(
                    round=rnd, user=user, n_examples=n, train_loss=loss, val_error=val_error, norm=norm,
                    masked=masked, payload=payload, payload_bytes=size, request_bytes=request_bytes)
        except IntegrityError:
            raise ApiError("update_duplicate", "This phone already sent its update for that round.",
                           status.HTTP_409_CONFLICT) from None
        if masked:
            secagg.advance(rnd)  # all of U2 in: on to unmasking (aggregation waits for the reveals)
            return stored, False
        quorum = ClientUpdate.objects.filter(round=rnd).count() >= rnd.quorum
    return stored, quorum


def _plain_update(rnd: Round, data: dict) -> tuple[bytes, float]:
    """(npz of the dequantised tensors, their norm) of a plain update; :class:`ApiError` when bad."""
    if "masked" in data:
        raise ApiError("update_malformed", "This round does not use secure aggregation: send `update`.",
                       fields={"masked": "unexpected"})
    shapes = {k: tuple(v) for k, v in rnd.trainable["tensors"].items()}
    try:
        update = codec.decode(data.get("update"), shapes)
    except codec.UpdateFormatError as exc:
        raise ApiError(exc.code, str(exc), fields={"update": exc.code}) from None
    norm = codec.l2_norm(update)
    if norm > rnd.clip_norm * (1 + codec.CLIP_SLACK):
        raise ApiError("update_norm_exceeds_clip",
                       f"The update's norm {norm:.4g} exceeds the round's clip norm {rnd.clip_norm:g}.",
                       fields={"update": "norm"})
    buf = io.BytesIO()
    np.savez(buf, **update)
    return buf.getvalue(), norm


def load_update(update: ClientUpdate) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(bytes(update.payload)), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
