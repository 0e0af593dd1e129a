#!/usr/bin/env bash
# Local Jaeger v2 (all-in-one, in-memory) for traces, built from the Go module proxy (no Docker).
#
#   jaeger.sh install   build the slim binary once into $COLLECTIONS_CACHE/jaeger/ (see below)
#   jaeger.sh path      print the binary's path (exit 0 if it is built, 1 if not)
#   jaeger.sh start     start it on free loopback ports (building it first when missing, unless
#                       COLLECTIONS_BUILD_JAEGER=0: then it exits 4 and says how to build it);
#                       prints (last two stdout lines)
#                         OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT   (OTLP/HTTP receiver)
#                         JAEGER_QUERY_URL=http://127.0.0.1:PORT              (API: /api/traces/ID)
#   jaeger.sh stop      stop the process its start recorded (by pid), delete its state
#   jaeger.sh status    print the addresses and exit 0 if running, else exit 3
#
# The build: the module github.com/jaegertracing/jaeger v1.76.0 (Jaeger 2.13) is fetched from the Go
# module proxy (`go mod download`), its source copied to $COLLECTIONS_CACHE/jaeger/src-<key>, and
# there slimmed by two files of this directory before `go build ./cmd/jaeger` (so the module's own
# go.mod, go.sum and replace directives apply):
#   jaeger/components.go         replaces cmd/jaeger/internal/components.go: only the components the
#                                config below uses (otlp receiver, batch processor, the Jaeger storage
#                                exporter, jaeger_storage + jaeger_query + healthcheckv2 extensions);
#   jaeger/slim-v1.76.0.patch    drops the `docs` and `es-mappings` subcommands and every storage
#                                backend but memory (Elasticsearch's typed client alone is ~850
#                                packages). `patch` refuses a hunk that does not apply, and the patch
#                                is named for the one version it fits: another JAEGER_VERSION fails
#                                loudly until a patch for it is added.
# That compiles ~800 packages instead of ~2300 (cold: minutes, not half an hour). The binary is named
# jaeger-<version>-slim-<key>, <key> a hash of those two files and of this script's build recipe
# version (JAEGER_RECIPE), so a changed recipe never reuses a stale binary.
# With ZIPKIN_SPANS_URL set at `start` (deploy/local/zipkin.sh prints it), every span is also sent to that
# Zipkin server by the collector's zipkin exporter (the slim build's one addition), for Zipkin's UI:
# the slim build serves no UI of its own (Jaeger's UI assets are not in the Go module).
# Env: COLLECTIONS_STATE (default /tmp/collections-local), COLLECTIONS_CACHE (~/.cache/collections),
#      JAEGER_VERSION (module version, default v1.76.0), JAEGER_START_TIMEOUT (seconds, default 60),
#      COLLECTIONS_BUILD_JAEGER (0: `start` does not build a missing binary but exits 4),
#      GOMODCACHE / GOCACHE / GOFLAGS (Go's own; the module and build caches make a rebuild fast).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=jaeger
# shellcheck source=_lib.sh
source "$HERE/_lib.sh"

VERSION="${JAEGER_VERSION:-v1.76.0}"
JAEGER_RECIPE=2 # bump when do_install changes how the binary is built
CACHE="${COLLECTIONS_CACHE:-$HOME/.cache/collections}/jaeger"
SLIM_COMPONENTS="$HERE/jaeger/components.go"
SLIM_PATCH="$HERE/jaeger/slim-$VERSION.patch"
KEY="$( (echo "recipe $JAEGER_RECIPE"; cat "$SLIM_COMPONENTS" "$SLIM_PATCH" 2>/dev/null) | sha256sum | cut -c1-12)"
BIN="$CACHE/jaeger-$VERSION-slim-$KEY"
STATE="$STATE_ROOT/jaeger"
START_TIMEOUT="${JAEGER_START_TIMEOUT:-60}"

do_install() {
  [[ -x "$BIN" ]] && return 0
  command -v go >/dev/null 2>&1 || die "go is needed to build Jaeger"
  [[ -s "$SLIM_PATCH" ]] || die "no slim patch for Jaeger $VERSION ($SLIM_PATCH): write one, or use v1.76.0"
  local src="$CACHE/src-$VERSION-$KEY" module t0=$SECONDS t1
  mkdir -p "$CACHE"
  log "building slim Jaeger $VERSION ($BIN) from the Go module proxy"
  module="$(go mod download -json "github.com/jaegertracing/jaeger@$VERSION" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))')" ||
    die "go mod download github.com/jaegertracing/jaeger@$VERSION failed"
  rm -rf "$src" "$src.part"
  cp -r "$module" "$src.part"
  chmod -R u+w "$src.part" # the module cache is read-only
  cp "$SLIM_COMPONENTS" "$src.part/cmd/jaeger/internal/components.go"
  rm -f "$src.part/cmd/jaeger/internal/components_test.go"
  patch -d "$src.part" -p1 --forward --batch --quiet <"$SLIM_PATCH" >&2 ||
    die "$SLIM_PATCH does not apply to jaeger $VERSION"
  # The zipkin exporter (for deploy/local/zipkin.sh's UI) is not among Jaeger's own dependencies: add
  # it at the collector-contrib version Jaeger's go.mod already pins (its zipkin translator's).
  local contrib
  contrib="$(awk '$1 == "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin" {print $2}' \
    "$src.part/go.mod")"
  [[ -n "$contrib" ]] || die "no collector-contrib zipkin translator in Jaeger $VERSION's go.mod"
  (cd "$src.part" && go get "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/zipkinexporter@$contrib" >&2) ||
    die "go get of the zipkin exporter $contrib failed"
  mv "$src.part" "$src"
  # Module downloads first (only the modules of the packages ./cmd/jaeger imports), then the compile.
  (cd "$src" && go list -deps -buildvcs=false ./cmd/jaeger >/dev/null) ||
    die "downloading Jaeger's dependencies failed (sources kept in $src)"
  t1=$SECONDS
  log "sources ready in $((t1 - t0)) s; compiling"
  (cd "$src" && go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$BIN.part" ./cmd/jaeger >&2) ||
    { rm -f "$BIN.part"; die "go build of the slim Jaeger failed (sources kept in $src)"; }
  log "compiled in $((SECONDS - t1)) s"
  mv "$BIN.part" "$BIN"
  rm -rf "$src"
  log "built $BIN in $((SECONDS - t0)) s ($(du -h "$BIN" | cut -f1))"
}

jaeger_pid() {
  local pid
  pid="$(cat "$STATE/pid" 2>/dev/null || true)"
  if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$STATE/config.yaml"; then
    echo "$pid"
  fi
}

print_addresses() { cat "$STATE/addresses"; }

do_start() {
  take_lock jaeger
  if [[ ! -x "$BIN" && "${COLLECTIONS_BUILD_JAEGER:-1}" == 0 ]]; then
    log "not built ($BIN missing): build it once with \`deploy/local/jaeger.sh install\`" \
      "(a few minutes) or start without COLLECTIONS_BUILD_JAEGER=0"
    exit 4
  fi
  do_install
  if [[ -n "$(jaeger_pid)" ]]; then
    log "already running (pid $(jaeger_pid))"
    print_addresses
    return 0
  fi
  rm -rf "$STATE"
  mkdir -p "$STATE"
  local otlp query grpc health
  read -r otlp query grpc health < <(free_ports 4)
  # ZIPKIN_SPANS_URL (deploy/local/zipkin.sh's): every span also goes to that Zipkin, for its UI.
  local exporters="[jaeger_storage_exporter]" zipkin_exporter=""
  if [[ -n "${ZIPKIN_SPANS_URL:-}" ]]; then
    exporters="[jaeger_storage_exporter, zipkin]"
    zipkin_exporter=$'\n  zipkin:\n    endpoint: '"$ZIPKIN_SPANS_URL"$'\n    format: proto'
  fi
  cat >"$STATE/config.yaml" <<YAML
# Generated by deploy/local/jaeger.sh: Jaeger v2 all-in-one, in memory, loopback only.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: $exporters
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:$health
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$query
    grpc:
      endpoint: 127.0.0.1:$grpc
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$otlp
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore$zipkin_exporter
YAML
  log "starting: OTLP/HTTP 127.0.0.1:$otlp, query 127.0.0.1:$query"
  nohup "$BIN" --config "$STATE/config.yaml" >"$STATE/jaeger.log" 2>&1 9>&- &
  echo $! >"$STATE/pid"
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if port_open "$otlp" && port_open "$query"; then break; fi
    pid_alive "$(cat "$STATE/pid")" || { tail -n 30 "$STATE/jaeger.log" >&2; die "Jaeger exited"; }
    sleep 0.1
  done
  if ! { port_open "$otlp" && port_open "$query"; }; then
    tail -n 30 "$STATE/jaeger.log" >&2
    die "Jaeger not listening"
  fi
  printf 'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%s\nJAEGER_QUERY_URL=http://127.0.0.1:%s\n' \
    "$otlp" "$query" >"$STATE/addresses"
  log "ready (pid $(cat "$STATE/pid"))"
  print_addresses
}

do_stop() {
  take_lock jaeger
  stop_pid "$(jaeger_pid)"
  rm -rf "$STATE"
}

do_status() {
  if [[ -n "$(jaeger_pid)" ]]; then log "running (pid $(jaeger_pid))"; print_addresses
  else log "not running"; return 3
  fi
}

case "${1:-}" in
  install) do_install; echo "$BIN" ;;
  path) echo "$BIN"; [[ -x "$BIN" ]] ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 {install|path|start|stop|status}" >&2; exit 2 ;;
esac
