"""Django admin: quests (with a map for the area polygon), badges, facts, teams, flags, the ledger (read-only)."""
from django.contrib.gis import admin

from server.common.admin_roles import AdminRoleMixin
from server.maps.area_widget import OfflineAreaWidget
from server.species.lookup import named_classes

from .models import (BadgeDefinition, Identification, PlayerBadge, PlayerFlag, PointEvent, Quest, QuestProgress,
                     SpeciesFact, Team, TeamMembership)


@admin.register(Quest)
class QuestAdmin(AdminRoleMixin, admin.GISModelAdmin):
    gis_widget = OfflineAreaWidget  # OpenLayers and the basemap from this server: drawable offline, under the CSP
    list_display = ("title", "slug", "mode", "starts_at", "ends_at", "target_count", "reward_points", "active")
    list_filter = ("mode", "active")
    search_fields = ("title", "slug")
    filter_horizontal = ("species",)
    prepopulated_fields = {"slug": ("title",)}

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "species":   # a quest targets species and city sounds, not higher taxa or soundscapes
            kwargs["queryset"] = named_classes()
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(QuestProgress)
class QuestProgressAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("quest", "player", "team", "count", "completed_at")
    list_filter = ("quest",)
    raw_id_fields = ("player",)


@admin.register(BadgeDefinition)
class BadgeAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("slug", "name", "metric", "threshold", "active")
    list_filter = ("metric", "active")


@admin.register(PlayerBadge)
class PlayerBadgeAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("player", "badge", "earned_at")
    raw_id_fields = ("player",)


@admin.register(SpeciesFact)
class SpeciesFactAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("species", "order", "text")
    list_filter = ("species",)


class MembershipInline(AdminRoleMixin, admin.TabularInline):
    model = TeamMembership
    raw_id_fields = ("player",)
    extra = 0


@admin.register(Team)
class TeamAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("name", "max_members", "created_at")
    inlines = [MembershipInline]


@admin.register(PlayerFlag)
class PlayerFlagAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("player", "reason", "observation", "resolved", "created_at")
    list_filter = ("reason", "resolved")
    raw_id_fields = ("player", "observation")


@admin.register(PointEvent)
class PointEventAdmin(AdminRoleMixin, admin.ModelAdmin):
    """The ledger is append-only: visible, never edited here."""

    list_display = ("player", "rule", "amount", "cause", "created_at")
    list_filter = ("rule",)
    search_fields = ("cause", "player__username")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Identification)
class IdentificationAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("observation", "identifier", "species", "kind", "created_at")
    raw_id_fields = ("observation", "identifier")
