#!/usr/bin/env bash
# Installs what the browser tests need, only when missing: Debian's chromium (never a downloaded browser), node and
# npm, and the pinned npm packages of package-lock.json (npm ci). Idempotent and quiet; needs root to apt-get.
set -euo pipefail
cd "$(dirname "$0")"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "browser/setup.sh: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Reinstall only when node_modules is missing or older than the lock file.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "browser/setup.sh: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
