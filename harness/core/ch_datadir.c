/* ch_datadir: the installed data folder, relative to the binary's own location (see ch_datadir.h). */
#include "ch_datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CH_DATADIR_REL
#define CH_DATADIR_REL "../share/centro-harness"
#endif

int ch_datadir(char *out, size_t cap) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash)
    return -1;
  *slash = '\0'; /* the folder holding the binary, e.g. PREFIX/bin */
  char joined[PATH_MAX + sizeof CH_DATADIR_REL + 1], real[PATH_MAX];
  snprintf(joined, sizeof joined, "%s/%s", exe, CH_DATADIR_REL);
  const char *dir = realpath(joined, real) ? real : joined; /* PREFIX/share/..., not PREFIX/bin/../share/... */
  int w = snprintf(out, cap, "%s", dir);
  return w < 0 || (size_t)w >= cap ? -1 : 0;
}
