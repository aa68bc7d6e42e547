"""Admins see every model version, its metrics and lineage, and can promote one."""
from django.contrib import admin, messages

from . import services
from .models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "is_current", "source", "architecture", "size_bytes", "created_at"]
    list_filter = ["source", "is_current"]
    search_fields = ["version", "sha256"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["promote_selected"]

    def has_add_permission(self, request) -> bool:
        return False  # versions come from training, federated rounds or `manage.py register_model`

    @admin.action(description="Promote to current")
    def promote_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version: there is one current model.", messages.ERROR)
            return
        mv = services.promote(queryset.get())
        self.message_user(request, f"Promoted {mv.version}.")
