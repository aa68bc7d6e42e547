#!/usr/bin/env bash
# Run the whole test suite against real PostgreSQL/PostGIS and Redis (bootstrapping first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source var/env.sh
# Tests use their own Redis database and Celery queue, so a running `make run` is left alone.
# DAWN_TEST_REDIS_DB / DAWN_TEST_QUEUE / DAWN_TEST_DB_NAME / MEDIA_ROOT let parallel runs coexist.
export REDIS_URL="${REDIS_URL%/*}/${DAWN_TEST_REDIS_DB:-15}"
export DAWN_CELERY_QUEUE="${DAWN_TEST_QUEUE:-dawn-test}"
export MEDIA_ROOT="${DAWN_TEST_MEDIA_ROOT:-$ROOT/var/test-media}"
exec .venv/bin/python -m pytest "$@"
