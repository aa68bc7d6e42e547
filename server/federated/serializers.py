"""Shapes of the federated API (documentation and the researchers' round view)."""
from __future__ import annotations

from rest_framework import serializers

from .models import Round


class EnrollmentSerializer(serializers.Serializer):
    opted_in = serializers.BooleanField()


class TaskResponseSerializer(serializers.Serializer):
    task = serializers.JSONField(allow_null=True, help_text="The round task, or null when there is none.")
    reason = serializers.CharField(required=False)


class TensorSerializer(serializers.Serializer):
    shape = serializers.ListField(child=serializers.IntegerField())
    scale = serializers.FloatField(help_text="Per-tensor scale: value = scale * q.")
    q = serializers.CharField(help_text="base64 of the int8 values (C order).")


class UpdateRequestSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    model_version = serializers.CharField()
    n_examples = serializers.IntegerField(min_value=1)
    train_loss = serializers.FloatField()
    val_error = serializers.FloatField(min_value=0, max_value=1)
    update = serializers.DictField(child=TensorSerializer(), required=False,
                                   help_text="Delta of the trainable tensors (rounds without secure aggregation).")
    masked = serializers.CharField(required=False, help_text="Secure aggregation only: base64 of the masked ring "
                                   "vector (uint8 or little-endian uint16 per parameter, tensors in sorted order).")


class UpdateResponseSerializer(serializers.Serializer):
    accepted = serializers.BooleanField()
    round = serializers.IntegerField()
    norm = serializers.FloatField(allow_null=True, help_text="null for masked updates (the server cannot see it).")
    payload_bytes = serializers.IntegerField()


class RoundSerializer(serializers.ModelSerializer):
    model_version = serializers.CharField(source="model_version.version")
    result_version = serializers.CharField(source="result_version.version", allow_null=True, default=None)
    participants = serializers.IntegerField(read_only=True)

    class Meta:
        model = Round
        fields = ["id", "status", "model_version", "result_version", "promoted", "trainable", "local_epochs",
                  "learning_rate", "batch_size", "proximal_mu", "strategy", "clip_norm", "dp_delta", "epsilon",
                  "clients_per_round", "eligible_count", "quorum", "deadline", "secure_aggregation", "secagg_phase",
                  "participants", "metrics",
                  "error", "created_at", "closed_at"]


class SecAggKeysSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    c_pk = serializers.CharField(help_text="base64 X25519 public key for the share channel (32 bytes).")
    s_pk = serializers.CharField(help_text="base64 X25519 public key for pairwise masks (32 bytes).")


class SecAggSharesSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    shares = serializers.DictField(child=serializers.CharField(),
                                   help_text="{peer client id: base64 AES-GCM ciphertext of its Shamir shares}.")


class RevealedShareSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["b", "s"], help_text="b: self-mask seed (survivor); s: mask key (dropped).")
    share = serializers.CharField(help_text="base64 of the 66-byte share.")


class SecAggRevealSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    shares = serializers.DictField(child=RevealedShareSerializer())


class SecAggAckSerializer(serializers.Serializer):
    accepted = serializers.BooleanField()
    round = serializers.IntegerField()
    phase = serializers.CharField(help_text="The round's secure-aggregation phase after this message.")
