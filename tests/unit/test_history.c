/*
 * Unit tests for db/history.c: the reader pool answering history queries
 * over data written by the real writer thread, with a stand-in analytics
 * thread that answers live requests (core/live.h) from a table the test
 * fills, so the merge of live rows by checkpoint epoch can be checked.
 *
 * Answers are parsed with jansson and compared with totals the test
 * computes itself from the rows it wrote.
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/live.h"
#include "core/snapshot.h"
#include "core/term.h"
#include "db/db.h"
#include "db/history.h"
#include "tests/unit/testutil.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

static const int64_t T0 = 1795608000000LL; /* 2026-11-25T12:00:00Z */
static const int64_t DAY0 = 1795564800000LL; /* 2026-11-25T00:00:00Z */

static _Atomic int64_t fake_now_ms = 1795608000000LL + 3600 * 1000;
static int64_t fake_clock(void) { return atomic_load(&fake_now_ms); }

static char tmpdir[256];
static char dbpath[300];

static void tmp_setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/trendd-test-history-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof dbpath, "%s/trendd.db", tmpdir);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void tmp_teardown(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* The stand-in analytics thread ---------------------------------------------- */

#define FAKE_ROWS_MAX 256

struct fake_row {
	char term[64];            /* "" = a volume row */
	int kind;
	struct live_row row;
};

static struct {
	pthread_mutex_t mu;
	struct fake_row rows[FAKE_ROWS_MAX];
	size_t n;
	uint64_t checkpoint_epoch;
	int delay_ms;
	atomic_int asked;
	atomic_bool stop;
} fake = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void fake_reset(void)
{
	pthread_mutex_lock(&fake.mu);
	fake.n = 0;
	fake.checkpoint_epoch = 0;
	fake.delay_ms = 0;
	pthread_mutex_unlock(&fake.mu);
	atomic_store(&fake.asked, 0);
}

static void fake_add(const char *term, int kind, int64_t minute, uint64_t epoch, uint32_t count,
		     uint32_t authors, uint32_t pos, uint32_t neg, double sent)
{
	pthread_mutex_lock(&fake.mu);
	ck_assert_uint_lt(fake.n, FAKE_ROWS_MAX);
	struct fake_row *f = &fake.rows[fake.n++];
	snprintf(f->term, sizeof f->term, "%s", term);
	f->kind = kind;
	f->row = (struct live_row){ .minute_ms = minute, .epoch = epoch, .count = count,
				    .authors = authors, .pos = pos, .neg = neg, .sent_sum = sent };
	pthread_mutex_unlock(&fake.mu);
}

/* Answers like the analytics thread: rows of the asked term, kind and range. */
static void fake_answer(struct live_req *r)
{
	pthread_mutex_lock(&fake.mu);
	int delay = fake.delay_ms;
	r->checkpoint_epoch = fake.checkpoint_epoch;
	for (size_t i = 0; i < fake.n; i++) {
		const struct fake_row *f = &fake.rows[i];
		struct live_row row = f->row;
		if (row.minute_ms < r->from_ms || row.minute_ms >= r->to_ms)
			continue;
		if (r->op == LIVE_VOLUME) {
			if (f->term[0])
				continue;
		} else if (!f->term[0]) {
			continue;
		} else if (r->op == LIVE_TERM) {
			if (f->kind != r->kind || strlen(f->term) != r->term_len ||
			    memcmp(f->term, r->term, r->term_len) != 0)
				continue;
		} else { /* LIVE_TOP */
			if (r->kind != TERM_KIND_ALL && f->kind != r->kind)
				continue;
			row.term = f->term;
			row.term_len = (uint32_t)strlen(f->term);
			row.kind = (uint8_t)f->kind;
		}
		ck_assert_int_eq(live_add_row(r, &row), 0);
	}
	pthread_mutex_unlock(&fake.mu);
	if (delay)
		sleep_ms(delay);
	atomic_fetch_add(&fake.asked, 1);
	live_answer(r);
}

static void *fake_main(void *arg)
{
	struct bus *b = arg;
	void *items[16];
	while (!atomic_load(&fake.stop)) {
		size_t n = queue_pop_batch(&b->live, items, 16, 20);
		for (size_t i = 0; i < n; i++)
			fake_answer(items[i]);
	}
	return NULL;
}

/* The environment: database, writer, readers, stand-in analytics ------------ */

struct env {
	struct db *db;
	struct bus bus;
	struct history_pool *pool;
	pthread_t fake_thread;
	bool fake_on;
	int64_t rows;             /* rows the writer has been given */
};

static void env_start(struct env *e, const struct db_options *o, bool analytics,
		      const struct history_options *ho)
{
	char err[512] = "";
	struct db_options opt = o ? *o : (struct db_options){ 0 };
	if (!opt.clock_ms)
		opt.clock_ms = fake_clock;
	if (!opt.batch_ms)
		opt.batch_ms = 2;
	memset(e, 0, sizeof *e);
	ck_assert_int_eq(bus_init(&e->bus), 0);
	ck_assert_msg(db_open_with(&e->db, dbpath, &opt, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(db_writer_start(e->db, &e->bus), 0);
	struct history_options hopt = ho ? *ho : (struct history_options){ .live_timeout_ms = 2000 };
	ck_assert_msg(history_pool_start(&e->pool, e->db, &e->bus, &hopt, err, sizeof err) == 0,
		      "%s", err);
	fake_reset();
	atomic_store(&fake.stop, false);
	if (analytics) {
		ck_assert_int_eq(pthread_create(&e->fake_thread, NULL, fake_main, &e->bus), 0);
		e->fake_on = true;
	}
}

static void env_stop(struct env *e)
{
	history_pool_stop(e->pool);
	if (e->fake_on) {
		atomic_store(&fake.stop, true);
		pthread_join(e->fake_thread, NULL);
	}
	db_close(e->db);
	bus_destroy(&e->bus);
	/* what the tests wrote left a consistent file */
	sqlite3 *c = NULL;
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(c, "SELECT count(*) FROM pragma_foreign_key_check", -1,
					    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(c);
}

static int64_t status_rows(struct bus *b)
{
	struct blob *bl = (struct blob *)publish_get(&b->db_status);
	int64_t v = -1;
	if (bl) {
		json_t *j = json_loadb(bl->data, bl->len, 0, NULL);
		if (json_is_true(json_object_get(j, "ok")))
			v = json_integer_value(json_object_get(j, "rows_written"));
		json_decref(j);
		ref_put(&bl->ref);
	}
	return v;
}

/* Waits until the writer has committed every row it was given. */
static void env_sync(struct env *e)
{
	int64_t end = clock_mono_ms() + 20000;
	while (status_rows(&e->bus) < e->rows) {
		ck_assert_msg(clock_mono_ms() < end, "writer did not catch up: %lld of %lld rows",
			      (long long)status_rows(&e->bus), (long long)e->rows);
		sleep_ms(2);
	}
}

struct row_spec {
	const char *term;
	size_t len;               /* 0 = strlen(term) */
	int kind;
	int64_t minute_ms;
	uint32_t count, authors, pos, neg;
	double sent;
};

static void env_write(struct env *e, const struct row_spec *spec, size_t n)
{
	struct dbmsg *m = dbmsg_new(DBMSG_TERM_MINUTES);
	size_t total = 1, off = 0;
	ck_assert_ptr_nonnull(m);
	for (size_t i = 0; i < n; i++)
		total += spec[i].len ? spec[i].len : strlen(spec[i].term);
	m->u.minutes.pool = malloc(total);
	m->u.minutes.rows = calloc(n ? n : 1, sizeof *m->u.minutes.rows);
	m->u.minutes.n = n;
	for (size_t i = 0; i < n; i++) {
		struct term_minute_row *r = &m->u.minutes.rows[i];
		size_t len = spec[i].len ? spec[i].len : strlen(spec[i].term);
		memcpy(m->u.minutes.pool + off, spec[i].term, len);
		*r = (struct term_minute_row){ .term = m->u.minutes.pool + off,
					       .term_len = (uint32_t)len,
					       .kind = (uint8_t)spec[i].kind,
					       .minute_ms = spec[i].minute_ms,
					       .count = spec[i].count, .authors = spec[i].authors,
					       .pos = spec[i].pos, .neg = spec[i].neg,
					       .sent_sum = spec[i].sent };
		off += len;
	}
	ck_assert_int_eq(queue_push(&e->bus.db, m, -1), 0);
	e->rows += (int64_t)n;
}

static void env_write_volume(struct env *e, const struct volume_minute_row *v, size_t n)
{
	struct dbmsg *m = dbmsg_new(DBMSG_VOLUME_MINUTES);
	ck_assert_ptr_nonnull(m);
	m->u.volume.rows = malloc(n * sizeof *v);
	memcpy(m->u.volume.rows, v, n * sizeof *v);
	m->u.volume.n = n;
	ck_assert_int_eq(queue_push(&e->bus.db, m, -1), 0);
	e->rows += (int64_t)n;
}

static void sql_exec(const char *sql)
{
	sqlite3 *c = NULL;
	char *err = NULL;
	ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
	sqlite3_busy_timeout(c, 5000);
	ck_assert_msg(sqlite3_exec(c, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql,
		      err ? err : "?");
	sqlite3_close(c);
}

static void set_epoch(uint64_t epoch)
{
	char sql[96];
	snprintf(sql, sizeof sql, "UPDATE checkpoint SET epoch = %llu WHERE id = 1",
		 (unsigned long long)epoch);
	sql_exec(sql);
}

/* Asking ------------------------------------------------------------------ */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct history_query *done;
} answer = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };

static void on_done(struct history_query *q, void *ctx)
{
	pthread_mutex_lock(&answer.mu);
	answer.done = q;
	pthread_cond_signal(&answer.cond);
	pthread_mutex_unlock(&answer.mu);
}

/* Runs q (moved) and returns it answered; the caller frees it. */
static struct history_query *run(struct env *e, struct history_query *q)
{
	q->done = on_done;
	ck_assert_int_eq(history_submit(e->pool, q), 0);
	pthread_mutex_lock(&answer.mu);
	while (!answer.done)
		pthread_cond_wait(&answer.cond, &answer.mu);
	struct history_query *a = answer.done;
	answer.done = NULL;
	pthread_mutex_unlock(&answer.mu);
	ck_assert_ptr_eq(a, q);
	return a;
}

/* Runs q and parses its JSON answer, which must have status `status`. */
static json_t *run_json(struct env *e, struct history_query *q, int status)
{
	q = run(e, q);
	ck_assert_msg(q->status == status, "status %d, want %d: %s", q->status, status,
		      q->body.buf ? q->body.buf : "");
	json_error_t je;
	json_t *j = json_loadb(q->body.buf, q->body.len, JSON_ALLOW_NUL, &je);
	ck_assert_msg(j != NULL, "not JSON (%s): %.300s", je.text, q->body.buf);
	history_query_free(q);
	return j;
}

static struct history_query *series_q(enum history_what what, int64_t from, int64_t to,
				      int64_t step)
{
	struct history_query *q = history_query_new(what);
	ck_assert_ptr_nonnull(q);
	q->from_ms = from;
	q->to_ms = to;
	q->step_ms = step;
	return q;
}

static struct history_query *term_q(const char *term, int kind, int64_t from, int64_t to,
				    int64_t step)
{
	struct history_query *q = series_q(HISTORY_TERM, from, to, step);
	ck_assert_int_eq(history_query_add_term(q, term, strlen(term), kind), 0);
	return q;
}

static struct history_query *top_q(int kind, uint32_t limit, int64_t from, int64_t to)
{
	struct history_query *q = history_query_new(HISTORY_TOP);
	q->kind = kind;
	q->limit = limit;
	q->from_ms = from;
	q->to_ms = to;
	return q;
}

static json_t *points(json_t *doc)
{
	json_t *p = json_object_get(doc, "points");
	ck_assert(json_is_array(p));
	return p;
}

static int64_t pint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static const char *pstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static int64_t sum_points(json_t *pts, const char *key)
{
	int64_t s = 0;
	size_t i;
	json_t *p;
	json_array_foreach(pts, i, p)
		s += pint(p, key);
	return s;
}

static int64_t max_points(json_t *pts, const char *key)
{
	int64_t m = 0;
	size_t i;
	json_t *p;
	json_array_foreach(pts, i, p)
		if (pint(p, key) > m)
			m = pint(p, key);
	return m;
}

/* Series ------------------------------------------------------------------ */

START_TEST(test_term_series_give_the_same_counts_at_every_step)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	/* #rust in 5 minutes of hour 12 and once in hour 13; noise around it */
	const struct row_spec rows[] = {
		{ "#rust", 0, TERM_HASHTAG, T0 + 0 * MIN_MS, 3, 2, 1, 0, 0.5 },
		{ "#rust", 0, TERM_HASHTAG, T0 + 7 * MIN_MS, 4, 4, 2, 1, -0.25 },
		{ "#rust", 0, TERM_HASHTAG, T0 + 8 * MIN_MS, 1, 1, 0, 0, 0.1 },
		{ "#rust", 0, TERM_HASHTAG, T0 + 30 * MIN_MS, 10, 9, 5, 2, 2.0 },
		{ "#rust", 0, TERM_HASHTAG, T0 + 59 * MIN_MS, 2, 2, 1, 0, 0.4 },
		{ "#rust", 0, TERM_HASHTAG, T0 + 60 * MIN_MS, 6, 5, 0, 6, -3.0 },
		{ "rust", 0, TERM_WORD, T0 + 7 * MIN_MS, 50, 40, 0, 0, 0.0 },
		{ "#go", 0, TERM_HASHTAG, T0 + 7 * MIN_MS, 70, 40, 0, 0, 0.0 },
	};
	env_write(&e, rows, 8);
	env_sync(&e);

	json_t *m = run_json(&e, term_q("#rust", TERM_HASHTAG, T0, T0 + HOUR_MS, MIN_MS), 200);
	json_t *h = run_json(&e, term_q("#rust", TERM_HASHTAG, T0, T0 + HOUR_MS, HOUR_MS), 200);
	json_t *d = run_json(&e, term_q("#rust", TERM_HASHTAG, DAY0, DAY0 + DAY_MS, DAY_MS), 200);
	ck_assert_str_eq(pstr(m, "term"), "#rust");
	ck_assert_str_eq(pstr(m, "kind"), "hashtag");
	ck_assert_str_eq(pstr(m, "step"), "1m");
	ck_assert_str_eq(pstr(m, "from"), "2026-11-25T12:00:00Z");
	ck_assert_str_eq(pstr(m, "to"), "2026-11-25T13:00:00Z");
	ck_assert(json_is_true(json_object_get(m, "live")));
	ck_assert_uint_eq(json_array_size(points(m)), 60);
	ck_assert_uint_eq(json_array_size(points(h)), 1);
	ck_assert_uint_eq(json_array_size(points(d)), 1);
	json_t *hp = json_array_get(points(h), 0), *dp = json_array_get(points(d), 0);
	/* the sum of the minutes of an hour is the hour's point ... */
	ck_assert_int_eq(sum_points(points(m), "count"), 20);
	ck_assert_int_eq(pint(hp, "count"), 20);
	ck_assert_int_eq(sum_points(points(m), "pos"), pint(hp, "pos"));
	ck_assert_int_eq(sum_points(points(m), "neg"), pint(hp, "neg"));
	/* ... and authors is the largest minute at every step */
	ck_assert_int_eq(max_points(points(m), "authors"), 9);
	ck_assert_int_eq(pint(hp, "authors"), 9);
	/* ... and part of the day's point, which also has hour 13 */
	ck_assert_int_eq(pint(dp, "count"), 26);
	ck_assert_int_eq(pint(dp, "authors"), 9);
	ck_assert_int_eq(pint(dp, "neg"), 9);
	/* mean sentiment = sent_sum / count */
	ck_assert_double_eq_tol(json_real_value(json_object_get(hp, "sentiment")), 2.75 / 20, 1e-4);
	json_t *p7 = json_array_get(points(m), 7);
	ck_assert_str_eq(pstr(p7, "t"), "2026-11-25T12:07:00Z");
	ck_assert_int_eq(pint(p7, "count"), 4);
	ck_assert_int_eq(pint(json_array_get(points(m), 1), "count"), 0); /* zero-filled */
	ck_assert_str_eq(pstr(dp, "t"), "2026-11-25T00:00:00Z");
	json_decref(m);
	json_decref(h);
	json_decref(d);

	/* The same string under another kind is another term. */
	json_t *w = run_json(&e, term_q("#rust", TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS), 200);
	ck_assert_int_eq(sum_points(points(w), "count"), 0);
	json_decref(w);
	env_stop(&e);
}
END_TEST

START_TEST(test_compare_gives_one_series_per_term_in_order)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	const struct row_spec rows[] = {
		{ "a", 0, TERM_WORD, T0, 1, 1, 0, 0, 0 },
		{ "b", 0, TERM_WORD, T0 + HOUR_MS, 2, 1, 0, 0, 0 },
		{ "#c", 0, TERM_HASHTAG, T0 + 2 * HOUR_MS, 3, 1, 0, 0, 0 },
	};
	env_write(&e, rows, 3);
	env_sync(&e);
	struct history_query *q = series_q(HISTORY_COMPARE, T0, T0 + 3 * HOUR_MS, HOUR_MS);
	history_query_add_term(q, "#c", 2, TERM_HASHTAG);
	history_query_add_term(q, "a", 1, TERM_WORD);
	history_query_add_term(q, "b", 1, TERM_WORD);
	history_query_add_term(q, "nothing", 7, TERM_WORD);
	json_t *j = run_json(&e, q, 200);
	json_t *series = json_object_get(j, "series");
	ck_assert_uint_eq(json_array_size(series), 4);
	const char *names[] = { "#c", "a", "b", "nothing" };
	const int64_t at[] = { 2, 0, 1, -1 };
	for (size_t i = 0; i < 4; i++) {
		json_t *s = json_array_get(series, i);
		ck_assert_str_eq(pstr(s, "term"), names[i]);
		json_t *pts = points(s);
		ck_assert_uint_eq(json_array_size(pts), 3);
		for (int64_t k = 0; k < 3; k++)
			ck_assert_int_eq(pint(json_array_get(pts, (size_t)k), "count"),
					 k == at[i] ? (int64_t)(i == 0 ? 3 : i) : 0);
	}
	ck_assert_str_eq(pstr(j, "step"), "1h");
	json_decref(j);
	env_stop(&e);
}
END_TEST

START_TEST(test_sentiment_series_from_volume_rows_with_neutral_posts)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	const struct volume_minute_row v[] = {
		{ T0, 100, 40, 10, 12.5 },
		{ T0 + 5 * MIN_MS, 50, 20, 5, -2.0 },
		{ T0 + HOUR_MS, 10, 0, 10, -5.0 },
	};
	env_write_volume(&e, v, 3);
	env_sync(&e);
	fake_add("", 0, T0 + HOUR_MS + MIN_MS, UINT64_MAX, 7, 0, 7, 0, 3.5);
	json_t *j = run_json(&e, series_q(HISTORY_SENTIMENT, T0, T0 + 2 * HOUR_MS, HOUR_MS), 200);
	json_t *p0 = json_array_get(points(j), 0), *p1 = json_array_get(points(j), 1);
	ck_assert_int_eq(pint(p0, "posts"), 150);
	ck_assert_int_eq(pint(p0, "pos"), 60);
	ck_assert_int_eq(pint(p0, "neg"), 15);
	ck_assert_int_eq(pint(p0, "neu"), 75);
	ck_assert_double_eq_tol(json_number_value(json_object_get(p0, "sentiment")), 10.5 / 150,
				1e-4);
	/* the live (still open) minute is in the second hour */
	ck_assert_int_eq(pint(p1, "posts"), 17);
	ck_assert_int_eq(pint(p1, "pos"), 7);
	ck_assert_int_eq(pint(p1, "neu"), 0);
	ck_assert(json_is_true(json_object_get(j, "live")));
	json_decref(j);

	struct history_query *q = series_q(HISTORY_SENTIMENT, T0, T0 + 2 * HOUR_MS, HOUR_MS);
	q->format = HISTORY_CSV;
	q = run(&e, q);
	ck_assert_int_eq(q->status, 200);
	ck_assert(q->csv);
	ck_assert_str_eq(q->body.buf, "t,posts,sentiment,pos,neg,neu\r\n"
				      "2026-11-25T12:00:00Z,150,0.07,60,15,75\r\n"
				      "2026-11-25T13:00:00Z,17,-0.0882,7,10,0\r\n");
	history_query_free(q);
	env_stop(&e);
}
END_TEST

/* Live rows and checkpoint epochs --------------------------------------------- */

START_TEST(test_live_rows_are_merged_only_above_the_database_epoch)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	const struct row_spec rows[] = { { "#rust", 0, TERM_HASHTAG, T0, 5, 3, 0, 0, 0 } };
	env_write(&e, rows, 1);
	env_sync(&e);
	set_epoch(5);
	/* epochs up to 5 are in the database already; 6 and the open minute are not */
	fake_add("#rust", TERM_HASHTAG, T0 + MIN_MS, 4, 100, 1, 0, 0, 0);
	fake_add("#rust", TERM_HASHTAG, T0 + MIN_MS, 5, 200, 1, 0, 0, 0);
	fake_add("#rust", TERM_HASHTAG, T0 + MIN_MS, 6, 7, 4, 1, 0, 0.5);
	fake_add("#rust", TERM_HASHTAG, T0 + 2 * MIN_MS, UINT64_MAX, 2, 8, 0, 1, -0.5);
	fake_add("#rust", TERM_HASHTAG, T0 + 2 * HOUR_MS, UINT64_MAX, 1000, 1, 0, 0, 0); /* out of range */
	fake_add("#other", TERM_HASHTAG, T0 + MIN_MS, UINT64_MAX, 1000, 1, 0, 0, 0);
	fake_add("#rust", TERM_WORD, T0 + MIN_MS, UINT64_MAX, 1000, 1, 0, 0, 0);
	pthread_mutex_lock(&fake.mu);
	fake.checkpoint_epoch = 5;
	pthread_mutex_unlock(&fake.mu);
	json_t *j = run_json(&e, term_q("#rust", TERM_HASHTAG, T0, T0 + HOUR_MS, MIN_MS), 200);
	ck_assert(json_is_true(json_object_get(j, "live")));
	ck_assert_int_eq(pint(json_array_get(points(j), 0), "count"), 5);
	ck_assert_int_eq(pint(json_array_get(points(j), 1), "count"), 7);
	ck_assert_int_eq(pint(json_array_get(points(j), 2), "count"), 2);
	ck_assert_int_eq(pint(json_array_get(points(j), 2), "authors"), 8);
	ck_assert_int_eq(sum_points(points(j), "count"), 14);
	json_decref(j);

	/* The same at hour step: the live minutes fold into their hour. */
	j = run_json(&e, term_q("#rust", TERM_HASHTAG, T0, T0 + HOUR_MS, HOUR_MS), 200);
	ck_assert_int_eq(pint(json_array_get(points(j), 0), "count"), 14);
	ck_assert_int_eq(pint(json_array_get(points(j), 0), "authors"), 8);
	json_decref(j);
	env_stop(&e);
}
END_TEST

static void *commit_epoch_later(void *arg)
{
	sleep_ms(150);
	set_epoch((uint64_t)(uintptr_t)arg);
	return NULL;
}

START_TEST(test_reader_waits_for_a_checkpoint_the_live_answer_already_assumes)
{
	struct env e;
	env_start(&e, NULL, true, &(struct history_options){ .epoch_wait_ms = 3000 });
	/* analytics says epoch 7 is stored and answers only what came after it; the
	 * database commits epoch 7 (with its rows) a moment later */
	pthread_mutex_lock(&fake.mu);
	fake.checkpoint_epoch = 7;
	pthread_mutex_unlock(&fake.mu);
	fake_add("x", TERM_WORD, T0 + 2 * MIN_MS, UINT64_MAX, 1, 1, 0, 0, 0);
	const struct row_spec rows[] = { { "x", 0, TERM_WORD, T0, 10, 1, 0, 0, 0 } };
	env_write(&e, rows, 1);
	env_sync(&e);
	pthread_t t;
	pthread_create(&t, NULL, commit_epoch_later, (void *)(uintptr_t)7);
	int64_t t0 = clock_mono_ms();
	json_t *j = run_json(&e, term_q("x", TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS), 200);
	pthread_join(t, NULL);
	ck_assert_int_ge(clock_mono_ms() - t0, 100);
	ck_assert(json_is_true(json_object_get(j, "live")));
	ck_assert_int_eq(pint(json_array_get(points(j), 0), "count"), 11);
	json_decref(j);
	env_stop(&e);

	/* When the checkpoint never commits, the answer says the live part is not whole. */
	unlink(dbpath);
	env_start(&e, NULL, true, &(struct history_options){ .epoch_wait_ms = 100 });
	pthread_mutex_lock(&fake.mu);
	fake.checkpoint_epoch = 9;
	pthread_mutex_unlock(&fake.mu);
	j = run_json(&e, term_q("x", TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS), 200);
	ck_assert(json_is_false(json_object_get(j, "live")));
	json_decref(j);
	env_stop(&e);
}
END_TEST

START_TEST(test_without_analytics_the_answer_comes_from_the_database_with_live_false)
{
	struct env e;
	env_start(&e, NULL, false, &(struct history_options){ .live_timeout_ms = 200 });
	const struct row_spec rows[] = { { "x", 0, TERM_WORD, T0, 3, 1, 0, 0, 0 } };
	env_write(&e, rows, 1);
	env_sync(&e);
	int64_t t0 = clock_mono_ms();
	json_t *j = run_json(&e, term_q("x", TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS), 200);
	int64_t first = clock_mono_ms() - t0;
	ck_assert(json_is_false(json_object_get(j, "live")));
	ck_assert_int_eq(pint(json_array_get(points(j), 0), "count"), 3);
	ck_assert_int_ge(first, 190);
	json_decref(j);
	/* the next queries do not wait for a thread that does not answer */
	t0 = clock_mono_ms();
	for (int i = 0; i < 5; i++) {
		j = run_json(&e, top_q(TERM_KIND_ALL, 5, T0, T0 + HOUR_MS), 200);
		ck_assert(json_is_false(json_object_get(j, "live")));
		ck_assert_uint_eq(json_array_size(json_object_get(j, "terms")), 1);
		json_decref(j);
	}
	ck_assert_int_lt(clock_mono_ms() - t0, 150);
	env_stop(&e);
}
END_TEST

/* Top terms ---------------------------------------------------------------- */

#define NT 60

struct truth {
	uint64_t count[NT];
	uint32_t authors[NT];
};

static const char *tname(int i, char *buf)
{
	static const char *const prefix[] = { "", "#", "@", "$" };
	snprintf(buf, 32, "%st%03d", prefix[i % 4], i);
	return buf;
}

static int tkind(int i)
{
	static const int kinds[] = { TERM_WORD, TERM_HASHTAG, TERM_MENTION, TERM_CASHTAG };
	return kinds[i % 4];
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/*
 * Three days of minutes with Zipf-like counts and a different ranking each
 * few hours (bursts), so the top of a range is not the top of every period.
 */
static void write_three_days(struct env *e, int64_t start, uint32_t *counts /* [minutes][NT] */)
{
	uint64_t seed = 42;
	struct row_spec spec[NT];
	char names[NT][32];
	for (int m = 0; m < 3 * 1440; m++) {
		int64_t t = start + m * MIN_MS;
		int burst = (m / 240) % NT;
		size_t n = 0;
		for (int i = 0; i < NT; i++) {
			uint32_t c = (uint32_t)(lcg(&seed) % (uint64_t)(200 / (i + 1) + 1));
			if (i == burst)
				c += 40;
			counts[(size_t)m * NT + (size_t)i] = c;
			if (c == 0)
				continue;
			spec[n] = (struct row_spec){ tname(i, names[i]), 0, tkind(i), t, c,
						     1 + c / 2, 0, 0, 0.0 };
			n++;
		}
		env_write(e, spec, n);
		if (m % 100 == 99)
			env_sync(e);
	}
	env_sync(e);
}

static void truth_of(const uint32_t *counts, int64_t start, int64_t from, int64_t to, int kind,
		     struct truth *t)
{
	memset(t, 0, sizeof *t);
	for (int m = 0; m < 3 * 1440; m++) {
		int64_t time = start + m * MIN_MS;
		if (time < from || time >= to)
			continue;
		for (int i = 0; i < NT; i++) {
			uint32_t c = counts[(size_t)m * NT + (size_t)i];
			if (kind != TERM_KIND_ALL && tkind(i) != kind)
				continue;
			t->count[i] += c;
			if (c && 1 + c / 2 > t->authors[i])
				t->authors[i] = 1 + c / 2;
		}
	}
}

static void check_top(struct env *e, const uint32_t *counts, int64_t start, int64_t from,
		      int64_t to, int kind, uint32_t limit)
{
	struct truth t;
	char name[32];
	truth_of(counts, start, from, to, kind, &t);
	json_t *j = run_json(e, top_q(kind, limit, from, to), 200);
	json_t *terms = json_object_get(j, "terms");
	size_t nonzero = 0;
	for (int i = 0; i < NT; i++)
		nonzero += t.count[i] > 0;
	ck_assert_uint_eq(json_array_size(terms), nonzero < limit ? nonzero : limit);
	uint64_t prev = UINT64_MAX;
	size_t k;
	json_t *it;
	json_array_foreach(terms, k, it) {
		const char *tn = pstr(it, "term");
		int i = atoi(tn + (tn[0] == 't' ? 1 : 2));
		ck_assert_str_eq(pstr(it, "term"), tname(i, name));
		ck_assert_str_eq(pstr(it, "kind"), term_kind_name(tkind(i)));
		ck_assert_msg((uint64_t)pint(it, "count") == t.count[i], "%s: %lld, want %llu",
			      name, (long long)pint(it, "count"), (unsigned long long)t.count[i]);
		ck_assert_int_eq(pint(it, "authors"), t.authors[i]);
		ck_assert_uint_le((uint64_t)pint(it, "count"), prev);
		prev = (uint64_t)pint(it, "count");
	}
	/* nothing left out counts more than the last one listed */
	for (int i = 0; i < NT; i++) {
		bool listed = false;
		json_array_foreach(terms, k, it)
			listed = listed || strcmp(pstr(it, "term"), tname(i, name)) == 0;
		if (!listed && json_array_size(terms) == limit)
			ck_assert_msg(t.count[i] <= prev, "%s (%llu) missing", tname(i, name),
				      (unsigned long long)t.count[i]);
	}
	json_decref(j);
}

START_TEST(test_top_terms_are_exact_over_minutes_hours_and_days)
{
	struct env e;
	/* everything is kept, so every end of a range is served at minute resolution */
	env_start(&e, &(struct db_options){ .retain_minute_ms = -1, .retain_hour_ms = -1 }, true,
		  NULL);
	int64_t start = DAY0;
	uint32_t *counts = malloc((size_t)3 * 1440 * NT * sizeof *counts);
	write_three_days(&e, start, counts);
	/* minutes, hours, a whole day, hours, minutes */
	check_top(&e, counts, start, start + 10 * HOUR_MS + 17 * MIN_MS,
		  start + 2 * DAY_MS + 13 * HOUR_MS + 42 * MIN_MS, TERM_KIND_ALL, 10);
	check_top(&e, counts, start, start + 10 * HOUR_MS + 17 * MIN_MS,
		  start + 2 * DAY_MS + 13 * HOUR_MS + 42 * MIN_MS, TERM_HASHTAG, 7);
	/* inside one hour; across one hour boundary; exactly whole days */
	check_top(&e, counts, start, start + 5 * HOUR_MS + 3 * MIN_MS,
		  start + 5 * HOUR_MS + 9 * MIN_MS, TERM_KIND_ALL, 5);
	check_top(&e, counts, start, start + 5 * HOUR_MS + 50 * MIN_MS,
		  start + 6 * HOUR_MS + 20 * MIN_MS, TERM_CASHTAG, 3);
	check_top(&e, counts, start, start, start + 3 * DAY_MS, TERM_KIND_ALL, 20);
	check_top(&e, counts, start, start, start + 3 * DAY_MS, TERM_MENTION, 200);
	/* the whole list when the limit exceeds the terms */
	check_top(&e, counts, start, start + DAY_MS - 7 * MIN_MS, start + DAY_MS + 3 * MIN_MS,
		  TERM_KIND_ALL, 1000);
	free(counts);
	env_stop(&e);
}
END_TEST

START_TEST(test_top_includes_live_terms_and_old_ranges_widen_to_what_is_kept)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	atomic_store(&fake_now_ms, T0 + 10 * MIN_MS);
	const struct row_spec rows[] = {
		{ "a", 0, TERM_WORD, T0, 10, 3, 0, 0, 0 },
		{ "b", 0, TERM_WORD, T0, 8, 2, 0, 0, 0 },
		{ "#c", 0, TERM_HASHTAG, T0 + MIN_MS, 5, 5, 0, 0, 0 },
	};
	env_write(&e, rows, 3);
	env_sync(&e);
	/* b overtakes a with its live minute; d exists only live */
	fake_add("b", TERM_WORD, T0 + 9 * MIN_MS, UINT64_MAX, 5, 4, 0, 0, 1.0);
	fake_add("d", TERM_WORD, T0 + 9 * MIN_MS, UINT64_MAX, 9, 9, 0, 0, 0);
	fake_add("#c", TERM_HASHTAG, T0 + 9 * MIN_MS, 0, 100, 1, 0, 0, 0); /* stored already */
	json_t *j = run_json(&e, top_q(TERM_KIND_ALL, 3, T0, T0 + 10 * MIN_MS), 200);
	ck_assert(json_is_true(json_object_get(j, "live")));
	json_t *terms = json_object_get(j, "terms");
	ck_assert_uint_eq(json_array_size(terms), 3);
	ck_assert_str_eq(pstr(json_array_get(terms, 0), "term"), "b");
	ck_assert_int_eq(pint(json_array_get(terms, 0), "count"), 13);
	ck_assert_int_eq(pint(json_array_get(terms, 0), "authors"), 4);
	ck_assert_str_eq(pstr(json_array_get(terms, 1), "term"), "a");
	ck_assert_str_eq(pstr(json_array_get(terms, 2), "term"), "d");
	ck_assert_int_eq(pint(json_array_get(terms, 2), "count"), 9);
	json_decref(j);

	/* Four days later the minutes of T0 are gone (48 h): the range widens to hours. */
	atomic_store(&fake_now_ms, T0 + 4 * DAY_MS);
	fake_reset();
	j = run_json(&e, top_q(TERM_KIND_ALL, 3, T0 + 1 * MIN_MS, T0 + 2 * MIN_MS), 200);
	ck_assert_str_eq(pstr(j, "from"), "2026-11-25T12:00:00Z");
	ck_assert_str_eq(pstr(j, "to"), "2026-11-25T13:00:00Z");
	ck_assert_int_eq(pint(json_array_get(json_object_get(j, "terms"), 0), "count"), 10);
	json_decref(j);
	atomic_store(&fake_now_ms, T0 + HOUR_MS);
	env_stop(&e);
}
END_TEST


/*
 * A term that is 18th in every hour (below the 16 the first round reads of
 * each hour) but first over the day: the top must still find it.
 */
START_TEST(test_top_finds_a_term_never_near_the_top_of_any_period)
{
	struct env e;
	env_start(&e, &(struct db_options){ .retain_minute_ms = -1 }, true, NULL);
	char names[18][32];
	struct row_spec rows[18];
	for (int h = 1; h < 23; h++) {
		for (int i = 0; i < 17; i++) {
			snprintf(names[i], sizeof names[i], "local%02d_%02d", h, i);
			rows[i] = (struct row_spec){ names[i], 0, TERM_WORD, DAY0 + h * HOUR_MS, 100,
						     1, 0, 0, 0 };
		}
		rows[17] = (struct row_spec){ "steady", 0, TERM_WORD, DAY0 + h * HOUR_MS + MIN_MS,
					      99, 1, 0, 0, 0 };
		env_write(&e, rows, 18);
	}
	env_sync(&e);
	json_t *j = run_json(&e, top_q(TERM_KIND_ALL, 1, DAY0 + HOUR_MS, DAY0 + 23 * HOUR_MS), 200);
	json_t *t = json_array_get(json_object_get(j, "terms"), 0);
	ck_assert_str_eq(pstr(t, "term"), "steady");
	ck_assert_int_eq(pint(t, "count"), 22 * 99);
	json_decref(j);
	/* ties: equal counts are listed by term */
	j = run_json(&e, top_q(TERM_KIND_ALL, 3, DAY0 + HOUR_MS, DAY0 + 2 * HOUR_MS), 200);
	ck_assert_str_eq(pstr(json_array_get(json_object_get(j, "terms"), 0), "term"), "local01_00");
	ck_assert_str_eq(pstr(json_array_get(json_object_get(j, "terms"), 2), "term"), "local01_02");
	json_decref(j);
	env_stop(&e);
}
END_TEST


/*
 * A term listed in half the hours and 17th in the others beats a term
 * listed everywhere: the bound on what a list leaves out must keep it.
 */
START_TEST(test_top_keeps_a_term_whose_unlisted_hours_decide)
{
	struct env e;
	env_start(&e, &(struct db_options){ .retain_minute_ms = -1 }, true, NULL);
	char names[17][32];
	struct row_spec rows[17];
	for (int h = 1; h < 23; h++) {
		bool listed = h % 2 == 1;
		size_t n = 0;
		for (int i = 0; i < 14; i++) {
			snprintf(names[n], sizeof names[n], "filler%02d_%02d", h, i);
			rows[n] = (struct row_spec){ names[n], 0, TERM_WORD, DAY0 + h * HOUR_MS, 100,
						     1, 0, 0, 0 };
			n++;
		}
		rows[n++] = (struct row_spec){ "high", 0, TERM_WORD, DAY0 + h * HOUR_MS, 97, 1, 0, 0, 0 };
		if (!listed) {
			snprintf(names[n], sizeof names[n], "extra%02d", h);
			rows[n] = (struct row_spec){ names[n], 0, TERM_WORD, DAY0 + h * HOUR_MS, 96, 1,
						     0, 0, 0 };
			n++;
		}
		rows[n++] = (struct row_spec){ "mixed", 0, TERM_WORD, DAY0 + h * HOUR_MS + MIN_MS,
					       listed ? 100 : 95, 1, 0, 0, 0 };
		env_write(&e, rows, n);
	}
	env_sync(&e);
	json_t *j = run_json(&e, top_q(TERM_KIND_ALL, 1, DAY0 + HOUR_MS, DAY0 + 23 * HOUR_MS), 200);
	json_t *terms = json_object_get(j, "terms");
	ck_assert_uint_eq(json_array_size(terms), 1);
	ck_assert_str_eq(pstr(json_array_get(terms, 0), "term"), "mixed");
	ck_assert_int_eq(pint(json_array_get(terms, 0), "count"), 11 * 100 + 11 * 95);
	json_decref(j);
	j = run_json(&e, top_q(TERM_KIND_ALL, 2, DAY0 + HOUR_MS, DAY0 + 23 * HOUR_MS), 200);
	terms = json_object_get(j, "terms");
	ck_assert_str_eq(pstr(json_array_get(terms, 0), "term"), "mixed");
	ck_assert_str_eq(pstr(json_array_get(terms, 1), "term"), "high");
	ck_assert_int_eq(pint(json_array_get(terms, 1), "count"), 22 * 97);
	json_decref(j);
	env_stop(&e);
}
END_TEST

/* Snapshots ---------------------------------------------------------------- */

START_TEST(test_snapshot_is_the_newest_at_or_before_the_time_and_404_otherwise)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO snapshots VALUES (%lld, '5m', %lld, '{\"score\":{\"seq\":1},"
		 "\"count\":{\"seq\":2}}'), (%lld, '5m', %lld, '{\"score\":{\"seq\":3},"
		 "\"count\":{\"seq\":4}}'), (%lld, '1h', %lld, '{\"score\":{\"seq\":5},"
		 "\"count\":{\"seq\":6}}')",
		 (long long)T0, (long long)T0, (long long)(T0 + 2 * MIN_MS),
		 (long long)(T0 + 2 * MIN_MS), (long long)(T0 + 3 * MIN_MS),
		 (long long)(T0 + 3 * MIN_MS));
	sql_exec(sql);
	const struct {
		int64_t at;
		int window, sort, status, seq;
	} cases[] = {
		{ T0 + MIN_MS, WINDOW_5M, SORT_SCORE, 200, 1 },
		{ T0 + 5 * MIN_MS, WINDOW_5M, SORT_SCORE, 200, 3 },
		{ T0 + 2 * MIN_MS, WINDOW_5M, SORT_COUNT, 200, 4 },
		{ T0 + 9 * MIN_MS, WINDOW_1H, SORT_COUNT, 200, 6 },
		{ T0 - 1, WINDOW_5M, SORT_SCORE, 404, 0 },
		{ T0 + 9 * MIN_MS, WINDOW_24H, SORT_SCORE, 404, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct history_query *q = history_query_new(HISTORY_SNAPSHOT);
		q->at_ms = cases[i].at;
		q->window = cases[i].window;
		q->sort = cases[i].sort;
		json_t *j = run_json(&e, q, cases[i].status);
		if (cases[i].status == 200)
			ck_assert_int_eq(pint(j, "seq"), cases[i].seq);
		else
			ck_assert_ptr_nonnull(strstr(pstr(j, "error"), "no "));
		json_decref(j);
	}
	env_stop(&e);
}
END_TEST

/* Terms that are hard to carry ------------------------------------------------ */

START_TEST(test_terms_with_sql_quotes_nuls_and_10kB_round_trip_exactly)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	static const char *const odd[] = {
		"'; DROP TABLE terms; --", "it's", "\"quoted\"", "100%_\\", "a,b\r\nc",
		"\xF0\x9F\x8E\x89", "ab",
	};
	struct row_spec rows[7];
	for (int i = 0; i < 7; i++)
		rows[i] = (struct row_spec){ odd[i], 0, TERM_WORD, T0, (uint32_t)(i + 1), 1, 0, 0, 0 };
	env_write(&e, rows, 7);
	env_sync(&e);
	for (int i = 0; i < 7; i++) {
		json_t *j = run_json(&e, term_q(odd[i], TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS), 200);
		ck_assert_str_eq(pstr(j, "term"), odd[i]);
		ck_assert_int_eq(pint(json_array_get(points(j), 0), "count"), i + 1);
		json_decref(j);
	}
	/* "ab\0cd" is not "ab": the NUL and what follows count, and come back */
	struct history_query *q = series_q(HISTORY_TERM, T0, T0 + HOUR_MS, HOUR_MS);
	history_query_add_term(q, "ab\0cd", 5, TERM_WORD);
	json_t *j = run_json(&e, q, 200);
	json_t *term = json_object_get(j, "term");
	ck_assert_uint_eq(json_string_length(term), 5);
	ck_assert_mem_eq(json_string_value(term), "ab\0cd", 5);
	ck_assert_int_eq(pint(json_array_get(points(j), 0), "count"), 0);
	json_decref(j);
	/* 10 kB: echoed whole, matches nothing, no live request made for it */
	size_t big_len = 10 * 1024;
	char *big = malloc(big_len);
	memset(big, 'a', big_len);
	memcpy(big + big_len - 4, "'\"\\,", 4);
	int asked = atomic_load(&fake.asked);
	q = series_q(HISTORY_TERM, T0, T0 + HOUR_MS, HOUR_MS);
	history_query_add_term(q, big, big_len, TERM_WORD);
	j = run_json(&e, q, 200);
	term = json_object_get(j, "term");
	ck_assert_uint_eq(json_string_length(term), big_len);
	ck_assert_mem_eq(json_string_value(term), big, big_len);
	ck_assert(json_is_true(json_object_get(j, "live")));
	ck_assert_int_eq(atomic_load(&fake.asked), asked);
	json_decref(j);
	/* CSV quotes what needs quoting (RFC 4180) */
	q = series_q(HISTORY_COMPARE, T0, T0 + HOUR_MS, HOUR_MS);
	q->format = HISTORY_CSV;
	history_query_add_term(q, odd[4], strlen(odd[4]), TERM_WORD);
	history_query_add_term(q, odd[2], strlen(odd[2]), TERM_WORD);
	history_query_add_term(q, big, big_len, TERM_WORD);
	q = run(&e, q);
	ck_assert_int_eq(q->status, 200);
	ck_assert(q->csv);
	ck_assert_ptr_nonnull(strstr(q->body.buf, "\r\n2026-11-25T12:00:00Z,\"a,b\r\nc\",word,5,1,"));
	ck_assert_ptr_nonnull(strstr(q->body.buf, "\r\n2026-11-25T12:00:00Z,\"\"\"quoted\"\"\",word,3,"));
	ck_assert_ptr_nonnull(strstr(q->body.buf, "aaaa'\"\"\\,\",word,0,"));
	history_query_free(q);
	free(big);
	env_stop(&e);
}
END_TEST

/* The pool ------------------------------------------------------------------ */

START_TEST(test_invalid_queries_are_refused_with_400)
{
	struct env e;
	env_start(&e, NULL, true, NULL);
	struct history_query *bad[] = {
		series_q(HISTORY_TERM, T0, T0 + HOUR_MS, HOUR_MS),               /* no term */
		term_q("x", TERM_WORD, T0 + HOUR_MS, T0, HOUR_MS),               /* from > to */
		term_q("x", TERM_WORD, T0 + 1, T0 + HOUR_MS, HOUR_MS),           /* not aligned */
		term_q("x", TERM_WORD, T0, T0 + HOUR_MS, 1000),                  /* bad step */
		term_q("x", TERM_WORD, T0, T0 + 30 * DAY_MS, MIN_MS),            /* too many points */
		term_q("x", TERM_KIND_ALL, T0, T0 + HOUR_MS, HOUR_MS),           /* kind all */
		top_q(TERM_KIND_ALL, 0, T0, T0 + HOUR_MS),                       /* limit 0 */
		top_q(TERM_KIND_ALL, 5, T0, T0 + 4000 * DAY_MS),                 /* too long */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = run_json(&e, bad[i], 400);
		ck_assert_ptr_nonnull(json_object_get(j, "error"));
		json_decref(j);
	}
	env_stop(&e);
}
END_TEST

static _Atomic int stop_answers, stop_503;

static void count_done(struct history_query *q, void *ctx)
{
	atomic_fetch_add(&stop_answers, 1);
	if (q->status == 503)
		atomic_fetch_add(&stop_503, 1);
	history_query_free(q);
}

START_TEST(test_stopping_the_pool_answers_every_queued_query)
{
	struct env e;
	env_start(&e, NULL, true, &(struct history_options){ .readers = 1 });
	pthread_mutex_lock(&fake.mu);
	fake.delay_ms = 100;           /* the first query holds the only reader */
	pthread_mutex_unlock(&fake.mu);
	int submitted = 0;
	for (int i = 0; i < 20; i++) {
		struct history_query *q = term_q("x", TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS);
		q->done = count_done;
		if (history_submit(e.pool, q) == 0)
			submitted++;
		else
			history_query_free(q);
	}
	ck_assert_int_eq(submitted, 20);
	sleep_ms(20);
	history_pool_stop(e.pool);
	ck_assert_int_eq(atomic_load(&stop_answers), 20);
	ck_assert_int_ge(atomic_load(&stop_503), 18);
	e.pool = NULL;
	env_stop(&e);
}
END_TEST

START_TEST(test_a_full_queue_refuses_with_eagain)
{
	struct env e;
	env_start(&e, NULL, true, &(struct history_options){ .readers = 1 });
	pthread_mutex_lock(&fake.mu);
	fake.delay_ms = 300;
	pthread_mutex_unlock(&fake.mu);
	int ok = 0, again = 0;
	for (int i = 0; i < HISTORY_QUEUE_MAX + 10; i++) {
		struct history_query *q = term_q("x", TERM_WORD, T0, T0 + HOUR_MS, HOUR_MS);
		q->done = count_done;
		int rc = history_submit(e.pool, q);
		if (rc == 0)
			ok++;
		else {
			ck_assert_int_eq(rc, -EAGAIN);
			again++;
			history_query_free(q);
		}
	}
	ck_assert_int_ge(again, 9);
	ck_assert_int_le(ok, HISTORY_QUEUE_MAX + 1);
	env_stop(&e);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_term_series_give_the_same_counts_at_every_step);
	tcase_add_test(tc, test_compare_gives_one_series_per_term_in_order);
	tcase_add_test(tc, test_sentiment_series_from_volume_rows_with_neutral_posts);
	tcase_add_test(tc, test_live_rows_are_merged_only_above_the_database_epoch);
	tcase_add_test(tc, test_reader_waits_for_a_checkpoint_the_live_answer_already_assumes);
	tcase_add_test(tc, test_without_analytics_the_answer_comes_from_the_database_with_live_false);
	tcase_add_test(tc, test_top_terms_are_exact_over_minutes_hours_and_days);
	tcase_add_test(tc, test_top_includes_live_terms_and_old_ranges_widen_to_what_is_kept);
	tcase_add_test(tc, test_top_finds_a_term_never_near_the_top_of_any_period);
	tcase_add_test(tc, test_top_keeps_a_term_whose_unlisted_hours_decide);
	tcase_add_test(tc, test_snapshot_is_the_newest_at_or_before_the_time_and_404_otherwise);
	tcase_add_test(tc, test_terms_with_sql_quotes_nuls_and_10kB_round_trip_exactly);
	tcase_add_test(tc, test_invalid_queries_are_refused_with_400);
	tcase_add_test(tc, test_stopping_the_pool_answers_every_queued_query);
	tcase_add_test(tc, test_a_full_queue_refuses_with_eagain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
