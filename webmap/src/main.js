// Dawn Chorus researchers' map: vector tiles from /api/v1/map/tiles over an offline basemap, a legend,
// filters, popups with audio and spectrograms, species pages, exports for researchers, live updates.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import { addOfflineBasemap, baseStyle, usesOfflineBasemap } from "./basemap.js";
import { api, auth, authHeaders, getJson, login } from "./api.js";
import { createFilters } from "./filters.js";
import { closeSpecies, showSpecies } from "./species.js";
import { startLive } from "./live.js";
import { runExport } from "./exports.js";
import { EMPTY, addObscuredLayers, loadObscuredCells } from "./cells.js";
import { LegendControl, colourExpression, foldLegendUnder, speciesColours } from "./legend.js";
import { esc } from "./html.js";
import { mountRating } from "./terms.js";
import { mountCommunity } from "./community.js";
import { keepPopupInView } from "./popupfit.js";

const PR_CENTER = [-66.45, 18.22];
const narrow = () => window.matchMedia("(max-width: 700px)").matches;
// room around the data in the first view, and around a popup
const fitPadding = () => (narrow() ? 16 : 40);

async function main() {
  const config = await getJson("/api/v1/map/config/");
  window.dawnMap = { config, ready: false, tileQuery: "" };
  setupAccount(config);
  // the first view fits the data beside the legend (open on wide screens, top left)
  const padding = narrow() ? fitPadding() : { top: 40, bottom: 40, right: 60, left: 390 };
  const start = config.extent ? { bounds: widened(config.extent), fitBoundsOptions: { padding, maxZoom: 11 } }
    : { center: PR_CENTER, zoom: 8 };
  const map = new maplibregl.Map({
    container: "map", style: baseStyle(config), ...start, maxZoom: 18,
    attributionControl: { compact: true }, keyboard: true,
    transformRequest: (url) => (url.startsWith(window.location.origin) ? { url, headers: authHeaders() } : { url }),
  });
  window.dawnMap.map = map;
  window.dawnMap.openPopup = (id, lngLat) => openPopup(map, id, lngLat);
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  const colours = speciesColours(config.species);
  map.addControl(new LegendControl(colours), "top-left");
  await new Promise((resolve) => map.on("load", resolve));
  if (usesOfflineBasemap(config)) await addOfflineBasemap(map);

  const tilesFor = (query) => [config.tile_url + (query ? `?${query}` : "")];
  map.addSource("obs", { type: "vector", tiles: tilesFor(""), maxzoom: 16, attribution: "Dawn Chorus players, xeno-canto recordists" });
  const colour = colourExpression(colours);
  // the species page's gridded abundance, under the observations
  map.addSource("species-grid", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "species-grid", type: "fill", source: "species-grid", paint: {
    "fill-color": ["interpolate", ["linear"], ["ln", ["+", 1, ["get", "count"]]], 0, "#fff5eb", 1, "#fdae6b", 4, "#d94801", 7, "#7f2704"],
    "fill-opacity": 0.6, "fill-outline-color": "#8c2d04" } });
  map.addLayer({ id: "heat", type: "heatmap", source: "obs", "source-layer": "clusters", layout: { visibility: "none" },
    paint: { "heatmap-weight": ["ln", ["+", 1, ["get", "count"]]], "heatmap-radius": 22, "heatmap-opacity": 0.75 } });
  // Clusters hold un-obscured observations only (the server leaves obscured ones out of every cluster), so no
  // circle sits at an obscured record's public point; those are drawn as their cells below.
  map.addLayer({ id: "clusters", type: "circle", source: "obs", "source-layer": "clusters",
    paint: { "circle-color": colour, "circle-opacity": 0.85, "circle-stroke-color": "#fff", "circle-stroke-width": 1.2,
      "circle-radius": ["interpolate", ["linear"], ["ln", ["+", 1, ["get", "count"]]], 0, 5, 7, 22] } });
  map.addLayer({ id: "points", type: "circle", source: "obs", "source-layer": "points",
    filter: ["!=", ["get", "obscured"], true],
    paint: { "circle-color": colour, "circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  // obscured observations: their 0.2° cell, hatched with a dashed outline, at every zoom; never a point
  addObscuredLayers(map, colour);
  // the Time travel scenario's waypoints, numbered in the game's order
  map.addSource("route", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "route-line", type: "line", source: "route", filter: ["==", ["geometry-type"], "LineString"],
    paint: { "line-color": "#6a1b9a", "line-width": 1.5, "line-opacity": 0.7 } });
  map.addLayer({ id: "route-points", type: "circle", source: "route", filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-color": "#6a1b9a", "circle-radius": 9, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  map.addLayer({ id: "route-steps", type: "symbol", source: "route", filter: ["==", ["geometry-type"], "Point"],
    layout: { "text-field": ["to-string", ["get", "step"]], "text-font": ["sans-serif"], "text-size": 11, "text-allow-overlap": true },
    paint: { "text-color": "#fff" } });
  await loadObscuredCells(map, "");

  const filters = createFilters({
    species: config.species,
    onChange: (params) => {
      window.dawnMap.tileQuery = params.toString();
      map.getSource("obs").setTiles(tilesFor(window.dawnMap.tileQuery));
      loadObscuredCells(map, window.dawnMap.tileQuery);
      const chosen = params.get("species");
      if (chosen && !chosen.includes(",")) showSpecies(map, chosen, params);
      else closeSpecies(map);
    },
  });
  window.dawnMap.filters = filters;
  for (const [box, layers] of [["l-clusters", ["clusters", "points", "obscured-cells", "obscured-cells-tint", "obscured-cells-outline"]], ["l-heat", ["heat"]],
    ["l-route", ["route-line", "route-points", "route-steps"]], ["l-grid", ["species-grid"]], ["l-places", ["place-dots", "place-labels"]]]) {
    document.getElementById(box).addEventListener("change", (e) => {
      for (const id of layers) if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", e.target.checked ? "visible" : "none");
    });
  }

  map.on("click", "clusters", (e) => {
    const f = e.features[0];
    const mix = JSON.parse(f.properties.mix || "[]").map(([label, n]) => `${esc(label)}: ${esc(n)}`).join("<br>");
    new maplibregl.Popup({ className: "popup" }).setLngLat(e.lngLat)
      .setHTML(`<h3>${f.properties.count} observation${f.properties.count === 1 ? "" : "s"}</h3><p>${mix}</p><p class="help">Zoom in to see single recordings.</p>`).addTo(map);
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
    if (map.queryRenderedFeatures(e.point, { layers: ["points", "clusters"] }).length) return;  // a point or cluster wins
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
  document.getElementById("species-close").addEventListener("click", () => closeSpecies(map));
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => runExport(button.dataset.export, filters.params()));
  }
  startLive(map, config);
  map.once("idle", () => {
    foldAttribution(); window.dawnMap.ready = true; document.body.dataset.mapReady = "1"; });
}

// [w, s, e, n] with a margin of a tenth of its size (at least 0.05°) on each side: the land around the
// outermost observations (an island's tips) stays in the first view.
function widened([w, s, e, n]) {
  const dx = Math.max((e - w) / 10, 0.05), dy = Math.max((n - s) / 10, 0.05);
  return [Math.max(w - dx, -180), Math.max(s - dy, -85), Math.min(e + dx, 180), Math.min(n + dy, 85)];
}

// At phone width the map first moves the point towards the bottom, so the popup (anchored above it) has
// most of the map's height; the popup's body scrolls within what is left (style.css).
function placeForPopup(map, lngLat) {
  const canvas = map.getCanvas().getBoundingClientRect();
  map.getContainer().style.setProperty("--popup-max-h", `${Math.round(canvas.height * 0.72)}px`);
  if (narrow()) map.easeTo({ center: lngLat, offset: [0, Math.round(canvas.height * 0.36)], duration: 0 });
}

export async function openPopup(map, id, lngLat) {
  placeForPopup(map, lngLat);
  const width = Math.min(320, map.getCanvas().getBoundingClientRect().width - 2 * fitPadding());
  const popup = new maplibregl.Popup({ className: "popup", maxWidth: `${width}px`, anchor: narrow() ? "bottom" : undefined })
    .setLngLat(lngLat).setHTML("<p>Loading…</p>").addTo(map);
  const clearLegend = foldLegendUnder(popup);  // the open legend folds while it would sit under the popup
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
      <dt>Sound quality</dt><dd class="rating">${d.rating ? `${esc(d.rating)} <span class="help">(A best, E worst)</span>` : "not rated"}</dd>
      ${d.background_species && d.background_species.length ? `<dt>Also heard</dt><dd>${d.background_species.map((n) => `<i>${esc(n)}</i>`).join(", ")}</dd>` : ""}
      <dt>Place</dt><dd>${d.obscured ? `obscured: somewhere in the 0.2° cell ${esc(d.cell.join(", "))}` : esc(d.locality || "")}</dd>
      </dl>
      <div class="rating-slot"></div>
      <details class="popup-ids"><summary>Identifications, suggest an ID, quality</summary><div class="community-slot"></div></details>
      ${d.recording_url ? `<a href="${d.recording_url}" target="_blank" rel="noopener">Recording</a> · ` : ""}
      <a href="#" data-species="${esc(d.species.label)}">Species page</a></div>`);
    popup.getElement().querySelector("[data-species]").addEventListener("click", (e) => {
      e.preventDefault(); showSpecies(map, d.species.label, window.dawnMap.filters.params());
    });
    // identification history, agree/suggest, quality votes; the popup stays inside the map as it grows
    const fit = () => { keepPopupInView(map, popup.getElement()); clearLegend(); };
    popup.getElement().querySelector(".popup-ids").addEventListener("toggle", fit);
    popup.getElement().querySelector(".popup-body img")?.addEventListener("load", fit);  // it grows the popup
    fit();
    mountCommunity(popup.getElement().querySelector(".community-slot"), d.id, fit);
    if (window.dawnMap.config.user.researcher) {  // reviewers rate the sound
      mountRating(popup.getElement().querySelector(".rating-slot"), d, (rating) => {
        popup.getElement().querySelector("dd.rating").textContent = rating || "not rated";
      });
    }
  } catch (error) {
    popup.setHTML(`<p role="alert">Could not load: ${esc(error.message)}</p>`);
  }
}

// MapLibre's compact attribution opens once its sources have loaded; fold it to its (i) button so it covers neither the scale
// bar nor a popup's player. It opens again on click.
function foldAttribution() {
  const box = document.querySelector(".maplibregl-ctrl-attrib");
  if (box) { box.classList.remove("maplibregl-compact-show"); box.removeAttribute("open"); }
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
