#!/usr/bin/env bash
# Run the Kivy field client on this desktop against the local server (`make run` in another shell).
#   DAWN_SERVER_URL  server to talk to (default http://127.0.0.1:8000)
#   DAWN_WINDOW      window size WIDTHxHEIGHT (default 412x915: a phone in portrait; 800x1280 a tablet)
#   DAWN_MIC_FILE    audio file played as the microphone (default: sounddevice if installed, else a demo clip)
#   DAWN_APP_DIR     app data (queue, token, models; default var/mobile)
#   DAWN_AUDIO_OUT   auto (sounddevice stream if installed, else Kivy) or capture (silent)
# The bootstrap (apt packages, virtualenv, services) runs only when the virtualenv is missing or
# pyproject.toml changed since it was installed; the phone app needs no database.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
stamp=".venv/.dawn-deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || ! .venv/bin/python -c "import kivy, kivy_garden.mapview" 2>/dev/null; then
  bash scripts/bootstrap.sh
fi
export DAWN_SERVER_URL="${DAWN_SERVER_URL:-http://127.0.0.1:8000}"
export DAWN_APP_DIR="${DAWN_APP_DIR:-$ROOT/var/mobile}"
export DAWN_WINDOW="${DAWN_WINDOW:-412x915}"
export KIVY_NO_ARGS=1
export KIVY_CLIPBOARD="${KIVY_CLIPBOARD:-sdl2}"
mkdir -p "$DAWN_APP_DIR"
# the map's offline basemap (mobile/assets/, not in git): rendered once from Natural Earth, a few seconds
.venv/bin/python -c "from mobile.basemap_build import ensure; ensure()" >/dev/null || \
  echo "note: no offline basemap (webmap/node_modules missing?); the map draws on a plain background" >&2
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: run inside a desktop session (or start Xvfb and set DISPLAY)." >&2
  exit 1
fi
exec .venv/bin/python -m mobile.main
