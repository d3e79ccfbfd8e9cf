/*
 * post_log.c - pushed posts in SQLite: append with dedup, read back above a
 * cursor, prune what is counted and past the dedup horizon.
 */
#include "db/post_log.h"

#include <string.h>

#include "core/post.h"

int post_log_open(struct post_log *pl, sqlite3 *conn)
{
	static const char *const sql[] = {
		"INSERT INTO post_log (source_id, post_id, created_ms, received_ms, author, lang,"
		"  url, title, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		"  ON CONFLICT (source_id, post_id) DO NOTHING",
		"SELECT seq, post_id, created_ms, author, lang, url, title, text FROM post_log"
		"  WHERE source_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
		/*
		 * Through post_log_by_received, oldest first; the cursor of each row's
		 * source is one primary-key lookup. A source without a checkpointed
		 * cursor keeps its rows.
		 */
		"DELETE FROM post_log WHERE seq IN (SELECT p.seq FROM post_log p"
		"  JOIN checkpoint_source c ON c.source_id = p.source_id"
		"  WHERE p.received_ms < ?1 AND p.seq <= CAST(c.cursor AS INTEGER)"
		"  ORDER BY p.received_ms LIMIT ?2)",
	};
	sqlite3_stmt **st[] = { &pl->insert, &pl->after, &pl->prune };
	int rc = SQLITE_OK;

	memset(pl, 0, sizeof *pl);
	pl->conn = conn;
	for (size_t i = 0; i < sizeof sql / sizeof sql[0] && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v3(conn, sql[i], -1, SQLITE_PREPARE_PERSISTENT, st[i], NULL);
	if (rc != SQLITE_OK)
		post_log_close(pl);
	return rc;
}

void post_log_close(struct post_log *pl)
{
	sqlite3_finalize(pl->insert);
	sqlite3_finalize(pl->after);
	sqlite3_finalize(pl->prune);
	memset(pl, 0, sizeof *pl);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, (int)strlen(s), SQLITE_STATIC);
}

int post_log_append(struct post_log *pl, struct post *const *posts, size_t n, int64_t *seq)
{
	sqlite3_stmt *st = pl->insert;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct post *p = posts[i];
		sqlite3_bind_int64(st, 1, p->source_id);
		bind_str(st, 2, p->id);
		sqlite3_bind_int64(st, 3, p->created_at_ms);
		sqlite3_bind_int64(st, 4, p->received_ms);
		bind_str(st, 5, p->author);
		bind_str(st, 6, p->lang);
		bind_str(st, 7, p->url);
		bind_str(st, 8, p->title);
		sqlite3_bind_text(st, 9, p->text, (int)p->text_len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			/* DO NOTHING on a repeat: no row changed, and last_insert_rowid is stale. */
			seq[i] = sqlite3_changes(pl->conn) ? sqlite3_last_insert_rowid(pl->conn) : 0;
			rc = SQLITE_OK;
		}
		sqlite3_reset(st);
	}
	sqlite3_clear_bindings(st);
	return rc;
}

static const char *col(sqlite3_stmt *st, int i, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	if (len)
		*len = s ? (size_t)sqlite3_column_bytes(st, i) : 0;
	return s ? s : "";
}

int post_log_read_after(struct post_log *pl, int64_t source_id, int64_t after, size_t max,
			int (*fn)(void *ctx, struct post *p, int64_t seq), void *ctx)
{
	sqlite3_stmt *st = pl->after;
	int rc;

	sqlite3_bind_int64(st, 1, source_id);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t text_len;
		struct post_fields f = {
			.source_id = source_id,
			.id = col(st, 1, NULL),
			.created_at_ms = sqlite3_column_int64(st, 2),
			.author = col(st, 3, NULL),
			.lang = col(st, 4, NULL),
			.url = col(st, 5, NULL),
			.title = col(st, 6, NULL),
		};
		f.text = col(st, 7, &text_len);
		f.text_len = text_len;
		struct post *p = post_new(&f);
		if (!p) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (fn(ctx, p, sqlite3_column_int64(st, 0)) < 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int post_log_prune(struct post_log *pl, int64_t before_ms, size_t max, int64_t *deleted)
{
	sqlite3_stmt *st = pl->prune;
	int rc;

	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, max > POST_LOG_PRUNE_CHUNK ? POST_LOG_PRUNE_CHUNK : (int64_t)max);
	rc = sqlite3_step(st);
	*deleted = rc == SQLITE_DONE ? sqlite3_changes(pl->conn) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
