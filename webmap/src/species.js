// Species page: how often the species is recorded through the year (share of observations per week, all years
// pooled), its count per year, a gridded abundance layer on the map, and the Time travel scenario's waypoints
// (the game's order of visits, not a bird's path).
import { getJson } from "./api.js";
import { weeklyChart, yearlyChart } from "./charts.js";

const EMPTY = { type: "FeatureCollection", features: [] };

export async function showSpecies(map, label, params) {
  const page = document.getElementById("species-page");
  const query = new URLSearchParams(params);
  query.delete("species");
  const key = encodeURIComponent(label);
  const [frequency, grid, travel] = await Promise.all([
    getJson(`/api/v1/map/species/${key}/frequency/?${query}`), getJson(`/api/v1/map/species/${key}/grid/?${query}`),
    getJson(`/api/v1/map/species/${key}/timetravel/`)]);
  document.getElementById("species-title").textContent = `${frequency.common_name}: ${frequency.total} observations`;
  weeklyChart(document.getElementById("abundance"), frequency.weeks);
  yearlyChart(document.getElementById("per-year"), frequency.years);
  map.getSource("species-grid").setData(grid);
  document.getElementById("grid-summary").textContent = grid.features.length
    ? `Map: observations per ${grid.cell_degrees}° cell (public positions), up to ${grid.max} in one cell.` : "";
  map.getSource("route").setData(travel);
  const steps = travel.features.filter((f) => f.geometry.type === "Point");
  document.getElementById("route-summary").textContent = steps.length
    ? `Time travel (a game scenario): the ${steps.length} oldest observations of this species, numbered in date order ` +
      `from ${String(steps[0].properties.observed_at).slice(0, 10)} to ${String(steps.at(-1).properties.observed_at).slice(0, 10)}. ` +
      "Players visit them in this order; each is a different recording, so the line is the game's order of visits, not a bird's route."
    : "No observations to travel through.";
  page.hidden = false;
  page.scrollIntoView({ block: "nearest" });
}

export function closeSpecies(map) {
  document.getElementById("species-page").hidden = true;
  for (const id of ["route", "species-grid"]) map.getSource(id)?.setData(EMPTY);
}
