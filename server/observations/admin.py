from django.contrib.gis import admin

from .models import Observation


@admin.register(Observation)
class ObservationAdmin(admin.GISModelAdmin):
    list_display = ("id", "species", "observed_at", "status", "confidence", "source", "obscured")
    list_filter = ("status", "kind_conflict", "source", "obscured", "species__kind")
    search_fields = ("species__common_name", "recordist", "locality", "source_id")
    raw_id_fields = ("recording", "observer")
    date_hierarchy = "observed_at"
