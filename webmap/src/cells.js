// Obscured observations (sensitive species, and the same recordist's records beside them) are drawn as the
// grid cell their true point lies in, at every zoom, never as a point that looks exact: a hatched square with
// a dashed outline in the species' colour. The cells come from the server (/api/v1/map/obscured-cells/,
// computed from public positions); the point layer leaves obscured features out.
import { getJson } from "./api.js";

export const EMPTY = { type: "FeatureCollection", features: [] };

/** An 16×16 RGBA tile of diagonal hatching, for MapLibre's `fill-pattern` (map.addImage). */
export function hatchImage(size = 16) {
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = (x + y) % 8;
      const alpha = d === 0 ? 200 : d === 1 || d === 7 ? 90 : 0;
      data.set([60, 60, 70, alpha], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

export function addObscuredLayers(map, colour) {
  map.addImage("hatch", hatchImage());
  map.addSource("obscured-cells", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "obscured-cells", type: "fill", source: "obscured-cells", paint: { "fill-pattern": "hatch", "fill-opacity": ["interpolate", ["linear"], ["zoom"], 10, 0.9, 15, 0.35] } });
  map.addLayer({ id: "obscured-cells-tint", type: "fill", source: "obscured-cells", paint: { "fill-color": colour, "fill-opacity": 0.12 } });
  map.addLayer({ id: "obscured-cells-outline", type: "line", source: "obscured-cells",
    paint: { "line-color": colour, "line-width": 2, "line-dasharray": [3, 2] } });
}

/** Load the cells for the map's filters (query string) into the source; `ids` become a JSON string. */
export async function loadObscuredCells(map, query) {
  const cells = await getJson(`/api/v1/map/obscured-cells/${query ? `?${query}` : ""}`);
  for (const f of cells.features) f.properties.ids = JSON.stringify(f.properties.ids);
  map.getSource("obscured-cells").setData(cells);
  return cells;
}
