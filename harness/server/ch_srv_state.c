/* Connection table, groups (subscriptions), per-connection replay rings and the publish fan-out. The Update JSON is
   built once per message and shared by reference: per subscriber only a pointer goes into its ring. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ch_clock.h"
#include "ch_srv.h"

static uint64_t fnv1a(const void *p, size_t n, uint64_t h) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* ---- messages ---- */

static struct ch_srv_msg *msg_new(const char *data, size_t len) {
  struct ch_srv_msg *m = malloc(sizeof *m + len + 1);
  if (!m)
    return NULL;
  m->refs = 1;
  m->len = (uint32_t)len;
  memcpy(m->data, data, len);
  m->data[len] = 0;
  return m;
}

void ch_srv_msg_unref(struct ch_srv_msg *m) {
  if (m && --m->refs == 0)
    free(m);
}

/* ---- connections ---- */

static int conn_table_grow(struct ch_server *s) {
  size_t nb = s->conn_buckets ? s->conn_buckets * 2 : 1024;
  struct ch_srv_conn **b = calloc(nb, sizeof *b);
  if (!b)
    return -ENOMEM;
  for (size_t i = 0; i < s->conn_buckets; i++) {
    struct ch_srv_conn *c = s->conns[i], *next;
    for (; c; c = next) {
      next = c->next;
      size_t k = fnv1a(c->id, 36, 0xcbf29ce484222325ull) & (nb - 1);
      c->next = b[k];
      b[k] = c;
    }
  }
  free(s->conns);
  s->conns = b;
  s->conn_buckets = nb;
  return 0;
}

struct ch_srv_conn *ch_srv_conn_find(struct ch_server *s, const char *id) {
  if (!s->conn_buckets)
    return NULL;
  size_t k = fnv1a(id, 36, 0xcbf29ce484222325ull) & (s->conn_buckets - 1);
  for (struct ch_srv_conn *c = s->conns[k]; c; c = c->next)
    if (memcmp(c->id, id, 36) == 0)
      return c;
  return NULL;
}

struct ch_srv_conn *ch_srv_conn_get(struct ch_server *s, const char *id, const char *user) {
  struct ch_srv_conn *c = ch_srv_conn_find(s, id);
  if (c)
    return c;
  if (s->n_conns >= s->conn_buckets && conn_table_grow(s))
    return NULL;
  c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->user = strdup(user ? user : "");
  if (!c->user) {
    free(c);
    return NULL;
  }
  memcpy(c->id, id, 36);
  c->id[36] = 0;
  c->last_seen_ns = ch_now_ns();
  /* the nth connection draws the same faults in every run with the same seed */
  c->fault_rng = (s->o.fault_seed ? s->o.fault_seed : 1) ^ (s->st.connections_total * 0x9e3779b97f4a7c15ull);
  size_t k = fnv1a(c->id, 36, 0xcbf29ce484222325ull) & (s->conn_buckets - 1);
  c->next = s->conns[k];
  s->conns[k] = c;
  s->n_conns++;
  s->st.connections_total++;
  return c;
}

static void conn_free(struct ch_srv_conn *c) {
  for (size_t i = 0; i < c->ring_count; i++)
    ch_srv_msg_unref(ch_srv_conn_msg(c, c->head_seq - i));
  free(c->ring);
  ch_srv_msg_unref(c->held);
  free(c->groups);
  free(c->gtoken);
  free(c->user);
  ch_buf_free(&c->replies);
  free(c);
}

void ch_srv_conn_remove(struct ch_server *s, struct ch_srv_conn *c) {
  ch_srv_conn_leave_all(s, c);
  size_t k = fnv1a(c->id, 36, 0xcbf29ce484222325ull) & (s->conn_buckets - 1);
  for (struct ch_srv_conn **pp = &s->conns[k]; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      s->n_conns--;
      break;
    }
  }
  conn_free(c);
}

/* ---- groups ---- */

static uint64_t group_hash(unsigned hub, const char *key) {
  return fnv1a(key, strlen(key), 0xcbf29ce484222325ull ^ hub);
}

struct ch_srv_group *ch_srv_group_get(struct ch_server *s, unsigned hub, const char *key, bool create) {
  if (s->group_buckets) {
    size_t k = group_hash(hub, key) & (s->group_buckets - 1);
    for (struct ch_srv_group *g = s->groups[k]; g; g = g->next)
      if (g->hub == hub && strcmp(g->key, key) == 0)
        return g;
  }
  if (!create)
    return NULL;
  if (s->n_groups >= s->group_buckets) {
    size_t nb = s->group_buckets ? s->group_buckets * 2 : 256;
    struct ch_srv_group **b = calloc(nb, sizeof *b);
    if (!b)
      return NULL;
    for (size_t i = 0; i < s->group_buckets; i++) {
      struct ch_srv_group *g = s->groups[i], *next;
      for (; g; g = next) {
        next = g->next;
        size_t k = group_hash(g->hub, g->key) & (nb - 1);
        g->next = b[k];
        b[k] = g;
      }
    }
    free(s->groups);
    s->groups = b;
    s->group_buckets = nb;
  }
  struct ch_srv_group *g = calloc(1, sizeof *g);
  if (!g || !(g->key = strdup(key))) {
    free(g);
    return NULL;
  }
  g->hub = hub;
  size_t k = group_hash(hub, key) & (s->group_buckets - 1);
  g->next = s->groups[k];
  s->groups[k] = g;
  s->n_groups++;
  return g;
}

int ch_srv_conn_join(struct ch_server *s, struct ch_srv_conn *c, unsigned hub, const char *key) {
  for (size_t i = 0; i < c->n_groups; i++)
    if (c->groups[i].g->hub == hub && strcmp(c->groups[i].g->key, key) == 0)
      return 0; /* already a member */
  struct ch_srv_group *g = ch_srv_group_get(s, hub, key, true);
  if (!g)
    return -ENOMEM;
  if (c->n_groups == c->cap_groups) {
    size_t nc = c->cap_groups ? c->cap_groups * 2 : 4;
    struct ch_srv_member *m = realloc(c->groups, nc * sizeof *m);
    if (!m)
      return -ENOMEM;
    c->groups = m;
    c->cap_groups = nc;
  }
  if (g->n == g->cap) {
    size_t nc = g->cap ? g->cap * 2 : 8;
    struct ch_srv_conn **m = realloc(g->members, nc * sizeof *m);
    if (!m)
      return -ENOMEM;
    g->members = m;
    g->cap = nc;
  }
  g->members[g->n] = c;
  c->groups[c->n_groups].g = g;
  c->groups[c->n_groups].idx = g->n;
  g->n++;
  c->n_groups++;
  return 0;
}

static void member_drop(struct ch_srv_conn *c, size_t i) {
  struct ch_srv_group *g = c->groups[i].g;
  size_t idx = c->groups[i].idx;
  /* swap-remove from the group, then fix the moved member's back index */
  struct ch_srv_conn *moved = g->members[g->n - 1];
  g->members[idx] = moved;
  g->n--;
  if (moved != c) {
    for (size_t j = 0; j < moved->n_groups; j++) {
      if (moved->groups[j].g == g) {
        moved->groups[j].idx = idx;
        break;
      }
    }
  }
  c->groups[i] = c->groups[c->n_groups - 1];
  c->n_groups--;
}

int ch_srv_conn_leave(struct ch_server *s, struct ch_srv_conn *c, unsigned hub, const char *key) {
  (void)s;
  for (size_t i = 0; i < c->n_groups; i++) {
    if (c->groups[i].g->hub == hub && strcmp(c->groups[i].g->key, key) == 0) {
      member_drop(c, i);
      return 1;
    }
  }
  return 0;
}

void ch_srv_conn_leave_all(struct ch_server *s, struct ch_srv_conn *c) {
  (void)s;
  while (c->n_groups)
    member_drop(c, c->n_groups - 1);
}

int ch_srv_conn_groups_token(struct ch_server *s, struct ch_srv_conn *c) {
  struct ch_buf names = CH_BUF_INIT, tok = CH_BUF_INIT;
  const char **v = calloc(c->n_groups + 1, sizeof *v);
  size_t *offs = calloc(c->n_groups + 1, sizeof *offs);
  int rc = (v && offs) ? 0 : -ENOMEM;
  for (size_t i = 0; i < c->n_groups && !rc; i++) {
    offs[i] = names.len;
    rc = ch_buf_printf(&names, "%s.%s", ch_srv_hub_name(c->groups[i].g->hub), c->groups[i].g->key);
    if (!rc)
      rc = ch_buf_putc(&names, 0);
  }
  for (size_t i = 0; i < c->n_groups && !rc; i++)
    v[i] = names.data + offs[i];
  if (!rc)
    rc = ch_srv_groups_token_make(s->groups_key, c->id, v, c->n_groups, &tok);
  if (!rc) {
    free(c->gtoken);
    c->gtoken = ch_buf_steal(&tok);
    c->g_pending = true;
  }
  free(v);
  free(offs);
  ch_buf_free(&names);
  ch_buf_free(&tok);
  return rc;
}

void ch_srv_conn_restore_groups(struct ch_server *s, struct ch_srv_conn *c, const char *tok, size_t len) {
  char **names = NULL;
  size_t n = 0;
  ch_srv_conn_leave_all(s, c);
  if (!tok || ch_srv_fault(s, CH_FAULT_IGNORE_GROUPS_TOKEN))
    return;
  if (ch_srv_groups_token_parse(s->groups_key, c->id, tok, len, &names, &n))
    return;
  for (size_t i = 0; i < n; i++) {
    const char *dot = strchr(names[i], '.');
    if (!dot)
      continue;
    unsigned hub = ch_srv_hub_lookup(names[i], (size_t)(dot - names[i]));
    if (hub && (c->hubs & hub))
      ch_srv_conn_join(s, c, hub, dot + 1);
  }
  ch_srv_strv_free(names, n);
  free(c->gtoken);
  c->gtoken = strndup(tok, len); /* the client already has it: no G to send */
}

/* ---- replay ring ---- */

struct ch_srv_msg *ch_srv_conn_msg(const struct ch_srv_conn *c, uint64_t seq) {
  return c->ring[seq & (c->ring_cap - 1)];
}

size_t ch_srv_conn_pending(const struct ch_srv_conn *c) {
  uint64_t oldest = c->head_seq - c->ring_count; /* seqs after this are in the ring */
  uint64_t from = c->sent_seq > oldest ? c->sent_seq : oldest;
  return c->head_seq > from ? (size_t)(c->head_seq - from) : 0;
}

void ch_srv_conn_skip_lost(struct ch_server *s, struct ch_srv_conn *c) {
  (void)s;
  uint64_t oldest = c->head_seq - c->ring_count;
  if (c->sent_seq < oldest)
    c->sent_seq = oldest;
}

static size_t ring_limit(const struct ch_server *s) { return s->o.replay_buffer; }

static int conn_append(struct ch_server *s, struct ch_srv_conn *c, struct ch_srv_msg *m) {
  size_t limit = ring_limit(s);
  if (c->ring_count == c->ring_cap && c->ring_cap < limit) {
    size_t nc = c->ring_cap ? c->ring_cap * 2 : 8;
    struct ch_srv_msg **r = calloc(nc, sizeof *r);
    if (!r)
      return -ENOMEM;
    for (size_t i = 0; i < c->ring_count; i++) {
      uint64_t seq = c->head_seq - i;
      r[seq & (nc - 1)] = c->ring[seq & (c->ring_cap - 1)];
    }
    free(c->ring);
    c->ring = r;
    c->ring_cap = nc;
  }
  if (c->ring_count >= limit || c->ring_count == c->ring_cap) {
    uint64_t oldest = c->head_seq - c->ring_count + 1;
    if (oldest > c->sent_seq)
      s->st.drops++; /* a slow consumer: the message falls out unsent, like a real server's buffer */
    ch_srv_msg_unref(ch_srv_conn_msg(c, oldest));
    c->ring[oldest & (c->ring_cap - 1)] = NULL;
    c->ring_count--;
  }
  c->head_seq++;
  c->ring[c->head_seq & (c->ring_cap - 1)] = m;
  m->refs++;
  c->ring_count++;
  if (c->wsi && s->o.max_queue && c->head_seq - c->sent_seq > s->o.max_queue) {
    /* a live channel that cannot keep up: the oldest unsent messages are skipped (still replayable) */
    s->st.drops += c->head_seq - c->sent_seq - s->o.max_queue;
    c->sent_seq = c->head_seq - s->o.max_queue;
  }
  return 0;
}

static bool one_in_100(struct ch_srv_conn *c) { return ch_rng_split(&c->fault_rng) % 100 == 0; }

/* One message for one subscriber, through the delivery faults. */
static void conn_push(struct ch_server *s, struct ch_srv_conn *c, struct ch_srv_msg *m) {
  c->fault_n++;
  if (ch_srv_fault(s, CH_FAULT_DROP_UPDATES) && c->fault_n % 10 == 0)
    return;
  if (ch_srv_fault(s, CH_FAULT_LOSE_1PCT) && one_in_100(c))
    return;
  if (ch_srv_fault(s, CH_FAULT_REORDER_UPDATES) ||
      (ch_srv_fault(s, CH_FAULT_REORDER_1PCT) && (c->held || one_in_100(c)))) {
    if (!c->held) {
      c->held = m;
      m->refs++;
      return;
    }
    conn_append(s, c, m);
    conn_append(s, c, c->held);
    ch_srv_msg_unref(c->held);
    c->held = NULL;
  } else {
    conn_append(s, c, m);
    if ((ch_srv_fault(s, CH_FAULT_DUPLICATE_UPDATES) && c->fault_n % 10 == 0) ||
        (ch_srv_fault(s, CH_FAULT_DUPLICATE_1PCT) && one_in_100(c)))
      conn_append(s, c, m);
  }
  if (!s->deferring || c->tr != CH_SRV_TR_WS)
    ch_srv_conn_kick(s, c); /* WebSockets are flushed once the publish is complete (flush_members) */
}

/* Writes what the turn's publishes left: WebSockets directly (one send per subscriber for all of their new
   messages, no poll round trip); the other transports were kicked already and write from WRITEABLE. */
static void flush_dirty(struct ch_server *s) {
  uv_check_stop(&s->flush_check);
  uint64_t t0 = ch_now_ns();
  if (s->dirty_all_hubs) {
    for (size_t b = 0; b < s->group_buckets; b++)
      for (struct ch_srv_group *g = s->groups[b]; g; g = g->next)
        for (size_t i = 0; (g->hub & s->dirty_all_hubs) && i < g->n; i++)
          ch_srv_conn_flush(s, g->members[i]);
    s->dirty_all_hubs = 0;
  }
  while (s->dirty) {
    struct ch_srv_group *g = s->dirty;
    s->dirty = g->dirty_next;
    g->dirty = false;
    for (size_t i = 0; i < g->n; i++)
      ch_srv_conn_flush(s, g->members[i]);
  }
  s->st.last_fanout_ns = ch_now_ns() - t0;
}

static void flush_check_cb(uv_check_t *h) { flush_dirty(h->data); }

/* Marks a publish's subscribers for the flush at the end of this loop turn (flush_dirty). */
static void flush_members(struct ch_server *s, unsigned hub, const char *key) {
  if (ch_srv_fault(s, CH_FAULT_LEAK_KEYS)) {
    s->dirty_all_hubs |= hub;
  } else {
    struct ch_srv_group *g = ch_srv_group_get(s, hub, key, false);
    if (!g || g->dirty)
      return;
    g->dirty = true;
    g->dirty_next = s->dirty;
    s->dirty = g;
  }
  uv_check_start(&s->flush_check, flush_check_cb);
}


void ch_srv_conn_flush_held(struct ch_server *s, struct ch_srv_conn *c) {
  if (!c->held)
    return;
  conn_append(s, c, c->held);
  ch_srv_msg_unref(c->held);
  c->held = NULL;
  ch_srv_conn_kick(s, c);
}

/* ---- Update models ---- */

static void iso_time(char *out, size_t cap, uint64_t ns) {
  time_t t = (time_t)(ns / 1000000000u);
  struct tm tm;
  gmtime_r(&t, &tm);
  char d[32];
  strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%s.%07uZ", d, (unsigned)(ns % 1000000000u / 100u));
}

static cJSON *model_resource(const char *key, uint64_t seq, const char *ts) {
  char buf[128];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "PartKey", key);
  snprintf(buf, sizeof buf, "PHASE01/GearboxAssy.%llu.asm", (unsigned long long)seq);
  cJSON_AddStringToObject(o, "CatalogId", buf);
  cJSON_AddNumberToObject(o, "EventType", 1);
  snprintf(buf, sizeof buf, "%s-%llu", key, (unsigned long long)seq);
  cJSON_AddStringToObject(o, "ResourceKey", buf);
  snprintf(buf, sizeof buf, "GearboxAssy.%llu.png", (unsigned long long)seq);
  cJSON_AddStringToObject(o, "ResourceName", buf);
  cJSON_AddStringToObject(o, "ResourceType", "Image");
  cJSON_AddStringToObject(o, "Category", "Unassigned");
  cJSON_AddNumberToObject(o, "Version", (double)(seq % 1000000));
  cJSON_AddStringToObject(o, "UserName", "centro");
  cJSON_AddStringToObject(o, "Timestamp", ts);
  return o;
}

static cJSON *model_job(const char *key, uint64_t seq, const char *ts) {
  char buf[64];
  cJSON *o = cJSON_CreateObject();
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)(100000 + seq));
  cJSON_AddStringToObject(o, "Id", buf);
  cJSON_AddStringToObject(o, "PipeId", key);
  cJSON_AddStringToObject(o, "PipelineName", "CAD to Catalog - Engineering Share");
  cJSON_AddStringToObject(o, "Name", "C:\\CADFiles\\test.step");
  cJSON_AddNumberToObject(o, "Status", 1);
  cJSON_AddNumberToObject(o, "Priority", 5);
  cJSON_AddStringToObject(o, "Host", "CENTRO-PH01");
  cJSON_AddNumberToObject(o, "Progress", (double)(seq % 101));
  cJSON_AddNullToObject(o, "Message");
  cJSON_AddStringToObject(o, "Created", ts);
  cJSON_AddStringToObject(o, "Started", ts);
  cJSON_AddNullToObject(o, "Finished");
  return o;
}

static struct ch_srv_msg *build_update(struct ch_server *s, unsigned hub, const char *key, uint64_t seq,
                                       const char *payload) {
  uint64_t wall = ch_wall_ns();
  if (ch_srv_fault(s, CH_FAULT_SLOW_UPDATES))
    wall -= 300000000u; /* the time the Update was meant to go out */
  char ts[48];
  iso_time(ts, sizeof ts, wall);
  cJSON *model = hub == CH_HUB_RESOURCE ? model_resource(key, seq, ts) : model_job(key, seq, ts);
  if (!model)
    return NULL;
  if (payload) {
    cJSON *extra = cJSON_Parse(payload);
    cJSON *f;
    if (cJSON_IsObject(extra)) {
      while ((f = extra->child)) {
        cJSON_DetachItemViaPointer(extra, f);
        if (cJSON_GetObjectItemCaseSensitive(model, f->string)) {
          /* cJSON frees the replacement's own name before copying the one given: pass a copy */
          char *name = strdup(f->string);
          if (!name || !cJSON_ReplaceItemInObjectCaseSensitive(model, name, f))
            cJSON_Delete(f);
          free(name);
        } else
          cJSON_AddItemToObject(model, f->string, f);
      }
    }
    cJSON_Delete(extra);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(model, "HarnessSeq");
  cJSON_DeleteItemFromObjectCaseSensitive(model, "HarnessSentUs");
  /* Integers written as integers: cJSON's %g form ("1.79582664933628e+15") is no integer to a strict reader. */
  char num[32];
  snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
  cJSON_AddRawToObject(model, "HarnessSeq", num);
  snprintf(num, sizeof num, "%llu", (unsigned long long)(wall / 1000u));
  cJSON_AddRawToObject(model, "HarnessSentUs", num);
  char *txt = cJSON_PrintUnformatted(model);
  cJSON_Delete(model);
  if (!txt)
    return NULL;
  struct ch_buf b = CH_BUF_INIT;
  int rc = ch_buf_printf(&b, "{\"H\":\"%s\",\"M\":\"Update\",\"A\":[%s]}", ch_srv_hub_name(hub), txt);
  free(txt);
  struct ch_srv_msg *m = rc ? NULL : msg_new(b.data, b.len);
  ch_buf_free(&b);
  return m;
}

size_t ch_srv_publish_one(struct ch_server *s, unsigned hub, const char *key, uint64_t seq, const char *payload) {
  struct ch_srv_msg *m = build_update(s, hub, key, seq, payload);
  if (!m)
    return 0;
  size_t reached = 0;
  s->st.publishes++;
  if (ch_srv_fault(s, CH_FAULT_LEAK_KEYS)) {
    /* every subscriber of the hub, whatever its key (each connection once) */
    uint32_t mark = ++s->publish_mark;
    for (size_t b = 0; b < s->group_buckets; b++) {
      for (struct ch_srv_group *g = s->groups[b]; g; g = g->next) {
        if (g->hub != hub)
          continue;
        for (size_t i = 0; i < g->n; i++) {
          struct ch_srv_conn *c = g->members[i];
          if (c->mark == mark)
            continue;
          c->mark = mark;
          conn_push(s, c, m);
          reached++;
        }
      }
    }
  } else {
    struct ch_srv_group *g = ch_srv_group_get(s, hub, key, false);
    for (size_t i = 0; g && i < g->n; i++)
      conn_push(s, g->members[i], m);
    reached = g ? g->n : 0;
  }
  ch_srv_msg_unref(m);
  return reached;
}

/* ---- publish jobs (rate-limited, delayed or large publishes) ---- */

/* At most this many Updates per loop turn, so a huge publish never stalls the other connections. */
#define CH_SRV_PUBLISH_SLICE 1000

static void job_free(struct ch_srv_pubjob *j) {
  free(j->key);
  free(j->payload);
  free(j);
}

static void job_closed(uv_handle_t *h) { job_free(h->data); }

static void job_unlink(struct ch_server *s, struct ch_srv_pubjob *j) {
  for (struct ch_srv_pubjob **pp = &s->jobs; *pp; pp = &(*pp)->next) {
    if (*pp == j) {
      *pp = j->next;
      break;
    }
  }
  uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void job_run(uv_timer_t *t) {
  struct ch_srv_pubjob *j = t->data;
  struct ch_server *s = j->s;
  uint64_t due = j->count, now = ch_now_ns();
  if (j->rate > 0) {
    double el = now > j->start_ns ? (double)(now - j->start_ns) / 1e9 : 0; /* uv timers may fire a hair early */
    double n = el * j->rate + 1;
    due = n >= (double)j->count ? j->count : (uint64_t)n;
  }
  if (due > j->done + CH_SRV_PUBLISH_SLICE)
    due = j->done + CH_SRV_PUBLISH_SLICE;
  s->deferring = true;
  while (j->done < due) {
    ch_srv_publish_one(s, j->hub, j->key, j->first_seq + j->done, j->payload);
    j->done++;
  }
  s->deferring = false;
  flush_members(s, j->hub, j->key);
  if (j->done >= j->count) {
    uv_timer_stop(t);
    job_unlink(s, j);
  }
}

void ch_srv_jobs_free(struct ch_server *s) {
  while (s->jobs) {
    struct ch_srv_pubjob *j = s->jobs;
    uv_timer_stop(&j->timer);
    job_unlink(s, j);
  }
}

int ch_srv_publish_request(struct ch_server *s, const char *body, size_t len, struct ch_buf *out) {
  cJSON *req = cJSON_ParseWithLength(body, len);
  const char *err = NULL;
  unsigned hub = 0;
  char keybuf[64];
  const char *key = NULL;
  double count = 1, rate = 0;
  if (!cJSON_IsObject(req)) {
    err = "body must be a JSON object";
    goto fail;
  }
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(req, "hub");
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(req, "key");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(req, "count");
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(req, "rate");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "payload");
  if (!cJSON_IsString(h) || !(hub = ch_srv_hub_lookup(h->valuestring, strlen(h->valuestring)))) {
    err = "hub must be \"ResourceEventHub\" or \"JobEventHub\"";
    goto fail;
  }
  if (cJSON_IsString(k) && k->valuestring[0])
    key = k->valuestring;
  else if (cJSON_IsNumber(k)) {
    snprintf(keybuf, sizeof keybuf, "%.0f", k->valuedouble);
    key = keybuf;
  }
  if (!key) {
    err = "key must be a non-empty string";
    goto fail;
  }
  if (c && !(cJSON_IsNumber(c) && c->valuedouble >= 1 && c->valuedouble <= 10000000)) {
    err = "count must be a number from 1 to 10000000";
    goto fail;
  }
  if (c)
    count = c->valuedouble;
  if (r && !(cJSON_IsNumber(r) && r->valuedouble >= 0 && r->valuedouble <= 10000000)) {
    err = "rate must be a number >= 0 (per second, 0 = all at once)";
    goto fail;
  }
  if (r)
    rate = r->valuedouble;
  if (p && !cJSON_IsObject(p) && !cJSON_IsNull(p)) {
    err = "payload must be an object";
    goto fail;
  }
  struct ch_srv_group *g = ch_srv_group_get(s, hub, key, true);
  if (!g) {
    err = "out of memory";
    goto fail;
  }
  uint64_t n = (uint64_t)count, first = g->seq + 1;
  g->seq += n; /* reserve the sequence numbers now, so concurrent jobs never share one */
  size_t subs = g->n;
  char *payload = cJSON_IsObject(p) ? cJSON_PrintUnformatted(p) : NULL;
  bool delay = ch_srv_fault(s, CH_FAULT_SLOW_UPDATES);
  if (rate == 0 && !delay && n <= CH_SRV_PUBLISH_SLICE) {
    s->deferring = true;
    for (uint64_t i = 0; i < n; i++)
      ch_srv_publish_one(s, hub, key, first + i, payload);
    s->deferring = false;
    flush_members(s, hub, key);
    free(payload);
  } else {
    struct ch_srv_pubjob *j = calloc(1, sizeof *j);
    if (!j || !(j->key = strdup(key))) {
      free(j);
      free(payload);
      err = "out of memory";
      goto fail;
    }
    j->s = s;
    j->hub = hub;
    j->payload = payload;
    j->first_seq = first;
    j->count = n;
    j->rate = rate;
    uv_timer_init(&s->loop, &j->timer);
    j->timer.data = j;
    j->next = s->jobs;
    s->jobs = j;
    uint64_t start_ms = delay ? 300 : 0;
    j->start_ns = ch_now_ns() + start_ms * 1000000u;
    uint64_t every = rate > 0 ? (uint64_t)(1000.0 / rate) : 0;
    uv_timer_start(&j->timer, job_run, start_ms, every ? every : 1);
  }
  cJSON_Delete(req);
  ch_buf_printf(out, "{\"published\":%llu,\"first_seq\":%llu,\"subscribers\":%zu}", (unsigned long long)n,
                (unsigned long long)first, subs);
  return 200;
fail:
  cJSON_Delete(req);
  ch_buf_puts(out, "{\"error\":");
  ch_srv_json_str(out, err, strlen(err));
  ch_buf_putc(out, '}');
  return 400;
}

size_t ch_srv_count_subscriptions(const struct ch_server *s) {
  size_t n = 0;
  for (size_t b = 0; b < s->group_buckets; b++)
    for (struct ch_srv_group *g = s->groups[b]; g; g = g->next)
      n += g->n;
  return n;
}

void ch_srv_state_free(struct ch_server *s) {
  for (size_t b = 0; b < s->conn_buckets; b++) {
    struct ch_srv_conn *c = s->conns[b], *next;
    for (; c; c = next) {
      next = c->next;
      conn_free(c);
    }
  }
  free(s->conns);
  s->conns = NULL;
  s->conn_buckets = s->n_conns = 0;
  for (size_t b = 0; b < s->group_buckets; b++) {
    struct ch_srv_group *g = s->groups[b], *next;
    for (; g; g = next) {
      next = g->next;
      free(g->members);
      free(g->key);
      free(g);
    }
  }
  free(s->groups);
  s->groups = NULL;
  s->dirty = NULL;
  s->group_buckets = s->n_groups = 0;
}

/* ---- the global heartbeat: keep-alives, long-poll timeouts, forgetting disconnected connections ---- */

void ch_srv_tick(struct ch_server *s) {
  uint64_t now = ch_now_ns();
  bool ka = !ch_srv_fault(s, CH_FAULT_NO_KEEPALIVE) && now - s->last_ka_ns >= s->keepalive_ns - s->keepalive_ns / 4;
  if (ka)
    s->last_ka_ns = now;
  uint64_t gone = s->disconnect_ns + s->keepalive_ns / 2;
  for (size_t b = 0; b < s->conn_buckets; b++) {
    struct ch_srv_conn *c = s->conns[b], *next;
    for (; c; c = next) {
      next = c->next;
      if (c->held)
        ch_srv_conn_flush_held(s, c); /* reorder fault: an odd message out still goes, late */
      if (c->wsi) {
        if (ka) {
          c->ka_pending = true;
          lws_callback_on_writable(c->wsi);
        } else if (c->tr == CH_SRV_TR_LP && now >= c->rx_deadline_ns) {
          lws_callback_on_writable(c->wsi);
        }
      } else if (now - c->last_seen_ns > gone) {
        ch_srv_conn_remove(s, c); /* OnDisconnected(stopCalled: false) */
      }
    }
  }
}
