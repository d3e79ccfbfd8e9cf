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
 *
 * The hour and day rollups of a batch are summed in memory (rollup.c) and
 * upserted in the batch's own transaction, so they commit or roll back with
 * the minute rows they come from. Between batches the thread deletes rows
 * past their retention, a bounded chunk per short transaction, and hands
 * freed pages back to the file system with incremental vacuum.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/dbstats.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/snapshot_json.h"
#include "core/strbuf.h"
#include "core/term.h"
#include "db/db_private.h"
#include "db/rollup.h"
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
	uint64_t b_rows, b_skipped, b_rollup_rows;
	uint64_t b_epoch;             /* the newest checkpoint epoch in the batch, 0 = none */
	int64_t b_now_ms;             /* wall clock at the batch start, for retention */

	struct keyed_row *keyed;      /* owned: the rows of one message, by key */
	size_t cap_keyed;

	/* Rollups of the batch being written (empty between batches). */
	struct rollup hour, day, vol_hour, vol_day;
	uint64_t rollup_rows;

	/* Retention and vacuum. */
	bool incremental_vacuum;      /* the file has auto_vacuum = INCREMENTAL */
	int64_t housekeeping_at_ms;   /* monotonic: next retention step */
	uint64_t rows_expired, retention_steps, pages_vacuumed;
	char logged_hk_err[512];      /* last housekeeping error logged */

	/*
	 * Sources reset, deleted or created by the batch being written: their
	 * generation is bumped once it commits (core/dbmsg.h), and until then a
	 * checkpoint cursor of theirs later in the batch is from before.
	 */
	int64_t *bumps;               /* owned */
	size_t nbumps, cap_bumps;

	/*
	 * A file that was not usable before (db.h): only these
	 * running sources match the stored ones by id and name.
	 */
	bool guard;
	int64_t *allowed;             /* owned, sorted */
	size_t nallowed;
	bool logged_guard;
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
	case SQLITE_CORRUPT:
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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Whether writes keyed by this source id may go to the file (see guard). */
static bool source_writable(struct db_writer *w, int64_t id)
{
	if (!w->guard ||
	    bsearch(&id, w->allowed, w->nallowed, sizeof *w->allowed, cmp_i64))
		return true;
	if (!w->logged_guard) {
		log_warn("db", "%s: source %lld runs without a stored row of the same id and name "
			 "(trendd did not load its sources from this file); its cursor and status "
			 "are not written", w->db->path, (long long)id);
		w->logged_guard = true;
	}
	return false;
}

static bool bumped_in_batch(const struct db_writer *w, int64_t id)
{
	for (size_t i = 0; i < w->nbumps; i++)
		if (w->bumps[i] == id)
			return true;
	return false;
}

static int bump_note(struct db_writer *w, int64_t id)
{
	if (w->nbumps == w->cap_bumps) {
		size_t ncap = w->cap_bumps ? 2 * w->cap_bumps : 16;
		int64_t *nb = realloc(w->bumps, ncap * sizeof *nb);
		if (!nb)
			return SQLITE_NOMEM;
		w->bumps = nb;
		w->cap_bumps = ncap;
	}
	w->bumps[w->nbumps++] = id;
	return SQLITE_OK;
}

/*
 * A checkpoint cursor made before its source was reset (or deleted and its id
 * reused): the marker's generation is older than the source's. Unstamped
 * cursors (generation 0) are taken as they are.
 */
static bool cursor_is_stale(const struct db_writer *w, const struct source_cursor *sc)
{
	if (sc->gen == 0)
		return false;
	return sc->gen < dbmsg_source_gen(sc->source_id) || bumped_in_batch(w, sc->source_id);
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

/* Start of the oldest period a table keeps at the batch's time; INT64_MIN = all. */
static int64_t keep_from(const struct db_writer *w, int64_t retain_ms)
{
	return retain_ms < 0 ? INT64_MIN : w->b_now_ms - retain_ms;
}

/* Adds into r, flushing it through st first when it is full. */
static int rollup_put(struct db_writer *w, struct rollup *r, enum db_stmt st, bool volume,
		      int64_t retain_ms, int64_t key, uint8_t kind, int64_t t_ms,
		      const struct rollup_add *v)
{
	int rc = rollup_add(r, key, kind, t_ms, v);
	if (rc == -ENOSPC) {
		rc = rollup_flush(r, w->db->st[st], volume, keep_from(w, retain_ms),
				  &w->b_rollup_rows);
		if (rc != SQLITE_OK)
			return rc;
		rc = rollup_add(r, key, kind, t_ms, v);
	}
	return rc == 0 ? SQLITE_OK : SQLITE_NOMEM;
}

/* Writes every rollup of the batch; the batch's transaction is open. */
static int rollups_flush(struct db_writer *w)
{
	const struct db_options *o = &w->db->opt;
	int rc;

	if ((rc = rollup_flush(&w->hour, w->db->st[ST_TERM_HOUR_ADD], false,
			       keep_from(w, o->retain_hour_ms), &w->b_rollup_rows)) != SQLITE_OK ||
	    (rc = rollup_flush(&w->day, w->db->st[ST_TERM_DAY_ADD], false,
			       keep_from(w, o->retain_day_ms), &w->b_rollup_rows)) != SQLITE_OK ||
	    (rc = rollup_flush(&w->vol_hour, w->db->st[ST_VOLUME_HOUR_ADD], true,
			       keep_from(w, o->retain_hour_ms), &w->b_rollup_rows)) != SQLITE_OK ||
	    (rc = rollup_flush(&w->vol_day, w->db->st[ST_VOLUME_DAY_ADD], true,
			       keep_from(w, o->retain_day_ms), &w->b_rollup_rows)) != SQLITE_OK)
		return rc;
	return SQLITE_OK;
}

static void rollups_clear(struct db_writer *w)
{
	rollup_clear(&w->hour);
	rollup_clear(&w->day);
	rollup_clear(&w->vol_hour);
	rollup_clear(&w->vol_day);
}

/* A valid row of the message being written, with its term id. */
struct keyed_row {
	int64_t id;
	int64_t minute;
	uint32_t row;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed_row *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->minute > y->minute) - (x->minute < y->minute);
}

/*
 * Resolves every term first, then writes the rows in (term, minute) order:
 * the key order of term_minute, so consecutive upserts walk the B-tree
 * left to right instead of jumping across it (about a third faster).
 *
 * Minute rows older than the minute retention (late posts of an old minute)
 * are not stored at minute resolution: retention would delete them at once.
 * They still count in the hour and day rows that are kept.
 */
static int apply_term_rows(struct db_writer *w, const struct term_minute_row *rows, size_t nrows)
{
	const struct db_options *o = &w->db->opt;
	sqlite3_stmt *st = w->db->st[ST_TERM_MINUTE_ADD];
	int64_t minute_from = keep_from(w, o->retain_minute_ms);
	size_t n = 0;
	int rc;

	if (nrows > w->cap_keyed) {
		struct keyed_row *k = realloc(w->keyed, nrows * sizeof *k);
		if (!k)
			return SQLITE_NOMEM;
		w->keyed = k;
		w->cap_keyed = nrows;
	}
	for (size_t i = 0; i < nrows; i++) {
		const struct term_minute_row *r = &rows[i];
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
		w->keyed[n++] = (struct keyed_row){ id, floor_minute(r->minute_ms), (uint32_t)i };
	}
	if (n > 1)
		qsort(w->keyed, n, sizeof *w->keyed, keyed_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct term_minute_row *r = &rows[w->keyed[i].row];
		int64_t id = w->keyed[i].id, minute = w->keyed[i].minute;
		double sent = isfinite(r->sent_sum) ? r->sent_sum : 0.0;
		if (minute >= minute_from) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, minute);
			sqlite3_bind_int64(st, 3, r->count);
			sqlite3_bind_int64(st, 4, r->authors);
			sqlite3_bind_double(st, 5, sent);
			sqlite3_bind_int64(st, 6, r->pos);
			sqlite3_bind_int64(st, 7, r->neg);
			rc = db_stmt_run(st);
			if (rc_is_row_error(rc)) {
				skip_row(w, "term_minute row rejected");
				continue;
			}
			if (rc != SQLITE_OK)
				return rc;
		}
		w->b_rows++;
		if (o->no_rollups)
			continue;
		struct rollup_add v = { .count = r->count, .pos = r->pos, .neg = r->neg,
					.authors = r->authors, .sent_sum = sent };
		if ((rc = rollup_put(w, &w->hour, ST_TERM_HOUR_ADD, false, o->retain_hour_ms, id,
				     r->kind, minute, &v)) != SQLITE_OK ||
		    (rc = rollup_put(w, &w->day, ST_TERM_DAY_ADD, false, o->retain_day_ms, id,
				     r->kind, minute, &v)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int apply_volume_rows(struct db_writer *w, const struct volume_minute_row *rows,
			     size_t nrows)
{
	const struct db_options *o = &w->db->opt;
	sqlite3_stmt *st = w->db->st[ST_VOLUME_MINUTE_ADD];
	int64_t minute_from = keep_from(w, o->retain_minute_ms);
	int rc;

	for (size_t i = 0; i < nrows; i++) {
		const struct volume_minute_row *r = &rows[i];
		int64_t minute = floor_minute(r->minute_ms);
		double sent = isfinite(r->sent_sum) ? r->sent_sum : 0.0;
		if (minute >= minute_from) {
			sqlite3_bind_int64(st, 1, minute);
			sqlite3_bind_int64(st, 2, r->posts);
			sqlite3_bind_int64(st, 3, r->pos);
			sqlite3_bind_int64(st, 4, r->neg);
			sqlite3_bind_double(st, 5, sent);
			rc = db_stmt_run(st);
			if (rc_is_row_error(rc)) {
				skip_row(w, "volume_minute row rejected");
				continue;
			}
			if (rc != SQLITE_OK)
				return rc;
		}
		w->b_rows++;
		if (o->no_rollups)
			continue;
		struct rollup_add v = { .count = r->posts, .pos = r->pos, .neg = r->neg,
					.sent_sum = sent };
		if ((rc = rollup_put(w, &w->vol_hour, ST_VOLUME_HOUR_ADD, true, o->retain_hour_ms,
				     0, 0, minute, &v)) != SQLITE_OK ||
		    (rc = rollup_put(w, &w->vol_day, ST_VOLUME_DAY_ADD, true, o->retain_day_ms, 0,
				     0, minute, &v)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/*
 * A checkpoint epoch (docs/STORAGE.md, "Exactly-once"): its rows, the cursor
 * and seen ids of each source it names - in sources.cursor and
 * checkpoint_source - and the analytics state with the new epoch in the
 * checkpoint row, all in the batch's one transaction.
 */
/* Writes a checkpoint's new segments (each its id and length, then bytes). */
static int put_segments(struct db_writer *w, const uint8_t *p, size_t len)
{
	sqlite3_stmt *st = w->db->st[ST_CKPT_SEGMENT_PUT];
	for (size_t at = 0; len - at >= 16;) {
		uint64_t id, n;
		memcpy(&id, p + at, 8);
		memcpy(&n, p + at + 8, 8);
		at += 16;
		if (n > len - at || id == 0 || id > INT64_MAX) {
			skip_row(w, "malformed checkpoint segments");
			return SQLITE_OK;
		}
		sqlite3_bind_int64(st, 1, (int64_t)id);
		sqlite3_bind_blob64(st, 2, p + at, n, SQLITE_STATIC);
		int rc = db_stmt_run(st);
		if (rc != SQLITE_OK)
			return rc;
		at += n;
	}
	return SQLITE_OK;
}

/*
 * Deletes every stored segment the state does not name: refs (n ids, sorted
 * here) lists all it names. The ids to delete are gathered first, so the
 * scan never sees its own deletes.
 */
static int drop_segments(struct db_writer *w, uint64_t *refs, size_t n)
{
	sqlite3_stmt *st = w->db->st[ST_CKPT_SEGMENT_IDS];
	uint64_t *gone = NULL;
	size_t ngone = 0, cap = 0, r = 0;
	int rc;
	qsort(refs, n, sizeof *refs, cmp_i64); /* ids are below 2^63: stored as SQLite integers */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		while (r < n && refs[r] < id)
			r++;
		if (r < n && refs[r] == id)
			continue;
		if (ngone == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			uint64_t *g = realloc(gone, ncap * sizeof *g);
			if (!g) {
				rc = SQLITE_NOMEM;
				break;
			}
			gone = g;
			cap = ncap;
		}
		gone[ngone++] = id;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	st = w->db->st[ST_CKPT_SEGMENT_DEL];
	for (size_t i = 0; i < ngone && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(st, 1, (int64_t)gone[i]);
		rc = db_stmt_run(st);
	}
	free(gone);
	return rc;
}

static int apply_checkpoint(struct db_writer *w, const struct dbmsg *m)
{
	const struct checkpoint *c = &m->u.checkpoint;
	struct db *db = w->db;
	sqlite3_stmt *st;
	int rc;

	if ((rc = apply_term_rows(w, c->term_rows, c->nterm)) != SQLITE_OK ||
	    (rc = apply_volume_rows(w, c->volume_rows, c->nvolume)) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < c->ncursors; i++) {
		const struct source_cursor *sc = &c->cursors[i];
		if (cursor_is_stale(w, sc)) {
			skip_row(w, "checkpoint cursor of a source from before it was reset");
			continue;
		}
		if (!source_writable(w, sc->source_id))
			continue;
		st = db->st[ST_CKPT_SOURCE_CURSOR];
		sqlite3_bind_int64(st, 1, sc->source_id);
		sqlite3_bind_text(st, 2, sc->cursor ? sc->cursor : "", -1, SQLITE_STATIC);
		if ((rc = db_stmt_run(st)) != SQLITE_OK)
			return rc;
		st = db->st[ST_CKPT_SOURCE_PUT];
		sqlite3_bind_int64(st, 1, sc->source_id);
		sqlite3_bind_text(st, 2, sc->cursor ? sc->cursor : "", -1, SQLITE_STATIC);
		if (sc->seen_len)
			sqlite3_bind_blob(st, 3, sc->seen, (int)sc->seen_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)c->epoch);
		if ((rc = db_stmt_run(st)) != SQLITE_OK)
			return rc;
	}
	if (c->segments && (rc = put_segments(w, c->segments, c->segments_len)) != SQLITE_OK)
		return rc;
	st = db->st[ST_CKPT_PUT];
	sqlite3_bind_int64(st, 1, (int64_t)c->epoch);
	if (c->state)
		sqlite3_bind_blob64(st, 2, c->state, c->state_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->created_ms);
	if ((rc = db_stmt_run(st)) != SQLITE_OK)
		return rc;
	/* the message is the writer's: sorting its list in place changes nothing it means */
	if (c->state && c->segment_refs &&
	    (rc = drop_segments(w, (uint64_t *)c->segment_refs, c->nsegment_refs)) != SQLITE_OK)
		return rc;
	w->b_rows++;
	if (c->epoch > w->b_epoch)
		w->b_epoch = c->epoch;
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

	if (!source_writable(w, ss->source_id))
		return SQLITE_OK;
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
	bool is_new = c->id == 0;
	sqlite3_stmt *st;
	int rc;

	m->rc = 0;
	if (w->guard) {
		m->rc = -EBUSY;
		snprintf(m->error, sizeof m->error, "trendd is writing to a database file it did "
			 "not load its sources from; restart it to change sources");
		return SQLITE_OK;
	}
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
		if (m->rc != 0)
			return SQLITE_OK;
		w->b_rows++;
		/*
		 * A new feed (or an id SQLite may have used before): cursors of the
		 * old one must not come back, neither from a checkpoint built before
		 * ingest learns of the change nor from checkpoint_source.
		 */
		if (m->u.save.reset_cursor || is_new) {
			if ((rc = bump_note(w, c->id)) != SQLITE_OK)
				return rc;
			st = w->db->st[ST_CKPT_SOURCE_CLEAR];
			sqlite3_bind_int64(st, 1, c->id);
			if ((rc = db_stmt_run(st)) != SQLITE_OK)
				return rc;
		}
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

	if (w->guard) {
		m->rc = -EBUSY;
		snprintf(m->error, sizeof m->error, "trendd is writing to a database file it did "
			 "not load its sources from; restart it to change sources");
		return SQLITE_OK;
	}
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
		return bump_note(w, m->u.delete_id);
	}
	return SQLITE_OK;
}

static int apply(struct db_writer *w, struct dbmsg *m)
{
	switch (m->kind) {
	case DBMSG_TERM_MINUTES:
		return apply_term_rows(w, m->u.minutes.rows, m->u.minutes.n);
	case DBMSG_SNAPSHOT:
		return apply_snapshot(w, m);
	case DBMSG_SOURCE_STATE:
		return apply_source_state(w, m);
	case DBMSG_SOURCE_SAVE:
		return apply_source_save(w, m);
	case DBMSG_SOURCE_DELETE:
		return apply_source_delete(w, m);
	case DBMSG_VOLUME_MINUTES:
		return apply_volume_rows(w, m->u.volume.rows, m->u.volume.n);
	case DBMSG_CHECKPOINT:
		return apply_checkpoint(w, m);
	case DBMSG_PUSH:
		if (!source_writable(w, m->u.push.source_id)) {
			m->rc = -EBUSY;
			snprintf(m->error, sizeof m->error, "trendd is writing to a database file it "
				 "did not load its sources from, and this push source is not in "
				 "it; restart it");
			return SQLITE_OK;
		}
		return post_log_append(&w->db->post_log, m->u.push.posts, m->u.push.n,
				       m->u.push.seq);
	}
	skip_row(w, "message of an unknown kind");
	return SQLITE_OK;
}

static void status_publish(struct db_writer *w);

/* Pending messages ------------------------------------------------------- */

static size_t msg_rows(const struct dbmsg *m)
{
	if (m->kind == DBMSG_TERM_MINUTES)
		return m->u.minutes.n;
	if (m->kind == DBMSG_VOLUME_MINUTES)
		return m->u.volume.n;
	if (m->kind == DBMSG_CHECKPOINT)
		return m->u.checkpoint.nterm + m->u.checkpoint.nvolume;
	return 0;
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
 * Folds the k pending checkpoints c[0..k) (oldest first) into the newest,
 * c[k-1], in one pass: its rows become all their rows in commit order, less
 * the oldest drop_term term rows and drop_volume volume rows; its cursors
 * one per source, from the newest checkpoint that names it unless an older
 * one carries a newer generation (a stale marker taken after a fresh one is
 * skipped at write time, which must not cost the fresh one); its state (and
 * the segment ids that go with it) its own, or the newest one found; its
 * new segments all of theirs, in order. The others are left empty, for the caller
 * to remove. A row whose term could not be written (missing, over-long) is
 * kept without its bytes, for the writer to skip and count as it would
 * have. Returns the rows dropped, or -ENOMEM with nothing changed.
 */
static ssize_t checkpoints_fold(struct checkpoint **c, size_t k, size_t drop_term,
				size_t drop_volume)
{
	struct checkpoint *n = c[k - 1];
	size_t nt = 0, nv = 0, nc = 0, bytes = 0;
	for (size_t j = 0; j < k; j++) {
		nt += c[j]->nterm;
		nv += c[j]->nvolume;
		nc += c[j]->ncursors;
	}
	size_t dt = drop_term < nt ? drop_term : nt, dv = drop_volume < nv ? drop_volume : nv;
	for (size_t j = 0, i = 0; j < k; j++)
		for (size_t r = 0; r < c[j]->nterm; r++, i++)
			if (i >= dt && c[j]->term_rows[r].term &&
			    c[j]->term_rows[r].term_len <= LIMIT_TERM_BYTES)
				bytes += c[j]->term_rows[r].term_len + 1;
	size_t nseg = 0;
	for (size_t j = 0; j < k; j++)
		nseg += c[j]->segments_len;
	struct term_minute_row *rows = NULL;
	struct volume_minute_row *vrows = NULL;
	struct source_cursor *cur = NULL;
	char *pool = NULL;
	uint8_t *segs = NULL;
	if ((nt > dt && !(rows = malloc((nt - dt) * sizeof *rows))) ||
	    (bytes && !(pool = malloc(bytes))) ||
	    (nv > dv && !(vrows = malloc((nv - dv) * sizeof *vrows))) ||
	    (nseg && !(segs = malloc(nseg))) ||
	    (nc && !(cur = calloc(nc, sizeof *cur)))) {
		free(rows);
		free(pool);
		free(vrows);
		free(segs);
		return -ENOMEM;
	}
	char *at = pool;
	size_t ot = 0, ov = 0, oc = 0;
	for (size_t j = 0, i = 0, v = 0; j < k; j++) {
		for (size_t r = 0; r < c[j]->nterm; r++, i++) {
			if (i < dt)
				continue;
			struct term_minute_row row = c[j]->term_rows[r];
			if (!row.term || row.term_len > LIMIT_TERM_BYTES) {
				row.term = NULL;
				row.term_len = 0;
			} else {
				memcpy(at, row.term, row.term_len);
				at[row.term_len] = 0;
				row.term = at;
				at += row.term_len + 1;
			}
			rows[ot++] = row;
		}
		for (size_t r = 0; r < c[j]->nvolume; r++, v++)
			if (v >= dv)
				vrows[ov++] = c[j]->volume_rows[r];
	}
	/* Cursors move (no copy): newest first, an older one only for a newer generation. */
	for (size_t j = k; j-- > 0;) {
		for (size_t i = 0; i < c[j]->ncursors; i++) {
			struct source_cursor *sc = &c[j]->cursors[i];
			size_t x = 0;
			while (x < oc && cur[x].source_id != sc->source_id)
				x++;
			if (x == oc) {
				cur[oc++] = *sc;
			} else if (sc->gen > cur[x].gen) {
				source_cursor_clear(&cur[x]);
				cur[x] = *sc;
			} else {
				source_cursor_clear(sc);
			}
		}
		free(c[j]->cursors);
		c[j]->cursors = NULL;
		c[j]->ncursors = 0;
	}
	for (size_t j = k - 1; j-- > 0 && !n->state;) {
		n->state = c[j]->state;
		n->state_len = c[j]->state_len;
		n->segment_refs = c[j]->segment_refs;
		n->nsegment_refs = c[j]->nsegment_refs;
		c[j]->state = NULL;
		c[j]->segment_refs = NULL;
	}
	/* every new segment stays: a newer state may name one an older checkpoint brought */
	if (segs) {
		uint8_t *to = segs;
		for (size_t j = 0; j < k; j++) {
			if (c[j]->segments_len)
				memcpy(to, c[j]->segments, c[j]->segments_len);
			to += c[j]->segments_len;
			free(c[j]->segments);
			c[j]->segments = NULL;
			c[j]->segments_len = 0;
		}
		n->segments = segs;
		n->segments_len = (size_t)(to - segs);
	}
	for (size_t j = 0; j < k; j++) {
		free(c[j]->term_rows);
		free(c[j]->pool);
		free(c[j]->volume_rows);
		c[j]->term_rows = NULL;
		c[j]->pool = NULL;
		c[j]->volume_rows = NULL;
		c[j]->nterm = c[j]->nvolume = 0;
	}
	n->term_rows = rows;
	n->pool = pool;
	n->nterm = ot;
	n->volume_rows = vrows;
	n->nvolume = ov;
	n->cursors = cur;
	n->ncursors = oc;
	return (ssize_t)(dt + dv);
}

/*
 * Folds the pending checkpoints into the newest one, whose state and
 * cursors stand for them all; with drop, and the rows over their cap, the
 * oldest rows go, counted, until the rows are an eighth under the cap (so
 * that not every new checkpoint folds again). Term rows go before volume
 * rows: those are one a minute, the timeline of the outage. Folding keeps
 * the order the rows would have committed in; only dropped rows are lost,
 * never the window state or a cursor. It costs a copy of the rows, so the
 * backlog briefly takes twice its memory.
 */
static void pending_fold_checkpoints(struct db_writer *w, bool drop)
{
	const struct db_options *o = &w->db->opt;
	size_t k = 0, before = 0, nterm = 0;
	for (size_t i = 0; i < w->npending; i++)
		if (w->pending[i] && w->pending[i]->kind == DBMSG_CHECKPOINT) {
			k++;
			before += msg_rows(w->pending[i]);
			nterm += w->pending[i]->u.checkpoint.nterm;
		}
	size_t target = o->retry_max_rows - o->retry_max_rows / 8;
	size_t excess = drop && w->pending_rows > o->retry_max_rows ? w->pending_rows - target : 0;
	if (k == 0 || (k == 1 && excess == 0))
		return;
	struct checkpoint **c = malloc(k * sizeof *c);
	size_t *at = malloc(k * sizeof *at);
	if (!c || !at)
		goto out; /* no memory to fold: the backlog stays as it is */
	for (size_t i = 0, j = 0; i < w->npending; i++)
		if (w->pending[i] && w->pending[i]->kind == DBMSG_CHECKPOINT) {
			at[j] = i;
			c[j++] = &w->pending[i]->u.checkpoint;
		}
	size_t drop_term = excess < nterm ? excess : nterm;
	ssize_t d = checkpoints_fold(c, k, drop_term, excess - drop_term);
	if (d < 0)
		goto out;
	w->rows_dropped += (uint64_t)d;
	w->pending_rows = w->pending_rows - before + msg_rows(w->pending[at[k - 1]]);
	for (size_t j = 0; j + 1 < k; j++)
		pending_remove(w, at[j]); /* empty now: no rows to take off */
out:
	free(c);
	free(at);
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
	uint64_t dropped = w->msgs_dropped, rows_dropped = w->rows_dropped;

	/*
	 * A newer checkpoint supersedes the state of an older one (they commit
	 * together, in order); their rows are deltas and all stay. Checkpoints
	 * are never dropped, only folded together (pending_fold_checkpoints()):
	 * analytics counted on them.
	 */
	struct dbmsg *newest = NULL;
	for (size_t i = w->npending; i-- > 0;) {
		struct dbmsg *m = w->pending[i];
		if (!m || m->kind != DBMSG_CHECKPOINT)
			continue;
		if (newest && m->u.checkpoint.state) {
			free(m->u.checkpoint.state);
			free(m->u.checkpoint.segment_refs);
			m->u.checkpoint.state = NULL;
			m->u.checkpoint.state_len = 0;
			m->u.checkpoint.segment_refs = NULL;
			m->u.checkpoint.nsegment_refs = 0;
		}
		newest = m;
	}
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
	/* Checkpoints folded into one: fewer messages, nothing lost. */
	if (pending_over_caps(w))
		pending_fold_checkpoints(w, false);
	for (size_t i = 0; i < w->npending && pending_over_caps(w); i++)
		if (w->pending[i] && (w->pending[i]->kind == DBMSG_TERM_MINUTES ||
				      w->pending[i]->kind == DBMSG_VOLUME_MINUTES))
			pending_drop(w, i);
	/* Still too many rows: the checkpoint's oldest. */
	if (w->pending_rows > o->retry_max_rows)
		pending_fold_checkpoints(w, true);
	/*
	 * Only source states left over the message cap: the oldest go. Never a
	 * request somebody waits for: a failed batch answers it with its error
	 * (pending_fail_requests()), where a drop would tell it nothing.
	 */
	for (size_t i = 0; i < w->npending && pending_over_caps(w); i++)
		if (w->pending[i] && w->pending[i]->kind != DBMSG_CHECKPOINT && !w->pending[i]->done)
			pending_drop(w, i);
	pending_compact(w);
	if (!w->drop_logged && (w->msgs_dropped > 0 || w->rows_dropped > rows_dropped)) {
		log_error("db", "writes keep failing; dropping the oldest history to stay within "
			  "%zu messages / %zu rows (%llu messages, %llu rows dropped so far)",
			  o->retry_max_msgs, o->retry_max_rows,
			  (unsigned long long)w->msgs_dropped,
			  (unsigned long long)w->rows_dropped);
		w->drop_logged = true;
	}
	if (w->msgs_dropped != dropped || w->rows_dropped != rows_dropped)
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
	sb_puts(&sb, ",\"rollup_rows\":");
	sb_put_u64(&sb, w->rollup_rows);
	sb_puts(&sb, ",\"rows_expired\":");
	sb_put_u64(&sb, w->rows_expired);
	sb_puts(&sb, ",\"retention_steps\":");
	sb_put_u64(&sb, w->retention_steps);
	sb_puts(&sb, ",\"pages_vacuumed\":");
	sb_put_u64(&sb, w->pages_vacuumed);
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

static void fault_note(struct db_writer *w, int rc, const char *err);

static void batch_failed(struct db_writer *w, int rc, const char *err)
{
	struct db *db = w->db;

	if (db->conn && !sqlite3_get_autocommit(db->conn))
		(void)db_stmt_run(db->st[ST_ROLLBACK]);
	/* Ids inserted by the rolled-back transaction are gone (and may be reused). */
	term_cache_clear(&w->cache);
	rollups_clear(w);
	w->nbumps = 0;
	w->failed_batches++;
	fault_note(w, rc, err);
	pending_fail_requests(w, err);
	if (strcmp(w->err, w->logged_err) != 0) {
		log_error("db", "%s; keeping %zu messages and retrying", w->err, w->npending);
		snprintf(w->logged_err, sizeof w->logged_err, "%s", w->err);
	}
}

/*
 * The file (or the files that replace it) is tried again after the backoff.
 * After a reopen that a bad file refused, or any failure while the db is
 * unavailable, the readers learn why.
 */
static void fault_note(struct db_writer *w, int rc, const char *err)
{
	struct db *db = w->db;

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
	if (db_rc_bad_file(rc) || !db_available(db)) {
		/* No connection stays on a bad file: nothing more is written to it. */
		db_conn_drop(db);
		db_mark_unavailable(db, err);
	}
}

/*
 * Hands the posts of a committed push request to analytics: the new ones,
 * then a cursor marker with the last sequence number, so the checkpoint that
 * counts them also moves the source's cursor past them. Waits for room in
 * the post queue (a full queue is analytics' backpressure on pushers) unless
 * trendd is stopping; what is not handed on is in the log, and a restart
 * feeds it again.
 */
static void push_forward(struct db_writer *w, struct push_posts *pp)
{
	int64_t last = 0;
	size_t fresh = 0;

	for (size_t i = 0; i < pp->n; i++)
		if (pp->seq[i])
			fresh++;
	pp->duplicates += pp->n - fresh;
	pp->accepted = fresh;
	for (size_t i = 0; i < pp->n; i++) {
		struct post *p = pp->posts[i];
		if (!pp->seq[i])
			continue;
		int rc;
		while ((rc = queue_push(&w->bus->posts, p, 200)) == -EAGAIN &&
		       !bus_stopping(w->bus))
			;
		if (rc < 0)
			return;
		pp->posts[i] = NULL;
		last = pp->seq[i];
	}
	if (!last)
		return;
	char cursor[24];
	snprintf(cursor, sizeof cursor, "%lld", (long long)last);
	struct post *mk = dbmsg_marker_new(pp->source_id, cursor, NULL, 0);
	if (mk && queue_push(&w->bus->posts, mk, 1000) < 0)
		post_free(mk);
}

static void writer_recovered(struct db_writer *w)
{
	if (w->failing)
		log_info("db", "%s: writes resumed after %lld ms", w->db->path,
			 (long long)(clock_now_ms() - w->error_since_ms));
	w->failing = false;
	w->error_since_ms = 0;
	w->err[0] = 0;
	w->logged_err[0] = 0;
	w->retry_wait_ms = 0;
}

/*
 * The running sources follow the committed source changes, so that a file
 * put back later is matched against what runs (writer_reopen()). Without
 * memory for a name the source is left out: its rows are then not written
 * to such a file, which errs on the safe side.
 */
static void running_update(struct db_writer *w)
{
	for (size_t i = 0; i < w->npending; i++) {
		struct dbmsg *m = w->pending[i];
		if (!m || m->rc != 0)
			continue;
		if (m->kind == DBMSG_SOURCE_SAVE &&
		    db_running_put(w->db, m->u.save.cfg.id, m->u.save.cfg.name) < 0) {
			log_error("db", "out of memory noting source %lld as running",
				  (long long)m->u.save.cfg.id);
			db_running_remove(w->db, m->u.save.cfg.id);
		} else if (m->kind == DBMSG_SOURCE_DELETE) {
			db_running_remove(w->db, m->u.delete_id);
		}
	}
}

static void batch_committed(struct db_writer *w)
{
	if (w->b_epoch > atomic_load(&w->db->committed_epoch))
		atomic_store(&w->db->committed_epoch, w->b_epoch);
	/* Told only now: the new generation must not exist before the change does. */
	for (size_t i = 0; i < w->nbumps; i++)
		dbmsg_source_gen_bump(w->bumps[i]);
	w->nbumps = 0;
	for (size_t i = 0; i < w->npending; i++)
		if (w->pending[i] && w->pending[i]->kind == DBMSG_PUSH && w->pending[i]->rc == 0)
			push_forward(w, &w->pending[i]->u.push);
	running_update(w);
	writer_recovered(w);
	w->rows_written += w->b_rows;
	w->rows_skipped += w->b_skipped;
	w->rollup_rows += w->b_rollup_rows;
	w->batches++;
	w->last_commit_ms = clock_now_ms();
	pending_clear(w);
}

/* Back to the everyday safety level after a checkpoint's batch. */
static void sync_normal(struct db_writer *w, bool was_full)
{
	if (was_full && w->db->conn && sqlite3_get_autocommit(w->db->conn))
		sqlite3_exec(w->db->conn, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
}

/*
 * Which running sources a file that was not usable before knows by the same
 * id and name (db.h, db_running_sources_set()). Returns an SQLite result
 * code.
 */
static int guard_build(struct db_writer *w)
{
	struct db *db = w->db;
	sqlite3_stmt *st = db->st[ST_SOURCE_NAME];
	int rc = SQLITE_OK;

	free(w->allowed);
	w->nallowed = 0;
	if (db->nrunning && !(w->allowed = calloc(db->nrunning, sizeof *w->allowed)))
		return SQLITE_NOMEM;
	for (size_t i = 0; i < db->nrunning; i++) {
		sqlite3_bind_int64(st, 1, db->running[i].id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW &&
		    !strcmp((const char *)sqlite3_column_text(st, 0), db->running[i].name))
			w->allowed[w->nallowed++] = db->running[i].id;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return rc;
		rc = SQLITE_OK;
	}
	qsort(w->allowed, w->nallowed, sizeof *w->allowed, cmp_i64);
	w->guard = true;
	w->logged_guard = false; /* a new file: say again which sources it does not know */
	return rc;
}

static void vacuum_mode_read(struct db_writer *w)
{
	sqlite3_stmt *av = NULL;
	/* The mode is fixed when the file is created (db_open_with). */
	w->incremental_vacuum = false;
	if (sqlite3_prepare_v2(w->db->conn, "PRAGMA auto_vacuum", -1, &av, NULL) == SQLITE_OK &&
	    sqlite3_step(av) == SQLITE_ROW)
		w->incremental_vacuum = sqlite3_column_int(av, 0) == 2;
	sqlite3_finalize(av);
}

/*
 * Opens the file again. When it is not the file whose sources trendd loaded
 * (trendd started without one, the file turned corrupt while running, or
 * another file took its place), the running state stays as it is
 * (docs/STORAGE.md, "A corrupt or foreign file"): nothing is loaded from the
 * file, and writes keyed by source id are limited to the sources it knows by
 * the same id and name.
 */
static int writer_reopen(struct db_writer *w)
{
	struct db *db = w->db;
	bool was_unavailable = !db_available(db);
	char err[512];
	int rc;

	if ((rc = db_conn_reopen(db, err, sizeof err)) == SQLITE_OK &&
	    (was_unavailable || db_file_replaced(db)) && (rc = guard_build(w)) != SQLITE_OK) {
		db_describe_error(db, rc, "read the stored sources", err, sizeof err);
		db_conn_drop(db);
	}
	if (rc != SQLITE_OK) {
		fault_note(w, rc, err);
		if (strcmp(w->err, w->logged_err) != 0) {
			log_error("db", "%s; keeping %zu messages and trying again", w->err,
				  w->npending);
			snprintf(w->logged_err, sizeof w->logged_err, "%s", w->err);
		}
		return rc;
	}
	w->reconnect = false;
	term_cache_clear(&w->cache);
	vacuum_mode_read(w);
	if (was_unavailable) {
		log_info("db", "%s: the file is a usable database again; writing from now on "
			 "(the running windows stay, the file's checkpoint is not loaded%s)",
			 db->path, w->guard ? ", sources change again after a restart" : "");
		db_mark_available(db);
	}
	return SQLITE_OK;
}

/* Writes every pending message in one transaction. */
static void batch_write(struct db_writer *w)
{
	struct db *db = w->db;
	int64_t t0 = clock_mono_us();
	const char *what = "start a transaction";
	bool full_sync = false;
	char err[512];
	int rc;

	w->b_rows = w->b_skipped = w->b_rollup_rows = 0;
	w->b_epoch = 0;
	w->b_now_ms = db->opt.clock_ms();
	rollups_clear(w);
	if ((w->reconnect || !db->conn) && writer_reopen(w) != SQLITE_OK) {
		pending_fail_requests(w, w->err);
		w->failed_batches++;
		goto out;
	}
	/*
	 * A checkpoint's commit must survive a power cut, not only a crash: the
	 * ingest cursors it records may already have moved on. So must pushed
	 * posts, acknowledged once this commits. SQLite takes the safety level
	 * only outside a transaction.
	 */
	full_sync = false;
	for (size_t i = 0; i < w->npending && !full_sync; i++)
		full_sync = w->pending[i] && (w->pending[i]->kind == DBMSG_CHECKPOINT ||
					      w->pending[i]->kind == DBMSG_PUSH);
	what = "make the commit durable";
	if (full_sync && (rc = sqlite3_exec(db->conn, "PRAGMA synchronous = FULL", NULL, NULL,
					    NULL)) != SQLITE_OK)
		goto fail;
	what = "start a transaction";
	if ((rc = db_stmt_run(db->st[ST_BEGIN])) != SQLITE_OK)
		goto fail;
	what = "write a batch";
	for (size_t i = 0; i < w->npending; i++)
		if ((rc = apply(w, w->pending[i])) != SQLITE_OK)
			goto fail;
	what = "write the rollups of a batch";
	if ((rc = rollups_flush(w)) != SQLITE_OK)
		goto fail;
	what = "commit a batch";
	if ((rc = db_stmt_run(db->st[ST_COMMIT])) != SQLITE_OK)
		goto fail;
	/* /metrics shows how long a batch holds the write transaction, commit included */
	dbstats_commit(&w->bus->dbstats, (uint64_t)(clock_mono_us() - t0) * 1000u);
	sync_normal(w, full_sync);
	batch_committed(w);
	goto out;
fail:
	db_describe_error(db, rc, what, err, sizeof err);
	batch_failed(w, rc, err);
	sync_normal(w, full_sync);
out:
	w->last_batch_ms = (double)(clock_mono_us() - t0) / 1000.0;
}

/* Retention and vacuum -------------------------------------------------------- */

/*
 * One retention step: one transaction deleting at most retention_chunk rows
 * past their retention, finest tables first (they expire soonest). A
 * snapshot row weighs SNAPSHOT_WEIGHT rows: it is tens of kB. Returns true
 * when the chunk was used up, so more may be waiting.
 */
#define SNAPSHOT_WEIGHT 32

static void housekeeping_failed(struct db_writer *w, int rc, const char *what)
{
	char err[512];

	if (w->db->conn && !sqlite3_get_autocommit(w->db->conn))
		(void)db_stmt_run(w->db->st[ST_ROLLBACK]);
	w->reconnect = w->reconnect || rc_wants_reconnect(rc);
	db_describe_error(w->db, rc, what, err, sizeof err);
	if (db_rc_bad_file(rc)) {
		/*
		 * Retention reads old pages, where damage is likeliest: a file found
		 * bad here is dropped like one found by a batch (fault_note), and
		 * never written again.
		 */
		fault_note(w, rc, err);
		log_error("db", "%s; running without the database until it is replaced", err);
		return;
	}
	if (strcmp(err, w->logged_hk_err) != 0) {
		log_warn("db", "%s; trying again later", err);
		snprintf(w->logged_hk_err, sizeof w->logged_hk_err, "%s", err);
	}
}

static bool retention_step(struct db_writer *w)
{
	static const struct {
		enum db_stmt st;
		size_t off;       /* offsetof the retention in struct db_options */
		unsigned weight;
	} tables[] = {
		{ ST_EXPIRE_TERM_MINUTE, offsetof(struct db_options, retain_minute_ms), 1 },
		{ ST_EXPIRE_VOLUME_MINUTE, offsetof(struct db_options, retain_minute_ms), 1 },
		{ ST_EXPIRE_SNAPSHOTS, offsetof(struct db_options, retain_snapshot_ms),
		  SNAPSHOT_WEIGHT },
		{ ST_EXPIRE_TERM_HOUR, offsetof(struct db_options, retain_hour_ms), 1 },
		{ ST_EXPIRE_VOLUME_HOUR, offsetof(struct db_options, retain_hour_ms), 1 },
		{ ST_EXPIRE_TERM_DAY, offsetof(struct db_options, retain_day_ms), 1 },
		{ ST_EXPIRE_VOLUME_DAY, offsetof(struct db_options, retain_day_ms), 1 },
	};
	struct db *db = w->db;
	const struct db_options *o = &db->opt;
	int64_t now = o->clock_ms();
	size_t budget = o->retention_chunk;
	uint64_t deleted = 0;
	int rc;

	if ((rc = db_stmt_run(db->st[ST_BEGIN])) != SQLITE_OK) {
		housekeeping_failed(w, rc, "start a retention step");
		return false;
	}
	for (size_t i = 0; i < sizeof tables / sizeof tables[0] && budget > 0; i++) {
		int64_t retain = *(const int64_t *)((const char *)o + tables[i].off);
		size_t limit = budget / tables[i].weight;
		if (retain < 0)
			continue;
		if (limit == 0)
			break;
		sqlite3_stmt *st = db->st[tables[i].st];
		sqlite3_bind_int64(st, 1, now - retain);
		sqlite3_bind_int64(st, 2, (int64_t)limit);
		if ((rc = db_stmt_run(st)) != SQLITE_OK) {
			housekeeping_failed(w, rc, "delete rows past their retention");
			return false;
		}
		size_t n = (size_t)sqlite3_changes(db->conn);
		deleted += n;
		budget -= n * tables[i].weight < budget ? n * tables[i].weight : budget;
	}
	/*
	 * Pushed posts a checkpoint has counted are not needed for a replay any
	 * more; they stay retain_post_log_ms so that a resend is still a duplicate.
	 */
	if (budget > 0 && o->retain_post_log_ms >= 0) {
		int64_t n = 0;
		if ((rc = post_log_prune(&db->post_log, now - o->retain_post_log_ms, budget, &n)) !=
		    SQLITE_OK) {
			housekeeping_failed(w, rc, "delete counted pushed posts");
			return false;
		}
		deleted += (uint64_t)n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
	if ((rc = db_stmt_run(db->st[ST_COMMIT])) != SQLITE_OK) {
		housekeeping_failed(w, rc, "commit a retention step");
		return false;
	}
	w->rows_expired += deleted;
	w->retention_steps++;
	w->logged_hk_err[0] = 0;
	return budget == 0;
}

/*
 * Gives up to DB_VACUUM_STEP_PAGES free pages back to the file system,
 * keeping vacuum_keep_pages for the next inserts to reuse. Only for files
 * created with auto_vacuum = INCREMENTAL. Returns true when more remain.
 */
static bool vacuum_step(struct db_writer *w)
{
	struct db *db = w->db;
	sqlite3_stmt *st = db->st[ST_FREELIST_COUNT];
	int64_t free_pages = 0;
	char sql[64];
	int rc;

	if (!w->incremental_vacuum)
		return false;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		free_pages = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		housekeeping_failed(w, rc, "read the free page count");
		return false;
	}
	int64_t keep = (int64_t)db->opt.vacuum_keep_pages;
	if (free_pages <= keep)
		return false;
	int64_t n = free_pages - keep;
	if (n > DB_VACUUM_STEP_PAGES)
		n = DB_VACUUM_STEP_PAGES;
	snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%lld)", (long long)n);
	if ((rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		housekeeping_failed(w, rc, "vacuum freed pages");
		return false;
	}
	w->pages_vacuumed += (uint64_t)n;
	return free_pages - n > keep;
}

/* Runs when due and the writer is healthy; a backlog brings the next step closer. */
static void housekeeping(struct db_writer *w)
{
	const struct db_options *o = &w->db->opt;

	if (w->failing || w->reconnect || !w->db->conn)
		return;
	bool more = retention_step(w);
	/* a retention step that found the file bad has dropped the connection */
	if (w->db->conn)
		more = vacuum_step(w) || more;
	int catchup = o->retention_period_ms < DB_RETENTION_CATCHUP_MS ? o->retention_period_ms
								       : DB_RETENTION_CATCHUP_MS;
	w->housekeeping_at_ms = clock_mono_ms() + (more ? catchup : o->retention_period_ms);
	status_publish(w);
}

/* The thread --------------------------------------------------------------- */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/*
 * Takes up to max messages, waiting up to wait_ms for the first. *awaited is
 * set when one of them has a requester waiting for its answer (m->done).
 */
static size_t take(struct db_writer *w, size_t max, int wait_ms, bool *awaited)
{
	size_t n = queue_pop_batch(&w->bus->db, w->popbuf, max, wait_ms);
	for (size_t i = 0; i < n; i++) {
		struct dbmsg *m = w->popbuf[i];
		if (m->done)
			*awaited = true;
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
 * batch_max messages, so bursts share one transaction. A message somebody
 * waits for (a pushed batch whose HTTP answer is held until it is durable, a
 * source change) ends the gathering: what is queued already still joins the
 * transaction, but nothing more is waited for, so an acknowledgement costs
 * one commit and not batch_ms on top.
 */
static size_t collect(struct db_writer *w, int wait_ms, bool gather)
{
	const struct db_options *o = &w->db->opt;
	bool awaited = false;
	size_t got = take(w, o->batch_max, wait_ms, &awaited);

	if (got == 0) {
		/* A closed queue returns at once; do not spin until the next retry. */
		if (wait_ms > 0 && queue_is_closed(&w->bus->db))
			sleep_ms(wait_ms);
		return 0;
	}
	if (gather) {
		int64_t deadline = clock_mono_ms() + o->batch_ms;
		while (got < o->batch_max) {
			int64_t left = awaited ? 0 : deadline - clock_mono_ms();
			if (left < 0)
				break;
			size_t k = take(w, o->batch_max - got, (int)left, &awaited);
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
		/* Failing with nothing to retry and nothing to reopen: just wait for work. */
		if (w->failing && (w->npending > 0 || w->reconnect))
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
		} else if (w->npending == 0 && w->failing && w->reconnect && !stopping &&
			   clock_mono_ms() >= w->retry_at_ms) {
			/* An unavailable file is tried again even when nothing waits to be written. */
			if (writer_reopen(w) == SQLITE_OK)
				writer_recovered(w);
			status_publish(w);
		}
		if (!stopping && clock_mono_ms() >= w->housekeeping_at_ms)
			housekeeping(w);
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
	free(w->bumps);
	free(w->allowed);
	rollup_destroy(&w->hour);
	rollup_destroy(&w->day);
	rollup_destroy(&w->vol_hour);
	rollup_destroy(&w->vol_day);
	free(w->keyed);
	free(w);
}

int db_writer_start(struct db *db, struct bus *bus)
{
	struct db_writer *w;
	int rc;

	if (db->writer)
		return -EALREADY;
	if (!db->conn && db_available(db))
		return -EIO;
	if (!(w = calloc(1, sizeof *w)))
		return -ENOMEM;
	w->db = db;
	w->bus = bus;
	atomic_init(&w->stop, false);
	sb_init(&w->sb);
	if (term_cache_init(&w->cache, db->opt.term_cache_max) < 0 ||
	    rollup_init(&w->hour, DB_HOUR_MS, db->opt.rollup_max) < 0 ||
	    rollup_init(&w->day, DB_DAY_MS, db->opt.rollup_max) < 0 ||
	    rollup_init(&w->vol_hour, DB_HOUR_MS, db->opt.rollup_max) < 0 ||
	    rollup_init(&w->vol_day, DB_DAY_MS, db->opt.rollup_max) < 0 ||
	    !(w->popbuf = calloc(db->opt.batch_max, sizeof *w->popbuf))) {
		writer_free(w);
		return -ENOMEM;
	}
	if (db->conn) {
		vacuum_mode_read(w);
	} else {
		/* Started without the file (db_open_with logged why): try it again soon. */
		char why[512];
		db_unavailable_reason(db, why, sizeof why);
		w->failing = w->reconnect = true;
		w->error_since_ms = clock_now_ms();
		w->retry_wait_ms = db->opt.retry_min_ms;
		w->retry_at_ms = clock_mono_ms() + w->retry_wait_ms;
		snprintf(w->err, sizeof w->err, "%s", why);
		snprintf(w->logged_err, sizeof w->logged_err, "%s", why);
	}
	/* The first retention step runs soon after start: a restart may find a backlog. */
	w->housekeeping_at_ms = clock_mono_ms() + DB_RETENTION_CATCHUP_MS;
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
