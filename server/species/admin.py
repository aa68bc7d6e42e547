from django.contrib import admin

from .models import Species


@admin.register(Species)
class SpeciesAdmin(admin.ModelAdmin):
    list_display = ("common_name", "scientific_name", "rank", "kind", "parent", "sensitive", "identifiable")
    list_filter = ("rank", "kind", "sensitive", "identifiable")
    search_fields = ("common_name", "scientific_name", "label")
    autocomplete_fields = ("parent",)
