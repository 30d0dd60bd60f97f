#!/usr/bin/env bash
# Installs what the browser tests need, only when missing: Debian's chromium (never a downloaded browser), node and
# npm, and the pinned npm packages of package-lock.json (npm ci). Idempotent and quiet; needs root to apt-get.
# Also the CTest browser.setup, which every test needing Chromium waits for (fixture browser_tools). Nothing is
# installed under CH_SKIP_BROWSER=1; under CH_ALLOW_SKIP=1 a failed install is left to the tests, which then skip.
set -euo pipefail
cd "$(dirname "$0")"

if [ "${CH_SKIP_BROWSER:-}" = 1 ]; then
  echo "browser/setup.sh: CH_SKIP_BROWSER=1, nothing installed"
  exit 0
fi

install_missing() {
  local need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)          # the TLS proof's test certificates
  command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)   # ... and Chromium's trust of the test CA
  if [ ${#need[@]} -gt 0 ]; then
    echo "browser/setup.sh: installing ${need[*]}"
    local SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      return 1
  fi

  # Reinstall only when node_modules is missing or older than the lock file.
  local stamp=node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    echo "browser/setup.sh: npm ci"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null || return 1
  fi
}

if ! install_missing; then
  if [ "${CH_ALLOW_SKIP:-}" = 1 ]; then
    echo "browser/setup.sh: could not install everything; the tests that need it skip (CH_ALLOW_SKIP=1)"
    exit 0
  fi
  echo "browser/setup.sh: could not install what the browser tests need" >&2
  exit 1
fi
