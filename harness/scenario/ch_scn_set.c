/* --set PATH=VALUE: overrides applied to the JSON tree before validation, so an override is checked exactly like
   the file itself (an unknown key or a wrong type is reported with the path and "(from --set PATH)"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scn_check.h"

static bool set_is_index(const char *s, size_t *out) {
  if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
    return false;
  *out = (size_t)strtoul(s, NULL, 10);
  return true;
}

static void set_note(struct ch__scn_ctx *c, const cJSON *node, const char *path) {
  struct ch__scn_set_node *n = realloc(c->set_nodes, (c->n_set_nodes + 1) * sizeof *n);
  if (!n) {
    c->oom = true;
    return;
  }
  c->set_nodes = n;
  n[c->n_set_nodes].node = node;
  n[c->n_set_nodes].path = strdup(path);
  if (!n[c->n_set_nodes].path)
    c->oom = true;
  else
    c->n_set_nodes++;
}

static void set_fail(struct ch__scn_ctx *c, const char *path, const char *msg, const char *detail) {
  c->n_errors++;
  if (c->err)
    ch_buf_printf(c->err, "%s: --set %.200s: %s%s\n", c->file, path, msg, detail ? detail : "");
}

static void set_one(struct ch__scn_ctx *c, cJSON *root, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) {
    /* the value may be a credential: show only what precedes '=' */
    c->n_errors++;
    if (c->err)
      ch_buf_printf(c->err, "%s: --set %.*s: expected PATH=VALUE such as clients.0.count=5000\n", c->file,
                    (int)(eq ? 0 : strlen(arg) > 80 ? 80 : strlen(arg)), arg);
    return;
  }
  char *path = strndup(arg, (size_t)(eq - arg));
  char *work = path ? strdup(path) : NULL;
  if (!path || !work) {
    free(path);
    free(work);
    c->oom = true;
    return;
  }
  const char *value = eq + 1;
  cJSON *cur = root;
  char *save = NULL, *seg = strtok_r(work, ".", &save);
  bool bad = false;
  /* empty segments ("a..b", ".a", "a.") are errors, which strtok would skip silently */
  if (path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, "..")) {
    set_fail(c, path, "expected a dotted path such as clients.0.count (no empty parts)", NULL);
    bad = true;
  }
  while (!bad && seg) {
    char *next = strtok_r(NULL, ".", &save);
    size_t idx = 0;
    cJSON *child = NULL;
    if (cJSON_IsArray(cur)) {
      if (!set_is_index(seg, &idx)) {
        set_fail(c, path, "expected a numeric index into an array, found ", seg);
        bad = true;
        break;
      }
      size_t n = (size_t)cJSON_GetArraySize(cur);
      if (idx > n || (idx == n && next)) {
        char d[64];
        snprintf(d, sizeof d, "%zu (the array has %zu element%s)", idx, n, n == 1 ? "" : "s");
        set_fail(c, path, "expected an existing array index, found ", d);
        bad = true;
        break;
      }
      child = idx < n ? cJSON_GetArrayItem(cur, (int)idx) : NULL;
    } else if (cJSON_IsObject(cur)) {
      child = cJSON_GetObjectItemCaseSensitive(cur, seg);
    } else {
      set_fail(c, path, "expected an object or array to go into before ", seg);
      bad = true;
      break;
    }
    if (!next) {
      cJSON *v = cJSON_ParseWithOpts(value, NULL, true);
      if (!v)
        v = cJSON_CreateString(value);
      if (!v) {
        c->oom = true;
        break;
      }
      bool ok;
      if (cJSON_IsArray(cur))
        ok = child ? cJSON_ReplaceItemInArray(cur, (int)idx, v) : cJSON_AddItemToArray(cur, v);
      else
        ok = child ? cJSON_ReplaceItemInObjectCaseSensitive(cur, seg, v) : cJSON_AddItemToObject(cur, seg, v);
      if (!ok) {
        cJSON_Delete(v);
        c->oom = true;
      } else {
        set_note(c, v, path);
      }
      break;
    }
    if (!child) {
      size_t dummy;
      if (set_is_index(next, &dummy)) {
        set_fail(c, path, "expected an existing array before the index, found no key ", seg);
        bad = true;
        break;
      }
      /* a missing object on the way is created; validation then reports it if the schema has no such key */
      child = cJSON_AddObjectToObject(cur, seg);
      if (!child) {
        c->oom = true;
        break;
      }
      set_note(c, child, path);
    }
    cur = child;
    seg = next;
  }
  free(path);
  free(work);
}

void ch__scn_apply_sets(struct ch__scn_ctx *c, cJSON *root, const char *const *sets, size_t nsets) {
  for (size_t i = 0; i < nsets; i++)
    if (sets[i])
      set_one(c, root, sets[i]);
}
