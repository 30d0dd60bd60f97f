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
"$STAGE/bin/centro-harness" version --help | grep -q '^Usage: centro-harness version' || fail "version --help"
"$STAGE/bin/centro-harness" version extra >/dev/null 2>&1; [ $? -eq 3 ] || fail "version extra: expected exit 3"
finish
