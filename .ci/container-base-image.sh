#!/usr/bin/env bash
# Makes the Debian 12 base images of the Containerfile from the Debian mirror apt uses, for a machine whose
# container engine cannot pull from docker.io: a minbase debootstrap of bookworm, imported as localhost/debian:12
# and tagged localhost/debian:12-slim too (tests/install/test_container.sh uses them when docker.io has none).
# Needs root, debootstrap, and podman or docker. Usage: container-base-image.sh [MIRROR]
set -euo pipefail
engine=""
for e in podman docker; do command -v "$e" >/dev/null 2>&1 && { engine=$e; break; }; done
[ -n "$engine" ] || { echo "container-base-image: no podman or docker" >&2; exit 1; }
command -v debootstrap >/dev/null 2>&1 || { echo "container-base-image: apt-get install debootstrap" >&2; exit 1; }
# the first Debian mirror apt knows (deb822 URIs: or a one-line deb entry), else deb.debian.org
mirror=${1:-$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | sed -n -e 's/^URIs: *\([^ ]*\/debian\)\/*$/\1/p' -e 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\([^ ]*\/debian\)\/* .*/\2/p' \
  | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d "${TMPDIR:-/tmp}/debian12-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "container-base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
tar -C "$root" -c . | "$engine" import - localhost/debian:12
"$engine" tag localhost/debian:12 localhost/debian:12-slim
echo "container-base-image: localhost/debian:12 and localhost/debian:12-slim ($("$engine" run --rm localhost/debian:12 cat /etc/debian_version))"
