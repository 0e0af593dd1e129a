#!/usr/bin/env bash
# `make down`: stop what `make up` started, by process id, then Prometheus, Jaeger, Zipkin, Kafka, PostgreSQL.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export COLLECTIONS_STATE="${COLLECTIONS_STATE:-/tmp/collections-up}"
LOG_TAG=down
# shellcheck source=deploy/local/_lib.sh
source "$HERE/_lib.sh"
RUN="$STATE_ROOT/run"
for name in channels ledger delinquency outreach legal; do
  stop_group "$name"
done
[[ -x "$HERE/prometheus.sh" ]] && "$HERE/prometheus.sh" stop
[[ -x "$HERE/jaeger.sh" ]] && "$HERE/jaeger.sh" stop
[[ -x "$HERE/zipkin.sh" ]] && "$HERE/zipkin.sh" stop
"$HERE/kafka.sh" stop
"$HERE/postgres.sh" stop
rm -rf "$RUN"
exit 0
