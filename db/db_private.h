/*
 * db_private.h - what db.c (connection, schema, sources) and writer.c (the
 * writer thread) share. Not for use outside db/.
 *
 * struct db owns the write connection and its prepared statements. The thread
 * that opened it uses them until db_writer_start(); from then on only the
 * writer thread does, until db_writer_stop() has joined it. Statements are
 * prepared once per connection and reset after each use; reconnecting
 * (db_conn_reopen) prepares them again.
 */
#ifndef TRENDD_DB_PRIVATE_H
#define TRENDD_DB_PRIVATE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "db/db.h"
#include "db/post_log.h"

enum db_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_TERM_FIND,
	ST_TERM_INSERT,
	ST_TERM_MINUTE_ADD,
	ST_SNAPSHOT_PUT,
	ST_SOURCE_STATE,
	ST_SOURCE_FIND,
	ST_SOURCE_COUNT,
	ST_SOURCE_UPSERT,
	ST_SOURCE_RESET_CURSOR,
	ST_SOURCES_LOAD,
	ST_SOURCE_INSERT,
	ST_SOURCE_UPDATE,
	ST_SOURCE_DELETE,
	ST_TERM_HOUR_ADD,
	ST_TERM_DAY_ADD,
	ST_VOLUME_MINUTE_ADD,
	ST_VOLUME_HOUR_ADD,
	ST_VOLUME_DAY_ADD,
	ST_EXPIRE_TERM_MINUTE,
	ST_EXPIRE_TERM_HOUR,
	ST_EXPIRE_TERM_DAY,
	ST_EXPIRE_VOLUME_MINUTE,
	ST_EXPIRE_VOLUME_HOUR,
	ST_EXPIRE_VOLUME_DAY,
	ST_EXPIRE_SNAPSHOTS,
	ST_FREELIST_COUNT,
	ST_CKPT_SOURCE_CURSOR,
	ST_CKPT_SOURCE_PUT,
	ST_CKPT_PUT,
	ST_CKPT_LOAD,
	ST_CKPT_SOURCES_LOAD,
	ST_CKPT_SOURCE_CLEAR,
	ST_CKPT_SEGMENT_PUT,
	ST_CKPT_SEGMENT_IDS,
	ST_CKPT_SEGMENT_DEL,
	ST_CKPT_SEGMENTS_LOAD,
	ST_SOURCE_NAME,
	ST_COUNT_
};

struct db_writer;

struct db {
	sqlite3 *conn;                 /* owned; NULL after a failed reconnect */
	char *path;                    /* owned */
	char *vfs;                     /* owned; NULL = SQLite's default */
	struct db_options opt;         /* defaults filled in */
	sqlite3_stmt *st[ST_COUNT_];   /* owned; prepared for conn */
	struct db_writer *writer;      /* owned; NULL unless the writer runs */
	struct post_log post_log;      /* statements for conn, like st */

	/* Availability (db.h): written by the opener, then the writer; read by any thread. */
	atomic_bool available;
	atomic_uint_fast64_t generation;
	pthread_mutex_t reason_mu;     /* guards reason */
	char reason[512];
	/*
	 * The sources trendd runs (db_running_sources_set()); once the writer
	 * runs, only the writer thread reads and updates it, as source changes
	 * commit (db_running_put(), db_running_remove()).
	 */
	struct db_running { int64_t id; char *name; } *running; /* owned */
	size_t nrunning;
	/* The file trendd opened at start (st_dev, st_ino), if it did. */
	bool file_known;
	dev_t file_dev;
	ino_t file_ino;
	/*
	 * The checkpoint epoch last committed (by the writer) or loaded at
	 * start: history readers wait for the epoch of a live answer on it
	 * rather than re-reading the checkpoint table (history_txn_begin).
	 */
	atomic_uint_fast64_t committed_epoch;
};

/*
 * Whether the file at the path is not the one opened at start (or none was):
 * replaced while trendd ran. Writer thread, after a reopen.
 */
bool db_file_replaced(const struct db *db);

/* Source id running under name now (added or renamed); 0 or -ENOMEM. Writer thread. */
int db_running_put(struct db *db, int64_t id, const char *name);
/* Source id no longer runs. Writer thread. */
void db_running_remove(struct db *db, int64_t id);

/* True for the SQLite errors of a file that is not a usable database. */
bool db_rc_bad_file(int rc);
/* The writer's view changes: readers see them at their next query. */
void db_mark_unavailable(struct db *db, const char *reason);
void db_mark_available(struct db *db);

/*
 * Closes the connection and opens the same file again (never creating it):
 * first reads it through a read-only connection (a corrupt or foreign file is
 * refused untouched), then opens it for writing, migrates an older schema
 * and prepares the statements. The writer does this after errors that a
 * fresh file handle can cure: a file that was read-only when opened, moved,
 * replaced, or behind an I/O error. Returns an SQLite result code; err holds
 * the reason when it is not SQLITE_OK.
 */
int db_conn_reopen(struct db *db, char *err, size_t errlen);
/* Closes the write connection (statements first); the writer reopens it later. */
void db_conn_drop(struct db *db);

/*
 * Writes a one-line reason for SQLite result code rc, naming the file and
 * what was being done ("disk full, cannot commit a batch (...)").
 */
void db_describe_error(const struct db *db, int rc, const char *what, char *err, size_t errlen);

/* Runs a prepared statement that returns no rows to SQLITE_DONE and resets it. */
int db_stmt_run(sqlite3_stmt *st);

/* True when params is the text of a JSON object. */
bool db_params_valid(const char *params);

#endif
