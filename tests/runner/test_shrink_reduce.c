/* shrink's reductions on a scenario document: halving, single steps, their floors, and populations dropped with the
   phases only they run. */
#include <cjson/cJSON.h>

#include "ch_shrink.h"
#include "ch_test.h"

static const char doc_text[] =
    "{\"clients\": [{\"name\": \"a\", \"count\": 7, \"subscribe\": {\"keys\": [\"k1\", \"k2\", \"k3\"], \"per_client\": 3}},"
    "              {\"name\": \"b\", \"count\": 1, \"subscribe\": {\"range\": {\"prefix\": \"\", \"from\": 10, \"to\": 19}}},"
    "              {\"name\": \"c\", \"count\": 2, \"subscribe\": {\"key_count\": 5, \"per_client\": 4}}],"
    " \"phases\": [{\"type\": \"connect\"}, {\"type\": \"hold\", \"duration\": \"1s\"},"
    "            {\"type\": \"unsubscribe\", \"clients\": \"b\"}, {\"type\": \"trigger\", \"duration\": \"150ms\"}],"
    " \"trigger\": {\"rate\": 3, \"count\": 5}}";

static double num(const cJSON *doc, const char *a, int i, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, a), i), k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_shrink_reductions(void) {
  cJSON *d = cJSON_Parse(doc_text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  char what[200];
  CU_ASSERT_EQUAL(ch__shrink_count(d, CH__SHRINK_CLIENTS), 3);
  CU_ASSERT_EQUAL(ch__shrink_count(d, CH__SHRINK_DURATION), 4);
  /* clients: 7 -> 4 (halved, rounded up) -> 3 (a step); 1 is the floor */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_CLIENTS, 0, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[0].count 7 -> 4");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_CLIENTS, 0, false, what, sizeof what));
  CU_ASSERT_EQUAL(num(d, "clients", 0, "count"), 3);
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_CLIENTS, 1, true, what, sizeof what));
  /* keys: an array keeps its first half, per_client follows; a range and key_count likewise */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_KEYS, 0, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[0].subscribe.keys 3 -> 2");
  const cJSON *sub = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "clients"), 0), "subscribe");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(sub, "per_client")->valueint, 2);
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_KEYS, 1, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[1].subscribe.range 10 -> 5 keys");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_KEYS, 2, true, what, sizeof what));
  sub = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "clients"), 2), "subscribe");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(sub, "key_count")->valueint, 3);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(sub, "per_client")->valueint, 3);
  /* trigger: rate 3 -> 1.5 -> 0.5 (a step of 1/s), count 5 -> 3 -> 2 */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_RATE, 0, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "trigger.rate 3/s -> 1.5/s");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_RATE, 0, false, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "trigger.rate 1.5/s -> 0.5/s");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_COUNT, 0, true, what, sizeof what));
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_COUNT, 0, false, what, sizeof what));
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "trigger"), "count")->valueint, 2);
  /* durations: halved, a quarter off, never below 100 ms; phases without one are left alone */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_DURATION, 1, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "phases[1] (hold).duration 1s -> 500ms");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_DURATION, 3, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "phases[3] (trigger).duration 150ms -> 100ms");
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_DURATION, 3, false, what, sizeof what));
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_DURATION, 0, true, what, sizeof what));
  /* dropping population b takes the phase only b runs with it; the last population stays */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_POPULATION, 1, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "population 1 (b) dropped");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(d, "clients")), 2);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(d, "phases")), 3);
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_POPULATION, 0, false, what, sizeof what)); /* not a step */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_POPULATION, 0, true, what, sizeof what));
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_POPULATION, 0, true, what, sizeof what));
  cJSON_Delete(d);
  /* several triggers (an array): each one's rate and count */
  d = cJSON_Parse("{\"trigger\": [{\"rate\": 4}, {\"rate\": \"2/s\", \"count\": 3}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(ch__shrink_count(d, CH__SHRINK_RATE), 2);
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_RATE, 1, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "trigger[1].rate 2/s -> 1/s");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_COUNT, 1, false, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "trigger[1].count 3 -> 2");
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_COUNT, 0, true, what, sizeof what));
  cJSON_Delete(d);
}

static double sess_num(const cJSON *doc, int pop, const char *k) {
  const cJSON *ss = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "clients"), pop), "sessions");
  const cJSON *v = cJSON_GetObjectItem(ss, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static double stage_target(const cJSON *doc, int pop, int i) {
  const cJSON *ss = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "clients"), pop), "sessions");
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ss, "stages"), i), "target");
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Session populations: the open model's slots, arrival rate (with its stages) and stages; the closed model's
   targets, max_concurrent following. */
static void test_shrink_sessions(void) {
  cJSON *d = cJSON_Parse(
      "{\"clients\": [{\"name\": \"o\", \"sessions\": {\"arrival\": \"poisson\", \"rate\": 4, \"max_concurrent\": 9,"
      "   \"stages\": [{\"duration\": \"1s\", \"target\": 20}, {\"duration\": \"1s\", \"target\": \"0.1/s\"},"
      "                {\"duration\": \"1s\", \"target\": 6}], \"lifetime\": \"1s\"}},"
      "  {\"name\": \"c\", \"sessions\": {\"model\": \"closed\", \"start\": 3, \"max_concurrent\": 40,"
      "   \"stages\": [{\"duration\": \"1s\", \"target\": 40}, {\"duration\": \"1s\", \"target\": 0}]}}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  char what[200];
  CU_ASSERT_EQUAL(ch__shrink_count(d, CH__SHRINK_ARRIVAL), 2);
  /* open: the slots 9 -> 5 -> 4 */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_CLIENTS, 0, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[0].sessions.max_concurrent 9 -> 5");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_CLIENTS, 0, false, what, sizeof what));
  CU_ASSERT_EQUAL(sess_num(d, 0, "max_concurrent"), 4);
  /* open: the rate and every stage halved together (0.1/s is the floor), then 1/s off */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_ARRIVAL, 0, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[0].sessions arrivals 20/s -> 10/s (rate and stages)");
  CU_ASSERT_EQUAL(sess_num(d, 0, "rate"), 2);
  CU_ASSERT_EQUAL(stage_target(d, 0, 0), 10);
  CU_ASSERT_EQUAL(stage_target(d, 0, 2), 3);
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_ARRIVAL, 0, false, what, sizeof what));
  CU_ASSERT_EQUAL(stage_target(d, 0, 0), 9);
  CU_ASSERT_EQUAL(sess_num(d, 0, "rate"), 1);
  /* stages: the last ones go, the first stays */
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_STAGES, 0, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[0].sessions.stages 3 -> 2");
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_STAGES, 0, false, what, sizeof what));
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_STAGES, 0, false, what, sizeof what));
  /* closed: the targets (stages, start) halved with max_concurrent, 0 stays 0; no arrival rate to reduce */
  CU_ASSERT_FALSE(ch__shrink_apply(d, CH__SHRINK_ARRIVAL, 1, true, what, sizeof what));
  CU_ASSERT_TRUE(ch__shrink_apply(d, CH__SHRINK_CLIENTS, 1, true, what, sizeof what));
  CU_ASSERT_STRING_EQUAL(what, "clients[1].sessions targets 40 -> 20 (stages, start, max_concurrent)");
  CU_ASSERT_EQUAL(stage_target(d, 1, 0), 20);
  CU_ASSERT_EQUAL(stage_target(d, 1, 1), 0);
  CU_ASSERT_EQUAL(sess_num(d, 1, "start"), 2);
  CU_ASSERT_EQUAL(sess_num(d, 1, "max_concurrent"), 20);
  for (int k = 0; k < 40 && ch__shrink_apply(d, CH__SHRINK_CLIENTS, 1, false, what, sizeof what); k++)
    ;
  CU_ASSERT_EQUAL(stage_target(d, 1, 0), 1); /* the floor: one session */
  CU_ASSERT_EQUAL(sess_num(d, 1, "max_concurrent"), 1);
  cJSON_Delete(d);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_shrink_reductions), CH_TEST(test_shrink_sessions), CU_TEST_INFO_NULL};
  return ch_test_run("shrink_reduce", tests);
}
