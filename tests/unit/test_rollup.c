/*
 * Unit tests for db/rollup.c: the writer's in-memory sums by (key, period)
 * and their upsert into an in-memory SQLite table with the real rollup
 * columns and conflict rules.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/rollup.h"
#include "tests/unit/testutil.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)

static const int64_t T0 = 1795608000000LL; /* 2026-11-25T12:00:00Z */

START_TEST(test_floor_rounds_down_to_the_period_also_before_1970)
{
	ck_assert_int_eq(rollup_floor(T0 + 59 * 60000 + 999, HOUR_MS), T0);
	ck_assert_int_eq(rollup_floor(T0, HOUR_MS), T0);
	ck_assert_int_eq(rollup_floor(T0 + 5, DAY_MS), T0 - 12 * HOUR_MS);
	ck_assert_int_eq(rollup_floor(-1, HOUR_MS), -HOUR_MS);
	ck_assert_int_eq(rollup_floor(-HOUR_MS, HOUR_MS), -HOUR_MS);
}
END_TEST

START_TEST(test_add_sums_counts_and_keeps_the_largest_authors)
{
	struct rollup r;
	ck_assert_int_eq(rollup_init(&r, HOUR_MS, 100), 0);
	struct rollup_add a = { .count = 3, .pos = 1, .neg = 0, .authors = 7, .sent_sum = 0.5 };
	struct rollup_add b = { .count = 4, .pos = 2, .neg = 1, .authors = 2, .sent_sum = -0.25 };
	ck_assert_int_eq(rollup_add(&r, 9, 1, T0, &a), 0);
	ck_assert_int_eq(rollup_add(&r, 9, 1, T0 + 30 * 60000, &b), 0); /* same hour */
	ck_assert_int_eq(rollup_add(&r, 9, 1, T0 + HOUR_MS, &b), 0);   /* next hour */
	ck_assert_int_eq(rollup_add(&r, 10, 0, T0, &b), 0);            /* another key */
	ck_assert_uint_eq(r.n, 3);
	const struct rollup_entry *e = &r.slots[r.order[0]];
	ck_assert_int_eq(e->key, 9);
	ck_assert_int_eq(e->period_ms, T0);
	ck_assert_uint_eq(e->count, 7);
	ck_assert_uint_eq(e->pos, 3);
	ck_assert_uint_eq(e->neg, 1);
	ck_assert_uint_eq(e->authors, 7);
	ck_assert_double_eq_tol(e->sent_sum, 0.25, 1e-9);
	ck_assert_int_eq(r.slots[r.order[1]].period_ms, T0 + HOUR_MS);
	ck_assert_int_eq(r.slots[r.order[2]].key, 10);
	rollup_clear(&r);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_int_eq(rollup_add(&r, 9, 1, T0, &a), 0);
	ck_assert_uint_eq(r.slots[r.order[0]].count, 3); /* cleared, not added to */
	rollup_destroy(&r);
}
END_TEST

START_TEST(test_full_rollup_refuses_new_entries_but_adds_to_known_ones)
{
	struct rollup r;
	struct rollup_add a = { .count = 1, .authors = 1 };
	ck_assert_int_eq(rollup_init(&r, DAY_MS, 500), 0);
	for (int64_t k = 1; k <= 500; k++)
		ck_assert_int_eq(rollup_add(&r, k, 0, T0, &a), 0); /* grows past 64 slots */
	ck_assert_int_eq(rollup_add(&r, 501, 0, T0, &a), -ENOSPC);
	ck_assert_int_eq(rollup_add(&r, 250, 0, T0, &a), 0);
	ck_assert_uint_eq(r.n, 500);
	/* insertion order survives growing */
	for (size_t i = 0; i < 500; i++)
		ck_assert_int_eq(r.slots[r.order[i]].key, (int64_t)i + 1);
	ck_assert_uint_eq(r.slots[r.order[249]].count, 2);
	rollup_destroy(&r);
}
END_TEST

static sqlite3 *mem_db(void)
{
	sqlite3 *c = NULL;
	ck_assert_int_eq(sqlite3_open(":memory:", &c), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(c,
				      "CREATE TABLE term_hour (term_id INTEGER, hour_ms INTEGER,"
				      " kind INTEGER, count INTEGER, authors INTEGER, sent_sum REAL,"
				      " pos INTEGER, neg INTEGER, PRIMARY KEY (term_id, hour_ms));"
				      "CREATE TABLE volume_hour (hour_ms INTEGER PRIMARY KEY, posts INTEGER,"
				      " pos INTEGER, neg INTEGER, sent_sum REAL);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	return c;
}

static int64_t q_int(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

START_TEST(test_flush_upserts_with_the_table_rules_and_skips_expired_periods)
{
	sqlite3 *c = mem_db();
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(c,
					    "INSERT INTO term_hour VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
					    " ON CONFLICT (term_id, hour_ms) DO UPDATE SET"
					    " count = count + excluded.count,"
					    " authors = max(authors, excluded.authors),"
					    " sent_sum = sent_sum + excluded.sent_sum,"
					    " pos = pos + excluded.pos, neg = neg + excluded.neg",
					    -1, &st, NULL),
			 SQLITE_OK);
	struct rollup r;
	ck_assert_int_eq(rollup_init(&r, HOUR_MS, 10), 0);
	struct rollup_add a = { .count = 5, .pos = 1, .neg = 2, .authors = 4, .sent_sum = 1.5 };
	uint64_t rows = 0;
	rollup_add(&r, 1, 3, T0, &a);
	rollup_add(&r, 1, 3, T0 - 10 * HOUR_MS, &a);   /* older than keep_from: dropped */
	ck_assert_int_eq(rollup_flush(&r, st, false, T0 - HOUR_MS, &rows), SQLITE_OK);
	ck_assert_uint_eq(rows, 1);
	ck_assert_uint_eq(r.n, 0);
	struct rollup_add b = { .count = 1, .authors = 9 };
	rollup_add(&r, 1, 3, T0 + 5, &b);
	ck_assert_int_eq(rollup_flush(&r, st, false, INT64_MIN, &rows), SQLITE_OK);
	ck_assert_int_eq(q_int(c, "SELECT count(*) FROM term_hour"), 1);
	ck_assert_int_eq(q_int(c, "SELECT count FROM term_hour"), 6);
	ck_assert_int_eq(q_int(c, "SELECT authors FROM term_hour"), 9);
	ck_assert_int_eq(q_int(c, "SELECT kind FROM term_hour"), 3);
	ck_assert_int_eq(q_int(c, "SELECT neg FROM term_hour"), 2);
	sqlite3_finalize(st);

	/* volume rows: (period, posts, pos, neg, sent_sum) */
	ck_assert_int_eq(sqlite3_prepare_v2(c,
					    "INSERT INTO volume_hour VALUES (?1, ?2, ?3, ?4, ?5)"
					    " ON CONFLICT (hour_ms) DO UPDATE SET posts = posts + excluded.posts",
					    -1, &st, NULL),
			 SQLITE_OK);
	rollup_add(&r, 0, 0, T0 + 7, &a);
	ck_assert_int_eq(rollup_flush(&r, st, true, INT64_MIN, &rows), SQLITE_OK);
	ck_assert_int_eq(q_int(c, "SELECT posts FROM volume_hour WHERE hour_ms = 1795608000000"), 5);
	ck_assert_int_eq(q_int(c, "SELECT neg FROM volume_hour"), 2);
	sqlite3_finalize(st);
	rollup_destroy(&r);
	sqlite3_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rollup");
	TCase *tc = tcase_create("rollup");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_floor_rounds_down_to_the_period_also_before_1970);
	tcase_add_test(tc, test_add_sums_counts_and_keeps_the_largest_authors);
	tcase_add_test(tc, test_full_rollup_refuses_new_entries_but_adds_to_known_ones);
	tcase_add_test(tc, test_flush_upserts_with_the_table_rules_and_skips_expired_periods);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
