# shellcheck shell=bash
# Helpers shared by deploy/local/*.sh. Sourced, never executed.
# Convention: progress/diagnostics go to stderr; the one useful result (an
# address) is the last line on stdout.

STATE_ROOT="${COLLECTIONS_STATE:-/tmp/collections-local}"

log() { printf '[%s] %s\n' "${LOG_TAG:-local}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Print N distinct free TCP ports on 127.0.0.1, space separated.
# All sockets are held open at once so the ports differ from each other.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# Is something listening on 127.0.0.1:$1 ?
port_open() {
  python3 -c 'import socket,sys
s=socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Stop process $1 (empty: nothing runs): TERM, then KILL after 10 s.
stop_pid() {
  local pid=${1:-} i
  if [[ -z "$pid" ]]; then
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
}

# Serialise concurrent invocations for one service (e.g. parallel test
# workers all calling `start`). The lock lives next to, not inside, the state
# dir because `stop` deletes the state dir. fd 9 must be closed (9>&-) for
# every long-lived child, otherwise the child keeps the lock forever.
take_lock() {
  mkdir -p "$STATE_ROOT"
  exec 9>"$STATE_ROOT/.$1.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "timed out waiting for lock $STATE_ROOT/.$1.lock"
  fi
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $*"
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: $*"
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Stop the process group whose leader's pid is in "$RUN/$1.pid" (a process `make up` started):
# TERM to the group, KILL after 10 s; then forget the pid file. Nothing to do when it is not running.
stop_group() {
  local pidfile="$RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  if pid_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 40); do pid_alive "$pid" || break; sleep 0.25; done
    pid_alive "$pid" && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
    log "stopped $1"
  fi
  rm -f "$pidfile"
}

