#!/usr/bin/env bash
# `make restart SERVICE=ledger`: stop one process of `make up` (ledger, delinquency, outreach, legal or
# channels) if it still runs, then start it again as `make up` does, its log appended to (a line marks
# the restart). Everything else keeps running. Give the same COLLECTIONS_* variables as to `make up`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export COLLECTIONS_STATE="${COLLECTIONS_STATE:-/tmp/collections-up}"
LOG_TAG=restart
# shellcheck source=deploy/local/_lib.sh
source "$HERE/_lib.sh"
RUN="$STATE_ROOT/run"
service=${1:-}
case "$service" in
  ledger | delinquency | outreach | legal | channels) ;;
  "") die "which one? make restart SERVICE=ledger (ledger, delinquency, outreach, legal, channels)" ;;
  *) die "no service '$service' (ledger, delinquency, outreach, legal, channels)" ;;
esac
[[ -d "$RUN" ]] || die "make up is not running here (no $RUN); start it with make up"
stop_group "$service"
# up.sh starts only what is not running, so this brings back just the one stopped above.
exec "$HERE/up.sh"
