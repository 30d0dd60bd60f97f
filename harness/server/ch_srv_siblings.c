/* --processes: every sibling sends a line of counters to the first process each second, so the first process's
   /stats covers the whole port. Lines are short (well under PIPE_BUF), so each write is atomic. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch_srv.h"

static void report(uv_timer_t *t) {
  struct ch_server *s = t->data;
  uint64_t v[CH_SRV_NSTAT];
  char line[CH_SRV_NSTAT * 21 + 2];
  size_t n = 0;
  ch_srv_stats_vec(s, v);
  for (int i = 0; i < CH_SRV_NSTAT; i++)
    n += (size_t)snprintf(line + n, sizeof line - n, i ? " %llu" : "%llu", (unsigned long long)v[i]);
  line[n++] = '\n';
  if (write(s->stats_fd, line, n) < 0 && errno != EAGAIN)
    uv_timer_stop(t); /* the first process is gone */
}

static void peer_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf) {
  (void)want;
  struct ch_srv_peer *p = h->data;
  if (ch_buf_reserve(&p->buf, 4096)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(p->buf.data + p->buf.len, 4096);
}

static void peer_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  struct ch_srv_peer *p = st->data;
  if (n < 0) {
    uv_read_stop(st);
    memset(p->v, 0, sizeof p->v); /* a sibling that died holds no connections */
    return;
  }
  p->buf.len += (size_t)n;
  char *nl;
  while (p->buf.len && (nl = memchr(p->buf.data, '\n', p->buf.len))) {
    size_t len = (size_t)(nl - p->buf.data);
    *nl = 0;
    uint64_t v[CH_SRV_NSTAT];
    char *q = p->buf.data, *end;
    int k = 0;
    for (; k < CH_SRV_NSTAT; k++, q = end) {
      v[k] = strtoull(q, &end, 10);
      if (end == q)
        break;
    }
    if (k == CH_SRV_NSTAT)
      memcpy(p->v, v, sizeof v);
    memmove(p->buf.data, nl + 1, p->buf.len - len - 1);
    p->buf.len -= len + 1;
  }
  if (p->buf.len > 65536)
    ch_buf_reset(&p->buf);
}

int ch__server_set_peers(struct ch_server *s, const int *fds, size_t n) {
  s->peers = calloc(n ? n : 1, sizeof *s->peers);
  if (!s->peers)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    s->peers[i].s = s;
    s->peers[i].fd = fds[i];
  }
  s->n_peers = n;
  return 0;
}

/* serve --metrics-listen: the /stats object handed to the live outputs every second (ch_live_serve_stats). */
static void live_tick(uv_timer_t *t) {
  struct ch_server *s = t->data;
  struct ch_buf b = CH_BUF_INIT;
  ch_srv_stats_json(s, &b);
  if (b.data)
    s->o.on_stats(s->o.on_stats_user, b.data, b.len);
  ch_buf_free(&b);
}

void ch_srv_siblings_start(struct ch_server *s) {
  if (s->o.on_stats) {
    uv_timer_init(&s->loop, &s->live_timer);
    s->live_timer.data = s;
    s->live_timer_on = true;
    uv_timer_start(&s->live_timer, live_tick, 0, 1000);
  }
  if (s->stats_fd >= 0) {
    fcntl(s->stats_fd, F_SETFL, fcntl(s->stats_fd, F_GETFL) | O_NONBLOCK);
    uv_timer_init(&s->loop, &s->stats_timer);
    s->stats_timer.data = s;
    s->stats_timer_on = true;
    uv_timer_start(&s->stats_timer, report, 0, 1000);
  }
  for (size_t i = 0; i < s->n_peers; i++) {
    struct ch_srv_peer *p = &s->peers[i];
    if (p->fd < 0 || uv_pipe_init(&s->loop, &p->pipe, 0))
      continue;
    p->pipe.data = p;
    if (uv_pipe_open(&p->pipe, p->fd) == 0) {
      p->fd = -1; /* the pipe handle owns it now */
      p->on = true;
      uv_read_start((uv_stream_t *)&p->pipe, peer_alloc, peer_read);
    } else {
      uv_close((uv_handle_t *)&p->pipe, NULL);
    }
  }
}

void ch_srv_siblings_close(struct ch_server *s) {
  if (s->live_timer_on)
    uv_close((uv_handle_t *)&s->live_timer, NULL);
  s->live_timer_on = false;
  if (s->stats_timer_on)
    uv_close((uv_handle_t *)&s->stats_timer, NULL);
  s->stats_timer_on = false;
  for (size_t i = 0; i < s->n_peers; i++)
    if (s->peers[i].on) {
      uv_close((uv_handle_t *)&s->peers[i].pipe, NULL);
      s->peers[i].on = false;
    }
}

size_t ch_srv_siblings_add(const struct ch_server *s, uint64_t v[CH_SRV_NSTAT]) {
  for (size_t i = 0; i < s->n_peers; i++)
    for (int k = 0; k < CH_SRV_NSTAT; k++)
      v[k] += s->peers[i].v[k];
  return s->n_peers;
}
