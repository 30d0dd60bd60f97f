/* TLS on the endpoint port (--tls-cert/--tls-key, --tls-client-ca). The files are read once up front with libcrypto
   so that a missing, unreadable, empty or mismatched file is a usage error naming that file (lws would only log
   "problem getting cert" and fail the start); lws then loads the same paths into the vhost's SSL_CTX. The control
   port shares the vhost but its sockets are adopted without TLS unless control_tls asks for it. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

#include "ch_srv.h"

/* The reason of the newest libcrypto error, or `fallback` when there is none. */
static const char *crypto_reason(const char *fallback) {
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  return r ? r : fallback;
}

static FILE *open_pem(const char *opt, const char *path, struct ch_buf *err) {
  FILE *f = fopen(path, "r");
  if (!f)
    ch_buf_printf(err, "%s %s: cannot read: %s", opt, path, strerror(errno));
  return f;
}

/* Every certificate in a PEM file: the count, or -1 with a message. *first gets the first (caller frees). */
static int read_certs(const char *opt, const char *path, X509 **first, struct ch_buf *err) {
  FILE *f = open_pem(opt, path, err);
  if (!f)
    return -1;
  int n = 0;
  X509 *x;
  ERR_clear_error();
  while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
    if (!n && first)
      *first = x;
    else
      X509_free(x);
    n++;
  }
  /* the loop ends on "no start line" at end of file; anything else is a damaged certificate */
  unsigned long e = ERR_peek_last_error();
  bool eof = !e || ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  fclose(f);
  ERR_clear_error();
  if (!n || !eof) {
    ch_buf_printf(err, "%s %s: %s", opt, path,
                  !n ? "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)"
                     : "a certificate in it cannot be parsed");
    if (first && *first) {
      X509_free(*first);
      *first = NULL;
    }
    return -1;
  }
  return n;
}

int ch_server_tls_check(const struct ch_server_opts *o, struct ch_buf *err) {
  if (!o->tls_cert && !o->tls_key && !o->tls_client_ca && !o->control_tls)
    return 0;
  if (!o->tls_cert || !o->tls_key) {
    ch_buf_printf(err, "%s", o->tls_cert ? "--tls-cert needs --tls-key (the certificate's private key, PEM)"
                                         : "--tls-key, --tls-client-ca and --control-tls need --tls-cert and "
                                           "--tls-key");
    return -EINVAL;
  }
  X509 *cert = NULL;
  if (read_certs("--tls-cert", o->tls_cert, &cert, err) < 0)
    return -EINVAL;
  FILE *f = open_pem("--tls-key", o->tls_key, err);
  if (!f) {
    X509_free(cert);
    return -EINVAL;
  }
  ERR_clear_error();
  EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, (void *)""); /* an empty passphrase: never prompt */
  fclose(f);
  int rc = 0;
  if (!key) {
    ch_buf_printf(err, "--tls-key %s: no usable PEM private key in it (%s; an encrypted key is not supported)",
                  o->tls_key, crypto_reason("no private key"));
    rc = -EINVAL;
  } else if (X509_check_private_key(cert, key) != 1) {
    ch_buf_printf(err, "--tls-key %s does not match the certificate in --tls-cert %s", o->tls_key, o->tls_cert);
    rc = -EINVAL;
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  ERR_clear_error();
  if (!rc && o->tls_client_ca && read_certs("--tls-client-ca", o->tls_client_ca, NULL, err) < 0)
    rc = -EINVAL;
  return rc;
}

void ch_srv_tls_vhost_info(const struct ch_server *s, struct lws_context_creation_info *info) {
  if (!s->o.tls_cert)
    return;
  info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info->ssl_cert_filepath = s->o.tls_cert;
  info->ssl_private_key_filepath = s->o.tls_key;
  /* HTTP/1.1 only: lws would offer h2 by ALPN, and our SSE/long-poll responses and the WebSocket upgrade are h1 */
  info->alpn = "http/1.1";
  if (s->o.tls_client_ca) {
    /* SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT against this CA; the verdict is ch_srv_tls_verify's */
    info->ssl_ca_filepath = s->o.tls_client_ca;
    info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
  }
}

void ch_srv_tls_ctx_setup(struct ch_server *s, void *ssl_ctx) {
  SSL_CTX *ctx = ssl_ctx;
  if (!s || !ctx)
    return;
  /* TLS 1.3 sends two tickets by default; a client keeps the newest, so the second is work for nothing */
  SSL_CTX_set_num_tickets(ctx, 1);
  /* --processes: every sibling encrypts tickets with the same keys, else a session resumes only at the process that
     issued it and SO_REUSEPORT sends most reconnects elsewhere (full handshakes) */
  if (s->tls_ticket_keys_set && SSL_CTX_set_tlsext_ticket_keys(ctx, s->tls_ticket_keys, sizeof s->tls_ticket_keys) != 1)
    ch_srv_log(s, "TLS: cannot set the shared session ticket keys (sessions resume only at the issuing process)");
  ERR_clear_error();
}

int ch_srv_tls_verify(struct ch_server *s, void *x509_store_ctx, int preverify_ok) {
  if (preverify_ok)
    return 0;
  /* lws counts a 0 from the protocol callback as "verified" whatever OpenSSL found, so a refusal must be said */
  int e = X509_STORE_CTX_get_error(x509_store_ctx);
  ch_srv_log(s, "refused a client certificate: %s", X509_verify_cert_error_string(e));
  return 1;
}
