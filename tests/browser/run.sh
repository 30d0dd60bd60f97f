#!/usr/bin/env bash
# CTest entry point: setup, then the official-client and node-signalr proof against the reference endpoint.
# [--tls] $1: the ch_browser_server binary; further arguments go to the node script. `run.sh --dashboard BINARY` runs
# the live dashboard test (dashboard.test.mjs) instead. Exit 77 (CTest: skipped) only when
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
if [ "${1:-}" = --dashboard ]; then # the live dashboard test: $2 is the centro-harness binary
  exec node "$here/dashboard.test.mjs" --binary "$2"
fi
# --tls: the https/wss proof (official-client-tls.test.mjs), which also needs openssl and certutil (libnss3-tools)
script=official-client.test.mjs
if [ "${1:-}" = --tls ]; then
  script=official-client-tls.test.mjs; shift
  if [ "${CH_ALLOW_SKIP:-}" = 1 ] &&
    { ! command -v openssl >/dev/null 2>&1 || ! command -v certutil >/dev/null 2>&1; }; then
    echo "SKIPPED: browser TLS proof: openssl or certutil (libnss3-tools) missing (CH_ALLOW_SKIP=1)"
    exit 77
  fi
fi
server="$1"; shift
exec node "$here/$script" --server "$server" "$@"
