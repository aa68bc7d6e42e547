// The filter panel: reads the form into query parameters; the date range slider can play.
const DAY_MS = 86400000;

// The species list's groups: species by kind, city sounds, then whatever is identified only above species
// rank (a genus, a family, "unknown bird", an unidentified animal), which is no species.
const GROUPS = [
  ["Birds", (s) => s.rank === "species" && s.kind === "bird"],
  ["Amphibians", (s) => s.rank === "species" && s.kind === "amphibian"],
  ["Other species", (s) => s.rank === "species"],
  ["City sounds", (s) => s.rank === "sound_class"],
  ["Identified above species", () => true],
];

function optionText(s) {
  if (!s.scientific_name) return s.common_name;
  const rank = s.rank && s.rank !== "species" ? `${s.rank} ` : "";
  return `${s.common_name} (${rank}${s.scientific_name})`;
}

export function createFilters({ species, onChange }) {
  const form = document.getElementById("filters");
  const select = document.getElementById("f-species");
  const left = [...species];
  for (const [name, belongs] of GROUPS) {
    const members = left.filter(belongs);
    if (!members.length) continue;
    const group = document.createElement("optgroup");
    group.label = name;
    for (const s of members) {
      const option = document.createElement("option");
      option.value = s.label;
      option.textContent = optionText(s);
      group.append(option);
      left.splice(left.indexOf(s), 1);
    }
    select.append(group);
  }
  const from = document.getElementById("f-from");
  const to = document.getElementById("f-to");
  const conf = document.getElementById("f-conf");
  const play = document.getElementById("play");
  // The date sliders count weeks from the first observed year to today.
  const start = Date.UTC(1990, 0, 1);
  const weeks = Math.ceil((Date.now() - start) / (7 * DAY_MS));
  for (const input of [from, to]) { input.max = String(weeks); }
  to.value = String(weeks);
  const isoDay = (week) => new Date(start + Number(week) * 7 * DAY_MS).toISOString().slice(0, 10);
  const showDates = () => {
    if (Number(from.value) > Number(to.value)) to.value = from.value;
    document.getElementById("f-from-out").textContent = isoDay(from.value);
    document.getElementById("f-to-out").textContent = isoDay(to.value);
  };
  const showConf = () => { document.getElementById("f-conf-out").textContent = Number(conf.value).toFixed(2); };
  showDates(); showConf();

  function params() {
    const p = new URLSearchParams();
    const chosen = [...select.selectedOptions].map((o) => o.value);
    if (chosen.length) p.set("species", chosen.join(","));
    if (Number(from.value) > 0) p.set("date_from", isoDay(from.value));
    if (Number(to.value) < weeks) p.set("date_to", isoDay(to.value));
    const tf = document.getElementById("f-time-from").value;
    const tt = document.getElementById("f-time-to").value;
    if (tf) p.set("time_from", tf);
    if (tt) p.set("time_to", tt);
    const grades = [...form.querySelectorAll("input[name=grade]:checked")].map((c) => c.value);
    if (grades.length) p.set("grade", grades.join(","));
    const ratings = [...form.querySelectorAll("input[name=rating]:checked")].map((c) => c.value);
    if (ratings.length) p.set("rating", ratings.join(","));
    if (Number(conf.value) > 0) p.set("min_confidence", conf.value);
    const type = document.getElementById("f-type").value;
    if (type) p.set("type", type);
    return p;
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); onChange(params()); });
  form.addEventListener("reset", () => setTimeout(() => { to.value = String(weeks); showDates(); showConf(); onChange(params()); }));
  from.addEventListener("input", showDates);
  to.addEventListener("input", showDates);
  conf.addEventListener("input", showConf);

  // Play: slide a window of the chosen width forwards through time, one step per second.
  let timer = null;
  play.addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "▶ Play"; play.setAttribute("aria-pressed", "false"); return; }
    const width = Math.max(4, Number(to.value) - Number(from.value));
    if (Number(to.value) >= weeks) { from.value = "0"; to.value = String(width); }
    play.textContent = "❚❚ Pause"; play.setAttribute("aria-pressed", "true");
    timer = setInterval(() => {
      const step = Math.max(1, Math.round(width / 4));
      if (Number(to.value) >= weeks) { play.click(); return; }
      from.value = String(Number(from.value) + step);
      to.value = String(Math.min(weeks, Number(from.value) + width));
      showDates();
      onChange(params());
    }, 1000);
  });
  return { params };
}
