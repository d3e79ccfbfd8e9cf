/*
 * db.h - trendd's SQLite database: schema and migrations, the sources table,
 * and the writer thread that turns db messages (term-minute counts, minute
 * snapshots, post volume, source cursors and status) into batched
 * transactions, keeps the hour and day rollups current and deletes rows
 * older than the retention periods. History queries read the same file on
 * their own connections (db/history.h).
 *
 * Before db_writer_start() the calling thread may use the load/upsert
 * functions; after it, only the writer thread touches the write connection
 * (db_source_upsert() then fails with -EBUSY). The writer publishes its health
 * (last error, queue depth, rows written) as a JSON object on bus->db_status.
 *
 * Failure model: a write that fails because of the environment (disk full,
 * read-only file, another process holding the lock, I/O error) never stops
 * the writer. The failed batch stays in memory, bounded by the retry caps
 * below, and is retried with backoff until it commits; the status blob says
 * what is wrong meanwhile. A row that SQLite rejects on its own (a constraint)
 * is skipped and counted, so one bad row cannot block the rest. The schema and
 * the batching are described in docs/STORAGE.md.
 */
#ifndef TRENDD_DB_H
#define TRENDD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/dbmsg.h"
#include "core/source.h"

/* The schema version this code writes (PRAGMA user_version after migrating). */
#define DB_SCHEMA_VERSION 5

/* Defaults for struct db_options; the caps bound memory while writes fail. */
#define DB_BUSY_TIMEOUT_MS        5000
#define DB_BATCH_MS               200      /* a batch gathers messages this long */
#define DB_BATCH_MAX              256      /* messages per transaction */
#define DB_RETRY_MIN_MS           250      /* first wait after a failed batch */
#define DB_RETRY_MAX_MS           5000     /* the wait doubles up to this */
#define DB_SHUTDOWN_GRACE_MS      3000     /* db_close retries a failing batch this long */
#define DB_RETRY_MAX_MSGS         4096     /* messages kept for retry */
#define DB_RETRY_MAX_ROWS         (512 * 1024) /* term-minute rows kept for retry */
#define DB_RETRY_MAX_SNAPSHOTS    16       /* snapshots kept for retry */
#define DB_TERM_CACHE_MAX         (256 * 1024) /* (kind, term) -> id entries */
#define DB_ROLLUP_MAX             (64 * 1024)  /* (term, hour|day) sums held before an upsert */
#define DB_CACHE_KB               (128 * 1024) /* page cache of the write connection */

/* Retention: rows older than this (by their period's start) are deleted. */
#define DB_HOUR_MS                (3600 * 1000LL)
#define DB_DAY_MS                 (24 * DB_HOUR_MS)
#define DB_RETAIN_MINUTE_MS       (48 * DB_HOUR_MS)
#define DB_RETAIN_HOUR_MS         (90 * DB_DAY_MS)
#define DB_RETAIN_DAY_MS          (-1)     /* forever */
#define DB_RETAIN_SNAPSHOT_MS     (48 * DB_HOUR_MS)
/* Pushed posts counted by a checkpoint stay this long, so a resend is still a duplicate. */
#define DB_RETAIN_POST_LOG_MS     DB_HOUR_MS
#define DB_RETENTION_PERIOD_MS    15000    /* a retention step this often ... */
#define DB_RETENTION_CATCHUP_MS   250      /* ... or this soon while a backlog remains */
#define DB_RETENTION_CHUNK        4000     /* rows deleted per step (one short transaction) */
#define DB_VACUUM_STEP_PAGES      256      /* pages incremental_vacuum returns per step */
#define DB_VACUUM_KEEP_PAGES      1024     /* free pages kept for reuse, not returned */

struct db;

/* Zero fields take the defaults above. */
struct db_options {
	const char *vfs;            /* borrowed; SQLite VFS name, NULL = the default */
	int busy_timeout_ms;
	int batch_ms;
	size_t batch_max;
	int retry_min_ms;
	int retry_max_ms;
	int shutdown_grace_ms;
	size_t retry_max_msgs;
	size_t retry_max_rows;
	size_t retry_max_snapshots;
	size_t term_cache_max;
	size_t rollup_max;
	/*
	 * How long rows are kept; 0 = the defaults above, negative = forever.
	 * Snapshot retention applies to the snapshots table.
	 */
	int64_t retain_minute_ms;
	int64_t retain_hour_ms;
	int64_t retain_day_ms;
	int64_t retain_snapshot_ms;
	int64_t retain_post_log_ms; /* counted pushed posts (post_log) */
	int retention_period_ms;
	size_t retention_chunk;
	size_t vacuum_keep_pages;   /* free pages kept for reuse (DB_VACUUM_KEEP_PAGES) */
	/* Wall clock for retention cutoffs; NULL = clock_now_ms (tests fast-forward it). */
	int64_t (*clock_ms)(void);
	/* Benchmarks only: write term_minute rows without the hour and day rollups. */
	bool no_rollups;
	/*
	 * A file that is corrupt or not a trendd database does not make
	 * db_open_with() fail: it returns an unavailable db instead (below).
	 */
	bool allow_unavailable;
};

/*
 * Opens (creating if needed) and migrates the database: WAL mode,
 * synchronous=NORMAL, foreign keys on; a new file gets auto_vacuum=INCREMENTAL
 * so retention can give freed pages back. Refuses a file that is not an SQLite
 * database, is corrupt, or has a schema newer than DB_SCHEMA_VERSION; err
 * then holds a one-line reason naming the file. Returns 0 or a negative errno.
 */
int db_open(struct db **out, const char *path, char *err, size_t errlen);
int db_open_with(struct db **out, const char *path, const struct db_options *opt, char *err,
		 size_t errlen);

/*
 * An unavailable db (docs/STORAGE.md, "A corrupt or foreign file"): the file
 * is corrupt or not a trendd database, found at open (with allow_unavailable;
 * err then holds the reason and the return is 0) or by the writer later. It
 * holds no connection to the file and never writes to it; the load functions
 * answer -EBUSY, history readers answer 503. The writer keeps its messages
 * within the retry caps and opens the file again with backoff: once it is a
 * usable database, writes resume and db_available() turns true. A file
 * checked by the writer is first read through a read-only connection, so a
 * bad one is never changed. db_available() and db_unavailable_reason() may
 * be called from any thread; db_generation() counts the writer's successful
 * reopens, so a reader connection older than the newest can be replaced.
 */
bool db_available(const struct db *db);
void db_unavailable_reason(const struct db *db, char *buf, size_t len);
uint64_t db_generation(const struct db *db);
/*
 * The checkpoint epoch last committed by the writer, or loaded by
 * db_checkpoint_load() at start; 0 before either. Any thread.
 */
uint64_t db_committed_epoch(const struct db *db);

/*
 * The ids and names of the sources trendd runs (stored, command line, config
 * file); the writer keeps the list as source changes commit. When the writer
 * opens a file that was not usable before - after a start without it, or
 * after the file turned corrupt while trendd ran and another took its place
 * (a backup put back) - it writes a source's cursor, status and pushed posts
 * only where the stored source of that id has the same name, and refuses
 * source changes until a restart. Before db_writer_start(); 0, -EBUSY or
 * -ENOMEM.
 */
int db_running_sources_set(struct db *db, const struct source_config *v, size_t n);

/*
 * All sources, ordered by id (at most LIMIT_SOURCES); free with db_sources_free().
 * -EBUSY once the writer runs, -EIO for database errors (logged).
 */
int db_sources_load(struct db *db, struct source_config **out, size_t *n);
void db_sources_free(struct source_config *v, size_t n);
/*
 * Inserts or updates the source with c->name; sets c->id. Keeps the stored
 * cursor unless c->cursor is non-empty. -EINVAL for an empty name or kind or
 * params that are not a JSON object, -ENOSPC when LIMIT_SOURCES are stored,
 * -EBUSY once the writer runs, -EIO for database errors (logged).
 */
int db_source_upsert(struct db *db, struct source_config *c);

/*
 * Forgets the stored cursor of source id, so its next poll starts from the
 * newest items (the demo feed does this: its server is new on every run).
 * -ENOENT when no such source, -EBUSY once the writer runs, -EIO on errors.
 */
int db_source_reset_cursor(struct db *db, int64_t id);

/*
 * The last committed checkpoint (DBMSG_CHECKPOINT, docs/STORAGE.md
 * "Exactly-once"): its epoch (0 = none yet), the analytics state (NULL when
 * none) and per source the cursor and seen ids that go with it. The stored
 * sources.cursor is that same cursor. -EBUSY once the writer runs, -EIO
 * (logged), -ENOMEM.
 */
struct db_checkpoint {
	uint64_t epoch;
	uint8_t *state;                  /* owned */
	size_t state_len;
	struct source_cursor *cursors;   /* owned */
	size_t ncursors;
	/* the state's segments (checkpoint_segment), ascending ids; owned */
	struct db_segment {
		uint64_t id;
		uint8_t *body;   /* owned */
		size_t len;
	} *seg;
	size_t nseg;
	uint64_t seg_next;               /* above every stored segment id */
};
int db_checkpoint_load(struct db *db, struct db_checkpoint *out);
/* window_segment_fn over a loaded checkpoint (ctx: the struct db_checkpoint). */
int db_checkpoint_segment(void *ctx, uint64_t id, const void **buf, size_t *len);

struct post;
/*
 * Feeds fn every logged pushed post of source_id above sequence number
 * after, in order (fn owns each post; a negative return stops). For start-up,
 * before db_writer_start(). Returns 0 or -EIO with the reason logged.
 */
int db_post_log_replay(struct db *db, int64_t source_id, int64_t after,
		       int (*fn)(void *ctx, struct post *p, int64_t seq), void *ctx);
void db_checkpoint_clear(struct db_checkpoint *c);
/* Frees the state and segments, once restored; keeps epoch, cursors and seg_next. */
void db_checkpoint_release_state(struct db_checkpoint *c);

/* Starts the writer thread consuming bus->db. */
int db_writer_start(struct db *db, struct bus *bus);
/*
 * Stops the writer after it has written every message already in bus->db
 * (a batch that keeps failing is retried for shutdown_grace_ms, then dropped
 * with an error in the log). With close_queue it first closes bus->db, so
 * late producers get -EPIPE instead of leaving messages nobody reads; main
 * closes the queue itself once the producers have stopped, so it passes false.
 * Does nothing when the writer is not running.
 */
void db_writer_stop(struct db *db, bool close_queue);
/* The options in force, defaults filled in (for the history readers). */
const struct db_options *db_options_get(const struct db *db);
/* The database file name. */
const char *db_path(const struct db *db);

/* db_writer_stop(db, false) if the writer runs, then closes the database. */
void db_close(struct db *db);

#endif
