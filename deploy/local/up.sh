#!/usr/bin/env bash
# `make up`: the distributed platform on this machine. Kafka, PostgreSQL (one database per service),
# each service its own OS process, the channel simulator, and (when their scripts are present) Jaeger
# and Prometheus. Prints where each API listens and how to publish events. `make down` stops it all.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export COLLECTIONS_STATE="${COLLECTIONS_STATE:-/tmp/collections-up}"
LOG_TAG=up
# shellcheck source=deploy/local/_lib.sh
source "$HERE/_lib.sh"
RUN="$STATE_ROOT/run"
mkdir -p "$RUN"
SERVICES=(ledger delinquency outreach legal)
BASE_PORT="${COLLECTIONS_API_PORT:-8101}"

pg=$("$HERE/postgres.sh" start | tail -n1)
kafka=$("$HERE/kafka.sh" start | tail -n1)
echo "$kafka" >"$RUN/kafka"

# Traces: the services export OTLP to Jaeger, a slim build from source (deploy/local/jaeger.sh: ~2 to
# 3 min the first time on 2 cores, then cached; `make up` builds it when missing, COLLECTIONS_BUILD_JAEGER=0
# skips the build and `make up` goes on without traces). Jaeger keeps them (its API) and forwards every
# span to Zipkin (deploy/local/zipkin.sh, the exec jar from Maven Central), whose UI a person opens.
otlp=""
jaeger_ui="not started"
zipkin_ui="not started"
zipkin_spans=""
jaeger_will_run=0
if [[ -x "$HERE/jaeger.sh" ]] && { "$HERE/jaeger.sh" path >/dev/null 2>&1 || [[ "${COLLECTIONS_BUILD_JAEGER:-1}" != 0 ]]; }; then
  jaeger_will_run=1
fi
if ((jaeger_will_run)) && [[ -x "$HERE/zipkin.sh" ]]; then
  if zipkin_out=$("$HERE/zipkin.sh" start); then
    zipkin_spans=$(grep -E '^ZIPKIN_SPANS_URL=' <<<"$zipkin_out" | cut -d= -f2- || true)
    zipkin_ui=$(grep -E '^ZIPKIN_UI_URL=' <<<"$zipkin_out" | cut -d= -f2- || true)
  else
    zipkin_ui="not started: deploy/local/zipkin.sh start failed (see above); traces stay in the Jaeger API"
  fi
fi
if [[ -x "$HERE/jaeger.sh" ]]; then
  rc=0
  jaeger_out=$(ZIPKIN_SPANS_URL="$zipkin_spans" "$HERE/jaeger.sh" start) || rc=$?
  if ((rc == 4)); then
    jaeger_ui="not started: not built (COLLECTIONS_BUILD_JAEGER=0; build it with deploy/local/jaeger.sh install)"
    zipkin_ui="not started: no traces without Jaeger (build it with deploy/local/jaeger.sh install)"
  elif ((rc != 0)); then
    die "jaeger did not start"
  else
    otlp=$(grep -E '^OTEL_EXPORTER_OTLP_ENDPOINT=' <<<"$jaeger_out" | cut -d= -f2- || true)
    jaeger_ui=$(grep -E '^JAEGER_QUERY_URL=' <<<"$jaeger_out" | cut -d= -f2- || true)
  fi
fi

# Start a long-lived process in a session of its own, detached from this script's output (so that
# `make up | tee` or a caller's `$(...)` does not wait for it), and record its pid, which is also its
# process group: `make down` stops the whole group.
start_background() {
  local name=$1
  shift
  # The log is appended to, so that a restart (`make restart SERVICE=...`) keeps what came before.
  printf '=== %s started %s ===\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$RUN/$name.log"
  (cd "$ROOT" && exec setsid "$@" >>"$RUN/$name.log" 2>&1 </dev/null 9>&-) &
  echo $! >"$RUN/$name.pid"
}

targets=()
for i in "${!SERVICES[@]}"; do
  svc=${SERVICES[$i]}
  port=$((BASE_PORT + i))
  db="collections_${svc}"
  psql "$pg" -qtAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 || psql "$pg" -qc "CREATE DATABASE $db"
  pidfile="$RUN/$svc.pid"
  if [[ -f "$pidfile" ]] && pid_alive "$(cat "$pidfile")"; then
    log "$svc already running"
  else
    DATABASE_URL="${pg/postgresql:/postgresql+asyncpg:}/$db" KAFKA_BOOTSTRAP_SERVERS="$kafka" \
      PORT="$port" HOST=127.0.0.1 OTEL_EXPORTER_OTLP_ENDPOINT="$otlp" \
      COLLECTIONS_CONFIG="${COLLECTIONS_CONFIG:-$HERE/up-config.yaml}" \
      start_background "$svc" uv run --frozen "collections-$svc" run
  fi
  echo "$port" >"$RUN/$svc.port"
  targets+=("127.0.0.1:$port")
done

# Prometheus comes from Debian's package: prometheus.sh installs it when missing (seconds); where it
# cannot (no apt, no root), `make up` goes on without metrics scraping.
prom="not started"
if [[ -x "$HERE/prometheus.sh" ]]; then
  if "$HERE/prometheus.sh" install; then
    prom=$("$HERE/prometheus.sh" start "${targets[@]}" | tail -n1 | cut -d= -f2-) || die "prometheus did not start"
  else
    prom="not started: not installed (apt-get install prometheus)"
  fi
fi

# The channel simulator answers contact requests with results (replay has none): COLLECTIONS_CHANNELS=0
# leaves it out, so that `collections publish --settle` decides exactly what replay decides.
channels="running (answers contact requests; COLLECTIONS_CHANNELS=0 leaves it out)"
if [[ "${COLLECTIONS_CHANNELS:-1}" == 0 ]]; then
  channels="not started (COLLECTIONS_CHANNELS=0)"
elif ! { [[ -f "$RUN/channels.pid" ]] && pid_alive "$(cat "$RUN/channels.pid")"; }; then
  start_background channels uv run --frozen collections channels --bootstrap "$kafka"
fi

for i in "${!SERVICES[@]}"; do
  svc=${SERVICES[$i]}
  port=$((BASE_PORT + i))
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    pid_alive "$(cat "$RUN/$svc.pid")" || { tail -n 25 "$RUN/$svc.log" >&2; die "$svc exited; see $RUN/$svc.log (its end above)"; }
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 || die "$svc not ready; see $RUN/$svc.log"
done

cat <<MSG
The collections platform is up (state: $STATE_ROOT).
  Kafka bootstrap    $kafka
  PostgreSQL         $pg  (databases collections_ledger, _delinquency, _outreach, _legal)
  outreach database  $pg/collections_outreach  (for collections audit verify --database-url)
  ledger API         http://127.0.0.1:$((BASE_PORT + 0))/docs
  delinquency API    http://127.0.0.1:$((BASE_PORT + 1))/docs
  outreach API       http://127.0.0.1:$((BASE_PORT + 2))/docs
  legal API          http://127.0.0.1:$((BASE_PORT + 3))/docs
  Trace UI (Zipkin)  $zipkin_ui
  Jaeger API         $jaeger_ui  (traces as JSON: /api/traces/TRACE_ID; the slim build has no UI)
  Prometheus         $prom
  Channel simulator  $channels
  Logs               $RUN/<service>.log
Publish events (structured-mode JSON lines, keyed by subject) with:
  uv run collections publish --bootstrap $kafka FILE.jsonl
  (add --settle $pg to wait after each event; with COLLECTIONS_CHANNELS=0 the platform then decides
  exactly what replay decides)
Restart one service (after a crash or a kill; its log is appended to) with: make restart SERVICE=ledger
Stop everything with: make down
MSG
