/*
 * history.c - the history reader pool: read-only connections on their own
 * threads answering struct history_query (see history.h for the flow).
 *
 * Each reader owns its connection and prepared statements; queries come from
 * one bounded queue. A reader never writes: the file is opened read-only and
 * every read happens in one deferred transaction (a WAL snapshot), so the
 * checkpoint epoch and the rows it reads always agree.
 *
 * Tables by resolution: term_minute / volume_minute (1m), term_hour /
 * volume_hour (1h), term_day / volume_day (1d). Rows of every table follow
 * the same rules (counts add up, authors is the largest per-minute count), so
 * a range gives the same counts whichever resolution serves it. The top terms
 * of a range are in history_top.c.
 */
#include "db/history.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/live.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "core/term.h"
#include "db/db.h"
#include "db/history_private.h"

#define SERIES(table, period)                                                           \
	"SELECT " period ", count, authors, sent_sum, pos, neg FROM " table                   \
	" WHERE term_id = ?1 AND " period " >= ?2 AND " period " < ?3"
#define SUM(table, period)                                                              \
	"SELECT coalesce(sum(count), 0), coalesce(max(authors), 0), coalesce(sum(sent_sum), 0.0)," \
	" coalesce(sum(pos), 0), coalesce(sum(neg), 0) FROM " table                           \
	" WHERE term_id = ?1 AND " period " >= ?2 AND " period " < ?3"
#define VOLUME(table, period)                                                           \
	"SELECT " period ", posts, 0, sent_sum, pos, neg FROM " table                        \
	" WHERE " period " >= ?1 AND " period " < ?2"

static const char *const rstmt_sql[RS_COUNT_] = {
	[RS_BEGIN] = "BEGIN",
	[RS_COMMIT] = "COMMIT",
	[RS_ROLLBACK] = "ROLLBACK",
	[RS_EPOCH] = "SELECT epoch FROM checkpoint WHERE id = 1",
	[RS_TERM_ID] = "SELECT id FROM terms WHERE kind = ?1 AND term = ?2",
	[RS_TERM_NAME] = "SELECT kind, term FROM terms WHERE id = ?1",
	[RS_SERIES_MINUTE] = SERIES("term_minute", "minute_ms"),
	[RS_SERIES_HOUR] = SERIES("term_hour", "hour_ms"),
	[RS_SERIES_DAY] = SERIES("term_day", "day_ms"),
	[RS_SUM_MINUTE] = SUM("term_minute", "minute_ms"),
	[RS_SUM_HOUR] = SUM("term_hour", "hour_ms"),
	[RS_SUM_DAY] = SUM("term_day", "day_ms"),
	/* One period's terms by count: a range of term_*_top(_kind), no sorting. */
	[RS_TOP_HOUR] = "SELECT term_id, count FROM term_hour WHERE hour_ms = ?1"
			" ORDER BY count DESC LIMIT ?2",
	[RS_TOP_DAY] = "SELECT term_id, count FROM term_day WHERE day_ms = ?1"
		       " ORDER BY count DESC LIMIT ?2",
	[RS_TOP_HOUR_KIND] = "SELECT term_id, count FROM term_hour WHERE hour_ms = ?1 AND kind = ?3"
			     " ORDER BY count DESC LIMIT ?2",
	[RS_TOP_DAY_KIND] = "SELECT term_id, count FROM term_day WHERE day_ms = ?1 AND kind = ?3"
			    " ORDER BY count DESC LIMIT ?2",
	[RS_VOLUME_MINUTE] = VOLUME("volume_minute", "minute_ms"),
	[RS_VOLUME_HOUR] = VOLUME("volume_hour", "hour_ms"),
	[RS_VOLUME_DAY] = VOLUME("volume_day", "day_ms"),
	/* The newest stored minute at or before ?3, one ranking of it. */
	[RS_SNAPSHOT] = "SELECT minute_ms, json_extract(json, ?2) FROM snapshots"
			" WHERE win = ?1 AND minute_ms <= ?3 ORDER BY minute_ms DESC LIMIT 1",
};

/* Answers ------------------------------------------------------------------ */

static void answer_error(struct history_query *q, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void answer_error(struct history_query *q, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	q->status = status;
	q->csv = false;
	sb_free(&q->body);
	sb_puts(&q->body, "{\"error\":");
	sb_json_cstr(&q->body, msg);
	sb_putc(&q->body, '}');
}

static void put_time_csv(struct strbuf *sb, int64_t t_ms)
{
	char ts[32];
	clock_format_rfc3339(t_ms, ts, sizeof ts);
	sb_puts(sb, ts);
}

static const char *step_name(int64_t step_ms)
{
	return step_ms == HISTORY_DAY_MS ? "1d" : step_ms == HISTORY_HOUR_MS ? "1h" : "1m";
}

static enum gran gran_of(int64_t step_ms)
{
	return step_ms == HISTORY_DAY_MS ? G_DAY : step_ms == HISTORY_HOUR_MS ? G_HOUR : G_MINUTE;
}

/* Reader plumbing -------------------------------------------------------------- */

static int progress_cb(void *ctx)
{
	struct reader *r = ctx;
	return clock_mono_ms() > r->deadline_ms;
}

static void reader_close(struct reader *r)
{
	for (int i = 0; i < RS_COUNT_; i++) {
		sqlite3_finalize(r->st[i]);
		r->st[i] = NULL;
	}
	if (r->conn)
		sqlite3_close_v2(r->conn);
	r->conn = NULL;
}

static int reader_open(struct reader *r, char *err, size_t errlen)
{
	struct history_pool *p = r->pool;
	char sql[64];
	int rc = sqlite3_open_v2(p->path, &r->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
				 p->vfs);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open for history queries (%s)", p->path,
			 r->conn ? sqlite3_errmsg(r->conn) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(r->conn, 1);
	sqlite3_busy_timeout(r->conn, 5000);
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", HISTORY_CACHE_KB);
	sqlite3_exec(r->conn, sql, NULL, NULL, NULL);
	sqlite3_exec(r->conn, "PRAGMA trusted_schema = OFF", NULL, NULL, NULL);
	for (int i = 0; i < RS_COUNT_; i++) {
		rc = sqlite3_prepare_v3(r->conn, rstmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&r->st[i], NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "%s: cannot prepare history queries (%s)", p->path,
				 sqlite3_errmsg(r->conn));
			goto fail;
		}
	}
	sqlite3_progress_handler(r->conn, 1000, progress_cb, r);
	return 0;
fail:
	reader_close(r);
	return -EIO;
}

void history_txn_end(struct reader *r)
{
	if (!sqlite3_get_autocommit(r->conn)) {
		sqlite3_step(r->st[RS_COMMIT]);
		sqlite3_reset(r->st[RS_COMMIT]);
		if (!sqlite3_get_autocommit(r->conn)) {
			sqlite3_step(r->st[RS_ROLLBACK]);
			sqlite3_reset(r->st[RS_ROLLBACK]);
		}
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* The epoch check is why the transaction may start more than once (history_private.h). */
int history_txn_begin(struct reader *r, uint64_t need, uint64_t *epoch, bool *caught_up)
{
	int64_t until = clock_mono_ms() + r->pool->o.epoch_wait_ms;
	int wait = 5;
	int rc;

	/*
	 * The writer says when it has committed an epoch (db_committed_epoch()):
	 * wait for that in 1 ms steps first, so a query that arrives while the
	 * checkpoint commits waits for the commit and not for the next step of
	 * the growing pause below. The table read stays the authority.
	 */
	while (need && r->pool->db && db_committed_epoch(r->pool->db) < need &&
	       clock_mono_ms() < until)
		sleep_ms(1);
	for (;;) {
		if ((rc = sqlite3_step(r->st[RS_BEGIN])) != SQLITE_DONE) {
			sqlite3_reset(r->st[RS_BEGIN]);
			return rc;
		}
		sqlite3_reset(r->st[RS_BEGIN]);
		sqlite3_stmt *st = r->st[RS_EPOCH];
		rc = sqlite3_step(st);
		*epoch = rc == SQLITE_ROW ? (uint64_t)col_u(st, 0) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			history_txn_end(r);
			return rc;
		}
		*caught_up = *epoch >= need;
		if (*caught_up || clock_mono_ms() >= until)
			return SQLITE_OK;
		history_txn_end(r);
		sleep_ms(wait);
		if (wait < 100)
			wait *= 2;
	}
}

/* The live part ------------------------------------------------------------------ */

bool history_live_enabled(struct history_pool *p)
{
	return p->bus && !bus_stopping(p->bus) && !atomic_load(&p->stopping) &&
	       clock_mono_ms() >= atomic_load(&p->live_skip_until_ms);
}

/*
 * Asks the analytics thread; returns the answered request (the caller frees
 * it) or NULL. After a timeout, live answers are skipped for a while, doubling
 * while analytics stays silent, so a stalled analytics thread costs one query
 * the timeout, not every query.
 */
struct live_req *history_live_get(struct history_pool *p, struct live_req *req)
{
	int rc = live_ask(p->bus, req, p->o.live_timeout_ms);

	if (rc == 0 && req->rc == 0) {
		atomic_store(&p->live_backoff_ms, 0);
		return req;
	}
	if (rc != -ETIMEDOUT)
		live_req_free(req); /* answered with an error, or never queued */
	if (rc == 0)
		return NULL;
	long long b = atomic_load(&p->live_backoff_ms);
	b = b ? b * 2 : HISTORY_LIVE_BACKOFF_MS;
	if (b > HISTORY_LIVE_BACKOFF_MAX_MS)
		b = HISTORY_LIVE_BACKOFF_MAX_MS;
	atomic_store(&p->live_backoff_ms, b);
	atomic_store(&p->live_skip_until_ms, clock_mono_ms() + b);
	log_warn("history", "the analytics thread did not answer a history query (%s); "
		 "answering from the database alone for %lld s", rc == -ETIMEDOUT ? "timeout" :
		 "gone", b / 1000);
	return NULL;
}

static uint64_t live_need(struct live_req *const *reqs, size_t n)
{
	uint64_t need = 0;
	for (size_t i = 0; i < n; i++)
		if (reqs[i] && reqs[i]->checkpoint_epoch > need)
			need = reqs[i]->checkpoint_epoch;
	return need;
}

/* Series: /api/terms, /api/terms?terms=, /api/sentiment ------------------------- */

static size_t series_points(const struct history_query *q)
{
	return (size_t)((q->to_ms - q->from_ms) / q->step_ms);
}

/* Adds one row at t into pts when t is in the query's range. */
static void series_add(const struct history_query *q, struct acc *pts, int64_t t, uint64_t count,
		       uint64_t authors, double sent, uint64_t pos, uint64_t neg)
{
	if (t < q->from_ms || t >= q->to_ms)
		return;
	size_t i = (size_t)((history_floor(t, q->step_ms) - q->from_ms) / q->step_ms);
	acc_add(&pts[i], count, authors, sent, pos, neg);
}

static int series_rows(const struct history_query *q, sqlite3_stmt *st, struct acc *pts)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		series_add(q, pts, sqlite3_column_int64(st, 0), (uint64_t)col_u(st, 1),
			   (uint64_t)col_u(st, 2), sqlite3_column_double(st, 3),
			   (uint64_t)col_u(st, 4), (uint64_t)col_u(st, 5));
	st_done(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The stored rows of one term into pts (zeroed first). */
static int term_series_db(struct reader *r, const struct history_query *q,
			  const struct history_term *t, struct acc *pts, size_t n)
{
	sqlite3_stmt *st = r->st[RS_TERM_ID];
	int64_t id = 0;
	int rc;

	memset(pts, 0, n * sizeof *pts);
	sqlite3_bind_text(st, 1, term_kind_name(t->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->s, (int)t->len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	st_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (id == 0)
		return SQLITE_OK; /* never stored: all zeros */
	st = r->st[RS_SERIES_MINUTE + gran_of(q->step_ms)];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, q->from_ms);
	sqlite3_bind_int64(st, 3, q->to_ms);
	return series_rows(q, st, pts);
}

static int volume_series_db(struct reader *r, const struct history_query *q, struct acc *pts,
			    size_t n)
{
	sqlite3_stmt *st = r->st[RS_VOLUME_MINUTE + gran_of(q->step_ms)];

	memset(pts, 0, n * sizeof *pts);
	sqlite3_bind_int64(st, 1, q->from_ms);
	sqlite3_bind_int64(st, 2, q->to_ms);
	return series_rows(q, st, pts);
}

static void live_merge_series(const struct history_query *q, const struct live_req *req,
			      uint64_t epoch, struct acc *pts)
{
	if (!req)
		return;
	for (size_t i = 0; i < req->nrows; i++) {
		const struct live_row *row = &req->rows[i];
		if (row->epoch > epoch)
			series_add(q, pts, history_floor(row->minute_ms, HISTORY_MINUTE_MS),
				   row->count, row->authors, row->sent_sum, row->pos, row->neg);
	}
}

static void render_point_json(struct strbuf *sb, int64_t t, const struct acc *a)
{
	sb_puts(sb, "{\"t\":");
	put_time(sb, t);
	sb_puts(sb, ",\"count\":");
	sb_put_u64(sb, a->count);
	sb_puts(sb, ",\"authors\":");
	sb_put_u64(sb, a->authors);
	sb_puts(sb, ",\"sentiment\":");
	sb_put_double(sb, acc_mean(a), 4);
	sb_puts(sb, ",\"pos\":");
	sb_put_u64(sb, a->pos);
	sb_puts(sb, ",\"neg\":");
	sb_put_u64(sb, a->neg);
	sb_putc(sb, '}');
}

static void render_points_json(struct strbuf *sb, const struct history_query *q,
			       const struct acc *pts, size_t n)
{
	sb_puts(sb, "\"points\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(sb, ',');
		render_point_json(sb, q->from_ms + (int64_t)i * q->step_ms, &pts[i]);
	}
	sb_putc(sb, ']');
}

static void render_range_json(struct strbuf *sb, const struct history_query *q)
{
	sb_puts(sb, "\"from\":");
	put_time(sb, q->from_ms);
	sb_puts(sb, ",\"to\":");
	put_time(sb, q->to_ms);
	sb_puts(sb, ",\"step\":");
	sb_json_cstr(sb, step_name(q->step_ms));
	sb_puts(sb, ",\"live\":");
	sb_puts(sb, q->live ? "true" : "false");
}

static void render_terms(struct history_query *q, const struct acc *pts, size_t n)
{
	struct strbuf *sb = &q->body;

	if (q->format == HISTORY_CSV) {
		q->csv = true;
		sb_puts(sb, "t,term,kind,count,authors,sentiment,pos,neg\r\n");
		for (size_t k = 0; k < q->nterms; k++)
			for (size_t i = 0; i < n; i++) {
				const struct acc *a = &pts[k * n + i];
				put_time_csv(sb, q->from_ms + (int64_t)i * q->step_ms);
				sb_putc(sb, ',');
				sb_csv_field(sb, q->terms[k].s, q->terms[k].len);
				sb_putc(sb, ',');
				sb_puts(sb, term_kind_name(q->terms[k].kind));
				sb_printf(sb, ",%llu,%u,", (unsigned long long)a->count, a->authors);
				sb_put_double(sb, acc_mean(a), 4);
				sb_printf(sb, ",%llu,%llu\r\n", (unsigned long long)a->pos,
					  (unsigned long long)a->neg);
			}
		return;
	}
	if (q->what == HISTORY_TERM) {
		sb_puts(sb, "{\"term\":");
		sb_json_str(sb, q->terms[0].s, q->terms[0].len);
		sb_puts(sb, ",\"kind\":");
		sb_json_cstr(sb, term_kind_name(q->terms[0].kind));
		sb_putc(sb, ',');
		render_range_json(sb, q);
		sb_putc(sb, ',');
		render_points_json(sb, q, pts, n);
		sb_putc(sb, '}');
		return;
	}
	sb_putc(sb, '{');
	render_range_json(sb, q);
	sb_puts(sb, ",\"series\":[");
	for (size_t k = 0; k < q->nterms; k++) {
		if (k)
			sb_putc(sb, ',');
		sb_puts(sb, "{\"term\":");
		sb_json_str(sb, q->terms[k].s, q->terms[k].len);
		sb_puts(sb, ",\"kind\":");
		sb_json_cstr(sb, term_kind_name(q->terms[k].kind));
		sb_putc(sb, ',');
		render_points_json(sb, q, pts + k * n, n);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]}");
}

static void render_volume(struct history_query *q, const struct acc *pts, size_t n)
{
	struct strbuf *sb = &q->body;

	if (q->format == HISTORY_CSV) {
		q->csv = true;
		sb_puts(sb, "t,posts,sentiment,pos,neg,neu\r\n");
		for (size_t i = 0; i < n; i++) {
			const struct acc *a = &pts[i];
			uint64_t neu = a->count > a->pos + a->neg ? a->count - a->pos - a->neg : 0;
			put_time_csv(sb, q->from_ms + (int64_t)i * q->step_ms);
			sb_printf(sb, ",%llu,", (unsigned long long)a->count);
			sb_put_double(sb, acc_mean(a), 4);
			sb_printf(sb, ",%llu,%llu,%llu\r\n", (unsigned long long)a->pos,
				  (unsigned long long)a->neg, (unsigned long long)neu);
		}
		return;
	}
	sb_putc(sb, '{');
	render_range_json(sb, q);
	sb_puts(sb, ",\"points\":[");
	for (size_t i = 0; i < n; i++) {
		const struct acc *a = &pts[i];
		uint64_t neu = a->count > a->pos + a->neg ? a->count - a->pos - a->neg : 0;
		if (i)
			sb_putc(sb, ',');
		sb_puts(sb, "{\"t\":");
		put_time(sb, q->from_ms + (int64_t)i * q->step_ms);
		sb_puts(sb, ",\"posts\":");
		sb_put_u64(sb, a->count);
		sb_puts(sb, ",\"sentiment\":");
		sb_put_double(sb, acc_mean(a), 4);
		sb_puts(sb, ",\"pos\":");
		sb_put_u64(sb, a->pos);
		sb_puts(sb, ",\"neg\":");
		sb_put_u64(sb, a->neg);
		sb_puts(sb, ",\"neu\":");
		sb_put_u64(sb, neu);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]}");
}

/* Terms longer than this cannot be counted (LIMIT_TERM_BYTES): nothing live to ask. */
static bool live_term_possible(const struct history_term *t)
{
	return t->len > 0 && t->len < sizeof(((struct live_req *)0)->term);
}

static int run_series(struct reader *r, struct history_query *q)
{
	struct history_pool *p = r->pool;
	bool volume = q->what == HISTORY_SENTIMENT;
	size_t nseries = volume ? 1 : q->nterms, n = series_points(q);
	struct live_req *reqs[HISTORY_TERMS_MAX] = { 0 };
	struct acc *pts;
	uint64_t epoch = 0;
	bool caught_up = true;
	int rc;

	if (!(pts = calloc(n * nseries, sizeof *pts)))
		return SQLITE_NOMEM;
	q->live = p->bus != NULL;
	for (size_t k = 0; k < nseries && q->live; k++) {
		if (!volume && !live_term_possible(&q->terms[k]))
			continue; /* nothing live can match it */
		struct live_req *req;
		if (!history_live_enabled(p) || !(req = live_req_new(volume ? LIVE_VOLUME : LIVE_TERM))) {
			q->live = false;
			break;
		}
		req->from_ms = q->from_ms;
		req->to_ms = q->to_ms;
		if (!volume) {
			req->kind = q->terms[k].kind;
			memcpy(req->term, q->terms[k].s, q->terms[k].len);
			req->term_len = q->terms[k].len;
		}
		if (!(reqs[k] = history_live_get(p, req)))
			q->live = false;
	}
	if ((rc = history_txn_begin(r, live_need(reqs, nseries), &epoch, &caught_up)) != SQLITE_OK)
		goto out;
	for (size_t k = 0; k < nseries && rc == SQLITE_OK; k++)
		rc = volume ? volume_series_db(r, q, pts, n)
			    : term_series_db(r, q, &q->terms[k], pts + k * n, n);
	history_txn_end(r);
	if (rc != SQLITE_OK)
		goto out;
	if (!caught_up)
		q->live = false; /* the newest checkpoint did not commit in time */
	for (size_t k = 0; k < nseries; k++)
		live_merge_series(q, reqs[k], epoch, pts + k * n);
	if (volume)
		render_volume(q, pts, n);
	else
		render_terms(q, pts, n);
out:
	for (size_t k = 0; k < nseries; k++)
		live_req_free(reqs[k]);
	free(pts);
	return rc;
}

/* Snapshots ---------------------------------------------------------------------- */

static int run_snapshot(struct reader *r, struct history_query *q)
{
	sqlite3_stmt *st = r->st[RS_SNAPSHOT];
	int rc;

	sqlite3_bind_text(st, 1, window_name(q->window), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->sort == SORT_COUNT ? "$.count" : "$.score", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, q->at_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) == SQLITE_TEXT) {
		sb_append(&q->body, (const char *)sqlite3_column_text(st, 1),
			  (size_t)sqlite3_column_bytes(st, 1));
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		char ts[32];
		clock_format_rfc3339(q->at_ms, ts, sizeof ts);
		answer_error(q, 404, "no %s snapshot stored at or before %s", window_name(q->window),
			     ts);
	}
	st_done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The readers -------------------------------------------------------------------- */

static bool query_valid(const struct history_query *q)
{
	if (q->from_ms >= q->to_ms && q->what != HISTORY_SNAPSHOT)
		return false;
	switch (q->what) {
	case HISTORY_TERM:
	case HISTORY_COMPARE:
		if (q->nterms == 0 || (q->what == HISTORY_TERM && q->nterms != 1))
			return false;
		for (size_t i = 0; i < q->nterms; i++)
			if (q->terms[i].kind < 0 || q->terms[i].kind >= TERM_KIND_COUNT)
				return false;
		/* fall through */
	case HISTORY_SENTIMENT:
		if (q->step_ms != HISTORY_MINUTE_MS && q->step_ms != HISTORY_HOUR_MS &&
		    q->step_ms != HISTORY_DAY_MS)
			return false;
		return history_floor(q->from_ms, q->step_ms) == q->from_ms &&
		       history_floor(q->to_ms, q->step_ms) == q->to_ms &&
		       (q->to_ms - q->from_ms) / q->step_ms <= HISTORY_POINTS_MAX;
	case HISTORY_TOP:
		return q->kind >= 0 && q->kind <= TERM_KIND_ALL && q->limit >= 1 &&
		       q->limit <= HISTORY_TOP_LIMIT_MAX &&
		       history_floor(q->from_ms, HISTORY_MINUTE_MS) == q->from_ms &&
		       history_floor(q->to_ms, HISTORY_MINUTE_MS) == q->to_ms &&
		       q->to_ms - q->from_ms <= HISTORY_TOP_RANGE_MAX_MS;
	case HISTORY_SNAPSHOT:
		return q->window >= 0 && q->window < WINDOW_COUNT && q->sort >= 0 &&
		       q->sort < SORT_COUNT_;
	}
	return false;
}

/*
 * The reader's connection for the next query: none while the db is
 * unavailable (the file is corrupt or foreign; the answer is 503), a new one
 * after the writer opened the file again. False when q is answered already.
 */
static bool reader_ready(struct reader *r, struct history_query *q)
{
	struct history_pool *p = r->pool;
	char why[512];

	if (!db_available(p->db)) {
		reader_close(r);
		db_unavailable_reason(p->db, why, sizeof why);
		answer_error(q, 503, "the database is unavailable: %s; live trends keep updating "
				     "and history returns once the file is a usable database", why);
		return false;
	}
	uint64_t gen = db_generation(p->db);
	if (r->conn && r->conn_gen != gen)
		reader_close(r);
	if (!r->conn) {
		if (reader_open(r, why, sizeof why) < 0) {
			answer_error(q, 503, "%s", why);
			return false;
		}
		r->conn_gen = gen;
	}
	return true;
}

static void run(struct reader *r, struct history_query *q)
{
	int rc;

	q->status = 200;
	q->csv = false;
	q->live = false;
	sb_free(&q->body);
	if (!query_valid(q)) {
		answer_error(q, 400, "invalid history query");
		return;
	}
	if (!reader_ready(r, q))
		return;
	r->deadline_ms = clock_mono_ms() + r->pool->o.query_timeout_ms;
	switch (q->what) {
	case HISTORY_TERM:
	case HISTORY_COMPARE:
	case HISTORY_SENTIMENT:
		rc = run_series(r, q);
		break;
	case HISTORY_TOP:
		rc = history_run_top(r, q);
		break;
	case HISTORY_SNAPSHOT:
		rc = run_snapshot(r, q);
		break;
	default:
		rc = SQLITE_MISUSE;
	}
	if (!sqlite3_get_autocommit(r->conn))
		history_txn_end(r);
	if (rc == SQLITE_OK && q->body.failed)
		rc = SQLITE_NOMEM;
	if (rc == SQLITE_OK)
		return;
	if ((rc & 0xff) == SQLITE_INTERRUPT)
		answer_error(q, 503, "the history query took longer than %d ms; ask for a shorter "
				     "range or a larger step", r->pool->o.query_timeout_ms);
	else if (rc == SQLITE_NOMEM)
		answer_error(q, 503, "out of memory answering the history query");
	else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		answer_error(q, 503, "%s: the database file is damaged (%s)", r->pool->path,
			     sqlite3_errstr(rc));
	else
		answer_error(q, 500, "%s: history query failed (%s)", r->pool->path,
			     sqlite3_errstr(rc));
	if (rc != SQLITE_NOMEM && (rc & 0xff) != SQLITE_INTERRUPT)
		log_warn("history", "%s: query failed: %s", r->pool->path, sqlite3_errmsg(r->conn));
	/* A damaged file: the next query starts on a new connection (or finds the db unavailable). */
	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		reader_close(r);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct history_pool *p = r->pool;
	void *item;

	while (queue_pop_batch(&p->q, &item, 1, -1) == 1) {
		struct history_query *q = item;
		if (atomic_load(&p->stopping))
			answer_error(q, 503, "trendd is shutting down");
		else
			run(r, q);
		q->done(q, q->done_ctx);
	}
	return NULL;
}

int history_pool_start(struct history_pool **out, struct db *db, struct bus *bus,
		       const struct history_options *opt, char *err, size_t errlen)
{
	const struct db_options *dbo = db_options_get(db);
	struct history_pool *p;
	int rc;

	*out = NULL;
	if (!(p = calloc(1, sizeof *p))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (opt)
		p->o = *opt;
	if (p->o.readers <= 0)
		p->o.readers = HISTORY_READERS;
	if (p->o.readers > READERS_MAX)
		p->o.readers = READERS_MAX;
	if (p->o.live_timeout_ms <= 0)
		p->o.live_timeout_ms = HISTORY_LIVE_TIMEOUT_MS;
	if (p->o.query_timeout_ms <= 0)
		p->o.query_timeout_ms = HISTORY_QUERY_TIMEOUT_MS;
	if (p->o.epoch_wait_ms <= 0)
		p->o.epoch_wait_ms = HISTORY_EPOCH_WAIT_MS;
	p->bus = bus;
	p->db = db;
	p->retain_minute_ms = dbo->retain_minute_ms;
	p->retain_hour_ms = dbo->retain_hour_ms;
	p->clock_ms = dbo->clock_ms ? dbo->clock_ms : clock_now_ms;
	atomic_init(&p->stopping, false);
	atomic_init(&p->live_skip_until_ms, 0);
	atomic_init(&p->live_backoff_ms, 0);
	if (!(p->path = strdup(db_path(db))) || (dbo->vfs && !(p->vfs = strdup(dbo->vfs))) ||
	    queue_init(&p->q, HISTORY_QUEUE_MAX) < 0) {
		free(p->path);
		free(p->vfs);
		free(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/*
	 * Connections open now, so a file that cannot serve queries is reported
	 * at start; without the file (db unavailable) they open once it is back.
	 */
	for (int i = 0; i < p->o.readers; i++) {
		p->r[i].pool = p;
		p->r[i].conn_gen = db_generation(db);
		if (db_available(db) && (rc = reader_open(&p->r[i], err, errlen)) < 0)
			goto fail;
		p->nreaders++;
	}
	for (int i = 0; i < p->nreaders; i++) {
		if ((rc = pthread_create(&p->r[i].thread, NULL, reader_main, &p->r[i])) != 0) {
			snprintf(err, errlen, "cannot start a history reader: %s", strerror(rc));
			rc = -rc;
			goto fail;
		}
		p->r[i].started = true;
	}
	*out = p;
	return 0;
fail:
	history_pool_stop(p);
	return rc;
}

int history_submit(struct history_pool *p, struct history_query *q)
{
	if (atomic_load(&p->stopping))
		return -EPIPE;
	int rc = queue_try_push(&p->q, q);
	return rc == -EAGAIN ? -EAGAIN : rc < 0 ? -EPIPE : 0;
}

int history_submit_ctx(void *ctx, struct history_query *q) { return history_submit(ctx, q); }

void history_pool_stop(struct history_pool *p)
{
	if (!p)
		return;
	atomic_store(&p->stopping, true);
	queue_close(&p->q);
	for (int i = 0; i < p->nreaders; i++) {
		if (p->r[i].started)
			pthread_join(p->r[i].thread, NULL);
		reader_close(&p->r[i]);
	}
	/* A reader that never started leaves its queries: answer them here. */
	void *item;
	while (queue_pop_batch(&p->q, &item, 1, 0) == 1) {
		struct history_query *q = item;
		answer_error(q, 503, "trendd is shutting down");
		q->done(q, q->done_ctx);
	}
	queue_destroy(&p->q);
	free(p->path);
	free(p->vfs);
	free(p);
}
