#!/usr/bin/env bash
# Start Dawn Chorus with demo data: ASGI web server, Celery worker and beat. Ctrl-C stops all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source var/env.sh
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

if $PY -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('$HOST', $PORT))!=0)"; then
  echo "Port $PORT on $HOST is in use; stop that server or run PORT=8001 make run" >&2
  exit 1
fi

$PY manage.py migrate --noinput -v 0
$PY manage.py load_species
$PY manage.py load_demo
$PY manage.py make_public_clips
$PY manage.py create_demo_users
$PY manage.py load_game
$PY manage.py register_model fixtures/models/field.npz --set field --source shipped --if-none-current

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "[run] stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  $PY scripts/services.py stop
}
trap cleanup INT TERM EXIT

mkdir -p var/log
.venv/bin/celery -A server worker -l info --concurrency "${WORKER_CONCURRENCY:-2}" -Q "${DAWN_CELERY_QUEUE:-dawn}" \
  >var/log/worker.log 2>&1 & pids+=($!)
.venv/bin/celery -A server beat -l info --schedule var/celerybeat-schedule >var/log/beat.log 2>&1 & pids+=($!)
.venv/bin/uvicorn server.asgi:application --host "$HOST" --port "$PORT" --workers "${WEB_WORKERS:-2}" \
  --no-access-log --no-proxy-headers --lifespan off & pids+=($!)  # client addresses: DAWN_TRUSTED_PROXIES

for _ in $(seq 1 100); do
  curl -fsS "http://$HOST:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
cat <<MSG

  Dawn Chorus is running (logs: var/log/).
    API          http://$HOST:$PORT/api/v1/
    API docs     http://$HOST:$PORT/api/docs/       (OpenAPI schema: /api/schema/)
    Admin        http://$HOST:$PORT/admin/          (demo users: see 'create_demo_users' output above)
    Map data     http://$HOST:$PORT/api/v1/observations/?bbox=-67.5,17.8,-65.2,18.6
    Web map      http://$HOST:$PORT/map/
    Websocket    ws://$HOST:$PORT/ws/v1/events/  (token in the subprotocols: dawn.v1, token.<token>)
  Press Ctrl-C to stop everything this command started.

MSG
wait -n "${pids[@]}"
echo "[run] shutting down: interrupted, or a process exited (logs in var/log/)" >&2
