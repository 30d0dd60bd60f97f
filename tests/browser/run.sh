#!/usr/bin/env bash
# CTest entry point: setup, then the official-client and node-signalr proof against the reference endpoint.
# $1: the ch_browser_server binary; further arguments go to the node script. `run.sh --dashboard BINARY` runs the
# live dashboard test (dashboard.test.mjs) instead. Exit 77 (CTest: skipped) only when
# skipping was asked for: CH_SKIP_BROWSER=1, or CH_ALLOW_SKIP=1 with Chromium, node or the npm packages missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${CH_SKIP_BROWSER:-}" = 1 ]; then
  echo "SKIPPED: browser proof (CH_SKIP_BROWSER=1)"
  exit 77
fi
bash "$here/setup.sh"
if [ "${CH_ALLOW_SKIP:-}" = 1 ] && { [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null 2>&1 ||
  [ ! -f "$here/node_modules/.package-lock.json" ]; }; then
  echo "SKIPPED: browser proof: chromium, node or the npm packages missing (CH_ALLOW_SKIP=1)"
  exit 77
fi
server="$1"; shift
if [ "$server" = --dashboard ]; then # the live dashboard test: $1 is the centro-harness binary
  exec node "$here/dashboard.test.mjs" --binary "$1"
fi
exec node "$here/official-client.test.mjs" --server "$server" "$@"
