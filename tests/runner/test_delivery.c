/* The delivery tracker decides exactly-once, order and loss verdicts that users gate releases on. */
#include "ch_delivery.h"
#include "ch_test.h"

static void test_delivery_in_order_exactly_once(void) {
  struct ch_delivery d;
  ch_delivery_init(&d, 100000);
  for (uint32_t s = 1; s <= 1000; s++)
    CU_ASSERT_EQUAL(ch_delivery_record(&d, s), CH_DELIVERY_NEW);
  CU_ASSERT_EQUAL(d.received, 1000);
  CU_ASSERT_EQUAL(ch_delivery_missing(&d, 1, 1000), 0);
  CU_ASSERT_EQUAL(ch_delivery_missing(&d, 1, 1002), 2);
  CU_ASSERT_EQUAL(d.duplicates + d.out_of_order, 0);
  ch_delivery_free(&d);
}

static void test_delivery_duplicates_gaps_and_reordering(void) {
  struct ch_delivery d;
  ch_delivery_init(&d, 1000);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 1), CH_DELIVERY_NEW);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 3), CH_DELIVERY_NEW);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 2), CH_DELIVERY_LATE);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 3), CH_DELIVERY_DUPLICATE);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 130), CH_DELIVERY_NEW); /* crosses several words: the bitmap grows */
  CU_ASSERT_EQUAL(ch_delivery_missing(&d, 1, 130), 126);
  CU_ASSERT_EQUAL(ch_delivery_count(&d, 2, 3), 2);
  CU_ASSERT_EQUAL(d.duplicates, 1);
  CU_ASSERT_EQUAL(d.out_of_order, 1);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 0), CH_DELIVERY_INVALID);
  CU_ASSERT_EQUAL(ch_delivery_record(&d, 1001), CH_DELIVERY_INVALID);
  ch_delivery_free(&d);
}

int main(void) {
  CU_TestInfo tests[] = {CH_TEST(test_delivery_in_order_exactly_once),
                         CH_TEST(test_delivery_duplicates_gaps_and_reordering), CU_TEST_INFO_NULL};
  return ch_test_run("delivery", tests);
}
