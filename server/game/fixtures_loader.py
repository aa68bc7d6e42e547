"""Load fixtures/game/ (badges, species facts, demo quests) idempotently."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import transaction
from django.utils import timezone

from server.species.lookup import species_by_label, species_labelled

from .badges import METRICS
from .models import BadgeDefinition, Quest, SpeciesFact

GAME_FIXTURES = Path(settings.BASE_DIR) / "fixtures" / "game"


class FixtureError(ValueError):
    pass


def load_badges(path: Path) -> int:
    rows = json.loads(path.read_text(encoding="utf-8"))
    for i, row in enumerate(rows):
        if row.get("metric") not in METRICS:
            raise FixtureError(f"{path.name} entry {i}: unknown metric {row.get('metric')!r}")
        BadgeDefinition.objects.update_or_create(slug=row["slug"], defaults={
            "name": row["name"], "description": row["description"], "metric": row["metric"],
            "threshold": int(row.get("threshold", 1)), "params": row.get("params", {})})
    return len(rows)


def load_facts(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    n = 0
    for label, facts in data.items():
        species = species_by_label(label)
        if species is None:
            continue  # catalogue without this species
        for order, text in enumerate(facts, start=1):
            SpeciesFact.objects.update_or_create(species=species, order=order, defaults={"text": text})
            n += 1
    return n


def load_quests(path: Path) -> int:
    rows = json.loads(path.read_text(encoding="utf-8"))
    now = timezone.now()
    for row in rows:
        area = None
        if row.get("area"):
            geom = GEOSGeometry(json.dumps(row["area"]), srid=4326)
            area = geom if geom.geom_type == "MultiPolygon" else MultiPolygon(geom, srid=4326)
        badge = BadgeDefinition.objects.filter(slug=row.get("reward_badge", "")).first()
        quest, _ = Quest.objects.update_or_create(slug=row["slug"], defaults={
            "title": row["title"], "description": row.get("description", ""), "area": area,
            "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=int(row.get("days", 30))),
            "target_count": int(row["target_count"]), "mode": row.get("mode", "solo"),
            "reward_points": int(row.get("reward_points", 50)), "reward_badge": badge})
        quest.species.set(species_labelled(row.get("species", [])))
    return len(rows)


@transaction.atomic
def load_all(folder: Path = GAME_FIXTURES) -> dict[str, int]:
    return {"badges": load_badges(folder / "badges.json"), "facts": load_facts(folder / "species_facts.json"),
            "quests": load_quests(folder / "demo_quests.json")}
