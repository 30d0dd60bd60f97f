/* libFuzzer: form/query decoding, base64 and the keyed token round trips of the reference server. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_base64.h"
#include "ch_srv_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const char *s = (const char *)data;
  struct ch_srv_params p;
  ch_srv_params_init(&p);
  ch_srv_params_parse_form(&p, s, size);
  if (p.n > CH_SRV_MAX_PARAMS)
    abort();
  for (size_t i = 0; i < p.n; i++) {
    const char *name = p.store.data + p.kv[i].name_off;
    size_t vl;
    const char *v = ch_srv_param(&p, name, &vl);
    if (!v || strlen(name) != p.kv[i].name_len)
      abort();
  }
  ch_srv_params_free(&p);
  /* base64 of anything decodes back to it */
  struct ch_buf e = CH_BUF_INIT, d = CH_BUF_INIT;
  ch_base64_encode(&e, data, size, true);
  if (size && (ch_base64_decode(&d, e.data, e.len, true) || d.len != size || memcmp(d.data, data, size)))
    abort();
  ch_buf_reset(&d);
  ch_base64_decode(&d, s, size, true);
  /* a connection token for any user name (without NULs) opens to the same user */
  static const uint64_t key[2] = {1, 2};
  if (!memchr(s, 0, size)) {
    char *user = strndup(s, size), id[37], *back = NULL;
    struct ch_buf t = CH_BUF_INIT;
    if (ch_srv_conn_token_make(key, "3f2c6a1e-9b7d-4c1e-8f3a-2d5b6c7e8f90", user, &t) == 0) {
      if (ch_srv_conn_token_parse(key, t.data, t.len, id, &back) || strcmp(back, user))
        abort();
      free(back);
    }
    ch_buf_free(&t);
    free(user);
  }
  ch_buf_free(&e);
  ch_buf_free(&d);
  return 0;
}
