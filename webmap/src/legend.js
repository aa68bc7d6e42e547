// Colours and the legend. The commonest species get their own colour (as many as the palette holds); every
// other species shares one grey, so a colour never names two species. The legend is a MapLibre control: a
// <details> element, open on wide screens and folded on phones.
import { esc } from "./html.js";

export const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4",
  "#b2182b", "#4d9221", "#542788", "#8c510a", "#01665e", "#c51b7d", "#2166ac"];
export const OTHER = "#8a9096";
// cluster radius (px) for a count: as the "clusters" layer draws it
export const clusterRadius = (count) => 5 + (Math.log(1 + count) / 7) * 17;

/** [[label, common name, colour]] for the commonest species (by count), then the shared colour's entry. */
export function speciesColours(species) {
  const top = [...species].sort((a, b) => (b.count || 0) - (a.count || 0) || a.label.localeCompare(b.label)).slice(0, PALETTE.length);
  const entries = top.map((s, i) => [s.label, s.common_name, PALETTE[i]]);
  return { entries, others: species.length - top.length };
}

/** A MapLibre expression colouring features by their `species` property. */
export function colourExpression({ entries }) {
  const pairs = entries.flatMap(([label, , colour]) => [label, colour]);
  return pairs.length ? ["match", ["get", "species"], ...pairs, OTHER] : OTHER;
}

export class LegendControl {
  constructor(colours) { this.colours = colours; }

  onAdd() {
    const box = document.createElement("details");
    box.className = "maplibregl-ctrl legend";
    box.id = "legend";
    box.open = window.matchMedia("(min-width: 701px)").matches;
    const species = this.colours.entries.map(([, name, colour]) =>
      `<li><span class="swatch" style="background:${colour}"></span>${esc(name)}</li>`).join("");
    const others = this.colours.others ? `<li><span class="swatch" style="background:${OTHER}"></span>${this.colours.others} other species</li>` : "";
    const sizes = [1, 10, 100, 1000].map((n) => {
      const d = Math.round(clusterRadius(n) * 2);
      return `<li><span class="size" style="width:${d}px;height:${d}px"></span>${n.toLocaleString("en")}</li>`;
    }).join("");
    box.innerHTML = `<summary>Legend</summary>
      <h3>Species (the commonest in a cluster)</h3><ul class="species-list">${species}${others}</ul>
      <h3>Observations in a cluster</h3><ul class="sizes">${sizes}</ul>
      <h3>Other marks</h3><ul>
        <li><span class="swatch obscured"></span>Obscured records (sensitive species, and records beside them): somewhere in this 0.2° cell</li>
        <li><span class="swatch grid"></span>Species page: observations per cell</li>
        <li><span class="swatch step">1</span>Time travel waypoint (game order)</li>
        <li><span class="swatch town"></span>Town (GeoNames)</li></ul>`;
    this.box = box;
    return box;
  }

  onRemove() { this.box.remove(); }
}

const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/** While `popup` (a MapLibre Popup) is open, the open legend folds whenever the two overlap (call the returned
 * function after the popup moved or grew); when the popup closes, a legend folded this way opens again. */
export function foldLegendUnder(popup) {
  const legend = document.getElementById("legend");
  let folded = false;
  popup.on("close", () => { if (folded && legend) legend.open = true; });
  return () => {
    const element = popup.getElement();
    if (!legend || !legend.open || !element) return;
    if (overlap(legend.getBoundingClientRect(), element.getBoundingClientRect())) { legend.open = false; folded = true; }
  };
}
