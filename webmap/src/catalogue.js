// The catalogue's nameable taxa and city-sound classes (GET /api/v1/species/?rank=…, every page) as a
// <datalist> for identification inputs: the option's value is the catalogue label the API expects, its
// text the common and scientific names and, above species, the rank ("Setophaga warblers (genus)").
import { getJson } from "./api.js";

let loading = null;

export function loadCatalogue() {
  loading ??= (async () => {
    const all = [];
    for (let url = "/api/v1/species/?rank=species,genus,family,order,class,sound_class"; url;) {
      const page = await getJson(url);
      all.push(...(page.results || page));
      url = page.next ? new URL(page.next).pathname + new URL(page.next).search : "";
    }
    return all.sort((a, b) => String(a.common_name || a.label).localeCompare(String(b.common_name || b.label)));
  })();
  return loading;
}

// One shared <datalist id="catalogue-list"> in the document; inputs refer to it with list="catalogue-list".
export async function ensureDatalist() {
  let list = document.getElementById("catalogue-list");
  if (list) return list;
  list = document.createElement("datalist");
  list.id = "catalogue-list";
  document.body.append(list);
  for (const s of await loadCatalogue()) {
    const option = document.createElement("option");
    option.value = s.label;
    const rank = s.rank && !["species", "sound_class"].includes(s.rank) ? `, ${s.rank}` : "";
    option.textContent = s.scientific_name ? `${s.common_name || s.label} (${s.scientific_name}${rank})` : (s.common_name || s.label);
    list.append(option);
  }
  return list;
}
