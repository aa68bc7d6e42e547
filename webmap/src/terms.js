// A reviewer's half of a record's terms: researchers rate the sound (A best to E) from the popup
// (PATCH /api/v1/observations/{id}/terms/; the session cookie and CSRF header go with api()).
import { api } from "./api.js";

const RATINGS = ["A", "B", "C", "D", "E"];

export function mountRating(slot, observation, onSaved) {
  const options = [`<option value="">not rated</option>`, ...RATINGS.map((r) =>
    `<option value="${r}"${observation.rating === r ? " selected" : ""}>${r}</option>`)].join("");
  slot.innerHTML = `<form class="rate"><label>Rate the sound <select name="rating">${options}</select></label>
    <button type="submit">Save rating</button> <span class="help" role="status"></span></form>`;
  const form = slot.querySelector("form");
  const status = form.querySelector("[role=status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const response = await api(`/api/v1/observations/${observation.id}/terms/`, {
        method: "PATCH", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ rating: form.rating.value }),
      });
      const rating = (await response.json()).properties.rating;
      status.textContent = "Saved.";
      onSaved(rating);
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
    }
  });
}
