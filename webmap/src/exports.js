// Export buttons (researchers): small exports download at once, large ones run as a job with progress.
import { api, getJson } from "./api.js";

function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

export async function runExport(suffix, params) {
  const status = document.getElementById("export-status");
  status.textContent = "Preparing export…";
  try {
    const response = await api(`/api/v1/map/export.${suffix}?${params}`);
    save(await response.blob(), `dawn-chorus.${suffix}`);
    status.textContent = `Downloaded ${response.headers.get("X-Record-Count")} records.`;
  } catch (error) {
    if (!String(error.message).startsWith("export_too_large")) { status.textContent = `Export failed: ${error.message}`; return; }
    const format = { csv: "csv", geojson: "geojson", zip: "dwca" }[suffix];
    const filters = Object.fromEntries(params.entries());
    let job = await (await api("/api/v1/map/exports/", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ format, filters }) })).json();
    while (job.status === "queued" || job.status === "running") {
      status.textContent = `Exporting… ${Math.round(job.progress * 100)}%`;
      await new Promise((r) => setTimeout(r, 1000));
      job = await getJson(`/api/v1/map/exports/${job.id}/`);
    }
    if (job.status !== "done") { status.textContent = `Export failed: ${job.error}`; return; }
    save(await (await api(job.download_url)).blob(), `dawn-chorus.${suffix}`);
    status.textContent = `Downloaded ${job.total} records.`;
  }
}
