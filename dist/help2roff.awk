# Turns the text a command prints for --help into a man(7) page, so the manual is the --help text and cannot
# drift from it. Used by gen-man.sh. Variables: page (e.g. centro-harness-run), summary (NAME line), version,
# seealso (comma-separated page names). Layout rules, from the way every --help is written:
#   "Usage: ..." lines             -> SYNOPSIS
#   "Word words:" alone, no indent -> a section heading (Options:, Exit codes:, Faults: ...)
#   "  TERM  text" (2+ spaces)     -> a tagged paragraph (.TP); deeper-indented lines below continue it
#   other indented lines           -> verbatim (examples such as "  $ centro-harness run ...")
#   blank line                     -> new paragraph
function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  gsub(/,/, ",\\:", s)  # a break point after each comma: long JSON or lists in the text still fit the width
  if (s ~ /^[.']/) s = "\\&" s
  return s
}
function indent_of(s) { match(s, /^ */); return RLENGTH }
function end_verbatim() { if (verb) { print ".fi"; print ".RE"; verb = 0 } }
function end_list() { if (tp) { print ".PP"; tp = 0 } }
BEGIN {
  up = toupper(page)
  printf ".TH %s 1 \"\" \"centro-harness %s\" \"centro-harness manual\"\n", esc(up), esc(version)
  print ".ad l"  # ragged right, no hyphenation: options and URLs stay whole and copyable
  print ".nh"
  print ".SH NAME"
  print esc(page) " \\- " esc(summary)
  insyn = 0; body = 0; tp = 0; verb = 0
}
/^Usage: / {
  if (!insyn) { print ".SH SYNOPSIS"; print ".nf"; insyn = 1 }
  print esc(substr($0, 8)); next
}
{
  if (insyn) { print ".fi"; insyn = 0 }
  if (!body) { print ".SH DESCRIPTION"; body = 1; if ($0 ~ /^$/) next }
}
/^$/ { end_verbatim(); end_list(); print ".PP"; next }
/^[A-Z][A-Za-z ]*:$/ {
  end_verbatim(); tp = 0
  print ".SH " esc(toupper(substr($0, 1, length($0) - 1))); next
}
/^ / {
  n = indent_of($0); text = substr($0, n + 1)
  if (tp && n > tp_indent) { print esc(text); next }
  gap = match(text, /  +/)
  if (gap && n <= 6) {
    end_verbatim()
    term = substr(text, 1, gap - 1); rest = substr(text, gap + RLENGTH)
    print ".TP"
    print (term ~ /^-/ ? ".B " : "") esc(term)
    print esc(rest)
    tp = 1; tp_indent = n; next
  }
  end_list()
  if (!verb) { print ".RS"; print ".nf"; verb = 1 }
  print esc(text); next
}
{ end_verbatim(); end_list(); print esc($0) }
END {
  if (insyn) print ".fi"
  end_verbatim()
  if (seealso != "") {
    print ".SH SEE ALSO"
    n = split(seealso, pages, ",")
    for (i = 1; i <= n; i++) printf ".BR %s (1)%s\n", esc(pages[i]), i < n ? "," : ""
  }
}
