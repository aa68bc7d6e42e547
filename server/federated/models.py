"""Federated rounds: who was asked, what they sent, what came out.

A :class:`Round` fine-tunes the head of one registered model version. At opening, K of the M
eligible players (opted in, with enough server-validated recordings) are sampled
(:class:`Assignment`). Each sampled phone submits at most one :class:`ClientUpdate`; rejected
updates are never stored. The aggregation task turns the stored updates into a new model
version and fills in the round's metrics.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class RoundStatus(models.TextChoices):
    OPEN = "open", "Open (collecting updates)"
    AGGREGATING = "aggregating", "Aggregating"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Enrollment(models.Model):
    """A player's consent to train on their phone (opt-in, revocable)."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fl_enrollment")
    opted_in = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} ({'in' if self.opted_in else 'out'})"


class Round(models.Model):
    model_version = models.ForeignKey("modelregistry.ModelVersion", on_delete=models.PROTECT, related_name="fl_rounds")
    trainable = models.JSONField(default=dict, help_text="Trainable part: {part, tensors: {name: shape}}.")
    # hyperparameters of local training
    local_epochs = models.PositiveSmallIntegerField(default=5)
    learning_rate = models.FloatField(default=0.05)
    batch_size = models.PositiveIntegerField(default=32)
    proximal_mu = models.FloatField(default=0.0)
    strategy = models.JSONField(default=dict, blank=True, help_text="See ml.federated.strategy.DEFAULT_STRATEGY.")
    clip_norm = models.FloatField(default=1.0)
    dp_delta = models.FloatField(default=1e-5)
    clients_per_round = models.PositiveIntegerField(default=10, help_text="K: clients sampled.")
    min_recordings = models.PositiveIntegerField(default=3)
    quorum = models.PositiveIntegerField(default=5)
    deadline = models.DateTimeField()
    server_steps = models.PositiveSmallIntegerField(default=0, help_text="Epochs of one server step on held-out data.")
    promote_tolerance = models.FloatField(default=0.0, help_text="Promote if accuracy >= current - tolerance.")
    seed = models.BigIntegerField(default=0)
    secure_aggregation = models.JSONField(default=dict, blank=True,
                                          help_text="{} = off; else {threshold, bits, coord_bound, phase_seconds} "
                                                    "(see server.federated.secagg).")
    secagg_phase = models.CharField(max_length=8, blank=True, default="",
                                    help_text="keys → shares → input → unmask (secure aggregation only).")
    phase_deadline = models.DateTimeField(null=True, blank=True, help_text="End of the current secure-aggregation phase.")
    # outcome
    status = models.CharField(max_length=16, choices=RoundStatus.choices, default=RoundStatus.OPEN, db_index=True)
    eligible_count = models.PositiveIntegerField(default=0, help_text="M: eligible clients at opening.")
    result_version = models.ForeignKey("modelregistry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="fl_results")
    promoted = models.BooleanField(default=False)
    epsilon = models.FloatField(null=True, blank=True, help_text="(ε, δ) spent by this model lineage so far.")
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    schedule = models.ForeignKey("federated.RoundSchedule", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"round {self.pk} on {self.model_version.version} ({self.status})"


class Assignment(models.Model):
    """One sampled client of a round."""
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fl_assignments")
    fetched_at = models.DateTimeField(null=True, blank=True)
    # secure aggregation: what the server relays (public keys, encrypted shares) and the revealed shares
    secagg_id = models.PositiveIntegerField(null=True, blank=True, help_text="Client id in the protocol (1..K).")
    public_keys = models.JSONField(null=True, blank=True, help_text="{c_pk, s_pk} base64 (X25519).")
    share_blobs = models.JSONField(null=True, blank=True, help_text="{recipient id: base64 AES-GCM ciphertext}.")
    revealed = models.JSONField(null=True, blank=True, help_text="{peer id: {kind, share}} for the unmask step.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "user"], name="one_assignment_per_round_user")]


class ClientUpdate(models.Model):
    """An accepted update: dequantised float32 tensors in an ``.npz`` blob or, with secure
    aggregation, the masked ring vector exactly as sent (the server never sees the update)."""
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="updates")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fl_updates")
    n_examples = models.PositiveIntegerField()
    train_loss = models.FloatField()
    val_error = models.FloatField()
    norm = models.FloatField(null=True, blank=True, help_text="Unknown (null) for masked updates.")
    masked = models.BooleanField(default=False)
    payload = models.BinaryField()
    payload_bytes = models.PositiveIntegerField(help_text="int8 values + per-tensor scales.")
    request_bytes = models.PositiveIntegerField(help_text="HTTP body size.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "user"], name="one_update_per_round_user")]


class RoundSchedule(models.Model):
    """A recurring round on the current field model, opened by Celery beat: when none of its rounds is
    open and ``every`` has passed."""
    name = models.CharField(max_length=80, unique=True)
    enabled = models.BooleanField(default=True)
    every_minutes = models.PositiveIntegerField(default=24 * 60)
    duration_minutes = models.PositiveIntegerField(default=60)
    settings = models.JSONField(default=dict, blank=True, help_text="Round fields (strategy, K, quorum, ...).")
    last_opened_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ServerState(models.Model):
    """Persistent server-optimiser state and privacy ledger of a model set (npz blob + JSON); since
    issue 25 there is one set, ``field`` (``modelregistry.models.ModelSet``)."""
    model_set = models.CharField(max_length=16, unique=True)
    optimiser = models.BinaryField(default=b"")
    privacy_events = models.JSONField(default=list, blank=True, help_text="[[sampling_rate, noise_multiplier], ...]")
