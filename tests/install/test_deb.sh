# `make package` builds a .deb that apt installs into this machine (root only), whose /usr/bin/centro-harness
# checks a `serve` it started, whose man pages render, that lintian passes (dist/deb/lintian-allowed) and that
# dpkg removes again. Whatever happens, the trap removes the package and the machine's /usr is as before.
. "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || { echo "skipped: installing a .deb into /usr needs root (the tests run as root on CI)"; exit 77; }
for tool in dpkg-shlibdeps lintian file; do
  command -v $tool >/dev/null 2>&1 || may_skip "$tool not found (.ci/install-deps.sh test installs it)"
done
# One package test at a time on this machine (another build folder may run it too).
exec 9>"${TMPDIR:-/tmp}/centro-harness-test-deb.lock"
flock -w 600 9 || { echo "FAIL: another package test held the lock for 10 minutes" >&2; exit 1; }
if dpkg-query -W -f='${Status}' centro-harness 2>/dev/null | grep -q "ok installed" || [ -e /usr/bin/centro-harness ]; then
  echo "FAIL: centro-harness is already installed in /usr on this machine; the test would replace it (dpkg -r centro-harness)" >&2
  exit 1
fi
installed=0 serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  if [ "$installed" -eq 1 ]; then
    dpkg -r centro-harness >/dev/null 2>&1 || echo "FAIL: dpkg -r centro-harness failed: remove it by hand" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

build_deb "$WORK/pkg"
pass "package built: ${deb##*/}"
version=$(dpkg-deb -f "$deb" Version)
case $version in "$CH_VERSION"*-1) pass "version $version" ;; *) fail "version '$version' does not start with $CH_VERSION and end in -1" ;; esac
# Depends name the package of every library the binary links (its NEEDED entries, found with ldd and dpkg -S)
depends=$(dpkg-deb -f "$deb" Depends)
libs=$(ldd "$CH_BUILD_DIR/centro-harness")
for so in $(readelf -d "$CH_BUILD_DIR/centro-harness" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=$(printf '%s\n' "$libs" | awk -v s="$so" '$1 == s { print $3 }')
  lib=$({ dpkg -S "$path" || dpkg -S "$(readlink -f "$path")"; } 2>/dev/null | head -1 | cut -d: -f1)
  case ", $depends," in
    *", $lib "*|*", $lib,"*) [ -n "$lib" ] && pass "Depends names $lib ($so)" || fail "no package owns $so ($path)" ;;
    *) fail "Depends lacks $lib, the package of $so: $depends" ;;
  esac
done
# and the libuv event loop plugin libwebsockets dlopens (no NEEDED entry names it)
case ", $depends," in *", libwebsockets-evlib-uv"[,\ ]*) pass "Depends names libwebsockets-evlib-uv (dlopened)" ;;
  *) fail "Depends lacks libwebsockets-evlib-uv, the plugin lws loads at run time: $depends" ;; esac
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/bin/centro-harness ./usr/share/centro-harness/scenarios/smoke.json \
         ./usr/share/centro-harness/scenarios/schema.json ./usr/share/man/man1/centro-harness.1.gz \
         ./usr/share/man/man1/centro-harness-check.1.gz ./usr/share/bash-completion/completions/centro-harness \
         ./usr/share/zsh/vendor-completions/_centro-harness ./usr/share/doc/centro-harness/copyright \
         ./usr/share/doc/centro-harness/changelog.Debian.gz; do
  printf '%s\n' "$contents" | grep -qx -- "$f" && pass "packaged $f" || fail "$f not in the package"
done
printf '%s\n' "$contents" | grep -q '\.1$' && fail "a man page is not gzipped"

# lintian: nothing at warning level or above but the allowed tags
allowed=$(awk '!/^#/ && NF { printf "%s%s", sep, $1; sep = "," }' "$CH_SOURCE_DIR/dist/deb/lintian-allowed")
if lintian --fail-on error,warning --suppress-tags "$allowed" "$deb" >"$WORK/lintian.log" 2>&1; then
  pass "lintian clean (allowed: $allowed)"
else
  fail "lintian: $(grep -E '^[EW]:' "$WORK/lintian.log" | head -20)"
fi

installed=1 # from here on, the trap removes it
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "$deb" \
  >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; echo "FAIL: apt-get install $deb" >&2; exit 1; }
dpkg-query -W -f='${Status} ${Version}' centro-harness | grep -q "install ok installed $version" \
  && pass "apt-get install ./${deb##*/}" || fail "dpkg does not list centro-harness $version as installed"

out=$(/usr/bin/centro-harness --version)
case $out in "centro-harness $CH_VERSION"*libcurl*) pass "/usr/bin/centro-harness --version" ;; *) fail "--version: $out" ;; esac
cd "$WORK" || exit 1
/usr/bin/centro-harness validate smoke >/dev/null 2>&1 && pass "validate smoke finds /usr/share/centro-harness" \
  || fail "validate smoke: $(/usr/bin/centro-harness validate smoke 2>&1)"
# serve from the installed binary, check against it with the same token (webSockets: the other transports' checks
# are the integration tests' business; this proves the installed binary speaks to the installed server)
start_serve /usr/bin/centro-harness --token pkgtest:alice --keepalive 1 --quiet
if [ -z "$url" ]; then
  fail "serve did not start: $(cat "$WORK/serve.out")"
else
  /usr/bin/centro-harness check --target "$url" --token pkgtest --transport webSockets --report-dir "$WORK/check" >"$WORK/check.out" 2>&1
  rc=$?
  [ $rc -eq 0 ] && [ -s "$WORK/check/report.json" ] && pass "check against serve: $(tail -1 "$WORK/check.out")" \
    || fail "check against serve exit $rc: $(grep -E '^(FAIL|exit)' "$WORK/check.out" | head -10)"
fi
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; serve_pid=""

for page in centro-harness centro-harness-run centro-harness-check; do
  f=/usr/share/man/man1/$page.1.gz
  text=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$f" 2>"$WORK/warnings")
  case $text in *NAME*"$page - "*SYNOPSIS*) [ -s "$WORK/warnings" ] && fail "$page: $(cat "$WORK/warnings")" || pass "man -l $f" ;;
    *) fail "man -l $f: no NAME/SYNOPSIS" ;; esac
done
bash --norc --noprofile -c '. /usr/share/bash-completion/completions/centro-harness && declare -F _centro_harness' \
  >/dev/null && pass "bash completion loads" || fail "bash completion does not load"

dpkg -r centro-harness >"$WORK/remove.log" 2>&1 && installed=0 || fail "dpkg -r: $(cat "$WORK/remove.log")"
[ -e /usr/bin/centro-harness ] || [ -e /usr/share/centro-harness ] && fail "files left in /usr after dpkg -r"
[ "$installed" -eq 0 ] && pass "dpkg -r centro-harness leaves nothing in /usr"
finish
