/* ch_tls: worker TLS contexts, their session cache and the up-front file checks. See ch_tls.h. */
#include "ch_tls.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_CACHE_SLOTS 16 /* hosts whose last session a worker keeps; a run has one target, a check two or three */

struct tls_slot {
  char key[160]; /* "host:port" (server_name when given) */
  SSL_SESSION *sess;
  unsigned long last_use;
  int group; /* NID of the key exchange group the host chose last, 0 unknown */
};

struct ch_tls_ctx {
  SSL_CTX *ctx;
  char *server_name;
  unsigned long tick;
  struct tls_slot slots[TLS_CACHE_SLOTS];
};

/* The first OpenSSL error as text (and the queue cleared), or fallback. */
static void tls_err_text(char *out, size_t size, const char *fallback) {
  unsigned long e = ERR_peek_last_error();
  if (e) {
    /* the reason's words ("certificate verify failed"), not "error:0A000086:SSL routines::..." */
    const char *r = ERR_reason_error_string(e);
    if (r)
      snprintf(out, size, "%s", r);
    else
      snprintf(out, size, "OpenSSL error %lx", e);
  } else {
    snprintf(out, size, "%s", fallback);
  }
  ERR_clear_error();
}

static int tls_file_fail(struct ch_buf *err, const char *what, const char *path, const char *problem) {
  if (err)
    ch_buf_printf(err, "%s %s: %s", what, path, problem);
  ERR_clear_error();
  return -EINVAL;
}

/* scheme, host and port of an https/wss URL; false when it is none. The strings are curl's (curl_free). */
static bool tls_endpoint(const char *url, char **host, long *port) {
  CURLU *u = curl_url();
  char *scheme = NULL, *p = NULL;
  *host = NULL;
  bool ok = u && url && !curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) &&
            !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
            (!strcasecmp(scheme, "https") || !strcasecmp(scheme, "wss")) && !curl_url_get(u, CURLUPART_HOST, host, 0);
  if (ok)
    *port = curl_url_get(u, CURLUPART_PORT, &p, 0) ? 443 : strtol(p, NULL, 10);
  curl_free(scheme);
  curl_free(p);
  curl_url_cleanup(u);
  return ok;
}

bool ch_tls_same_endpoint(const char *url, const char *target_url) {
  char *h1 = NULL, *h2 = NULL;
  long p1 = 0, p2 = 0;
  bool same = tls_endpoint(url, &h1, &p1) && tls_endpoint(target_url, &h2, &p2) && p1 == p2 && !strcasecmp(h1, h2);
  curl_free(h1);
  curl_free(h2);
  return same;
}

void ch_tls_curl_apply(void *curl_easy, const struct ch_tls_opts *o, const char *url, const char *target_url) {
  CURL *e = curl_easy;
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
  if (o->cert_file && ch_tls_same_endpoint(url, target_url)) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, o->key_file ? o->key_file : o->cert_file);
  }
}

int ch_tls_check_files(const struct ch_tls_opts *o, const char *what_ca, const char *what_cert, const char *what_key,
                       struct ch_buf *err) {
  FILE *f;
  ERR_clear_error();
  if (o->key_file && !o->cert_file)
    return tls_file_fail(err, what_key, o->key_file, "a key without a certificate (give the certificate too)");
  if (o->ca_file) {
    if (!(f = fopen(o->ca_file, "r")))
      return tls_file_fail(err, what_ca, o->ca_file, strerror(errno));
    int n = 0;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
      X509_free(x);
      n++;
    }
    fclose(f);
    if (!n)
      return tls_file_fail(err, what_ca, o->ca_file, "no PEM certificate in it");
    ERR_clear_error(); /* the read that ended the loop leaves "no start line" */
  }
  X509 *cert = NULL;
  if (o->cert_file) {
    if (!(f = fopen(o->cert_file, "r")))
      return tls_file_fail(err, what_cert, o->cert_file, strerror(errno));
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert)
      return tls_file_fail(err, what_cert, o->cert_file, "not a PEM certificate");
  }
  if (o->cert_file) {
    const char *kp = o->key_file ? o->key_file : o->cert_file;
    const char *kw = o->key_file ? what_key : what_cert;
    if (!(f = fopen(kp, "r"))) {
      X509_free(cert);
      return tls_file_fail(err, kw, kp, strerror(errno));
    }
    /* no passphrase prompt: an encrypted key is refused rather than waited for on the terminal */
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
    fclose(f);
    if (!k) {
      X509_free(cert);
      return tls_file_fail(err, kw, kp, o->key_file ? "not an unencrypted PEM private key"
                                                    : "no unencrypted PEM private key in it (give --key)");
    }
    int match = X509_check_private_key(cert, k);
    EVP_PKEY_free(k);
    X509_free(cert);
    if (match != 1)
      return tls_file_fail(err, kw, kp, "the private key does not belong to the certificate");
  }
  ERR_clear_error();
  return 0;
}

/* TLS 1.3 sends tickets after the handshake; TLS 1.2 sessions end with it. Either way the new one replaces what the
   host's slot held. A copy: OpenSSL marks the session a connection holds not resumable when that connection is
   freed without a close_notify (a drop, a server that just closes), which would spoil the cache. */
static int tls_new_session(SSL *ssl, SSL_SESSION *sess) {
  struct tls_slot *s = SSL_get_app_data(ssl);
  SSL_SESSION *copy = s ? SSL_SESSION_dup(sess) : NULL;
  if (!copy)
    return 0;
  if (s->sess)
    SSL_SESSION_free(s->sess);
  s->sess = copy;
  return 0; /* OpenSSL keeps its own reference */
}

int ch__tls_ctx_new(const struct ch_tls_opts *o, struct ch_tls_ctx **out, struct ch_buf *err) {
  *out = NULL;
  struct ch_tls_ctx *x = calloc(1, sizeof *x);
  if (!x)
    return -ENOMEM;
  char why[200];
  ERR_clear_error();
  x->ctx = SSL_CTX_new(TLS_client_method());
  if (!x->ctx)
    goto fail;
  if (o->server_name && !(x->server_name = strdup(o->server_name)))
    goto fail;
  SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(x->ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(x->ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  if (o->ca_file ? SSL_CTX_load_verify_locations(x->ctx, o->ca_file, NULL) != 1
                 : SSL_CTX_set_default_verify_paths(x->ctx) != 1) {
    tls_err_text(why, sizeof why, "cannot load");
    if (err)
      ch_buf_printf(err, "CA file %s: %s", o->ca_file ? o->ca_file : "(system)", why);
    goto fail_quiet;
  }
  if (o->cert_file) {
    const char *kp = o->key_file ? o->key_file : o->cert_file;
    if (SSL_CTX_use_certificate_chain_file(x->ctx, o->cert_file) != 1) {
      tls_err_text(why, sizeof why, "cannot load");
      if (err)
        ch_buf_printf(err, "client certificate %s: %s", o->cert_file, why);
      goto fail_quiet;
    }
    if (SSL_CTX_use_PrivateKey_file(x->ctx, kp, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(x->ctx) != 1) {
      tls_err_text(why, sizeof why, "cannot load");
      if (err)
        ch_buf_printf(err, "client key %s: %s", kp, why);
      goto fail_quiet;
    }
  }
  /* a client cache with no internal store: the new-session callback keeps one session per host (tls_slot) */
  SSL_CTX_set_session_cache_mode(x->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(x->ctx, tls_new_session);
  *out = x;
  return 0;
fail:
  if (err)
    ch_buf_puts(err, "TLS context: out of memory");
fail_quiet:
  ch__tls_ctx_free(x);
  ERR_clear_error();
  return -ENOMEM;
}

void ch__tls_ctx_free(struct ch_tls_ctx *x) {
  if (!x)
    return;
  for (int i = 0; i < TLS_CACHE_SLOTS; i++)
    if (x->slots[i].sess)
      SSL_SESSION_free(x->slots[i].sess);
  SSL_CTX_free(x->ctx);
  free(x->server_name);
  free(x);
}

static struct tls_slot *tls_slot_for(struct ch_tls_ctx *x, const char *key) {
  struct tls_slot *lru = &x->slots[0];
  for (int i = 0; i < TLS_CACHE_SLOTS; i++) {
    struct tls_slot *s = &x->slots[i];
    if (!strcmp(s->key, key))
      return s;
    if (s->last_use < lru->last_use)
      lru = s;
  }
  if (lru->sess)
    SSL_SESSION_free(lru->sess);
  lru->sess = NULL;
  lru->group = 0;
  snprintf(lru->key, sizeof lru->key, "%s", key);
  return lru;
}

bool ch__tls_session_fresh(const SSL_SESSION *sess, long now) {
  if (!sess || !SSL_SESSION_is_resumable(sess))
    return false;
  long age = now - (long)SSL_SESSION_get_time(sess);
  unsigned long hint = SSL_SESSION_get_ticket_lifetime_hint(sess); /* TLS 1.3: OpenSSL sends no PSK past it */
  return age < (long)SSL_SESSION_get_timeout(sess) && (!hint || SSL_SESSION_get_protocol_version(sess) < TLS1_3_VERSION ||
                                                       age < (long)hint);
}

/* Why nothing is cached for key: another name on the same port has a session (SNI or host differs), or none. */
static enum ch_tls_resume tls_no_session_cause(const struct ch_tls_ctx *x, const char *key) {
  const char *port = strrchr(key, ':');
  for (int i = 0; port && i < TLS_CACHE_SLOTS; i++) {
    const char *p = strrchr(x->slots[i].key, ':');
    if (x->slots[i].sess && p && !strcmp(p, port) && strcmp(x->slots[i].key, key))
      return CH_TLS_MISS_OTHER_NAME;
  }
  return CH_TLS_MISS_NO_SESSION;
}

/* The default client groups (OpenSSL 3.0's elliptic ones), the host's last choice first: OpenSSL sends a key share
   for the first only, and a server that wants another answers with a HelloRetryRequest, a round trip and a second
   key generation on every handshake. */
static void tls_groups_for(SSL *ssl, int group) {
  static const int defaults[] = {NID_X25519, NID_X9_62_prime256v1, NID_X448, NID_secp521r1, NID_secp384r1};
  int list[6], n = 0;
  list[n++] = group;
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    if (defaults[i] != group)
      list[n++] = defaults[i];
  if (SSL_set1_groups(ssl, list, n) != 1)
    ERR_clear_error(); /* a group this build lacks: keep the defaults */
}

struct ssl_st *ch__tls_ssl_new(struct ch_tls_ctx *x, const char *host, int port, enum ch_tls_resume *if_full) {
  SSL *ssl = SSL_new(x->ctx);
  if (!ssl)
    return NULL;
  const char *name = x->server_name ? x->server_name : host;
  unsigned char ip[16];
  bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
  /* SNI carries names only (RFC 6066 3); an address is verified against the certificate's IP SANs */
  if ((!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1) ||
      (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1 : SSL_set1_host(ssl, name) != 1)) {
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
  }
  char key[160];
  snprintf(key, sizeof key, "%s:%d", name, port);
  struct tls_slot *s = tls_slot_for(x, key);
  s->last_use = ++x->tick;
  SSL_set_app_data(ssl, s);
  if (s->sess && !ch__tls_session_fresh(s->sess, (long)time(NULL))) {
    SSL_SESSION_free(s->sess);
    s->sess = NULL;
    *if_full = CH_TLS_MISS_EXPIRED;
  } else if (s->sess) {
    /* a copy per connection: one the connection holds is marked not resumable (when it ends without a
       close_notify, a resumption the server refuses, ...), and the slot's must stay good for the next ones;
       sharing it turned 5-10% of the handshakes of 32 concurrent ones full (bench_wss hs) */
    SSL_SESSION *copy = SSL_SESSION_dup(s->sess);
    if (copy) {
      SSL_set_session(ssl, copy);
      SSL_SESSION_free(copy); /* the SSL holds its own reference */
    }
    *if_full = CH_TLS_MISS_REJECTED;
  } else {
    *if_full = tls_no_session_cause(x, key);
  }
  if (s->group && s->group != NID_X25519)
    tls_groups_for(ssl, s->group);
  SSL_set_connect_state(ssl);
  SSL_set_read_ahead(ssl, 1); /* one read() takes every record the socket holds, not a header and a body each */
  return ssl;
}

void ch__tls_handshake_done(struct ssl_st *ssl) {
  struct tls_slot *s = SSL_get_app_data(ssl);
  int g = SSL_get_negotiated_group(ssl);
  if (s && g > 0)
    s->group = g;
}

void ch__tls_error(struct ssl_st *ssl, int ssl_err, char *out, size_t size) {
  long v = SSL_get_verify_result(ssl);
  if (v != X509_V_OK) {
    snprintf(out, size, "TLS certificate verify failed: %s", X509_verify_cert_error_string(v));
    ERR_clear_error();
    return;
  }
  char why[200];
  if (ssl_err == SSL_ERROR_SYSCALL && !ERR_peek_last_error()) {
    snprintf(out, size, "TLS handshake: connection closed by the server");
    return;
  }
  tls_err_text(why, sizeof why, "failed");
  snprintf(out, size, "TLS handshake: %s", why);
}
