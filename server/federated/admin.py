"""Admins create, watch and close rounds; schedules open them from beat."""
from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from .models import Assignment, ClientUpdate, Enrollment, Round, RoundSchedule, ServerState
from .tasks import aggregate_round


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0
    fields = ("user", "fetched_at", "secagg_id", "public_keys")
    readonly_fields = fields
    can_delete = False


class UpdateInline(admin.TabularInline):
    model = ClientUpdate
    extra = 0
    fields = ("user", "n_examples", "train_loss", "val_error", "norm", "masked", "payload_bytes", "received_at")
    readonly_fields = fields
    can_delete = False


class RoundForm(forms.ModelForm):
    class Meta:
        model = Round
        fields = "__all__"

    def clean(self):
        data = super().clean()
        from .services import validate_round_settings

        try:
            validate_round_settings({k: data[k] for k in ("strategy", "clients_per_round", "quorum", "clip_norm",
                                                          "dp_delta", "secure_aggregation") if k in data})
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    form = RoundForm
    list_display = ("id", "model_version", "status", "strategy_name", "eligible_count", "clients_per_round",
                    "n_updates", "quorum", "deadline", "secagg_phase", "epsilon", "val_accuracy", "promoted",
                    "result_version")
    list_filter = ("status", "promoted")
    readonly_fields = ("status", "eligible_count", "result_version", "promoted", "epsilon", "metrics", "error",
                       "created_at", "closed_at", "trainable", "secagg_phase", "phase_deadline")
    inlines = [AssignmentInline, UpdateInline]
    actions = ["aggregate_now"]

    def strategy_name(self, obj):
        return (obj.strategy or {}).get("aggregator", "mean")

    def n_updates(self, obj):
        return obj.updates.count()

    def val_accuracy(self, obj):
        return (obj.metrics or {}).get("val_accuracy")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        from .services import open_round

        values = {f: getattr(obj, f) for f in ("local_epochs", "learning_rate", "batch_size", "proximal_mu",
                                               "strategy", "clip_norm", "dp_delta", "clients_per_round",
                                               "min_recordings", "quorum", "server_steps", "promote_tolerance",
                                               "secure_aggregation")}
        created = open_round(model_version=obj.model_version,
                             duration=max(obj.deadline - timezone.now(), timedelta(minutes=1)), **values)
        obj.pk = created.pk
        messages.info(request, f"Opened round {created.pk}: {created.assignments.count()} of "
                               f"{created.eligible_count} eligible clients sampled.")

    @admin.action(description="Aggregate now (quorum or not)")
    def aggregate_now(self, request, queryset):
        for rnd in queryset:
            aggregate_round.delay(rnd.pk)


admin.site.register(Enrollment)
admin.site.register(RoundSchedule)
admin.site.register(ServerState)
