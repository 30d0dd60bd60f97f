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
