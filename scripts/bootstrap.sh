#!/usr/bin/env bash
# Bootstrap Dawn Chorus on a Debian-like machine: system packages (apt), a virtualenv with the
# Python dependencies, and the PostgreSQL/PostGIS + Redis services (reused or started under var/).
# Idempotent: every step is skipped when it is already satisfied. Writes var/env.sh for callers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
mkdir -p var

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }

# --- 1. system packages -------------------------------------------------------------------
APT_PACKAGES=(postgresql-15-postgis-3 gdal-bin libgdal32 libgeos-c1v5 libproj25 redis-server
              xvfb xauth libgl1 libgl1-mesa-dri chromium)  # last line: Kivy and browser tests
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. virtualenv --------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.dawn-deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies (first run takes a few minutes)"
  if ! { "$VENV/bin/pip" install --upgrade pip setuptools wheel && "$VENV/bin/pip" install -e ".[dev]"; } \
      >var/pip-install.log 2>&1; then
    tail -40 var/pip-install.log >&2; log "pip install failed (full log: var/pip-install.log)"; exit 1
  fi
  rm -f "$VENV"/.dawn-deps-*; touch "$stamp"
fi

# --- 3. the researchers' web map (static files Django serves) ---------------------------------
[ -f scripts/build_webmap.sh ] && bash scripts/build_webmap.sh

# --- 4. services ----------------------------------------------------------------------------
"$VENV/bin/python" scripts/services.py ensure > var/env.sh
log "services ready ($(grep -c export var/env.sh) settings in var/env.sh)"
