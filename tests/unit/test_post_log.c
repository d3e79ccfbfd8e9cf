/*
 * test_post_log.c - pushed posts in SQLite: appended once per (source, id),
 * read back above a cursor in order and byte for byte, pruned only when
 * counted and old, sequence numbers never reused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/post.h"
#include "db/post_log.h"
#include "testutil.h"

static sqlite3 *conn;
static struct post_log pl;

static void exec(const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(conn, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

static void setup(void)
{
	ck_assert_int_eq(sqlite3_open(":memory:", &conn), SQLITE_OK);
	exec("PRAGMA foreign_keys = ON;"
	     "CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT);"
	     "INSERT INTO sources VALUES (1, 'a'), (2, 'b');"
	     "CREATE TABLE checkpoint_source (source_id INTEGER PRIMARY KEY, cursor TEXT);");
	exec(POST_LOG_SCHEMA);
	ck_assert_int_eq(post_log_open(&pl, conn), SQLITE_OK);
}

static void teardown(void)
{
	post_log_close(&pl);
	sqlite3_close(conn);
}

static struct post *mk(int64_t source, const char *id, const char *text, int64_t created)
{
	struct post_fields f = { .source_id = source, .id = id, .author = "au", .lang = "en",
				 .url = "https://x.example/1", .title = "T", .text = text,
				 .text_len = (size_t)-1, .created_at_ms = created };
	struct post *p = post_new(&f);
	ck_assert_ptr_nonnull(p);
	return p;
}

static int64_t count(const char *sql)
{
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(conn, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

struct got {
	struct post *p[16];
	int64_t seq[16];
	size_t n, stop_after;
};

static int collect(void *ctx, struct post *p, int64_t seq)
{
	struct got *g = ctx;
	ck_assert_uint_lt(g->n, 16);
	g->p[g->n] = p;
	g->seq[g->n++] = seq;
	return g->stop_after && g->n >= g->stop_after ? -1 : 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		post_free(g->p[i]);
	g->n = 0;
}

START_TEST(test_post_log_appends_once_per_source_and_id)
{
	struct post *a[] = { mk(1, "x", "one", 1000), mk(1, "y", "two", 2000),
			     mk(2, "x", "same id, other source", 3000) };
	int64_t seq[3];
	exec("BEGIN");
	ck_assert_int_eq(post_log_append(&pl, a, 3, seq), SQLITE_OK);
	exec("COMMIT");
	ck_assert_int_gt(seq[0], 0);
	ck_assert_int_gt(seq[1], seq[0]);
	ck_assert_int_gt(seq[2], seq[1]);

	/* a retry of the whole batch plus one new post: only the new one is logged */
	struct post *b[] = { mk(1, "y", "two again", 2000), mk(1, "z", "three", 4000),
			     mk(1, "x", "one again", 1000) };
	int64_t seq2[3];
	ck_assert_int_eq(post_log_append(&pl, b, 3, seq2), SQLITE_OK);
	ck_assert_int_eq(seq2[0], 0);
	ck_assert_int_gt(seq2[1], seq[2]);
	ck_assert_int_eq(seq2[2], 0);
	ck_assert_int_eq(count("SELECT count(*) FROM post_log"), 4);
	ck_assert_int_eq(count("SELECT count(*) FROM post_log WHERE text = 'two'"), 1);
	for (int i = 0; i < 3; i++) {
		post_free(a[i]);
		post_free(b[i]);
	}
}
END_TEST

START_TEST(test_post_log_reads_back_in_order_above_the_cursor_byte_for_byte)
{
	char *big = malloc(10 * 1024 + 1);
	for (int i = 0; i < 10 * 1024; i++)
		big[i] = "ab'\";--%_\\"[i % 10];
	big[10 * 1024] = 0;
	struct post *a[] = { mk(1, "q'\"; DROP TABLE post_log;--", "first", 1000),
			     mk(1, "2", big, 2000), mk(2, "3", "other source", 3000),
			     mk(1, "4", "caf\xC3\xA9 \xF0\x9F\x98\x80", 4000) };
	int64_t seq[4];
	ck_assert_int_eq(post_log_append(&pl, a, 4, seq), SQLITE_OK);

	struct got g = { 0 };
	ck_assert_int_eq(post_log_read_after(&pl, 1, 0, 100, collect, &g), SQLITE_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_int_eq(g.seq[0], seq[0]);
	ck_assert_int_eq(g.seq[1], seq[1]);
	ck_assert_int_eq(g.seq[2], seq[3]);
	ck_assert_str_eq(g.p[0]->id, "q'\"; DROP TABLE post_log;--");
	ck_assert_uint_eq(g.p[1]->text_len, 10 * 1024);
	ck_assert_str_eq(g.p[1]->text, big);
	ck_assert_str_eq(g.p[2]->text, "caf\xC3\xA9 \xF0\x9F\x98\x80");
	ck_assert_int_eq(g.p[2]->created_at_ms, 4000);
	ck_assert_str_eq(g.p[2]->author, "au");
	ck_assert_str_eq(g.p[2]->lang, "en");
	ck_assert_str_eq(g.p[2]->url, "https://x.example/1");
	ck_assert_str_eq(g.p[2]->title, "T");
	ck_assert_int_eq(g.p[2]->source_id, 1);
	got_free(&g);

	/* above a cursor, with a limit, and stopped by the callback */
	ck_assert_int_eq(post_log_read_after(&pl, 1, seq[0], 1, collect, &g), SQLITE_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_int_eq(g.seq[0], seq[1]);
	got_free(&g);
	g.stop_after = 1;
	ck_assert_int_eq(post_log_read_after(&pl, 1, 0, 100, collect, &g), SQLITE_OK);
	ck_assert_uint_eq(g.n, 1);
	got_free(&g);
	ck_assert_int_eq(post_log_read_after(&pl, 1, seq[3], 100, collect, &g), SQLITE_OK);
	ck_assert_uint_eq(g.n, 0);
	for (int i = 0; i < 4; i++)
		post_free(a[i]);
	free(big);
}
END_TEST

START_TEST(test_post_log_prunes_only_counted_old_rows_and_never_reuses_a_seq)
{
	struct post *a[] = { mk(1, "1", "a", 1), mk(1, "2", "b", 2), mk(1, "3", "c", 3),
			     mk(2, "1", "d", 4), mk(2, "2", "e", 5) };
	int64_t seq[5];
	ck_assert_int_eq(post_log_append(&pl, a, 5, seq), SQLITE_OK);
	exec("UPDATE post_log SET received_ms = 100");
	int64_t deleted = -1;
	/* no checkpointed cursor yet: nothing is counted, nothing goes */
	ck_assert_int_eq(post_log_prune(&pl, 101, 100, &deleted), SQLITE_OK);
	ck_assert_int_eq(deleted, 0);
	char sql[160];
	/* source 1 counted up to its second post, source 2 up to its first */
	snprintf(sql, sizeof sql, "INSERT INTO checkpoint_source VALUES (1, '%lld'), (2, '%lld')",
		 (long long)seq[1], (long long)seq[3]);
	exec(sql);
	/* too new: nothing goes */
	ck_assert_int_eq(post_log_prune(&pl, 100, 100, &deleted), SQLITE_OK);
	ck_assert_int_eq(deleted, 0);
	/* at most max rows per call */
	ck_assert_int_eq(post_log_prune(&pl, 101, 1, &deleted), SQLITE_OK);
	ck_assert_int_eq(deleted, 1);
	/* old, but only each source's counted ones go (by its own cursor) */
	ck_assert_int_eq(post_log_prune(&pl, 101, 100, &deleted), SQLITE_OK);
	ck_assert_int_eq(deleted, 2);
	ck_assert_int_eq(count("SELECT count(*) FROM post_log"), 2);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM post_log WHERE seq IN (%lld, %lld)",
		 (long long)seq[2], (long long)seq[4]);
	ck_assert_int_eq(count(sql), 2);
	snprintf(sql, sizeof sql, "UPDATE checkpoint_source SET cursor = '%lld' WHERE source_id = 1",
		 (long long)seq[2]);
	exec(sql);
	ck_assert_int_eq(post_log_prune(&pl, 101, 100, &deleted), SQLITE_OK);
	ck_assert_int_eq(deleted, 1);
	/* an empty log still numbers on from where it was: cursors stay meaningful */
	exec("DELETE FROM post_log");
	struct post *b[] = { mk(1, "4", "d", 4) };
	int64_t seq2[1];
	ck_assert_int_eq(post_log_append(&pl, b, 1, seq2), SQLITE_OK);
	ck_assert_int_gt(seq2[0], seq[4]);
	for (int i = 0; i < 5; i++)
		post_free(a[i]);
	post_free(b[0]);
}
END_TEST

START_TEST(test_post_log_rows_go_with_their_source)
{
	struct post *a[] = { mk(1, "1", "a", 1), mk(2, "1", "b", 2) };
	int64_t seq[2];
	ck_assert_int_eq(post_log_append(&pl, a, 2, seq), SQLITE_OK);
	exec("DELETE FROM sources WHERE id = 1");
	ck_assert_int_eq(count("SELECT count(*) FROM post_log"), 1);
	ck_assert_int_eq(count("SELECT source_id FROM post_log"), 2);
	/* a post for a source that does not exist is refused, not logged */
	struct post *c[] = { mk(9, "1", "c", 3) };
	int64_t s9;
	ck_assert_int_ne(post_log_append(&pl, c, 1, &s9), SQLITE_OK);
	for (int i = 0; i < 2; i++)
		post_free(a[i]);
	post_free(c[0]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("post_log");
	TCase *tc = tcase_create("post_log");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_post_log_appends_once_per_source_and_id);
	tcase_add_test(tc, test_post_log_reads_back_in_order_above_the_cursor_byte_for_byte);
	tcase_add_test(tc, test_post_log_prunes_only_counted_old_rows_and_never_reuses_a_seq);
	tcase_add_test(tc, test_post_log_rows_go_with_their_source);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
