"""Build the offline raster basemap (MBTiles) of the demo region from bundled vector data.

``python -m mobile.basemap_build [OUT.mbtiles]`` (default :data:`DEFAULT_PATH`). The land comes from
Natural Earth 1:10m countries in the ``world-atlas`` npm package the web map already bundles
(``webmap/node_modules/world-atlas/countries-10m.json``, TopoJSON, public domain). Tiles are 256-px PNGs in the MBTiles convention (TMS rows: row 0 at the
south), zoom :data:`MIN_ZOOM`–:data:`MAX_ZOOM`, covering :data:`BOUNDS`. This is a build-time tool
(Pillow); the phone only reads the file (``mobile/ui/map_sources.py``).
"""
from __future__ import annotations

import io
import json
import math
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPOJSON = ROOT / "webmap" / "node_modules" / "world-atlas" / "countries-10m.json"
DEFAULT_PATH = ROOT / "mobile" / "assets" / "puerto-rico.mbtiles"
BOUNDS = (-67.95, 17.6, -64.5, 18.75)  # west, south, east, north: Puerto Rico and the Virgin Islands
MIN_ZOOM, MAX_ZOOM = 6, 12
VERSION = "3"  # bump when the drawing changes: a stale file is rebuilt by ensure()
SEA, LAND, COAST = (170, 205, 214), (233, 238, 222), (120, 150, 150)


def decode_topojson(data: dict, bounds: tuple[float, float, float, float]) -> list[list[tuple[float, float]]]:
    """The rings (lng, lat) of every country polygon whose box meets ``bounds``."""
    sx, sy = data["transform"]["scale"]
    tx, ty = data["transform"]["translate"]
    arcs = []
    for arc in data["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)

    def ring(indices: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indices:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(pts[1:] if out else pts)
        return out

    west, south, east, north = bounds
    rings = []
    for geom in data["objects"]["countries"]["geometries"]:
        polys = geom.get("arcs") or []
        if geom.get("type") == "Polygon":
            polys = [polys]
        for poly in polys:
            for r in poly:
                pts = ring(r)
                if not pts:
                    continue
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                if max(xs) >= west and min(xs) <= east and max(ys) >= south and min(ys) <= north:
                    rings.append(pts)
    return rings


def world_px(lat: float, lng: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel position (origin top-left) at ``zoom`` with 256-px tiles."""
    n = 256 * 2 ** zoom
    s = math.sin(math.radians(max(-85.0, min(85.0, lat))))
    return (lng + 180.0) / 360.0 * n, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n


def tile_range(bounds: tuple[float, float, float, float], zoom: int) -> tuple[range, range]:
    """XYZ columns and rows (row 0 at the north) covering ``bounds``."""
    west, south, east, north = bounds
    x0, y0 = world_px(north, west, zoom)
    x1, y1 = world_px(south, east, zoom)
    return range(int(x0 // 256), int(x1 // 256) + 1), range(int(y0 // 256), int(y1 // 256) + 1)


def render_tile(rings, zoom: int, x: int, y: int) -> bytes:
    """One 256-px PNG (XYZ ``x``, ``y``): sea and land with its coast (place names are drawn by the app,
    crisp at every zoom: ``mobile/places.py``)."""
    from PIL import Image, ImageDraw

    scale = 2  # drawn at twice the size and reduced: smooth coasts
    img = Image.new("RGB", (256 * scale, 256 * scale), SEA)
    draw = ImageDraw.Draw(img)
    ox, oy = x * 256, y * 256
    for pts in rings:
        xy = [((px - ox) * scale, (py - oy) * scale) for px, py in (world_px(lat, lng, zoom) for lng, lat in pts)]
        if len(xy) >= 3:
            draw.polygon(xy, fill=LAND, outline=COAST, width=scale)
    img = img.resize((256, 256), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def build(out: Path = DEFAULT_PATH, topojson: Path = TOPOJSON, min_zoom: int = MIN_ZOOM,
          max_zoom: int = MAX_ZOOM) -> Path:
    """Write the MBTiles file atomically (a temporary file renamed into place)."""
    rings = decode_topojson(json.loads(Path(topojson).read_text()), BOUNDS)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    west, south, east, north = BOUNDS
    meta = {"name": "Dawn Chorus · Puerto Rico", "format": "png", "type": "baselayer", "version": VERSION,
            "minzoom": str(min_zoom), "maxzoom": str(max_zoom), "bounds": f"{west},{south},{east},{north}",
            "center": f"{(west + east) / 2},{(south + north) / 2},{min_zoom + 3}",
            "attribution": "Natural Earth (public domain)"}
    db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
    for zoom in range(min_zoom, max_zoom + 1):
        xs, ys = tile_range(BOUNDS, zoom)
        for x in xs:
            for y in ys:
                tms_row = 2 ** zoom - 1 - y
                db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (zoom, x, tms_row, render_tile(rings, zoom, x, y)))
    db.commit()
    db.close()
    tmp.replace(out)
    return out


def current(path: Path = DEFAULT_PATH) -> bool:
    """True when ``path`` is an MBTiles file of this builder's :data:`VERSION`."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM metadata WHERE name = 'version'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return bool(row) and row[0] == VERSION


def ensure(path: Path = DEFAULT_PATH) -> Path | None:
    """Build the basemap unless a current one exists; None when the vector data is not installed."""
    if current(path):
        return path
    if not TOPOJSON.exists():
        return None
    return build(path)


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH))
