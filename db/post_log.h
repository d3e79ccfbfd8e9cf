/*
 * post_log.h - pushed posts (POST /api/ingest), durable before they are
 * acknowledged.
 *
 * A pushed post is written to post_log in the same transaction that decides
 * whether it is new: (source_id, post_id) is unique, so sending a post again
 * - a client retrying after a lost reply - is a duplicate, not a second
 * count. Rows get a sequence number that only grows (AUTOINCREMENT: never
 * reused, even after every row is deleted), and a push source's cursor is
 * the highest sequence number the analytics side has counted: after a crash,
 * the rows above the checkpointed cursor are fed again, so an acknowledged
 * post is counted exactly once.
 *
 * Rows above their source's cursor must stay; the others serve dedup only.
 * post_log_prune() deletes counted rows past a horizon (the writer's
 * retention step, DB_RETAIN_POST_LOG_MS) in small chunks.
 *
 * A struct post_log holds statements prepared for one connection and is used
 * by the thread that owns that connection (the db writer; at start-up, main).
 */
#ifndef TRENDD_POST_LOG_H
#define TRENDD_POST_LOG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct post;

#define POST_LOG_SCHEMA                                                              \
	"CREATE TABLE post_log ("                                                    \
	"  seq         INTEGER PRIMARY KEY AUTOINCREMENT,"                           \
	"  source_id   INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,"  \
	"  post_id     TEXT NOT NULL,"                                               \
	"  created_ms  INTEGER NOT NULL,"                                            \
	"  received_ms INTEGER NOT NULL,"                                            \
	"  author      TEXT NOT NULL,"                                               \
	"  lang        TEXT NOT NULL,"                                               \
	"  url         TEXT NOT NULL,"                                               \
	"  title       TEXT NOT NULL,"                                               \
	"  text        TEXT NOT NULL,"                                               \
	"  UNIQUE (source_id, post_id)"                                              \
	");"                                                                         \
	"CREATE INDEX post_log_by_received ON post_log (received_ms);"

#define POST_LOG_PRUNE_CHUNK 2000   /* rows deleted per post_log_prune() call */

struct post_log {
	sqlite3 *conn;                  /* borrowed */
	sqlite3_stmt *insert, *after, *prune;
};

/* Prepares the statements for conn. Returns an SQLite result code. */
int post_log_open(struct post_log *pl, sqlite3 *conn);
void post_log_close(struct post_log *pl);

/*
 * Appends the posts in order, inside the caller's transaction: seq[i] is the
 * new row's sequence number, or 0 when (source_id, id) was logged before.
 * Returns SQLITE_OK or the first error (the caller rolls back).
 */
int post_log_append(struct post_log *pl, struct post *const *posts, size_t n, int64_t *seq);

/*
 * Calls fn for each logged post of source_id with seq > after, in seq order,
 * at most max of them; fn owns the post it is given (and returns 0, or a
 * negative value to stop). Returns SQLITE_OK, an SQLite error, or SQLITE_NOMEM.
 */
int post_log_read_after(struct post_log *pl, int64_t source_id, int64_t after, size_t max,
			int (*fn)(void *ctx, struct post *p, int64_t seq), void *ctx);

/*
 * Deletes up to max (at most POST_LOG_PRUNE_CHUNK) rows received before
 * before_ms whose seq is at or below their source's checkpointed cursor
 * (checkpoint_source.cursor, committed with the window state that counted
 * them), oldest first. The connection must have the checkpoint_source table.
 * *deleted gets the count.
 */
int post_log_prune(struct post_log *pl, int64_t before_ms, size_t max, int64_t *deleted);

#endif
