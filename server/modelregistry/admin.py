"""Admins see every model version, its metrics and lineage, and can promote one."""
from django.contrib import admin, messages

from . import services
from .models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "model_set", "is_current", "source", "architecture", "size_bytes", "created_at"]
    list_filter = ["model_set", "source", "is_current"]
    search_fields = ["version", "sha256"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["promote_selected"]

    def has_add_permission(self, request) -> bool:
        return False  # versions come from training, federated rounds or `manage.py register_model`

    @admin.action(description="Promote to current (one per model set)")
    def promote_selected(self, request, queryset):
        if queryset.values("model_set").distinct().count() != queryset.count():
            self.message_user(request, "Select at most one version per model set.", messages.ERROR)
            return
        for mv in queryset:
            services.promote(mv)
        self.message_user(request, f"Promoted {queryset.count()} version(s).")
