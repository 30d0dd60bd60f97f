# Every command has an installed man page generated from its --help, and each renders without warnings.
. "$(dirname "$0")/common.sh"
bin=$STAGE/bin/centro-harness
man1=$STAGE/share/man/man1
listed=$("$bin" --help | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f { exit }')
for c in $COMMANDS_SHIPPED; do
  case " $(echo $listed) " in *" $c "*) ;; *) fail "'$c' is not in centro-harness --help" ;; esac
done
render() { # page -> rendered text on stdout, warnings on stderr
  if command -v man >/dev/null 2>&1; then
    MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$1"
  else
    groff -man -Tutf8 -ww "$1"
  fi
}
for page in centro-harness $(for c in $listed; do echo "centro-harness-$c"; done); do
  f=$man1/$page.1
  [ -f "$f" ] || { fail "no man page $page.1"; continue; }
  text=$(render "$f" 2>"$WORK/warnings" | tr -s ' ') # adjusted text may widen spaces
  [ -s "$WORK/warnings" ] && fail "$page.1 renders with warnings: $(cat "$WORK/warnings")"
  # the page is the --help text: its synopsis is the Usage line of --help
  if [ "$page" = centro-harness ]; then usage=$("$bin" --help | sed -n 's/^Usage: //p' | head -1)
  else usage=$("$bin" "${page#centro-harness-}" --help | sed -n 's/^Usage: //p' | head -1); fi
  usage=$(printf '%s' "$usage" | tr -s ' ')
  case $text in
    *NAME*"$page - "*SYNOPSIS*"$usage"*) pass "$page.1 renders: NAME, SYNOPSIS from --help" ;;
    *) fail "$page.1 lacks NAME or the synopsis '$usage' of --help" ;;
  esac
done
# options in the page are those of --help (spot check: every option run --help lists)
text=$(render "$man1/centro-harness-run.1" 2>/dev/null)
for o in $("$bin" run --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
  case $text in *"$o"*) ;; *) fail "centro-harness-run.1 lacks $o" ;; esac
done
finish
