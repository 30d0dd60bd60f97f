/* The capacity section of a report: the knee, report.json round trip, the HTML charts against load, the summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch_report.h"
#include "ch_test.h"

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* The text of one element, from the tag that contains id up to its closing tag. */
static char *element(const char *html, const char *id, const char *close) {
  const char *a = strstr(html, id);
  const char *b = a ? strstr(a, close) : NULL;
  return a && b ? strndup(a, (size_t)(b - a)) : strdup("");
}

static struct ch_capacity_step step(double load, bool held, const char *broken) {
  struct ch_capacity_step s = {0};
  s.load = load;
  s.clients = (uint64_t)load;
  s.connected = load;
  s.deliveries_per_s = load * 5;
  s.has_latency = true;
  s.p50_ms = load / 100;
  s.p90_ms = load / 80;
  s.p99_ms = load / 50;
  s.max_ms = load / 40;
  s.delivery_ratio = held ? 1 : 0.98;
  s.missing = held ? 0 : 25;
  s.duration_s = 4;
  s.held = held;
  s.broken = (char *)broken;
  s.target = (struct ch_capacity_target){true, load, load * 50, 0.5 * load / 250, 20480, 1};
  return s;
}

/* Steps 250 and 500 hold, 750 breaks the fan-out SLO: the knee is between 500 and 750. */
static struct ch_report *make_report(void) {
  struct ch_report *r;
  CU_ASSERT_FATAL(ch_report_new(&r) == 0);
  ch_report_set(&r->scenario, "capacity-fanout");
  const char *slo[] = {"fanout_completion.p99 < 500ms", "delivery_ratio >= 0.999"};
  CU_ASSERT_FATAL(ch_capacity_new("subscribers_per_key", slo, 2, &r->capacity) == 0);
  struct ch_capacity *c = r->capacity;
  c->start = 250, c->step = 250, c->max = 2000, c->step_duration_s = 2;
  struct ch_capacity_step s = step(250, true, NULL);
  CU_ASSERT_EQUAL(ch_capacity_add_step(c, &s), 0);
  s = step(500, true, NULL);
  CU_ASSERT_EQUAL(ch_capacity_add_step(c, &s), 0);
  s = step(750, false, "fanout_completion.p99 < 500ms");
  s.has_observed = true;
  s.observed = 612e6;
  CU_ASSERT_EQUAL(ch_capacity_add_step(c, &s), 0);
  return r;
}

static void test_capacity_knee_is_the_last_held_before_the_first_broken(void) {
  struct ch_report *r = make_report();
  struct ch_capacity *c = r->capacity;
  CU_ASSERT_EQUAL(c->n_steps, 3);
  CU_ASSERT_EQUAL(c->last_held, 1);
  CU_ASSERT_EQUAL(c->first_broken, 2);
  CH_ASSERT_STR(c->steps[2].broken, "fanout_completion.p99 < 500ms");
  CU_ASSERT_PTR_NULL(c->steps[0].broken); /* a held step keeps no text */
  /* a later step (held or not) does not move the knee */
  struct ch_capacity_step s = step(1000, true, NULL);
  CU_ASSERT_EQUAL(ch_capacity_add_step(c, &s), 0);
  s = step(1250, false, "x");
  CU_ASSERT_EQUAL(ch_capacity_add_step(c, &s), 0);
  CU_ASSERT_EQUAL(c->last_held, 1);
  CU_ASSERT_EQUAL(c->first_broken, 2);
  struct ch_capacity *none;
  CU_ASSERT_EQUAL(ch_capacity_new(NULL, NULL, 0, &none), -EINVAL);
  CU_ASSERT_EQUAL(ch_capacity_new("keys", NULL, 0, &none), 0);
  CU_ASSERT_EQUAL(none->last_held, -1);
  CU_ASSERT_EQUAL(none->first_broken, -1);
  ch_capacity_free(none);
  ch_report_free(r);
}

static void test_capacity_round_trips_through_report_json(void) {
  struct ch_report *r = make_report();
  r->capacity->steps[0].has_latency = false; /* nothing arrived at that step */
  r->capacity->steps[1].target.known = false; /* not the reference endpoint */
  r->capacity->steps[2].target.rss_kib = -1;  /* the endpoint did not say */
  struct ch_buf j = CH_BUF_INIT, j2 = CH_BUF_INIT, err = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_json(r, &j), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "\"capacity\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(j.data, "\"vary\":\t\"subscribers_per_key\""));
  struct ch_report *back = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(j.data, j.len, &back, &err), 0);
  const struct ch_capacity *a = r->capacity, *b = back->capacity;
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CH_ASSERT_STR(b->vary, "subscribers_per_key");
  CU_ASSERT_EQUAL(b->n_slo, 2);
  CH_ASSERT_STR(b->slo[1], "delivery_ratio >= 0.999");
  CU_ASSERT_EQUAL(b->start, 250);
  CU_ASSERT_EQUAL(b->step, 250);
  CU_ASSERT_EQUAL(b->max, 2000);
  CU_ASSERT_EQUAL(b->step_duration_s, 2);
  CU_ASSERT_EQUAL(b->last_held, 1);
  CU_ASSERT_EQUAL(b->first_broken, 2);
  CU_ASSERT_EQUAL_FATAL(b->n_steps, 3);
  for (size_t i = 0; i < 3; i++) {
    const struct ch_capacity_step *x = &a->steps[i], *y = &b->steps[i];
    CU_ASSERT_EQUAL(x->load, y->load);
    CU_ASSERT_EQUAL(x->clients, y->clients);
    CU_ASSERT_EQUAL(x->connected, y->connected);
    CU_ASSERT_EQUAL(x->deliveries_per_s, y->deliveries_per_s);
    CU_ASSERT_EQUAL(x->has_latency, y->has_latency);
    if (x->has_latency) {
      CU_ASSERT_DOUBLE_EQUAL(x->p50_ms, y->p50_ms, 1e-9);
      CU_ASSERT_DOUBLE_EQUAL(x->p90_ms, y->p90_ms, 1e-9);
      CU_ASSERT_DOUBLE_EQUAL(x->p99_ms, y->p99_ms, 1e-9);
      CU_ASSERT_DOUBLE_EQUAL(x->max_ms, y->max_ms, 1e-9);
    }
    CU_ASSERT_EQUAL(x->delivery_ratio, y->delivery_ratio);
    CU_ASSERT_EQUAL(x->missing, y->missing);
    CU_ASSERT_EQUAL(x->duration_s, y->duration_s);
    CU_ASSERT_EQUAL(x->held, y->held);
    CU_ASSERT_EQUAL(x->has_observed, y->has_observed);
    CU_ASSERT_EQUAL(x->target.known, y->target.known);
  }
  CH_ASSERT_STR(b->steps[2].broken, "fanout_completion.p99 < 500ms");
  CU_ASSERT_EQUAL(b->steps[2].observed, 612e6);
  CU_ASSERT_EQUAL(b->steps[0].target.connections, 250);
  CU_ASSERT_EQUAL(b->steps[0].target.deliveries, 12500);
  CU_ASSERT_EQUAL(b->steps[0].target.cpu_s, 0.5);
  CU_ASSERT_EQUAL(b->steps[0].target.rss_kib, 20480);
  CU_ASSERT_EQUAL(b->steps[0].target.processes, 1);
  CU_ASSERT_EQUAL(b->steps[2].target.rss_kib, -1); /* absent stays unknown */
  /* re-rendering what was read gives the same document */
  CU_ASSERT_EQUAL(ch_report_json(back, &j2), 0);
  CH_ASSERT_STR(j2.data, j.data);
  ch_report_free(back);
  ch_buf_free(&j), ch_buf_free(&j2), ch_buf_free(&err);
  ch_report_free(r);
}

static void test_capacity_bad_json_is_rejected_naming_the_field(void) {
  struct ch_report *r = make_report();
  struct ch_buf j = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_json(r, &j), 0);
  ch_report_free(r);
  const struct {
    const char *from, *to, *field;
  } cases[] = {
      {"\"load\":\t250", "\"load\":\t\"250\"", "capacity.steps[0].load"},
      {"\"load\":\t500", "\"load\":\t-500", "capacity.steps[1].load"},
      {"\"held\":\ttrue", "\"held\":\t1", "capacity.steps[0].held"},
      {"\"broke\":\t\"fanout", "\"brake\":\t\"fanout", "capacity.steps[2].broke"},
      {"\"vary\":\t\"subscribers_per_key\"", "\"vary\":\t7", "capacity.vary"},
      {"\"cpu_s\":\t0.5", "\"cpu_s\":\t1e300", "capacity.steps[0].cpu_s"},
      {"\"first_broken\":\t2", "\"first_broken\":\t\"2\"", "capacity.first_broken"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *at = strstr(j.data, cases[i].from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    struct ch_buf bad = CH_BUF_INIT, err = CH_BUF_INIT;
    ch_buf_append(&bad, j.data, (size_t)(at - j.data));
    ch_buf_puts(&bad, cases[i].to);
    ch_buf_puts(&bad, at + strlen(cases[i].from));
    struct ch_report *out = NULL;
    CU_ASSERT_EQUAL(ch_report_parse_json(bad.data, bad.len, &out, &err), -EINVAL);
    CU_ASSERT_PTR_NULL(out);
    if (!err.data || !strstr(err.data, cases[i].field))
      fprintf(stderr, "\ncase %zu: %s\n", i, err.data ? err.data : "(no message)");
    CU_ASSERT_TRUE(err.data && strstr(err.data, cases[i].field));
    ch_buf_free(&bad), ch_buf_free(&err);
  }
  /* a report without the section reads back without it */
  struct ch_report *plain;
  CU_ASSERT_FATAL(ch_report_new(&plain) == 0);
  struct ch_buf p = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_json(plain, &p), 0);
  CU_ASSERT_PTR_NULL(strstr(p.data, "capacity"));
  struct ch_report *back;
  CU_ASSERT_EQUAL(ch_report_parse_json(p.data, p.len, &back, NULL), 0);
  CU_ASSERT_PTR_NULL(back->capacity);
  ch_report_free(back);
  ch_report_free(plain);
  ch_buf_free(&p);
  ch_buf_free(&j);
}

static void test_capacity_html_plots_latency_and_throughput_against_load(void) {
  struct ch_report *r = make_report();
  ch_report_set(&r->capacity->steps[2].broken, "fanout_completion.p99 < 500ms <script>alert(1)</script>");
  struct ch_buf h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  char *lat = element(h.data, "id=\"chart-capacity-latency\"", "</svg>");
  char *thr = element(h.data, "id=\"chart-capacity-throughput\"", "</svg>");
  /* one point per step: p50 and p99 in the latency chart, deliveries/s in the other */
  CU_ASSERT_EQUAL(count_of(lat, "<circle class=\"pt"), 6);
  CU_ASSERT_EQUAL(count_of(thr, "<circle class=\"pt"), 3);
  CU_ASSERT_EQUAL(count_of(lat, "data-load=\"750\""), 3); /* two points and the knee line */
  /* the step that broke is red, and the knee is marked at its load */
  CU_ASSERT_EQUAL(count_of(lat, "class=\"pt broken\""), 2);
  CU_ASSERT_EQUAL(count_of(thr, "class=\"pt broken\""), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(lat, "<line class=\"knee\" data-load=\"750\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(thr, "<line class=\"knee\" data-load=\"750\""));
  /* the x axis says what is varied */
  CU_ASSERT_PTR_NOT_NULL(strstr(lat, ">subscribers per key</text>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(thr, ">subscribers per key</text>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(lat, "data-name=\"update latency p99\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(thr, "data-name=\"deliveries/s\""));
  /* the steps table, with the target's resources */
  char *table = element(h.data, "id=\"capacity-table\"", "</table>");
  CU_ASSERT_EQUAL(count_of(table, "<tr class=\"capacity-row"), 3);
  CU_ASSERT_EQUAL(count_of(table, "capacity-row held knee-held"), 1);
  CU_ASSERT_EQUAL(count_of(table, "capacity-row broken"), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(table, "target CPU s"));
  CU_ASSERT_PTR_NOT_NULL(strstr(table, "<td class=\"n\">20.0</td>")); /* 20480 KiB */
  CU_ASSERT_PTR_NOT_NULL(strstr(table, "(observed 612ms)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "knee between 500 (held) and 750 (broke)"));
  /* every text is escaped */
  CU_ASSERT_PTR_NULL(strstr(h.data, "<script>alert"));
  CU_ASSERT_PTR_NOT_NULL(strstr(table, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "<code>fanout_completion.p99 &lt; 500ms</code>"));
  free(lat), free(thr), free(table);
  ch_buf_free(&h);
  /* no section, no capacity charts; nothing broken, no knee line */
  ch_capacity_free(r->capacity);
  r->capacity = NULL;
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NULL(strstr(h.data, "chart-capacity"));
  ch_buf_free(&h);
  const char *slo[] = {"connect_errors == 0"};
  CU_ASSERT_FATAL(ch_capacity_new("trigger_rate", slo, 1, &r->capacity) == 0);
  struct ch_capacity_step s = step(10, true, NULL);
  s.target.known = false;
  ch_capacity_add_step(r->capacity, &s);
  CU_ASSERT_EQUAL(ch_report_html(r, &h), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-capacity-latency\""));
  CU_ASSERT_PTR_NULL(strstr(h.data, "class=\"knee\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, ">trigger rate</text>"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "<td colspan=\"4\">not known</td>"));
  ch_buf_free(&h);
  ch_report_free(r);
}

static void test_capacity_summary_prints_a_table_of_steps(void) {
  struct ch_report *r = make_report();
  ch_report_set(&r->capacity->steps[2].broken, "fanout_completion.p99 < 500ms\x1b[2J");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CU_ASSERT_EQUAL(ch_report_print_summary(r, f), 0);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "capacity: subscribers_per_key from 250 by 250 up to 2000, 2.0 s per step"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "tgt cpu"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "  held\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "BROKE fanout_completion.p99 < 500ms?[2J (observed 612ms)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "knee: last held 500 (step 2), first broken 750 (step 3)"));
  CU_ASSERT_PTR_NULL(strchr(text, '\x1b')); /* no terminal control from the report */
  free(text);
  ch_report_free(r);
}

static void test_capacity_without_steps_renders_and_round_trips(void) {
  struct ch_report *r;
  CU_ASSERT_FATAL(ch_report_new(&r) == 0);
  CU_ASSERT_FATAL(ch_capacity_new("keys", NULL, 0, &r->capacity) == 0);
  struct ch_buf j = CH_BUF_INIT, h = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_report_json(r, &j), 0);
  struct ch_report *back = NULL;
  CU_ASSERT_EQUAL_FATAL(ch_report_parse_json(j.data, j.len, &back, NULL), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(back->capacity);
  CU_ASSERT_EQUAL(back->capacity->n_steps, 0);
  CU_ASSERT_EQUAL(back->capacity->first_broken, -1);
  CU_ASSERT_EQUAL(ch_report_html(back, &h), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "Capacity: no step ran"));
  CU_ASSERT_PTR_NOT_NULL(strstr(h.data, "id=\"chart-capacity-throughput\""));
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CU_ASSERT_EQUAL(ch_report_print_summary(back, f), 0);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "knee: no step ran"));
  free(text);
  ch_buf_free(&j), ch_buf_free(&h);
  ch_report_free(back);
  ch_report_free(r);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_capacity_knee_is_the_last_held_before_the_first_broken),
                         CH_TEST(test_capacity_round_trips_through_report_json),
                         CH_TEST(test_capacity_bad_json_is_rejected_naming_the_field),
                         CH_TEST(test_capacity_html_plots_latency_and_throughput_against_load),
                         CH_TEST(test_capacity_summary_prints_a_table_of_steps),
                         CH_TEST(test_capacity_without_steps_renders_and_round_trips),
                         CU_TEST_INFO_NULL};
  return ch_test_run("report_capacity", tests);
}
