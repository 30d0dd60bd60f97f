# The Containerfile's shape, checked without a container engine (test_container.sh builds it when one works):
# its stages, the files it copies and the install script it runs exist, the runtime stage installs the package
# cpack names and runs the binary CMake builds, as a user other than root, with /reports as a volume.
. "$(dirname "$0")/common.sh"
cf=$CH_SOURCE_DIR/Containerfile
[ -f "$cf" ] || { echo "FAIL: no $cf" >&2; exit 1; }
# instructions, one per line: continuation lines joined, comments and blank lines dropped
awk '/^[[:space:]]*#/ || !NF { next } { line = line $0 } /\\$/ { sub(/\\$/, "", line); next } { print line; line = "" }' \
  "$cf" > "$WORK/instructions"
# FROM's image with the defaults of the ARGs before the first FROM (the base images are build arguments)
stages=$(awk 'toupper($1) == "ARG" && !from && split($2, kv, "=") == 2 { arg[kv[1]] = kv[2] }
  toupper($1) == "FROM" { from = 1; img = $2; for (a in arg) { gsub("\\$\\{" a "\\}", arg[a], img); if (img == "$" a) img = arg[a] }
                          print img, (toupper($3) == "AS" ? $4 : "-") }' "$WORK/instructions")
printf '%s\n' "$stages" | grep -q '\$' && fail "a FROM names an ARG without a default: $(echo $stages)"
[ "$(printf '%s\n' "$stages" | wc -l)" -ge 2 ] && pass "multi-stage: $(echo $stages)" || fail "fewer than two FROM lines: $stages"
first_image=$(printf '%s\n' "$stages" | head -1 | cut -d' ' -f1)
last_image=$(printf '%s\n' "$stages" | tail -1 | cut -d' ' -f1)
case $first_image in *debian:12) pass "build stage on $first_image" ;; *) fail "build stage is $first_image, not Debian 12" ;; esac
case $last_image in *debian:12-slim) pass "runtime stage on $last_image" ;; *) fail "runtime stage is $last_image, not debian:12-slim" ;; esac
dups=$(printf '%s\n' "$stages" | cut -d' ' -f2 | grep -v '^-$' | sort | uniq -d)
[ -z "$dups" ] || fail "stage names used twice: $dups"
# COPY --from names an earlier stage; other COPY sources exist in the source tree
seen=""
while read -r instr rest; do
  case $(echo "$instr" | tr a-z A-Z) in
    FROM) set -- $rest; [ "$(echo "${2:-}" | tr a-z A-Z)" = AS ] && seen="$seen $3" ;;
    COPY)
      set -- $rest
      case $1 in
        --from=*) from=${1#--from=}
          case " $seen " in *" $from "*) pass "COPY --from=$from names an earlier stage" ;; *) fail "COPY --from=$from: no such earlier stage" ;; esac ;;
        *) while [ $# -gt 1 ]; do
             [ -e "$CH_SOURCE_DIR/$1" ] && pass "COPY $1 exists" || fail "COPY $1: not in the source tree"; shift
           done ;;
      esac ;;
  esac
done < "$WORK/instructions"
# the build stage runs the project's own install script, with a set it knows
script=$(grep -i '^RUN ' "$WORK/instructions" | grep -o '[^ ]*\.ci/install-deps\.sh [a-z]*' | head -1)
[ -n "$script" ] || fail "no RUN of .ci/install-deps.sh"
set -- $script
[ -f "$CH_SOURCE_DIR/.ci/install-deps.sh" ] && pass "RUN $script: the script exists" || fail "no .ci/install-deps.sh"
grep -q "\"\${1:-test}\" = test" "$CH_SOURCE_DIR/.ci/install-deps.sh" && [ "${2:-}" = build ] \
  && pass "install-deps.sh is run with its build set" || fail "install-deps.sh is run with '${2:-}', not build"
# test_container.sh replaces the stage that holds the .deb (--build-context NAME=DIR): it must be the stage the
# runtime stage copies the .deb from
ctx=$(sed -n 's/.*--build-context "\([a-z]*\)=.*/\1/p' "$CH_SOURCE_DIR/tests/install/test_container.sh" | head -1)
[ -n "$ctx" ] && printf '%s\n' "$stages" | grep -q " $ctx\$" && grep -Eiq "^COPY --from=$ctx /[^ ]*\.deb " "$WORK/instructions" \
  && pass "test_container.sh's --build-context $ctx replaces the stage the .deb is copied from" \
  || fail "no stage '${ctx:-?}' (test_container.sh's --build-context) that the runtime stage copies the .deb from"
# the runtime stage installs the package cpack makes and runs the binary CMake builds
runtime=$(awk 'toupper($1) == "FROM" { n++ } n == '"$(printf '%s\n' "$stages" | wc -l)"'' "$WORK/instructions")
pkg=$(sed -n 's/^set(CPACK_PACKAGE_NAME \([^ )]*\))/\1/p' "$CH_SOURCE_DIR/cmake/Packaging.cmake")
binary=$(sed -n 's/^ *add_executable(\([^ ]*\) .*/\1/p' "$CH_SOURCE_DIR/CMakeLists.txt" | head -1)
[ -n "$pkg" ] && printf '%s\n' "$runtime" | grep -q "apt-get install .*/${pkg}_\*\.deb" \
  && pass "runtime installs ${pkg}_*.deb" || fail "runtime stage does not apt-get install the ${pkg:-?}_*.deb cpack makes"
entry=$(printf '%s\n' "$runtime" | awk 'toupper($1) == "ENTRYPOINT" { $1 = ""; print }' | tail -1)
[ -n "$binary" ] && [ "$(echo $entry)" = "[\"$binary\"]" ] && pass "ENTRYPOINT [\"$binary\"] (exec form)" \
  || fail "ENTRYPOINT is '$entry', expected [\"$binary\"], the executable of CMakeLists.txt"
user=$(printf '%s\n' "$runtime" | awk 'toupper($1) == "USER" { print $2 }' | tail -1)
case ${user%%:*} in ''|root|0) fail "the runtime stage runs as '${user:-root}'" ;; *) pass "runs as user $user" ;; esac
printf '%s\n' "$runtime" | grep -Eiq '^VOLUME .*"?/reports"?' && pass "/reports is a volume" || fail "no VOLUME /reports"
# the build context leaves build folders and run output out
ign=$CH_SOURCE_DIR/.dockerignore
[ -f "$ign" ] && grep -qx 'build\*' "$ign" && grep -qx 'reports/\*' "$ign" && pass ".dockerignore leaves out build*/ and reports/" \
  || fail ".dockerignore does not leave out build* and reports/*"
finish
