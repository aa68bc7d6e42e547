from rest_framework import serializers

from .images import picture_url
from .models import NON_TAXON_RANKS, TAXON_RANKS, Species


class SpeciesSerializer(serializers.ModelSerializer):
    """A catalogue row. ``parent`` is the label of its nearest catalogued higher taxon (or null).
    ``image_url`` is the same-origin path of the species card's picture (null when there is none) and
    ``image_attribution`` its credit; pictures are uploaded in the admin only, so these are read-only."""

    parent = serializers.SlugRelatedField(slug_field="label", queryset=Species.objects.all(), required=False,
                                          allow_null=True)
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Species
        fields = ["id", "label", "kind", "rank", "parent", "common_name", "scientific_name", "description",
                  "sensitive", "conservation_status", "band_low_hz", "band_high_hz", "identifiable",
                  "image_url", "image_attribution", "image_licence", "image_source_url"]
        read_only_fields = ["image_attribution", "image_licence", "image_source_url"]

    def get_image_url(self, obj: Species) -> str | None:
        return picture_url(obj.image_name)

    def validate(self, attrs: dict) -> dict:
        """The catalogue's tree rules (catalogue.py): a non-taxon has no scientific name and no parent; a
        parent is a taxon ranked above its child."""
        merged = {f: getattr(self.instance, f) for f in ("rank", "parent", "scientific_name")} if self.instance else {}
        merged.update(attrs)
        rank, parent = merged.get("rank", "species"), merged.get("parent")
        if rank in NON_TAXON_RANKS and (merged.get("scientific_name") or parent):
            raise serializers.ValidationError({"rank": f"A {rank} is not a taxon: it has no scientific name and "
                                                       "no parent."}, code="not_a_taxon")
        if parent is not None and (parent.rank not in TAXON_RANKS or rank not in TAXON_RANKS
                                   or TAXON_RANKS.index(parent.rank) <= TAXON_RANKS.index(rank)):
            raise serializers.ValidationError({"parent": "The parent must be a taxon ranked above this one."},
                                              code="bad_parent")
        return attrs
