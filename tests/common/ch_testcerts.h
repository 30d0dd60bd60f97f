/* ch_testcerts: test certificates made at run time with libcrypto (P-256 keys, SHA-256 signatures): a CA, leaf
   certificates signed by it for chosen names and validity windows, written as PEM files. Throwaway material for
   loopback tests; nothing here is a credential. */
#ifndef CH_TESTCERTS_H
#define CH_TESTCERTS_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct ch_testcert {
  EVP_PKEY *key;
  X509 *cert;
};

static inline int ch_testcert_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  if (!ext)
    return -1;
  int rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
  X509_EXTENSION_free(ext);
  return rc;
}

/* A certificate for cn with this serial number, valid from now + from_days to now + to_days, signed by issuer
   (NULL: self-signed, a CA).
   san: "IP:127.0.0.1,DNS:localhost" or NULL; client: extended key usage clientAuth instead of serverAuth. */
static inline int ch_testcert_make(struct ch_testcert *out, long serial, const char *cn, const char *san,
                                   long from_days, long to_days, const struct ch_testcert *issuer, bool client) {
  out->key = EVP_EC_gen("P-256");
  out->cert = X509_new();
  if (!out->key || !out->cert)
    return -1;
  X509 *c = out->cert;
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(c), to_days * 86400);
  X509_NAME *name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert) : name);
  X509_set_pubkey(c, out->key);
  X509 *icert = issuer ? issuer->cert : c;
  int rc = ch_testcert_ext(c, icert, NID_basic_constraints, issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
  rc |= ch_testcert_ext(c, icert, NID_key_usage, issuer ? "critical,digitalSignature" : "critical,keyCertSign");
  rc |= ch_testcert_ext(c, icert, NID_subject_key_identifier, "hash");
  if (issuer) {
    rc |= ch_testcert_ext(c, icert, NID_authority_key_identifier, "keyid");
    rc |= ch_testcert_ext(c, icert, NID_ext_key_usage, client ? "clientAuth" : "serverAuth");
  }
  if (san)
    rc |= ch_testcert_ext(c, icert, NID_subject_alt_name, san);
  if (rc || !X509_sign(c, issuer ? issuer->key : out->key, EVP_sha256()))
    return -1;
  return 0;
}

/* Writes the certificate to dir/name.pem and the key to dir/name.key. */
static inline int ch_testcert_write(const struct ch_testcert *t, const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.pem", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int ok = PEM_write_X509(f, t->cert);
  fclose(f);
  snprintf(path, sizeof path, "%s/%s.key", dir, name);
  f = fopen(path, "w");
  if (!f)
    return -1;
  ok &= PEM_write_PrivateKey(f, t->key, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  return ok == 1 ? 0 : -1;
}

static inline void ch_testcert_free(struct ch_testcert *t) {
  X509_free(t->cert);
  EVP_PKEY_free(t->key);
  t->cert = NULL;
  t->key = NULL;
}

/* The set the TLS tests use, written into dir as NAME.pem + NAME.key:
   ca         the test CA (what --ca-file / --tls-client-ca trust)
   server     127.0.0.1 and localhost, signed by ca, valid now
   expired    the same names, signed by ca, expired yesterday
   wronghost  only other.example, signed by ca
   client     a client certificate (clientAuth) signed by ca
   otherca    another CA; otherclient: a client certificate signed by it */
static inline int ch_testcerts_standard(const char *dir) {
  struct ch_testcert ca = {0}, other = {0}, t = {0};
  int rc = ch_testcert_make(&ca, 1, "centro-harness test CA", NULL, -1, 2, NULL, false) ||
           ch_testcert_write(&ca, dir, "ca") ||
           ch_testcert_make(&other, 2, "another test CA", NULL, -1, 2, NULL, false) ||
           ch_testcert_write(&other, dir, "otherca");
  static const struct {
    const char *name, *cn, *san;
    long from, to;
    bool other, client;
  } leaves[] = {
      {"server", "127.0.0.1", "IP:127.0.0.1,DNS:localhost", -1, 2, false, false},
      {"expired", "127.0.0.1", "IP:127.0.0.1,DNS:localhost", -3, -1, false, false},
      {"wronghost", "other.example", "DNS:other.example", -1, 2, false, false},
      {"client", "harness client", NULL, -1, 2, false, true},
      {"otherclient", "harness client", NULL, -1, 2, true, true},
  };
  for (size_t i = 0; !rc && i < sizeof leaves / sizeof *leaves; i++) {
    rc = ch_testcert_make(&t, 10 + (long)i, leaves[i].cn, leaves[i].san, leaves[i].from, leaves[i].to,
                          leaves[i].other ? &other : &ca, leaves[i].client) ||
         ch_testcert_write(&t, dir, leaves[i].name);
    ch_testcert_free(&t);
  }
  ch_testcert_free(&ca);
  ch_testcert_free(&other);
  return rc ? -1 : 0;
}

/* A fresh directory /tmp/PREFIX-PID (into dir) holding the standard set: 0, or -1 with a message on stderr. */
static inline int ch_testcerts_dir(char *dir, size_t cap, const char *prefix) {
  snprintf(dir, cap, "/tmp/%s-%d", prefix, (int)getpid());
  if (mkdir(dir, 0700) || ch_testcerts_standard(dir)) {
    fprintf(stderr, "cannot make the test certificates in %s\n", dir);
    return -1;
  }
  return 0;
}

/* Removes that directory with everything the test wrote into it (reports too). */
static inline void ch_testcerts_dir_remove(const char *dir) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

#endif /* CH_TESTCERTS_H */
