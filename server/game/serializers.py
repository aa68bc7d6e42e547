"""Request bodies of the game API (responses are plain dicts documented inline)."""
from __future__ import annotations

from rest_framework import serializers

from server.common.strict_fields import StrictFloatField


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    max_members = serializers.IntegerField(required=False, default=8)


class AnswerSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=24)
    choice = serializers.CharField(max_length=120)


class HuntSerializer(serializers.Serializer):
    species = serializers.CharField(max_length=120)
    minutes = serializers.IntegerField(required=False, default=60)


class PositionSerializer(serializers.Serializer):
    """A position as JSON numbers: ``true`` or ``"18.3"`` is refused (``invalid_coordinates``,
    ``invalid_accuracy``), never read as 1.0 or 18.3."""

    lat = StrictFloatField(min_value=-90, max_value=90, type_code="invalid_coordinates")
    lng = StrictFloatField(min_value=-180, max_value=180, type_code="invalid_coordinates")
    accuracy_m = StrictFloatField(min_value=0.1, max_value=5000, required=False, default=20.0,
                                  type_code="invalid_accuracy")


class AdoptSerializer(PositionSerializer):
    species = serializers.CharField(max_length=120)


class CheckinSerializer(serializers.Serializer):
    observation = serializers.IntegerField(min_value=1)


class IdentificationSerializer(serializers.Serializer):
    species = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=["agree", "suggest"])


class QualityVoteSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=["date", "location", "wild", "audible"])
    agrees = serializers.BooleanField()


class ReviewLabelSerializer(serializers.Serializer):
    observation = serializers.IntegerField(min_value=1)
    species = serializers.CharField(max_length=120)
    propagate = serializers.BooleanField(required=False, default=False)


class ContributeSerializer(serializers.Serializer):
    observation = serializers.IntegerField(min_value=1)
