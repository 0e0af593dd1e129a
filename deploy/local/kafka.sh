#!/usr/bin/env bash
# Local single-node Kafka (KRaft, broker+controller in one JVM) for tests and
# local runs. No Docker: the broker jars come from Maven Central.
#
#   kafka.sh install   fetch the jars into the cache (skipped when present)
#   kafka.sh start     install if needed, start a broker on a free loopback
#                      port, wait until it answers; last stdout line is the
#                      bootstrap address 127.0.0.1:PORT
#   kafka.sh stop      stop the broker this script started, delete its state
#   kafka.sh restart   start again the broker whose state is in $COLLECTIONS_STATE/kafka after it
#                      died (kill -9, a crash), on the same data dir and port, keeping its topics,
#                      offsets and messages (`start` would delete that state as stale); prints the
#                      bootstrap address; when it is running, prints it and changes nothing
#   kafka.sh status    print the bootstrap address and exit 0 if running, else exit 3
#
# Env: COLLECTIONS_CACHE (default ~/.cache/collections) -> jars in $COLLECTIONS_CACHE/kafka/libs
#      COLLECTIONS_STATE (default /tmp/collections-local) -> state in $COLLECTIONS_STATE/kafka
#      KAFKA_START_TIMEOUT (seconds, default 60), KAFKA_HEAP (default 512m)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=kafka
# shellcheck source=_lib.sh
source "$HERE/_lib.sh"

CACHE_ROOT="${COLLECTIONS_CACHE:-$HOME/.cache/collections}"
POM="$HERE/kafka/pom.xml"
LOG4J_CONF="$HERE/kafka/log4j2.properties"
LIBS="$CACHE_ROOT/kafka/libs"
STATE="$STATE_ROOT/kafka"
PIDFILE="$STATE/kafka.pid"
CONF="$STATE/server.properties"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
HEAP="${KAFKA_HEAP:-512m}"

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

installed() {
  [[ -f "$LIBS/.installed" && "$(cat "$LIBS/.installed")" == "$(pom_hash)" ]] &&
    compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null
}

ensure_tools() {
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
}

do_install() {
  if installed; then return 0; fi
  ensure_tools
  log "downloading Kafka jars into $LIBS (one-off, ~55 MB)"
  local tmp="$LIBS.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # (sed: Maven 3.8 -q still prints bare ANSI reset codes; pipefail keeps mvn's status)
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null 2>&1 |
      sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed"
  fi
  pom_hash >"$tmp/.installed"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# pid of our broker if it is alive (and really is our kafka.Kafka), else empty
running_pid() {
  [[ -f "$PIDFILE" ]] || return 0
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  pid_alive "$pid" || return 0
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  if [[ "$cmdline" == *"kafka.Kafka $CONF"* ]]; then echo "$pid"; fi
}

JAVA_OPTS=(
  -Xmx"$HEAP" -Xms64m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -Djava.awt.headless=true
  -Dkafka.logs.dir="$STATE"
  -Dlog4j2.configurationFile="$LOG4J_CONF"
  -cp "$LIBS/*"
)

# Wait until the broker answers a Kafka ApiVersions request (it only does so
# once startup is complete), or the process dies, or the timeout passes.
wait_ready() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, socket, struct, sys, time
port, pid, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf

def api_versions_ok():
    client = b"collections-local-probe"
    # request header v1: api_key=18 (ApiVersions), api_version=0, correlation_id, client_id
    body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", recv_exact(s, 4))
            corr, err = struct.unpack(">ih", recv_exact(s, size)[:6])
            return corr == 7 and err == 0
    except OSError:
        return False

deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if not os.path.exists(f"/proc/{pid}"):
        sys.exit(2)
    if api_versions_ok():
        sys.exit(0)
    time.sleep(0.1)
sys.exit(3)
PY
}

new_cluster_id() {
  local id
  if id="$(java "${JAVA_OPTS[@]}" kafka.tools.StorageTool random-uuid 2>>"$STATE/format.out")" && [[ -n "$id" ]]; then
    printf '%s\n' "$id" | tail -n1
  else
    # Same format as Kafka's Uuid.randomUuid(): 16 random bytes, base64url, no padding.
    python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break'
  fi
}

do_start() {
  take_lock kafka
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" && -f "$STATE/bootstrap" ]]; then
    log "already running (pid $pid)"
    cat "$STATE/bootstrap"
    return 0
  fi
  if [[ -d "$STATE" ]]; then
    log "removing stale state $STATE"
    rm -rf "$STATE"
  fi
  do_install

  local port cport
  read -r port cport < <(free_ports 2)
  mkdir -p "$STATE/data"
  cat >"$CONF" <<EOF
# Generated by deploy/local/kafka.sh -- throwaway single-node test broker.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

  local cluster_id
  cluster_id="$(new_cluster_id)"
  log "formatting $STATE/data (cluster id $cluster_id)"
  java "${JAVA_OPTS[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONF" \
    >>"$STATE/format.out" 2>&1 9>&- ||
    { tail -n 30 "$STATE/format.out" >&2; die "StorageTool format failed"; }

  log "starting broker on 127.0.0.1:$port (controller 127.0.0.1:$cport)"
  launch "$port"
}

# Start the JVM on $CONF (already formatted), wait until it answers on port $1, print the address.
launch() {
  local port="$1" pid
  rm -f "$PIDFILE"
  # setsid: own session, so the broker outlives the caller and is not hit by
  # its Ctrl-C. The wrapper writes its own pid and then execs java, so the pid
  # file holds the JVM's pid even if setsid had to fork.
  # shellcheck disable=SC2016  # $$/$1/$@ are expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    java "${JAVA_OPTS[@]}" kafka.Kafka "$CONF" \
    </dev/null >>"$STATE/kafka.out" 2>&1 9>&- &

  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$PIDFILE" ]] && break
    sleep 0.1
  done
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "broker did not write $PIDFILE"

  local rc=0
  wait_ready "$port" "$pid" "$START_TIMEOUT" || rc=$?
  if ((rc != 0)); then
    if ((rc == 2)); then log "broker process $pid exited during startup"
    else log "broker not ready after ${START_TIMEOUT}s"; fi
    log "--- tail $STATE/kafka.out"; tail -n 20 "$STATE/kafka.out" >&2 || true
    log "--- tail $STATE/server.log"; tail -n 40 "$STATE/server.log" >&2 || true
    kill -KILL "$pid" 2>/dev/null || true
    die "Kafka failed to start (state kept in $STATE for inspection)"
  fi
  echo "127.0.0.1:$port" >"$STATE/bootstrap"
  log "ready (pid $pid)"
  echo "127.0.0.1:$port"
}

do_restart() {
  take_lock kafka
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" && -f "$STATE/bootstrap" ]]; then
    log "already running (pid $pid)"
    cat "$STATE/bootstrap"
    return 0
  fi
  [[ -f "$CONF" && -d "$STATE/data" ]] || die "no broker state in $STATE to restart (use start)"
  do_install
  local port
  port="$(sed -n 's#^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),.*#\1#p' "$CONF")"
  [[ -n "$port" ]] || die "no PLAINTEXT listener port in $CONF"
  log "restarting broker on 127.0.0.1:$port, keeping $STATE/data"
  launch "$port"
}

do_stop() {
  take_lock kafka
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 150; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      log "still alive after 15s, sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  elif [[ -f "$PIDFILE" ]]; then
    log "pid $(cat "$PIDFILE" 2>/dev/null) is not running"
  else
    log "not running"
  fi
  rm -rf "$STATE"
}

do_status() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" && -f "$STATE/bootstrap" ]]; then
    log "running (pid $pid)"
    cat "$STATE/bootstrap"
  else
    log "not running"
    return 3
  fi
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  restart) do_restart ;;
  *) echo "usage: $0 {install|start|stop|status|restart}" >&2; exit 2 ;;
esac
