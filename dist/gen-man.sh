#!/bin/sh
# Generates the manual pages from the built binary's --help text (run by CMake at build time; no second copy of
# the text to keep in step): centro-harness.1 from `centro-harness --help`, and centro-harness-CMD.1 from
# `centro-harness CMD --help` for every command that `--help` lists, with its one-line summary as the NAME.
# Usage: gen-man.sh BINARY OUTDIR VERSION
set -eu
bin=$1 out=$2 version=$3
awk_script=$(dirname "$0")/help2roff.awk
mkdir -p "$out"
rm -f "$out"/*.1
help=$("$bin" --help)
cmds=$(printf '%s\n' "$help" | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f { exit }')
[ -n "$cmds" ] || { echo "gen-man: no commands in '$bin --help'" >&2; exit 1; }
all=""
for c in $cmds; do all="$all${all:+,}centro-harness-$c"; done
# NAME of the main page: the line after the synopsis
summary=$(printf '%s\n' "$help" | awk '!/^Usage: / && NF { print; exit }')
printf '%s\n' "$help" | awk -v page=centro-harness -v summary="$summary" -v version="$version" \
  -v seealso="$all" -f "$awk_script" > "$out/centro-harness.1"
for c in $cmds; do
  summary=$(printf '%s\n' "$help" | awk -v c="$c" '/^Commands:/ { f = 1; next }
    f && $1 == c { sub(/^ *[a-z]+ +/, ""); print; exit }')
  "$bin" "$c" --help | awk -v page="centro-harness-$c" -v summary="$summary" -v version="$version" \
    -v seealso="centro-harness" -f "$awk_script" > "$out/centro-harness-$c.1"
done
