// SVG charts with axes for the species page: bars over the 53 ISO weeks of a year, and a line over years.
// Every week and every year is drawn, zeros included, so gaps are visible as gaps.
const NS = "http://www.w3.org/2000/svg";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const W = 360, H = 190, M = { left: 44, right: 10, top: 10, bottom: 42 };

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
}

/** "Nice" upper bound and ticks for 0…max (at least 1 step): 0, step, 2·step, … ≥ max. */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return { top: 1, ticks: [0, 1] };
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Math.round(v * 1e9) / 1e9);
  return { top, ticks };
}

function frame(svg, { top, ticks }, format, yTitle, xTitle) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const plotH = H - M.top - M.bottom;
  const y = (v) => M.top + plotH - (v / top) * plotH;
  for (const t of ticks) {
    svg.append(el("line", { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: "grid" }));
    svg.append(el("text", { x: M.left - 5, y: y(t) + 4, "text-anchor": "end", class: "tick" }, format(t)));
  }
  svg.append(el("line", { x1: M.left, x2: M.left, y1: M.top, y2: M.top + plotH, class: "axis" }));
  svg.append(el("line", { x1: M.left, x2: W - M.right, y1: M.top + plotH, y2: M.top + plotH, class: "axis" }));
  svg.append(el("text", { x: 12, y: M.top + plotH / 2, transform: `rotate(-90 12 ${M.top + plotH / 2})`, "text-anchor": "middle", class: "axis-title" }, yTitle));
  svg.append(el("text", { x: M.left + (W - M.left - M.right) / 2, y: H - 4, "text-anchor": "middle", class: "axis-title" }, xTitle));
  return y;
}

/** Weekly frequency: `weeks` is [{week 1…53, count, all, share}]; bar height is the share (in %). */
export function weeklyChart(svg, weeks) {
  const max = Math.max(0, ...weeks.map((w) => w.share * 100));
  const y = frame(svg, niceTicks(max), (v) => `${v}%`, "% of observations", "Week of the year (ISO), all years pooled");
  const slot = (W - M.left - M.right) / weeks.length;
  weeks.forEach((w, i) => {
    const x = M.left + i * slot;
    const rect = el("rect", { x: x + 0.5, y: y(w.share * 100), width: Math.max(slot - 1, 0.5), height: y(0) - y(w.share * 100), class: w.count ? "bar" : "bar zero" });
    rect.dataset.week = String(w.week);
    rect.append(el("title", {}, `Week ${w.week}: ${w.count} of ${w.all} observations (${(w.share * 100).toFixed(1)}%)`));
    svg.append(rect);
  });
  // month labels at the week each month starts in (ISO week of the 4th ≈ the month's first full week)
  MONTHS.forEach((name, m) => {
    const week = Math.min(53, Math.floor((Date.UTC(2021, m, 1) - Date.UTC(2021, 0, 4)) / 604800000) + 1);
    const x = M.left + (Math.max(week, 1) - 1) * slot;
    svg.append(el("line", { x1: x, x2: x, y1: y(0), y2: y(0) + 4, class: "axis" }));
    svg.append(el("text", { x: x + 1, y: y(0) + 15, class: "tick" }, name));
  });
}

/** Observations per year: `years` is [{year, count}] over consecutive years; zeros sit on the axis. */
export function yearlyChart(svg, years) {
  const max = Math.max(0, ...years.map((r) => r.count));
  const y = frame(svg, niceTicks(max), (v) => String(v), "observations", "Year");
  if (!years.length) return;
  const span = W - M.left - M.right - 12;
  const x = (i) => M.left + 6 + (years.length === 1 ? span / 2 : (i / (years.length - 1)) * span);
  svg.append(el("polyline", { points: years.map((r, i) => `${x(i)},${y(r.count)}`).join(" "), class: "line" }));
  const every = Math.max(1, Math.ceil(years.length / 7));
  years.forEach((r, i) => {
    const dot = el("circle", { cx: x(i), cy: y(r.count), r: 3, class: r.count ? "dot" : "dot zero" });
    dot.dataset.year = String(r.year);
    dot.append(el("title", {}, `${r.year}: ${r.count}`));
    svg.append(dot);
    if (i % every === 0 || i === years.length - 1) svg.append(el("text", { x: x(i), y: y(0) + 15, "text-anchor": "middle", class: "tick" }, String(r.year)));
  });
}
