/* ch_responder: a tiny HTTP/1.1 responder on a loopback port for whole-program tests: every request gets the same
   fixed answer (status, Content-Type, body; the connection is closed), and requests whose path starts with a given
   prefix are counted. Stands in for a web page that is not SignalR, or for a trigger URL that must not be called
   (or must answer 404). One thread, every wait bounded. */
#ifndef CH_RESPONDER_H
#define CH_RESPONDER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct ch_responder {
  int lfd, port;
  pthread_t thread;
  atomic_bool stop;
  int status;
  const char *ctype, *body;
  const char *count_prefix; /* requests whose path starts with this are counted in hits */
  atomic_int requests, hits;
};

/* Reads one request (head and a Content-Length body) within 2 s; returns its path's length in path (0 on failure). */
static inline size_t ch__responder_read(int fd, char *path, size_t n) {
  char buf[16384];
  size_t len = 0, need = 0;
  char *head_end = NULL;
  while (len < sizeof buf - 1) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0)
      return 0;
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0)
      return 0;
    len += (size_t)r;
    buf[len] = '\0';
    if (!head_end && (head_end = strstr(buf, "\r\n\r\n"))) {
      const char *cl = strcasestr(buf, "\r\nContent-Length:");
      need = (size_t)(head_end + 4 - buf) + (cl && cl < head_end ? strtoul(cl + 17, NULL, 10) : 0);
    }
    if (head_end && len >= need)
      break;
  }
  const char *sp = strchr(buf, ' ');
  if (!sp)
    return 0;
  size_t k = strcspn(sp + 1, " ?");
  if (k >= n)
    k = n - 1;
  memcpy(path, sp + 1, k);
  path[k] = '\0';
  return k;
}

static inline void *ch__responder_run(void *arg) {
  struct ch_responder *s = arg;
  while (!atomic_load(&s->stop)) {
    struct pollfd p = {s->lfd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
      continue;
    char path[1024];
    if (ch__responder_read(fd, path, sizeof path)) {
      atomic_fetch_add(&s->requests, 1);
      if (s->count_prefix && !strncmp(path, s->count_prefix, strlen(s->count_prefix)))
        atomic_fetch_add(&s->hits, 1);
      char head[256];
      int hn = snprintf(head, sizeof head,
                        "HTTP/1.1 %d Fixed\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                        s->status, s->ctype, strlen(s->body));
      if (write(fd, head, (size_t)hn) == hn && write(fd, s->body, strlen(s->body)) < 0)
        fprintf(stderr, "responder: write failed\n");
    }
    close(fd);
  }
  return NULL;
}

/* Listens on a free loopback port and starts answering. Returns 0 or -1. */
static inline int ch_responder_start(struct ch_responder *s, int status, const char *ctype, const char *body,
                                     const char *count_prefix) {
  memset(s, 0, sizeof *s);
  s->status = status, s->ctype = ctype, s->body = body, s->count_prefix = count_prefix;
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof a;
  if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 64) ||
      getsockname(s->lfd, (struct sockaddr *)&a, &l))
    return -1;
  s->port = ntohs(a.sin_port);
  return pthread_create(&s->thread, NULL, ch__responder_run, s) ? -1 : 0;
}

static inline void ch_responder_stop(struct ch_responder *s) {
  atomic_store(&s->stop, true);
  pthread_join(s->thread, NULL);
  close(s->lfd);
}

#endif /* CH_RESPONDER_H */
