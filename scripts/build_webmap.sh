#!/usr/bin/env bash
# Build the researchers' web map (webmap/) into webmap/dist, which Django serves at /map/.
# Fast and silent when nothing changed: the build is stamped with a hash of package-lock.json and
# the web map's sources. `npm ci` runs only when the lock file changed. Fails loudly on errors.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/webmap"
cd "$WEB"
log() { printf '\033[1;34m[webmap]\033[0m %s\n' "$*" >&2; }

sources_hash() {
  { sha256sum package.json package-lock.json vite.config.js index.html review.html
    find src tools public -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16
}
stamp="dist/.build-$(sources_hash)"
[ -f "$stamp" ] && [ -f dist/index.html ] && exit 0

if ! command -v npm >/dev/null 2>&1; then
  log "installing Node.js and npm (apt)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$ROOT/var"
lock_stamp="node_modules/.dawn-lock-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$lock_stamp" ]; then
  log "installing npm packages (npm ci)"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$ROOT/var/webmap-npm.log" 2>&1; then
    tail -30 "$ROOT/var/webmap-npm.log" >&2; log "npm ci failed (log: var/webmap-npm.log)"; exit 1
  fi
  touch "$lock_stamp"
fi
log "building the web map"
if ! npm run build --silent >"$ROOT/var/webmap-build.log" 2>&1; then
  tail -40 "$ROOT/var/webmap-build.log" >&2; log "web map build failed (log: var/webmap-build.log)"; exit 1
fi
[ -f dist/index.html ] || { log "build produced no dist/index.html"; exit 1; }
touch "$stamp"
