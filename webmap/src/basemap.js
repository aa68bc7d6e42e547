// The offline basemap: Natural Earth 1:50m countries from the world-atlas package (bundled),
// or a deployment's own raster tiles when the server's config names a URL template.
import { feature, mesh } from "topojson-client";
import countriesUrl from "world-atlas/countries-50m.json?url";

export function baseStyle(basemapUrl) {
  const style = { version: 8, sources: {}, layers: [{ id: "sea", type: "background", paint: { "background-color": "#cfe3ee" } }] };
  if (basemapUrl) {
    style.sources.basemap = { type: "raster", tiles: [basemapUrl], tileSize: 256, attribution: "basemap: deployment tiles" };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return style;
}

export async function addOfflineBasemap(map) {
  const topo = await (await fetch(countriesUrl)).json();
  const land = feature(topo, topo.objects.countries);
  const borders = mesh(topo, topo.objects.countries, (a, b) => a !== b);
  map.addSource("countries", { type: "geojson", data: land, attribution: "Natural Earth (public domain)" });
  map.addSource("borders", { type: "geojson", data: borders });
  const first = map.getStyle().layers.find((l) => l.id !== "sea" && l.id !== "basemap");
  map.addLayer({ id: "land", type: "fill", source: "countries", paint: { "fill-color": "#f4f1e8" } }, first && first.id);
  map.addLayer({ id: "coast", type: "line", source: "countries", paint: { "line-color": "#8aa3b3", "line-width": 0.8 } }, first && first.id);
  map.addLayer({ id: "borders", type: "line", source: "borders", paint: { "line-color": "#b8b0a0", "line-width": 0.6, "line-dasharray": [2, 2] } }, first && first.id);
}
