#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing centro-harness needs, only those missing.
# Needs root (or sudo) when something is missing; prints what it installs.
# Usage: install-deps.sh [build|test]   (build: enough to build and run; test, the default: also the test tools)
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libcurl4-openssl-dev libwebsockets-dev libwebsockets-evlib-uv libcjson-dev libcunit1-dev libuv1-dev libssl-dev
      curl ca-certificates)
if [ "${1:-test}" = test ]; then
  # clang for the ASan+UBSan build and libFuzzer, xmllint for the JUnit schema check, chromium (+ Node.js) for
  # the report rendering test and the official JS client proof.
  # man-db (with groff) renders the generated man pages in the install test.
  # openssl makes the browser TLS proof's certificates; certutil (libnss3-tools) makes Chromium trust its test CA.
  pkgs+=(openssl libnss3-tools)
  # prometheus (with promtool) scrapes a live run and checks its exposition (test_live_prometheus).
  pkgs+=(clang libclang-rt-14-dev valgrind libxml2-utils chromium man-db prometheus)
  # Node.js may come from another repository with npm bundled: install Debian's only when none works.
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
  # python3-yaml: the CI examples' test reads their YAML (tests/ci/).
  pkgs+=(python3-yaml)
  # dpkg-dev (dpkg-shlibdeps), file and lintian for the .deb test (make package, tests/install/test_deb.sh).
  pkgs+=(dpkg-dev file lintian)
  # Open MPI: the test builds have run --mpi (CH_HAVE_MPI=ON) and test_run_mpi launches it with mpirun.
  pkgs+=(openmpi-bin libopenmpi-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
