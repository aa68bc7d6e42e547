"""Load the species catalogue from a JSON file (fixtures/species.json) into the database.

Each entry names a row: ``label``, ``kind``, ``common_name`` and, optionally, ``rank`` (default
``species``), ``parent`` (the label of the nearest catalogued higher taxon, in the file or already in the
database), ``scientific_name``, ``description``, ``sensitive``, ``conservation_status``, ``band_hz`` and
``identifiable`` (default: true for species and city-sound classes, false for higher taxa and
non-taxa). The whole file is checked before anything is written: a parent must rank strictly above its
child and the tree has no cycle; a non-taxon (city-sound class, soundscape) has neither a scientific name
nor a parent.
"""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .models import NAMED_CLASS_RANKS, NON_TAXON_RANKS, TAXON_RANKS, Kind, Rank, Species

DEFAULT_CATALOGUE = Path(settings.BASE_DIR) / "fixtures" / "species.json"
REQUIRED = ("label", "kind", "common_name")


class CatalogueError(ValueError):
    pass


def parse_entry(raw: object, index: int) -> dict:
    """Validate one catalogue entry and map it onto Species fields (``parent`` stays a label)."""
    if not isinstance(raw, dict):
        raise CatalogueError(f"entry {index}: not an object")
    missing = [k for k in REQUIRED if not str(raw.get(k, "")).strip()]
    if missing:
        raise CatalogueError(f"entry {index}: missing {', '.join(missing)}")
    if raw["kind"] not in Kind.values:
        raise CatalogueError(f"entry {index}: kind must be one of {Kind.values}")
    rank = raw.get("rank", Rank.SPECIES)
    if rank not in Rank.values:
        raise CatalogueError(f"entry {index}: rank must be one of {Rank.values}")
    band = raw.get("band_hz") or [None, None]
    if len(band) != 2 or (band[0] is not None and not 0 <= float(band[0]) < float(band[1]) <= 96_000):
        raise CatalogueError(f"entry {index}: band_hz must be [low, high] with 0 <= low < high")
    scientific = str(raw.get("scientific_name", "")).strip()
    parent = str(raw.get("parent") or "").strip()
    if rank in NON_TAXON_RANKS and (scientific or parent):
        raise CatalogueError(f"entry {index}: a {rank} is not a taxon: no scientific_name, no parent")
    if rank in TAXON_RANKS and rank != Rank.SPECIES and not scientific:
        raise CatalogueError(f"entry {index}: a {rank} needs its scientific_name")
    identifiable = raw.get("identifiable", rank in NAMED_CLASS_RANKS)
    if not isinstance(identifiable, bool):
        raise CatalogueError(f"entry {index}: identifiable must be true or false")
    return {
        "kind": raw["kind"],
        "rank": rank,
        "parent": parent,
        "common_name": str(raw["common_name"]).strip(),
        "scientific_name": scientific,
        "description": str(raw.get("description", "")).strip(),
        "sensitive": bool(raw.get("sensitive", False)),
        "conservation_status": str(raw.get("conservation_status", "")).strip(),
        "band_low_hz": band[0],
        "band_high_hz": band[1],
        "identifiable": identifiable,
        "source": "catalogue",
    }


def check_tree(entries: dict[str, dict], known_ranks: dict[str, str]) -> None:
    """Every parent exists (in ``entries`` or ``known_ranks``: label -> rank of rows already stored) and
    ranks strictly above its child; following parents never loops (strict ranks guarantee it)."""
    for label, fields in entries.items():
        parent = fields["parent"]
        if not parent:
            continue
        parent_rank = entries[parent]["rank"] if parent in entries else known_ranks.get(parent)
        if parent_rank is None:
            raise CatalogueError(f"{label}: parent {parent!r} is not in the catalogue")
        if parent_rank not in TAXON_RANKS or TAXON_RANKS.index(parent_rank) <= TAXON_RANKS.index(fields["rank"]):
            raise CatalogueError(f"{label}: parent {parent!r} ({parent_rank}) must be a taxon ranked above "
                                 f"{fields['rank']}")


@transaction.atomic
def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> tuple[int, int]:
    """Insert or update every entry; returns (created, updated). All or nothing."""
    try:
        raw_entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    if not isinstance(raw_entries, list):
        raise CatalogueError(f"{path}: expected a JSON list")
    entries: dict[str, dict] = {}
    for i, raw in enumerate(raw_entries):
        fields = parse_entry(raw, i)
        label = str(raw["label"]).strip()
        if label in entries:
            raise CatalogueError(f"entry {i}: label {label!r} appears twice")
        entries[label] = fields
    check_tree(entries, dict(Species.objects.exclude(label__in=entries).values_list("label", "rank")))
    created = updated = 0
    rows: dict[str, Species] = {}
    for label, fields in entries.items():
        defaults = {k: v for k, v in fields.items() if k != "parent"}
        rows[label], was_created = Species.objects.update_or_create(label=label, defaults=defaults)
        created += was_created
        updated += not was_created
    for label, fields in entries.items():
        parent = (rows.get(fields["parent"]) or Species.objects.get(label=fields["parent"])) if fields["parent"] else None
        if rows[label].parent_id != (parent.pk if parent else None):
            rows[label].parent = parent
            rows[label].save(update_fields=["parent"])
    return created, updated


class UncataloguedTaxonError(ValueError):
    """A taxon the catalogue lacks has nowhere to join the tree; the message says what is missing."""


def species_named(name: str) -> Species | None:
    """The entry whose label, else whose scientific name, is ``name`` (any case), or None."""
    return (Species.objects.filter(label__iexact=name).first()
            or Species.objects.filter(scientific_name__iexact=name).first())


def _imported_parent(name: str, scientific: str, default_parent: str) -> Species:
    """Where an uncatalogued taxon joins the tree: its catalogued genus, else ``default_parent``."""
    genus = (Species.objects.filter(rank=Rank.GENUS, scientific_name__iexact=scientific.split()[0]).first()
             if scientific else None)
    parent = genus or Species.objects.filter(label=default_parent).first()
    if parent is None:
        raise UncataloguedTaxonError(f"{name}: not in the catalogue and no {default_parent!r} to file it under "
                                     "(run manage.py load_species first)")
    return parent


def imported_species(name: str, scientific: str, *, default_parent: str, source: str) -> Species:
    """The entry for an imported record's taxon: matched by scientific name, then by label (any case). A
    taxon the catalogue lacks is created as a non-claimable species under its catalogued genus (taking the
    genus's kind), else under ``default_parent``; a row an earlier import of ``source`` made without a
    parent is filed in the tree. Raises :class:`UncataloguedTaxonError` when there is no parent to file under."""
    found = Species.objects.filter(scientific_name__iexact=scientific).first() if scientific else None
    found = found or Species.objects.filter(label__iexact=name).first()
    if found is None:
        parent = _imported_parent(name, scientific, default_parent)
        found = Species.objects.create(label=name, common_name=name, scientific_name=scientific, kind=parent.kind,
                                       rank=Rank.SPECIES, parent=parent, identifiable=False, source=source)
    elif found.source == source and found.parent_id is None:
        parent = _imported_parent(name, scientific, default_parent)
        found.parent, found.kind = parent, parent.kind
        found.save(update_fields=["parent", "kind"])
    return found


def is_species_rank(species: Species) -> bool:
    return species.rank == Rank.SPECIES


def is_soundscape(species: Species) -> bool:
    return species.rank == Rank.SOUNDSCAPE
