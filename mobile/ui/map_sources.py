"""Where the map's tiles come from: a configurable tile URL, else the offline MBTiles basemap.

``DAWN_TILE_URL`` (``{z}/{x}/{y}`` template, e.g. a self-hosted raster tile server) is used when set;
its tiles are cached on the phone. A tile that cannot be fetched (offline, 4xx/5xx) reports to
``on_failure`` once per source, so the map screen can say so and switch to the offline basemap;
nothing raises into the UI. The offline basemap is the MBTiles file that ``mobile.basemap_build``
renders from bundled Natural Earth data (``DAWN_MBTILES`` overrides its path).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from kivy.clock import Clock
from kivy_garden.mapview.downloader import Downloader
from kivy_garden.mapview.mbtsource import MBTilesMapSource
from kivy_garden.mapview.source import MapSource

BUNDLED_MBTILES = Path(__file__).resolve().parents[1] / "assets" / "puerto-rico.mbtiles"
OFFLINE_MESSAGE = "The map server cannot be reached: showing the offline map of the region."
NO_BASEMAP_MESSAGE = "No map tiles on this phone: observations are drawn on a plain background."
OVERZOOM_MAX = 17  # the offline basemap is enlarged up to this zoom


def mbtiles_path() -> Path:
    return Path(os.environ.get("DAWN_MBTILES") or BUNDLED_MBTILES)


class OfflineTiles(MBTilesMapSource):
    """The bundled MBTiles without the region clamp (the view may show the sea around it), zoomable
    past the file's deepest level to :data:`OVERZOOM_MAX` by enlarging a part of its deepest tile."""

    def __init__(self, filename: str, **kw):
        super().__init__(filename, **kw)
        self.bounds = None  # mapview's clamp needs a tuple and fights small regions: none
        self.db.close()  # each tile load opens its own connection (sqlite objects stay in their thread)
        self.db = None
        self.data_max_zoom = self.max_zoom
        self.max_zoom = max(self.max_zoom, OVERZOOM_MAX)

    def _load_tile(self, tile):
        import io
        import sqlite3

        from kivy.core.image import Image as CoreImage

        dz = max(0, tile.zoom - self.data_max_zoom)
        col, row = tile.tile_x >> dz, tile.tile_y >> dz  # TMS rows: the parent's row is a shift too
        db = sqlite3.connect(self.filename)
        try:
            found = db.execute("SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                               (tile.zoom - dz, col, row)).fetchone()
        finally:
            db.close()
        if not found:
            tile.state = "done"
            return None
        image = CoreImage(io.BytesIO(bytes(found[0])), ext="png", filename=f"{tile.zoom - dz}.{col}.{row}.png")
        return self._load_tile_done, (tile, image, dz)

    def _load_tile_done(self, tile, image, dz: int = 0):
        tex = image.texture
        if dz:
            n = 1 << dz
            sub = tex.width / n
            tex = tex.get_region((tile.tile_x % n) * sub, (tile.tile_y % n) * sub, sub, sub)
        tile.texture = tex
        tile.state = "need-animation"


class UrlTiles(MapSource):
    """Raster tiles from a URL template; failures go to ``on_failure(message)`` on the UI thread."""

    def __init__(self, url: str, on_failure: Callable[[str], None], timeout_s: float = 5.0, **kw):
        super().__init__(url=url, subdomains=kw.pop("subdomains", "abc"), attribution=kw.pop("attribution", ""), **kw)
        self.on_failure, self.timeout_s = on_failure, timeout_s
        self.failed = threading.Event()

    def fill_tile(self, tile) -> None:
        if tile.state == "done" or self.failed.is_set():
            return
        Downloader.instance(cache_dir=self.cache_dir).submit(self._load, tile)

    def _load(self, tile):
        import requests

        cache = tile.cache_fn
        if os.path.exists(cache):
            return tile.set_source, (cache,)
        row = self.get_row_count(tile.zoom) - tile.tile_y - 1
        uri = self.url.format(z=tile.zoom, x=tile.tile_x, y=row, s=self.subdomains[0])
        try:
            response = requests.get(uri, timeout=self.timeout_s, headers={"User-Agent": "DawnChorus"})
            response.raise_for_status()
        except requests.RequestException as exc:
            if not self.failed.is_set():
                self.failed.set()
                why = type(exc).__name__
                Clock.schedule_once(lambda _dt: self.on_failure(f"{OFFLINE_MESSAGE} ({why})"))
            tile.state = "done"
            return None
        tmp = f"{cache}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(response.content)
        os.replace(tmp, cache)
        return tile.set_source, (cache,)


def offline_source(cache_dir: str) -> MapSource | None:
    """The bundled basemap, or None when the file is missing or unreadable."""
    path = mbtiles_path()
    if not path.exists():
        return None
    try:
        return OfflineTiles(str(path), cache_dir=cache_dir)
    except Exception:  # noqa: BLE001 - a damaged file: the map still draws its points
        return None


class BlankTiles(MapSource):
    """No tiles at all: the map's background colour with the overlays on top."""

    def __init__(self, **kw):
        super().__init__(url="", min_zoom=3, max_zoom=18, **kw)

    def fill_tile(self, tile) -> None:
        tile.state = "done"


def choose_source(cache_dir: str, on_failure: Callable[[str], None],
                  url: str | None = None) -> tuple[MapSource, str]:
    """(source, notice): the URL source when configured, else the offline basemap, else blank tiles."""
    url = url if url is not None else os.environ.get("DAWN_TILE_URL", "")
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    if url:
        return UrlTiles(url, on_failure, cache_dir=cache_dir, cache_key="url", min_zoom=3, max_zoom=18), ""
    offline = offline_source(cache_dir)
    if offline is not None:
        return offline, ""
    return BlankTiles(cache_dir=cache_dir), NO_BASEMAP_MESSAGE
