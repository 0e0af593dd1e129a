#!/usr/bin/env bash
# Headless Chromium for the browser tests (the operations page, /docs, reports, the trace UI).
#
#   chromium.sh install   install Debian's chromium when /usr/bin/chromium is missing (needs root/apt)
#   chromium.sh path      print the browser's path (exit 1 when it is not installed)
#
# Debian's package, not a browser downloaded by a test library: the machine's closed network serves
# Debian's archive, and one browser build is then shared by every test and by CI.
set -euo pipefail
BROWSER="${CHROMIUM:-/usr/bin/chromium}"
case "${1:-}" in
  install)
    if [ -x "$BROWSER" ]; then echo "$BROWSER"; exit 0; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-liberation >/dev/null
    echo "$BROWSER"
    ;;
  path)
    [ -x "$BROWSER" ] || { echo "chromium.sh: $BROWSER is missing; run deploy/local/chromium.sh install" >&2; exit 1; }
    echo "$BROWSER"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
