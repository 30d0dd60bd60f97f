#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing centro-harness needs, only those missing.
# Needs root (or sudo) when something is missing; prints what it installs.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libcurl4-openssl-dev libwebsockets-dev libwebsockets-evlib-uv libcjson-dev libcunit1-dev libuv1-dev
      valgrind curl ca-certificates)
[ "${CH_WITH_BROWSER:-0}" = 1 ] && pkgs+=(chromium nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from another repository with npm bundled: accept any working npm.
if [ "${CH_WITH_BROWSER:-0}" = 1 ] && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
  missing=("${missing[@]/nodejs}")
fi
read -r -a missing <<< "${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
