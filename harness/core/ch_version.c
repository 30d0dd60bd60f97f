/* ch_version: the project version, the git commit and the versions of the libraries built with and run with. */
#include "ch_version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <string.h>
#include <uv.h>
#ifdef CH_HAVE_MPI
#include <mpi.h>
#endif

#include "ch_build_version.h" /* CH_GIT_DESCRIBE, generated at build time (dist/git-version.cmake) */

#ifndef CH_VERSION
#define CH_VERSION "0.0.0"
#endif

#define CH__STR(x) #x
#define CH__XSTR(x) CH__STR(x)

#ifdef OPENSSL_VERSION_STR /* OpenSSL 3: "3.0.11" */
#define CH__SSL_BUILT OPENSSL_VERSION_STR
#define CH__SSL_RUNNING OpenSSL_version(OPENSSL_VERSION_STRING)
#else
#define CH__SSL_BUILT OPENSSL_VERSION_TEXT
#define CH__SSL_RUNNING OpenSSL_version(OPENSSL_VERSION)
#endif

const char *ch_version(void) { return CH_VERSION; }

const char *ch_version_git(void) { return CH_GIT_DESCRIBE; }

/* Copies the first line of v, without the trailing '-' libwebsockets leaves when built without a git hash. */
static void lib_copy(char *dst, size_t cap, const char *v) {
  size_t n = v ? strcspn(v, "\r\n") : 0;
  if (n >= cap)
    n = cap - 1;
  if (n)
    memcpy(dst, v, n);
  while (n && dst[n - 1] == '-')
    n--;
  dst[n] = '\0';
}

static void lib_set(struct ch_version_lib *l, const char *name, const char *built, const char *running) {
  l->name = name;
  lib_copy(l->built, sizeof l->built, built);
  lib_copy(l->running, sizeof l->running, running);
}

size_t ch_version_libraries(struct ch_version_lib out[CH_VERSION_LIBS_MAX]) {
  size_t n = 0;
  const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  lib_set(&out[n++], "libcurl", LIBCURL_VERSION, cv ? cv->version : NULL);
  lib_set(&out[n++], "libwebsockets", LWS_LIBRARY_VERSION, lws_get_library_version());
  lib_set(&out[n++], "OpenSSL", CH__SSL_BUILT, CH__SSL_RUNNING);
  lib_set(&out[n++], "libuv",
          CH__XSTR(UV_VERSION_MAJOR) "." CH__XSTR(UV_VERSION_MINOR) "." CH__XSTR(UV_VERSION_PATCH),
          uv_version_string());
  lib_set(&out[n++], "cJSON",
          CH__XSTR(CJSON_VERSION_MAJOR) "." CH__XSTR(CJSON_VERSION_MINOR) "." CH__XSTR(CJSON_VERSION_PATCH),
          cJSON_Version());
#ifdef CH_HAVE_MPI
  /* MPI_Get_library_version may be called before MPI_Init (MPI 3.0, 8.7). */
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS)
    mpi[0] = '\0';
  lib_set(&out[n++], "MPI", "MPI " CH__XSTR(MPI_VERSION) "." CH__XSTR(MPI_SUBVERSION), mpi);
#endif
  return n;
}

void ch_version_print(FILE *f) {
  if (CH_GIT_DESCRIBE[0])
    fprintf(f, "centro-harness %s (git %s)\n", CH_VERSION, CH_GIT_DESCRIBE);
  else
    fprintf(f, "centro-harness %s\n", CH_VERSION);
  struct ch_version_lib libs[CH_VERSION_LIBS_MAX];
  size_t n = ch_version_libraries(libs);
  fprintf(f, "  %-14s %-16s %s\n", "library", "built with", "running with");
  for (size_t i = 0; i < n; i++)
    fprintf(f, "  %-14s %-16s %s\n", libs[i].name, libs[i].built, libs[i].running);
#ifndef CH_HAVE_MPI
  fprintf(f, "  %-14s %-16s %s\n", "MPI", "-", "(not built with MPI)");
#endif
}
