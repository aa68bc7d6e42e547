"""Write fixtures/geo/admin0-50m.topo.json: Natural Earth's 1:50m admin-0 boundaries (world-atlas's
TopoJSON) with each country's id turned into its ISO 3166-1 alpha-2 code.

The inputs are world-atlas's ``countries-50m.json`` (in webmap/node_modules after ``npm ci``) and the
ISO 3166-1 table of Debian's ``iso-codes`` package. Geometries without an ISO numeric id get the code in
:data:`UNNUMBERED` (Natural Earth's own de facto units: GBIF uses XK for Kosovo) or are dropped.
"""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from server.maps.countries import ADMIN0

WORLD_ATLAS = Path(settings.BASE_DIR) / "webmap" / "node_modules" / "world-atlas" / "countries-50m.json"
ISO_3166 = Path("/usr/share/iso-codes/json/iso_3166-1.json")
UNNUMBERED = {"Kosovo": "XK", "Somaliland": "SO", "N. Cyprus": "CY"}


def with_alpha2(topology: dict, numeric_to_alpha2: dict[str, str]) -> tuple[dict, list[str]]:
    """The topology's ``countries`` collection only, ids replaced by alpha-2 codes; also the dropped names."""
    kept, dropped = [], []
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name", "")
        code = numeric_to_alpha2.get(geometry.get("id", "")) or UNNUMBERED.get(name)
        if code is None:
            dropped.append(name)
            continue
        kept.append({"type": geometry["type"], "arcs": geometry["arcs"], "id": code, "properties": {"name": name}})
    out = {"type": "Topology", "transform": topology["transform"], "arcs": topology["arcs"],
           "objects": {"countries": {"type": "GeometryCollection", "geometries": kept}}}
    return out, dropped


class Command(BaseCommand):
    help = "Build the bundled admin-0 boundaries (ISO alpha-2 ids) from world-atlas and iso-codes."

    def add_arguments(self, parser):
        parser.add_argument("--topology", type=Path, default=WORLD_ATLAS)
        parser.add_argument("--iso", type=Path, default=ISO_3166)
        parser.add_argument("--out", type=Path, default=ADMIN0)

    def handle(self, *args, topology: Path, iso: Path, out: Path, **options):
        try:
            topo = json.loads(topology.read_text(encoding="utf-8"))
            table = json.loads(iso.read_text(encoding="utf-8"))["3166-1"]
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        result, dropped = with_alpha2(topo, {row["numeric"]: row["alpha_2"] for row in table})
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, separators=(",", ":")), encoding="utf-8")
        self.stdout.write(f"{out}: {len(result['objects']['countries']['geometries'])} countries; "
                          f"dropped {', '.join(dropped) or 'none'}")
