"""The model version as phones and admins see it."""
from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from .models import ModelVersion


class ModelVersionSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    parent = serializers.SlugRelatedField(slug_field="version", read_only=True, allow_null=True)  # shipped: none

    class Meta:
        model = ModelVersion
        fields = ["version", "model_set", "sha256", "size_bytes", "download_url", "architecture", "labels",
                  "metrics", "source", "parent", "is_current", "created_at", "promoted_at"]

    def get_download_url(self, obj: ModelVersion) -> str:
        url = reverse("model-download", kwargs={"version": obj.version})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url
