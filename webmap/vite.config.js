// Vite build: static files under webmap/dist, served by Django at /static/webmap/ (index at /map/).
// tools/offline-assets.js adds the offline basemap's data and OpenLayers (the admin's area widget)
// at stable paths.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import offlineAssets from "./tools/offline-assets.js";

const page = (name) => fileURLToPath(new URL(name, import.meta.url));

export default defineConfig({
  base: "/static/webmap/",
  plugins: [offlineAssets()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500, assetsInlineLimit: 0,
    // two pages: the map (/map/) and the researchers' review page (/map/review/)
    rollupOptions: { input: { main: page("index.html"), review: page("review.html") } } },
  logLevel: "warn",
});
