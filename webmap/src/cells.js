// Obscured observations (sensitive species, and the same recordist's records beside them) are drawn as
// the grid cell their true point lies in, never as a point that looks exact. The server publishes a
// random point inside that cell; the cell is recomputed here from it (server/observations/geoprivacy.py).

// [west, south, east, north] of the cell of `degrees` holding (lng, lat), as geoprivacy.cell_bounds.
export function cellBounds(lng, lat, degrees) {
  const round = (v) => Math.round(v * 1e6) / 1e6;
  const west = Math.floor(lng / degrees) * degrees;
  const south = Math.floor(lat / degrees) * degrees;
  return [round(west), round(south), round(west + degrees), round(Math.min(south + degrees, 90))];
}

// One polygon per cell holding the given point features (obscured ones), with the ids and species inside.
export function cellFeatures(points, degrees) {
  const cells = new Map();
  for (const f of points) {
    const [lng, lat] = f.geometry.coordinates;
    const bounds = cellBounds(lng, lat, degrees);
    const key = bounds.join(",");
    if (!cells.has(key)) cells.set(key, { bounds, ids: new Set(), species: f.properties.species });
    cells.get(key).ids.add(f.properties.id);
  }
  return [...cells.values()].map(({ bounds: [w, s, e, n], ids, species }) => ({
    type: "Feature",
    geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
    properties: { west: w, south: s, east: e, north: n, species, count: ids.size, ids: JSON.stringify([...ids]) },
  }));
}
