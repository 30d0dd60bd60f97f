/* ch_buf: a growable byte buffer. The owner of a struct ch_buf owns its data; ch_buf_free releases it. */
#ifndef CH_BUF_H
#define CH_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct ch_buf {
  char *data;   /* always NUL-terminated after any successful append (len excludes the NUL) */
  size_t len;
  size_t cap;
};

#define CH_BUF_INIT {NULL, 0, 0}

/* Make room for at least `extra` more bytes plus a NUL. Returns 0 or -ENOMEM. */
int ch_buf_reserve(struct ch_buf *b, size_t extra);
int ch_buf_append(struct ch_buf *b, const void *p, size_t n);
int ch_buf_puts(struct ch_buf *b, const char *s);
int ch_buf_putc(struct ch_buf *b, char c);
int ch_buf_printf(struct ch_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ch_buf_vprintf(struct ch_buf *b, const char *fmt, va_list ap);
/* Appends the rest of f (read straight into the buffer: no copy left on the stack, for files holding secrets).
   Returns 0, -EFBIG when more than max bytes came (max 0: no limit; what was read stays), -EIO on a read error, or
   -ENOMEM. The caller opens and closes f. */
int ch_buf_read_file(struct ch_buf *b, FILE *f, size_t max);
/* Keeps the allocation for reuse. */
void ch_buf_reset(struct ch_buf *b);
void ch_buf_free(struct ch_buf *b);
/* Hands the data to the caller (who frees it with free()); the buffer becomes empty. Never NULL on success. */
char *ch_buf_steal(struct ch_buf *b);

#endif /* CH_BUF_H */
