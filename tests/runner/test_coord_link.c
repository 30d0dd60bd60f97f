/* The coordination's stream transport (ch_coord_link): messages arrive whole and in order however the bytes are
   split, a message put back is returned again, a peer gone or a frame claiming a gigabyte ends the link (-1), and
   the field reader never reads past a message. */
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ch_coord.h"
#include "ch_test.h"

static void pair(struct ch_coord_link *a, struct ch_coord_link *b) {
  int sv[2];
  CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ch_coord_link_init(a, sv[0]);
  ch_coord_link_init(b, sv[1]);
}

static void test_messages_arrive_whole_and_in_order(void) {
  struct ch_coord_link a, b;
  pair(&a, &b);
  struct ch_buf big = CH_BUF_INIT;
  for (uint32_t i = 0; i < 100000; i++) /* 400 KB: more than a socket buffer, so the reader sees it in pieces */
    ch_coord_put32(&big, i);
  CU_ASSERT_EQUAL(ch_coord_link_send(&a, CH_COORD_START, "\x07\0\0\0", 4), 0);
  pid_t pid = fork(); /* the big one needs a reader while it is written */
  if (pid == 0) {
    _exit(ch_coord_link_send(&a, CH_COORD_PLAN, big.data, big.len) || ch_coord_link_send(&a, CH_COORD_DONE, NULL, 0));
  }
  struct ch_coord_msg m;
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 2000, &m), 1);
  CU_ASSERT_EQUAL(m.type, CH_COORD_START);
  struct ch_coord_rd rd = {m.p, m.n, 0, false};
  CU_ASSERT_EQUAL(ch_coord_get32(&rd), 7);
  ch_coord_get32(&rd); /* past the end: flagged, zero */
  CU_ASSERT_TRUE(rd.bad);
  int got = 0;
  for (int tries = 0; tries < 200 && (got = ch_coord_link_recv(&b, 50, &m)) == 0; tries++)
    ;
  CU_ASSERT_EQUAL_FATAL(got, 1);
  CU_ASSERT_EQUAL(m.type, CH_COORD_PLAN);
  CU_ASSERT_EQUAL_FATAL(m.n, big.len);
  CU_ASSERT_EQUAL(memcmp(m.p, big.data, big.len), 0);
  ch_coord_link_unread(&b); /* put back: returned again */
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 0, &m), 1);
  CU_ASSERT_EQUAL(m.type, CH_COORD_PLAN);
  for (int tries = 0; tries < 200 && (got = ch_coord_link_recv(&b, 50, &m)) == 0; tries++)
    ;
  CU_ASSERT_EQUAL(got, 1);
  CU_ASSERT_EQUAL(m.type, CH_COORD_DONE);
  CU_ASSERT_EQUAL(m.n, 0);
  int st = -1;
  waitpid(pid, &st, 0);
  CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ch_coord_link_free(&a); /* the peer is gone: after what it sent, the end of the link */
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 2000, &m), -1);
  CU_ASSERT_EQUAL(ch_coord_link_send(&b, CH_COORD_DONE, NULL, 0) < 0, true); /* no SIGPIPE: an error */
  ch_coord_link_free(&b);
  ch_buf_free(&big);
}

static void test_a_frame_of_a_gigabyte_ends_the_link(void) {
  struct ch_coord_link a, b;
  pair(&a, &b);
  uint32_t hdr[2] = {0x7fffffffu, CH_COORD_PLAN};
  CU_ASSERT_EQUAL((size_t)write(a.fd, hdr, sizeof hdr), sizeof hdr);
  struct ch_coord_msg m;
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 2000, &m), -1);
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 0, &m), 0 - 1); /* and stays ended */
  ch_coord_link_free(&a);
  ch_coord_link_free(&b);
}

static void test_nothing_yet_is_zero(void) {
  struct ch_coord_link a, b;
  pair(&a, &b);
  struct ch_coord_msg m;
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 0, &m), 0);
  CU_ASSERT_EQUAL((size_t)write(a.fd, "\x04\0\0", 3), 3); /* half a header */
  CU_ASSERT_EQUAL(ch_coord_link_recv(&b, 50, &m), 0);
  ch_coord_link_free(&a);
  ch_coord_link_free(&b);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_messages_arrive_whole_and_in_order), CH_TEST(test_a_frame_of_a_gigabyte_ends_the_link),
                         CH_TEST(test_nothing_yet_is_zero), CU_TEST_INFO_NULL};
  return ch_test_run("coord_link", tests);
}
