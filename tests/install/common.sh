# Sourced by tests/install/test_*.sh. CTest passes CH_BUILD_DIR, CH_SOURCE_DIR, CH_VERSION, CH_CMAKE.
# The fixture install.setup (setup.sh) installs the build into $CH_BUILD_DIR/test-install/destdir with
# --prefix /usr/local, as a packager would: STAGE is that prefix inside the DESTDIR.
STAGE=$CH_BUILD_DIR/test-install/destdir/usr/local
COMMANDS_SHIPPED="run check capacity validate serve report merge compare shrink version"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# A prerequisite that is missing fails the test; CH_ALLOW_SKIP=1 turns that into a skip (exit 77), as in the C tests.
may_skip() { [ "${CH_ALLOW_SKIP:-}" = 1 ] && { echo "skipped: $*"; exit 77; }; echo "FAIL: $* (CH_ALLOW_SKIP=1 skips)" >&2; exit 1; }
finish() { [ "$failures" -eq 0 ] && echo "all passed" && exit 0; echo "$failures failed" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ch-install-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[ -x "$STAGE/bin/centro-harness" ] || { echo "FAIL: no staged install at $STAGE (install.setup)" >&2; exit 1; }
# build_deb DIR: what `make package` runs once the build is done (cpack of the build folder), into DIR; sets deb to
# the one centro-harness_*.deb made, or exits failing.
build_deb() {
  "$CH_CPACK" --config "$CH_BUILD_DIR/CPackConfig.cmake" -B "$1" >"$WORK/cpack.log" 2>&1 \
    || { cat "$WORK/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
  set -- "$1"/centro-harness_*.deb
  [ $# -eq 1 ] && [ -f "$1" ] || { echo "FAIL: no single centro-harness_*.deb made by cpack: $*" >&2; exit 1; }
  deb=$1
}
# start_serve BINARY ARGS...: starts `BINARY serve ARGS...` in the background (serve_pid) and waits up to 10 s for
# its "listening on" line; sets url to its http://host:port, or to "" when it did not start (serve.out says why).
start_serve() {
  local bin=$1; shift
  "$bin" serve "$@" >"$WORK/serve.out" 2>&1 &
  serve_pid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on \(http:[^ ,]*\)\/signalr.*/\1/p' "$WORK/serve.out")
    [ -n "$url" ] && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
}
