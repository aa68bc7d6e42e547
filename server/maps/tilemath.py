"""Web-Mercator tile arithmetic (pure functions, no Django).

Tiles follow the XYZ scheme (x to the east, y to the south, ``0 <= x, y < 2**z``). Clusters are
cells of a grid aligned to the tile, so a cluster never straddles two tiles.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MAX_ZOOM = 22
POINT_ZOOM = 16            # from this zoom on, tiles carry individual points instead of clusters
CLUSTER_CELLS_PER_TILE = 32  # cluster grid: 32 × 32 cells per tile (8 px on a 256 px tile)
CELL_LEVEL_SHIFT = 5         # log2(CLUSTER_CELLS_PER_TILE): the cells of zoom z form the 2**(z+5) world grid
MVT_EXTENT = 4096
MVT_BUFFER = 64
MERCATOR_HALF_WORLD = 20037508.342789244


class TileError(ValueError):
    """A tile address outside the pyramid."""


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @property
    def clustered(self) -> bool:
        return self.z < POINT_ZOOM


def parse_tile(z: str | int, x: str | int, y: str | int) -> Tile:
    """Validate a tile address; raises :class:`TileError` with a readable message."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except (TypeError, ValueError):
        raise TileError("z, x and y must be integers.") from None
    if not 0 <= zi <= MAX_ZOOM:
        raise TileError(f"zoom must be between 0 and {MAX_ZOOM}.")
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise TileError(f"at zoom {zi}, x and y must be between 0 and {n - 1}.")
    return Tile(zi, xi, yi)


def tile_bounds_mercator(tile: Tile) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of the tile in EPSG:3857 metres."""
    size = 2 * MERCATOR_HALF_WORLD / (1 << tile.z)
    xmin = -MERCATOR_HALF_WORLD + tile.x * size
    ymax = MERCATOR_HALF_WORLD - tile.y * size
    return xmin, ymax - size, xmin + size, ymax


def cluster_cell_size(z: int) -> float:
    """Edge of one cluster cell in metres at zoom ``z``."""
    return 2 * MERCATOR_HALF_WORLD / (1 << z) / CLUSTER_CELLS_PER_TILE


def cell_level(z: int) -> int:
    """The world-grid level of zoom ``z``'s cluster cells (``2**level`` cells across the world)."""
    return z + CELL_LEVEL_SHIFT


def tile_cell_range(tile: Tile) -> tuple[int, int, int, int]:
    """(cx0, cx1, cy0, cy1), inclusive, of the tile's cluster cells on the world grid (cy from the north)."""
    n = CLUSTER_CELLS_PER_TILE
    return tile.x * n, tile.x * n + n - 1, tile.y * n, tile.y * n + n - 1


def lnglat_to_cell(lng: float, lat: float, level: int) -> tuple[int, int]:
    """The world-grid cell (cx, cy from the north) holding (lng, lat) at ``level``."""
    n = 1 << level
    lat = max(min(lat, 85.0511), -85.0511)
    x = math.floor((lng + 180.0) / 360.0 * n)
    y = math.floor((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def lnglat_to_tile(lng: float, lat: float, z: int) -> Tile:
    """The tile at zoom ``z`` holding (lng, lat)."""
    n = 1 << z
    lat = max(min(lat, 85.0511), -85.0511)
    x = int((lng + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return Tile(z, min(max(x, 0), n - 1), min(max(y, 0), n - 1))
