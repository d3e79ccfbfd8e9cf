/* Tests for analytics/hll.c: exact small counts, HyperLogLog accuracy, unions. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

START_TEST(test_hll_set_is_exact_inline_then_sparse_and_estimates_when_dense)
{
	struct hll_set s = { 0 }; /* zeroed memory is an empty set */
	ck_assert(hll_set_empty(&s));
	for (uint64_t i = 0; i < HLL_INLINE; i++)
		for (int rep = 0; rep < 3; rep++)
			ck_assert_int_eq(hll_set_add(&s, author(i, 11)), 0);
	ck_assert_uint_eq(hll_set_count(&s), HLL_INLINE);
	ck_assert_uint_eq(hll_set_bytes(&s), 0); /* still inline: no heap memory */
	ck_assert_int_eq(hll_set_add(&s, author(HLL_INLINE, 11)), 0);
	ck_assert_uint_eq(hll_set_count(&s), HLL_INLINE + 1);
	ck_assert_uint_gt(hll_set_bytes(&s), 0);
	for (uint64_t i = 0; i < HLL_SPARSE_MAX; i++) {
		ck_assert_int_eq(hll_set_add(&s, author(i, 11)), 0);
		ck_assert_uint_eq(hll_set_count(&s), i < HLL_INLINE + 1 ? HLL_INLINE + 1 : i + 1);
	}
	ck_assert_uint_lt(hll_set_bytes(&s), HLL_REGISTERS); /* exact and smaller than dense */
	for (uint64_t i = 0; i < 10000; i++)
		hll_set_add(&s, author(i, 11));
	ck_assert_uint_eq(hll_set_bytes(&s), HLL_REGISTERS);
	double err = fabs((double)hll_set_count(&s) - 10000.0) / 10000.0;
	ck_assert_msg(err < 0.03, "error %.4f", err);
	hll_set_clear(&s);
	ck_assert(hll_set_empty(&s));
	ck_assert_uint_eq(hll_set_count(&s), 0);
}
END_TEST

START_TEST(test_hll_hash_zero_is_stored_as_one)
{
	struct hll_set s = { 0 };
	hll_set_add(&s, 0);
	hll_set_add(&s, 1);
	ck_assert_uint_eq(hll_set_count(&s), 1);
	hll_set_add(&s, 2);
	ck_assert_uint_eq(hll_set_count(&s), 2);
	hll_set_clear(&s);
}
END_TEST

START_TEST(test_hll_set_merge_is_exact_across_forms)
{
	struct hll_set a = { 0 }, b = { 0 }, c = { 0 };
	for (uint64_t i = 0; i < 4; i++)
		hll_set_add(&a, author(i, 21)); /* inline */
	for (uint64_t i = 2; i < 6; i++)
		hll_set_add(&b, author(i, 21)); /* inline, overlapping */
	ck_assert_int_eq(hll_set_merge(&a, &b), 0);
	ck_assert_uint_eq(hll_set_count(&a), 6);
	for (uint64_t i = 0; i < 300; i++)
		hll_set_add(&c, author(i, 21)); /* sparse */
	ck_assert_int_eq(hll_set_merge(&b, &c), 0); /* inline dst spills */
	ck_assert_uint_eq(hll_set_count(&b), 300);
	ck_assert_int_eq(hll_set_merge(&c, &a), 0); /* subset: nothing new */
	ck_assert_uint_eq(hll_set_count(&c), 300);
	hll_set_clear(&a);
	hll_set_clear(&b);
	hll_set_clear(&c);
}
END_TEST

/*
 * Members of a group that go dense share a register-major table; they must
 * hold exactly the registers a dense set of their own would.
 */
START_TEST(test_hll_group_columns_hold_what_dense_sets_would)
{
	enum { MEMBERS = 40 };
	struct hll_group g = { 0 };
	struct hll_set mem[MEMBERS], solo[MEMBERS];
	memset(mem, 0, sizeof mem);
	memset(solo, 0, sizeof solo);
	/* member m sees 100 * (m + 1) authors, so some stay sparse and 30 take columns,
	 * which widens the table twice */
	for (uint64_t i = 0; i < 100 * MEMBERS; i++)
		for (int m = 0; m < MEMBERS; m++)
			if (i < 100 * (uint64_t)(m + 1)) {
				uint32_t h = author(i * 31 + (uint64_t)m, 5);
				struct hll_key k;
				hll_key_init(&k, h);
				ck_assert_int_eq(hll_group_add(&g, &mem[m], &k), 0);
				hll_group_add(&g, &mem[m], &k); /* a repeat changes nothing */
				ck_assert_int_eq(hll_set_add(&solo[m], h), 0);
			}
	int columns = 0;
	for (int m = 0; m < MEMBERS; m++) {
		columns += mem[m].cap == HLL_SET_COLUMN;
		ck_assert_uint_eq(hll_group_count(&g, &mem[m]), hll_set_count(&solo[m]));
	}
	ck_assert_int_eq(columns, MEMBERS - HLL_SPARSE_MAX / 100);
	ck_assert_uint_ge(g.stride, 32);
	ck_assert_uint_eq(hll_group_bytes(&g), (size_t)HLL_REGISTERS * g.stride);

	/* a union reads columns like dense sets */
	struct hll_union *u = hll_union_new(), *v = hll_union_new();
	for (int m = 0; m < MEMBERS; m += 7) {
		hll_union_add_member(u, &g, &mem[m]);
		hll_union_add_set(v, &solo[m]);
	}
	ck_assert_uint_eq(hll_union_count(u), hll_union_count(v));

	/* detached, every member is an ordinary set with the same count */
	ck_assert_int_eq(hll_group_detach(&g, mem, MEMBERS), 0);
	ck_assert_ptr_null(g.reg);
	for (int m = 0; m < MEMBERS; m++) {
		ck_assert_uint_ne(mem[m].cap, HLL_SET_COLUMN);
		ck_assert_uint_eq(hll_set_count(&mem[m]), hll_set_count(&solo[m]));
		hll_set_clear(&mem[m]);
		hll_set_clear(&solo[m]);
	}
	hll_union_free(u);
	hll_union_free(v);
}
END_TEST

START_TEST(test_hll_group_column_estimate_at_10k_is_within_2_percent)
{
	struct hll_group g = { 0 };
	struct hll_set s = { 0 };
	for (uint64_t i = 0; i < 10000; i++) {
		struct hll_key k;
		hll_key_init(&k, author(i, 77));
		hll_group_add(&g, &s, &k);
	}
	ck_assert_uint_eq(s.cap, HLL_SET_COLUMN);
	double err = fabs((double)hll_group_count(&g, &s) - 10000.0) / 10000.0;
	ck_assert_msg(err <= 0.02, "error %.4f", err);
	hll_set_clear(&s);
	hll_group_free(&g);
}
END_TEST

/*
 * A run of adds to one member (as a sorted log delivers them) must leave it
 * holding what the same adds one by one would: exact counts while exact,
 * the same registers once in a column - whatever form it starts in, with
 * repeats and a hash of 0 in the run, and when the run is split in pieces.
 */
START_TEST(test_hll_group_add_run_holds_what_adds_one_by_one_would)
{
	static const uint32_t sizes[] = { 1, 5, 6, 7, 40, 1024, 1025, 5000 };
	enum { N = sizeof sizes / sizeof *sizes };
	struct hll_group g = { 0 }, h = { 0 };
	struct hll_set run[N], one[N];
	memset(run, 0, sizeof run);
	memset(one, 0, sizeof one);
	uint64_t *x = malloc((3 * 5000 + 1) * sizeof *x);
	for (int m = 0; m < N; m++) {
		/* a few authors added singly first, so runs also start from sparse */
		for (uint64_t i = 0; i < 3 && i < sizes[m]; i++) {
			struct hll_key k;
			hll_key_init(&k, author(i, 40 + (uint64_t)m));
			ck_assert_int_eq(hll_group_add(&g, &run[m], &k), 0);
			ck_assert_int_eq(hll_group_add(&h, &one[m], &k), 0);
		}
		size_t n = 0;
		for (int rep = 0; rep < 3; rep++) /* every author three times */
			for (uint64_t i = 0; i < sizes[m]; i++)
				x[n++] = (uint64_t)m << 32 | author(i, 40 + (uint64_t)m);
		x[n++] = (uint64_t)m << 32; /* hash 0, stored as 1 */
		/* in two pieces: the second finds the set grown by the first */
		ck_assert_int_eq(hll_group_add_run(&g, &run[m], x, n / 3), 0);
		ck_assert_int_eq(hll_group_add_run(&g, &run[m], x + n / 3, n - n / 3), 0);
		for (size_t i = 0; i < n; i++) {
			struct hll_key k;
			hll_key_init(&k, (uint32_t)x[i]);
			ck_assert_int_eq(hll_group_add(&h, &one[m], &k), 0);
		}
	}
	for (int m = 0; m < N; m++) {
		ck_assert_uint_eq(run[m].cap == HLL_SET_COLUMN, one[m].cap == HLL_SET_COLUMN);
		ck_assert_uint_eq(hll_group_count(&g, &run[m]), hll_group_count(&h, &one[m]));
		if (sizes[m] < 1024) /* exact: every author, 0 as 1 (author() is never 1 here) */
			ck_assert_uint_eq(hll_group_count(&g, &run[m]), sizes[m] + 1);
	}
	ck_assert_int_eq(hll_group_detach(&g, run, N), 0);
	ck_assert_int_eq(hll_group_detach(&h, one, N), 0);
	for (int m = 0; m < N; m++) {
		ck_assert_uint_eq(hll_set_count(&run[m]), hll_set_count(&one[m]));
		if (run[m].cap == HLL_SET_DENSE)
			ck_assert(memcmp(run[m].u.heap.mem, one[m].u.heap.mem, HLL_REGISTERS) == 0);
		hll_set_clear(&run[m]);
		hll_set_clear(&one[m]);
	}
	free(x);
}
END_TEST

START_TEST(test_hll_group_add_run_grows_where_the_room_test_says_even_for_repeats)
{
	struct hll_group g = { 0 };
	struct hll_set s = { 0 };
	struct hll_key k;
	/* 7 authors: the 7th spills the inline set into 16 sparse slots */
	for (uint64_t i = 0; i < 7; i++) {
		hll_key_init(&k, author(i, 61));
		ck_assert_int_eq(hll_group_add(&g, &s, &k), 0);
	}
	ck_assert_uint_eq(s.cap, 16);
	ck_assert_uint_eq(s.n, 7);
	/*
	 * A new author fills the 16 slots to half; the room test before the
	 * next add - a repeat - grows the set for the 3 adds still to come:
	 * 8 + 3 = 11 hashes, 32 slots.
	 */
	uint64_t x[4] = { author(7, 61), author(0, 61), author(7, 61), author(3, 61) };
	ck_assert_int_eq(hll_group_add_run(&g, &s, x, 4), 0);
	ck_assert_uint_eq(s.cap, 32);
	ck_assert_uint_eq(s.n, 8);
	/* room left: repeats and one new author leave the set as it is sized */
	uint64_t y[3] = { author(1, 61), author(8, 61), author(1, 61) };
	ck_assert_int_eq(hll_group_add_run(&g, &s, y, 3), 0);
	ck_assert_uint_eq(s.cap, 32);
	ck_assert_uint_eq(s.n, 9);
	hll_set_clear(&s);

	/* a full set at the sparse maximum takes repeats and stays sparse ... */
	for (uint64_t i = 0; i < HLL_SPARSE_MAX; i++) {
		hll_key_init(&k, author(i, 62));
		ck_assert_int_eq(hll_group_add(&g, &s, &k), 0);
	}
	ck_assert_uint_eq(s.cap, 2 * HLL_SPARSE_MAX);
	ck_assert_uint_eq(s.n, HLL_SPARSE_MAX);
	uint64_t z[5];
	for (int i = 0; i < 5; i++)
		z[i] = author((uint64_t)i * 100, 62);
	ck_assert_int_eq(hll_group_add_run(&g, &s, z, 5), 0);
	ck_assert_uint_eq(s.cap, 2 * HLL_SPARSE_MAX);
	ck_assert_uint_eq(s.n, HLL_SPARSE_MAX);
	ck_assert_uint_eq(hll_group_count(&g, &s), HLL_SPARSE_MAX);
	/* ... until a new author, in the middle of a run, gives it a column */
	z[2] = author(HLL_SPARSE_MAX, 62);
	ck_assert_int_eq(hll_group_add_run(&g, &s, z, 5), 0);
	ck_assert_uint_eq(s.cap, HLL_SET_COLUMN);
	double err = fabs((double)hll_group_count(&g, &s) - (HLL_SPARSE_MAX + 1)) /
		     (HLL_SPARSE_MAX + 1);
	ck_assert_msg(err < 0.03, "estimate error %.4f", err);
	ck_assert_int_eq(hll_group_detach(&g, &s, 1), 0);
	hll_set_clear(&s);
}
END_TEST

/*
 * The rule a union follows, written out plainly: exact (a set of the hashes)
 * until a set added is dense or a column, or it holds more than
 * HLL_SPARSE_MAX distinct hashes - as a set turns dense, so that neither
 * the order of the sets nor how they overlap decides; from then on
 * registers, the max of everything added. ref is made dense by merging an
 * empty dense set, or turns dense by itself.
 */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void ref_union_add(struct hll_set *ref, bool *dense, const struct hll_set *s, bool column)
{
	if (!*dense && (column || s->cap == HLL_SET_DENSE)) {
		struct hll_set zero = { .cap = HLL_SET_DENSE };
		zero.u.heap.mem = calloc(1, HLL_REGISTERS);
		ck_assert_ptr_nonnull(zero.u.heap.mem);
		ck_assert_int_eq(hll_set_merge(ref, &zero), 0);
		hll_set_clear(&zero);
		*dense = true;
	}
	ck_assert_int_eq(hll_set_merge(ref, s), 0);
	*dense = ref->cap == HLL_SET_DENSE;
}

START_TEST(test_hll_union_follows_its_rule_for_every_mix_of_forms)
{
	/*
	 * Sets of every form - inline, sparse near and far from the exact
	 * limit, dense, columns of a group - overlapping, united in random
	 * subsets and orders, against the rule above. The union holds the first
	 * set without copying it and keeps one table of slots: neither may show.
	 * A union started from another one's first sets - their registers once
	 * dense, else their distinct hashes - and given the rest counts the
	 * same, and turns dense at the same set.
	 */
	enum { SETS = 24, ROUNDS = 400 };
	static const uint32_t sizes[SETS] = { 1,   3,    6,    7,   40,   100,  300,  500,
					      511, 512,  513,  700,  1000, 1023, 1024, 1100,
					      2000, 5000, 20000, 2,  900,  1024, 3000, 60 };
	struct hll_group g = { 0 };
	struct hll_set set[SETS], solo[SETS];
	memset(set, 0, sizeof set);
	memset(solo, 0, sizeof solo);
	for (int m = 0; m < SETS; m++) {
		/* sets m and m + 1 share about half their hashes */
		uint64_t base = (uint64_t)m * 997;
		for (uint64_t i = 0; i < sizes[m]; i++) {
			uint32_t h = author(base + i, 11);
			struct hll_key k;
			hll_key_init(&k, h);
			if (m % 3 == 0)
				ck_assert_int_eq(hll_group_add(&g, &set[m], &k), 0);
			else
				ck_assert_int_eq(hll_set_add(&set[m], h), 0);
			ck_assert_int_eq(hll_set_add(&solo[m], h), 0);
		}
	}
	int columns = 0;
	for (int m = 0; m < SETS; m++)
		columns += set[m].cap == HLL_SET_COLUMN;
	ck_assert_int_ge(columns, 2);

	struct hll_union *u = hll_union_new(), *v = hll_union_new();
	uint64_t rng = 42;
	int reloaded = 0, from_hashes = 0;
	uint32_t *kept = malloc(HLL_SPARSE_MAX * sizeof *kept);
	ck_assert_ptr_nonnull(kept);
	for (int r = 0; r < ROUNDS; r++) {
		int n = 1 + (int)(hash_u64(rng++) % 6), order[6];
		for (int i = 0; i < n; i++)
			order[i] = (int)(hash_u64(rng++) % SETS);
		struct hll_set ref = { 0 };
		bool dense = false;
		/* v: the registers of the first k sets, when dense, loaded, then the rest */
		int k = (int)(hash_u64(rng++) % (unsigned)n);
		bool loaded = false;
		hll_union_reset(u);
		hll_union_reset(v);
		for (int i = 0; i < n; i++) {
			int m = order[i];
			if (i == k) {
				const uint8_t *reg = hll_union_registers(u);
				uint32_t nh = 0;
				const uint32_t *h = reg ? NULL : hll_union_hashes(u, &nh);
				if (reg) {
					hll_union_load_registers(v, reg);
				} else {
					/* as many distinct hashes as the union counts */
					ck_assert_ptr_nonnull(h);
					ck_assert_uint_eq(nh, hll_union_count(u));
					memcpy(kept, h, nh * sizeof *h);
					hll_union_load_hashes(v, kept, nh);
					qsort(kept, nh, sizeof *kept, cmp_u32);
					for (uint32_t a = 1; a < nh; a++)
						ck_assert_uint_ne(kept[a - 1], kept[a]);
					from_hashes++;
				}
				loaded = true;
			}
			hll_union_add_member(u, &g, &set[m]);
			if (loaded)
				hll_union_add_member(v, &g, &set[m]);
			ref_union_add(&ref, &dense, &solo[m], set[m].cap == HLL_SET_COLUMN);
		}
		ck_assert_msg(hll_union_count(u) == hll_set_count(&ref),
			      "round %d: union %llu, rule %llu", r,
			      (unsigned long long)hll_union_count(u),
			      (unsigned long long)hll_set_count(&ref));
		if (loaded) {
			ck_assert_uint_eq(hll_union_count(v), hll_union_count(u));
			/* the same form: registers (the same ones) or none */
			const uint8_t *ru = hll_union_registers(u), *rv = hll_union_registers(v);
			ck_assert((ru == NULL) == (rv == NULL));
			ck_assert(!ru || memcmp(ru, rv, HLL_REGISTERS) == 0);
			reloaded++;
		}
		hll_set_clear(&ref);
	}
	ck_assert_int_ge(reloaded, ROUNDS / 10);
	ck_assert_int_ge(from_hashes, ROUNDS / 10);
	ck_assert_int_ge(reloaded - from_hashes, ROUNDS / 10);
	free(kept);
	hll_union_free(u);
	hll_union_free(v);
	ck_assert_int_eq(hll_group_detach(&g, set, SETS), 0);
	for (int m = 0; m < SETS; m++) {
		hll_set_clear(&set[m]);
		hll_set_clear(&solo[m]);
	}
}
END_TEST

/*
 * A packed set holds the same hashes in an array of just their number: it
 * counts, unites and merges as the sparse set it was, and an add unpacks it
 * and goes on exactly as the sparse set would (turning dense past the
 * sparse maximum). Anything but a sparse set is left as it is.
 */
START_TEST(test_hll_packed_set_reads_and_grows_as_the_sparse_one)
{
	static const uint32_t sizes[] = { 7, 8, 31, 100, 513, 1000, 1023, 1024 };
	struct hll_union *u = hll_union_new(), *v = hll_union_new();
	for (size_t m = 0; m < sizeof sizes / sizeof *sizes; m++) {
		struct hll_set a = { 0 }, b = { 0 }, other = { 0 };
		for (uint32_t i = 0; i < sizes[m]; i++) {
			ck_assert_int_eq(hll_set_add(&a, author(i, 90 + m)), 0);
			ck_assert_int_eq(hll_set_add(&b, author(i, 90 + m)), 0);
		}
		for (uint32_t i = 0; i < 300; i++) /* overlaps a and b in a third */
			ck_assert_int_eq(hll_set_add(&other, author(i * 3, 90 + m)), 0);
		uint32_t cap = b.cap, last = b.u.heap.last;
		ck_assert_int_eq(hll_set_pack(&b), 0);
		ck_assert_uint_eq(b.cap, HLL_SET_PACKED);
		ck_assert_uint_eq(b.u.heap.slots, cap);
		ck_assert_uint_eq(b.u.heap.last, last);
		ck_assert_uint_eq(hll_set_count(&b), sizes[m]);
		ck_assert_uint_eq(hll_set_bytes(&b), sizes[m] * sizeof(uint32_t));
		ck_assert_uint_lt(hll_set_bytes(&b), hll_set_bytes(&a));
		/* united, alone and with another set, in either order */
		hll_union_reset(u);
		hll_union_reset(v);
		hll_union_add_set(u, &a);
		hll_union_add_set(v, &b);
		ck_assert_uint_eq(hll_union_count(v), hll_union_count(u));
		hll_union_add_set(u, &other);
		hll_union_add_set(v, &other);
		ck_assert_uint_eq(hll_union_count(v), hll_union_count(u));
		/* merged into another set, and another set merged into it */
		struct hll_set ma = { 0 }, mb = { 0 };
		ck_assert_int_eq(hll_set_merge(&ma, &other), 0);
		ck_assert_int_eq(hll_set_merge(&mb, &other), 0);
		ck_assert_int_eq(hll_set_merge(&ma, &a), 0);
		ck_assert_int_eq(hll_set_merge(&mb, &b), 0);
		ck_assert_uint_eq(hll_set_count(&mb), hll_set_count(&ma));
		ck_assert_int_eq(hll_set_merge(&a, &other), 0);
		ck_assert_int_eq(hll_set_merge(&b, &other), 0); /* unpacks b */
		ck_assert_uint_ne(b.cap, HLL_SET_PACKED);
		ck_assert_uint_eq(b.cap, a.cap); /* sparse with the same room, or dense */
		ck_assert_uint_eq(hll_set_count(&b), hll_set_count(&a));
		if (a.cap == HLL_SET_DENSE)
			ck_assert(memcmp(a.u.heap.mem, b.u.heap.mem, HLL_REGISTERS) == 0);
		hll_set_clear(&a);
		hll_set_clear(&b);
		hll_set_clear(&ma);
		hll_set_clear(&mb);
		hll_set_clear(&other);
	}
	/* inline and dense sets stay as they are */
	struct hll_set in = { 0 }, dense = { 0 };
	ck_assert_int_eq(hll_set_add(&in, 5), 0);
	for (uint32_t i = 0; i < 2000; i++)
		ck_assert_int_eq(hll_set_add(&dense, author(i, 77)), 0);
	ck_assert_int_eq(hll_set_pack(&in), 0);
	ck_assert_int_eq(hll_set_pack(&dense), 0);
	ck_assert_uint_eq(in.cap, 0);
	ck_assert_uint_eq(dense.cap, HLL_SET_DENSE);
	hll_set_clear(&in);
	hll_set_clear(&dense);
	hll_union_free(u);
	hll_union_free(v);
}
END_TEST

START_TEST(test_hll_union_reset_forgets_the_last_hash)
{
	/*
	 * The accumulator keeps its table across resets and clears only the
	 * slots it filled, and holds the first set added without copying it.
	 * After a reset every hash must count again, whichever came before.
	 */
	struct hll_union *u = hll_union_new();
	struct hll_set a = { 0 };
	for (uint64_t i = 0; i < 10; i++)
		hll_set_add(&a, author(i, 9));
	for (uint64_t i = 0; i < 10; i++) {
		struct hll_set one = { 0 };
		hll_set_add(&one, author(i, 9));
		hll_union_reset(u);
		hll_union_add_set(u, &a);
		ck_assert_uint_eq(hll_union_count(u), 10);
		hll_union_reset(u);
		hll_union_add_set(u, &one);
		ck_assert_uint_eq(hll_union_count(u), 1);
	}
	hll_set_clear(&a);
	hll_union_free(u);
}
END_TEST

/*
 * A group of 150 dense members: the table widens to 256 columns, 4 MiB,
 * which is mapped on its own (huge pages) rather than taken from the heap;
 * every member must still hold what a dense set of its own would, across
 * the widenings, a copy into a table made by hll_group_alloc, and detach.
 */
START_TEST(test_hll_group_table_of_megabytes_holds_what_dense_sets_would)
{
	enum { MEMBERS = 150, AUTHORS = HLL_SPARSE_MAX + 200 };
	struct hll_group g = { 0 }, copy = { 0 };
	static struct hll_set mem[MEMBERS], solo[MEMBERS];
	for (uint64_t i = 0; i < AUTHORS; i++)
		for (int m = 0; m < MEMBERS; m++) {
			uint32_t h = author(i * 131 + (uint64_t)m, 9);
			struct hll_key k;
			hll_key_init(&k, h);
			ck_assert_int_eq(hll_group_add(&g, &mem[m], &k), 0);
			ck_assert_int_eq(hll_set_add(&solo[m], h), 0);
		}
	ck_assert_uint_eq(g.ncols, MEMBERS);
	ck_assert_uint_eq(g.stride, 256);
	for (int m = 0; m < MEMBERS; m++) {
		ck_assert_uint_eq(mem[m].cap, HLL_SET_COLUMN);
		ck_assert_uint_eq(hll_group_count(&g, &mem[m]), hll_set_count(&solo[m]));
	}
	/* every byte of the table is a register or an unused column: a rank or 0
	 * (read to the last one, which AddressSanitizer checks is the table's) */
	for (size_t i = 0; i < hll_group_bytes(&g); i += 4093)
		ck_assert_uint_le(g.reg[i], 32 - HLL_P + 1);
	ck_assert_uint_le(g.reg[hll_group_bytes(&g) - 1], 32 - HLL_P + 1);

	/* a table made by hll_group_alloc, filled row by row, holds the same columns */
	ck_assert_int_eq(hll_group_alloc(&copy, MEMBERS + 1, MEMBERS), -EINVAL);
	ck_assert_int_eq(hll_group_alloc(&copy, MEMBERS, g.stride), 0);
	ck_assert_uint_eq(copy.ncols, MEMBERS);
	uint8_t any = 0;
	for (size_t i = 0; i < hll_group_bytes(&copy); i++)
		any |= copy.reg[i];
	ck_assert_uint_eq(any, 0);
	memcpy(copy.reg, g.reg, hll_group_bytes(&g));
	for (int m = 0; m < MEMBERS; m++)
		ck_assert_uint_eq(hll_group_count(&copy, &mem[m]), hll_set_count(&solo[m]));
	hll_group_free(&copy);

	ck_assert_int_eq(hll_group_detach(&g, mem, MEMBERS), 0);
	ck_assert_ptr_null(g.reg);
	for (int m = 0; m < MEMBERS; m++) {
		ck_assert_uint_eq(hll_set_count(&mem[m]), hll_set_count(&solo[m]));
		hll_set_clear(&mem[m]);
		hll_set_clear(&solo[m]);
	}
}
END_TEST

/*
 * A set that grows in runs - from inline, then from sparse sizes again and
 * again - must keep every hash where a probe finds it: adding any hash it
 * already holds changes nothing, and it holds exactly the distinct hashes.
 */
START_TEST(test_hll_group_add_run_growing_sets_find_every_hash_again)
{
	struct hll_group g = { 0 };
	struct hll_set s = { 0 };
	uint64_t x[1024];
	uint64_t have = 0; /* authors 0 .. have-1 are in s */
	static const uint32_t news[] = { 3, 5, 9, 30, 60, 200, 400, 300 };
	for (size_t r = 0; r < sizeof news / sizeof *news; r++) {
		size_t n = 0;
		for (uint64_t i = 0; i < news[r]; i++) {
			x[n++] = author(have + i, 77);
			if (have)
				x[n++] = author((have + i * 31) % have, 77); /* a repeat */
		}
		ck_assert_int_eq(hll_group_add_run(&g, &s, x, n), 0);
		have += news[r];
		ck_assert_uint_ne(s.cap, HLL_SET_COLUMN);
		ck_assert_uint_eq(s.n, have);
		for (uint64_t i = 0; i < have; i++) {
			struct hll_key k;
			hll_key_init(&k, author(i, 77));
			ck_assert_int_eq(hll_group_add(&g, &s, &k), 0);
			ck_assert_uint_eq(s.n, have);
		}
	}
	ck_assert_uint_eq(hll_group_count(&g, &s), have);
	hll_set_clear(&s);
	hll_group_free(&g);
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
	tcase_add_test(tc, test_hll_set_is_exact_inline_then_sparse_and_estimates_when_dense);
	tcase_add_test(tc, test_hll_hash_zero_is_stored_as_one);
	tcase_add_test(tc, test_hll_set_merge_is_exact_across_forms);
	tcase_add_test(tc, test_hll_group_columns_hold_what_dense_sets_would);
	tcase_add_test(tc, test_hll_group_column_estimate_at_10k_is_within_2_percent);
	tcase_add_test(tc, test_hll_union_reset_forgets_the_last_hash);
	tcase_add_test(tc, test_hll_union_follows_its_rule_for_every_mix_of_forms);
	tcase_add_test(tc, test_hll_group_add_run_holds_what_adds_one_by_one_would);
	tcase_add_test(tc, test_hll_group_add_run_grows_where_the_room_test_says_even_for_repeats);
	tcase_add_test(tc, test_hll_group_add_run_growing_sets_find_every_hash_again);
	tcase_add_test(tc, test_hll_group_table_of_megabytes_holds_what_dense_sets_would);
	tcase_add_test(tc, test_hll_packed_set_reads_and_grows_as_the_sparse_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
