"""The catalogue in the admin. A species' picture is uploaded here: the form checks and re-encodes it
(:mod:`server.species.images`) before anything is stored, and a picture needs its credit."""
from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils.html import format_html

from server.common.admin_roles import AdminRoleMixin

from .images import MAX_UPLOAD_BYTES, PictureRejected, clean_picture, drop_if_unused, picture_url, store_picture
from .models import Species


class SpeciesAdminForm(forms.ModelForm):
    picture = forms.FileField(required=False, help_text="PNG or JPEG, at most 8 MB and 8000 pixels a side. It is "
                              "re-encoded (at most 1024 pixels a side) and its metadata, GPS included, dropped.")
    remove_picture = forms.BooleanField(required=False, help_text="Remove the current picture.")
    image_source_url = forms.URLField(required=False, max_length=300, assume_scheme="https",
                                      help_text="Where the picture comes from.")

    class Meta:
        model = Species
        fields = "__all__"

    def clean_picture(self):
        upload = self.cleaned_data.get("picture")
        if not upload:
            return None
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The picture is over 8 MB.", code="picture_too_large")
        try:
            return clean_picture(upload.read(MAX_UPLOAD_BYTES + 1))
        except PictureRejected as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None

    def clean(self):
        data = super().clean()
        keeps_old = bool(self.instance.image_name) and not data.get("remove_picture")
        if (data.get("picture") or keeps_old) and not (data.get("image_attribution") or "").strip():
            self.add_error("image_attribution", forms.ValidationError(
                "A picture needs its credit (who made it, and the licence).", code="picture_unattributed"))
        return data


@admin.register(Species)
class SpeciesAdmin(AdminRoleMixin, admin.ModelAdmin):
    form = SpeciesAdminForm
    list_display = ("common_name", "scientific_name", "rank", "kind", "parent", "sensitive", "identifiable",
                    "has_picture")
    list_filter = ("rank", "kind", "sensitive", "identifiable")
    search_fields = ("common_name", "scientific_name", "label")
    autocomplete_fields = ("parent",)
    readonly_fields = ("current_picture",)

    @admin.display(boolean=True, description="picture")
    def has_picture(self, obj: Species) -> bool:
        return bool(obj.image_name)

    @admin.display(description="current picture")
    def current_picture(self, obj: Species) -> str:
        url = picture_url(obj.image_name)
        if not url:
            return "none (the phone shows a sonogram card)"
        return format_html('<img src="{}" alt="" style="max-width:240px;max-height:240px">', url)

    def save_model(self, request, obj: Species, form: SpeciesAdminForm, change: bool) -> None:
        old = obj.image_name if change else ""
        picture = form.cleaned_data.get("picture")
        if picture is not None:
            obj.image_name = store_picture(picture)
        elif form.cleaned_data.get("remove_picture"):
            obj.image_name = ""
        super().save_model(request, obj, form, change)
        if old and old != obj.image_name:
            transaction.on_commit(lambda: drop_if_unused(old))
