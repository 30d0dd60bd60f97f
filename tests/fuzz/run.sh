#!/usr/bin/env bash
# Short, bounded libFuzzer run of every fuzz target: each gets SECONDS seconds, starting from its corpus in
# tests/fuzz/corpus/<name>/ (new inputs go to a scratch folder, so the checked-in corpus only changes by hand).
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-20}
shopt -s nullglob
n=0
for bin in "$build"/tests/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); short=${name#fuzz_*_}
  corpus="tests/fuzz/corpus/$short"; scratch=$(mktemp -d)
  mkdir -p "$corpus"
  echo "fuzz: $name for ${secs}s (corpus $corpus)"
  "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
    "$scratch" "$corpus" > "$scratch.log" 2>&1 || { tail -n 60 "$scratch.log"; rm -rf "$scratch"; exit 1; }
  rm -rf "$scratch" "$scratch.log"
  n=$((n + 1))
done
echo "fuzz: $n targets ran clean"
