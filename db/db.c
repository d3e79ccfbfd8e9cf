/*
 * db.c - opening the database, the schema migrations, prepared statements
 * and the sources table. The writer thread lives in writer.c.
 */
#include "db/db.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/limits.h"
#include "core/log.h"
#include "db/db_private.h"
#include "db/post_log.h"

/*
 * Forward migrations, in order: entry i takes the schema from version i to
 * i + 1. A released migration is never edited; a change to the schema is a
 * new entry at the end (and DB_SCHEMA_VERSION goes up by one). docs/STORAGE.md
 * describes every table.
 */
static const char *const migrations[] = {
	/* 1: the initial schema. */
	"CREATE TABLE sources ("
	"  id            INTEGER PRIMARY KEY,"
	"  kind          TEXT NOT NULL CHECK (kind <> ''),"
	"  name          TEXT NOT NULL UNIQUE CHECK (name <> ''),"
	"  url           TEXT NOT NULL DEFAULT '',"
	"  enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
	"  interval_s    INTEGER NOT NULL DEFAULT 60,"
	"  params        TEXT NOT NULL DEFAULT '{}',"
	"  cursor        TEXT NOT NULL DEFAULT '',"
	"  created_ms    INTEGER NOT NULL,"
	"  updated_ms    INTEGER NOT NULL,"
	"  last_ok_ms    INTEGER NOT NULL DEFAULT 0,"
	"  last_error    TEXT NOT NULL DEFAULT '',"
	"  last_error_ms INTEGER NOT NULL DEFAULT 0,"
	"  posts_seen    INTEGER NOT NULL DEFAULT 0,"
	"  items_skipped INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE terms ("
	"  id   INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('word', 'hashtag', 'mention', 'cashtag',"
	"                                     'domain', 'emoji', 'bigram')),"
	"  term TEXT NOT NULL CHECK (term <> ''),"
	"  UNIQUE (kind, term)"
	");"
	"CREATE TABLE term_minute ("
	"  term_id   INTEGER NOT NULL REFERENCES terms (id),"
	"  minute_ms INTEGER NOT NULL,"
	"  count     INTEGER NOT NULL,"
	"  authors   INTEGER NOT NULL,"
	"  sent_sum  REAL NOT NULL,"
	"  pos       INTEGER NOT NULL,"
	"  neg       INTEGER NOT NULL,"
	"  PRIMARY KEY (term_id, minute_ms)"
	") WITHOUT ROWID;"
	"CREATE INDEX term_minute_by_minute ON term_minute (minute_ms);"
	/* Rows of tens of kB: a rowid table, so the key index stays small. */
	"CREATE TABLE snapshots ("
	"  minute_ms    INTEGER NOT NULL,"
	"  win          TEXT NOT NULL,"
	"  generated_ms INTEGER NOT NULL,"
	"  json         TEXT NOT NULL,"
	"  PRIMARY KEY (minute_ms, win)"
	");",

	/*
	 * 2: history rollups, post volume, retention and the checkpoint row.
	 * term_hour and term_day carry the term's kind as a small integer
	 * (term_kinds) so "top terms of a kind in a period" reads one index
	 * range in count order; the (period, count) index serves every kind.
	 * Existing minute rows are rolled up here, so history keeps its hours
	 * and days across the upgrade.
	 */
	"CREATE TABLE term_kinds ("
	"  id   INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE"
	");"
	"INSERT INTO term_kinds (id, name) VALUES (0, 'word'), (1, 'hashtag'), (2, 'mention'),"
	"  (3, 'cashtag'), (4, 'domain'), (5, 'emoji'), (6, 'bigram');"
	"CREATE TABLE term_hour ("
	"  term_id  INTEGER NOT NULL REFERENCES terms (id),"
	"  hour_ms  INTEGER NOT NULL,"
	"  kind     INTEGER NOT NULL,"
	"  count    INTEGER NOT NULL,"
	"  authors  INTEGER NOT NULL,"
	"  sent_sum REAL NOT NULL,"
	"  pos      INTEGER NOT NULL,"
	"  neg      INTEGER NOT NULL,"
	"  PRIMARY KEY (term_id, hour_ms)"
	") WITHOUT ROWID;"
	"CREATE INDEX term_hour_top ON term_hour (hour_ms, count DESC);"
	"CREATE INDEX term_hour_top_kind ON term_hour (hour_ms, kind, count DESC);"
	"CREATE TABLE term_day ("
	"  term_id  INTEGER NOT NULL REFERENCES terms (id),"
	"  day_ms   INTEGER NOT NULL,"
	"  kind     INTEGER NOT NULL,"
	"  count    INTEGER NOT NULL,"
	"  authors  INTEGER NOT NULL,"
	"  sent_sum REAL NOT NULL,"
	"  pos      INTEGER NOT NULL,"
	"  neg      INTEGER NOT NULL,"
	"  PRIMARY KEY (term_id, day_ms)"
	") WITHOUT ROWID;"
	"CREATE INDEX term_day_top ON term_day (day_ms, count DESC);"
	"CREATE INDEX term_day_top_kind ON term_day (day_ms, kind, count DESC);"
	"CREATE TABLE volume_minute ("
	"  minute_ms INTEGER PRIMARY KEY,"
	"  posts     INTEGER NOT NULL,"
	"  pos       INTEGER NOT NULL,"
	"  neg       INTEGER NOT NULL,"
	"  sent_sum  REAL NOT NULL"
	");"
	"CREATE TABLE volume_hour ("
	"  hour_ms  INTEGER PRIMARY KEY,"
	"  posts    INTEGER NOT NULL,"
	"  pos      INTEGER NOT NULL,"
	"  neg      INTEGER NOT NULL,"
	"  sent_sum REAL NOT NULL"
	");"
	"CREATE TABLE volume_day ("
	"  day_ms   INTEGER PRIMARY KEY,"
	"  posts    INTEGER NOT NULL,"
	"  pos      INTEGER NOT NULL,"
	"  neg      INTEGER NOT NULL,"
	"  sent_sum REAL NOT NULL"
	");"
	"CREATE TABLE checkpoint ("
	"  id         INTEGER PRIMARY KEY CHECK (id = 1),"
	"  epoch      INTEGER NOT NULL DEFAULT 0,"
	"  state      BLOB,"
	"  created_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"INSERT INTO checkpoint (id, epoch, created_ms) VALUES (1, 0, 0);"
	"INSERT INTO term_hour (term_id, hour_ms, kind, count, authors, sent_sum, pos, neg)"
	"  SELECT m.term_id, m.minute_ms - ((m.minute_ms % 3600000) + 3600000) % 3600000 AS h,"
	"         k.id, sum(m.count), max(m.authors), sum(m.sent_sum), sum(m.pos), sum(m.neg)"
	"  FROM term_minute m JOIN terms t ON t.id = m.term_id JOIN term_kinds k ON k.name = t.kind"
	"  GROUP BY m.term_id, h;"
	"INSERT INTO term_day (term_id, day_ms, kind, count, authors, sent_sum, pos, neg)"
	"  SELECT term_id, hour_ms - ((hour_ms % 86400000) + 86400000) % 86400000 AS d,"
	"         kind, sum(count), max(authors), sum(sent_sum), sum(pos), sum(neg)"
	"  FROM term_hour GROUP BY term_id, d;",

	/*
	 * 3: exactly-once checkpoints. checkpoint_source keeps, per source, the
	 * cursor and the recently emitted post ids (the ingest seen ring) that
	 * match the window state in checkpoint.state; sources.cursor is written
	 * in the same transaction. Rows of deleted sources go with them.
	 */
	"CREATE TABLE checkpoint_source ("
	"  source_id INTEGER PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,"
	"  cursor    TEXT NOT NULL DEFAULT '',"
	"  seen      BLOB,"
	"  epoch     INTEGER NOT NULL DEFAULT 0"
	");",

	/*
	 * 4: pushed posts (POST /api/ingest), logged before they are
	 * acknowledged; a push source's cursor is the last sequence number
	 * counted (db/post_log.h).
	 */
	POST_LOG_SCHEMA,

	/*
	 * 5: incremental checkpoints. The analytics state names the closed
	 * buckets it keeps apart by id; each is written once, in the
	 * transaction of the first checkpoint that names it, and deleted in
	 * that of the first that no longer does.
	 */
	"CREATE TABLE checkpoint_segment ("
	"  id   INTEGER PRIMARY KEY,"
	"  body BLOB NOT NULL"
	");",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == DB_SCHEMA_VERSION,
	       "one migration per schema version");

#define ROLLUP_ADD(table, period)                                                          \
	"INSERT INTO " table " (term_id, " period ", kind, count, authors, sent_sum, pos, neg)" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"                                              \
	" ON CONFLICT (term_id, " period ") DO UPDATE SET"                                       \
	"  count = count + excluded.count,"                                                     \
	"  authors = max(authors, excluded.authors),"                                           \
	"  sent_sum = sent_sum + excluded.sent_sum,"                                            \
	"  pos = pos + excluded.pos,"                                                           \
	"  neg = neg + excluded.neg"
#define VOLUME_ADD(table, period)                                                          \
	"INSERT INTO " table " (" period ", posts, pos, neg, sent_sum) VALUES (?1, ?2, ?3, ?4, ?5)" \
	" ON CONFLICT (" period ") DO UPDATE SET"                                                \
	"  posts = posts + excluded.posts, pos = pos + excluded.pos,"                           \
	"  neg = neg + excluded.neg, sent_sum = sent_sum + excluded.sent_sum"
#define EXPIRE_KEYED(table, period)                                                        \
	"DELETE FROM " table " WHERE (term_id, " period ") IN"                                   \
	" (SELECT term_id, " period " FROM " table " WHERE " period " < ?1"                    \
	"  ORDER BY " period " LIMIT ?2)"
#define EXPIRE_ROWID(table, period)                                                        \
	"DELETE FROM " table " WHERE rowid IN"                                                  \
	" (SELECT rowid FROM " table " WHERE " period " < ?1 ORDER BY " period " LIMIT ?2)"

static const char *const stmt_sql[ST_COUNT_] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_TERM_FIND] = "SELECT id FROM terms WHERE kind = ?1 AND term = ?2",
	[ST_TERM_INSERT] = "INSERT INTO terms (kind, term) VALUES (?1, ?2)",
	/*
	 * Rows for one (term, minute) arrive more than once (late posts, a
	 * minute split across messages): counts add up. authors is a distinct
	 * count, so two reports may share authors; max() is a lower bound of the
	 * true union and never counts one author twice (docs/STORAGE.md).
	 */
	[ST_TERM_MINUTE_ADD] =
		"INSERT INTO term_minute (term_id, minute_ms, count, authors, sent_sum, pos, neg)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (term_id, minute_ms) DO UPDATE SET"
		"  count = count + excluded.count,"
		"  authors = max(authors, excluded.authors),"
		"  sent_sum = sent_sum + excluded.sent_sum,"
		"  pos = pos + excluded.pos,"
		"  neg = neg + excluded.neg",
	/* The newest snapshot of a minute wins. */
	[ST_SNAPSHOT_PUT] =
		"INSERT INTO snapshots (minute_ms, win, generated_ms, json) VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (minute_ms, win) DO UPDATE SET"
		"  generated_ms = excluded.generated_ms, json = excluded.json"
		" WHERE excluded.generated_ms >= snapshots.generated_ms",
	/* Like db_source_upsert(), a state without a cursor keeps the stored one. */
	[ST_SOURCE_STATE] =
		"UPDATE sources SET cursor = CASE WHEN ?2 IS NULL OR ?2 = '' THEN cursor ELSE ?2 END,"
		" last_ok_ms = ?3,"
		" last_error = ?4, last_error_ms = ?5, posts_seen = ?6, items_skipped = ?7"
		" WHERE id = ?1",
	[ST_SOURCE_FIND] = "SELECT id FROM sources WHERE name = ?1",
	[ST_SOURCE_COUNT] = "SELECT count(*) FROM sources",
	[ST_SOURCE_UPSERT] =
		"INSERT INTO sources (kind, name, url, enabled, interval_s, params, cursor,"
		"                     created_ms, updated_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"
		" ON CONFLICT (name) DO UPDATE SET"
		"  kind = excluded.kind, url = excluded.url, enabled = excluded.enabled,"
		"  interval_s = excluded.interval_s, params = excluded.params,"
		"  cursor = CASE WHEN excluded.cursor <> '' THEN excluded.cursor"
		"           ELSE sources.cursor END,"
		"  updated_ms = excluded.updated_ms"
		" RETURNING id",
	[ST_SOURCE_RESET_CURSOR] = "UPDATE sources SET cursor = '', updated_ms = ?2 WHERE id = ?1",
	[ST_SOURCES_LOAD] = "SELECT id, kind, name, url, enabled, interval_s, params, cursor"
			    " FROM sources ORDER BY id",
	[ST_SOURCE_INSERT] =
		"INSERT INTO sources (kind, name, url, enabled, interval_s, params, cursor,"
		"                     created_ms, updated_ms)"
		" SELECT ?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?7"
		" WHERE (SELECT count(*) FROM sources) < ?8"
		" RETURNING id",
	[ST_SOURCE_UPDATE] =
		"UPDATE sources SET kind = ?2, name = ?3, url = ?4, enabled = ?5, interval_s = ?6,"
		" params = ?7, cursor = CASE WHEN ?8 THEN '' ELSE cursor END, updated_ms = ?9"
		" WHERE id = ?1",
	[ST_SOURCE_DELETE] = "DELETE FROM sources WHERE id = ?1",
	/*
	 * Rollups take the same rules as term_minute: counts add up, authors is
	 * the largest per-minute distinct-author count of the period (distinct
	 * counts cannot be added; see docs/STORAGE.md).
	 */
	[ST_TERM_HOUR_ADD] = ROLLUP_ADD("term_hour", "hour_ms"),
	[ST_TERM_DAY_ADD] = ROLLUP_ADD("term_day", "day_ms"),
	[ST_VOLUME_MINUTE_ADD] = VOLUME_ADD("volume_minute", "minute_ms"),
	[ST_VOLUME_HOUR_ADD] = VOLUME_ADD("volume_hour", "hour_ms"),
	[ST_VOLUME_DAY_ADD] = VOLUME_ADD("volume_day", "day_ms"),
	/*
	 * Retention deletes at most ?2 rows older than ?1, oldest first, through
	 * the period index, so one step is one short transaction.
	 */
	[ST_EXPIRE_TERM_MINUTE] = EXPIRE_KEYED("term_minute", "minute_ms"),
	[ST_EXPIRE_TERM_HOUR] = EXPIRE_KEYED("term_hour", "hour_ms"),
	[ST_EXPIRE_TERM_DAY] = EXPIRE_KEYED("term_day", "day_ms"),
	[ST_EXPIRE_VOLUME_MINUTE] = EXPIRE_ROWID("volume_minute", "minute_ms"),
	[ST_EXPIRE_VOLUME_HOUR] = EXPIRE_ROWID("volume_hour", "hour_ms"),
	[ST_EXPIRE_VOLUME_DAY] = EXPIRE_ROWID("volume_day", "day_ms"),
	[ST_EXPIRE_SNAPSHOTS] = EXPIRE_ROWID("snapshots", "minute_ms"),
	[ST_FREELIST_COUNT] = "PRAGMA freelist_count",
	/* A checkpoint names a source that was deleted meanwhile: nothing to update. */
	[ST_CKPT_SOURCE_CURSOR] = "UPDATE sources SET cursor = ?2 WHERE id = ?1",
	[ST_CKPT_SOURCE_PUT] =
		"INSERT INTO checkpoint_source (source_id, cursor, seen, epoch)"
		" SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sources WHERE id = ?1)"
		" ON CONFLICT (source_id) DO UPDATE SET"
		"  cursor = excluded.cursor, seen = excluded.seen, epoch = excluded.epoch",
	/* A checkpoint without a state (superseded in a retried batch) keeps the stored one. */
	[ST_CKPT_PUT] =
		"UPDATE checkpoint SET epoch = ?1, state = coalesce(?2, state), created_ms = ?3"
		" WHERE id = 1",
	[ST_CKPT_LOAD] = "SELECT epoch, state FROM checkpoint WHERE id = 1",
	[ST_CKPT_SOURCES_LOAD] =
		"SELECT source_id, cursor, seen FROM checkpoint_source ORDER BY source_id",
	/* A source reset to a new feed: its checkpointed cursor and seen ids are the old feed's. */
	[ST_CKPT_SOURCE_CLEAR] = "DELETE FROM checkpoint_source WHERE source_id = ?1",
	/* ids are never given twice: a retried batch writes the same bytes again */
	[ST_CKPT_SEGMENT_PUT] = "INSERT OR REPLACE INTO checkpoint_segment (id, body) VALUES (?1, ?2)",
	[ST_CKPT_SEGMENT_IDS] = "SELECT id FROM checkpoint_segment ORDER BY id",
	[ST_CKPT_SEGMENT_DEL] = "DELETE FROM checkpoint_segment WHERE id = ?1",
	[ST_CKPT_SEGMENTS_LOAD] = "SELECT id, body FROM checkpoint_segment ORDER BY id",
	[ST_SOURCE_NAME] = "SELECT name FROM sources WHERE id = ?1",
};

static void describe(const char *path, sqlite3 *conn, int rc, const char *what, char *err,
		     size_t errlen)
{
	const char *msg = conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc);
	int sys = conn ? sqlite3_system_errno(conn) : 0;

	if (!err || errlen == 0)
		return;
	switch (rc & 0xff) {
	case SQLITE_NOTADB:
		snprintf(err, errlen, "%s: not an SQLite database (%s)", path, msg);
		break;
	case SQLITE_CORRUPT:
		snprintf(err, errlen, "%s: database file is corrupt (%s)", path, msg);
		break;
	case SQLITE_CANTOPEN:
		snprintf(err, errlen, "%s: cannot open (%s%s%s)", path, msg, sys ? ": " : "",
			 sys ? strerror(sys) : "");
		break;
	case SQLITE_READONLY:
		snprintf(err, errlen, "%s: read-only, cannot %s (%s)", path, what, msg);
		break;
	case SQLITE_FULL:
		snprintf(err, errlen, "%s: disk full, cannot %s (%s)", path, what, msg);
		break;
	case SQLITE_IOERR:
		snprintf(err, errlen, "%s: I/O error, cannot %s (%s%s%s)", path, what, msg,
			 sys ? ": " : "", sys ? strerror(sys) : "");
		break;
	default:
		snprintf(err, errlen, "%s: cannot %s (%s)", path, what, msg);
		break;
	}
}

void db_describe_error(const struct db *db, int rc, const char *what, char *err, size_t errlen)
{
	describe(db->path, db->conn, rc, what, err, errlen);
}

bool db_rc_bad_file(int rc)
{
	return (rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT;
}

int db_stmt_run(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs sql (no bound values) and returns the first column of its first row as an integer. */
static int exec_int(sqlite3 *conn, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	return rc;
}

static int exec_text(sqlite3 *conn, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, cap, "%s", t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	return rc;
}

static void stmts_finalize(struct db *db)
{
	for (int i = 0; i < ST_COUNT_; i++) {
		sqlite3_finalize(db->st[i]);
		db->st[i] = NULL;
	}
	post_log_close(&db->post_log);
}

static int stmts_prepare(struct db *db, char *err, size_t errlen)
{
	for (int i = 0; i < ST_COUNT_; i++) {
		int rc = sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &db->st[i], NULL);
		if (rc != SQLITE_OK) {
			db_describe_error(db, rc, "prepare statements", err, errlen);
			stmts_finalize(db);
			return rc;
		}
	}
	int rc = post_log_open(&db->post_log, db->conn);
	if (rc != SQLITE_OK) {
		db_describe_error(db, rc, "prepare statements", err, errlen);
		stmts_finalize(db);
	}
	return rc;
}

static void conn_close(struct db *db)
{
	stmts_finalize(db);
	if (db->conn)
		sqlite3_close_v2(db->conn);
	db->conn = NULL;
}

/* "file:PATH?immutable=1", with the characters a URI path cannot hold escaped. */
static char *file_uri_immutable(const char *path)
{
	static const char tail[] = "?immutable=1";
	size_t n = strlen(path);
	char *uri = malloc(5 + 3 * n + sizeof tail), *o = uri;

	if (!uri)
		return NULL;
	o += sprintf(o, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
			o += sprintf(o, "%%%02X", *p);
		else
			*o++ = (char)*p;
	}
	memcpy(o, tail, sizeof tail);
	return uri;
}

/*
 * Reads an existing, non-empty file through a read-only connection before
 * anything opens it for writing: the header, the schema version, the schema
 * and the small tables start-up reads. A file that is not a database, is
 * corrupt where these reads reach, or is an SQLite file of some other program
 * (tables but no schema version, or a schema version without trendd's
 * tables) fails with SQLITE_NOTADB or SQLITE_CORRUPT and is left byte for
 * byte as it was. Other errors are returned too; the caller lets the normal
 * open report them. Does not catch damage in pages these reads do not reach:
 * SQLite reports that when a write touches it, and the writer then drops the
 * file the same way.
 *
 * Without a -wal file the connection is "immutable" (a URI parameter): SQLite
 * takes no locks and creates no -wal or -shm file. Creating them would be
 * harmful besides: they take the file's mode, so a probe of a read-only file
 * would leave a read-only -shm behind that keeps every later write
 * connection read-only after the file itself is made writable again.
 *
 * With a -wal file (trendd was killed, or the power failed, possibly in the
 * middle of a WAL checkpoint) the database is the file and its WAL together:
 * the main file alone may look corrupt while the whole is fine. The probe
 * then reads through a plain read-only connection, which replays the WAL
 * into the -shm index without writing either file, and a -shm it had to
 * create is removed again after it closes, for the reason above.
 */
static int file_probe(struct db *db, char *err, size_t errlen)
{
	static const char *const reads[] = {
		"SELECT count(*) FROM sources",
		"SELECT count(*) FROM terms WHERE id = (SELECT max(id) FROM terms)",
		"SELECT count(*) FROM checkpoint WHERE length(state) >= 0 OR state IS NULL",
		"SELECT count(*) FROM checkpoint_source",
		"SELECT count(*) FROM post_log WHERE seq = (SELECT max(seq) FROM post_log)",
		("SELECT count(*) FROM checkpoint_segment"
		 " WHERE id = (SELECT max(id) FROM checkpoint_segment)"),
	};
	static const int64_t since[] = { 1, 1, 2, 3, 4, 5 }; /* schema version of each table */
	sqlite3 *conn = NULL;
	struct stat st;
	int64_t v = 0, n = 0;
	int rc;
	char *uri, wal[4200], shm[4200];
	bool has_wal, had_shm;

	if (stat(db->path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return SQLITE_OK;
	snprintf(wal, sizeof wal, "%s-wal", db->path);
	snprintf(shm, sizeof shm, "%s-shm", db->path);
	has_wal = stat(wal, &st) == 0 && st.st_size > 0;
	had_shm = stat(shm, &st) == 0;
	if (has_wal) {
		rc = sqlite3_open_v2(db->path, &conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
				     db->vfs);
	} else {
		if (!(uri = file_uri_immutable(db->path)))
			return SQLITE_NOMEM;
		rc = sqlite3_open_v2(uri, &conn,
				     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
				     db->vfs);
		free(uri);
	}
	if (rc != SQLITE_OK) {
		describe(db->path, conn, rc, "open", err, errlen);
		goto out;
	}
	sqlite3_extended_result_codes(conn, 1);
	sqlite3_busy_timeout(conn, db->opt.busy_timeout_ms);
	if ((rc = exec_int(conn, "PRAGMA user_version", &v)) != SQLITE_OK) {
		describe(db->path, conn, rc, "read the schema version", err, errlen);
		goto out;
	}
	if ((rc = exec_int(conn, "SELECT count(*) FROM sqlite_schema", &n)) != SQLITE_OK) {
		describe(db->path, conn, rc, "read the schema", err, errlen);
		goto out;
	}
	if (v == 0 && n > 0) {
		snprintf(err, errlen, "%s: not a trendd database (an SQLite file with %lld schema "
			 "entries and no trendd schema version)", db->path, (long long)n);
		rc = SQLITE_NOTADB;
		goto out;
	}
	for (size_t i = 0; i < sizeof reads / sizeof reads[0] && v <= DB_SCHEMA_VERSION; i++) {
		if (v < since[i])
			continue;
		if ((rc = exec_int(conn, reads[i], &n)) == SQLITE_ERROR) {
			/* a schema version but not its tables: some other program's file */
			snprintf(err, errlen, "%s: not a trendd database (schema version %lld without "
				 "trendd's tables: %s)", db->path, (long long)v, sqlite3_errmsg(conn));
			rc = SQLITE_NOTADB;
			goto out;
		}
		if (rc != SQLITE_OK) {
			describe(db->path, conn, rc, "read the database", err, errlen);
			goto out;
		}
	}
out:
	sqlite3_close_v2(conn);
	if (has_wal && !had_shm)
		unlink(shm);
	return rc;
}

/*
 * Opens db->path and sets the connection up. Reads user_version before
 * changing anything, so a file that is not a database or has a newer schema
 * is refused untouched. *version gets the schema version found.
 */
static int conn_open(struct db *db, bool create, int64_t *version, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	char mode[16];
	int rc;

	rc = sqlite3_open_v2(db->path, &db->conn, flags, db->vfs);
	if (rc != SQLITE_OK) {
		db_describe_error(db, rc, "open", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	sqlite3_busy_timeout(db->conn, db->opt.busy_timeout_ms);
	/* The first read of the file: fails with SQLITE_NOTADB for a foreign file. */
	if ((rc = exec_int(db->conn, "PRAGMA user_version", version)) != SQLITE_OK) {
		db_describe_error(db, rc, "read the schema version", err, errlen);
		goto fail;
	}
	if (*version < 0) {
		snprintf(err, errlen, "%s: unknown schema version %lld; not a trendd database?",
			 db->path, (long long)*version);
		rc = SQLITE_ERROR;
		goto fail;
	}
	if (*version > DB_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s: schema version %lld is newer than this trendd knows (%d); "
			 "use a newer trendd or another database file",
			 db->path, (long long)*version, DB_SCHEMA_VERSION);
		rc = SQLITE_ERROR;
		goto fail;
	}
	/*
	 * A new, empty file gets incremental auto-vacuum, so the pages retention
	 * frees can go back to the file system (writer.c). SQLite only accepts
	 * this before the first table exists and before the switch to WAL; a
	 * version-1 file keeps its mode and reuses its freed pages instead.
	 */
	if (*version == 0) {
		int64_t tables = 0;
		if ((rc = exec_int(db->conn, "SELECT count(*) FROM sqlite_schema", &tables)) !=
		    SQLITE_OK) {
			db_describe_error(db, rc, "read the schema", err, errlen);
			goto fail;
		}
		if (tables == 0 &&
		    (rc = sqlite3_exec(db->conn, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL,
				       NULL)) != SQLITE_OK) {
			db_describe_error(db, rc, "enable auto-vacuum", err, errlen);
			goto fail;
		}
	}
	/* Readers on their own connections never block the writer in WAL mode. */
	if ((rc = exec_text(db->conn, "PRAGMA journal_mode = WAL", mode, sizeof mode)) !=
	    SQLITE_OK) {
		db_describe_error(db, rc, "switch to WAL mode", err, errlen);
		goto fail;
	}
	if (strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "%s: cannot switch to WAL mode (journal mode stays '%s')",
			 db->path, mode);
		rc = SQLITE_ERROR;
		goto fail;
	}
	/*
	 * NORMAL in WAL mode: a commit is durable once the next checkpoint or
	 * sync runs; a power cut may lose the last transactions but never
	 * corrupts the file. Foreign keys are enforced: a history row can never
	 * name a term that is not stored, whatever a future change to the
	 * writer does. It costs one primary-key lookup per row and rollup.
	 */
	rc = sqlite3_exec(db->conn,
			  "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
			  " PRAGMA trusted_schema = OFF;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		db_describe_error(db, rc, "configure the connection", err, errlen);
		goto fail;
	}
	/*
	 * A minute's rows land on a different leaf page for every term (the key
	 * is (term, minute)), and so do its hour and day rollups: the page cache
	 * must hold those leaves, or every batch reads them back from the file.
	 */
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", DB_CACHE_KB);
	sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
	return SQLITE_OK;
fail:
	conn_close(db);
	return rc;
}

/* Applies every migration after `from` in one transaction. */
static int migrate(struct db *db, int64_t from, char *err, size_t errlen)
{
	char sql[64];
	int64_t v = from;
	int rc;

	if ((rc = sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		db_describe_error(db, rc, "start the schema migration", err, errlen);
		return rc;
	}
	/* Another process may have migrated between our first read and the lock. */
	if ((rc = exec_int(db->conn, "PRAGMA user_version", &v)) != SQLITE_OK) {
		db_describe_error(db, rc, "read the schema version", err, errlen);
		goto fail;
	}
	if (v > DB_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s: schema version %lld is newer than this trendd knows (%d)", db->path,
			 (long long)v, DB_SCHEMA_VERSION);
		rc = SQLITE_ERROR;
		goto fail;
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		if ((rc = sqlite3_exec(db->conn, migrations[v], NULL, NULL, NULL)) != SQLITE_OK) {
			char what[64];
			snprintf(what, sizeof what, "apply schema migration %lld",
				 (long long)v + 1);
			db_describe_error(db, rc, what, err, errlen);
			goto fail;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)v + 1);
		if ((rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL)) != SQLITE_OK) {
			db_describe_error(db, rc, "set the schema version", err, errlen);
			goto fail;
		}
	}
	if ((rc = sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		db_describe_error(db, rc, "commit the schema migration", err, errlen);
		goto fail;
	}
	if (from < DB_SCHEMA_VERSION)
		log_info("db", "%s: schema migrated from version %lld to %d", db->path,
			 (long long)from, DB_SCHEMA_VERSION);
	return SQLITE_OK;
fail:
	if (!sqlite3_get_autocommit(db->conn))
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int db_conn_reopen(struct db *db, char *err, size_t errlen)
{
	int64_t v = 0;
	int rc;

	conn_close(db);
	/*
	 * Every reopen reads the file first, as a start does: the file may have
	 * been replaced (by a valid one after a fault, or by a foreign one), and
	 * nothing may write into a bad one. The probe takes no locks and leaves
	 * no files behind, so it is harmless next to the history readers.
	 */
	if ((rc = file_probe(db, err, errlen)) != SQLITE_OK && db_rc_bad_file(rc))
		return rc;
	if ((rc = conn_open(db, false, &v, err, errlen)) != SQLITE_OK)
		return rc;
	/* A file put back from a backup of an older trendd: what a start would do. */
	if (v < DB_SCHEMA_VERSION && (rc = migrate(db, v, err, errlen)) != SQLITE_OK) {
		conn_close(db);
		return rc;
	}
	if ((rc = stmts_prepare(db, err, errlen)) != SQLITE_OK)
		conn_close(db);
	return rc;
}

void db_conn_drop(struct db *db) { conn_close(db); }

bool db_available(const struct db *db) { return atomic_load(&db->available); }

uint64_t db_generation(const struct db *db) { return atomic_load(&db->generation); }

uint64_t db_committed_epoch(const struct db *db) { return atomic_load(&db->committed_epoch); }

void db_unavailable_reason(const struct db *db, char *buf, size_t len)
{
	struct db *d = (struct db *)db; /* the mutex only */

	if (!len)
		return;
	pthread_mutex_lock(&d->reason_mu);
	snprintf(buf, len, "%s", db_available(db) ? "" : db->reason);
	pthread_mutex_unlock(&d->reason_mu);
}

void db_mark_unavailable(struct db *db, const char *reason)
{
	pthread_mutex_lock(&db->reason_mu);
	snprintf(db->reason, sizeof db->reason, "%s", reason);
	atomic_store(&db->available, false);
	pthread_mutex_unlock(&db->reason_mu);
}

void db_mark_available(struct db *db)
{
	pthread_mutex_lock(&db->reason_mu);
	db->reason[0] = 0;
	atomic_fetch_add(&db->generation, 1);
	atomic_store(&db->available, true);
	pthread_mutex_unlock(&db->reason_mu);
}

static void running_free(struct db *db)
{
	for (size_t i = 0; i < db->nrunning; i++)
		free(db->running[i].name);
	free(db->running);
	db->running = NULL;
	db->nrunning = 0;
}

int db_running_sources_set(struct db *db, const struct source_config *v, size_t n)
{
	if (db->writer)
		return -EBUSY;
	running_free(db);
	for (size_t i = 0; i < n; i++)
		if (db_running_put(db, v[i].id, v[i].name) < 0) {
			running_free(db);
			return -ENOMEM;
		}
	return 0;
}

bool db_file_replaced(const struct db *db)
{
	struct stat st;
	return !db->file_known || stat(db->path, &st) != 0 || st.st_dev != db->file_dev ||
	       st.st_ino != db->file_ino;
}

int db_running_put(struct db *db, int64_t id, const char *name)
{
	char *copy = strdup(name ? name : "");
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < db->nrunning; i++)
		if (db->running[i].id == id) {
			free(db->running[i].name);
			db->running[i].name = copy;
			return 0;
		}
	struct db_running *nv = realloc(db->running, (db->nrunning + 1) * sizeof *nv);
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	db->running = nv;
	db->running[db->nrunning++] = (struct db_running){ .id = id, .name = copy };
	return 0;
}

void db_running_remove(struct db *db, int64_t id)
{
	for (size_t i = 0; i < db->nrunning; i++)
		if (db->running[i].id == id) {
			free(db->running[i].name);
			db->running[i] = db->running[--db->nrunning];
			return;
		}
}

static void options_default(struct db_options *o, const struct db_options *in)
{
	static const struct db_options zero;
	*o = in ? *in : zero;
	o->vfs = NULL;
	if (o->busy_timeout_ms <= 0)
		o->busy_timeout_ms = DB_BUSY_TIMEOUT_MS;
	if (o->batch_ms <= 0)
		o->batch_ms = DB_BATCH_MS;
	if (o->batch_max == 0)
		o->batch_max = DB_BATCH_MAX;
	if (o->retry_min_ms <= 0)
		o->retry_min_ms = DB_RETRY_MIN_MS;
	if (o->retry_max_ms <= 0)
		o->retry_max_ms = DB_RETRY_MAX_MS;
	if (o->retry_max_ms < o->retry_min_ms)
		o->retry_max_ms = o->retry_min_ms;
	if (o->shutdown_grace_ms <= 0)
		o->shutdown_grace_ms = DB_SHUTDOWN_GRACE_MS;
	if (o->retry_max_msgs == 0)
		o->retry_max_msgs = DB_RETRY_MAX_MSGS;
	if (o->retry_max_msgs < o->batch_max)
		o->retry_max_msgs = o->batch_max;   /* a whole batch must fit the backlog */
	if (o->retry_max_rows == 0)
		o->retry_max_rows = DB_RETRY_MAX_ROWS;
	if (o->retry_max_snapshots == 0)
		o->retry_max_snapshots = DB_RETRY_MAX_SNAPSHOTS;
	if (o->term_cache_max == 0)
		o->term_cache_max = DB_TERM_CACHE_MAX;
	if (o->rollup_max == 0)
		o->rollup_max = DB_ROLLUP_MAX;
	if (o->retain_minute_ms == 0)
		o->retain_minute_ms = DB_RETAIN_MINUTE_MS;
	if (o->retain_hour_ms == 0)
		o->retain_hour_ms = DB_RETAIN_HOUR_MS;
	if (o->retain_day_ms == 0)
		o->retain_day_ms = DB_RETAIN_DAY_MS;
	if (o->retain_snapshot_ms == 0)
		o->retain_snapshot_ms = DB_RETAIN_SNAPSHOT_MS;
	if (o->retain_post_log_ms == 0)
		o->retain_post_log_ms = DB_RETAIN_POST_LOG_MS;
	if (o->retention_period_ms <= 0)
		o->retention_period_ms = DB_RETENTION_PERIOD_MS;
	if (o->retention_chunk == 0)
		o->retention_chunk = DB_RETENTION_CHUNK;
	if (o->vacuum_keep_pages == 0)
		o->vacuum_keep_pages = DB_VACUUM_KEEP_PAGES;
	if (!o->clock_ms)
		o->clock_ms = clock_now_ms;
}

const struct db_options *db_options_get(const struct db *db) { return &db->opt; }

const char *db_path(const struct db *db) { return db->path; }

static void db_free(struct db *db)
{
	conn_close(db);
	running_free(db);
	pthread_mutex_destroy(&db->reason_mu);
	free(db->path);
	free(db->vfs);
	free(db);
}

int db_open_with(struct db **out, const char *path, const struct db_options *opt, char *err,
		 size_t errlen)
{
	struct db *db;
	int64_t v = 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (!path || !*path) {
		snprintf(err, errlen, "no database file given");
		return -EINVAL;
	}
	if (!(db = calloc(1, sizeof *db)))
		goto nomem;
	pthread_mutex_init(&db->reason_mu, NULL);
	atomic_init(&db->available, true);
	atomic_init(&db->generation, 1);
	atomic_init(&db->committed_epoch, 0);
	options_default(&db->opt, opt);
	if (!(db->path = strdup(path)))
		goto nomem;
	if (opt && opt->vfs && !(db->vfs = strdup(opt->vfs)))
		goto nomem;
	db->opt.vfs = db->vfs;
	/* Read before written: a bad file is refused (or set aside) untouched. */
	if ((rc = file_probe(db, err, errlen)) != SQLITE_OK && db_rc_bad_file(rc))
		goto fail;
	if ((rc = conn_open(db, true, &v, err, errlen)) != SQLITE_OK)
		goto fail;
	if (v < DB_SCHEMA_VERSION && (rc = migrate(db, v, err, errlen)) != SQLITE_OK)
		goto fail;
	if ((rc = stmts_prepare(db, err, errlen)) != SQLITE_OK)
		goto fail;
	if (sqlite3_db_readonly(db->conn, "main") == 1)
		log_warn("db", "%s: the file is read-only; writes fail until it is writable", path);
	struct stat st;
	if (stat(path, &st) == 0) {
		db->file_known = true;
		db->file_dev = st.st_dev;
		db->file_ino = st.st_ino;
	}
	*out = db;
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
	rc = SQLITE_NOMEM;
fail:
	if (db && db_rc_bad_file(rc) && db->opt.allow_unavailable) {
		conn_close(db);
		db_mark_unavailable(db, err);
		log_error("db", "%s; running without the database: live trends go on, history "
			  "is unavailable, the file is left as it is and opened again once it "
			  "is a usable database", err);
		*out = db;
		return 0;
	}
	if (db)
		db_free(db);
	return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

int db_open(struct db **out, const char *path, char *err, size_t errlen)
{
	return db_open_with(out, path, NULL, err, errlen);
}

/* Sources ---------------------------------------------------------------- */

static char *column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return strdup(t ? (const char *)t : "");
}

void db_sources_free(struct source_config *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		source_config_clear(&v[i]);
	free(v);
}

int db_sources_load(struct db *db, struct source_config **out, size_t *n)
{
	struct source_config *v = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = db->st[ST_SOURCES_LOAD];
	int rc;

	*out = NULL;
	*n = 0;
	if (db->writer || !db->conn)
		return -EBUSY;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == LIMIT_SOURCES) {
			log_warn("db", "%s: more than %d sources stored; loading the first %d",
				 db->path, LIMIT_SOURCES, LIMIT_SOURCES);
			break;
		}
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct source_config *nv = realloc(v, ncap * sizeof *v);
			if (!nv)
				goto nomem;
			v = nv;
			cap = ncap;
		}
		struct source_config *c = &v[len];
		memset(c, 0, sizeof *c);
		len++;
		const unsigned char *kind = sqlite3_column_text(st, 1);
		c->id = sqlite3_column_int64(st, 0);
		snprintf(c->kind, sizeof c->kind, "%s", kind ? (const char *)kind : "");
		c->enabled = sqlite3_column_int(st, 4) != 0;
		c->interval_s = sqlite3_column_int(st, 5);
		c->name = column_dup(st, 2);
		c->url = column_dup(st, 3);
		c->params_json = column_dup(st, 6);
		c->cursor = column_dup(st, 7);
		if (!c->name || !c->url || !c->params_json || !c->cursor)
			goto nomem;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		char err[512];
		db_describe_error(db, rc, "load sources", err, sizeof err);
		log_error("db", "%s", err);
		sqlite3_reset(st);
		db_sources_free(v, len);
		return -EIO;
	}
	sqlite3_reset(st);
	*out = v;
	*n = len;
	return 0;
nomem:
	sqlite3_reset(st);
	db_sources_free(v, len);
	return -ENOMEM;
}

/* Checkpoint ------------------------------------------------------------- */

void db_checkpoint_release_state(struct db_checkpoint *c)
{
	for (size_t i = 0; i < c->nseg; i++)
		free(c->seg[i].body);
	free(c->seg);
	free(c->state);
	c->seg = NULL;
	c->nseg = 0;
	c->state = NULL;
	c->state_len = 0;
}

void db_checkpoint_clear(struct db_checkpoint *c)
{
	db_checkpoint_release_state(c);
	for (size_t i = 0; i < c->ncursors; i++)
		source_cursor_clear(&c->cursors[i]);
	free(c->cursors);
	memset(c, 0, sizeof *c);
}

/* Reads every stored segment into out, in id order. SQLITE_DONE, or the error. */
static int segments_load(struct db *db, struct db_checkpoint *out)
{
	sqlite3_stmt *st = db->st[ST_CKPT_SEGMENTS_LOAD];
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_segment *g;
		if (out->nseg == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			if (!(g = realloc(out->seg, ncap * sizeof *g))) {
				rc = SQLITE_NOMEM;
				break;
			}
			out->seg = g;
			cap = ncap;
		}
		g = &out->seg[out->nseg];
		g->id = (uint64_t)sqlite3_column_int64(st, 0);
		g->len = (size_t)sqlite3_column_bytes(st, 1);
		if (!(g->body = malloc(g->len ? g->len : 1))) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (g->len)
			memcpy(g->body, sqlite3_column_blob(st, 1), g->len);
		out->nseg++;
		out->seg_next = g->id + 1;
	}
	sqlite3_reset(st);
	return rc;
}

int db_checkpoint_load(struct db *db, struct db_checkpoint *out)
{
	sqlite3_stmt *st = db->st[ST_CKPT_LOAD];
	char err[512];
	int rc;

	memset(out, 0, sizeof *out);
	if (db->writer || !db->conn)
		return -EBUSY;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(st, 1);
		int len = sqlite3_column_bytes(st, 1);
		out->epoch = (uint64_t)sqlite3_column_int64(st, 0);
		atomic_store(&db->committed_epoch, out->epoch);
		if (blob && len > 0) {
			if (!(out->state = malloc((size_t)len)))
				goto nomem;
			memcpy(out->state, blob, (size_t)len);
			out->state_len = (size_t)len;
		}
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto fail;
	st = db->st[ST_CKPT_SOURCES_LOAD];
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->ncursors < LIMIT_SOURCES) {
		if (out->ncursors == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct source_cursor *nc = realloc(out->cursors, ncap * sizeof *nc);
			if (!nc)
				goto nomem;
			out->cursors = nc;
			cap = ncap;
		}
		struct source_cursor *c = &out->cursors[out->ncursors];
		const void *seen = sqlite3_column_blob(st, 2);
		int len = sqlite3_column_bytes(st, 2);
		struct source_cursor tmp = { .source_id = sqlite3_column_int64(st, 0),
					     .cursor = (char *)sqlite3_column_text(st, 1),
					     .seen = (uint8_t *)seen,
					     .seen_len = seen && len > 0 ? (size_t)len : 0 };
		if (source_cursor_copy(c, &tmp) < 0)
			goto nomem;
		out->ncursors++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		goto fail;
	if ((rc = segments_load(db, out)) == SQLITE_NOMEM)
		goto nomem;
	if (rc != SQLITE_DONE)
		goto fail;
	return 0;
fail:
	db_describe_error(db, rc, "read the checkpoint", err, sizeof err);
	log_error("db", "%s", err);
	db_checkpoint_clear(out);
	return -EIO;
nomem:
	sqlite3_reset(db->st[ST_CKPT_LOAD]);
	sqlite3_reset(db->st[ST_CKPT_SOURCES_LOAD]);
	db_checkpoint_clear(out);
	return -ENOMEM;
}

int db_checkpoint_segment(void *ctx, uint64_t id, const void **buf, size_t *len)
{
	const struct db_checkpoint *c = ctx;
	size_t lo = 0, hi = c->nseg;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->seg[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == c->nseg || c->seg[lo].id != id)
		return -ENOENT;
	*buf = c->seg[lo].body;
	*len = c->seg[lo].len;
	return 0;
}

/* params must be a JSON object: the web layer embeds it in replies as it is. */
bool db_params_valid(const char *params)
{
	json_error_t je;
	json_t *j = json_loads(params, JSON_REJECT_DUPLICATES, &je);
	bool ok = json_is_object(j);
	json_decref(j);
	return ok;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

int db_source_upsert(struct db *db, struct source_config *c)
{
	sqlite3_stmt *st;
	const char *params;
	int64_t count = 0, id = 0;
	bool exists;
	char err[512];
	int rc, ret = -EIO;

	if (db->writer || !db->conn)
		return -EBUSY;
	if (!c->name || !c->name[0] || !c->kind[0] || strnlen(c->kind, sizeof c->kind) ==
	    sizeof c->kind)
		return -EINVAL;
	params = c->params_json && c->params_json[0] ? c->params_json : "{}";
	if (!db_params_valid(params))
		return -EINVAL;

	if ((rc = db_stmt_run(db->st[ST_BEGIN])) != SQLITE_OK)
		goto fail;
	st = db->st[ST_SOURCE_FIND];
	bind_text(st, 1, c->name);
	rc = sqlite3_step(st);
	exists = rc == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (!exists) {
		st = db->st[ST_SOURCE_COUNT];
		rc = sqlite3_step(st);
		count = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			goto fail;
		if (count >= LIMIT_SOURCES) {
			ret = -ENOSPC;
			rc = SQLITE_OK;
			goto fail;
		}
	}
	st = db->st[ST_SOURCE_UPSERT];
	bind_text(st, 1, c->kind);
	bind_text(st, 2, c->name);
	bind_text(st, 3, c->url);
	sqlite3_bind_int(st, 4, c->enabled ? 1 : 0);
	sqlite3_bind_int(st, 5, c->interval_s);
	bind_text(st, 6, params);
	bind_text(st, 7, c->cursor);
	sqlite3_bind_int64(st, 8, clock_now_ms());
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			ret = -EINVAL;
		goto fail;
	}
	if ((rc = db_stmt_run(db->st[ST_COMMIT])) != SQLITE_OK)
		goto fail;
	c->id = id;
	return 0;
fail:
	if (rc != SQLITE_OK) {
		db_describe_error(db, rc, "store source", err, sizeof err);
		log_warn("db", "source \"%.64s\": %s", c->name, err);
	}
	if (!sqlite3_get_autocommit(db->conn))
		db_stmt_run(db->st[ST_ROLLBACK]);
	return ret;
}

int db_source_reset_cursor(struct db *db, int64_t id)
{
	sqlite3_stmt *st = db->st[ST_SOURCE_RESET_CURSOR];
	char err[512];
	int rc;

	if (db->writer || !db->conn)
		return -EBUSY;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, clock_now_ms());
	if ((rc = db_stmt_run(st)) != SQLITE_OK) {
		db_describe_error(db, rc, "reset a source cursor", err, sizeof err);
		log_warn("db", "source %lld: %s", (long long)id, err);
		return -EIO;
	}
	return sqlite3_changes(db->conn) == 1 ? 0 : -ENOENT;
}

/* Closing ---------------------------------------------------------------- */

void db_close(struct db *db)
{
	if (!db)
		return;
	db_writer_stop(db, false);
	if (db->conn) {
		/*
		 * Cheap when nothing changed; keeps the query planner's statistics
		 * fresh. The analysis limit bounds its time on a large history.
		 */
		stmts_finalize(db);
		sqlite3_exec(db->conn, "PRAGMA analysis_limit = 1000; PRAGMA optimize", NULL, NULL,
			     NULL);
	}
	db_free(db);
}

int db_post_log_replay(struct db *db, int64_t source_id, int64_t after,
		       int (*fn)(void *ctx, struct post *p, int64_t seq), void *ctx)
{
	char err[256];
	int rc = db->conn ? post_log_read_after(&db->post_log, source_id, after, SIZE_MAX, fn, ctx)
			  : SQLITE_CANTOPEN;

	if (rc == SQLITE_OK)
		return 0;
	db_describe_error(db, rc, "read the pushed posts", err, sizeof err);
	log_error("db", "%s", err);
	return -EIO;
}
