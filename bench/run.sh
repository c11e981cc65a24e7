#!/usr/bin/env bash
# `make bench`: Vetted (gunicorn, PostgreSQL, Redis) against the MLflow server a team would pick
# instead, at its best, driven by the same load generator on loopback. Prints the markdown tables
# of docs/benchmarks.md (bench/report.py). BENCH_ROUNDS, BENCH_SECONDS and BENCH_CHECK_SECONDS
# (bench/load.py), BENCH_SANDBOX_ROUNDS, BENCH_MLFLOW_ROUNDS (bench/mlflow_protocol.py) and
# BENCH_MONITORING_ROWS / BENCH_MONITORING_ROUNDS (bench/monitoring.py) shorten a run while
# working on the bench.
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
rm -f "$RESULTS"/*.json "$RESULTS"/runtime-seconds "$RESULTS"/tables.md
pg_isready -q -h $PG_HOST -p 5432 || { echo "PostgreSQL is not answering on $PG_HOST:5432" >&2; exit 1; }
redis-cli -u "$REDIS_DB_URL" ping >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }

step "Sandbox: what bubblewrap adds to a load check (bench/sandbox_overhead.py)"
# Without bubblewrap (or where it cannot run) this step is skipped and the rest goes on.
$PY bench/sandbox_overhead.py --rounds "${BENCH_SANDBOX_ROUNDS:-9}" --out "$RESULTS/sandbox.json" >"$LOGS/sandbox.log" 2>&1 ||
    echo "Sandbox bench skipped: $(tail -1 "$LOGS/sandbox.log")" >&2

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
# per core, two threads each); the 1 GiB upload gets a longer timeout. A second server, the same
# but without the resolve answer cache (bench/uncached_settings.py), serves "resolve uncached".
step "Vetted: gunicorn vetted.wsgi, $($PY -c 'import vetted.gunicorn_conf as c; print(c.workers, "workers x", c.threads, "threads")'), with and without the resolve cache"
start_vetted() {
    local port
    port=$(free_port)
    VETTED_PID=$(start_group "$LOGS/gunicorn-$1.log" env "${@:2}" .venv/bin/gunicorn vetted.wsgi \
        --config python:vetted.gunicorn_conf --bind 127.0.0.1:"$port" --timeout 600 \
        --log-level warning)
    GROUPS_STARTED+=("$VETTED_PID")
    VETTED_URL=http://127.0.0.1:$port
    $PY bench/load.py wait "$VETTED_URL/healthz"
}
start_vetted uncached DJANGO_SETTINGS_MODULE=uncached_settings PYTHONPATH=bench
UNCACHED_PID=$VETTED_PID UNCACHED_URL=$VETTED_URL
start_vetted cached DJANGO_SETTINGS_MODULE=vetted.settings
WEB_PID=$VETTED_PID WEB_URL=$VETTED_URL

# --- MLflow, the peer -----------------------------------------------------------------------
if [ ! -x "$PEER_VENV/bin/mlflow" ]; then
    step "MLflow: installing bench/requirements-peer.txt into $PEER_VENV (first run only)"
    if ! { ${PYTHON:-python3} -m venv "$PEER_VENV" &&
        "$PEER_VENV/bin/pip" install --quiet -r bench/requirements-peer.txt; } \
        >"$LOGS/peer-install.log" 2>&1; then
        echo "Could not install the peer (see $LOGS/peer-install.log); benching Vetted alone." >&2
        rm -rf "$PEER_VENV"
    fi
fi

# `mlflow server WORKERS NODELAY JOBS` on a fresh mlflow_bench; sets MLFLOW_PID and MLFLOW_URL.
# NODELAY=yes puts bench/peer_nodelay on its PYTHONPATH: TCP_NODELAY on its listening socket, as
# a reverse proxy in front of it would give its clients. JOBS=no turns off the job runner
# (GenAI jobs, which a registry does not need); it is on by default.
start_mlflow() {
    local port nodelay_path=""
    [ "$2" = yes ] && nodelay_path=bench/peer_nodelay
    stop_mlflow
    fresh_database mlflow_bench
    rm -rf "$WORK/mlflow-artifacts" && mkdir -p "$WORK/mlflow-artifacts"
    port=$(free_port)
    MLFLOW_PID=$(start_group "$LOGS/mlflow-$1-workers-nodelay-$2-jobs-$3.log" \
        env PYTHONPATH="$nodelay_path" \
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION=$([ "$3" = yes ] && echo true || echo false) \
        "$PEER_VENV/bin/mlflow" server --backend-store-uri "$PEER_PG_URL/mlflow_bench" \
        --artifacts-destination "$WORK/mlflow-artifacts" --serve-artifacts \
        --host 127.0.0.1 --port "$port" --workers "$1")
    GROUPS_STARTED+=("$MLFLOW_PID")
    MLFLOW_URL=http://127.0.0.1:$port
    $PY bench/load.py wait "$MLFLOW_URL/health"
}
stop_mlflow() {
    [ -n "${MLFLOW_PID:-}" ] && stop_group "$MLFLOW_PID"
    MLFLOW_PID=""
}

peer_args=()
if [ -x "$PEER_VENV/bin/mlflow" ]; then
    # Its best setup: 1, 2 and 4 uvicorn workers with TCP_NODELAY, and 4 without it once, to show
    # the stall on a reused connection that the option removes.
    for setup in "4 no" "1 yes" "2 yes" "4 yes"; do
        set -- $setup
        step "MLflow: $1 workers, TCP_NODELAY $2, job runner off: latency and a short load"
        start_mlflow "$1" "$2" no
        $PY bench/load.py peer-check --mlflow "$MLFLOW_URL" --mlflow-pid "$MLFLOW_PID" \
            --workers "$1" --nodelay "$2" --out "$RESULTS/mlflow-check-$1-$2.json"
    done
    MLFLOW_WORKERS=$($PY bench/report.py best-workers "$RESULTS")
    step "MLflow: $MLFLOW_WORKERS workers (its best above), TCP_NODELAY, job runner off"
    start_mlflow "$MLFLOW_WORKERS" yes no
    peer_args=(--mlflow "$MLFLOW_URL" --mlflow-pid "$MLFLOW_PID")
fi

# --- Load -----------------------------------------------------------------------------------
step "Latencies, then rounds of registrations, resolves and 1 GiB uploads, the servers alternating"
$PY bench/load.py run --vetted "$WEB_URL" --vetted-pid "$WEB_PID" \
    --vetted-uncached "$UNCACHED_URL" --vetted-uncached-pid "$UNCACHED_PID" \
    --token "$(field token)" --session "$(field session)" --catalog-model "$(field catalog_model)" \
    "${peer_args[@]}" --big-file "$BIG_FILE" --out "$RESULTS/load.json"
stop_group "$UNCACHED_PID"

# --- MLflow's client end to end ---------------------------------------------------------------
step "MLflow's client end to end: log_model, register_model, pyfunc.load_model (bench/mlflow_protocol.py)"
# Vetted at /mlflow and the MLflow server above, both on this PostgreSQL; a failure is reported
# and the other benches go on. BENCH_MLFLOW_ROUNDS shortens it.
protocol_peer=()
[ ${#peer_args[@]} -gt 0 ] && protocol_peer=(--mlflow "$MLFLOW_URL")
$PY bench/mlflow_protocol.py --vetted "$WEB_URL/mlflow" --token "$(field token)" \
    "${protocol_peer[@]}" --out "$RESULTS/mlflow-protocol.json" >"$LOGS/mlflow-protocol.log" 2>&1 ||
    echo "MLflow client bench failed: $(tail -1 "$LOGS/mlflow-protocol.log")" >&2

# --- Idle memory ----------------------------------------------------------------------------
step "Idle memory: Vetted web, worker and beat; the MLflow server without and with its job runner"
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
    start_mlflow "$MLFLOW_WORKERS" yes yes
    $PY bench/processes.py idle "$RESULTS/mlflow-jobs-idle.json" server="$MLFLOW_PID"
fi

# --- Monitoring statistics -------------------------------------------------------------------
step "Drift and fairness: monitoring.stats against Evidently and fairlearn (bench/monitoring.py)"
# The peers need pandas < 3, so they live in their own venv; without them Vetted is benched alone.
# BENCH_MONITORING_ROWS (default 100000,1000000) and BENCH_MONITORING_ROUNDS shorten a run.
MONITORING_PEER_VENV=bench/.venv-monitoring-peer
if [ ! -x "$MONITORING_PEER_VENV/bin/python" ]; then
    if ! { ${PYTHON:-python3} -m venv "$MONITORING_PEER_VENV" &&
        "$MONITORING_PEER_VENV/bin/pip" install --quiet -r bench/requirements-monitoring-peer.txt; } \
        >"$LOGS/monitoring-peer-install.log" 2>&1; then
        echo "Could not install Evidently and fairlearn (see $LOGS/monitoring-peer-install.log)." >&2
        rm -rf "$MONITORING_PEER_VENV"
    fi
fi
monitoring_peer=()
if [ -x "$MONITORING_PEER_VENV/bin/python" ]; then
    monitoring_peer=(--peer-python "$MONITORING_PEER_VENV/bin/python")
fi
$PY bench/monitoring.py run "${monitoring_peer[@]}" --out "$RESULTS/monitoring.json" \
    >"$RESULTS/monitoring.md"

echo "$(($(date +%s) - started_at))" >"$RESULTS/runtime-seconds"
{ $PY bench/report.py tables "$RESULTS"; printf '\n'; cat "$RESULTS/monitoring.md"; } |
    tee "$RESULTS/tables.md"
