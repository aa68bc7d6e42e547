"""The catalogue: species, higher taxa (genus, family, order, class, kingdom), city-sound classes and
soundscapes, each a row the game can name.

Every organism row has a taxonomic ``rank`` and may point to its nearest catalogued higher taxon
(``parent``); a city-sound class or a soundscape is not a taxon (:data:`NON_TAXON_RANKS`) and has no
scientific name. "Species" in the API means the named classes a player can target: species-rank taxa and
city-sound classes (:meth:`SpeciesQuerySet.named_classes`).
"""
from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    BIRD = "bird", "Bird"
    AMPHIBIAN = "amphibian", "Amphibian"
    URBAN = "urban", "Urban sound"
    OTHER = "other", "Other"


class Rank(models.TextChoices):
    SPECIES = "species", "Species"
    GENUS = "genus", "Genus"
    FAMILY = "family", "Family"
    ORDER = "order", "Order"
    CLASS = "class", "Class"
    KINGDOM = "kingdom", "Kingdom"
    SOUND_CLASS = "sound_class", "City-sound class (not a taxon)"
    SOUNDSCAPE = "soundscape", "Soundscape (no single source; not a taxon)"


# taxonomic ranks from the lowest up; an identification at a rank above species is never research grade
TAXON_RANKS: tuple[str, ...] = (Rank.SPECIES, Rank.GENUS, Rank.FAMILY, Rank.ORDER, Rank.CLASS, Rank.KINGDOM)
NON_TAXON_RANKS: tuple[str, ...] = (Rank.SOUND_CLASS, Rank.SOUNDSCAPE)
NAMED_CLASS_RANKS: tuple[str, ...] = (Rank.SPECIES, Rank.SOUND_CLASS)


class SpeciesQuerySet(models.QuerySet):
    def taxa(self) -> "SpeciesQuerySet":
        """Organisms at any rank (what an identification or a Darwin Core record may name)."""
        return self.filter(rank__in=TAXON_RANKS)

    def named_classes(self) -> "SpeciesQuerySet":
        """Species-rank taxa and city-sound classes: the species list, the phone's pack, map filters and
        quests. Higher taxa, "identity unknown" and soundscapes are not among them."""
        return self.filter(rank__in=NAMED_CLASS_RANKS)


class Species(models.Model):
    """A class the game knows. ``label`` is the exact string classifiers and manifests use."""

    label = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BIRD)
    rank = models.CharField(max_length=16, choices=Rank.choices, default=Rank.SPECIES, db_index=True,
                            help_text="Taxonomic rank, or what kind of non-taxon the row names.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               help_text="The nearest catalogued higher taxon (a genus, family, class ...).")
    common_name = models.CharField(max_length=120)
    scientific_name = models.CharField(max_length=160, blank=True, db_index=True)
    description = models.TextField(blank=True)
    sensitive = models.BooleanField(default=False, help_text="Endangered: positions are obscured for the public.")
    conservation_status = models.CharField(max_length=8, blank=True)
    band_low_hz = models.FloatField(null=True, blank=True)
    band_high_hz = models.FloatField(null=True, blank=True)
    identifiable = models.BooleanField(default=True, help_text="Players may claim it when submitting a recording.")
    source = models.CharField(max_length=40, default="catalogue")
    # the species card's picture (uploaded in the admin, cleaned by species.images): its stored name,
    # empty when there is none, and who made it under which terms
    image_name = models.CharField(max_length=120, blank=True, editable=False,
                                  help_text="The picture's name in the file store (species/images/...).")
    image_attribution = models.CharField(max_length=200, blank=True,
                                         help_text="Credit shown under the picture, e.g. 'Photo: A. Birder'.")
    image_licence = models.CharField(max_length=60, blank=True, help_text="The picture's licence, e.g. CC BY 4.0.")
    image_source_url = models.URLField(max_length=300, blank=True, help_text="Where the picture comes from.")

    objects = SpeciesQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "common_name"]
        verbose_name_plural = "species"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(band_low_hz__isnull=True) | models.Q(band_high_hz__gt=models.F("band_low_hz")),
                name="species_band_ordered"),
            # a non-taxon has no scientific name (so no export can name it) and no place in the tree
            models.CheckConstraint(
                condition=~models.Q(rank__in=NON_TAXON_RANKS) | (models.Q(scientific_name="")
                                                                 & models.Q(parent__isnull=True)),
                name="species_non_taxon_unnamed"),
            # a picture is never shown without its credit
            models.CheckConstraint(condition=models.Q(image_name="") | ~models.Q(image_attribution=""),
                                   name="species_image_attributed"),
        ]

    def __str__(self) -> str:
        return self.common_name

    @property
    def is_taxon(self) -> bool:
        return self.rank in TAXON_RANKS

    @property
    def band(self) -> tuple[float, float] | None:
        if self.band_low_hz is None or self.band_high_hz is None:
            return None
        return (self.band_low_hz, self.band_high_hz)
