"""Request bodies of the game API (responses are plain dicts documented inline)."""
from __future__ import annotations

from rest_framework import serializers


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
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    accuracy_m = serializers.FloatField(min_value=0.1, max_value=5000, required=False, default=20.0)


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
