#!/usr/bin/env bash
# Run the whole test suite against real PostgreSQL/PostGIS and Redis (bootstrapping first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source var/env.sh
# Tests use their own Redis database and Celery queue, so a running `make run` is left alone.
export REDIS_URL="${REDIS_URL%/*}/15"
export DAWN_CELERY_QUEUE="dawn-test"
export MEDIA_ROOT="$ROOT/var/test-media"
exec .venv/bin/python -m pytest "$@"
