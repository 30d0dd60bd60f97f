# Builds the Containerfile's image and runs it, when a container engine works on this machine (podman or docker
# answering `info`); otherwise "skipped: no container engine" (exit 77). test_containerfile.sh always checks the
# file itself.
. "$(dirname "$0")/common.sh"
engine=""
for e in podman docker; do
  command -v "$e" >/dev/null 2>&1 && timeout 60 "$e" info >/dev/null 2>&1 && { engine=$e; break; }
done
[ -n "$engine" ] || { echo "skipped: no container engine (podman or docker that answers '<engine> info')"; exit 77; }
tag=localhost/centro-harness-test:$$
trap '"$engine" rmi -f "$tag" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
echo "building with $engine (a few minutes: Debian packages and a full compile)"
if "$engine" build -f "$CH_SOURCE_DIR/Containerfile" -t "$tag" "$CH_SOURCE_DIR" >"$WORK/build.log" 2>&1; then
  pass "$engine build -f Containerfile"
else
  tail -40 "$WORK/build.log" >&2; echo "FAIL: $engine build" >&2; exit 1
fi
out=$("$engine" run --rm "$tag" --version 2>&1)
case $out in "centro-harness $CH_VERSION"*libcurl*) pass "run --version: $(echo "$out" | head -1)" ;; *) fail "run --version: $out" ;; esac
uid=$("$engine" run --rm --entrypoint id "$tag" -u 2>&1)
case $uid in ''|0|*[!0-9]*) fail "the image runs as uid '$uid'" ;; *) pass "runs as uid $uid" ;; esac
# a check against the embedded endpoint, its report on the /reports volume
out=$("$engine" run --rm "$tag" check --only NEG-001 2>&1)
rc=$?
case $out in *"report: reports/"*) ;; *) fail "check did not write its report under /reports: $out" ;; esac
[ $rc -eq 0 ] && pass "run check --only NEG-001 (exit 0)" || fail "run check exit $rc: $out"
"$engine" run --rm "$tag" run smoke --quiet >"$WORK/run.out" 2>&1 && pass "run smoke (shipped scenario)" \
  || fail "run smoke: $(tail -5 "$WORK/run.out")"
finish
