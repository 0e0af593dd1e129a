#!/usr/bin/env bash
# Local throwaway PostgreSQL cluster for tests and local runs (no Docker).
#
#   postgres.sh install   apt-get install postgresql if no initdb is found
#   postgres.sh start     install if needed, initdb a fresh cluster on a free
#                         loopback port, wait until ready; last stdout line is
#                         postgresql://postgres@127.0.0.1:PORT
#   postgres.sh stop      stop the cluster this script started, delete its state
#   postgres.sh restart   start again the cluster whose state is in $COLLECTIONS_STATE/postgres
#                         after it stopped (`pg_ctl stop -m immediate`, a crash), on the same data
#                         dir and port, keeping its databases (`start` would delete them as stale);
#                         prints the URL; when it is running, prints it and changes nothing
#   postgres.sh status    print the URL and exit 0 if running, else exit 3
#
# Env: COLLECTIONS_STATE (default /tmp/collections-local) -> cluster in $COLLECTIONS_STATE/postgres
#      PG_VERSION (default: 15 if installed, else the highest installed)
#      PG_START_TIMEOUT (seconds, default 60)
#      COLLECTIONS_PG_USER (as root: OS user that runs the cluster; default
#      `postgres` if it exists, else `collections-pg`, created with useradd)
# The cluster is durability-free (fsync/synchronous_commit/full_page_writes off):
# never put data you care about in it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=postgres
# shellcheck source=_lib.sh
source "$HERE/_lib.sh"

STATE="$STATE_ROOT/postgres"
DATA="$STATE/data"
START_TIMEOUT="${PG_START_TIMEOUT:-60}"
PG_USER_FALLBACK=collections-pg

find_bindir() {
  local want="${PG_VERSION:-15}"
  if [[ -x "/usr/lib/postgresql/$want/bin/initdb" ]]; then
    echo "/usr/lib/postgresql/$want/bin"
    return 0
  fi
  local d
  d="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
    sort -V | tail -n1)"
  [[ -n "$d" ]] || return 1
  dirname "$d"
}

do_install() {
  if find_bindir >/dev/null; then return 0; fi
  # Keep Debian's postinst from creating (and possibly starting) a default
  # "main" cluster on port 5432: we only want the binaries.
  as_root mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' |
    as_root tee /etc/postgresql-common/createcluster.d/collections-local.conf >/dev/null
  apt_install postgresql
  find_bindir >/dev/null || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb"
}

# The OS user that owns and runs the cluster. initdb/postgres refuse to run
# as root, so as root we use $COLLECTIONS_PG_USER if set, else the `postgres`
# system user, else a dedicated `collections-pg` user (created if missing).
pg_os_user() {
  if [[ $EUID -ne 0 ]]; then id -un; return; fi
  local user="${COLLECTIONS_PG_USER:-}"
  if [[ -z "$user" ]]; then
    if id postgres >/dev/null 2>&1; then user=postgres; else user=$PG_USER_FALLBACK; fi
  fi
  if ! id "$user" >/dev/null 2>&1; then
    log "creating system user $user"
    useradd --system --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$user" >&2
  fi
  echo "$user"
}

# Run a command as the cluster owner, from inside the state dir (so no
# "could not change directory" noise), with fd 9 (our lock) closed.
as_pg() {
  local user="$1"; shift
  if [[ "$(id -un)" == "$user" ]]; then
    (cd "$STATE" && "$@" 9>&-)
  else
    (cd "$STATE" && runuser -u "$user" -- "$@" 9>&-)
  fi
}

postmaster_pid() {
  [[ -f "$DATA/postmaster.pid" ]] || return 0
  local pid
  pid="$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  pid_alive "$pid" || return 0
  # guard against pid reuse: must be a postmaster of *this* data dir
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  if [[ "$cmdline" == *"-D $DATA"* ]]; then echo "$pid"; fi
}

port_of_state() { sed -n 's/^port = \([0-9]*\).*/\1/p' "$DATA/postgresql.conf" | tail -n1; }

is_running() {
  local pid port
  pid="$(postmaster_pid)"
  [[ -n "$pid" && -f "$STATE/url" ]] || return 1
  port="$(port_of_state)"
  [[ -n "$port" ]] && "$BINDIR/pg_isready" -q -U postgres -d postgres -h 127.0.0.1 -p "$port" -t 2
}

do_start() {
  take_lock postgres
  do_install
  BINDIR="$(find_bindir)"
  if is_running; then
    log "already running (pid $(postmaster_pid))"
    cat "$STATE/url"
    return 0
  fi
  if [[ -d "$STATE" ]]; then
    log "removing stale state $STATE"
    stop_cluster
  fi

  local user port
  user="$(pg_os_user)"
  read -r port < <(free_ports 1)
  mkdir -p "$STATE"
  # the cluster owner must be able to traverse $STATE_ROOT (mkdir under a umask of 077 would block it)
  if [[ "$(id -un)" != "$user" && -O "$STATE_ROOT" ]]; then chmod go+x "$STATE_ROOT"; fi
  chown "$user:" "$STATE"
  chmod 755 "$STATE"
  runuser -u "$user" -- test -w "$STATE" 2>/dev/null || [[ "$(id -un)" == "$user" ]] ||
    die "user $user cannot write $STATE (is a parent directory private?); set COLLECTIONS_STATE elsewhere"

  log "initdb $DATA ($(basename "$(dirname "$BINDIR")"), os user $user)"
  as_pg "$user" "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-locale \
    --no-sync --no-instructions >"$STATE/initdb.log" 2>&1 ||
    { tail -n 30 "$STATE/initdb.log" >&2; die "initdb failed"; }

  cat >"$DATA/pg_hba.conf" <<'EOF'
# Generated by deploy/local/postgres.sh -- throwaway test cluster, trust everything local.
local   all          all                 trust
host    all          all  127.0.0.1/32   trust
host    all          all  ::1/128        trust
local   replication  all                 trust
host    replication  all  127.0.0.1/32   trust
EOF
  cat >>"$DATA/postgresql.conf" <<EOF

# --- deploy/local/postgres.sh: throwaway test cluster, durability off ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$STATE'
max_connections = 200
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  chown "$user:" "$DATA/pg_hba.conf" "$DATA/postgresql.conf"

  log "starting on 127.0.0.1:$port"
  if ! as_pg "$user" "$BINDIR/pg_ctl" -D "$DATA" -l "$STATE/postgres.log" \
      -w -t "$START_TIMEOUT" start >/dev/null 2>&1; then
    log "--- tail $STATE/postgres.log"; tail -n 30 "$STATE/postgres.log" >&2 || true
    die "PostgreSQL failed to start (state kept in $STATE for inspection)"
  fi
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    "$BINDIR/pg_isready" -q -U postgres -d postgres -h 127.0.0.1 -p "$port" -t 1 && break
    sleep 0.1
  done
  "$BINDIR/pg_isready" -q -U postgres -d postgres -h 127.0.0.1 -p "$port" -t 1 || {
    tail -n 30 "$STATE/postgres.log" >&2 || true
    die "pg_isready never succeeded on port $port"
  }
  local url="postgresql://postgres@127.0.0.1:$port"
  echo "$url" >"$STATE/url"
  log "ready (pid $(postmaster_pid))"
  echo "$url"
}

# Stop the cluster in $STATE (if its postmaster is alive) and delete $STATE.
stop_cluster() {
  local pid
  pid="$(postmaster_pid)"
  if [[ -n "$pid" ]]; then
    local user
    user="$(stat -c %U "$DATA")"
    log "stopping pid $pid"
    if ! as_pg "$user" "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
      log "pg_ctl stop failed, killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  elif [[ -d "$STATE" ]]; then
    log "not running; removing $STATE"
  else
    log "not running"
  fi
  rm -rf "$STATE"
}

do_restart() {
  take_lock postgres
  do_install
  BINDIR="$(find_bindir)"
  if is_running; then
    log "already running (pid $(postmaster_pid))"
    cat "$STATE/url"
    return 0
  fi
  [[ -f "$DATA/postgresql.conf" && -f "$STATE/url" ]] || die "no cluster in $STATE to restart (use start)"
  local user port
  user="$(stat -c %U "$DATA")"
  port="$(port_of_state)"
  log "restarting on 127.0.0.1:$port, keeping $DATA"
  if ! as_pg "$user" "$BINDIR/pg_ctl" -D "$DATA" -l "$STATE/postgres.log" \
      -w -t "$START_TIMEOUT" start >/dev/null 2>&1; then
    log "--- tail $STATE/postgres.log"; tail -n 30 "$STATE/postgres.log" >&2 || true
    die "PostgreSQL failed to restart (state kept in $STATE for inspection)"
  fi
  "$BINDIR/pg_isready" -q -U postgres -d postgres -h 127.0.0.1 -p "$port" -t "$START_TIMEOUT" ||
    die "pg_isready never succeeded on port $port"
  log "ready (pid $(postmaster_pid))"
  cat "$STATE/url"
}

do_stop() {
  take_lock postgres
  BINDIR="$(find_bindir || true)"
  stop_cluster
}

do_status() {
  BINDIR="$(find_bindir || true)"
  if [[ -n "$BINDIR" ]] && is_running; then
    log "running (pid $(postmaster_pid))"
    cat "$STATE/url"
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
