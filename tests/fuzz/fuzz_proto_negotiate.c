/* libFuzzer target: negotiate body parsing, then the URLs built from what it returned. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_signalr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ch_negotiate neg;
  struct ch_buf err = CH_BUF_INIT;
  int rc = ch_negotiate_parse((const char *)data, size, &neg, &err);
  if (rc) {
    if (rc != -EBADMSG || !err.data || strncmp(err.data, "negotiate: ", 11) || neg.connection_token || neg.url)
      abort();
    ch_buf_free(&err);
    return 0;
  }
  if (err.len)
    abort();
  if (!(neg.present & (CH_NEG_REDIRECT_URL | CH_NEG_ERROR))) {
    if (!neg.url || neg.url[0] != '/' || !neg.connection_token || !neg.connection_token[0] || !neg.protocol_version)
      abort();
    struct ch_url base;
    if (ch_url_parse("http://127.0.0.1:8080/Centro", &base, NULL) == 0) {
      struct ch_url_params p = {.base = &base, .negotiate_url = neg.url, .connection_token = neg.connection_token,
                                .connection_data = "[{\"name\":\"resourceeventhub\"}]", .tid = 1};
      struct ch_buf u = CH_BUF_INIT, red = CH_BUF_INIT;
      for (int t = 0; t < 3; t++) {
        p.transport = (enum ch_transport)t;
        for (int r = CH_REQ_NEGOTIATE; r <= CH_REQ_PING; r++) {
          ch_buf_reset(&u);
          if (ch_url_build(&u, (enum ch_request)r, &p) == 0) {
            ch_buf_reset(&red);
            ch_redact(&red, u.data, u.len, NULL);
            /* the token is percent-encoded in the URL; after redaction no connectionToken value survives */
            for (const char *ct = red.data; (ct = strstr(ct, "&connectionToken=")); ct++)
              if (strncmp(ct + 17, "[redacted]", 10))
                abort();
          }
        }
      }
      ch_buf_free(&u);
      ch_buf_free(&red);
      ch_url_free(&base);
    }
  }
  (void)ch_protocol_accepts(CH_PROTOCOL_DEFAULT, neg.protocol_version);
  ch_negotiate_free(&neg);
  ch_buf_free(&err);
  return 0;
}
