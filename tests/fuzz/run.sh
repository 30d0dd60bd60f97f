#!/usr/bin/env bash
# Short, bounded libFuzzer run of every fuzz target: each gets SECONDS seconds, starting from its corpus in
# tests/fuzz/corpus/<name>/ (new inputs go to a scratch folder, so the checked-in corpus only changes by hand).
# Every tests/fuzz/fuzz_*.c must have been built and must run: a missing target fails the step, as does a run of none.
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-20}
shopt -s nullglob
srcs=(tests/fuzz/fuzz_*.c)
if [ ${#srcs[@]} -eq 0 ]; then
  echo "fuzz: no tests/fuzz/fuzz_*.c found (run from the source root)" >&2
  exit 1
fi
missing=()
for src in "${srcs[@]}"; do
  name=$(basename "$src" .c)
  [ -x "$build/tests/$name" ] || missing+=("$name")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: not built in $build/tests: ${missing[*]} (make fuzz builds them)" >&2
  exit 1
fi
n=0
for src in "${srcs[@]}"; do
  name=$(basename "$src" .c); bin="$build/tests/$name"; short=${name#fuzz_*_}
  corpus="tests/fuzz/corpus/$short"; scratch=$(mktemp -d)
  mkdir -p "$corpus"
  echo "fuzz: $name for ${secs}s (corpus $corpus)"
  "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
    "$scratch" "$corpus" > "$scratch.log" 2>&1 || { tail -n 60 "$scratch.log"; rm -rf "$scratch"; exit 1; }
  rm -rf "$scratch" "$scratch.log"
  n=$((n + 1))
done
if [ "$n" -ne ${#srcs[@]} ]; then
  echo "fuzz: $n of ${#srcs[@]} targets ran" >&2
  exit 1
fi
echo "fuzz: $n targets ran clean"
