# bash completion for centro-harness (installed as share/bash-completion/completions/centro-harness).
# Commands, options and check ids are read from the binary being completed (--help, check --list) at completion
# time, so they are always those of the installed version; scenario files are *.json.
_centro_harness() {
  local bin=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev="" cmd=${COMP_WORDS[1]:-} words
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  command -v "$bin" >/dev/null 2>&1 || bin=centro-harness
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    words=$("$bin" --help 2>/dev/null | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f { exit }')
    COMPREPLY=($(compgen -W "$words --help --version" -- "$cur"))
    return 0
  fi
  case $prev in
    --only)  # comma-separated check ids or families: complete the last item
      words=$("$bin" check --list 2>/dev/null | awk '/^[A-Z]+-[0-9]+ / { print $1; fam[$2] = 1 } END { for (f in fam) print f }')
      local head="" last=$cur
      [[ $cur == *,* ]] && head=${cur%,*}, last=${cur##*,}
      COMPREPLY=($(compgen -P "$head" -W "$words" -- "$last"))
      compopt -o nospace 2>/dev/null
      return 0 ;;
    --transport) COMPREPLY=($(compgen -W "webSockets serverSentEvents longPolling" -- "$cur")); return 0 ;;
    --hub) COMPREPLY=($(compgen -W "ResourceEventHub JobEventHub" -- "$cur")); return 0 ;;
    --report-dir) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return 0 ;;
    --token-file | --tokens | --ca-file | --trigger | --scenario | --html | --junit | --json | -o)
      COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    words=$("$bin" "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return 0
  fi
  COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
  compopt -o filenames 2>/dev/null
  return 0
}
complete -F _centro_harness centro-harness
