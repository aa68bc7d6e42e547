#!/usr/bin/env bash
# Benchmarks (not part of `make test`): ingest + analysis throughput, on real clips.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source var/env.sh
exec .venv/bin/python tests/benchmarks/bench_ingest.py "$@"
