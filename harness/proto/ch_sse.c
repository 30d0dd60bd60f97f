/* Incremental text/event-stream parser (section 4.2: SignalR writes "data: ...\r\n\r\n", keep-alives
   "data: {}\n\n"). */
#include "ch_sse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { SSE_FIELD, SSE_VALUE_START, SSE_VALUE, SSE_SKIP };

int ch_sse_init(struct ch_sse *s, size_t max_event, ch_sse_event_cb cb, void *user) {
  if (!s || !cb)
    return -EINVAL;
  memset(s, 0, sizeof *s);
  s->cb = cb;
  s->user = user;
  s->max_event = max_event ? max_event : CH_SSE_DEFAULT_MAX_EVENT;
  return 0;
}

void ch_sse_reset(struct ch_sse *s) {
  ch_buf_reset(&s->data);
  s->state = SSE_FIELD;
  s->after_cr = s->is_data = s->has_data = false;
  s->bom = 0;
  s->field_len = 0;
  s->failed = 0;
  s->err[0] = '\0';
}

void ch_sse_free(struct ch_sse *s) {
  ch_buf_free(&s->data);
  memset(s, 0, sizeof *s);
}

const char *ch_sse_error(const struct ch_sse *s) { return s->err; }

static int sse_fail(struct ch_sse *s, int rc) {
  s->failed = rc;
  if (rc == -EMSGSIZE)
    snprintf(s->err, sizeof s->err, "sse: event larger than %zu bytes", s->max_event);
  else
    snprintf(s->err, sizeof s->err, "sse: out of memory");
  return rc;
}

static int sse_data(struct ch_sse *s, const char *p, size_t n) {
  if (s->data.len + n > s->max_event)
    return sse_fail(s, -EMSGSIZE);
  int rc = ch_buf_append(&s->data, p, n);
  return rc ? sse_fail(s, rc) : 0;
}

/* A line ended. Returns 0, or the callback's value / an error. */
static int sse_end_line(struct ch_sse *s) {
  int rc = 0;
  if (s->state == SSE_FIELD && s->field_len == 0) {
    /* blank line: dispatch */
    if (s->has_data) {
      size_t n = s->data.len;
      if (n && s->data.data[n - 1] == '\n')
        n--;
      s->data.len = n;
      s->data.data[n] = '\0';
      rc = s->cb(s->user, s->data.data, n);
    }
    ch_buf_reset(&s->data);
    s->has_data = false;
  } else if (s->is_data || (s->state == SSE_FIELD && s->field_len == 4 && !memcmp(s->field, "data", 4))) {
    rc = sse_data(s, "\n", 1);
    if (!rc && !s->data.data)
      rc = sse_fail(s, -ENOMEM);
    s->has_data = true;
  }
  s->state = SSE_FIELD;
  s->field_len = 0;
  s->is_data = false;
  return rc;
}

/* The first CR or LF in [p, end), or end (memchr is vectorised: data lines are long). */
static const char *sse_line_end(const char *p, const char *end) {
  const char *lf = memchr(p, '\n', (size_t)(end - p));
  const char *lim = lf ? lf : end;
  const char *cr = memchr(p, '\r', (size_t)(lim - p));
  return cr ? cr : lim;
}

int ch_sse_feed(struct ch_sse *s, const char *p, size_t n) {
  if (s->failed)
    return s->failed;
  const char *end = p + n;
  while (p < end) {
    char c = *p;
    if (s->bom < 3) {
      if ((unsigned char)c == (unsigned char)"\xEF\xBB\xBF"[s->bom]) {
        s->bom++;
        p++;
        continue;
      }
      s->bom = 3;
    }
    if (c == '\n' && s->after_cr) {
      s->after_cr = false; /* the LF of a CRLF split across chunks or not */
      p++;
      continue;
    }
    s->after_cr = false;
    if (c == '\r' || c == '\n') {
      s->after_cr = c == '\r';
      p++;
      int rc = sse_end_line(s);
      if (rc)
        return rc;
      continue;
    }
    switch (s->state) {
    case SSE_FIELD:
      if (c == ':') {
        bool data = s->field_len == 4 && !memcmp(s->field, "data", 4);
        s->state = data ? SSE_VALUE_START : SSE_SKIP; /* comments, id, event, retry: ignored */
        s->is_data = data;
      } else if (s->field_len < sizeof s->field) {
        s->field[s->field_len++] = c;
      } else {
        s->state = SSE_SKIP; /* a long unknown field name */
        s->field_len = sizeof s->field;
      }
      p++;
      break;
    case SSE_VALUE_START:
      s->state = SSE_VALUE;
      if (c == ' ') {
        p++;
        break;
      }
      /* fall through */
    case SSE_VALUE: {
      const char *q = sse_line_end(p, end);
      int rc = sse_data(s, p, (size_t)(q - p));
      if (rc)
        return rc;
      p = q;
      break;
    }
    default: /* SSE_SKIP */
      p = sse_line_end(p, end);
      break;
    }
  }
  return 0;
}
