/* libFuzzer target: the ch_json scanner must never crash, over-read or disagree with itself on arbitrary input. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_json.h"
#include "ch_signalr.h"

static void walk(struct ch_span v, struct ch_buf *tmp, int depth) {
  switch (ch_json_kind(v)) {
  case CH_JSON_OBJECT: {
    struct ch_json_iter it;
    struct ch_span k, m;
    if (ch_json_obj_begin(v, &it))
      abort();
    while (ch_json_obj_next(&it, &k, &m) == 1) {
      ch_buf_reset(tmp);
      if (ch_json_str_unescape(k, tmp) == 0) {
        if (!ch_json_str_eq(k, tmp->data, tmp->len) || !ch_json_str_eq_ci(k, tmp->data, tmp->len))
          abort(); /* a decoded key compares equal to itself */
        struct ch_span found;
        /* lookup by the decoded key finds a member (the lookup takes a C string: keys without NUL only) */
        if (!memchr(tmp->data, '\0', tmp->len) && ch_json_obj_get(v, tmp->data, &found) != 1)
          abort();
      }
      walk(m, tmp, depth + 1);
    }
    if (it.state != 2)
      abort(); /* a validated object iterates to its end */
    break;
  }
  case CH_JSON_ARRAY: {
    struct ch_json_iter it;
    struct ch_span e;
    size_t n = 0, cnt = 0;
    ch_json_arr_begin(v, &it);
    while (ch_json_arr_next(&it, &e) == 1) {
      walk(e, tmp, depth + 1);
      n++;
    }
    if (it.state != 2 || ch_json_arr_count(v, &cnt) || cnt != n)
      abort();
    break;
  }
  case CH_JSON_STRING: {
    ch_buf_reset(tmp);
    if (ch_json_str_unescape(v, tmp) == 0) {
      struct ch_buf again = CH_BUF_INIT;
      ch_json_append_str(&again, tmp->data, tmp->len);
      struct ch_span rt = {again.data, again.len};
      if (ch_json_parse(rt, NULL, NULL) || !ch_json_str_eq(rt, tmp->data, tmp->len))
        abort(); /* unescape then escape round-trips */
      ch_buf_free(&again);
    }
    break;
  }
  case CH_JSON_NUMBER: {
    double d;
    int64_t i;
    int rd = ch_json_num_double(v, &d);
    if (rd != 0 && rd != -ERANGE)
      abort();
    if (rd == 0 && v.n < 400) { /* the fast path must round exactly like strtod */
      char tmp[400];
      memcpy(tmp, v.p, v.n);
      tmp[v.n] = '\0';
      double want = strtod(tmp, NULL);
      if (memcmp(&d, &want, sizeof d))
        abort();
    }
    int ri = ch_json_num_int64(v, &i);
    if (ri != 0 && ri != -ERANGE && ri != -EINVAL)
      abort();
    if (ri == 0 && rd == 0 && i > -(1ll << 53) && i < (1ll << 53) && (double)i != d)
      abort(); /* an integer reads as the same value both ways */
    break;
  }
  default:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ch_span in = {(const char *)data, size};
  struct ch_span v;
  struct ch_json_err err;
  struct ch_buf tmp = CH_BUF_INIT;
  if (ch_json_parse(in, &v, &err) == 0) {
    walk(v, &tmp, 0);
    struct ch_span p;
    (void)ch_json_pointer(in, "/M/0/A/0/PartId", &p);
    (void)ch_json_pointer(in, "/0/~1/~0", &p);
    ch_buf_reset(&tmp);
    if (ch_json_kind(v) == CH_JSON_OBJECT || ch_json_kind(v) == CH_JSON_ARRAY) {
      ch_redact_json(&tmp, in.p, in.n, "access_token");
      if (ch_json_parse((struct ch_span){tmp.data, tmp.len}, NULL, NULL))
        abort(); /* redaction keeps JSON valid */
    }
  } else if (!err.msg || err.pos > size) {
    abort();
  }
  /* an integer is always a JSON number token */
  int64_t iv;
  int ri = ch_json_num_int64(in, &iv);
  if ((ri == 0 || ri == -ERANGE) && (ch_json_parse(in, &v, NULL) || v.n != in.n || ch_json_kind(v) != CH_JSON_NUMBER))
    abort();
  /* arbitrary bytes as a string token body */
  ch_buf_reset(&tmp);
  ch_json_append_str(&tmp, in.p, in.n);
  if (ch_json_parse((struct ch_span){tmp.data, tmp.len}, NULL, NULL))
    abort();
  ch_buf_free(&tmp);
  return 0;
}
