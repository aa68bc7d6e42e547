// Community identification in the browser: an observation's identification history (withdrawn
// identifications struck through, every change of species with its cause, the review label) and, for a
// signed-in user who may identify and does not own it, "Agree", "Suggest an ID", "Withdraw" and the
// data-quality votes. Everything comes from /api/v1/observations/<id>/identifications/ and .../quality/.
import "./community.css";
import { api, getJson } from "./api.js";
import { ensureDatalist } from "./catalogue.js";
import { esc } from "./html.js";

const METRICS = [["date", "Date is right"], ["location", "Location is right"], ["wild", "Wild (not captive or playback)"],
  ["audible", "The species is audible"]];
const CAUSES = { community: (a) => `the community taxon${a ? ` after ${a}'s identification` : ""}`,
  review: (a) => `${a ? `${a}'s ` : "a "}review label`, propagated: (a) => `${a ? `${a}'s ` : "a "}review label of its cluster` };

const day = (iso) => String(iso || "").slice(0, 10);

// One timeline: identifications and species changes, oldest first.
export function timeline(h) {
  const idents = h.results.map((i) => ({ at: i.created_at, html: i.current
    ? `<b>${esc(i.identifier)}</b> ${i.kind === "agree" ? "agrees" : "suggests"}: ${esc(i.common_name || i.species)}`
    : `<del><b>${esc(i.identifier)}</b> ${i.kind === "agree" ? "agreed" : "suggested"}: ${esc(i.common_name || i.species)}</del> <span class="withdrawn">withdrawn ${day(i.withdrawn_at)}</span>`,
  cls: i.current ? "ident" : "ident withdrawn-row" }));
  const changes = h.species_changes.map((c) => ({ at: c.created_at, cls: "change",
    html: `Species set to <b>${esc(c.species)}</b> (was ${esc(c.previous_species)}) by ${(CAUSES[c.cause] || (() => esc(c.cause)))(c.actor ? esc(c.actor) : "")}` }));
  return [...idents, ...changes].sort((a, b) => String(a.at).localeCompare(String(b.at)));
}

function actionsHtml(h) {
  const v = h.viewer;
  if (!v.signed_in) return `<p class="help">Sign in to identify or vote.</p>`;
  if (v.own) return `<p class="help">Your own recording: others identify it and vote on its quality.</p>`;
  if (!v.may_identify) return `<p class="help">Identifying and quality votes unlock at level 2.</p>`;
  const agree = v.identification === h.species.label ? `<p class="help">You agree with ${esc(h.species.common_name)}.</p>`
    : `<button type="button" data-act="agree">Agree: ${esc(h.species.common_name)}</button>`;
  const withdraw = v.identification ? `<button type="button" class="secondary" data-act="withdraw">Withdraw my ID (${esc(v.identification)})</button>` : "";
  const votes = METRICS.map(([metric, text]) => {
    const q = h.quality[metric] || { agree: 0, disagree: 0 };
    const mine = v.votes[metric];
    const button = (agrees, label, n) => `<button type="button" class="vote${mine === agrees ? " chosen" : ""}" data-metric="${metric}" data-agrees="${agrees}"
      ${mine === undefined ? "" : "disabled"} aria-label="${esc(text)}: ${label} (${n} so far)">${label} ${n}</button>`;
    return `<li><span>${esc(text)}</span>${button(true, "Yes", q.agree)}${button(false, "No", q.disagree)}</li>`;
  }).join("");
  return `<div class="id-actions">${agree}
    <form class="suggest"><label>Suggest an ID <input name="species" list="catalogue-list" autocomplete="off" required placeholder="Species name"></label>
      <button type="submit">Suggest</button></form>${withdraw}</div>
    <h5>Data quality</h5><ul class="quality">${votes}</ul>`;
}

export function render(container, h) {
  const g = h.grade;
  const expert = h.review && !h.review.propagated;
  const why = expert ? `set by ${esc(h.review.reviewer)}'s review`
    : `${g.agreeing} of ${g.identifications} identifications agree`;
  const review = h.review ? `<p class="review-note">Reviewed by <b>${esc(h.review.reviewer)}</b>${h.review.propagated ? " (propagated from its cluster)" : ""}: ${esc(h.review.species)}, ${day(h.review.created_at)}</p>` : "";
  const rows = timeline(h).map((r) => `<li class="${r.cls}">${r.html} <time datetime="${esc(r.at)}">${day(r.at)}</time></li>`).join("");
  container.innerHTML = `<div class="community" data-observation="${h.observation}">
    <p class="taxon">Now: <b data-role="species">${esc(h.species.common_name)}</b> <i>${esc(h.species.scientific_name)}</i> · <span data-role="grade">${esc(h.status.replace("_", " "))}</span>
      <span class="help">(${why}; the recordist said ${esc(h.observer_claim.common_name)})</span></p>
    <p class="community-status" role="status" aria-live="polite"></p>
    ${review}
    ${rows ? `<ol class="id-history" aria-label="Identification history">${rows}</ol>` : "<p class=\"help\">No identifications yet.</p>"}
    ${actionsHtml(h)}
</div>`;
}

// Load and show the history in ``container``; actions re-render it. ``onChange(history)`` is told after
// every render (the first one included).
export async function mountCommunity(container, observationId, onChange = () => {}) {
  const url = `/api/v1/observations/${observationId}/identifications/`;
  const refresh = async () => {
    const h = await getJson(url);
    render(container, h);
    wire(h);
    return h;
  };
  const act = async (request, done) => {
    const status = container.querySelector(".community-status");
    try {
      await request();
      const h = await refresh();
      container.querySelector(".community-status").textContent = done(h);
      onChange(h);
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
      status.setAttribute("role", "alert");
    }
  };
  const post = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const wire = (h) => {
    const agree = container.querySelector("[data-act=agree]");
    agree?.addEventListener("click", () => act(() => post(url, { species: h.species.label, kind: "agree" }),
      (n) => `Saved. Now ${n.species.common_name}, ${n.status.replace("_", " ")}.`));
    container.querySelector("[data-act=withdraw]")?.addEventListener("click", () => act(() => api(url, { method: "DELETE" }),
      (n) => `Withdrawn. Now ${n.species.common_name}, ${n.status.replace("_", " ")}.`));
    const form = container.querySelector("form.suggest");
    if (form) {
      ensureDatalist().catch(() => {});
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        act(() => post(url, { species: form.species.value.trim(), kind: "suggest" }),
          (n) => `Saved. Now ${n.species.common_name}, ${n.status.replace("_", " ")}.`);
      });
    }
    for (const b of container.querySelectorAll("button.vote")) {
      b.addEventListener("click", () => act(() => post(`/api/v1/observations/${observationId}/quality/`,
        { metric: b.dataset.metric, agrees: b.dataset.agrees === "true" }), (n) => `Vote saved; grade ${n.status.replace("_", " ")}.`));
    }
  };
  try {
    const h = await refresh();
    onChange(h);
    return h;
  } catch (error) {
    container.innerHTML = `<p role="alert">Identifications could not load: ${esc(error.message)}</p>`;
    return null;
  }
}
