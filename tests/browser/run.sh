#!/usr/bin/env bash
# CTest entry point: setup, then the official-client and node-signalr proof against the reference endpoint.
# $1: the ch_browser_server binary; further arguments go to the node script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup.sh"
server="$1"; shift
exec node "$here/official-client.test.mjs" --server "$server" "$@"
