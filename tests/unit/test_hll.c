/* Tests for analytics/hll.c: exact small counts, HyperLogLog accuracy, unions. */
#include <math.h>
#include <stdlib.h>

#include "analytics/hll.h"
#include "core/hash.h"
#include "tests/unit/testutil.h"

static uint32_t author(uint64_t i, uint64_t seed) { return (uint32_t)hash_u64(i * 7919 + seed); }

START_TEST(test_hll_counts_small_sets_exactly)
{
	struct hll *h = NULL;
	ck_assert_uint_eq(hll_count(h), 0);
	for (int rep = 0; rep < 3; rep++)
		for (uint64_t i = 0; i < 900; i++)
			ck_assert_int_eq(hll_add(&h, author(i, 1)), 0);
	ck_assert_uint_eq(hll_count(h), 900);
	ck_assert_uint_lt(hll_bytes(h), 16384);
	hll_free(h);
}
END_TEST

START_TEST(test_hll_error_at_10k_authors_is_within_2_percent)
{
	double worst = 0, sum = 0;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct hll *h = NULL;
		for (uint64_t i = 0; i < 10000; i++)
			hll_add(&h, author(i, seed * 1000003));
		double err = fabs((double)hll_count(h) - 10000.0) / 10000.0;
		sum += err;
		if (err > worst)
			worst = err;
		hll_free(h);
	}
	ck_assert_msg(sum / 20 <= 0.02, "mean error %.4f", sum / 20);
	ck_assert_msg(worst <= 0.03, "worst error %.4f", worst);
}
END_TEST

START_TEST(test_hll_large_cardinalities_stay_close)
{
	struct hll *h = NULL;
	for (uint64_t i = 0; i < 1000000; i++)
		hll_add(&h, author(i, 99));
	double err = fabs((double)hll_count(h) - 1e6) / 1e6;
	ck_assert_msg(err < 0.03, "error %.4f at 1M", err);
	ck_assert_uint_eq(hll_bytes(h), hll_bytes(h)); /* dense: fixed size */
	hll_free(h);
}
END_TEST

START_TEST(test_hll_merge_is_a_union)
{
	struct hll *a = NULL, *b = NULL, *big = NULL;
	for (uint64_t i = 0; i < 500; i++)
		hll_add(&a, author(i, 5));
	for (uint64_t i = 250; i < 750; i++)
		hll_add(&b, author(i, 5));
	ck_assert_int_eq(hll_merge(&a, b), 0);
	ck_assert_uint_eq(hll_count(a), 750); /* still exact */
	for (uint64_t i = 0; i < 20000; i++)
		hll_add(&big, author(i, 5));
	ck_assert_int_eq(hll_merge(&a, big), 0); /* a goes dense */
	double err = fabs((double)hll_count(a) - 20000.0) / 20000.0;
	ck_assert_msg(err < 0.03, "error %.4f", err);
	hll_free(a);
	hll_free(b);
	hll_free(big);
}
END_TEST

START_TEST(test_hll_union_accumulator_matches_merge)
{
	struct hll_union *u = hll_union_new();
	struct hll *parts[10] = { 0 };
	for (int p = 0; p < 10; p++)
		for (uint64_t i = 0; i < 100; i++)
			hll_add(&parts[p], author((uint64_t)p * 50 + i, 3)); /* overlapping */
	for (int p = 0; p < 10; p++)
		hll_union_add(u, parts[p]);
	ck_assert_uint_eq(hll_union_count(u), 550); /* ids 0..549, exact while small */
	hll_union_reset(u);
	ck_assert_uint_eq(hll_union_count(u), 0);
	struct hll *big = NULL;
	for (uint64_t i = 0; i < 50000; i++)
		hll_add(&big, author(i, 3));
	hll_union_add(u, parts[0]);
	hll_union_add(u, big);
	double err = fabs((double)hll_union_count(u) - 50000.0) / 50000.0;
	ck_assert_msg(err < 0.03, "error %.4f", err);
	hll_union_reset(u);
	hll_union_add(u, parts[1]);
	ck_assert_uint_eq(hll_union_count(u), 100); /* back to exact after reset */
	for (int p = 0; p < 10; p++)
		hll_free(parts[p]);
	hll_free(big);
	hll_union_free(u);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hll");
	TCase *tc = tcase_create("hll");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hll_counts_small_sets_exactly);
	tcase_add_test(tc, test_hll_error_at_10k_authors_is_within_2_percent);
	tcase_add_test(tc, test_hll_large_cardinalities_stay_close);
	tcase_add_test(tc, test_hll_merge_is_a_union);
	tcase_add_test(tc, test_hll_union_accumulator_matches_merge);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
