// Dawn Chorus researchers' map: vector tiles from /api/v1/map/tiles, filters, popups with audio
// and spectrograms, species abundance and routes, exports for researchers, live updates.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import { addOfflineBasemap, baseStyle, usesOfflineBasemap } from "./basemap.js";
import { api, auth, authHeaders, getJson, login } from "./api.js";
import { createFilters } from "./filters.js";
import { showSpecies } from "./species.js";
import { startLive } from "./live.js";
import { runExport } from "./exports.js";
import { cellFeatures } from "./cells.js";
import { esc } from "./html.js";
import { mountCommunity } from "./community.js";
import { keepPopupInView } from "./popupfit.js";

const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4",
  "#b2182b", "#4d9221", "#542788", "#8c510a", "#01665e", "#c51b7d", "#2166ac", "#762a83"];
const PR_CENTER = [-66.45, 18.22];

function speciesColour(species) {
  const pairs = [];
  species.forEach((s, i) => pairs.push(s.label, PALETTE[i % PALETTE.length]));
  return pairs.length ? ["match", ["get", "species"], ...pairs, "#555"] : "#555";
}

async function main() {
  const config = await getJson("/api/v1/map/config/");
  window.dawnMap = { config, ready: false, tileQuery: "" };
  setupAccount(config);
  const map = new maplibregl.Map({
    container: "map", style: baseStyle(config), center: PR_CENTER, zoom: 8, maxZoom: 18,
    attributionControl: { compact: true }, keyboard: true,
    transformRequest: (url) => (url.startsWith(window.location.origin) ? { url, headers: authHeaders() } : { url }),
  });
  window.dawnMap.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  await new Promise((resolve) => map.on("load", resolve));
  if (usesOfflineBasemap(config)) await addOfflineBasemap(map);

  const tilesFor = (query) => [config.tile_url + (query ? `?${query}` : "")];
  map.addSource("obs", { type: "vector", tiles: tilesFor(""), maxzoom: 16, attribution: "Dawn Chorus players, xeno-canto recordists" });
  const colour = speciesColour(config.species);
  map.addLayer({ id: "heat", type: "heatmap", source: "obs", "source-layer": "clusters", layout: { visibility: "none" },
    paint: { "heatmap-weight": ["ln", ["+", 1, ["get", "count"]]], "heatmap-radius": 22, "heatmap-opacity": 0.75 } });
  map.addLayer({ id: "clusters", type: "circle", source: "obs", "source-layer": "clusters",
    paint: { "circle-color": colour, "circle-opacity": 0.85, "circle-stroke-color": "#fff", "circle-stroke-width": 1.2,
      "circle-radius": ["interpolate", ["linear"], ["ln", ["+", 1, ["get", "count"]]], 0, 5, 7, 22] } });
  map.addLayer({ id: "points", type: "circle", source: "obs", "source-layer": "points",
    filter: ["!=", ["get", "obscured"], true],
    paint: { "circle-color": colour, "circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  // obscured observations: their 0.2° cell, hatched by a dashed outline, never a point
  map.addSource("obscured-cells", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "obscured-cells", type: "fill", source: "obscured-cells",
    paint: { "fill-color": colour, "fill-opacity": 0.12 } });
  map.addLayer({ id: "obscured-cells-outline", type: "line", source: "obscured-cells",
    paint: { "line-color": colour, "line-width": 2, "line-dasharray": [3, 2] } });
  const drawObscuredCells = () => {
    const hidden = map.querySourceFeatures("obs", { sourceLayer: "points", filter: ["==", ["get", "obscured"], true] });
    map.getSource("obscured-cells").setData({ type: "FeatureCollection", features: cellFeatures(hidden, config.cell_degrees) });
  };
  map.on("idle", drawObscuredCells);
  map.addSource("route", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "route-line", type: "line", source: "route", filter: ["==", ["geometry-type"], "LineString"],
    paint: { "line-color": "#c2185b", "line-width": 2.5, "line-dasharray": [2, 1] } });
  map.addLayer({ id: "route-points", type: "circle", source: "route", filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-color": "#c2185b", "circle-radius": 3.5 } });

  const filters = createFilters({
    species: config.species,
    onChange: (params) => {
      window.dawnMap.tileQuery = params.toString();
      map.getSource("obs").setTiles(tilesFor(window.dawnMap.tileQuery));
      const chosen = params.get("species");
      if (chosen && !chosen.includes(",")) showSpecies(map, chosen, params);
    },
  });
  window.dawnMap.filters = filters;
  for (const [box, layers] of [["l-clusters", ["clusters", "points", "obscured-cells", "obscured-cells-outline"]], ["l-heat", ["heat"]], ["l-route", ["route-line", "route-points"]]]) {
    document.getElementById(box).addEventListener("change", (e) => {
      for (const id of layers) map.setLayoutProperty(id, "visibility", e.target.checked ? "visible" : "none");
    });
  }

  map.on("click", "clusters", (e) => {
    const f = e.features[0];
    const mix = JSON.parse(f.properties.mix || "[]").map(([label, n]) => `${label}: ${n}`).join("<br>");
    new maplibregl.Popup({ className: "popup" }).setLngLat(e.lngLat)
      .setHTML(`<h3>${f.properties.count} observations</h3><p>${mix}</p><p class="help">Zoom in to see single recordings.</p>`).addTo(map);
    map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, config.point_zoom) });
  });
  map.on("click", "points", (e) => {
    const seen = new Map(e.features.map((f) => [f.properties.id, f.properties]));
    if (seen.size === 1) { openPopup(map, e.features[0].properties.id, e.lngLat); return; }
    // Several recordings at one spot (a shared locality): list them, each opens its own popup.
    const items = [...seen.values()].map((p) => `<li><button type="button" class="pick" data-id="${p.id}">${esc(p.species)}, ${
      new Date(p.observed_at * 1000).toISOString().slice(0, 10)}</button></li>`).join("");
    const chooser = new maplibregl.Popup({ className: "popup" }).setLngLat(e.lngLat)
      .setHTML(`<h3>${seen.size} recordings here</h3><ul class="picks">${items}</ul>`).addTo(map);
    for (const button of chooser.getElement().querySelectorAll(".pick")) {
      button.addEventListener("click", () => { chooser.remove(); openPopup(map, Number(button.dataset.id), e.lngLat); });
    }
  });
  map.on("click", "obscured-cells", (e) => {
    if (map.queryRenderedFeatures(e.point, { layers: ["points"] }).length) return;  // a point above it wins
    const ids = JSON.parse(e.features[0].properties.ids);
    if (ids.length === 1) { openPopup(map, ids[0], e.lngLat); return; }
    const items = ids.map((id) => `<li><button type="button" class="pick" data-id="${id}">Observation ${id}</button></li>`).join("");
    const chooser = new maplibregl.Popup({ className: "popup" }).setLngLat(e.lngLat)
      .setHTML(`<h3>${ids.length} obscured recordings in this cell</h3><ul class="picks">${items}</ul>`).addTo(map);
    for (const button of chooser.getElement().querySelectorAll(".pick")) {
      button.addEventListener("click", () => { chooser.remove(); openPopup(map, Number(button.dataset.id), e.lngLat); });
    }
  });
  for (const id of ["clusters", "points", "obscured-cells"]) {
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
  document.getElementById("species-close").addEventListener("click", () => {
    document.getElementById("species-page").hidden = true;
    map.getSource("route").setData({ type: "FeatureCollection", features: [] });
  });
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => runExport(button.dataset.export, filters.params()));
  }
  startLive(map, config);
  map.once("idle", () => { window.dawnMap.ready = true; document.body.dataset.mapReady = "1"; });
}

export async function openPopup(map, id, lngLat) {
  const popup = new maplibregl.Popup({ className: "popup", maxWidth: "320px" }).setLngLat(lngLat)
    .setHTML("<p>Loading…</p>").addTo(map);
  try {
    const d = await getJson(`/api/v1/map/observations/${id}/`);
    const model = d.model && d.model.server_model_version ? ` (model ${esc(d.model.server_model_version)})` : "";
    popup.setHTML(`<div class="popup-body" data-observation="${d.id}">
      <h3>${esc(d.species.common_name)} <i>${esc(d.species.scientific_name)}</i></h3>
      ${d.spectrogram_url ? `<img src="${d.spectrogram_url}" alt="Spectrogram of the recording (time to the right, pitch upwards)">` : ""}
      ${d.audio_url ? `<audio controls preload="metadata" src="${d.audio_url}" aria-label="Play the recording"></audio>` : "<p>No audio.</p>"}
      <dl><dt>When</dt><dd>${esc(d.observed_at.replace("T", " ").slice(0, 16))} UTC${d.obscured ? " (date only)" : ""}</dd>
      <dt>Grade</dt><dd>${esc(d.grade)} · ${esc(d.basis_of_record)}</dd>
      <dt>Confidence</dt><dd>${d.confidence == null ? "–" : Number(d.confidence).toFixed(2)}${model}</dd>
      <dt>Recordist</dt><dd>${d.obscured ? "withheld" : esc(d.recordist)}</dd>
      <dt>Licence</dt><dd>${d.license ? `<a href="${esc(d.license)}" target="_blank" rel="noopener license">${esc(d.license_name || d.license)}</a>` : "–"}</dd>
      <dt>Sound quality</dt><dd>${d.rating ? `${esc(d.rating)} <span class="help">(A best, E worst)</span>` : "not rated"}</dd>
      ${d.background_species && d.background_species.length ? `<dt>Also heard</dt><dd>${d.background_species.map((n) => `<i>${esc(n)}</i>`).join(", ")}</dd>` : ""}
      <dt>Place</dt><dd>${d.obscured ? `obscured: somewhere in the 0.2° cell ${esc(d.cell.join(", "))}` : esc(d.locality || "")}</dd>
      </dl>
      <details class="popup-ids"><summary>Identifications, suggest an ID, quality</summary><div class="community-slot"></div></details>
      ${d.recording_url ? `<a href="${d.recording_url}" target="_blank" rel="noopener">Recording</a> · ` : ""}
      <a href="#" data-species="${esc(d.species.label)}">Species page</a></div>`);
    popup.getElement().querySelector("[data-species]").addEventListener("click", (e) => {
      e.preventDefault(); showSpecies(map, d.species.label, window.dawnMap.filters.params());
    });
    // identification history, agree/suggest, quality votes; the popup stays inside the map as it grows
    const fit = () => keepPopupInView(map, popup.getElement());
    popup.getElement().querySelector(".popup-ids").addEventListener("toggle", fit);
    mountCommunity(popup.getElement().querySelector(".community-slot"), d.id, fit);
  } catch (error) {
    popup.setHTML(`<p role="alert">Could not load: ${esc(error.message)}</p>`);
  }
}

function setupAccount(config) {
  const form = document.getElementById("login-form");
  const who = document.getElementById("whoami");
  const logout = document.getElementById("logout");
  const signedIn = config.user.authenticated;
  form.hidden = signedIn; who.hidden = !signedIn; logout.hidden = !signedIn;
  who.textContent = signedIn ? `${config.user.username}${config.user.researcher ? " (researcher)" : ""}` : "";
  document.getElementById("exports").hidden = !config.user.researcher;
  document.getElementById("review-link").hidden = !config.user.researcher;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await login(form.username.value, form.password.value); window.location.reload(); }
    catch (error) { alert(error.message); }
  });
  logout.addEventListener("click", async () => {
    try { await api("/api/v1/auth/logout/", { method: "POST" }); } catch { /* already gone */ }
    auth.token = ""; window.location.reload();
  });
}

main().catch((error) => {
  document.getElementById("map").textContent = `The map could not start: ${error.message}`;
  console.error(error);
});
