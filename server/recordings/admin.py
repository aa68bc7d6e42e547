from django.contrib.gis import admin

from .models import Recording


@admin.register(Recording)
class RecordingAdmin(admin.GISModelAdmin):
    list_display = ("id", "owner", "status", "reject_code", "claimed_species", "recorded_at", "created_at")
    list_filter = ("status", "reject_code", "speech_muted")
    search_fields = ("id", "owner__username", "idempotency_key", "audio_sha256")
    raw_id_fields = ("owner", "duplicate_of", "claimed_species")
    readonly_fields = ("audio_sha256", "audio_path", "pcm_digest", "analysis", "analysis_attempts")
