#!/usr/bin/env bash
# Local Zipkin server (in memory) for its trace UI (Zipkin Lens). No Docker: the server's exec jar
# (io.zipkin:zipkin-server:3.5.1:exec, UI included) comes from Maven Central like Kafka's jars.
#
#   zipkin.sh install   fetch the exec jar into the cache (skipped when present)
#   zipkin.sh start     install if needed, start on a free loopback port, wait until /health answers;
#                       prints (last two stdout lines)
#                         ZIPKIN_SPANS_URL=http://127.0.0.1:PORT/api/v2/spans   (where spans go)
#                         ZIPKIN_UI_URL=http://127.0.0.1:PORT/zipkin/           (the UI)
#   zipkin.sh stop      stop the process its start recorded (by pid), delete its state
#   zipkin.sh status    print the addresses and exit 0 if running, else exit 3
#
# Zipkin 3.5 receives Zipkin's own formats only (no OTLP: that needs the zipkin-otel module, which
# is not on Maven Central). The services keep exporting OTLP to the local Jaeger, which forwards
# every span to ZIPKIN_SPANS_URL with the OpenTelemetry Collector's zipkin exporter (jaeger.sh).
# Env: COLLECTIONS_CACHE (default ~/.cache/collections) -> jar in $COLLECTIONS_CACHE/zipkin
#      COLLECTIONS_STATE (default /tmp/collections-local) -> state in $COLLECTIONS_STATE/zipkin
#      ZIPKIN_VERSION (default 3.5.1), ZIPKIN_START_TIMEOUT (seconds, default 90),
#      ZIPKIN_HEAP (default 256m), ZIPKIN_MAX_SPANS (in memory, default 500000)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=zipkin
# shellcheck source=_lib.sh
source "$HERE/_lib.sh"

VERSION="${ZIPKIN_VERSION:-3.5.1}"
CACHE="${COLLECTIONS_CACHE:-$HOME/.cache/collections}/zipkin"
JAR="$CACHE/zipkin-server-$VERSION-exec.jar"
STATE="$STATE_ROOT/zipkin"
START_TIMEOUT="${ZIPKIN_START_TIMEOUT:-90}"

do_install() {
  [[ -s "$JAR" ]] && return 0
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
  log "downloading io.zipkin:zipkin-server:$VERSION:exec into $CACHE (one-off, ~130 MB)"
  local tmp="$CACHE/tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="io.zipkin:zipkin-server:$VERSION:jar:exec" \
      -DoutputDirectory="$tmp" </dev/null 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy io.zipkin:zipkin-server:$VERSION:exec failed"
  fi
  mv "$tmp/zipkin-server-$VERSION-exec.jar" "$JAR"
  rm -rf "$tmp"
}

zipkin_pid() {
  local pid
  pid="$(cat "$STATE/pid" 2>/dev/null || true)"
  if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dcollections.state=$STATE"; then
    echo "$pid"
  fi
}

print_addresses() { cat "$STATE/addresses"; }

do_start() {
  take_lock zipkin
  do_install
  if [[ -n "$(zipkin_pid)" ]]; then
    log "already running (pid $(zipkin_pid))"
    print_addresses
    return 0
  fi
  rm -rf "$STATE"
  mkdir -p "$STATE"
  local port
  read -r port < <(free_ports 1)
  log "starting on 127.0.0.1:$port"
  # In-memory storage, loopback only (Armeria's port list replaces the default QUERY_PORT one), no
  # self-tracing; only the HTTP collector is on by default.
  STORAGE_TYPE=mem MEM_MAX_SPANS="${ZIPKIN_MAX_SPANS:-500000}" SELF_TRACING_ENABLED=false \
    nohup java -Xmx"${ZIPKIN_HEAP:-256m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dcollections.state="$STATE" -Darmeria.ports[0].ip=127.0.0.1 -Darmeria.ports[0].port="$port" \
    -Darmeria.ports[0].protocols[0]=http -jar "$JAR" \
    >"$STATE/zipkin.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/pid"
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    pid_alive "$(cat "$STATE/pid")" || { tail -n 30 "$STATE/zipkin.log" >&2; die "Zipkin exited"; }
    sleep 0.1
  done
  if ! curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    tail -n 30 "$STATE/zipkin.log" >&2
    stop_pid "$(zipkin_pid)"
    die "Zipkin not ready on 127.0.0.1:$port after ${START_TIMEOUT}s"
  fi
  printf 'ZIPKIN_SPANS_URL=http://127.0.0.1:%s/api/v2/spans\nZIPKIN_UI_URL=http://127.0.0.1:%s/zipkin/\n' \
    "$port" "$port" >"$STATE/addresses"
  log "ready (pid $(cat "$STATE/pid"))"
  print_addresses
}

do_stop() {
  take_lock zipkin
  stop_pid "$(zipkin_pid)"
  rm -rf "$STATE"
}

do_status() {
  if [[ -n "$(zipkin_pid)" ]]; then log "running (pid $(zipkin_pid))"; print_addresses
  else log "not running"; return 3
  fi
}

case "${1:-}" in
  install) do_install; echo "$JAR" ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
