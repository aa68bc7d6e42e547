// Vite build: static files under webmap/dist, served by Django at /static/webmap/ (index at /map/).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/webmap/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500, assetsInlineLimit: 0 },
  logLevel: "warn",
});
