# The installed layout, and the installed binary moved to another prefix finding its shipped scenarios
# relative to itself (harness/core/ch_datadir.h), while a file that exists where the user says still wins.
. "$(dirname "$0")/common.sh"
for f in bin/centro-harness share/centro-harness/scenarios/smoke.json share/centro-harness/scenarios/schema.json \
         share/centro-harness/scenarios/conformance.json share/man/man1/centro-harness.1 \
         share/bash-completion/completions/centro-harness share/zsh/site-functions/_centro-harness; do
  [ -f "$STAGE/$f" ] && pass "installed $f" || fail "missing $STAGE/$f"
done
for f in "$CH_SOURCE_DIR"/scenarios/*.json; do
  cmp -s "$f" "$STAGE/share/centro-harness/scenarios/${f##*/}" || fail "scenarios/${f##*/} not shipped as is"
done

# relocate: copy the prefix somewhere else, run from a folder that has no scenarios/
moved=$WORK/elsewhere/opt/ch
mkdir -p "$moved" "$WORK/cwd"
cp -a "$STAGE/." "$moved/"
cd "$WORK/cwd" || exit 1
for arg in scenarios/smoke.json smoke smoke.json; do
  out=$("$moved/bin/centro-harness" validate "$arg" 2>&1)
  rc=$?
  [ $rc -eq 0 ] && pass "relocated: validate $arg" || fail "relocated: validate $arg exit $rc: $out"
done
# the relocated binary runs a shipped scenario by name, and checks the embedded endpoint, outside the source tree
out=$("$moved/bin/centro-harness" run smoke --quiet --report-dir "$WORK/run" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -s "$WORK/run/report.json" ] && pass "relocated: run smoke" || fail "relocated: run smoke exit $rc: $out"
out=$("$moved/bin/centro-harness" check --only NEG-001 --report-dir "$WORK/check" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -s "$WORK/check/report.json" ] && pass "relocated: check --only NEG-001" \
  || fail "relocated: check exit $rc: $out"
out=$("$moved/bin/centro-harness" validate no-such-scenario 2>&1)
rc=$?
case $out in
  *"nor found in $moved/share/centro-harness/scenarios"*)
    [ $rc -eq 3 ] && pass "missing scenario: exit 3, says where it looked" || fail "missing scenario: exit $rc" ;;
  *) fail "missing scenario: exit $rc, message: $out" ;;
esac
# a binary without its share/ folder finds nothing: the scenario above came from the install, not elsewhere
mkdir -p "$WORK/bare/bin" && cp "$moved/bin/centro-harness" "$WORK/bare/bin/"
"$WORK/bare/bin/centro-harness" validate smoke >/dev/null 2>&1 && fail "a binary without share/ found a scenario"
# the file the user names, when it exists, is used (today's behaviour in the source tree)
mkdir -p scenarios && echo '{"not": "a scenario"' > scenarios/smoke.json
if "$moved/bin/centro-harness" validate scenarios/smoke.json >/dev/null 2>&1; then
  fail "an existing ./scenarios/smoke.json was not used"
else
  pass "an existing relative path wins over the shipped copy"
fi
finish
