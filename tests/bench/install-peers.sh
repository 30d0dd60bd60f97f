#!/usr/bin/env bash
# Installs the peer load tools that `make bench` (tests/bench/run.sh, section peers) compares centro-harness with:
#   Tsung      from the Debian package `tsung` (apt-get, only when missing; needs root or sudo);
#   Artillery  from npm into tests/bench/peers/node_modules (version pinned in tests/bench/peers/package.json;
#              2.0.21 is the newest release whose engines field accepts this machine's Node 20).
# Idempotent: prints what it did, and does nothing when both are there. Exits 5 with a message when a registry
# (the Debian mirror or npm) cannot be reached or an install fails. Not part of `make test`.
# Usage: tests/bench/install-peers.sh [tsung|artillery]   (default: both)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peers="$here/peers"
what=${1:-all}
rc=0

install_tsung() {
  if command -v tsung >/dev/null 2>&1; then
    echo "install-peers: tsung already installed ($(dpkg-query -W -f='${Version}' tsung 2>/dev/null || echo '?'))"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-peers: tsung missing and not root (no sudo)" >&2; return 5; }
    sudo=sudo
  fi
  echo "install-peers: installing Debian package tsung (apt-get)"
  if ! $sudo apt-get update -qq; then
    echo "install-peers: apt-get update failed: is the Debian mirror reachable?" >&2
    return 5
  fi
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends tsung >/dev/null; then
    echo "install-peers: apt-get install tsung failed (mirror unreachable or package missing)" >&2
    return 5
  fi
  echo "install-peers: tsung $(dpkg-query -W -f='${Version}' tsung) installed"
}

install_artillery() {
  local want have
  want=$(sed -n 's/.*"artillery": *"\([^"]*\)".*/\1/p' "$peers/package.json")
  have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$peers/node_modules/artillery/package.json" 2>/dev/null | head -1)
  if [ -n "$have" ] && [ "$have" = "$want" ] && [ -x "$peers/node_modules/.bin/artillery" ]; then
    echo "install-peers: artillery $have already installed in $peers/node_modules"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || { echo "install-peers: npm not found (run .ci/install-deps.sh test)" >&2; return 5; }
  echo "install-peers: installing npm artillery@$want into $peers/node_modules (node $(node --version))"
  if ! timeout 60 npm view "artillery@$want" version >/dev/null 2>&1; then
    echo "install-peers: the npm registry ($(npm config get registry)) is unreachable" >&2
    return 5
  fi
  # --ignore-scripts: no postinstall downloads (Playwright browsers, telemetry); the ws engine needs none of them.
  if ! (cd "$peers" && timeout 900 npm install --no-audit --no-fund --ignore-scripts --omit=dev --loglevel=error); then
    echo "install-peers: npm install failed" >&2
    return 5
  fi
  echo "install-peers: artillery $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$peers/node_modules/artillery/package.json" | head -1) installed"
}

case "$what" in
  tsung) install_tsung || rc=$? ;;
  artillery) install_artillery || rc=$? ;;
  all)
    install_tsung || rc=$?
    install_artillery || rc=$?
    ;;
  *) echo "usage: install-peers.sh [tsung|artillery]" >&2; exit 2 ;;
esac
exit "$rc"
