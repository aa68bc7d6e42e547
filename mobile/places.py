"""Place names the map writes over the offline basemap: (name, lat, lng, smallest zoom that shows it).

Towns of the demo region (Puerto Rico and the US Virgin Islands); drawn by the map widget as text,
so they stay sharp when the basemap is enlarged past its deepest zoom.
"""
from __future__ import annotations

PLACES: tuple[tuple[str, float, float, int], ...] = (
    ("San Juan", 18.4655, -66.1057, 7), ("Ponce", 18.0111, -66.6141, 7), ("Mayagüez", 18.2013, -67.1397, 8),
    ("Arecibo", 18.4725, -66.7157, 8), ("Caguas", 18.2341, -66.0485, 9), ("Fajardo", 18.3258, -65.6524, 9),
    ("Humacao", 18.1497, -65.8274, 9), ("Aguadilla", 18.4277, -67.1541, 9), ("Guayama", 17.9841, -66.1138, 9),
    ("El Yunque", 18.2960, -65.7850, 10), ("Vieques", 18.1263, -65.4401, 9), ("Culebra", 18.3030, -65.3010, 10),
    ("Utuado", 18.2655, -66.7005, 10), ("Cabo Rojo", 18.0866, -67.1457, 10), ("Charlotte Amalie", 18.3419, -64.9307, 9),
)

