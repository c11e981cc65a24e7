#!/usr/bin/env bash
# `make bench`: Vetted (gunicorn, PostgreSQL, Redis) against the MLflow server a team would pick
# instead, driven by the same load generator on loopback. Prints a table (bench/report.py).
# Every server runs in its own process group and is stopped on exit, however the script ends;
# the work folder (artifacts, uploads) is deleted, and the results stay in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PEER_VENV=bench/.venv-peer
RESULTS=bench/results
LOGS=$RESULTS/logs
BIG_FILE=bench/data/artifact-1gib.bin
PG_HOST=127.0.0.1
PG_URL=postgresql://postgres@$PG_HOST:5432
# SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the peer venv has psycopg2.
PEER_PG_URL=postgresql+psycopg2://postgres@$PG_HOST:5432
REDIS_DB_URL=redis://127.0.0.1:6379/1
WORK=$(mktemp -d --suffix=-vetted-bench)
GROUPS_STARTED=()

stop_group() {
    local pid=$1
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

clean_up() {
    for pid in "${GROUPS_STARTED[@]}"; do stop_group "$pid"; done
    # The bench queues and Celery's bookkeeping for them in the bench's Redis database.
    redis-cli -u "$REDIS_DB_URL" --scan --pattern '*bench*' 2>/dev/null |
        xargs -r redis-cli -u "$REDIS_DB_URL" del >/dev/null 2>&1 || true
    redis-cli -u "$REDIS_DB_URL" del _kombu.binding_deadlines unacked unacked_index \
        unacked_mutex >/dev/null 2>&1 || true
    for database in vetted_bench mlflow_bench; do
        psql -h $PG_HOST -U postgres -q -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" \
            >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap clean_up EXIT
trap 'exit 130' INT TERM

# Starts a command in a new session (its own process group) and prints the leader's pid.
start_group() {
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 &
    echo $!
}

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fresh_database() {
    psql -h $PG_HOST -U postgres -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
}

step() { printf '\n== %s\n' "$*" >&2; }

started_at=$(date +%s)
mkdir -p "$RESULTS" "$LOGS"
rm -f "$RESULTS"/*.json
pg_isready -q -h $PG_HOST -p 5432 || { echo "PostgreSQL is not answering on $PG_HOST:5432" >&2; exit 1; }
redis-cli -u "$REDIS_DB_URL" ping >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }

step "Sandbox: what bubblewrap adds to a load check (bench/sandbox_overhead.py)"
$PY bench/sandbox_overhead.py --rounds 9 --out "$RESULTS/sandbox.json" >"$LOGS/sandbox.log" 2>&1 ||
    { echo "The sandbox bench failed (see $LOGS/sandbox.log)" >&2; exit 1; }

step "1 GiB test file (made once: $BIG_FILE)"
$PY bench/load.py make-file "$BIG_FILE" $((1024 * 1024 * 1024))

# --- Vetted ---------------------------------------------------------------------------------
step "Vetted: fresh database vetted_bench, migrate, 1,000 models / 20,000 versions"
export DEBUG=false SECRET_KEY=bench-only-secret-key-not-used-anywhere-else ALLOWED_HOSTS=127.0.0.1
export SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false
export SECURE_HSTS_SECONDS=0 LOG_LEVEL=WARNING
export DATABASE_URL=$PG_URL/vetted_bench DATABASE_CONN_MAX_AGE=${DATABASE_CONN_MAX_AGE:-60}
export REDIS_URL=$REDIS_DB_URL CELERY_QUEUE=bench
export VETTED_VAR_DIR=$WORK/vetted FILE_UPLOAD_TEMP_DIR=$WORK/vetted/uploads
export MAX_UPLOAD_BYTES=$((4 * 1024 * 1024 * 1024))
mkdir -p "$FILE_UPLOAD_TEMP_DIR"
redis-cli -u "$REDIS_DB_URL" del bench >/dev/null
fresh_database vetted_bench
$PY manage.py migrate --noinput >"$LOGS/migrate.log"
$PY manage.py collectstatic --noinput >"$LOGS/collectstatic.log"
account=$($PY bench/seed.py account)
$PY bench/seed.py catalog >"$RESULTS/vetted-catalog.json"
# Fresh planner statistics, as autovacuum would have them on a database in use.
psql -h $PG_HOST -U postgres -d vetted_bench -q -c ANALYZE
field() { $PY -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$account" "$1"; }

# The serving setup of `make run` and the Docker image (vetted/gunicorn_conf.py: two processes
# per core, two threads each); the 1 GiB upload gets a longer timeout.
step "Vetted: gunicorn vetted.wsgi, $($PY -c 'import vetted.gunicorn_conf as c; print(c.workers, "workers x", c.threads, "threads")')"
VETTED_PORT=$(free_port)
WEB_PID=$(start_group "$LOGS/gunicorn.log" .venv/bin/gunicorn vetted.wsgi \
    --config python:vetted.gunicorn_conf --bind 127.0.0.1:"$VETTED_PORT" --timeout 600 \
    --log-level warning)
GROUPS_STARTED+=("$WEB_PID")
$PY bench/load.py wait "http://127.0.0.1:$VETTED_PORT/healthz"

# --- MLflow, the peer -----------------------------------------------------------------------
step "MLflow: mlflow server, 4 workers, from $PEER_VENV"
if [ ! -x "$PEER_VENV/bin/mlflow" ]; then
    echo "Installing bench/requirements-peer.txt into $PEER_VENV (first run only)" >&2
    if ! { ${PYTHON:-python3} -m venv "$PEER_VENV" &&
        "$PEER_VENV/bin/pip" install --quiet -r bench/requirements-peer.txt; } \
        >"$LOGS/peer-install.log" 2>&1; then
        echo "Could not install the peer (see $LOGS/peer-install.log); benching Vetted alone." >&2
        rm -rf "$PEER_VENV"
    fi
fi
peer_args=()
if [ -x "$PEER_VENV/bin/mlflow" ]; then
    fresh_database mlflow_bench
    MLFLOW_PORT=$(free_port)
    mkdir -p "$WORK/mlflow-artifacts"
    MLFLOW_PID=$(start_group "$LOGS/mlflow.log" "$PEER_VENV/bin/mlflow" server \
        --backend-store-uri "$PEER_PG_URL/mlflow_bench" \
        --artifacts-destination "$WORK/mlflow-artifacts" --serve-artifacts \
        --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 4)
    GROUPS_STARTED+=("$MLFLOW_PID")
    if $PY bench/load.py wait "http://127.0.0.1:$MLFLOW_PORT/health"; then
        peer_args=(--mlflow "http://127.0.0.1:$MLFLOW_PORT" --mlflow-pid "$MLFLOW_PID")
    else
        echo "mlflow server did not start (see $LOGS/mlflow.log); benching Vetted alone." >&2
        stop_group "$MLFLOW_PID"
    fi
fi

# --- Load -----------------------------------------------------------------------------------
step "Latencies, then registrations, resolves and 1 GiB uploads, the servers taking turns"
$PY bench/load.py run --vetted "http://127.0.0.1:$VETTED_PORT" --vetted-pid "$WEB_PID" \
    --token "$(field token)" --session "$(field session)" --catalog-model "$(field catalog_model)" \
    "${peer_args[@]}" --big-file "$BIG_FILE" --out "$RESULTS/load.json"

# --- Idle memory ----------------------------------------------------------------------------
step "Idle memory: Vetted web + worker + beat; the MLflow server"
# The idle worker listens on its own queue, so it never picks up the load tests' checks.
WORKER_PID=$(CELERY_QUEUE=bench-idle start_group "$LOGS/worker.log" .venv/bin/celery -A vetted \
    worker --concurrency=2 --loglevel=WARNING)
GROUPS_STARTED+=("$WORKER_PID")
BEAT_PID=$(CELERY_QUEUE=bench-idle start_group "$LOGS/beat.log" .venv/bin/celery -A vetted beat \
    --loglevel=WARNING --schedule="$WORK/celerybeat-schedule")
GROUPS_STARTED+=("$BEAT_PID")
sleep 5
$PY bench/processes.py idle "$RESULTS/vetted-idle.json" \
    web="$WEB_PID" worker="$WORKER_PID" beat="$BEAT_PID"
if [ ${#peer_args[@]} -gt 0 ]; then
    $PY bench/processes.py idle "$RESULTS/mlflow-idle.json" server="$MLFLOW_PID"
fi

echo "$(($(date +%s) - started_at))" >"$RESULTS/runtime-seconds"
$PY bench/report.py "$RESULTS"
