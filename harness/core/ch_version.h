/* ch_version: what this binary is: the project version, the commit it was built from, and the version of each
 * library it was compiled against and of the one it runs with (a package upgrade can change the latter without a
 * rebuild). Printed by `centro-harness --version` and recorded in every report.json ("harness").
 */
#ifndef CH_VERSION_H
#define CH_VERSION_H

#include <stddef.h>
#include <stdio.h>

#define CH_VERSION_LIBS_MAX 6

struct ch_version_lib {
  const char *name;  /* "libcurl", "libwebsockets", "OpenSSL", "libuv", "cJSON", "MPI" */
  char built[48];    /* from the headers at compile time, e.g. "7.88.1" */
  char running[96];  /* from the library loaded now, e.g. "7.88.1" */
};

/* project(VERSION) of CMakeLists.txt, e.g. "0.1.0". */
const char *ch_version(void);

/* `git describe --always --dirty` of the tree it was built from, or "" when not built from a git checkout. */
const char *ch_version_git(void);

/* Fills out (caller-owned, CH_VERSION_LIBS_MAX entries) with the libraries linked in; returns how many.
 * Not thread-safe while another thread calls cJSON_Version (cJSON formats into a static buffer). */
size_t ch_version_libraries(struct ch_version_lib out[CH_VERSION_LIBS_MAX]);

/* Writes what `--version` prints: "centro-harness 0.1.0 (git f5a4d65)" and one line per library. */
void ch_version_print(FILE *f);

#endif /* CH_VERSION_H */
