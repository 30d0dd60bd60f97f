/* Triggers: planning a phase's triggers (which key, which sequence number, when) and sending them through the
   open-model sender, to the reference endpoint's publish API or as the scenario's templated HTTP request. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ch_clock.h"
#include "ch_json.h"
#include "ch_report.h"
#include "ch_run_int.h"
#include "ch_signalr.h"

struct run_trigger_ctx {
  struct ch_run *r;
  uint64_t run_id;
  size_t first; /* the sender's index i is relative to this trigger */
  const struct run_tphase *p;
  const struct ch_scn_trigger *tg; /* the scenario's trigger that sends them */
  struct ch_buf err;
};

static int run_build_reference(void *user, size_t i, const struct ch_trig *t, struct ch_trigger_request *req) {
  struct run_trigger_ctx *x = user;
  const struct ch_run *r = x->r;
  (void)i;
  const char *hub = ch_scn_hub_name((enum ch_scn_hub)r->key_hub[t->key]);
  ch_buf_printf(&req->url, "%s/publish", r->control_base);
  ch_buf_printf(&req->body, "{\"hub\":\"%s\",\"key\":", hub);
  const char *k = r->keys.names[t->key];
  ch_json_append_str(&req->body, k, strlen(k));
  ch_buf_puts(&req->body, ",\"count\":1");
  if (x->tg->payload_json)
    ch_buf_printf(&req->body, ",\"payload\":%s", x->tg->payload_json);
  ch_buf_putc(&req->body, '}');
  req->headers = malloc(sizeof *req->headers);
  if (!req->headers || !(req->headers[0] = strdup("Content-Type: application/json")))
    return -ENOMEM;
  req->n_headers = 1;
  req->method = "POST";
  return 0;
}

static const char *run_check_reference(void *user, size_t i, const char *body, size_t n) {
  struct run_trigger_ctx *x = user;
  struct ch_span v;
  int64_t first = 0;
  if (ch_json_pointer((struct ch_span){body, n}, "/first_seq", &v) != 1 || ch_json_num_int64(v, &first))
    return "the publish answer has no first_seq";
  /* Publishes for one key may overtake each other on different connections, so the endpoint may number two of ours
     the other way round; a number outside what this phase planned for the key means somebody else publishes. */
  const struct ch_trig *t = &x->r->trig[x->first + i];
  const struct run_tphase *p = x->p;
  uint32_t lo = p->base[t->key] + 1, hi = p->base[t->key] + (p->n - (uint32_t)p->pos[t->key] + p->K - 1) / p->K;
  if (first < lo || first > hi)
    return "the reference endpoint assigned a sequence number outside this run's (is another publisher running?)";
  return NULL;
}

static int run_build_http(void *user, size_t i, const struct ch_trig *t, struct ch_trigger_request *req) {
  struct run_trigger_ctx *x = user;
  const struct ch_scn_http_trigger *h = &x->tg->http;
  char nonce[48];
  snprintf(nonce, sizeof nonce, "%016llx-%zu", (unsigned long long)x->run_id, x->first + i);
  struct ch_template_vars v = {x->r->keys.names[t->key], t->seq, nonce, ch_wall_ns() / 1000000u,
                               ch_scn_hub_name((enum ch_scn_hub)x->r->key_hub[t->key])};
  if (ch_template_render(h->url, &v, &req->url))
    return -ENOMEM;
  if (h->body && ch_template_render(h->body, &v, &req->body))
    return -ENOMEM;
  if (h->n_headers && !(req->headers = calloc(h->n_headers, sizeof *req->headers)))
    return -ENOMEM;
  for (size_t k = 0; k < h->n_headers; k++) {
    struct ch_buf hv = CH_BUF_INIT;
    ch_buf_printf(&hv, "%s: ", h->headers[k].name);
    if (ch_template_render(h->headers[k].value, &v, &hv)) {
      ch_buf_free(&hv);
      return -ENOMEM;
    }
    req->headers[req->n_headers++] = ch_buf_steal(&hv);
  }
  req->method = h->method;
  return 0;
}

struct run_tphase *run_tphase_init(struct ch_run *r, size_t slot, enum run_tphase_kind kind, uint32_t trigger,
                                   uint32_t first, uint32_t n, uint32_t K) {
  struct run_tphase *p = &r->tphases[slot];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->trigger = trigger;
  p->first = first;
  p->n = p->n_sent = n;
  p->K = K;
  p->order = malloc(K * sizeof *p->order);
  p->pos = malloc(r->keys.n * sizeof *p->pos);
  p->base = malloc(r->keys.n * sizeof *p->base);
  if (!p->order || !p->pos || !p->base) {
    free(p->order), free(p->pos), free(p->base);
    memset(p, 0, sizeof *p);
    return NULL;
  }
  for (size_t k = 0; k < r->keys.n; k++) {
    p->pos[k] = -1;
    p->base[k] = r->key_seq[k];
  }
  return p;
}

/* Appends the triggers one scenario trigger sends in one phase to the run's plan: n triggers, round-robin over
   keys[0..K), at its rate from start_ns. */
struct run_tphase *run_plan(struct ch_run *r, size_t trigger, enum run_tphase_kind kind, const uint32_t *keys,
                            size_t K, size_t n, uint64_t start_ns, struct ch_rng *rng) {
  const struct ch_scn_trigger *tg = &r->s->triggers[trigger];
  size_t nt = atomic_load(&r->n_tphases);
  if (nt >= r->cap_tphases || !K)
    return NULL;
  if (n > r->cap_trig - r->n_trig)
    n = r->cap_trig - r->n_trig;
  struct run_tphase *p = run_tphase_init(r, nt, kind, (uint32_t)trigger, (uint32_t)r->n_trig, (uint32_t)n,
                                         (uint32_t)K);
  if (!p)
    return NULL;
  for (size_t j = 0; j < K; j++) {
    p->order[j] = keys[j];
    p->pos[keys[j]] = (int32_t)j;
  }
  double rate = tg->rate > 0 ? tg->rate : 10;
  double t = 0;
  for (size_t j = 0; j < n; j++) {
    struct ch_trig *tr = &r->trig[r->n_trig + j];
    uint32_t key = keys[j % K];
    tr->key = key;
    tr->seq = ++r->key_seq[key];
    if (kind == RUN_TP_TRIGGER && tg->arrival == CH_SCN_ARRIVAL_POISSON)
      t += -log(1.0 - ch_rng_unit(rng)) / rate;
    else if (kind != RUN_TP_DROP)
      t = (double)j / rate;
    tr->intended_ns = start_ns + (uint64_t)(t * 1e9);
    atomic_store(&tr->sent_ns, 0);
  }
  r->n_trig += n;
  p->start_ns = start_ns;
  atomic_store_explicit(&r->n_tphases, nt + 1, memory_order_release);
  return p;
}

/* Sends the planned triggers of one phase, one sender thread per scenario trigger (each keeps its own intended
   times), and waits for every sender. */
void run_send(struct ch_run *r, struct run_tphase **ps, size_t np, struct ch_trigger_result *res) {
  struct run_trigger_ctx x[CH_SCN_TRIGGERS_MAX];
  struct ch_trigger_sender *snd[CH_SCN_TRIGGERS_MAX] = {0};
  for (size_t k = 0; k < np; k++) {
    struct run_tphase *p = ps[k];
    const struct ch_scn_trigger *tg = &r->s->triggers[p->trigger];
    memset(&res[k], 0, sizeof res[k]);
    x[k] = (struct run_trigger_ctx){r, r->run_id, p->first, p, tg, CH_BUF_INIT};
    struct ch_trigger_opts o = {0};
    o.plan = &r->trig[p->first];
    o.n = p->n;
    o.user = &x[k];
    ch_run_tls_opts(r->o, r->s, &o.tls);
    o.target_url = r->s->target.url;
    o.stop = &r->aborted;
    if (tg->type == CH_SCN_TRIGGER_REFERENCE) {
      o.build = run_build_reference;
      o.check_body = run_check_reference;
    } else {
      o.build = run_build_http;
      o.timeout_ns = tg->http.timeout_ns;
      o.status_min = tg->http.expect_status_min;
      o.status_max = tg->http.expect_status_max;
    }
    if (p->n && ch_trigger_start(&o, &snd[k], &x[k].err)) {
      snd[k] = NULL;
      res[k].failed = p->n;
      atomic_fetch_add(&r->live_trig_failed, res[k].failed);
      snprintf(res[k].first_error, sizeof res[k].first_error, "%s",
               x[k].err.data ? x[k].err.data : "trigger: cannot start");
    }
  }
  /* Interrupted: no new trigger after the first signal; after a second, the requests in flight are dropped. */
  bool cancelled = false;
  for (unsigned st = 0;;) {
    bool all = true;
    for (size_t k = 0; k < np; k++)
      all &= !snd[k] || ch_trigger_finished(snd[k]);
    if (all)
      break;
    if ((st = run_poll(r)) >= 1) {
      for (size_t k = 0; k < np; k++)
        if (snd[k])
          ch_trigger_cancel(snd[k], st >= 2);
      cancelled = true;
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  for (size_t k = 0; k < np; k++) {
    if (snd[k])
    {
      ch_trigger_join(snd[k], &res[k]);
      atomic_fetch_add(&r->live_trig_failed, res[k].failed); /* the live outputs' trigger_errors */
    }
    if (cancelled) /* the triggers never sent are not judged: they are a prefix of the plan */
      ps[k]->n_sent = (uint32_t)res[k].sent;
    ch_buf_free(&x[k].err);
  }
}

/* Upper bound of the first receipts a phase's triggers should produce (used to end waits early). */
uint64_t run_expected_receipts(const struct run_tphase *p, const uint32_t *subs_per_key) {
  uint64_t n = 0;
  for (uint32_t j = 0; p && j < p->n_sent; j++)
    n += subs_per_key[p->order[j % p->K]];
  return n;
}

