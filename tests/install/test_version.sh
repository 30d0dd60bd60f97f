# --version and `version` print project(VERSION) and, in a git checkout, the commit (git describe).
. "$(dirname "$0")/common.sh"
for how in --version version; do
  out=$("$STAGE/bin/centro-harness" $how)
  case $out in "centro-harness $CH_VERSION"*) pass "$how: $out" ;; *) fail "$how printed '$out', expected centro-harness $CH_VERSION" ;; esac
  if command -v git >/dev/null 2>&1 && [ -e "$CH_SOURCE_DIR/.git" ]; then
    commit=$(git -C "$CH_SOURCE_DIR" describe --always)
    case $out in *"(git $commit"*) pass "$how names the commit $commit" ;; *) fail "$how: '$out' does not name git $commit" ;; esac
  fi
done
# the libraries: "built with" is the version of the headers pkg-config found for this build, "running with" the
# library loaded now (the same on the build machine)
out=$("$STAGE/bin/centro-harness" --version)
for lib in libcurl:libcurl libwebsockets:libwebsockets OpenSSL:libcrypto libuv:libuv cJSON:libcjson; do
  name=${lib%%:*}
  want=$(pkg-config --modversion "${lib#*:}" 2>/dev/null | sed 's/-$//')
  line=$(printf '%s\n' "$out" | awk -v n="$name" '$1 == n')
  set -- $line
  if [ -z "$want" ]; then fail "pkg-config knows no ${lib#*:}"
  elif [ "$2" = "$want" ] && [ "$3" = "$want" ]; then pass "--version: $name built with $2, running with $3"
  else fail "--version: expected '$name $want $want', got '$line'"; fi
done
case $out in *"MPI "*) pass "--version names MPI" ;; *) fail "--version says nothing of MPI" ;; esac
"$STAGE/bin/centro-harness" version --help | grep -q '^Usage: centro-harness version' || fail "version --help"
"$STAGE/bin/centro-harness" version extra >/dev/null 2>&1; [ $? -eq 3 ] || fail "version extra: expected exit 3"
finish
