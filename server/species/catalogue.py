"""Load the species catalogue from a JSON file (fixtures/species.json) into the database."""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .models import Kind, Species

DEFAULT_CATALOGUE = Path(settings.BASE_DIR) / "fixtures" / "species.json"
REQUIRED = ("label", "kind", "common_name")


class CatalogueError(ValueError):
    pass


def parse_entry(raw: object, index: int) -> dict:
    """Validate one catalogue entry and map it onto Species fields."""
    if not isinstance(raw, dict):
        raise CatalogueError(f"entry {index}: not an object")
    missing = [k for k in REQUIRED if not str(raw.get(k, "")).strip()]
    if missing:
        raise CatalogueError(f"entry {index}: missing {', '.join(missing)}")
    if raw["kind"] not in Kind.values:
        raise CatalogueError(f"entry {index}: kind must be one of {Kind.values}")
    band = raw.get("band_hz") or [None, None]
    if len(band) != 2 or (band[0] is not None and not 0 <= float(band[0]) < float(band[1]) <= 96_000):
        raise CatalogueError(f"entry {index}: band_hz must be [low, high] with 0 <= low < high")
    return {
        "kind": raw["kind"],
        "common_name": str(raw["common_name"]).strip(),
        "scientific_name": str(raw.get("scientific_name", "")).strip(),
        "description": str(raw.get("description", "")).strip(),
        "sensitive": bool(raw.get("sensitive", False)),
        "conservation_status": str(raw.get("conservation_status", "")).strip(),
        "band_low_hz": band[0],
        "band_high_hz": band[1],
        "identifiable": True,
        "source": "catalogue",
    }


@transaction.atomic
def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> tuple[int, int]:
    """Insert or update every entry; returns (created, updated). All or nothing."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: expected a JSON list")
    created = updated = 0
    for i, raw in enumerate(entries):
        fields = parse_entry(raw, i)
        _, was_created = Species.objects.update_or_create(label=str(raw["label"]).strip(), defaults=fields)
        created += was_created
        updated += not was_created
    return created, updated
