// Vite build: static files under webmap/dist, served by Django at /static/webmap/ (index at /map/).
// tools/offline-assets.js adds the offline basemap's data and OpenLayers (the admin's area widget)
// at stable paths.
import { defineConfig } from "vite";
import offlineAssets from "./tools/offline-assets.js";

export default defineConfig({
  base: "/static/webmap/",
  plugins: [offlineAssets()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500, assetsInlineLimit: 0 },
  logLevel: "warn",
});
