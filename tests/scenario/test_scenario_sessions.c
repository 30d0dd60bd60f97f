/* Session populations (issue #18): "sessions" (arrival rate or stages, lifetime and churn distributions,
   max_concurrent) and the steady phase are read with their defaults, written back to the same text, refused with the
   JSON path when wrong; the arrival rate follows the stages; the distributions draw what they say. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_scenario.h"
#include "ch_test.h"

#define POP_A "{\"name\":\"web\",\"subscribe\":{\"key_count\":20,\"prefix\":\"P-\",\"generator\":\"zipf\",\"per_client\":2},"
#define SESS                                                                                                          \
  "\"sessions\":{\"arrival\":\"poisson\",\"rate\":\"2/s\",\"stages\":[{\"duration\":\"2s\",\"target\":\"10/s\"},"      \
  "{\"duration\":\"1s\",\"target\":\"4/s\"}],\"lifetime\":{\"dist\":\"lognormal\",\"median\":\"3s\",\"sigma\":0.25},"  \
  "\"max_concurrent\":30,\"churn\":{\"every\":{\"dist\":\"exponential\",\"mean\":\"2s\"},"                             \
  "\"think\":{\"dist\":\"uniform\",\"min\":\"100ms\",\"max\":\"300ms\"}}}}"
#define STEADY "\"phases\":[{\"type\":\"steady\",\"duration\":\"4s\"}]"

static struct ch_scenario *load(const char *json, struct ch_buf *err) {
  struct ch_scenario *s = NULL;
  ch_buf_reset(err);
  ch_scenario_from_json_string(json, strlen(json), "t.json", NULL, 0, &s, err);
  return s;
}

static void refused(const char *json, const char *what) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load(json, &err);
  CU_ASSERT_PTR_NULL(s);
  ch_scenario_free(s);
  bool ok = err.data && strstr(err.data, what);
  if (!ok)
    fprintf(stderr, "\nwanted %s, got: %s", what, err.data ? err.data : "(nothing)");
  CU_ASSERT_TRUE(ok);
  ch_buf_free(&err);
}

/* The text a scenario was written back to loads again and is written back to the same text. */
static void reloads_to_the_same_text(const char *text) {
  struct ch_buf err = CH_BUF_INIT, b = CH_BUF_INIT;
  struct ch_scenario *s2 = load(text, &err);
  if (!s2)
    fprintf(stderr, "\n%s\n%s", err.data, text);
  CU_ASSERT_PTR_NOT_NULL(s2);
  if (s2) {
    CU_ASSERT_EQUAL(ch_scenario_to_json(s2, &b), 0);
    CH_ASSERT_STR(b.data, text);
  }
  ch_scenario_free(s2);
  ch_buf_free(&b), ch_buf_free(&err);
}

static void test_sessions_read_and_written_back(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("{\"clients\":[" POP_A SESS "]," STEADY "}", &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  const struct ch_population *p = &s->populations[0];
  const struct ch_scn_sessions *ss = &p->sessions;
  CU_ASSERT_TRUE(ss->enabled);
  CU_ASSERT_EQUAL(p->count, 30); /* the slots */
  CU_ASSERT_EQUAL(s->total_clients, 30);
  CU_ASSERT_EQUAL(ss->arrival, CH_SCN_ARRIVAL_POISSON);
  CU_ASSERT_EQUAL(ss->n_stages, 2);
  CU_ASSERT_EQUAL(ss->lifetime.kind, CH_SCN_DIST_LOGNORMAL);
  CU_ASSERT_EQUAL(ss->lifetime.a_ns, 3000000000ull);
  CU_ASSERT_TRUE(ss->churn);
  CU_ASSERT_EQUAL(ss->churn_every.kind, CH_SCN_DIST_EXPONENTIAL);
  CU_ASSERT_EQUAL(ss->think.kind, CH_SCN_DIST_UNIFORM);
  CU_ASSERT_EQUAL(s->phases[0].type, CH_SCN_PHASE_STEADY);
  CU_ASSERT_EQUAL(s->phases[0].duration_ns, 4000000000ull);
  CU_ASSERT_TRUE(ch_scenario_has_sessions(s));
  /* the rate ramps from "rate" through the stages, then holds the last target */
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 0), 2, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 1000000000u), 6, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 2500000000u), 7, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 60000000000u), 4, 1e-9);
  /* a session may draw any key of the universe: "subscribed" keys are all of them */
  const char **keys = NULL;
  size_t nk = 0;
  CU_ASSERT_EQUAL(ch_scenario_subscribed_keys(s, -1, &keys, &nk), 0);
  CU_ASSERT_EQUAL(nk, 20);
  free(keys);
  /* written back without a count (the loader refuses both), loaded again to the same text */
  struct ch_buf a = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &a), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"max_concurrent\":\t30"));
  reloads_to_the_same_text(a.data);
  ch_scenario_free(s);
  ch_buf_free(&a), ch_buf_free(&err);
}

static void test_sessions_refusals_name_the_path(void) {
  refused("{\"clients\":[{\"count\":3,\"sessions\":{\"rate\":1,\"lifetime\":\"1s\",\"max_concurrent\":2}}]," STEADY
          "}",
          "t.json: $.clients[0]: expected no count with sessions");
  refused("{\"clients\":[{\"sessions\":{\"lifetime\":\"1s\",\"max_concurrent\":2}}]," STEADY "}",
          "t.json: $.clients[0].sessions: expected rate or stages");
  refused("{\"clients\":[{\"sessions\":{\"rate\":1,\"lifetime\":{\"dist\":\"weibull\"},\"max_concurrent\":2}}],"
          STEADY "}",
          "t.json: $.clients[0].sessions.lifetime.dist: expected one of \"fixed\"");
  refused("{\"clients\":[{\"sessions\":{\"rate\":1,\"lifetime\":{\"dist\":\"uniform\",\"min\":\"2s\",\"max\":\"1s\"},"
          "\"max_concurrent\":2}}]," STEADY "}",
          "$.clients[0].sessions.lifetime: expected min <= max");
  refused("{\"clients\":[{\"sessions\":{\"rate\":1,\"lifetime\":\"1s\",\"max_concurrent\":2,"
          "\"churn\":{\"evry\":\"1s\"}}}]," STEADY "}",
          "$.clients[0].sessions.churn.evry: unknown key \"evry\" (did you mean \"every\"?)");
  refused("{\"clients\":[{\"sessions\":{\"rate\":1,\"lifetime\":\"1s\",\"max_concurrent\":2,"
          "\"stages\":[{\"duration\":\"1s\",\"target\":\"fast\"}]}}]," STEADY "}",
          "$.clients[0].sessions.stages[0].target: expected a positive rate");
  refused("{\"clients\":[{\"sessions\":{\"rate\":1,\"lifetime\":\"1s\",\"max_concurrent\":2}}],"
          "\"phases\":[{\"type\":\"steady\"}]}",
          "$.phases[0].duration");
  refused("{\"clients\":[{\"count\":2}],\"phases\":[{\"type\":\"connect\"},{\"type\":\"steady\",\"duration\":\"1s\"}]}",
          "$.phases[1]: expected a population with \"sessions\" for a steady phase");
  refused("{\"clients\":[{\"name\":\"w\",\"sessions\":{\"rate\":1,\"lifetime\":\"1s\",\"max_concurrent\":2}},"
          "{\"name\":\"c\",\"count\":1}],\"phases\":[{\"type\":\"connect\",\"clients\":\"w\"}]}",
          "$.phases[0].clients: expected a population with a count, found the session population \"w\"");
  refused("{\"clients\":[{\"name\":\"w\",\"sessions\":{\"rate\":1,\"lifetime\":\"1s\",\"max_concurrent\":2}},"
          "{\"name\":\"c\",\"count\":1}],\"phases\":[{\"type\":\"steady\",\"clients\":\"c\",\"duration\":\"1s\"}]}",
          "$.phases[0].clients: expected a session population (with \"sessions\"), found \"c\" with a count");
}

static void test_dist_draws(void) {
  struct ch_rng rng;
  ch_rng_seed(&rng, 7);
  struct ch_scn_dist fixed = {CH_SCN_DIST_FIXED, 5, 0, 0};
  CU_ASSERT_EQUAL(ch_scn_dist_draw(&fixed, &rng), 5);
  struct ch_scn_dist uni = {CH_SCN_DIST_UNIFORM, 1000, 2000, 0}, ex = {CH_SCN_DIST_EXPONENTIAL, 1000, 0, 0};
  struct ch_scn_dist ln = {CH_SCN_DIST_LOGNORMAL, 1000, 0, 0.5};
  double sum_u = 0, sum_e = 0;
  uint64_t lo = UINT64_MAX, hi = 0, below_median = 0;
  const int n = 20000;
  for (int i = 0; i < n; i++) {
    uint64_t u = ch_scn_dist_draw(&uni, &rng);
    lo = u < lo ? u : lo, hi = u > hi ? u : hi;
    sum_u += (double)u;
    sum_e += (double)ch_scn_dist_draw(&ex, &rng);
    below_median += ch_scn_dist_draw(&ln, &rng) < 1000;
  }
  CU_ASSERT_TRUE(lo >= 1000 && hi <= 2000);
  CU_ASSERT_DOUBLE_EQUAL(sum_u / n, 1500, 15);
  CU_ASSERT_DOUBLE_EQUAL(sum_e / n, 1000, 40);
  CU_ASSERT_DOUBLE_EQUAL((double)below_median / n, 0.5, 0.02);
}

#define CLOSED                                                                                                        \
  "\"sessions\":{\"model\":\"closed\",\"start\":5,\"stages\":[{\"duration\":\"2s\",\"target\":25},"               \
  "{\"duration\":\"1m\",\"target\":25},{\"duration\":\"10s\",\"target\":0}],"                                        \
  "\"churn\":{\"every\":\"2s\"}}}"

/* The closed model (k6's ramping VUs): stages of a count of open sessions, slots defaulting to the highest target,
   no lifetime needed; written back to the same text. */
static void test_closed_model_read_and_written_back(void) {
  struct ch_buf err = CH_BUF_INIT;
  struct ch_scenario *s = load("{\"clients\":[" POP_A CLOSED "]," STEADY "}", &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  const struct ch_population *p = &s->populations[0];
  const struct ch_scn_sessions *ss = &p->sessions;
  CU_ASSERT_TRUE(ss->enabled && ss->closed);
  CU_ASSERT_FALSE(ss->has_lifetime);
  CU_ASSERT_TRUE(ss->churn);
  CU_ASSERT_EQUAL(p->count, 25); /* the highest target */
  CU_ASSERT_EQUAL(ss->n_stages, 3);
  /* the target count ramps from start through the stages */
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 0), 5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 1000000000u), 15, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 30000000000u), 25, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 67000000000u), 12.5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(ch_scn_sessions_rate(ss, 99000000000u), 0, 1e-9);
  struct ch_buf a = CH_BUF_INIT;
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &a), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"model\":\t\"closed\""));
  CU_ASSERT_PTR_NULL(strstr(a.data, "\"lifetime\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"start\":\t5"));
  reloads_to_the_same_text(a.data);
  ch_scenario_free(s);
  /* with a lifetime (sessions replaced while the target holds) and more slots than the targets need */
  s = load("{\"clients\":[{\"sessions\":{\"model\":\"closed\",\"stages\":[{\"duration\":\"1s\",\"target\":3}],"
           "\"lifetime\":\"500ms\",\"max_concurrent\":8}}]," STEADY "}",
           &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_TRUE(s->populations[0].sessions.has_lifetime);
  CU_ASSERT_EQUAL(s->populations[0].sessions.lifetime.a_ns, 500000000ull);
  CU_ASSERT_EQUAL(s->populations[0].count, 8);
  ch_scenario_free(s);
  ch_buf_free(&a), ch_buf_free(&err);
}

#define CL(x) "{\"clients\":[{\"sessions\":{\"model\":\"closed\"," x "}}]," STEADY "}"
static void test_closed_model_refusals_name_the_path(void) {
  refused(CL("\"stages\":[{\"duration\":\"1s\",\"target\":\"5/s\"}]"),
          "t.json: $.clients[0].sessions.stages[0].target: expected a non-negative integer up to 1000000, found "
          "\"5/s\"");
  refused(CL("\"stages\":[{\"duration\":\"1s\",\"target\":2.5}]"),
          "t.json: $.clients[0].sessions.stages[0].target: expected a non-negative integer");
  refused(CL("\"churn\":{\"every\":\"1s\"}"),
          "t.json: $.clients[0].sessions.stages: expected an array of stages {\"duration\": \"20s\", \"target\": 200} "
          "(required in the closed model), found nothing");
  refused(CL("\"stages\":[]"), "t.json: $.clients[0].sessions.stages: expected an array of 1 to 100 stages");
  refused(CL("\"rate\":5,\"stages\":[{\"duration\":\"1s\",\"target\":5}]"),
          "t.json: $.clients[0].sessions.rate: expected no rate in the closed model");
  refused(CL("\"arrival\":\"poisson\",\"stages\":[{\"duration\":\"1s\",\"target\":5}]"),
          "t.json: $.clients[0].sessions.arrival: expected no arrival in the closed model");
  refused(CL("\"stages\":[{\"duration\":\"1s\",\"target\":50}],\"max_concurrent\":20"),
          "t.json: $.clients[0].sessions.max_concurrent: expected at least the highest target (50), found 20");
  refused(CL("\"start\":-1,\"stages\":[{\"duration\":\"1s\",\"target\":5}]"),
          "t.json: $.clients[0].sessions.start: expected a non-negative integer");
  refused(CL("\"stages\":[{\"duration\":\"1s\",\"taget\":5}]"),
          "$.clients[0].sessions.stages[0].taget: unknown key \"taget\" (did you mean \"target\"?)");
  refused("{\"clients\":[{\"sessions\":{\"model\":\"closd\",\"stages\":[]}}]," STEADY "}",
          "t.json: $.clients[0].sessions.model: expected one of \"open\" or \"closed\" (did you mean \"closed\"?)");
  /* the open model takes no start */
  refused("{\"clients\":[{\"sessions\":{\"rate\":1,\"start\":3,\"lifetime\":\"1s\",\"max_concurrent\":2}}]," STEADY
          "}",
          "t.json: $.clients[0].sessions.start: expected no start in the open model");
}

/* capacity can step a session population: its arrival rate, its churn rate or its count of open sessions. */
#define CAP(x) ",\"capacity\":{\"start\":1,\"step\":1,\"max\":3,\"step_duration\":\"1s\",\"slo\":[\"errors == 0\"]," x "}}"
#define TWO "{\"clients\":[" POP_A SESS ",{\"name\":\"ramp\"," CLOSED "]," STEADY
static void test_capacity_session_knobs(void) {
  struct ch_buf err = CH_BUF_INIT, a = CH_BUF_INIT;
  struct ch_scenario *s = load(TWO CAP("\"vary\":\"concurrent_sessions\""), &err);
  if (!s)
    fprintf(stderr, "\n%s", err.data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->capacity.step_what, CH_SCN_CAPACITY_CONCURRENT_SESSIONS);
  CU_ASSERT_EQUAL(s->capacity.population, 1); /* the first closed-model population */
  CU_ASSERT_EQUAL(ch_scenario_to_json(s, &a), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.data, "\"clients\":\t\"ramp\""));
  ch_scenario_free(s);
  s = load(TWO CAP("\"vary\":\"churn_rate\",\"clients\":\"ramp\""), &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->capacity.population, 1);
  ch_scenario_free(s);
  s = load(TWO CAP("\"vary\":\"arrival_rate\""), &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->capacity.population, 0);
  ch_scenario_free(s);
  ch_buf_free(&a), ch_buf_free(&err);
  refused(TWO CAP("\"vary\":\"arrival_rate\",\"clients\":\"ramp\""),
          "t.json: $.capacity.clients: expected a session population of the open model (sessions with an arrival "
          "rate) to step \"arrival_rate\", found \"ramp\"");
  refused(TWO CAP("\"vary\":\"churn_rate\",\"clients\":\"nobody\""),
          "t.json: $.capacity.clients: expected the name of a session population, found \"nobody\"");
  refused(TWO CAP("\"vary\":\"trigger_rate\",\"clients\":\"web\""),
          "t.json: $.capacity.clients: expected no clients with vary \"trigger_rate\"");
  refused("{\"clients\":[{\"count\":2}],\"phases\":[{\"type\":\"connect\"}]" CAP("\"vary\":\"arrival_rate\""),
          "t.json: $.capacity.vary: expected a session population of the open model (sessions with an arrival rate) "
          "to step \"arrival_rate\", found none");
  refused("{\"clients\":[" POP_A SESS "]," STEADY CAP("\"vary\":\"subscribers_per_key\""),
          "t.json: $.capacity.vary: expected a first population with a count (not sessions) to step "
          "\"subscribers_per_key\", found none");
  refused(TWO CAP("\"vary\":\"arival_rate\""), "(did you mean \"arrival_rate\"?)");
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_sessions_read_and_written_back), CH_TEST(test_sessions_refusals_name_the_path),
                         CH_TEST(test_dist_draws), CH_TEST(test_closed_model_read_and_written_back),
                         CH_TEST(test_closed_model_refusals_name_the_path), CH_TEST(test_capacity_session_knobs),
                         CU_TEST_INFO_NULL};
  return ch_test_run("scenario_sessions", tests);
}
