"""Import xeno-canto observation metadata (observations.csv) as demo observations.

Rows keep their recordist, licence, source URL, xeno-canto's sound-quality rating (A–E, the ``quality``
column) and background species (the ``also`` column of scientific names; when the file has none, the
``manifest.csv`` beside it, keyed by ``xc_id``, as in the shared birds-pr folder). Times are local Puerto Rico time (AST,
UTC−4, no daylight saving) and are stored in UTC. Rows without coordinates are georeferenced
from other rows with the same locality, else placed at the island's centroid with a 100 km
uncertainty; both cases are written in ``georeference_remarks``. Re-running updates in place.

Taxa are matched to the catalogue by scientific name, then by label: xeno-canto's "Identity unknown"
(*Mystery mystery*) and "Soundscape" (*Sonus naturalis*) are catalogue rows (an unidentified animal,
kingdom Animalia, and a soundscape, no taxon), the frogs are catalogued amphibians. A taxon the catalogue
lacks joins as a non-claimable species under its catalogued genus (taking the genus's kind), else under
``default_parent`` ("Unknown bird": the source is xeno-canto's Puerto Rico birds, and every non-bird in it
is catalogued). Only a species-rank record keeps xeno-canto's research grade; a higher taxon needs an
identification and a soundscape is casual.
"""
from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction

from server.species.catalogue import (UncataloguedTaxonError, imported_species, is_soundscape,
                                      is_species_rank)

from .models import Observation, Source, Status
from .record_terms import RATINGS, split_background
from .services import build_observation

if TYPE_CHECKING:
    from server.species.models import Species

SHARED_OBSERVATIONS = Path(settings.BASE_DIR).parent / "shared" / "data" / "birds-pr" / "observations.csv"
FIXTURE_OBSERVATIONS = Path(settings.BASE_DIR) / "fixtures" / "demo" / "observations.csv"
PUERTO_RICO_TZ = timezone(timedelta(hours=-4), "AST")
PUERTO_RICO_CENTROID = (18.22, -66.45)  # (lat, lng)
FALLBACK_UNCERTAINTY_M = 100_000.0
REQUIRED_COLUMNS = {"xc_id", "species", "scientific", "lat", "lng", "date", "time", "recordist", "license"}


class DemoImportError(ValueError):
    pass


@dataclass(frozen=True)
class ParsedTime:
    observed_at: datetime
    precision: str


def default_source() -> Path:
    """The shared data set when present, else the copy shipped in fixtures/."""
    return SHARED_OBSERVATIONS if SHARED_OBSERVATIONS.exists() else FIXTURE_OBSERVATIONS


def parse_when(day: str, clock: str) -> ParsedTime:
    """xeno-canto date (day or month may be 00) and local time ('07:44', '5:30', '01.30', '?')."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", day.strip())
    if not m:
        raise DemoImportError(f"bad date {day!r}")
    year, month, dom = (int(g) for g in m.groups())
    precision = "year" if month == 0 else "month" if dom == 0 else "day"
    d = date(year, max(month, 1), max(dom, 1))
    t = re.fullmatch(r"(\d{1,2})[:.](\d{2})", clock.strip())
    if t and int(t.group(1)) < 24 and int(t.group(2)) < 60 and precision == "day":
        local = datetime.combine(d, time(int(t.group(1)), int(t.group(2))), PUERTO_RICO_TZ)
        precision = "minute"
    else:
        local = datetime.combine(d, time(12, 0), PUERTO_RICO_TZ)
    return ParsedTime(local.astimezone(timezone.utc), precision)


def parse_coord(value: str, low: float, high: float) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if low <= v <= high else None


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or [])
        if missing:
            raise DemoImportError(f"{path}: missing columns {sorted(missing)}")
        return list(reader)


def locality_centroids(rows: list[dict]) -> dict[str, tuple[float, float]]:
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        lat, lng = parse_coord(row["lat"], -90, 90), parse_coord(row["lng"], -180, 180)
        if lat is not None and lng is not None and row.get("locality"):
            points[row["locality"]].append((lat, lng))
    return {k: (sum(p[0] for p in v) / len(v), sum(p[1] for p in v) / len(v)) for k, v in points.items()}


DEFAULT_PARENT = "Unknown bird"


def species_for(row: dict, cache: dict[str, Species], default_parent: str = DEFAULT_PARENT) -> Species:
    """The catalogue row for ``row``'s taxon (see the module's docstring); creates a missing species."""
    scientific, name = row["scientific"].strip(), row["species"].strip()
    key = scientific or name
    if key not in cache:
        try:
            cache[key] = imported_species(name, scientific, default_parent=default_parent, source="xeno-canto")
        except UncataloguedTaxonError as exc:
            raise DemoImportError(str(exc)) from None
    return cache[key]


def grade_for(species: Species) -> str:
    """xeno-canto's recordist identified the record: research grade at species rank only."""
    if is_species_rank(species):
        return Status.RESEARCH
    return Status.CASUAL if is_soundscape(species) else Status.NEEDS_ID


def background_by_id(path: Path, rows: list[dict]) -> dict[str, list[str]]:
    """xc_id → background species, from the rows' ``also`` column or else from ``manifest.csv`` beside ``path``."""
    if rows and "also" in rows[0]:
        return {r["xc_id"].strip(): split_background(r["also"]) for r in rows}
    manifest = path.with_name("manifest.csv")
    if not manifest.exists():
        return {}
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"xc_id", "also"} <= set(reader.fieldnames or []):
            return {}
        return {r["xc_id"].strip(): split_background(r["also"]) for r in reader}


def quality_rating(row: dict) -> str:
    """xeno-canto's quality letter (A–E), or "" when the row has none (e.g. "no score")."""
    value = (row.get("quality") or "").strip().upper()
    return value if value in RATINGS else ""


@transaction.atomic
def import_observations(path: Path | None = None) -> tuple[int, int]:
    """Create or update one observation per row; returns (created, updated). All or nothing."""
    path = path or default_source()
    rows = read_rows(path)
    centroids = locality_centroids(rows)
    background = background_by_id(path, rows)
    cache: dict[str, Species] = {}
    created = updated = 0
    for n, row in enumerate(rows, start=2):
        try:
            when = parse_when(row["date"], row["time"])
        except DemoImportError as exc:
            raise DemoImportError(f"{path}:{n}: {exc}") from None
        lat, lng = parse_coord(row["lat"], -90, 90), parse_coord(row["lng"], -180, 180)
        remarks, uncertainty = "", None
        if lat is None or lng is None:
            if row.get("locality") in centroids:
                (lat, lng), remarks = centroids[row["locality"]], "georeferenced from same-locality records"
                uncertainty = 5_000.0
            else:
                (lat, lng), remarks = PUERTO_RICO_CENTROID, "no coordinates; placed at Puerto Rico centroid"
                uncertainty = FALLBACK_UNCERTAINTY_M
        species = species_for(row, cache)
        xc_id = row["xc_id"].strip()
        fields = dict(
            observed_at=when.observed_at, date_precision=when.precision, status=grade_for(species),
            sound_type=row.get("type", "")[:60], source=Source.XENO_CANTO, source_id=xc_id,
            source_url=f"https://xeno-canto.org/{xc_id}", recordist=row["recordist"][:120],
            license=row["license"], locality=row.get("locality", "")[:300],
            coordinate_uncertainty_m=uncertainty, georeference_remarks=remarks,
            rating=quality_rating(row), background_species=background.get(xc_id, []))
        fresh = build_observation(species=species, location=Point(lng, lat, srid=4326),
                                  seed=f"xc:{xc_id}", **fields)
        existing = Observation.objects.filter(source=Source.XENO_CANTO, source_id=xc_id).first()
        if existing:
            fresh.pk, fresh.created_at = existing.pk, existing.created_at
            fresh.public_clip_token = existing.public_clip_token   # clips are made by make_public_clips
            updated += 1
        else:
            created += 1
        fresh.save()
    return created, updated
