// Review page for researchers (/map/review/): the queue in medoid order, then per recording its audio,
// a spectrogram of the marked segment, a label form and (for a medoid) the label's propagation to its
// cluster after an explicit confirmation. Identification history and community actions come from
// community.js. API: /api/v1/review/queue/, /api/v1/review/labels/.
import "./style.css";
import "./review.css";
import { api, getJson, login } from "./api.js";
import { ensureDatalist } from "./catalogue.js";
import { mountCommunity } from "./community.js";
import { esc } from "./html.js";

const state = { queue: [], current: null, labelled: new Set() };
const $ = (id) => document.getElementById(id);

async function main() {
  const config = await getJson("/api/v1/map/config/");
  window.dawnReview = state;
  const user = config.user;
  $("whoami").hidden = !user.authenticated;
  $("whoami").textContent = user.authenticated ? `${user.username}${user.researcher ? " (researcher)" : ""}` : "";
  $("login-form").hidden = user.authenticated;
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await login(e.target.username.value, e.target.password.value); window.location.reload(); } catch (error) { alert(error.message); }
  });
  if (!user.researcher) {
    $("queue-panel").hidden = true;
    $("review-denied").hidden = false;
    $("review-denied").textContent = user.authenticated ? "The review queue is for researchers." : "Sign in as a researcher to review recordings.";
    document.body.dataset.reviewReady = "1";
    return;
  }
  ensureDatalist().catch(() => {});
  $("label-form").addEventListener("submit", (e) => { e.preventDefault(); submitLabel(); });
  await loadQueue();
}

async function loadQueue() {
  $("queue-state").textContent = "Building the queue (embedding and clustering)…";
  state.queue = (await getJson("/api/v1/review/queue/")).results;
  $("queue-state").textContent = state.queue.length ? `${state.queue.length} recordings to review.` : "Nothing to review.";
  drawQueue();
  document.body.dataset.reviewReady = "1";
  const first = state.queue.find((e) => !state.labelled.has(e.observation));
  if (first) await select(first);
}

function drawQueue() {
  $("queue").innerHTML = state.queue.map((e, i) => `<li><button type="button" data-observation="${e.observation}"
      class="${state.labelled.has(e.observation) ? "done" : ""}" aria-current="${state.current?.observation === e.observation}">
      ${i + 1}. ${esc(e.common_name || e.species)}${e.is_medoid ? `<span class="badge">medoid of ${e.cluster_size}</span>` : ""}
      <span class="meta">#${e.observation} · ${esc(String(e.observed_at).slice(0, 10))} · uncertainty ${Number(e.uncertainty).toFixed(2)}${state.labelled.has(e.observation) ? " · labelled" : ""}</span></button></li>`).join("");
  for (const b of $("queue").querySelectorAll("button")) {
    b.addEventListener("click", () => select(state.queue.find((e) => e.observation === Number(b.dataset.observation))));
  }
}

function drawFacts(entry) {
  $("item-facts").innerHTML = `<dt>Current species</dt><dd>${esc(entry.species)}</dd>
    <dt>Grade</dt><dd>${esc(String(entry.status || "").replace("_", " "))}</dd>
    <dt>Confidence</dt><dd>${entry.confidence == null ? "–" : Number(entry.confidence).toFixed(2)}</dd>
    <dt>Recorded</dt><dd>${esc(String(entry.observed_at).replace("T", " ").slice(0, 16))} UTC</dd>
    <dt>Cluster</dt><dd>${entry.is_medoid ? `medoid of ${entry.cluster_size} recordings` : `member of #${entry.medoid}'s cluster (${entry.cluster_size})`}</dd>`;
}

async function select(entry) {
  state.current = entry;
  drawQueue();
  $("item").hidden = false;
  $("item-title").textContent = `#${entry.observation}: ${entry.common_name || entry.species}`;
  drawFacts(entry);
  $("label-species").value = entry.species;
  const others = entry.is_medoid ? state.queue.filter((e) => e.medoid === entry.observation && e.observation !== entry.observation && !state.labelled.has(e.observation)).length : 0;
  $("propagate-row").hidden = others === 0;
  $("label-propagate").checked = false;
  $("propagate-text").textContent = `Also label the ${others} other recording${others === 1 ? "" : "s"} of its cluster`;
  $("label-status").textContent = "";
  $("label-form").hidden = state.labelled.has(entry.observation);
  $("next-recording").hidden = true;
  if (state.labelled.has(entry.observation)) showNext();
  // the session cookie signs these requests in (researchers hear the private, tag-free copy)
  const audio = $("item-audio"), img = $("item-spectrogram");
  audio.onerror = () => { $("label-status").textContent = "The recording's audio is unavailable."; };
  img.onerror = () => { img.alt = "No spectrogram: the recording's audio is unavailable."; };
  audio.src = entry.audio_url;
  img.src = entry.spectrogram_url;
  await mountCommunity($("item-history"), entry.observation);
}

// After a label: the next unlabelled recording of the queue, if any, one click away.
function showNext() {
  const next = state.queue.find((e) => !state.labelled.has(e.observation));
  $("next-recording").hidden = !next;
  $("next-recording").onclick = () => next && select(next);
}

function confirmPropagation(species, count) {
  const dialog = $("propagate-dialog");
  $("propagate-question").textContent = `Label this recording and the ${count} other recording${count === 1 ? "" : "s"} of its cluster as ${species}? Their species changes; each keeps the species it replaced.`;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
  });
}

async function submitLabel() {
  const entry = state.current;
  const species = $("label-species").value.trim();
  const propagate = !$("propagate-row").hidden && $("label-propagate").checked;
  if (propagate) {
    const count = state.queue.filter((e) => e.medoid === entry.observation && e.observation !== entry.observation && !state.labelled.has(e.observation)).length;
    if (!(await confirmPropagation(species, count))) { $("label-status").textContent = "Not labelled: propagation cancelled."; return; }
  }
  try {
    const response = await api("/api/v1/review/labels/", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ observation: entry.observation, species, propagate }) });
    const results = (await response.json()).results;
    for (const r of results) {
      state.labelled.add(r.observation);
      const queued = state.queue.find((e) => e.observation === r.observation);
      if (queued) Object.assign(queued, { species: r.species, common_name: "", status: r.status });
    }
    const me = results[0];
    $("label-status").textContent = `Labelled ${results.length} recording${results.length === 1 ? "" : "s"}: #${me.observation} ${me.previous_species} → ${me.species}, ${me.previous_status.replace("_", " ")} → ${me.status.replace("_", " ")}.`;
    document.body.dataset.lastLabel = JSON.stringify(results);
    drawFacts(entry);
    $("item-title").textContent = `#${entry.observation}: ${entry.species}`;
    $("label-form").hidden = true;
    showNext();
    mountCommunity($("item-history"), entry.observation);
    drawQueue();
  } catch (error) {
    $("label-status").textContent = `Not labelled: ${error.message}`;
  }
}

main().catch((error) => {
  $("queue-state").textContent = `The review page could not start: ${error.message}`;
  document.body.dataset.reviewReady = "1";
  console.error(error);
});
