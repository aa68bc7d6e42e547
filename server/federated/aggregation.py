"""Aggregate one round: strategy → optional server step → validation → register → promote.

Deterministic for a given round (its seed fixes DP noise and any randomness), so a task
re-run after a crash produces the very same model file, which the registry deduplicates by
sha256; the round is finished in one transaction together with the server state.
"""
from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

import numpy as np
from django.db import transaction
from django.utils import timezone

from ml.federated import dp
from ml.federated.embedding import head_of, save_classifier, with_head
from ml.federated.strategy import ClientUpdate as Update
from ml.federated.strategy import aggregate, aggregate_sum, parse_strategy
from ml.runtime.federated.secagg import SecAggError
from ml.runtime.federated.trainer import LocalHyper, train_head
from server.modelregistry import services as registry

from . import evaluation, secagg
from .models import Round, RoundStatus, ServerState
from .services import load_model, load_update

log = logging.getLogger(__name__)
FINAL = (RoundStatus.DONE, RoundStatus.FAILED, RoundStatus.CANCELLED)


def _state_arrays(blob: bytes) -> dict[str, np.ndarray]:
    if not blob:
        return {}
    with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _state_blob(state: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **state)
    return buf.getvalue()


def claim(round_id: int) -> Round | None:
    """Mark the round as aggregating; None when it is unknown or already final."""
    with transaction.atomic():
        rnd = Round.objects.select_for_update().filter(pk=round_id).first()
        if rnd is None or rnd.status in FINAL:
            return None
        if rnd.status == RoundStatus.OPEN:
            rnd.status = RoundStatus.AGGREGATING
            rnd.save(update_fields=["status"])
        return rnd


def fail(rnd: Round, message: str, metrics: dict) -> str:
    Round.objects.filter(pk=rnd.pk).update(status=RoundStatus.FAILED, error=message, metrics=metrics,
                                           closed_at=timezone.now())
    return "failed"


def aggregate_round(round_id: int) -> str:
    rnd = claim(round_id)
    if rnd is None:
        return "skipped"
    rows = list(rnd.updates.order_by("user_id"))
    assigned = rnd.assignments.count()
    float_bytes = 4 * int(rnd.trainable.get("parameters", 0))
    metrics = {
        "assigned": assigned, "participants": len(rows), "dropouts": assigned - len(rows),
        "fetched": rnd.assignments.exclude(fetched_at=None).count(),
        "payload_bytes_total": sum(r.payload_bytes for r in rows),
        "request_bytes_total": sum(r.request_bytes for r in rows),
        "payload_bytes_per_client": (sum(r.payload_bytes for r in rows) / len(rows)) if rows else None,
        "float32_bytes_per_client": float_bytes,
        "mean_train_loss": float(np.mean([r.train_loss for r in rows])) if rows else None,
        "mean_val_error": float(np.mean([r.val_error for r in rows])) if rows else None,
    }
    if not rows:
        return fail(rnd, "No client sent an update before the deadline.", metrics)
    strategy = parse_strategy(rnd.strategy)
    base = load_model(rnd.model_version)
    global_head = head_of(base)
    state_row, _ = ServerState.objects.get_or_create(model_set=rnd.model_version.model_set)
    rng = np.random.default_rng([rnd.seed, rnd.pk])
    holdout_path = evaluation.manifest_path("holdout")
    holdout = evaluation.embedded_set(base, holdout_path) if holdout_path else None
    validation = evaluation.embedded_set(base, evaluation.manifest_path("validation"))
    proxy = holdout.windows()[0] if holdout and holdout.files else validation.windows()[0]
    try:
        if rnd.secure_aggregation:
            total, facts = secagg.secure_sum(rnd)
            metrics["secure_aggregation"] = facts
            new_head, new_state, info = aggregate_sum(
                global_head, total * facts["scale"], len(facts["survivors"]), strategy, clip_norm=rnd.clip_norm,
                rng=rng, state=_state_arrays(state_row.optimiser), expected_clients=rnd.clients_per_round)
        else:
            updates = [Update(load_update(r), r.n_examples, r.train_loss, r.val_error) for r in rows]
            new_head, new_state, info = aggregate(
                global_head, updates, strategy, clip_norm=rnd.clip_norm, rng=rng,
                state=_state_arrays(state_row.optimiser), proxy_x=proxy if len(proxy) else None,
                expected_clients=rnd.clients_per_round)
    except (ValueError, SecAggError) as exc:
        return fail(rnd, f"Aggregation failed: {exc}", metrics)
    metrics["aggregation"] = info
    if rnd.server_steps and holdout and holdout.files:
        x, y = holdout.windows()
        step = train_head(new_head, x, y, LocalHyper(epochs=int(rnd.server_steps), lr=rnd.learning_rate,
                                                     batch_size=rnd.batch_size), rng)
        new_head = {k: new_head[k] + step.delta[k] for k in new_head}
        metrics["server_step"] = {"epochs": rnd.server_steps, "loss": step.loss}
    temperature = float(getattr(base, "temperature", 1.0))
    acc_new = evaluation.file_accuracy(new_head, validation, temperature)
    current = registry.current_version()
    if current is None or current.pk == rnd.model_version.pk:
        acc_current = evaluation.file_accuracy(global_head, validation, temperature)
    else:
        cur_clf = load_model(current)
        acc_current = evaluation.file_accuracy(head_of(cur_clf), evaluation.embedded_set(
            cur_clf, evaluation.manifest_path("validation")), temperature)
    metrics.update({"val_accuracy": acc_new, "current_val_accuracy": acc_current,
                    "val_files": len(validation.files)})
    sigma = float(strategy.privacy.noise_multiplier)
    events = list(state_row.privacy_events or [])
    epsilon = None
    if sigma > 0:
        events.append([min(1.0, rnd.clients_per_round / max(1, rnd.eligible_count)), sigma])
        ledger = dp.PrivacyLedger(rnd.dp_delta)
        for q, s in events:
            ledger.record_round(q, s)
        epsilon = ledger.epsilon()
        metrics["dp"] = {"epsilon": epsilon, "delta": rnd.dp_delta, "noise_multiplier": sigma, "rounds": len(events)}
    version = f"{rnd.model_version.version}+fl{rnd.pk}"
    new_clf = with_head(base, new_head, version)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_classifier(new_clf, Path(tmp) / "model.npz")
        promote = acc_new is not None and acc_current is not None and acc_new >= acc_current - rnd.promote_tolerance
        with transaction.atomic():
            locked = Round.objects.select_for_update().get(pk=rnd.pk)
            if locked.status in FINAL:
                return "skipped"
            mv = registry.register_federated_result(
                path, rnd.model_version, metrics={"fl_round": rnd.pk, "val_accuracy": acc_new, "dp_epsilon": epsilon})
            if promote:
                registry.promote(mv)
            ServerState.objects.filter(pk=state_row.pk).update(optimiser=_state_blob(new_state),
                                                               privacy_events=events)
            metrics["promoted"] = promote
            Round.objects.filter(pk=rnd.pk).update(status=RoundStatus.DONE, result_version=mv, promoted=promote,
                                                   epsilon=epsilon, metrics=metrics, closed_at=timezone.now())
    log.info("round %s: %d updates, accuracy %.3f vs %.3f, promoted=%s", rnd.pk, len(rows),
             acc_new or 0, acc_current or 0, promote)
    return "promoted" if promote else "kept"
