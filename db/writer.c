/*
 * writer.c - the db writer thread: takes struct dbmsg off bus->db, writes
 * each batch in one transaction and publishes its health on bus->db_status.
 *
 * The thread owns struct db_writer and, while it runs, the write connection.
 * Messages move from the queue into `pending` and leave it only when the
 * transaction holding them commits (they are freed) or when the retry caps
 * force the oldest out (they are counted as dropped). So a batch that fails is
 * retried whole, and nothing is counted twice: a failed transaction leaves no
 * trace in the file.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/snapshot_json.h"
#include "core/strbuf.h"
#include "core/term.h"
#include "db/db_private.h"
#include "db/term_cache.h"

/* Longest idle wait on the queue: how soon the writer notices db_writer_stop(). */
#define IDLE_POLL_MS 100
#define MINUTE_MS    60000

struct db_writer {
	pthread_t thread;
	atomic_bool stop;
	struct db *db;                /* borrowed */
	struct bus *bus;              /* borrowed */
	struct term_cache cache;
	void **popbuf;                /* owned; opt.batch_max slots */
	struct strbuf sb;             /* snapshot JSON, reused */

	/* Taken from the queue, not yet committed; oldest first. */
	struct dbmsg **pending;       /* owned array of owned messages (NULL = hole) */
	size_t npending, cap_pending;
	size_t nlive;                 /* non-NULL entries; npending once compacted */
	size_t pending_rows;          /* term-minute rows in pending */
	size_t pending_snapshots;

	/* Failure state: set by a failed batch, cleared by the next commit. */
	bool failing;
	bool reconnect;               /* reopen the connection before the next try */
	bool drop_logged;             /* "dropping" logged in this failure episode */
	char err[512];
	char logged_err[512];         /* last error logged: each distinct one once */
	char logged_skip[256];        /* last skip reason logged */
	int64_t error_since_ms;       /* wall time of the first failure, 0 = none */
	int64_t retry_at_ms;          /* monotonic */
	int retry_wait_ms;

	/* Totals for the status blob. */
	uint64_t rows_written, rows_skipped, rows_dropped, msgs_dropped;
	uint64_t batches, failed_batches;
	double last_batch_ms;
	int64_t last_commit_ms;       /* wall time, 0 = never */

	/* The batch being written; folded into the totals on commit. */
	uint64_t b_rows, b_skipped;
};

/* SQLite rejected this row on its own: skip it, the rest of the batch goes on. */
static bool rc_is_row_error(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return true;
	default:
		return false;
	}
}

/* Errors a fresh file handle can cure (the file became writable, moved, came back). */
static bool rc_wants_reconnect(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_NOTADB:
		return true;
	default:
		return false;
	}
}

static void skip_row(struct db_writer *w, const char *reason)
{
	w->b_skipped++;
	if (strcmp(reason, w->logged_skip) != 0) {
		log_warn("db", "skipping a row: %s", reason);
		snprintf(w->logged_skip, sizeof w->logged_skip, "%s", reason);
	}
}

static int64_t floor_minute(int64_t t_ms)
{
	int64_t r = t_ms % MINUTE_MS;
	return t_ms - (r < 0 ? r + MINUTE_MS : r);
}

static int64_t clamp_i64(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (int64_t)v; }

static bool term_is_valid(const struct term_minute_row *r)
{
	if (!r->term || r->term_len == 0 || r->term_len > LIMIT_TERM_BYTES)
		return false;
	const unsigned char *p = (const unsigned char *)r->term;
	for (size_t i = 0; i < r->term_len;) {
		size_t k = utf8_seq_len(p + i, r->term_len - i);
		if (k == 0 || p[i] == 0)
			return false;
		i += k;
	}
	return true;
}

/* Finds or creates the terms row; *id = 0 when SQLite rejected the row itself. */
static int term_id(struct db_writer *w, const struct term_minute_row *r, int64_t *id)
{
	struct db *db = w->db;
	const char *kind = term_kind_name(r->kind);
	sqlite3_stmt *st;
	int rc;

	if ((*id = term_cache_get(&w->cache, r->kind, r->term, r->term_len)) > 0)
		return SQLITE_OK;
	st = db->st[ST_TERM_FIND];
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->term, (int)r->term_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE) {
		st = db->st[ST_TERM_INSERT];
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->term, (int)r->term_len, SQLITE_STATIC);
		if ((rc = db_stmt_run(st)) == SQLITE_OK)
			*id = sqlite3_last_insert_rowid(db->conn);
	} else if (rc == SQLITE_ROW) {
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		return rc_is_row_error(rc) ? SQLITE_OK : rc;
	/* Out of memory only costs a lookup next time. */
	(void)term_cache_put(&w->cache, r->kind, r->term, r->term_len, *id);
	return SQLITE_OK;
}

static int apply_term_minutes(struct db_writer *w, const struct dbmsg *m)
{
	sqlite3_stmt *st = w->db->st[ST_TERM_MINUTE_ADD];
	int rc;

	for (size_t i = 0; i < m->u.minutes.n; i++) {
		const struct term_minute_row *r = &m->u.minutes.rows[i];
		int64_t id;
		if (r->kind >= TERM_KIND_COUNT) {
			skip_row(w, "term row with an unknown kind");
			continue;
		}
		if (!term_is_valid(r)) {
			skip_row(w, "term row with an empty, over-long or invalid UTF-8 term");
			continue;
		}
		if ((rc = term_id(w, r, &id)) != SQLITE_OK)
			return rc;
		if (id == 0) {
			skip_row(w, "term rejected by the terms table");
			continue;
		}
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, floor_minute(r->minute_ms));
		sqlite3_bind_int64(st, 3, r->count);
		sqlite3_bind_int64(st, 4, r->authors);
		sqlite3_bind_double(st, 5, isfinite(r->sent_sum) ? r->sent_sum : 0.0);
		sqlite3_bind_int64(st, 6, r->pos);
		sqlite3_bind_int64(st, 7, r->neg);
		rc = db_stmt_run(st);
		if (rc == SQLITE_OK) {
			w->b_rows++;
		} else if (rc_is_row_error(rc)) {
			skip_row(w, "term_minute row rejected");
		} else {
			return rc;
		}
	}
	return SQLITE_OK;
}

/*
 * One snapshots row per global window: {"score":{…},"count":{…}}, each the
 * GET /api/trends document for kind "all" with the top SNAPSHOT_TOP_K.
 */
static int apply_snapshot(struct db_writer *w, const struct dbmsg *m)
{
	const struct snapshot *s = m->u.snapshot;
	sqlite3_stmt *st = w->db->st[ST_SNAPSHOT_PUT];
	int rc;

	if (!s) {
		skip_row(w, "snapshot message without a snapshot");
		return SQLITE_OK;
	}
	for (int win = 0; win < WINDOW_COUNT; win++) {
		if (!snapshot_find_view(s, win, "", 0))
			continue;
		struct trends_query q = { .window = win, .kind = TERM_KIND_ALL, .sort = SORT_SCORE,
					  .limit = SNAPSHOT_TOP_K, .lang = "", .source_id = 0 };
		sb_reset(&w->sb);
		sb_puts(&w->sb, "{\"score\":{");
		snapshot_json_members(&w->sb, s, &q);
		q.sort = SORT_COUNT;
		sb_puts(&w->sb, "},\"count\":{");
		snapshot_json_members(&w->sb, s, &q);
		sb_puts(&w->sb, "}}");
		if (w->sb.failed) {
			sb_free(&w->sb);
			return SQLITE_NOMEM;
		}
		sqlite3_bind_int64(st, 1, floor_minute(s->generated_ms));
		sqlite3_bind_text(st, 2, window_name(win), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, s->generated_ms);
		sqlite3_bind_text(st, 4, w->sb.buf, (int)w->sb.len, SQLITE_STATIC);
		rc = db_stmt_run(st);
		if (rc == SQLITE_OK)
			w->b_rows++;
		else if (rc_is_row_error(rc))
			skip_row(w, "snapshot row rejected");
		else
			return rc;
	}
	return SQLITE_OK;
}

static int apply_source_state(struct db_writer *w, const struct dbmsg *m)
{
	const struct source_state *ss = &m->u.source;
	sqlite3_stmt *st = w->db->st[ST_SOURCE_STATE];
	int rc;

	sqlite3_bind_int64(st, 1, ss->source_id);
	if (ss->cursor)   /* NULL or "" keeps the stored cursor */
		sqlite3_bind_text(st, 2, ss->cursor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ss->last_ok_ms);
	sqlite3_bind_text(st, 4, ss->last_error ? ss->last_error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, ss->last_error_ms);
	sqlite3_bind_int64(st, 6, clamp_i64(ss->posts_seen));
	sqlite3_bind_int64(st, 7, clamp_i64(ss->items_skipped));
	rc = db_stmt_run(st);
	if (rc == SQLITE_OK && sqlite3_changes(w->db->conn) == 1)
		w->b_rows++;
	else if (rc == SQLITE_OK)
		skip_row(w, "state for a source that is not stored (deleted?)");
	else if (rc_is_row_error(rc))
		skip_row(w, "source state rejected");
	else
		return rc;
	return SQLITE_OK;
}

/*
 * A source saved through the API. Errors that are the request's fault (name
 * taken, too many sources, no such id, bad settings) answer the request and
 * leave the batch alone; only storage errors fail the batch.
 */
static int apply_source_save(struct db_writer *w, struct dbmsg *m)
{
	struct source_config *c = &m->u.save.cfg;
	const char *params = c->params_json && c->params_json[0] ? c->params_json : "{}";
	sqlite3_stmt *st;
	int rc;

	m->rc = 0;
	if (!c->name || !c->name[0] || !c->kind[0] || !db_params_valid(params)) {
		m->rc = -EINVAL;
		snprintf(m->error, sizeof m->error, "a source needs a kind, a name and params "
						    "that are a JSON object");
		return SQLITE_OK;
	}
	if (c->id == 0) {
		st = w->db->st[ST_SOURCE_INSERT];
		sqlite3_bind_text(st, 1, c->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, c->url ? c->url : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, c->enabled ? 1 : 0);
		sqlite3_bind_int(st, 5, c->interval_s);
		sqlite3_bind_text(st, 6, params, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, clock_now_ms());
		sqlite3_bind_int64(st, 8, LIMIT_SOURCES);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			c->id = sqlite3_column_int64(st, 0);
			rc = sqlite3_step(st);
		} else if (rc == SQLITE_DONE) {
			m->rc = -ENOSPC;
			snprintf(m->error, sizeof m->error, "trendd keeps at most %d sources",
				 LIMIT_SOURCES);
		}
	} else {
		st = w->db->st[ST_SOURCE_UPDATE];
		sqlite3_bind_int64(st, 1, c->id);
		sqlite3_bind_text(st, 2, c->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, c->url ? c->url : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, c->enabled ? 1 : 0);
		sqlite3_bind_int(st, 6, c->interval_s);
		sqlite3_bind_text(st, 7, params, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 8, m->u.save.reset_cursor ? 1 : 0);
		sqlite3_bind_int64(st, 9, clock_now_ms());
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE && sqlite3_changes(w->db->conn) == 0) {
			m->rc = -ENOENT;
			snprintf(m->error, sizeof m->error, "no source with id %lld",
				 (long long)c->id);
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE) {
		if (m->rc == 0)
			w->b_rows++;
		return SQLITE_OK;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		m->rc = -EEXIST;
		snprintf(m->error, sizeof m->error, "a source named \"%.64s\" already exists",
			 c->name);
		return SQLITE_OK;
	}
	return rc;
}

static int apply_source_delete(struct db_writer *w, struct dbmsg *m)
{
	sqlite3_stmt *st = w->db->st[ST_SOURCE_DELETE];
	int rc;

	sqlite3_bind_int64(st, 1, m->u.delete_id);
	rc = db_stmt_run(st);
	if (rc != SQLITE_OK)
		return rc;
	m->rc = 0;
	if (sqlite3_changes(w->db->conn) == 0) {
		m->rc = -ENOENT;
		snprintf(m->error, sizeof m->error, "no source with id %lld",
			 (long long)m->u.delete_id);
	} else {
		w->b_rows++;
	}
	return SQLITE_OK;
}

static int apply(struct db_writer *w, struct dbmsg *m)
{
	switch (m->kind) {
	case DBMSG_TERM_MINUTES:
		return apply_term_minutes(w, m);
	case DBMSG_SNAPSHOT:
		return apply_snapshot(w, m);
	case DBMSG_SOURCE_STATE:
		return apply_source_state(w, m);
	case DBMSG_SOURCE_SAVE:
		return apply_source_save(w, m);
	case DBMSG_SOURCE_DELETE:
		return apply_source_delete(w, m);
	}
	skip_row(w, "message of an unknown kind");
	return SQLITE_OK;
}

static void status_publish(struct db_writer *w);

/* Pending messages ------------------------------------------------------- */

static size_t msg_rows(const struct dbmsg *m)
{
	return m->kind == DBMSG_TERM_MINUTES ? m->u.minutes.n : 0;
}

static int pending_append(struct db_writer *w, struct dbmsg *m)
{
	if (w->npending == w->cap_pending) {
		size_t ncap = w->cap_pending ? w->cap_pending * 2 : 256;
		struct dbmsg **nv = realloc(w->pending, ncap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		w->pending = nv;
		w->cap_pending = ncap;
	}
	w->pending[w->npending++] = m;
	w->nlive++;
	w->pending_rows += msg_rows(m);
	if (m->kind == DBMSG_SNAPSHOT)
		w->pending_snapshots++;
	return 0;
}

/* Frees pending[i] (or hands it to its requester) and leaves a hole for pending_compact(). */
static void pending_remove(struct db_writer *w, size_t i)
{
	struct dbmsg *m = w->pending[i];
	w->pending_rows -= msg_rows(m);
	if (m->kind == DBMSG_SNAPSHOT)
		w->pending_snapshots--;
	w->pending[i] = NULL;
	w->nlive--;
	if (m->done)
		m->done(m, m->done_ctx);
	else
		dbmsg_free(m);
}

static void pending_compact(struct db_writer *w)
{
	size_t j = 0;
	for (size_t i = 0; i < w->npending; i++)
		if (w->pending[i])
			w->pending[j++] = w->pending[i];
	w->npending = j;
}

/*
 * Answers the requests in a failed batch with the error: a person is waiting
 * for them, and retrying behind their back after they gave up would surprise
 * more than the error does.
 */
static void pending_fail_requests(struct db_writer *w, const char *err)
{
	for (size_t i = 0; i < w->npending; i++) {
		struct dbmsg *m = w->pending[i];
		if (!m || !m->done)
			continue;
		m->rc = -EIO;
		snprintf(m->error, sizeof m->error, "database write failed: %s", err);
		pending_remove(w, i);
	}
	pending_compact(w);
}

static void pending_drop(struct db_writer *w, size_t i)
{
	w->msgs_dropped++;
	w->rows_dropped += msg_rows(w->pending[i]);
	pending_remove(w, i);
}

static void pending_clear(struct db_writer *w)
{
	for (size_t i = 0; i < w->npending; i++)
		if (w->pending[i])
			pending_remove(w, i);
	w->npending = 0;
}

static bool pending_over_caps(const struct db_writer *w)
{
	const struct db_options *o = &w->db->opt;
	return w->nlive > o->retry_max_msgs || w->pending_rows > o->retry_max_rows ||
	       w->pending_snapshots > o->retry_max_snapshots;
}

/*
 * Keeps the retry backlog within its caps while writes fail. First merges
 * what is superseded without loss (a source's state is replaced by its next
 * one), then drops the oldest snapshots and term-minute messages and counts
 * them.
 */
static void pending_trim(struct db_writer *w)
{
	const struct db_options *o = &w->db->opt;
	uint64_t dropped = w->msgs_dropped;

	if (!pending_over_caps(w))
		return;
	for (size_t i = 0; i < w->npending; i++) {
		struct dbmsg *m = w->pending[i];
		if (!m || m->kind != DBMSG_SOURCE_STATE)
			continue;
		for (size_t j = i + 1; j < w->npending; j++) {
			struct dbmsg *n = w->pending[j];
			if (n && n->kind == DBMSG_SOURCE_STATE &&
			    n->u.source.source_id == m->u.source.source_id) {
				/* Keep a cursor the newer state does not replace. */
				if (!n->u.source.cursor || !n->u.source.cursor[0]) {
					free(n->u.source.cursor);
					n->u.source.cursor = m->u.source.cursor;
					m->u.source.cursor = NULL;
				}
				pending_remove(w, i);
				break;
			}
		}
	}
	for (size_t i = 0; i < w->npending && w->pending_snapshots > o->retry_max_snapshots; i++)
		if (w->pending[i] && w->pending[i]->kind == DBMSG_SNAPSHOT)
			pending_drop(w, i);
	for (size_t i = 0; i < w->npending && pending_over_caps(w); i++)
		if (w->pending[i] && w->pending[i]->kind == DBMSG_TERM_MINUTES)
			pending_drop(w, i);
	/* Only source states left over the message cap: the oldest go. */
	for (size_t i = 0; i < w->npending && pending_over_caps(w); i++)
		if (w->pending[i])
			pending_drop(w, i);
	pending_compact(w);
	if (!w->drop_logged && w->msgs_dropped > 0) {
		log_error("db", "writes keep failing; dropping the oldest history to stay within "
			  "%zu messages / %zu rows (%llu messages dropped so far)",
			  o->retry_max_msgs, o->retry_max_rows,
			  (unsigned long long)w->msgs_dropped);
		w->drop_logged = true;
	}
	if (w->msgs_dropped != dropped)
		status_publish(w);
}

/* Status ------------------------------------------------------------------ */

static void put_time_or_null(struct strbuf *sb, int64_t t_ms)
{
	char ts[32];
	if (t_ms == 0) {
		sb_puts(sb, "null");
		return;
	}
	clock_format_rfc3339_ms(t_ms, ts, sizeof ts);
	sb_json_cstr(sb, ts);
}

static void status_publish(struct db_writer *w)
{
	struct strbuf sb = STRBUF_INIT;
	struct blob *b;
	size_t len;
	char *s;

	sb_puts(&sb, "{\"ok\":");
	sb_puts(&sb, w->failing ? "false" : "true");
	sb_puts(&sb, ",\"error\":");
	if (w->failing)
		sb_json_cstr(&sb, w->err);
	else
		sb_puts(&sb, "null");
	sb_puts(&sb, ",\"error_since\":");
	put_time_or_null(&sb, w->failing ? w->error_since_ms : 0);
	sb_puts(&sb, ",\"queue_depth\":");
	sb_put_u64(&sb, queue_depth(&w->bus->db));
	sb_puts(&sb, ",\"pending\":");
	sb_put_u64(&sb, w->npending);
	sb_puts(&sb, ",\"rows_written\":");
	sb_put_u64(&sb, w->rows_written);
	sb_puts(&sb, ",\"rows_skipped\":");
	sb_put_u64(&sb, w->rows_skipped);
	sb_puts(&sb, ",\"rows_dropped\":");
	sb_put_u64(&sb, w->rows_dropped);
	sb_puts(&sb, ",\"msgs_dropped\":");
	sb_put_u64(&sb, w->msgs_dropped);
	sb_puts(&sb, ",\"batches\":");
	sb_put_u64(&sb, w->batches);
	sb_puts(&sb, ",\"failed_batches\":");
	sb_put_u64(&sb, w->failed_batches);
	sb_puts(&sb, ",\"terms_cached\":");
	sb_put_u64(&sb, w->cache.n);
	sb_puts(&sb, ",\"last_batch_ms\":");
	sb_put_double(&sb, w->last_batch_ms, 3);
	sb_puts(&sb, ",\"last_commit_at\":");
	put_time_or_null(&sb, w->last_commit_ms);
	sb_putc(&sb, '}');
	if (sb.failed) {
		sb_free(&sb);
		return;   /* the previous status stays up */
	}
	s = sb_detach(&sb, &len);
	if (!(b = blob_take(s, len)))
		return;
	publish_set(&w->bus->db_status, &b->ref);
	bus_wake_web(w->bus);
}

/* Batches ----------------------------------------------------------------- */

static void batch_failed(struct db_writer *w, int rc, const char *err)
{
	struct db *db = w->db;

	if (db->conn && !sqlite3_get_autocommit(db->conn))
		(void)db_stmt_run(db->st[ST_ROLLBACK]);
	/* Ids inserted by the rolled-back transaction are gone (and may be reused). */
	term_cache_clear(&w->cache);
	w->failed_batches++;
	if (!w->failing) {
		w->failing = true;
		w->error_since_ms = clock_now_ms();
		w->retry_wait_ms = db->opt.retry_min_ms;
		w->drop_logged = false;
	} else {
		w->retry_wait_ms *= 2;
		if (w->retry_wait_ms > db->opt.retry_max_ms)
			w->retry_wait_ms = db->opt.retry_max_ms;
	}
	w->retry_at_ms = clock_mono_ms() + w->retry_wait_ms;
	w->reconnect = w->reconnect || rc_wants_reconnect(rc);
	snprintf(w->err, sizeof w->err, "%s", err);
	pending_fail_requests(w, err);
	if (strcmp(w->err, w->logged_err) != 0) {
		log_error("db", "%s; keeping %zu messages and retrying", w->err, w->npending);
		snprintf(w->logged_err, sizeof w->logged_err, "%s", w->err);
	}
}

static void batch_committed(struct db_writer *w)
{
	if (w->failing)
		log_info("db", "%s: writes resumed after %lld ms", w->db->path,
			 (long long)(clock_now_ms() - w->error_since_ms));
	w->failing = false;
	w->error_since_ms = 0;
	w->err[0] = 0;
	w->logged_err[0] = 0;
	w->retry_wait_ms = 0;
	w->rows_written += w->b_rows;
	w->rows_skipped += w->b_skipped;
	w->batches++;
	w->last_commit_ms = clock_now_ms();
	pending_clear(w);
}

/* Writes every pending message in one transaction. */
static void batch_write(struct db_writer *w)
{
	struct db *db = w->db;
	int64_t t0 = clock_mono_us();
	const char *what = "start a transaction";
	char err[512];
	int rc;

	w->b_rows = w->b_skipped = 0;
	if (w->reconnect || !db->conn) {
		if ((rc = db_conn_reopen(db, err, sizeof err)) != SQLITE_OK) {
			batch_failed(w, rc, err);
			goto out;
		}
		w->reconnect = false;
	}
	if ((rc = db_stmt_run(db->st[ST_BEGIN])) != SQLITE_OK)
		goto fail;
	what = "write a batch";
	for (size_t i = 0; i < w->npending; i++)
		if ((rc = apply(w, w->pending[i])) != SQLITE_OK)
			goto fail;
	what = "commit a batch";
	if ((rc = db_stmt_run(db->st[ST_COMMIT])) != SQLITE_OK)
		goto fail;
	batch_committed(w);
	goto out;
fail:
	db_describe_error(db, rc, what, err, sizeof err);
	batch_failed(w, rc, err);
out:
	w->last_batch_ms = (double)(clock_mono_us() - t0) / 1000.0;
}

/* The thread --------------------------------------------------------------- */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static size_t take(struct db_writer *w, size_t max, int wait_ms)
{
	size_t n = queue_pop_batch(&w->bus->db, w->popbuf, max, wait_ms);
	for (size_t i = 0; i < n; i++) {
		if (pending_append(w, w->popbuf[i]) < 0) {
			/* No memory to keep it: it is lost, and counted. */
			w->msgs_dropped++;
			w->rows_dropped += msg_rows(w->popbuf[i]);
			dbmsg_free(w->popbuf[i]);
		}
	}
	return n;
}

/*
 * Takes messages for the next batch: waits up to wait_ms for the first, then
 * (unless stopping or failing) keeps gathering for batch_ms or until
 * batch_max messages, so bursts share one transaction.
 */
static size_t collect(struct db_writer *w, int wait_ms, bool gather)
{
	const struct db_options *o = &w->db->opt;
	size_t got = take(w, o->batch_max, wait_ms);

	if (got == 0) {
		/* A closed queue returns at once; do not spin until the next retry. */
		if (wait_ms > 0 && queue_is_closed(&w->bus->db))
			sleep_ms(wait_ms);
		return 0;
	}
	if (gather) {
		int64_t deadline = clock_mono_ms() + o->batch_ms;
		while (got < o->batch_max) {
			int64_t left = deadline - clock_mono_ms();
			if (left <= 0)
				break;
			size_t k = take(w, o->batch_max - got, (int)left);
			if (k == 0)
				break;
			got += k;
		}
	}
	/* Healthy, pending is just this batch; failing, it is the backlog. */
	if (w->failing)
		pending_trim(w);
	return got;
}

static void *writer_main(void *arg)
{
	struct db_writer *w = arg;
	const struct db_options *o = &w->db->opt;
	int64_t stop_deadline = 0;

	status_publish(w);
	for (;;) {
		bool stopping = atomic_load(&w->stop) || queue_is_closed(&w->bus->db);
		int64_t now = clock_mono_ms();
		int64_t wait = IDLE_POLL_MS;

		if (stopping && stop_deadline == 0)
			stop_deadline = now + o->shutdown_grace_ms;
		if (w->failing)
			wait = w->retry_at_ms - now;
		else if (stopping)
			wait = 0;
		if (wait > IDLE_POLL_MS)
			wait = IDLE_POLL_MS;
		if (wait < 0)
			wait = 0;
		size_t got = collect(w, (int)wait, !stopping && !w->failing);
		if (w->npending > 0 && (!w->failing || clock_mono_ms() >= w->retry_at_ms)) {
			batch_write(w);
			status_publish(w);
		}
		if (!stopping)
			continue;
		bool queue_empty = got == 0 && queue_depth(&w->bus->db) == 0;
		bool late = clock_mono_ms() >= stop_deadline;
		if (w->npending == 0 && (queue_empty || late))
			break;
		if (w->npending > 0 && late && w->failing) {
			log_error("db", "%s: giving up at shutdown: %zu messages (%zu term rows) "
				  "not written: %s", w->db->path, w->npending, w->pending_rows,
				  w->err);
			for (size_t i = 0; i < w->npending; i++)
				pending_drop(w, i);
			pending_compact(w);
			break;
		}
	}
	status_publish(w);
	return NULL;
}

static void writer_free(struct db_writer *w)
{
	if (!w)
		return;
	pending_clear(w);
	free(w->pending);
	free(w->popbuf);
	sb_free(&w->sb);
	term_cache_destroy(&w->cache);
	free(w);
}

int db_writer_start(struct db *db, struct bus *bus)
{
	struct db_writer *w;
	int rc;

	if (db->writer)
		return -EALREADY;
	if (!db->conn)
		return -EIO;
	if (!(w = calloc(1, sizeof *w)))
		return -ENOMEM;
	w->db = db;
	w->bus = bus;
	atomic_init(&w->stop, false);
	sb_init(&w->sb);
	if (term_cache_init(&w->cache, db->opt.term_cache_max) < 0 ||
	    !(w->popbuf = calloc(db->opt.batch_max, sizeof *w->popbuf))) {
		writer_free(w);
		return -ENOMEM;
	}
	db->writer = w;
	if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
		db->writer = NULL;
		writer_free(w);
		return -rc;
	}
	return 0;
}

void db_writer_stop(struct db *db, bool close_queue)
{
	struct db_writer *w = db->writer;

	if (!w)
		return;
	if (close_queue)
		queue_close(&w->bus->db);
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	db->writer = NULL;
	writer_free(w);
}
