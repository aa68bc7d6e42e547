"""Response shapes of the soundscape API (for the OpenAPI schema)."""
from rest_framework import serializers


class ClipRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="Download once; immutable (ETag = sha256).")
    sha256 = serializers.CharField()


class SourceSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id of the source (species + ~55 m grid square).")
    lat = serializers.FloatField(help_text="Public position (obscured for sensitive species).")
    lng = serializers.FloatField()
    species = serializers.CharField()
    count = serializers.IntegerField(help_text="Observations merged into this source.")
    clip = ClipRefSerializer(allow_null=True)
    gain = serializers.FloatField(help_text="Base gain hint (0.5–1, grows with count).")
    rate = serializers.FloatField(help_text="Playback-rate hint (1–1.5, grows with count).")


class CellSpecSerializer(serializers.Serializer):
    cell = serializers.CharField(help_text="H3 index, resolution 8.")
    etag = serializers.CharField()
    window = serializers.CharField(help_text="'live' (last 24 h) or a UTC day YYYY-MM-DD.")
    built_at = serializers.DateTimeField(allow_null=True)
    sources = SourceSerializer(many=True)


class SoundscapeSerializer(serializers.Serializer):
    window = serializers.CharField()
    radius_m = serializers.FloatField()
    cells = CellSpecSerializer(many=True)
