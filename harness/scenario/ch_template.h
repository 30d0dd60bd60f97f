/* ch_template: request templates with {{placeholders}}, compiled once at load, rendered per request without
 * re-parsing (a list of literal and placeholder segments). Placeholders: {{key}} (the trigger's key), {{seq}} (the
 * trigger's sequence number), {{nonce}} (a unique token identifying the trigger), {{now_ms}} (wall clock, ms since
 * the Unix epoch), {{hub}} (the hub of the key), {{env.NAME}} (an environment variable, read once at compile time:
 * unset or empty is an error). Anything else inside {{ }} is an error at compile time. "{{{{" renders "{{".
 * The source text keeps {{env.NAME}} as written, so printing a template never shows a variable's value.
 */
#ifndef CH_TEMPLATE_H
#define CH_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ch_buf.h"

enum ch_template_escape {
  CH_TEMPLATE_RAW,  /* values inserted as they are (headers, bodies) */
  CH_TEMPLATE_URL,  /* values percent-encoded like encodeURIComponent (URLs) */
  CH_TEMPLATE_JSON, /* values escaped for the inside of a JSON string */
};

/* The values of one rendering. NULL strings render as "". */
struct ch_template_vars {
  const char *key;
  uint64_t seq;
  const char *nonce;
  uint64_t now_ms;
  const char *hub; /* "ResourceEventHub" / "JobEventHub" */
};

struct ch_template;

/**
 * Compiles src.
 * @param err  on failure, "expected ..., found ..." without a path (the caller prefixes the JSON path)
 * @return 0, -EINVAL (unknown placeholder, unclosed "{{"), -ENOMEM.
 */
int ch_template_compile(const char *src, enum ch_template_escape escape, struct ch_template **out,
                        struct ch_buf *err);
/* Appends the rendering to out. @return 0 or -ENOMEM. */
int ch_template_render(const struct ch_template *t, const struct ch_template_vars *v, struct ch_buf *out);
/* The source text as given, and the escaping it was compiled with. */
const char *ch_template_source(const struct ch_template *t);
enum ch_template_escape ch_template_escape_of(const struct ch_template *t);
/* True when the template uses {{name}} ("key", "seq", "nonce", "now_ms", "hub"). */
bool ch_template_uses(const struct ch_template *t, const char *name);
/* The {{env.NAME}} placeholders: how many, and each one's name and value (the value may be a credential: register it
   with the report's secrets when the name looks like one, never print it). */
size_t ch_template_env_count(const struct ch_template *t);
const char *ch_template_env_name(const struct ch_template *t, size_t i);
const char *ch_template_env_value(const struct ch_template *t, size_t i);
void ch_template_free(struct ch_template *t);

#endif /* CH_TEMPLATE_H */
