/* Tests of the core helpers: URL parsing (virtual directories, schemes, errors), percent and form coding. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "ch_base64.h"
#include "ch_sha1.h"
#include "ch_sha256.h"
#include "ch_buf.h"
#include "ch_excerpt.h"
#include "ch_rng.h"
#include "ch_test.h"
#include "ch_url.h"

static void test_core_url_virtual_directory(void) {
  struct ch_url u;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_url_parse("http://localhost/Centro/", &u, &err), 0);
  CH_ASSERT_STR(u.scheme, "http");
  CH_ASSERT_STR(u.host, "localhost");
  CU_ASSERT_EQUAL(u.port, 80);
  CH_ASSERT_STR(u.path, "/Centro");
  CU_ASSERT_FALSE(u.tls);
  ch_url_free(&u);
  CU_ASSERT_EQUAL_FATAL(ch_url_parse("wss://[::1]:8443", &u, &err), 0);
  CH_ASSERT_STR(u.scheme, "https");
  CH_ASSERT_STR(u.host, "::1");
  CU_ASSERT_EQUAL(u.port, 8443);
  CH_ASSERT_STR(u.path, "");
  CU_ASSERT_TRUE(u.tls);
  struct ch_buf o = CH_BUF_INIT;
  ch_url_origin(&u, &o);
  CH_ASSERT_STR(o.data, "https://[::1]:8443");
  ch_buf_free(&o);
  ch_url_free(&u);
  ch_buf_free(&err);
}

static void test_core_url_errors_name_what_was_found(void) {
  struct ch_url u;
  struct ch_buf err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_url_parse("ftp://x/", &u, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "ftp://x/"));
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_url_parse("http://h:99999/", &u, &err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.data, "port"));
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_url_parse("http://h/x?a=1", &u, &err), -EINVAL);
  ch_buf_reset(&err);
  CU_ASSERT_EQUAL(ch_url_parse("localhost", &u, &err), -EINVAL);
  ch_buf_reset(&err);
  /* credentials in a URL are refused and never echoed */
  CU_ASSERT_EQUAL(ch_url_parse("http://user:secret@h/", &u, &err), -EINVAL);
  CU_ASSERT_PTR_NULL(strstr(err.data, "secret"));
  ch_buf_free(&err);
}

static void test_core_pct_encode_matches_encodeURIComponent(void) {
  struct ch_buf b = CH_BUF_INIT;
  ch_pct_encode(&b, "[{\"name\":\"parthub\"}]", 20);
  CH_ASSERT_STR(b.data, "%5B%7B%22name%22%3A%22parthub%22%7D%5D"); /* protocol doc section 12 CDATA */
  ch_buf_reset(&b);
  ch_pct_encode(&b, "a+b/c=d e", 9);
  CH_ASSERT_STR(b.data, "a%2Bb%2Fc%3Dd%20e");
  ch_buf_free(&b);
}

static void test_core_form_get_decodes_plus_and_escapes(void) {
  const char *form = "messageId=d-5A1F00C3-B%2C0%7CC%2C0&groupsToken=AQ%2B%2F%3D&data=a+b&flag";
  struct ch_buf v = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_form_get(form, strlen(form), "messageId", &v), 1);
  CH_ASSERT_STR(v.data, "d-5A1F00C3-B,0|C,0");
  CU_ASSERT_EQUAL(ch_form_get(form, strlen(form), "groupsToken", &v), 1);
  CH_ASSERT_STR(v.data, "AQ+/=");
  CU_ASSERT_EQUAL(ch_form_get(form, strlen(form), "data", &v), 1);
  CH_ASSERT_STR(v.data, "a b");
  CU_ASSERT_EQUAL(ch_form_get(form, strlen(form), "flag", &v), 1);
  CH_ASSERT_STR(v.data, "");
  CU_ASSERT_EQUAL(ch_form_get(form, strlen(form), "missing", &v), 0);
  CU_ASSERT_EQUAL(ch_form_get("x=%4", 4, "x", &v), -EINVAL);
  CU_ASSERT_EQUAL(ch_form_get("x=%zz", 5, "x", &v), -EINVAL);
  ch_buf_free(&v);
}

static void test_core_buf_printf_grows(void) {
  struct ch_buf b = CH_BUF_INIT;
  for (int i = 0; i < 1000; i++)
    ch_buf_printf(&b, "%04d", i);
  CU_ASSERT_EQUAL(b.len, 4000);
  CU_ASSERT_EQUAL(memcmp(b.data + 3996, "0999", 4), 0);
  char *s = ch_buf_steal(&b);
  CU_ASSERT_PTR_NULL(b.data);
  free(s);
}

/* ch_buf_read_file: the whole file appended (larger than one read), and -EFBIG past the limit. */
static void test_core_buf_read_file(void) {
  FILE *f = tmpfile();
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (int i = 0; i < 5000; i++)
    fprintf(f, "%04d", i);
  rewind(f);
  struct ch_buf b = CH_BUF_INIT;
  ch_buf_puts(&b, "x");
  CU_ASSERT_EQUAL(ch_buf_read_file(&b, f, 0), 0);
  CU_ASSERT_EQUAL(b.len, 20001);
  CU_ASSERT_EQUAL(memcmp(b.data + 19997, "4999", 5), 0);
  rewind(f);
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_buf_read_file(&b, f, 20000), 0); /* exactly the limit */
  rewind(f);
  ch_buf_reset(&b);
  CU_ASSERT_EQUAL(ch_buf_read_file(&b, f, 19999), -EFBIG);
  fclose(f);
  ch_buf_free(&b);
}

/* A size that would wrap len + extra + 1 is refused, not taken for "fits" (a huge frame length must not pass). */
static void test_core_buf_reserve_refuses_sizes_that_wrap(void) {
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(ch_buf_append(&b, "0123456789", 10), 0);
  size_t cap = b.cap;
  CU_ASSERT_EQUAL(ch_buf_reserve(&b, SIZE_MAX - 10), -ENOMEM); /* len + extra + 1 == 0 */
  CU_ASSERT_EQUAL(ch_buf_reserve(&b, SIZE_MAX - 12), -ENOMEM); /* == 2 after the wrap, below cap */
  CU_ASSERT_EQUAL(ch_buf_reserve(&b, SIZE_MAX), -ENOMEM);
  CU_ASSERT_EQUAL(ch_buf_reserve(&b, SIZE_MAX / 2 + 1), -ENOMEM); /* no doubling reaches it */
  CU_ASSERT_EQUAL(b.cap, cap);
  CU_ASSERT_EQUAL(b.len, 10);
  CU_ASSERT_EQUAL(ch_buf_reserve(&b, cap - 11), 0); /* the exact fit still fits */
  CU_ASSERT_EQUAL(b.cap, cap);
  ch_buf_free(&b);
}

/* A peer's bytes in a one-line reason: printable ASCII, runs of anything else one space, cut to the room. */
static void test_core_excerpt_is_printable_and_bounded(void) {
  char out[32];
  CU_ASSERT_EQUAL(ch_excerpt(out, sizeof out, "Not a valid web socket request.\r\n", 33), 31);
  CU_ASSERT_STRING_EQUAL(out, "Not a valid web socket request.");
  static const char hostile[] = "\r\n <h1>\x1b[2J\tBad\xc3\xa9\x00Request</h1> ";
  ch_excerpt(out, sizeof out, hostile, sizeof hostile - 1);
  CU_ASSERT_STRING_EQUAL(out, "<h1> [2J Bad Request</h1>");
  CU_ASSERT_EQUAL(ch_excerpt(out, 8, "abcdefghijkl", 12), 7);
  CU_ASSERT_STRING_EQUAL(out, "abcdefg");
  CU_ASSERT_EQUAL(ch_excerpt(out, 8, "abcdef  gh", 10), 6); /* no dangling space at the cut */
  CU_ASSERT_STRING_EQUAL(out, "abcdef");
  CU_ASSERT_EQUAL(ch_excerpt(out, sizeof out, " \r\n\x01", 4), 0);
  CU_ASSERT_STRING_EQUAL(out, "");
  CU_ASSERT_EQUAL(ch_excerpt(out, 1, "abc", 3), 0);
  CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_core_rng_is_deterministic_per_seed(void) {
  struct ch_rng a, b, c;
  ch_rng_seed(&a, 42);
  ch_rng_seed(&b, 42);
  ch_rng_seed(&c, 43);
  int same = 1, differ = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t x = ch_rng_next(&a), y = ch_rng_next(&b), z = ch_rng_next(&c);
    same &= x == y;
    differ |= x != z;
  }
  CU_ASSERT_TRUE(same);
  CU_ASSERT_TRUE(differ);
}

static void test_core_base64_round_trips_padded_and_not(void) {
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"}; /* RFC 4648 section 10 */
  for (size_t i = 0; i < 7; i++) {
    struct ch_buf e = CH_BUF_INIT, u = CH_BUF_INIT, d = CH_BUF_INIT;
    ch_base64_encode(&e, in[i], strlen(in[i]), true);
    CH_ASSERT_STR(e.data ? e.data : "", want[i]);
    CU_ASSERT_EQUAL(ch_base64_decode(&d, e.data ? e.data : "", e.len, true), 0);
    CU_ASSERT_EQUAL(d.len, strlen(in[i]));
    CU_ASSERT_EQUAL(memcmp(d.data ? d.data : "", in[i], d.len), 0);
    ch_base64_encode(&u, in[i], strlen(in[i]), false);
    CU_ASSERT_PTR_NULL(u.data ? strchr(u.data, '=') : NULL);
    ch_buf_reset(&d);
    CU_ASSERT_EQUAL(ch_base64_decode(&d, u.data ? u.data : "", u.len, false), 0);
    CU_ASSERT_EQUAL(d.len, strlen(in[i]));
    ch_buf_free(&e), ch_buf_free(&u), ch_buf_free(&d);
  }
  struct ch_buf d = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_base64_decode(&d, "Zm9", 3, true), -EINVAL);   /* not groups of 4 */
  CU_ASSERT_EQUAL(ch_base64_decode(&d, "Z=9v", 4, true), -EINVAL);  /* padding inside */
  CU_ASSERT_EQUAL(ch_base64_decode(&d, "Zm9v=", 5, false), -EINVAL);
  CU_ASSERT_EQUAL(ch_base64_decode(&d, "Zm9vY", 5, false), -EINVAL); /* a lone last character */
  CU_ASSERT_EQUAL(ch_base64_decode(&d, "Zm$v", 4, true), -EINVAL);
  ch_buf_free(&d);
}

static void hex(const unsigned char *d, size_t n, char *out) {
  for (size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", d[i]);
}

/* RFC 3174's test vectors (one block, two blocks, the empty message) and RFC 6455's handshake example. */
static void test_core_sha256_vectors(void) {
  char hex[CH_SHA256_HEX_LEN + 1];
  CU_ASSERT_EQUAL(ch_sha256_hex("abc", 3, hex), 0); /* FIPS 180-4 examples */
  CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CU_ASSERT_EQUAL(ch_sha256_hex("", 0, hex), 0);
  CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CU_ASSERT_EQUAL(ch_sha256_hex(two, strlen(two), hex), 0);
  CU_ASSERT_STRING_EQUAL(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_core_sha1_vectors_and_websocket_accept(void) {
  unsigned char d[20];
  char h[41];
  ch_sha1("abc", 3, d);
  hex(d, 20, h);
  CU_ASSERT_STRING_EQUAL(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  ch_sha1(two, strlen(two), d);
  hex(d, 20, h);
  CU_ASSERT_STRING_EQUAL(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  ch_sha1("", 0, d);
  hex(d, 20, h);
  CU_ASSERT_STRING_EQUAL(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  const char *cat = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  ch_sha1(cat, strlen(cat), d);
  struct ch_buf b = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_base64_encode(&b, d, 20, true), 0);
  CU_ASSERT_STRING_EQUAL(b.data, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  ch_buf_free(&b);
}

int main(void) {
  CU_TestInfo tests[] = {
      CH_TEST(test_core_url_virtual_directory),        CH_TEST(test_core_url_errors_name_what_was_found),
      CH_TEST(test_core_pct_encode_matches_encodeURIComponent), CH_TEST(test_core_form_get_decodes_plus_and_escapes),
      CH_TEST(test_core_buf_printf_grows), CH_TEST(test_core_buf_read_file),             CH_TEST(test_core_buf_reserve_refuses_sizes_that_wrap),
      CH_TEST(test_core_excerpt_is_printable_and_bounded), CH_TEST(test_core_base64_round_trips_padded_and_not),
      CH_TEST(test_core_sha1_vectors_and_websocket_accept), CH_TEST(test_core_sha256_vectors),
      CH_TEST(test_core_rng_is_deterministic_per_seed),
      CU_TEST_INFO_NULL};
  return ch_test_run("core", tests);
}
