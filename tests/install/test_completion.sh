# The installed bash completion, driven as bash drives it (COMP_WORDS/COMP_CWORD, then COMPREPLY).
. "$(dirname "$0")/common.sh"
script=$STAGE/share/bash-completion/completions/centro-harness
complete_words() { # cwd, words... -> COMPREPLY, one per line (the last word is the one completed)
  local dir=$1; shift
  (cd "$dir" && PATH=$STAGE/bin:$PATH bash --norc --noprofile -c '
    . "$0" || exit 9
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _centro_harness
    printf "%s\n" "${COMPREPLY[@]}"' "$script" "$@")
}
expect() { # description, expected (newline-separated, sorted), actual
  [ "$(printf '%s\n' "$3" | sort)" = "$2" ] && pass "$1" || fail "$1: expected [$2], got [$3]"
}
expect "centro-harness ch -> check" "check" "$(complete_words "$WORK" centro-harness ch)"
expect "centro-harness check --on -> --only" "--only" "$(complete_words "$WORK" centro-harness check --on)"
expect "centro-harness val -> validate" "validate" "$(complete_words "$WORK" centro-harness val)"
expect "run --token-f -> --token-file" "--token-file" "$(complete_words "$WORK" centro-harness run --token-f)"
ids=$("$STAGE/bin/centro-harness" check --list | awk '/^NEG-00[0-9] / { print $1 }' | sort)
[ -n "$ids" ] || fail "check --list lists no NEG-00x"
expect "check --only NEG-00 -> the NEG-00x ids" "$ids" "$(complete_words "$WORK" centro-harness check --only NEG-00)"
expect "check --only AUTH-006,NEG-001 -> keeps the list" "AUTH-006,NEG-001" \
  "$(complete_words "$WORK" centro-harness check --only AUTH-006,NEG-001)"
mkdir -p "$WORK/files/sub" && touch "$WORK/files/a.json" "$WORK/files/b.txt"
expect "run <TAB> -> *.json and folders" "$(printf 'a.json\nsub')" "$(complete_words "$WORK/files" centro-harness run '')"
if command -v zsh >/dev/null 2>&1; then
  zsh -n "$STAGE/share/zsh/site-functions/_centro-harness" && pass "zsh completion parses" || fail "zsh completion does not parse"
else
  echo "zsh not installed: zsh completion syntax not checked"
fi
finish
