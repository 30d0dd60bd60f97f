/* ch_datadir: where an installed centro-harness keeps its shipped files (scenarios, schema).
 *
 * The data folder is found relative to the running binary (/proc/self/exe), not from a path fixed at build
 * time, so an install that is moved or unpacked under another prefix still finds its files:
 * PREFIX/bin/centro-harness -> PREFIX/share/centro-harness (CH_DATADIR_REL, set by CMake from GNUInstallDirs).
 */
#ifndef CH_DATADIR_H
#define CH_DATADIR_H

#include <stddef.h>

/* Writes the data folder of the running binary into out (no trailing '/'). Returns 0, or -1 when
 * /proc/self/exe cannot be read or the path does not fit in cap. The folder is not checked for existence. */
int ch_datadir(char *out, size_t cap);

#endif /* CH_DATADIR_H */
