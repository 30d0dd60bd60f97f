/* ch_chromium: a page rendered by headless Chromium, for tests of self-contained HTML output. */
#ifndef CH_CHROMIUM_H
#define CH_CHROMIUM_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ch_buf.h"
#include "ch_test.h"

#define CH_CHROMIUM "/usr/bin/chromium"

/* Renders file://page in headless Chromium (a private profile in dir, at most 60 s) and appends the DOM after its
   scripts ran to dom. Returns the wait status of Chromium (0 on success); on failure prints its stderr. */
static inline int ch_chromium_dom(const char *dir, const char *page, struct ch_buf *dom) {
  struct ch_buf cmd = CH_BUF_INIT;
  ch_buf_printf(&cmd,
                "timeout -k 5 60 " CH_CHROMIUM " --headless --no-sandbox --disable-gpu --no-first-run "
                "--disable-extensions --user-data-dir='%s/profile' --dump-dom 'file://%s' 2>'%s/chromium.log'",
                dir, page, dir);
  FILE *p = popen(cmd.data, "r");
  int status = -1;
  if (p) {
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0 && dom->len < (64u << 20))
      ch_buf_append(dom, chunk, n);
    status = pclose(p);
  }
  if (status != 0 || !dom->data) {
    ch_buf_reset(&cmd); /* what Chromium said, without its complaints about the missing D-Bus */
    ch_buf_printf(&cmd, "echo 'chromium: wait status %d, %zu bytes of DOM; its stderr:' >&2; "
                        "grep -v dbus '%s/chromium.log' | tail -n 40 >&2", status, dom->len, dir);
    if (system(cmd.data) != 0)
      fprintf(stderr, "(no stderr of chromium)\n");
  }
  ch_buf_free(&cmd);
  return status;
}

/* Before a browser test: -1 when Chromium is there to run it, else the exit status of the test executable
   (CH_TEST_SKIPPED when CH_SKIP_BROWSER=1, or CH_ALLOW_SKIP=1 without Chromium; 1 when it is missing). */
static inline int ch_chromium_precheck(const char *test) {
  const char *skip = getenv("CH_SKIP_BROWSER");
  if (skip && !strcmp(skip, "1")) {
    printf("SKIPPED: %s (CH_SKIP_BROWSER=1)\n", test);
    return CH_TEST_SKIPPED;
  }
  if (access(CH_CHROMIUM, X_OK) == 0)
    return -1;
  return ch_test_may_skip(CH_CHROMIUM " not found: the test of the HTML output needs headless Chromium (install it "
                                      "with `apt-get install -y chromium`)",
                          "CH_SKIP_BROWSER")
             ? CH_TEST_SKIPPED
             : 1;
}

#endif /* CH_CHROMIUM_H */
