/* The coordination's stream transport: length-prefixed frames over a connected socket, and the field codec; links
   of another transport (l->ops, ch_coord_mpi.c) are dispatched to it. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ch_coord.h"

/* A frame longer than this is garbage, not a plan (a plan is 16 bytes per trigger; 50 million triggers at most). */
#define COORD_FRAME_MAX (1u << 30)

void ch_coord_link_init(struct ch_coord_link *l, int fd) {
  memset(l, 0, sizeof *l);
  l->fd = fd;
}

void ch_coord_link_free(struct ch_coord_link *l) {
  if (l->ops) {
    l->ops->free(l);
    l->ops = NULL;
    l->impl = NULL;
  }
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
  ch_buf_free(&l->in);
  l->used = 0;
}

static int coord_write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL); /* a peer gone is an error to handle, not a SIGPIPE */
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -errno;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int ch_coord_link_send(struct ch_coord_link *l, unsigned type, const void *p, size_t n) {
  if (l->ops)
    return l->ops->send(l, type, p, n);
  if (l->fd < 0)
    return -EPIPE;
  uint32_t hdr[2] = {(uint32_t)n, (uint32_t)type};
  int rc = coord_write_all(l->fd, hdr, sizeof hdr);
  return rc ? rc : n ? coord_write_all(l->fd, p, n) : 0;
}

/* A whole frame at the start of `in`: its total size, else 0. */
static size_t coord_frame(const struct ch_coord_link *l) {
  if (l->in.len < 8)
    return 0;
  uint32_t len;
  memcpy(&len, l->in.data, 4);
  return l->in.len - 8 >= len ? 8 + (size_t)len : 0;
}

int ch_coord_link_recv(struct ch_coord_link *l, int timeout_ms, struct ch_coord_msg *m) {
  if (l->ops)
    return l->ops->recv(l, timeout_ms, m);
  if (l->used) { /* drop the message returned last time */
    memmove(l->in.data, l->in.data + l->used, l->in.len - l->used);
    l->in.len -= l->used;
    l->used = 0;
  }
  for (bool waited = false;;) {
    size_t fl = coord_frame(l);
    if (l->in.len >= 4) {
      uint32_t len;
      memcpy(&len, l->in.data, 4);
      if (len > COORD_FRAME_MAX)
        return -1;
    }
    if (fl) {
      uint32_t type;
      memcpy(&type, l->in.data + 4, 4);
      m->type = type;
      m->p = (const unsigned char *)l->in.data + 8;
      m->n = fl - 8;
      l->used = fl;
      return 1;
    }
    if (l->fd < 0)
      return -1;
    struct pollfd pf = {l->fd, POLLIN, 0};
    int pr = poll(&pf, 1, waited ? 0 : timeout_ms);
    if (pr < 0 && errno == EINTR)
      return 0;
    if (pr < 0)
      return -1;
    if (pr == 0)
      return 0;
    waited = true;
    if (ch_buf_reserve(&l->in, 65536))
      return -1;
    ssize_t rd = read(l->fd, l->in.data + l->in.len, 65536);
    if (rd < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (rd <= 0)
      return -1; /* end of stream: the peer is gone */
    l->in.len += (size_t)rd;
  }
}

void ch_coord_link_unread(struct ch_coord_link *l) {
  if (l->ops)
    l->ops->unread(l);
  else
    l->used = 0;
}

void ch_coord_link_tick(struct ch_coord_link *l) {
  if (l->ops)
    l->ops->tick(l);
}

void ch_coord_link_sync(struct ch_coord_link *l) {
  if (l->ops)
    l->ops->sync(l);
}

/* Streams are polled together; other links are asked every millisecond (MPI has no descriptor to poll). */
void ch_coord_link_wait(struct ch_coord_link *const *ls, unsigned n, int timeout_ms) {
  struct pollfd one, *pf = n > 1 ? calloc(n, sizeof *pf) : &one;
  unsigned nf = 0, other = 0;
  for (unsigned k = 0; k < n; k++) {
    if (ls[k]->ops)
      other++;
    else if (pf && ls[k]->fd >= 0)
      pf[nf++] = (struct pollfd){ls[k]->fd, POLLIN, 0};
  }
  if (!other)
    poll(pf, nf, timeout_ms);
  for (int waited = 0; other && waited <= timeout_ms; waited++) {
    bool any = false;
    for (unsigned k = 0; k < n && !any; k++)
      any = ls[k]->ops && ls[k]->ops->pending(ls[k]);
    if (any || poll(pf, nf, 1) > 0)
      break;
  }
  if (pf != &one)
    free(pf);
}

void ch_coord_put32(struct ch_buf *b, uint32_t v) { ch_buf_append(b, &v, sizeof v); }
void ch_coord_put64(struct ch_buf *b, uint64_t v) { ch_buf_append(b, &v, sizeof v); }

const void *ch_coord_getn(struct ch_coord_rd *r, size_t n) {
  if (r->bad || r->n - r->off < n) {
    r->bad = true;
    return NULL;
  }
  const void *p = r->p + r->off;
  r->off += n;
  return p;
}

/* A number of n bytes (4 or 8) into out; zero past the end. */
static void coord_get(struct ch_coord_rd *r, void *out, size_t n) {
  const void *p = ch_coord_getn(r, n);
  if (p)
    memcpy(out, p, n);
}

uint32_t ch_coord_get32(struct ch_coord_rd *r) {
  uint32_t v = 0;
  coord_get(r, &v, sizeof v);
  return v;
}

uint64_t ch_coord_get64(struct ch_coord_rd *r) {
  uint64_t v = 0;
  coord_get(r, &v, sizeof v);
  return v;
}
