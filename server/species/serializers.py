from rest_framework import serializers

from .models import Species


class SpeciesSerializer(serializers.ModelSerializer):
    class Meta:
        model = Species
        fields = ["id", "label", "kind", "common_name", "scientific_name", "description", "sensitive",
                  "conservation_status", "band_low_hz", "band_high_hz", "identifiable"]
