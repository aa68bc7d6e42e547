// Species page: abundance over time as an SVG bar chart, and the species' route drawn on the map.
import { getJson } from "./api.js";

export async function showSpecies(map, label, params) {
  const page = document.getElementById("species-page");
  const interval = document.getElementById("s-interval");
  const query = new URLSearchParams(params);
  query.delete("species");
  const key = encodeURIComponent(label);
  const draw = async () => {
    const q = new URLSearchParams(query); q.set("interval", interval.value);
    const [abundance, route] = await Promise.all([
      getJson(`/api/v1/map/species/${key}/abundance/?${q}`), getJson(`/api/v1/map/species/${key}/route/?${query}`)]);
    document.getElementById("species-title").textContent = `${abundance.common_name}: ${abundance.total} observations`;
    chart(abundance.series);
    map.getSource("route").setData(route);
    const points = route.features.filter((f) => f.geometry.type === "Point");
    document.getElementById("route-summary").textContent = points.length
      ? `Route: ${points.length} observations from ${points[0].properties.observed_at.slice(0, 10)} to ${points.at(-1).properties.observed_at.slice(0, 10)}.`
      : "No observations match the filters.";
  };
  interval.onchange = draw;
  page.hidden = false;
  await draw();
  page.scrollIntoView({ block: "nearest" });
}

function chart(series) {
  const svg = document.getElementById("abundance");
  svg.replaceChildren();
  if (!series.length) return;
  const max = Math.max(...series.map((s) => s.count));
  const w = 300 / series.length;
  const ns = "http://www.w3.org/2000/svg";
  series.forEach((s, i) => {
    const h = (s.count / max) * 100;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(i * w)); rect.setAttribute("y", String(110 - h));
    rect.setAttribute("width", String(Math.max(w - 1, 0.5))); rect.setAttribute("height", String(h));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${s.period}: ${s.count}`;
    rect.append(title); svg.append(rect);
  });
  for (const [i, anchor] of [[0, "start"], [series.length - 1, "end"]]) {
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", String(anchor === "start" ? 0 : 300)); text.setAttribute("y", "119");
    text.setAttribute("text-anchor", anchor); text.textContent = series[i].period;
    svg.append(text);
  }
}
