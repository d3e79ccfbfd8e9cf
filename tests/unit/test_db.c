/*
 * Unit tests for db/: opening and migrating, the sources table, the writer
 * thread (batches, snapshots, source state) and its behaviour when the file
 * is read-only, the disk is full or another connection holds the lock.
 *
 * Failures are injected with a small SQLite VFS that wraps the default one:
 * tests run as root in CI, where chmod does not stop writes, and a VFS gives
 * the same errors SQLite reports for a read-only file or a full disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
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
#include "core/limits.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/strbuf.h"
#include "core/term.h"
#include "db/db.h"
#include "db/term_cache.h"
#include "tests/unit/testutil.h"

/* Fault-injecting VFS --------------------------------------------------- */

enum fault { FAULT_NONE, FAULT_READONLY, FAULT_FULL };

/*
 * FAULT_READONLY: the main database file opens read-only (what SQLite does
 * with a file it may not write) and writes through handles already open fail
 * with an I/O error (what a file system remounted read-only does).
 * FAULT_FULL: every write fails with SQLITE_FULL (ENOSPC).
 */
static atomic_int fault_mode;
static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;   /* follows the struct, szOsFile of the real VFS */
};

#define REAL(f) (((struct fault_file *)(f))->real)
#define RM(f)   (REAL(f)->pMethods)

static int ff_close(sqlite3_file *f) { return RM(f)->xClose(REAL(f)); }
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	return RM(f)->xRead(REAL(f), b, n, off);
}
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	switch (atomic_load(&fault_mode)) {
	case FAULT_FULL:
		return SQLITE_FULL;
	case FAULT_READONLY:
		return SQLITE_IOERR_WRITE;
	default:
		return RM(f)->xWrite(REAL(f), b, n, off);
	}
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (atomic_load(&fault_mode) != FAULT_NONE)
		return SQLITE_IOERR_TRUNCATE;
	return RM(f)->xTruncate(REAL(f), size);
}
static int ff_sync(sqlite3_file *f, int flags) { return RM(f)->xSync(REAL(f), flags); }
static int ff_size(sqlite3_file *f, sqlite3_int64 *size) { return RM(f)->xFileSize(REAL(f), size); }
static int ff_lock(sqlite3_file *f, int l) { return RM(f)->xLock(REAL(f), l); }
static int ff_unlock(sqlite3_file *f, int l) { return RM(f)->xUnlock(REAL(f), l); }
static int ff_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}
static int ff_control(sqlite3_file *f, int op, void *arg)
{
	return RM(f)->xFileControl(REAL(f), op, arg);
}
static int ff_sector(sqlite3_file *f) { return RM(f)->xSectorSize(REAL(f)); }
static int ff_device(sqlite3_file *f) { return RM(f)->xDeviceCharacteristics(REAL(f)); }
static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int ff_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return RM(f)->xShmLock(REAL(f), off, n, flags);
}
static void ff_shm_barrier(sqlite3_file *f) { RM(f)->xShmBarrier(REAL(f)); }
static int ff_shm_unmap(sqlite3_file *f, int del) { return RM(f)->xShmUnmap(REAL(f), del); }
static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return RM(f)->xFetch(REAL(f), off, amt, pp);
}
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods ff_methods = {
	3, ff_close, ff_read, ff_write, ff_truncate, ff_sync, ff_size, ff_lock, ff_unlock,
	ff_reserved, ff_control, ff_sector, ff_device, ff_shm_map, ff_shm_lock, ff_shm_barrier,
	ff_shm_unmap, ff_fetch, ff_unfetch,
};

static int fv_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	ff->real = (sqlite3_file *)(ff + 1);
	if (atomic_load(&fault_mode) == FAULT_READONLY && (flags & SQLITE_OPEN_MAIN_DB)) {
		flags &= ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
		flags |= SQLITE_OPEN_READONLY;
	}
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &ff_methods : NULL;
	return rc;
}

static const char *fault_vfs_name(void)
{
	if (!real_vfs) {
		real_vfs = sqlite3_vfs_find(NULL);
		fault_vfs = *real_vfs;
		fault_vfs.zName = "trendd_test_fault";
		fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
		fault_vfs.xOpen = fv_open;
		fault_vfs.pNext = NULL;
		ck_assert_int_eq(sqlite3_vfs_register(&fault_vfs, 0), SQLITE_OK);
	}
	return fault_vfs.zName;
}

/* Files and direct SQLite access ------------------------------------------- */

static char tmpdir[256];
static char dbpath[300];

static void tmp_setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/trendd-test-db-XXXXXX");
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

static sqlite3 *sq_open(const char *path)
{
	sqlite3 *c = NULL;
	ck_assert_int_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(c, 5000);
	return c;
}

static int64_t sq_int(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st = NULL;
	ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(c));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "no row: %s", sql);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* First column of the first row as text; caller frees. NULL when there is no row. */
static char *sq_text(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *r = NULL;
	ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(c));
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		r = strdup(t ? (const char *)t : "");
	}
	sqlite3_finalize(st);
	return r;
}

static void sq_exec(sqlite3 *c, const char *sql)
{
	char *e = NULL;
	int rc = sqlite3_exec(c, sql, NULL, NULL, &e);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, e ? e : "?");
}

static void assert_integrity(const char *path)
{
	sqlite3 *c = sq_open(path);
	char *r = sq_text(c, "PRAGMA integrity_check");
	ck_assert_str_eq(r, "ok");
	free(r);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	sqlite3_close(c);
}

/*
 * The writer's wall clock in these tests: fixed near T0 (unless a test moves
 * it), so retention treats the test data alike whatever day the tests run.
 */
static const int64_t T0 = 1795608000000LL; /* 2026-11-25T12:00:00Z, a minute start */
static _Atomic int64_t fake_now_ms = 1795608000000LL + 3600 * 1000;
static int64_t fake_clock(void) { return atomic_load(&fake_now_ms); }

static struct db *open_ok(const struct db_options *o)
{
	struct db *db = NULL;
	char err[512] = "";
	struct db_options opt = o ? *o : (struct db_options){ 0 };
	if (!opt.clock_ms)
		opt.clock_ms = fake_clock;
	int rc = db_open_with(&db, dbpath, &opt, err, sizeof err);
	ck_assert_msg(rc == 0, "db_open: %d %s", rc, err);
	ck_assert_ptr_nonnull(db);
	return db;
}

static char *file_bytes(const char *path, size_t *len)
{
	char *b = tu_read_file(path, len);
	ck_assert_ptr_nonnull(b);
	return b;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Messages and the bus -------------------------------------------------------- */

struct row_spec {
	const char *term;
	int kind;
	int64_t minute_ms;
	uint32_t count, authors, pos, neg;
	double sent;
};

static struct dbmsg *minutes_msg(const struct row_spec *spec, size_t n)
{
	struct dbmsg *m = dbmsg_new(DBMSG_TERM_MINUTES);
	size_t total = 1, off = 0;
	ck_assert_ptr_nonnull(m);
	for (size_t i = 0; i < n; i++)
		total += strlen(spec[i].term);
	m->u.minutes.pool = malloc(total);
	m->u.minutes.rows = calloc(n ? n : 1, sizeof *m->u.minutes.rows);
	ck_assert(m->u.minutes.pool && m->u.minutes.rows);
	m->u.minutes.n = n;
	for (size_t i = 0; i < n; i++) {
		struct term_minute_row *r = &m->u.minutes.rows[i];
		size_t len = strlen(spec[i].term);
		memcpy(m->u.minutes.pool + off, spec[i].term, len);
		r->term = m->u.minutes.pool + off;
		r->term_len = (uint32_t)len;
		off += len;
		r->kind = (uint8_t)spec[i].kind;
		r->minute_ms = spec[i].minute_ms;
		r->count = spec[i].count;
		r->authors = spec[i].authors;
		r->pos = spec[i].pos;
		r->neg = spec[i].neg;
		r->sent_sum = spec[i].sent;
	}
	return m;
}

static struct dbmsg *one_row_msg(const char *term, int kind, int64_t minute, uint32_t count)
{
	struct row_spec r = { term, kind, minute, count, 1, 0, 0, 0.0 };
	return minutes_msg(&r, 1);
}

static struct dbmsg *source_state_msg(int64_t id, const char *cursor, int64_t ok_ms,
				      const char *error, int64_t error_ms, uint64_t seen,
				      uint64_t skipped)
{
	struct dbmsg *m = dbmsg_new(DBMSG_SOURCE_STATE);
	ck_assert_ptr_nonnull(m);
	m->u.source.source_id = id;
	m->u.source.cursor = cursor ? strdup(cursor) : NULL;
	m->u.source.last_ok_ms = ok_ms;
	m->u.source.last_error = strdup(error);
	m->u.source.last_error_ms = error_ms;
	m->u.source.posts_seen = seen;
	m->u.source.items_skipped = skipped;
	return m;
}

static void push(struct bus *b, struct dbmsg *m)
{
	ck_assert_int_eq(queue_push(&b->db, m, -1), 0);
}

static atomic_int wakes;
static void count_wake(void *ctx) { atomic_fetch_add(&wakes, 1); }

static void bus_setup(struct bus *b)
{
	ck_assert_int_eq(bus_init(b), 0);
	b->wake_web = count_wake;
	atomic_store(&wakes, 0);
}

/* The newest status blob, parsed; NULL when none was published yet. */
static json_t *status_get(struct bus *b)
{
	struct blob *bl = (struct blob *)publish_get(&b->db_status);
	json_error_t je;
	if (!bl)
		return NULL;
	json_t *j = json_loadb(bl->data, bl->len, 0, &je);
	ck_assert_msg(j != NULL, "status is not JSON: %s (%s)", bl->data, je.text);
	ref_put(&bl->ref);
	return j;
}

static int64_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_integer(v), "status.%s is not an integer", key);
	return json_integer_value(v);
}

typedef bool (*status_pred)(json_t *st, int64_t arg);

/* Waits up to 10 s for a status that satisfies pred; returns it (caller decrefs). */
static json_t *status_wait(struct bus *b, status_pred pred, int64_t arg, const char *what)
{
	int64_t end = clock_mono_ms() + 10000;
	json_t *st = NULL;
	while (clock_mono_ms() < end) {
		st = status_get(b);
		if (st && pred(st, arg))
			return st;
		json_decref(st);
		st = NULL;
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
	st = status_get(b);
	char *s = st ? json_dumps(st, 0) : NULL;
	ck_abort_msg("timed out waiting for %s; last status %s", what, s ? s : "(none)");
	return NULL;
}

static bool st_failing(json_t *st, int64_t arg)
{
	return json_is_false(json_object_get(st, "ok")) && jint(st, "failed_batches") >= arg;
}

static bool st_ok_rows(json_t *st, int64_t rows)
{
	return json_is_true(json_object_get(st, "ok")) && jint(st, "rows_written") >= rows;
}

static bool st_dropped(json_t *st, int64_t n)
{
	return jint(st, "msgs_dropped") >= n && jint(st, "queue_depth") == 0;
}

static bool st_retried_empty(json_t *st, int64_t failed)
{
	return jint(st, "failed_batches") >= failed && jint(st, "queue_depth") == 0;
}

/*
 * Waits, while writes fail, until every message pushed so far is in the
 * writer's backlog, and returns that status. A status only proves it when it
 * was published after the pushes: the one read here may be older, but the
 * writer publishes the next failed retry after this read, and an empty queue
 * in it means the writer took every message (into the backlog) before then.
 */
static json_t *backlog_wait(struct bus *b)
{
	json_t *st = status_get(b);
	int64_t failed = st ? jint(st, "failed_batches") : 0; /* none yet: any will do */
	json_decref(st);
	return status_wait(b, st_retried_empty, failed + 1, "every message in the backlog");
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

/* Opening and migrations ------------------------------------------------------- */

START_TEST(test_open_creates_current_schema_in_wal_mode)
{
	struct db *db = open_ok(NULL);
	db_close(db);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	char *mode = sq_text(c, "PRAGMA journal_mode");
	ck_assert_str_eq(mode, "wal");
	free(mode);
	const char *tables[] = { "sources", "terms", "term_minute", "snapshots" };
	for (size_t i = 0; i < 4; i++) {
		char sql[128];
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
			 tables[i]);
		ck_assert_msg(sq_int(c, sql) == 1, "table %s missing", tables[i]);
	}
	/* term_minute is keyed by (term, minute) without a rowid. */
	char *sql = sq_text(c, "SELECT sql FROM sqlite_schema WHERE name = 'term_minute'");
	ck_assert_ptr_nonnull(strstr(sql, "WITHOUT ROWID"));
	free(sql);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_open_migrates_an_empty_file)
{
	write_file(dbpath, "", 0);
	struct db *db = open_ok(NULL);
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sources"), 0);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_reopen_keeps_data_and_schema)
{
	struct db *db = open_ok(NULL);
	struct source_config c = { .kind = "rss", .name = "feed", .url = "https://e.org/rss",
				   .enabled = true, .interval_s = 300, .cursor = "abc" };
	ck_assert_int_eq(db_source_upsert(db, &c), 0);
	db_close(db);

	db = open_ok(NULL);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].id, c.id);
	ck_assert_str_eq(v[0].name, "feed");
	ck_assert_str_eq(v[0].cursor, "abc");
	ck_assert_int_eq(v[0].interval_s, 300);
	db_sources_free(v, n);
	db_close(db);

	sqlite3 *s = sq_open(dbpath);
	ck_assert_int_eq(sq_int(s, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	ck_assert_int_eq(sq_int(s, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
				  " AND name NOT LIKE 'sqlite%'"), 14);
	sqlite3_close(s);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_open_refuses_newer_schema_and_leaves_it_untouched)
{
	db_close(open_ok(NULL));
	sqlite3 *c = sq_open(dbpath);
	sq_exec(c, "PRAGMA user_version = 999");
	sqlite3_close(c);
	size_t len0, len1;
	char *before = file_bytes(dbpath, &len0);

	struct db *db = (struct db *)1;
	char err[512] = "";
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "999") && strstr(err, "newer"), "err: %s", err);
	ck_assert_ptr_nonnull(strstr(err, dbpath));

	char *after = file_bytes(dbpath, &len1);
	ck_assert_uint_eq(len0, len1);
	ck_assert_mem_eq(before, after, len0);
	free(before);
	free(after);
	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), 999);
	sqlite3_close(c);
}
END_TEST

START_TEST(test_open_rolls_back_a_failed_migration)
{
	/* A version-3 file that already has a table named like one migration 4 creates. */
	db_close(open_ok(NULL));
	sqlite3 *c = sq_open(dbpath);
	sq_exec(c, "DROP TABLE post_log; CREATE TABLE post_log (x);"
		   "INSERT INTO post_log VALUES ('keep me'); PRAGMA user_version = 3");
	sqlite3_close(c);

	struct db *db = NULL;
	char err[512] = "";
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "migration 4") != NULL, "err: %s", err);
	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), 3);
	char *x = sq_text(c, "SELECT x FROM post_log");
	ck_assert_str_eq(x, "keep me");
	free(x);
	sqlite3_close(c);
	assert_integrity(dbpath);

	/* Another program's SQLite file (tables, no schema version) is refused as it is. */
	unlink(dbpath);
	ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
	sq_exec(c, "CREATE TABLE terms (x); INSERT INTO terms VALUES ('keep me')");
	sqlite3_close(c);
	size_t len;
	char *before = file_bytes(dbpath, &len);
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "not a trendd database") != NULL, "err: %s", err);
	size_t len2;
	char *after = file_bytes(dbpath, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(before, after, len);
	free(before);
	free(after);

	/* ... and so is one with a schema version but not trendd's tables. */
	unlink(dbpath);
	ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
	sq_exec(c, "CREATE TABLE foo (x); INSERT INTO foo VALUES ('keep me'); PRAGMA user_version = 1");
	sqlite3_close(c);
	before = file_bytes(dbpath, &len);
	err[0] = 0;
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "not a trendd database") != NULL, "err: %s", err);
	after = file_bytes(dbpath, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(before, after, len);
	free(before);
	free(after);
}
END_TEST

/* The newest copy of page 1 in a WAL file (frames: 24-byte header, then the page). */
static char *wal_page1(const char *wal_path, size_t *page_size)
{
	size_t len;
	unsigned char *w = (unsigned char *)file_bytes(wal_path, &len);
	ck_assert_uint_ge(len, 32);
	size_t ps = (size_t)w[8] << 24 | (size_t)w[9] << 16 | (size_t)w[10] << 8 | w[11];
	char *page = NULL;
	for (size_t off = 32; off + 24 + ps <= len; off += 24 + ps) {
		uint32_t pgno = (uint32_t)w[off] << 24 | (uint32_t)w[off + 1] << 16 |
				(uint32_t)w[off + 2] << 8 | w[off + 3];
		if (pgno == 1) {
			free(page);
			page = malloc(ps);
			memcpy(page, w + off + 24, ps);
		}
	}
	free(w);
	ck_assert_ptr_nonnull(page);
	*page_size = ps;
	return page;
}

/*
 * A crash in the middle of a WAL checkpoint leaves a main file that looks
 * corrupt on its own (its first page already new, the pages it names still
 * only in the WAL) while the file and its WAL together are a sound database.
 * trendd must read them together and open it, not set it aside.
 */
START_TEST(test_open_reads_the_wal_with_a_half_checkpointed_file)
{
	char wal[400], copy[400], copy_wal[400];
	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	snprintf(copy, sizeof copy, "%s.crashed", dbpath);
	snprintf(copy_wal, sizeof copy_wal, "%s.crashed-wal", dbpath);

	/* trendd's schema, built by hand in a WAL that is never checkpointed */
	db_close(open_ok(NULL));
	sqlite3 *src = sq_open(dbpath), *c;
	ck_assert_int_eq(sqlite3_open(copy, &c), SQLITE_OK);
	sq_exec(c, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0");
	ck_assert_int_eq(sqlite3_db_config(c, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(src, "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
					    " ORDER BY rowid", -1, &st, NULL), SQLITE_OK);
	sq_exec(c, "BEGIN");
	while (sqlite3_step(st) == SQLITE_ROW)
		sq_exec(c, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", DB_SCHEMA_VERSION);
	sq_exec(c, sql);
	sq_exec(c, "INSERT INTO sources (kind, name, url, created_ms, updated_ms)"
		   " VALUES ('rss', 'kept', 'http://x/', 1, 1)");
	sq_exec(c, "COMMIT");
	sqlite3_close(src);
	/* "the crash": the file as the checkpoint left it, with the WAL beside it */
	size_t len, wlen, ps;
	char *main_bytes = file_bytes(copy, &len);
	char *wal_bytes = file_bytes(copy_wal, &wlen);
	sqlite3_close(c);
	char *page = wal_page1(copy_wal, &ps);
	ck_assert_uint_ge(len, ps);
	memcpy(main_bytes, page, ps);
	unlink(dbpath);
	unlink(wal);
	write_file(dbpath, main_bytes, len);
	write_file(wal, wal_bytes, wlen);
	free(main_bytes);
	free(wal_bytes);
	free(page);

	struct db *db = open_ok(NULL);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].name, "kept");
	db_sources_free(v, n);
	db_close(db);
	assert_integrity(dbpath);
	unlink(copy);
	unlink(copy_wal);
}
END_TEST

START_TEST(test_open_explains_a_read_only_file_that_needs_migrating)
{
	const char *vfs = fault_vfs_name();
	write_file(dbpath, "", 0);
	atomic_store(&fault_mode, FAULT_READONLY);
	struct db *db = NULL;
	char err[512] = "";
	ck_assert_int_lt(db_open_with(&db, dbpath, &(struct db_options){ .vfs = vfs }, err,
				      sizeof err), 0);
	atomic_store(&fault_mode, FAULT_NONE);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "read-only") != NULL, "err: %s", err);
	ck_assert_ptr_nonnull(strstr(err, dbpath));
	/* Writable again, it opens and migrates. */
	db = open_ok(&(struct db_options){ .vfs = vfs });
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	sqlite3_close(c);
}
END_TEST

START_TEST(test_open_rejects_a_text_file_without_touching_it)
{
	const char text[] = "this is not a database, it is a grocery list\nmilk\neggs\n";
	write_file(dbpath, text, sizeof text - 1);
	struct db *db = NULL;
	char err[512] = "";
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "not an SQLite database") != NULL, "err: %s", err);
	ck_assert_ptr_nonnull(strstr(err, dbpath));

	size_t len;
	char *after = file_bytes(dbpath, &len);
	ck_assert_uint_eq(len, sizeof text - 1);
	ck_assert_mem_eq(after, text, len);
	free(after);
	char wal[400];
	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	ck_assert(!exists(wal));
}
END_TEST

START_TEST(test_open_reports_corrupt_and_unopenable_files)
{
	struct db *db = NULL;
	char err[512] = "";

	/* A valid header followed by garbage. */
	unsigned char junk[8192];
	memcpy(junk, "SQLite format 3", 16);
	for (size_t i = 16; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	write_file(dbpath, junk, sizeof junk);
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "not an SQLite database") || strstr(err, "corrupt"), "err: %s",
		      err);

	/* A trendd database whose schema page was overwritten. */
	unlink(dbpath);
	db_close(open_ok(NULL));
	size_t len;
	char *b = file_bytes(dbpath, &len);
	ck_assert_uint_ge(len, 4096);
	memset(b + 100, 0x5a, 4096 - 100);
	write_file(dbpath, b, len);
	free(b);
	err[0] = 0;
	ck_assert_int_lt(db_open(&db, dbpath, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "corrupt") != NULL, "err: %s", err);

	/* A directory. */
	err[0] = 0;
	ck_assert_int_lt(db_open(&db, tmpdir, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "err: %s", err);
	ck_assert_ptr_nonnull(strstr(err, tmpdir));

	/* No file name at all. */
	ck_assert_int_eq(db_open(&db, "", err, sizeof err), -EINVAL);
}
END_TEST

/* Sources --------------------------------------------------------------------- */

START_TEST(test_sources_round_trip_sql_significant_strings)
{
	struct db *db = open_ok(NULL);
	char *big = malloc(10 * 1024 + 1);
	/* 10 kB of multi-byte text ending in a quote. */
	for (size_t i = 0; i < 10 * 1024; i += 4)
		memcpy(big + i, "\xF0\x9F\xA6\x80", 4);
	memcpy(big + 10 * 1024 - 4, "x'\"\\", 4);
	big[10 * 1024] = 0;
	struct {
		const char *name, *url, *params, *cursor;
		bool enabled;
		int interval;
	} in[] = {
		{ "O'Reilly \"quoted\" feed", "https://e.org/feed?a=1&b='2'",
		  "{\"tag\":\"rust's\",\"n\":3}", "109'; --", true, 60 },
		{ "'; DROP TABLE sources; --", "", "{}", "", false, 15 },
		{ "100% %s %n \\ back\\slash \t tab", "https://e.org/%20", "{\"a\":[1,2,{}]}",
		  "%s", true, 3600 },
		{ "emoji \xF0\x9F\x8E\x89 \xC3\xBC" "n\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 "
		  "\xE6\x97\xA5\xE6\x9C\xAC",
		  "https://\xE6\x97\xA5.example/", "{\"k\":\"\xF0\x9F\x8E\x89\"}",
		  "\xF0\x9F\x8E\x89",
		  true, 1 },
		{ big, big, "{}", big, true, 86400 },
	};
	size_t nin = sizeof in / sizeof in[0];
	int64_t ids[8];
	for (size_t i = 0; i < nin; i++) {
		struct source_config c = { .name = (char *)in[i].name, .url = (char *)in[i].url,
					   .params_json = (char *)in[i].params,
					   .cursor = (char *)in[i].cursor,
					   .enabled = in[i].enabled, .interval_s = in[i].interval };
		snprintf(c.kind, sizeof c.kind, "%s", i % 2 ? "mastodon" : "rss");
		ck_assert_int_eq(db_source_upsert(db, &c), 0);
		ck_assert_int_gt(c.id, 0);
		ids[i] = c.id;
		for (size_t j = 0; j < i; j++)
			ck_assert_int_ne(ids[j], c.id);
	}
	/* Upserting by name updates in place and keeps the id. */
	struct source_config again = { .kind = "jsonfeed", .name = big, .url = "https://e.org/",
				       .enabled = false, .interval_s = 5 };
	ck_assert_int_eq(db_source_upsert(db, &again), 0);
	ck_assert_int_eq(again.id, ids[4]);
	db_close(db);

	db = open_ok(NULL);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_uint_eq(n, nin);
	for (size_t i = 0; i < nin; i++) {
		ck_assert_int_eq(v[i].id, ids[i]);
		ck_assert_str_eq(v[i].name, in[i].name);
		if (i == 4) {
			ck_assert_str_eq(v[i].kind, "jsonfeed");
			ck_assert_str_eq(v[i].url, "https://e.org/");
			ck_assert_str_eq(v[i].params_json, "{}");
			ck_assert_str_eq(v[i].cursor, big); /* kept: the update had none */
			ck_assert(!v[i].enabled);
			ck_assert_int_eq(v[i].interval_s, 5);
			continue;
		}
		ck_assert_str_eq(v[i].kind, i % 2 ? "mastodon" : "rss");
		ck_assert_str_eq(v[i].url, in[i].url);
		ck_assert_str_eq(v[i].params_json, in[i].params);
		ck_assert_str_eq(v[i].cursor, in[i].cursor);
		ck_assert_int_eq(v[i].enabled, in[i].enabled);
		ck_assert_int_eq(v[i].interval_s, in[i].interval);
	}
	db_sources_free(v, n);
	db_close(db);
	free(big);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sources"), (int64_t)nin);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

static char *load_cursor(struct db *db, int64_t id)
{
	struct source_config *v;
	size_t n;
	char *r = NULL;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			r = strdup(v[i].cursor);
	db_sources_free(v, n);
	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(test_source_upsert_keeps_cursor_unless_one_is_given)
{
	struct db *db = open_ok(NULL);
	struct source_config c = { .kind = "mastodon", .name = "m", .url = "https://m.example",
				   .enabled = true, .interval_s = 30, .cursor = "111" };
	ck_assert_int_eq(db_source_upsert(db, &c), 0);
	char *cur = load_cursor(db, c.id);
	ck_assert_str_eq(cur, "111");
	free(cur);

	c.cursor = "";
	c.interval_s = 45;
	ck_assert_int_eq(db_source_upsert(db, &c), 0);
	cur = load_cursor(db, c.id);
	ck_assert_str_eq(cur, "111");
	free(cur);

	c.cursor = NULL;
	ck_assert_int_eq(db_source_upsert(db, &c), 0);
	cur = load_cursor(db, c.id);
	ck_assert_str_eq(cur, "111");
	free(cur);

	c.cursor = "222";
	ck_assert_int_eq(db_source_upsert(db, &c), 0);
	cur = load_cursor(db, c.id);
	ck_assert_str_eq(cur, "222");
	free(cur);

	/* An explicit reset is the only way back to "start from newest". */
	ck_assert_int_eq(db_source_reset_cursor(db, c.id), 0);
	cur = load_cursor(db, c.id);
	ck_assert_str_eq(cur, "");
	free(cur);
	ck_assert_int_eq(db_source_reset_cursor(db, c.id + 1000), -ENOENT);
	db_close(db);

	sqlite3 *s = sq_open(dbpath);
	ck_assert_int_eq(sq_int(s, "SELECT interval_s FROM sources WHERE name = 'm'"), 45);
	ck_assert_int_ge(sq_int(s, "SELECT updated_ms FROM sources WHERE name = 'm'"),
			 sq_int(s, "SELECT created_ms FROM sources WHERE name = 'm'"));
	sqlite3_close(s);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_source_upsert_rejects_invalid_sources)
{
	struct db *db = open_ok(NULL);
	struct source_config c = { .kind = "rss", .name = "", .url = "u" };
	ck_assert_int_eq(db_source_upsert(db, &c), -EINVAL);
	c.name = NULL;
	ck_assert_int_eq(db_source_upsert(db, &c), -EINVAL);
	c.name = "n";
	c.kind[0] = 0;
	ck_assert_int_eq(db_source_upsert(db, &c), -EINVAL);
	strcpy(c.kind, "rss");
	c.params_json = "{not json";
	ck_assert_int_eq(db_source_upsert(db, &c), -EINVAL);
	c.params_json = "[1,2]";
	ck_assert_int_eq(db_source_upsert(db, &c), -EINVAL);
	ck_assert_int_eq(c.id, 0);

	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	db_sources_free(v, n);

	/* The database still works after the rejected statements. */
	c.params_json = NULL;
	ck_assert_int_eq(db_source_upsert(db, &c), 0);
	ck_assert_int_gt(c.id, 0);
	db_close(db);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_source_upsert_stops_at_the_source_limit)
{
	struct db *db = open_ok(NULL);
	char name[32];
	for (int i = 0; i < LIMIT_SOURCES; i++) {
		snprintf(name, sizeof name, "s%d", i);
		struct source_config c = { .kind = "rss", .name = name, .url = "u" };
		ck_assert_int_eq(db_source_upsert(db, &c), 0);
	}
	struct source_config extra = { .kind = "rss", .name = "one too many", .url = "u" };
	ck_assert_int_eq(db_source_upsert(db, &extra), -ENOSPC);
	/* Updating an existing one is still fine. */
	struct source_config upd = { .kind = "atom", .name = "s7", .url = "v" };
	ck_assert_int_eq(db_source_upsert(db, &upd), 0);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_uint_eq(n, LIMIT_SOURCES);
	ck_assert_str_eq(v[7].kind, "atom");
	db_sources_free(v, n);
	db_close(db);
	assert_integrity(dbpath);
}
END_TEST

/* The writer ---------------------------------------------------------------------- */

START_TEST(test_writer_adds_term_minutes_and_updates_source_state)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 20 });
	struct source_config src = { .kind = "rss", .name = "feed", .url = "u", .cursor = "c0" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	ck_assert_int_eq(db_writer_start(db, &bus), -EALREADY);
	ck_assert_int_eq(db_source_upsert(db, &src), -EBUSY);

	const struct row_spec first[] = {
		{ "#rust", TERM_HASHTAG, T0, 3, 2, 1, 0, 0.5 },
		{ "rust", TERM_WORD, T0, 1, 1, 0, 0, 0.0 },
		{ "it's", TERM_WORD, T0 + 61000, 2, 2, 0, 1, -0.4 }, /* not a minute start */
		{ "'; DROP TABLE terms; --", TERM_WORD, T0, 1, 1, 0, 0, 0.0 },
		{ "\xF0\x9F\x8E\x89", TERM_EMOJI, T0, 5, 4, 5, 0, 3.0 },
	};
	const struct row_spec second[] = {
		{ "#rust", TERM_HASHTAG, T0, 4, 3, 2, 1, -0.25 }, /* same (term, minute): adds */
		{ "#rust", TERM_HASHTAG, T0 + 60000, 1, 1, 0, 0, 0.1 },
	};
	push(&bus, minutes_msg(first, 5));
	push(&bus, source_state_msg(src.id, "c1", T0 + 5, "", 0, 10, 1));
	/* Wait for the first batch, so the second message also meets the term cache. */
	json_decref(status_wait(&bus, st_ok_rows, 6, "the first batch"));
	push(&bus, minutes_msg(second, 2));
	/* ingest sends "" when it has no cursor: the stored one stays. */
	push(&bus, source_state_msg(src.id, "", T0 + 9, "HTTP 503", T0 + 9, 12, 2));
	db_close(db);

	json_t *st = status_get(&bus);
	ck_assert(json_is_true(json_object_get(st, "ok")));
	ck_assert(json_is_null(json_object_get(st, "error")));
	ck_assert_int_eq(jint(st, "rows_written"), 9);
	ck_assert_int_eq(jint(st, "rows_skipped"), 0);
	ck_assert_int_ge(jint(st, "batches"), 2);
	ck_assert_int_eq(jint(st, "queue_depth"), 0);
	ck_assert(json_is_string(json_object_get(st, "last_commit_at")));
	json_decref(st);
	ck_assert_int_ge(atomic_load(&wakes), 2);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM terms"), 5);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 6);
#define RUST_T0 "SELECT %s FROM term_minute JOIN terms ON terms.id = term_id" \
		" WHERE kind = 'hashtag' AND term = '#rust' AND minute_ms = 1795608000000"
	char sql[512];
	const char *cols[] = { "count", "authors", "pos", "neg" };
	const int64_t want[] = { 7, 3, 3, 1 };
	for (int i = 0; i < 4; i++) {
		snprintf(sql, sizeof sql, RUST_T0, cols[i]);
		ck_assert_msg(sq_int(c, sql) == want[i], "%s", cols[i]);
	}
	snprintf(sql, sizeof sql, RUST_T0, "sent_sum * 1000");
	ck_assert_int_eq(sq_int(c, sql), 250);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_minute JOIN terms ON terms.id = term_id"
				  " WHERE kind = 'word' AND term = 'rust'"), 1);
	ck_assert_int_eq(sq_int(c, "SELECT minute_ms FROM term_minute JOIN terms"
				  " ON terms.id = term_id WHERE term = 'it''s'"), T0 + 60000);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_minute JOIN terms ON terms.id = term_id"
				  " WHERE term = '''; DROP TABLE terms; --'"), 1);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_minute JOIN terms ON terms.id = term_id"
				  " WHERE kind = 'emoji' AND term = '\xF0\x9F\x8E\x89'"), 5);

	char *cur = sq_text(c, "SELECT cursor FROM sources WHERE name = 'feed'");
	ck_assert_str_eq(cur, "c1"); /* the second state carried no cursor */
	free(cur);
	char *le = sq_text(c, "SELECT last_error FROM sources WHERE name = 'feed'");
	ck_assert_str_eq(le, "HTTP 503");
	free(le);
	ck_assert_int_eq(sq_int(c, "SELECT last_ok_ms FROM sources"), T0 + 9);
	ck_assert_int_eq(sq_int(c, "SELECT last_error_ms FROM sources"), T0 + 9);
	ck_assert_int_eq(sq_int(c, "SELECT posts_seen FROM sources"), 12);
	ck_assert_int_eq(sq_int(c, "SELECT items_skipped FROM sources"), 2);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_skips_invalid_rows_and_keeps_the_rest)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 10 });
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	char longterm[LIMIT_TERM_BYTES + 2];
	memset(longterm, 'a', sizeof longterm - 1);
	longterm[sizeof longterm - 1] = 0;
	const struct row_spec rows[] = {
		{ "good", TERM_WORD, T0, 1, 1, 0, 0, 0 },
		{ "kind", 99, T0, 1, 1, 0, 0, 0 },
		{ "", TERM_WORD, T0, 1, 1, 0, 0, 0 },
		{ longterm, TERM_WORD, T0, 1, 1, 0, 0, 0 },
		{ "bad\xFF", TERM_WORD, T0, 1, 1, 0, 0, 0 },
		{ "also good", TERM_BIGRAM, T0, 2, 2, 0, 0, 0 },
	};
	push(&bus, minutes_msg(rows, 6));
	push(&bus, source_state_msg(424242, "x", 1, "", 0, 1, 0)); /* no such source */
	db_close(db);

	json_t *st = status_get(&bus);
	ck_assert(json_is_true(json_object_get(st, "ok")));
	ck_assert_int_eq(jint(st, "rows_written"), 2);
	ck_assert_int_eq(jint(st, "rows_skipped"), 5);
	json_decref(st);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM terms"
				  " WHERE term IN ('good', 'also good')"), 2);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

/* A snapshot with global 5m and 1h views and a per-language view. */
static struct snapshot *make_snapshot(int64_t generated_ms, uint64_t seq)
{
	struct snapshot *s = snapshot_new();
	ck_assert_ptr_nonnull(s);
	s->seq = seq;
	s->generated_ms = generated_ms;
	s->event_time_ms = generated_ms - 1000;
	s->watermark_ms = generated_ms - 61000;
	s->stats.posts_total = 1234;
	s->nviews = 3;
	s->views = snapshot_alloc(s, s->nviews * sizeof *s->views);
	const char *terms[] = { "#alpha", "beta", "\"gamma\" \xF0\x9F\x8E\x89" };
	const uint8_t kinds[] = { TERM_HASHTAG, TERM_WORD, TERM_WORD };
	for (size_t vi = 0; vi < s->nviews; vi++) {
		struct snapshot_view *v = &s->views[vi];
		v->window = vi == 1 ? WINDOW_1H : WINDOW_5M;
		if (vi == 2)
			strcpy(v->lang, "de");
		v->posts = 100 * (vi + 1);
		v->ntrends = 3;
		v->trends = snapshot_alloc(s, 3 * sizeof *v->trends);
		for (uint32_t i = 0; i < 3; i++) {
			struct trend *t = &v->trends[i];
			t->term = snapshot_strdup(s, terms[i], strlen(terms[i]));
			t->term_len = (uint32_t)strlen(terms[i]);
			t->kind = kinds[i];
			t->count = 30 - 10 * i;          /* by count: 0, 1, 2 */
			t->authors = 5 + i;
			t->score = 1.5 * i;              /* by score: 2, 1, 0 */
			t->series = snapshot_alloc(s, SNAPSHOT_SERIES_POINTS * sizeof *t->series);
			t->series[SNAPSHOT_SERIES_POINTS - 1] = t->count;
		}
		for (int k = 0; k <= TERM_KIND_ALL; k++) {
			for (int so = 0; so < SORT_COUNT_; so++) {
				struct trend_ranking *r = &v->rank[so][k];
				r->idx = snapshot_alloc(s, 3 * sizeof *r->idx);
				for (uint32_t i = 0; i < 3; i++) {
					uint32_t idx = so == SORT_SCORE ? 2 - i : i;
					if (k == TERM_KIND_ALL || kinds[idx] == k)
						r->idx[r->n++] = idx;
				}
			}
		}
	}
	return s;
}

START_TEST(test_writer_stores_snapshot_views_by_score_and_count)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 10 });
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	struct dbmsg *m = dbmsg_new(DBMSG_SNAPSHOT);
	m->u.snapshot = make_snapshot(T0 + 60000 + 1500, 41);
	push(&bus, m);
	/* Two snapshots in one minute: the newer replaces the older. */
	json_decref(status_wait(&bus, st_ok_rows, 2, "the first snapshot"));
	m = dbmsg_new(DBMSG_SNAPSHOT);
	m->u.snapshot = make_snapshot(T0 + 60000 + 2500, 42);
	push(&bus, m);
	m = dbmsg_new(DBMSG_SNAPSHOT);
	m->u.snapshot = make_snapshot(T0 + 120000, 43);
	push(&bus, m);
	db_close(db);
	json_t *st = status_get(&bus);
	ck_assert_int_eq(jint(st, "rows_written"), 6);
	json_decref(st);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM snapshots"), 4);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM snapshots"
				  " WHERE minute_ms = 1795608060000"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT generated_ms FROM snapshots"
				  " WHERE minute_ms = 1795608060000 AND win = '5m'"), T0 + 62500);
	char *text = sq_text(c, "SELECT json FROM snapshots WHERE minute_ms = 1795608060000"
				" AND win = '5m'");
	sqlite3_close(c);

	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	ck_assert_msg(j != NULL, "stored snapshot is not JSON: %s", je.text);
	free(text);
	json_t *score = json_object_get(j, "score"), *count = json_object_get(j, "count");
	ck_assert_str_eq(jstr(score, "window"), "5m");
	ck_assert_str_eq(jstr(score, "kind"), "all");
	ck_assert_str_eq(jstr(score, "sort"), "score");
	ck_assert_str_eq(jstr(count, "sort"), "count");
	ck_assert_int_eq(jint(score, "seq"), 42);
	ck_assert_int_eq(jint(json_object_get(score, "overall"), "posts"), 100); /* not "de" */
	json_t *ts = json_object_get(score, "trends"), *tc = json_object_get(count, "trends");
	ck_assert_uint_eq(json_array_size(ts), 3);
	ck_assert_uint_eq(json_array_size(tc), 3);
	ck_assert_str_eq(jstr(json_array_get(ts, 0), "term"), "\"gamma\" \xF0\x9F\x8E\x89");
	ck_assert_str_eq(jstr(json_array_get(tc, 0), "term"), "#alpha");
	ck_assert_str_eq(jstr(json_array_get(tc, 0), "kind"), "hashtag");
	ck_assert_int_eq(jint(json_array_get(tc, 0), "count"), 30);
	json_decref(j);
	assert_integrity(dbpath);
}
END_TEST

static void push_many(struct bus *b, int nmsg, int rows_per_msg)
{
	for (int i = 0; i < nmsg; i++) {
		struct row_spec rows[16];
		char terms[16][32];
		for (int r = 0; r < rows_per_msg; r++) {
			snprintf(terms[r], sizeof terms[r], "w%d", (i * rows_per_msg + r) % 50);
			rows[r] = (struct row_spec){ terms[r], TERM_WORD, T0 + (int64_t)i * 60000,
						     1, 1, 0, 0, 0 };
		}
		push(b, minutes_msg(rows, (size_t)rows_per_msg));
	}
}

START_TEST(test_writer_drains_the_queue_on_close)
{
	for (int closed = 0; closed < 2; closed++) {
		unlink(dbpath);
		struct db *db = open_ok(NULL);
		struct bus bus;
		bus_setup(&bus);
		ck_assert_int_eq(db_writer_start(db, &bus), 0);
		push_many(&bus, 600, 10);
		if (closed) {
			/* What main does: close the queue once producers stopped. */
			queue_close(&bus.db);
			struct dbmsg *late = one_row_msg("late", 0, T0, 1);
			ck_assert_int_eq(queue_push(&bus.db, late, 0), -EPIPE);
			dbmsg_free(late);
		}
		db_close(db);
		ck_assert_uint_eq(queue_depth(&bus.db), 0);
		json_t *st = status_get(&bus);
		ck_assert_int_eq(jint(st, "rows_written"), 6000);
		json_decref(st);
		bus_destroy(&bus);

		sqlite3 *c = sq_open(dbpath);
		ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 6000);
		ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 6000);
		ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM terms"), 50);
		sqlite3_close(c);
		assert_integrity(dbpath);
	}
	/* db_writer_stop(close_queue) closes the queue for late producers. */
	struct db *db = open_ok(NULL);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	db_writer_stop(db, true);
	struct dbmsg *late = one_row_msg("late", 0, T0, 1);
	ck_assert_int_eq(queue_push(&bus.db, late, 0), -EPIPE);
	dbmsg_free(late);
	db_close(db);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_writer_survives_a_read_only_file_and_recovers)
{
	const char *vfs = fault_vfs_name();
	db_close(open_ok(NULL));

	/* The file is read-only when trendd starts. */
	atomic_store(&fault_mode, FAULT_READONLY);
	struct db_options o = { .vfs = vfs, .batch_ms = 10, .retry_min_ms = 20,
				.retry_max_ms = 50 };
	struct db *db = open_ok(&o);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	push(&bus, one_row_msg("first", TERM_WORD, T0, 2));
	json_t *st = status_wait(&bus, st_failing, 2, "a read-only error");
	ck_assert_msg(strstr(jstr(st, "error"), "read-only") != NULL, "error: %s",
		      jstr(st, "error"));
	ck_assert(json_is_string(json_object_get(st, "error_since")));
	ck_assert_int_eq(jint(st, "rows_written"), 0);
	ck_assert_int_eq(jint(st, "pending"), 1);
	json_decref(st);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 0);
	sqlite3_close(c);

	/* Writable again: the kept batch is written. */
	atomic_store(&fault_mode, FAULT_NONE);
	st = status_wait(&bus, st_ok_rows, 1, "recovery");
	ck_assert(json_is_null(json_object_get(st, "error")));
	ck_assert(json_is_null(json_object_get(st, "error_since")));
	ck_assert_int_eq(jint(st, "pending"), 0);
	int64_t failed = jint(st, "failed_batches");
	json_decref(st);

	/* The file turns read-only while trendd runs (a read-only remount). */
	atomic_store(&fault_mode, FAULT_READONLY);
	push(&bus, one_row_msg("second", TERM_WORD, T0, 3));
	json_decref(status_wait(&bus, st_failing, failed + 2, "errors while read-only"));
	atomic_store(&fault_mode, FAULT_NONE);
	push(&bus, one_row_msg("third", TERM_WORD, T0, 4));
	json_decref(status_wait(&bus, st_ok_rows, 3, "second recovery"));
	db_close(db);
	st = status_get(&bus);
	ck_assert_int_eq(jint(st, "msgs_dropped"), 0);
	json_decref(st);
	bus_destroy(&bus);

	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 9);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_survives_a_full_disk_and_recovers)
{
	struct db_options o = { .vfs = fault_vfs_name(), .batch_ms = 10, .retry_min_ms = 20,
				.retry_max_ms = 50 };
	struct db *db = open_ok(&o);
	struct source_config src = { .kind = "rss", .name = "feed", .url = "u" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	push(&bus, one_row_msg("before", TERM_WORD, T0, 1));
	json_decref(status_wait(&bus, st_ok_rows, 1, "the first batch"));

	atomic_store(&fault_mode, FAULT_FULL);
	push(&bus, one_row_msg("during", TERM_WORD, T0, 2));
	push(&bus, source_state_msg(src.id, "cur", T0, "", 0, 5, 0));
	json_t *st = status_wait(&bus, st_failing, 3, "disk-full errors");
	ck_assert_msg(strstr(jstr(st, "error"), "disk full") != NULL, "error: %s",
		      jstr(st, "error"));
	ck_assert_int_eq(jint(st, "rows_written"), 1);
	json_decref(st);

	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 3, "recovery"));
	db_close(db);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 3);
	char *cur = sq_text(c, "SELECT cursor FROM sources");
	ck_assert_str_eq(cur, "cur");
	free(cur);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_retries_while_another_connection_holds_the_lock)
{
	struct db *db = open_ok(&(struct db_options){ .busy_timeout_ms = 20, .batch_ms = 10,
						      .retry_min_ms = 20, .retry_max_ms = 40 });
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	sqlite3 *other = sq_open(dbpath);
	sq_exec(other, "BEGIN IMMEDIATE");
	push(&bus, one_row_msg("x", TERM_WORD, T0, 1));
	push(&bus, one_row_msg("x", TERM_WORD, T0, 1));
	json_t *st = status_wait(&bus, st_failing, 2, "busy errors");
	ck_assert_msg(strstr(jstr(st, "error"), "locked") != NULL, "error: %s", jstr(st, "error"));
	json_decref(st);
	sq_exec(other, "COMMIT");
	sqlite3_close(other);
	json_decref(status_wait(&bus, st_ok_rows, 2, "the lock to go"));
	db_close(db);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_minute"), 2); /* once, not twice */
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_bounds_its_backlog_while_writes_fail)
{
	struct db_options o = { .vfs = fault_vfs_name(), .batch_ms = 5, .batch_max = 4,
				.retry_min_ms = 10, .retry_max_ms = 20, .retry_max_msgs = 8 };
	struct db *db = open_ok(&o);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	atomic_store(&fault_mode, FAULT_FULL);
	char term[16];
	for (int i = 0; i < 20; i++) {
		snprintf(term, sizeof term, "t%02d", i);
		push(&bus, one_row_msg(term, TERM_WORD, T0, 1));
	}
	json_t *st = status_wait(&bus, st_dropped, 12, "the backlog cap");
	ck_assert_int_eq(jint(st, "msgs_dropped"), 12);
	ck_assert_int_eq(jint(st, "rows_dropped"), 12);
	ck_assert_int_le(jint(st, "pending"), 8);
	json_decref(st);
	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 8, "recovery"));
	db_close(db);
	st = status_get(&bus);
	ck_assert_int_eq(jint(st, "rows_written"), 8);
	json_decref(st);
	bus_destroy(&bus);

	/* The newest eight survived. */
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 8);
	char *first = sq_text(c, "SELECT min(term) FROM terms");
	ck_assert_str_eq(first, "t12");
	free(first);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_merges_source_states_while_writes_fail)
{
	struct db_options o = { .vfs = fault_vfs_name(), .batch_ms = 5, .batch_max = 1,
				.retry_min_ms = 10, .retry_max_ms = 20, .retry_max_msgs = 4 };
	struct db *db = open_ok(&o);
	struct source_config src = { .kind = "rss", .name = "feed", .url = "u", .cursor = "old" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	atomic_store(&fault_mode, FAULT_FULL);
	push(&bus, source_state_msg(src.id, "a", T0, "", 0, 1, 0));
	json_decref(status_wait(&bus, st_failing, 1, "a failure"));
	push(&bus, source_state_msg(src.id, "b", T0 + 1, "", 0, 2, 0));
	push(&bus, source_state_msg(src.id, "", T0 + 2, "timeout", T0 + 2, 3, 0));
	push(&bus, one_row_msg("t1", TERM_WORD, T0, 1));
	push(&bus, one_row_msg("t2", TERM_WORD, T0, 1));
	push(&bus, one_row_msg("t3", TERM_WORD, T0, 1));
	/* Six messages, a backlog of four: the superseded states make the room. */
	json_t *st = backlog_wait(&bus);
	ck_assert_int_eq(jint(st, "pending"), 4);
	ck_assert_int_eq(jint(st, "msgs_dropped"), 0);
	json_decref(st);
	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 4, "recovery"));
	db_close(db);
	st = status_get(&bus);
	ck_assert_int_eq(jint(st, "msgs_dropped"), 0);
	ck_assert_int_eq(jint(st, "rows_written"), 4);
	json_decref(st);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	char *cur = sq_text(c, "SELECT cursor FROM sources");
	ck_assert_str_eq(cur, "b");
	free(cur);
	char *le = sq_text(c, "SELECT last_error FROM sources");
	ck_assert_str_eq(le, "timeout");
	free(le);
	ck_assert_int_eq(sq_int(c, "SELECT posts_seen FROM sources"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 3);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_gives_up_at_shutdown_after_the_grace_period)
{
	struct db_options o = { .vfs = fault_vfs_name(), .batch_ms = 5, .retry_min_ms = 10,
				.retry_max_ms = 20, .shutdown_grace_ms = 200 };
	struct db *db = open_ok(&o);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	atomic_store(&fault_mode, FAULT_FULL);
	push(&bus, one_row_msg("lost", TERM_WORD, T0, 1));
	json_decref(status_wait(&bus, st_failing, 1, "a failure"));
	int64_t t0 = clock_mono_ms();
	db_close(db);
	int64_t took = clock_mono_ms() - t0;
	ck_assert_int_lt(took, 2000);
	json_t *st = status_get(&bus);
	ck_assert_int_eq(jint(st, "msgs_dropped"), 1);
	json_decref(st);
	bus_destroy(&bus);
	atomic_store(&fault_mode, FAULT_NONE);
	assert_integrity(dbpath);
}
END_TEST

/* The term cache ----------------------------------------------------------------- */

START_TEST(test_term_cache_separates_kinds_and_empties_when_full)
{
	struct term_cache c;
	ck_assert_int_eq(term_cache_init(&c, 4), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(term_cache_put(&c, (uint8_t)k, "rust", 4, 100 + k), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(term_cache_get(&c, (uint8_t)k, "rust", 4), 100 + k);
	ck_assert_int_eq(term_cache_get(&c, 4, "rust", 4), 0);
	ck_assert_int_eq(term_cache_get(&c, 0, "rus", 3), 0);
	ck_assert_int_eq(term_cache_put(&c, 0, "x", 1, 0), -EINVAL);
	ck_assert_int_eq(term_cache_put(&c, 5, "five", 4, 5), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.clears, 1);
	ck_assert_int_eq(term_cache_get(&c, 5, "five", 4), 5);
	ck_assert_int_eq(term_cache_get(&c, 0, "rust", 4), 0);
	term_cache_destroy(&c);

	ck_assert_int_eq(term_cache_init(&c, 20000), 0);
	char buf[32];
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(buf, sizeof buf, "term-%d", i);
		ck_assert_int_eq(term_cache_put(&c, (uint8_t)(i % 7), buf, (uint32_t)n, i + 1), 0);
	}
	ck_assert_uint_eq(c.clears, 0);
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(buf, sizeof buf, "term-%d", i);
		ck_assert_int_eq(term_cache_get(&c, (uint8_t)(i % 7), buf, (uint32_t)n), i + 1);
		ck_assert_int_eq(term_cache_get(&c, (uint8_t)((i + 1) % 7), buf, (uint32_t)n), 0);
	}
	term_cache_destroy(&c);
}
END_TEST


/* Rollups, volume, retention (schema version 2) --------------------------------- */

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)

/* The version-1 schema as released, to test the upgrade of an existing file. */
static const char *const schema_v1 =
	"CREATE TABLE sources (id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK (kind <> ''),"
	" name TEXT NOT NULL UNIQUE CHECK (name <> ''), url TEXT NOT NULL DEFAULT '',"
	" enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
	" interval_s INTEGER NOT NULL DEFAULT 60, params TEXT NOT NULL DEFAULT '{}',"
	" cursor TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL, last_ok_ms INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT NOT NULL DEFAULT '', last_error_ms INTEGER NOT NULL DEFAULT 0,"
	" posts_seen INTEGER NOT NULL DEFAULT 0, items_skipped INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE terms (id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('word',"
	" 'hashtag', 'mention', 'cashtag', 'domain', 'emoji', 'bigram')),"
	" term TEXT NOT NULL CHECK (term <> ''), UNIQUE (kind, term));"
	"CREATE TABLE term_minute (term_id INTEGER NOT NULL REFERENCES terms (id),"
	" minute_ms INTEGER NOT NULL, count INTEGER NOT NULL, authors INTEGER NOT NULL,"
	" sent_sum REAL NOT NULL, pos INTEGER NOT NULL, neg INTEGER NOT NULL,"
	" PRIMARY KEY (term_id, minute_ms)) WITHOUT ROWID;"
	"CREATE INDEX term_minute_by_minute ON term_minute (minute_ms);"
	"CREATE TABLE snapshots (minute_ms INTEGER NOT NULL, win TEXT NOT NULL,"
	" generated_ms INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (minute_ms, win));"
	"PRAGMA user_version = 1;";

START_TEST(test_new_file_gets_incremental_auto_vacuum_and_a_checkpoint_row)
{
	db_close(open_ok(NULL));
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA auto_vacuum"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM checkpoint"), 1);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint WHERE id = 1"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_kinds"), TERM_KIND_COUNT);
	for (int k = 0; k < TERM_KIND_COUNT; k++) {
		char sql[96];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM term_kinds WHERE id = %d AND name = '%s'",
			 k, term_kind_name(k));
		ck_assert_msg(sq_int(c, sql) == 1, "kind %d", k);
	}
	/* A second checkpoint row is refused: there is one. */
	ck_assert_int_ne(sqlite3_exec(c, "INSERT INTO checkpoint (id) VALUES (2)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_migration_2_rolls_up_the_minutes_of_a_version_1_file)
{
	sqlite3 *c = NULL;
	ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
	sq_exec(c, "PRAGMA journal_mode = WAL");
	sq_exec(c, schema_v1);
	sq_exec(c, "INSERT INTO terms (id, kind, term) VALUES (1, 'hashtag', '#rust'), (2, 'word', 'it''s')");
	char sql[512];
	/* #rust: 3 minutes in hour 12, 1 in hour 13; it's: one minute the next day */
	snprintf(sql, sizeof sql,
		 "INSERT INTO term_minute VALUES (1, %lld, 3, 2, 0.5, 1, 0), (1, %lld, 4, 3, -0.25, 2, 1),"
		 " (1, %lld, 1, 1, 0.1, 0, 0), (1, %lld, 10, 9, 1.0, 5, 2), (2, %lld, 2, 2, -0.4, 0, 1)",
		 (long long)T0, (long long)(T0 + 60000), (long long)(T0 + 59 * 60000),
		 (long long)(T0 + HOUR_MS), (long long)(T0 + DAY_MS));
	sq_exec(c, sql);
	sqlite3_close(c);

	struct db *db = open_ok(NULL);
	db_close(db);
	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	ck_assert_int_eq(sq_int(c, "PRAGMA auto_vacuum"), 0); /* fixed when the file was made */
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 5);
	snprintf(sql, sizeof sql, "SELECT count || ',' || authors || ',' || pos || ',' || neg || ','"
		 " || kind || ',' || round(sent_sum * 100) FROM term_hour WHERE term_id = 1 AND"
		 " hour_ms = %lld", (long long)T0);
	char *h = sq_text(c, sql);
	ck_assert_str_eq(h, "8,3,3,1,1,35.0");
	free(h);
	snprintf(sql, sizeof sql, "SELECT count || ',' || authors FROM term_day WHERE term_id = 1"
		 " AND day_ms = %lld", (long long)(T0 - 12 * HOUR_MS));
	char *d = sq_text(c, sql);
	ck_assert_str_eq(d, "18,9");
	free(d);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_hour"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_day"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT kind FROM term_day WHERE term_id = 2"), TERM_WORD);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM checkpoint_source"), 0); /* migration 3 */
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

/* Waits until the writer has committed `rows` rows and has nothing pending. */
static void wait_written(struct bus *b, int64_t rows)
{
	json_decref(status_wait(b, st_ok_rows, rows, "rows written"));
}

START_TEST(test_writer_rolls_minutes_up_into_hours_and_days)
{
	/* rollup_max 3: the in-memory sums flush mid-batch, and must give the same rows */
	for (int small = 0; small < 2; small++) {
		unlink(dbpath);
		struct db *db = open_ok(&(struct db_options){ .batch_ms = 5,
							       .rollup_max = small ? 3 : 0 });
		struct bus bus;
		bus_setup(&bus);
		ck_assert_int_eq(db_writer_start(db, &bus), 0);
		int64_t day = T0 - 12 * HOUR_MS;
		const struct row_spec a[] = {
			{ "#rust", TERM_HASHTAG, T0, 3, 7, 1, 0, 0.5 },
			{ "#rust", TERM_HASHTAG, T0 + 60000, 4, 2, 2, 1, -0.25 },
			{ "#rust", TERM_HASHTAG, T0 + HOUR_MS + 5, 1, 1, 0, 0, 0.1 },
			{ "rust", TERM_WORD, T0, 1, 1, 0, 0, 0.0 },
			{ "w1", TERM_WORD, T0, 1, 1, 0, 0, 0.0 },
			{ "w2", TERM_WORD, T0, 1, 1, 0, 0, 0.0 },
			{ "w3", TERM_WORD, T0 + DAY_MS, 1, 1, 0, 0, 0.0 },
		};
		const struct row_spec b[] = {
			/* same minute again (a late post): adds, authors takes the larger */
			{ "#rust", TERM_HASHTAG, T0, 2, 5, 0, 2, -1.0 },
			{ "#rust", TERM_HASHTAG, T0 + 2 * 60000, 6, 9, 3, 0, 1.5 },
		};
		push(&bus, minutes_msg(a, 7));
		wait_written(&bus, 7);
		push(&bus, minutes_msg(b, 2));
		db_close(db);
		json_t *st = status_get(&bus);
		ck_assert_int_eq(jint(st, "rows_written"), 9);
		ck_assert_int_gt(jint(st, "rollup_rows"), 0);
		json_decref(st);
		bus_destroy(&bus);

		sqlite3 *c = sq_open(dbpath);
		char sql[512];
#define ROLL(table, period, t) \
	snprintf(sql, sizeof sql, "SELECT count || ',' || authors || ',' || pos || ',' || neg" \
		 " || ',' || round(sent_sum * 100) || ',' || r.kind FROM " table " r JOIN terms" \
		 " ON terms.id = term_id WHERE term = '#rust' AND " period " = %lld", (long long)(t))
		ROLL("term_hour", "hour_ms", T0);
		char *v = sq_text(c, sql);
		/* counts 3+4+2+6, authors max(7,2,5,9), pos 1+2+0+3, neg 0+1+2+0 */
		ck_assert_str_eq(v, "15,9,6,3,75.0,1");
		free(v);
		ROLL("term_hour", "hour_ms", T0 + HOUR_MS);
		v = sq_text(c, sql);
		ck_assert_str_eq(v, "1,1,0,0,10.0,1");
		free(v);
		ROLL("term_day", "day_ms", day);
		v = sq_text(c, sql);
		ck_assert_str_eq(v, "16,9,6,3,85.0,1");
		free(v);
		/* The minute rows hold the same totals: every resolution agrees. */
		snprintf(sql, sizeof sql, "SELECT sum(count) || ',' || max(authors) FROM term_minute"
			 " JOIN terms ON terms.id = term_id WHERE term = '#rust'");
		v = sq_text(c, sql);
		ck_assert_str_eq(v, "16,9");
		free(v);
		ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_hour"), 6);
		ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_day"), 5);
		snprintf(sql, sizeof sql, "SELECT day_ms FROM term_day JOIN terms ON terms.id = term_id"
			 " WHERE term = 'w3'");
		ck_assert_int_eq(sq_int(c, sql), day + DAY_MS);
		sqlite3_close(c);
		assert_integrity(dbpath);
	}
}
END_TEST

static struct dbmsg *volume_msg(const struct volume_minute_row *rows, size_t n)
{
	struct dbmsg *m = dbmsg_new(DBMSG_VOLUME_MINUTES);
	ck_assert_ptr_nonnull(m);
	m->u.volume.rows = malloc(n * sizeof *rows);
	ck_assert_ptr_nonnull(m->u.volume.rows);
	memcpy(m->u.volume.rows, rows, n * sizeof *rows);
	m->u.volume.n = n;
	return m;
}

START_TEST(test_writer_stores_volume_minutes_with_hour_and_day_rollups)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 5 });
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	const struct volume_minute_row v[] = {
		{ T0, 100, 40, 10, 12.5 },
		{ T0 + 30000, 5, 1, 1, 0.5 },   /* same minute, not at its start: adds */
		{ T0 + 60000, 50, 20, 5, -2.0 },
		{ T0 + HOUR_MS, 10, 0, 10, -5.0 },
	};
	push(&bus, volume_msg(v, 4));
	push(&bus, volume_msg(v, 1));       /* sent twice: counted twice (additive) */
	db_close(db);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT posts || ',' || pos || ',' || neg || ',' || sent_sum"
		 " FROM volume_minute WHERE minute_ms = %lld", (long long)T0);
	char *r = sq_text(c, sql);
	ck_assert_str_eq(r, "205,81,21,25.5");
	free(r);
	snprintf(sql, sizeof sql, "SELECT posts || ',' || pos || ',' || neg || ',' || sent_sum"
		 " FROM volume_hour WHERE hour_ms = %lld", (long long)T0);
	r = sq_text(c, sql);
	ck_assert_str_eq(r, "255,101,26,23.5");
	free(r);
	ck_assert_int_eq(sq_int(c, "SELECT posts FROM volume_day"), 265);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM volume_minute"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM volume_hour"), 2);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_keeps_late_minutes_past_retention_only_in_the_rollups)
{
	/* now is 3 days after T0: T0's minutes are past 48 h, its hour is not past 90 days */
	atomic_store(&fake_now_ms, T0 + 3 * DAY_MS);
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 5 });
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	push(&bus, one_row_msg("old", TERM_WORD, T0, 4));
	push(&bus, one_row_msg("new", TERM_WORD, T0 + 3 * DAY_MS - 60000, 2));
	db_close(db);
	bus_destroy(&bus);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 1);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_hour JOIN terms ON id = term_id"
				  " WHERE term = 'old'"), 4);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_day JOIN terms ON id = term_id"
				  " WHERE term = 'old'"), 4);
	sqlite3_close(c);
}
END_TEST

static bool st_expired(json_t *st, int64_t n)
{
	return jint(st, "rows_expired") >= n;
}

START_TEST(test_retention_deletes_expired_rows_in_small_chunks)
{
	struct db_options o = { .batch_ms = 5, .retention_period_ms = 5, .retention_chunk = 40,
				.retain_minute_ms = 2 * HOUR_MS, .retain_hour_ms = 2 * DAY_MS,
				.retain_day_ms = 5 * DAY_MS, .retain_snapshot_ms = HOUR_MS };
	atomic_store(&fake_now_ms, T0);
	struct db *db = open_ok(&o);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	/* 300 minutes of 2 terms, ending at T0: the first 180 are past 2 h already */
	for (int m = 0; m < 300; m++) {
		const struct row_spec rows[] = {
			{ "a", TERM_WORD, T0 - (300 - m) * 60000LL, 1, 1, 0, 0, 0 },
			{ "b", TERM_WORD, T0 - (300 - m) * 60000LL, 2, 1, 0, 0, 0 },
		};
		push(&bus, minutes_msg(rows, 2));
	}
	wait_written(&bus, 600);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 240);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_hour"), 900);
	char sql[256];
	sq_exec(c, "BEGIN");
	for (int i = 0; i < 20; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO snapshots VALUES (%lld, '5m', %lld, '{}')",
			 (long long)(T0 - i * 3 * 60000LL), (long long)(T0 - i * 3 * 60000LL));
		sq_exec(c, sql);
	}
	sq_exec(c, "COMMIT");

	/* An hour later: the oldest 60 minutes of rows and snapshots older than 1 h go. */
	atomic_store(&fake_now_ms, T0 + HOUR_MS);
	json_decref(status_wait(&bus, st_expired, 120 + 1, "an hour of minutes expired"));
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 120);
	snprintf(sql, sizeof sql, "SELECT min(minute_ms) FROM term_minute");
	ck_assert_int_eq(sq_int(c, sql), T0 - HOUR_MS);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM snapshots"), 19);

	/* Three days later: every minute, snapshot and hour older than 2 days goes, days stay. */
	json_t *st = status_get(&bus);
	int64_t before = jint(st, "rows_expired"), steps0 = jint(st, "retention_steps");
	json_decref(st);
	int64_t hours = sq_int(c, "SELECT count(*) FROM term_hour");
	int64_t expect = 120 + 19 + hours;
	atomic_store(&fake_now_ms, T0 + 3 * DAY_MS);
	st = status_wait(&bus, st_expired, before + expect, "everything expired");
	int64_t steps = jint(st, "retention_steps") - steps0;
	json_decref(st);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM snapshots"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_hour"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_day"), 2);
	/* 120 minutes + 19 snapshots (weighing 32 rows each) + hours, 40 per step */
	ck_assert_int_ge(steps, (120 + 19 * 32 + hours) / 40);

	/* After 5 days the day rows go too */
	atomic_store(&fake_now_ms, T0 + 6 * DAY_MS);
	json_decref(status_wait(&bus, st_expired, before + expect + 2, "days expired"));
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_day"), 0);
	sqlite3_close(c);
	db_close(db);
	bus_destroy(&bus);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_retention_forever_keeps_rows_and_defaults_keep_days)
{
	struct db_options o = { .batch_ms = 5, .retention_period_ms = 5, .retain_minute_ms = -1 };
	atomic_store(&fake_now_ms, T0);
	struct db *db = open_ok(&o);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	push(&bus, one_row_msg("a", TERM_WORD, T0 - 60000, 1));
	wait_written(&bus, 1);
	atomic_store(&fake_now_ms, T0 + 400 * DAY_MS);
	/* hours (90 days) expire; minutes (forever) and days (default forever) stay */
	json_decref(status_wait(&bus, st_expired, 1, "the hour expired"));
	struct timespec ts = { 0, 50 * 1000000 };
	nanosleep(&ts, NULL);
	db_close(db);
	json_t *st = status_get(&bus);
	ck_assert_int_eq(jint(st, "rows_expired"), 1);
	json_decref(st);
	bus_destroy(&bus);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 1);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_hour"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_day"), 1);
	sqlite3_close(c);
	atomic_store(&fake_now_ms, T0 + HOUR_MS);
}
END_TEST

/*
 * Constant load over simulated days: 40 terms every minute and a 2 kB
 * snapshot row every 5 minutes. With minutes and snapshots kept 6 h, hours a
 * day and days two days, the database reaches its steady state on day 2;
 * from then on its size (pages in use plus free pages) must stay flat. Then
 * the clock jumps ahead so everything expires: a new file (incremental
 * auto-vacuum) gives the pages back to the file system, a version-1 file
 * keeps them free for reuse.
 */
#define FLAT_TERMS 40

static void simulate_day(struct bus *b, sqlite3 *c, int64_t day_start, int64_t *rows)
{
	char sql[2200];
	for (int m = 0; m < 1440; m++) {
		int64_t t = day_start + m * 60000LL;
		struct row_spec spec[FLAT_TERMS];
		char names[FLAT_TERMS][16];
		for (int i = 0; i < FLAT_TERMS; i++) {
			snprintf(names[i], sizeof names[i], "term%d", i);
			spec[i] = (struct row_spec){ names[i], i % 2 ? TERM_WORD : TERM_HASHTAG, t,
						     (uint32_t)(1 + i), 1, 0, 0, 0.1 };
		}
		atomic_store(&fake_now_ms, t + 60000);
		push(b, minutes_msg(spec, FLAT_TERMS));
		*rows += FLAT_TERMS;
		if (m % 5 == 4) {
			wait_written(b, *rows);
			int n = snprintf(sql, sizeof sql, "INSERT INTO snapshots VALUES (%lld, '5m', %lld, '",
					 (long long)t, (long long)t);
			memset(sql + n, 'x', 2048);
			snprintf(sql + n + 2048, sizeof sql - (size_t)n - 2048, "')");
			sq_exec(c, sql);
		}
	}
	wait_written(b, *rows);
}

static void file_size_flat(bool version1)
{
	struct db_options o = { .batch_ms = 2, .retention_period_ms = 1, .retention_chunk = 2000,
				.retain_minute_ms = 6 * HOUR_MS, .retain_hour_ms = DAY_MS,
				.retain_day_ms = 2 * DAY_MS, .retain_snapshot_ms = 6 * HOUR_MS,
				.vacuum_keep_pages = 16 };
	if (version1) {
		sqlite3 *c = NULL;
		ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
		sq_exec(c, "PRAGMA journal_mode = WAL");
		sq_exec(c, schema_v1);
		sqlite3_close(c);
	}
	int64_t day0 = T0 - 12 * HOUR_MS; /* midnight */
	atomic_store(&fake_now_ms, day0);
	struct db *db = open_ok(&o);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	sqlite3 *c = sq_open(dbpath);
	int64_t rows = 0, pages[5];
	for (int d = 0; d < 5; d++) {
		simulate_day(&bus, c, day0 + d * DAY_MS, &rows);
		/* retention catches up with the end of the day */
		int64_t minute_rows = 0;
		for (int i = 0; i < 200; i++) {
			minute_rows = sq_int(c, "SELECT count(*) FROM term_minute");
			if (minute_rows <= FLAT_TERMS * 361)
				break;
			struct timespec ts = { 0, 10 * 1000000 };
			nanosleep(&ts, NULL);
		}
		ck_assert_int_le(minute_rows, FLAT_TERMS * 361);
		pages[d] = sq_int(c, "PRAGMA page_count");
		if (!version1)
			ck_assert_int_le(sq_int(c, "PRAGMA freelist_count"), 16 + 256 + 64);
	}
	ck_assert_int_le(sq_int(c, "SELECT count(*) FROM term_day"), FLAT_TERMS * 3);
	ck_assert_int_le(sq_int(c, "SELECT count(*) FROM snapshots"), 73);
	for (int d = 3; d < 5; d++)
		ck_assert_msg(pages[d] <= pages[2] + pages[2] / 20,
			      "day %d: %lld pages, day 2: %lld (grew)", d, (long long)pages[d],
			      (long long)pages[2]);
	/* 288,000 minute rows went through a file that holds about a tenth of them */
	ck_assert_int_lt(pages[4] * 4096, rows * 40 / 5);

	/* Everything expires: the pages are free, and a new file gives them back. */
	atomic_store(&fake_now_ms, day0 + 30 * DAY_MS);
	for (int i = 0; i < 500; i++) {
		if (sq_int(c, "SELECT count(*) FROM term_minute") == 0 &&
		    sq_int(c, "SELECT count(*) FROM term_day") == 0 &&
		    sq_int(c, "SELECT count(*) FROM snapshots") == 0 &&
		    (version1 || sq_int(c, "PRAGMA freelist_count") <= 16))
			break;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	int64_t after = sq_int(c, "PRAGMA page_count");
	if (version1) {
		ck_assert_int_eq(after, pages[4]);  /* kept, on the free list */
		ck_assert_int_gt(sq_int(c, "PRAGMA freelist_count"), pages[4] / 2);
	} else {
		ck_assert_int_le(sq_int(c, "PRAGMA freelist_count"), 16);
		ck_assert_int_lt(after, pages[4] / 2);
	}
	sqlite3_close(c);
	db_close(db);
	bus_destroy(&bus);
	assert_integrity(dbpath);
}

START_TEST(test_file_size_stays_flat_over_days_of_constant_load)
{
	file_size_flat(false);
}
END_TEST

START_TEST(test_version_1_file_reuses_freed_pages_and_stays_flat)
{
	file_size_flat(true);
}
END_TEST

/* Checkpoints ---------------------------------------------------------------- */

/* A checkpoint of epoch with one term row (count), one volume row, a state and a cursor. */
static struct dbmsg *checkpoint_msg(uint64_t epoch, int64_t source_id, const char *cursor,
				    const char *state, uint32_t count)
{
	struct dbmsg *m = dbmsg_new(DBMSG_CHECKPOINT);
	struct checkpoint *c = &m->u.checkpoint;
	c->epoch = epoch;
	c->created_ms = T0 + (int64_t)epoch;
	c->pool = strdup("ckpt");
	c->term_rows = calloc(1, sizeof *c->term_rows);
	c->term_rows[0] = (struct term_minute_row){ .term = c->pool, .term_len = 4,
						    .kind = TERM_WORD, .minute_ms = T0,
						    .count = count, .authors = 1, .pos = count };
	c->nterm = 1;
	c->volume_rows = calloc(1, sizeof *c->volume_rows);
	c->volume_rows[0] = (struct volume_minute_row){ .minute_ms = T0, .posts = count,
							.pos = count };
	c->nvolume = 1;
	if (state) {
		c->state = (uint8_t *)strdup(state);
		c->state_len = strlen(state);
	}
	if (cursor) {
		uint8_t seen[12] = { 1 };
		struct source_cursor sc = { .source_id = source_id, .cursor = (char *)cursor,
					    .seen = seen, .seen_len = sizeof seen };
		c->cursors = calloc(1, sizeof *c->cursors);
		ck_assert_int_eq(source_cursor_copy(&c->cursors[0], &sc), 0);
		c->ncursors = 1;
	}
	return m;
}

/*
 * Gives checkpoint m the new segments first..last (bytes "seg<id>") and, with
 * its state, the ids from..to as those it names.
 */
static void with_segments(struct dbmsg *m, uint64_t first, uint64_t last, uint64_t from,
			  uint64_t to)
{
	struct checkpoint *c = &m->u.checkpoint;
	struct strbuf sb = STRBUF_INIT;
	for (uint64_t id = first; id <= last; id++) {
		char body[32];
		uint64_t len = (uint64_t)snprintf(body, sizeof body, "seg%llu", (unsigned long long)id);
		sb_append(&sb, (const char *)&id, 8);
		sb_append(&sb, (const char *)&len, 8);
		sb_append(&sb, body, (size_t)len);
	}
	ck_assert(!sb.failed);
	if (sb.len)
		c->segments = (uint8_t *)sb_detach(&sb, &c->segments_len);
	c->segment_refs = calloc(to >= from ? to - from + 1 : 1, sizeof *c->segment_refs);
	/* in no order: the writer sorts them */
	for (uint64_t id = to; id >= from && id > 0; id--)
		c->segment_refs[c->nsegment_refs++] = id;
}

/* The segment ids stored, as "1,2,3". */
static char *segments_stored(void)
{
	sqlite3 *c = sq_open(dbpath);
	char *t = sq_text(c, "SELECT coalesce(group_concat(id), '') FROM"
			     " (SELECT id FROM checkpoint_segment ORDER BY id)");
	char *bad = sq_text(c, "SELECT count(*) FROM checkpoint_segment"
			       " WHERE cast(body AS TEXT) <> 'seg' || id");
	ck_assert_str_eq(bad, "0");
	free(bad);
	sqlite3_close(c);
	return t;
}

START_TEST(test_writer_keeps_the_segments_the_newest_state_names)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 10 });
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	struct dbmsg *m = checkpoint_msg(1, 0, NULL, "state-one", 1);
	with_segments(m, 1, 3, 1, 3);
	push(&bus, m);
	json_decref(status_wait(&bus, st_ok_rows, 1, "the first checkpoint"));
	char *t = segments_stored();
	ck_assert_str_eq(t, "1,2,3");
	free(t);
	/* bucket 1 changed (segment 4 now), bucket 2 left the window */
	m = checkpoint_msg(2, 0, NULL, "state-two", 1);
	with_segments(m, 4, 4, 3, 4);
	push(&bus, m);
	/* a checkpoint whose state was superseded brings segments but drops none */
	m = checkpoint_msg(3, 0, NULL, NULL, 1);
	with_segments(m, 5, 5, 1, 0);
	free(m->u.checkpoint.segment_refs);
	m->u.checkpoint.segment_refs = NULL;
	m->u.checkpoint.nsegment_refs = 0;
	push(&bus, m);
	for (int i = 0; i < 500 && db_committed_epoch(db) < 3; i++)
		usleep(10000);
	ck_assert_uint_eq(db_committed_epoch(db), 3);
	db_close(db);
	bus_destroy(&bus);
	t = segments_stored();
	ck_assert_str_eq(t, "3,4,5");
	free(t);

	db = open_ok(NULL);
	struct db_checkpoint ck;
	ck_assert_int_eq(db_checkpoint_load(db, &ck), 0);
	ck_assert_uint_eq(ck.nseg, 3);
	ck_assert_uint_eq(ck.seg_next, 6);
	const void *buf;
	size_t len;
	ck_assert_int_eq(db_checkpoint_segment(&ck, 4, &buf, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert(memcmp(buf, "seg4", 4) == 0);
	ck_assert_int_eq(db_checkpoint_segment(&ck, 2, &buf, &len), -ENOENT);
	ck_assert_int_eq(db_checkpoint_segment(&ck, 6, &buf, &len), -ENOENT);
	/* restored: the state goes, the cursors and the next id stay */
	db_checkpoint_release_state(&ck);
	ck_assert_ptr_null(ck.state);
	ck_assert_uint_eq(ck.nseg, 0);
	ck_assert_uint_eq(ck.seg_next, 6);
	db_checkpoint_clear(&ck);
	db_close(db);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_writer_commits_a_checkpoint_with_rows_state_and_cursors)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 10 });
	struct source_config src = { .kind = "mastodon", .name = "m", .url = "u", .cursor = "100" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	struct db_checkpoint ck;
	ck_assert_int_eq(db_checkpoint_load(db, &ck), 0);
	ck_assert_uint_eq(ck.epoch, 0);
	ck_assert_ptr_null(ck.state);
	ck_assert_uint_eq(ck.ncursors, 0);
	db_checkpoint_clear(&ck);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	ck_assert_int_eq(db_checkpoint_load(db, &ck), -EBUSY);
	push(&bus, checkpoint_msg(1, src.id, "205", "state-one", 3));
	/* a source state (status) must not move the checkpointed cursor */
	push(&bus, source_state_msg(src.id, NULL, T0, "", 0, 7, 0));
	/* a checkpoint naming a deleted source changes nothing about it */
	push(&bus, checkpoint_msg(2, 999, "x", "state-two", 2));
	/* readers learn of the committed epoch without reading the table */
	for (int i = 0; i < 500 && db_committed_epoch(db) < 2; i++)
		usleep(10000);
	ck_assert_uint_eq(db_committed_epoch(db), 2);
	db_close(db);
	bus_destroy(&bus);

	db = open_ok(NULL);
	ck_assert_uint_eq(db_committed_epoch(db), 0);
	ck_assert_int_eq(db_checkpoint_load(db, &ck), 0);
	ck_assert_uint_eq(db_committed_epoch(db), 2);
	ck_assert_uint_eq(ck.epoch, 2);
	ck_assert_uint_eq(ck.state_len, 9);
	ck_assert(memcmp(ck.state, "state-two", 9) == 0);
	ck_assert_uint_eq(ck.ncursors, 1);
	ck_assert_int_eq(ck.cursors[0].source_id, src.id);
	ck_assert_str_eq(ck.cursors[0].cursor, "205");
	ck_assert_uint_eq(ck.cursors[0].seen_len, 12);
	ck_assert_int_eq(ck.cursors[0].seen[0], 1);
	db_checkpoint_clear(&ck);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_str_eq(v[0].cursor, "205");
	db_sources_free(v, n);
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 5);
	ck_assert_int_eq(sq_int(c, "SELECT posts FROM volume_minute"), 5);
	ck_assert_int_eq(sq_int(c, "SELECT count FROM term_hour"), 5);
	ck_assert_int_eq(sq_int(c, "SELECT posts_seen FROM sources"), 7);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM checkpoint_source"), 1);
	/* deleting the source takes its checkpointed cursor with it */
	sq_exec(c, "PRAGMA foreign_keys = ON; DELETE FROM sources");
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM checkpoint_source"), 0);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_a_failed_checkpoint_leaves_the_previous_one_intact)
{
	struct db_options o = { .vfs = fault_vfs_name(), .batch_ms = 10, .retry_min_ms = 20,
				.retry_max_ms = 50 };
	struct db *db = open_ok(&o);
	struct source_config src = { .kind = "mastodon", .name = "m", .url = "u" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	push(&bus, checkpoint_msg(1, src.id, "c1", "state-one", 3));
	json_decref(status_wait(&bus, st_ok_rows, 3, "the first checkpoint"));

	/* The disk fills while checkpoint 2 is written: nothing of it may show. */
	atomic_store(&fault_mode, FAULT_FULL);
	push(&bus, checkpoint_msg(2, src.id, "c2", "state-two", 4));
	json_decref(status_wait(&bus, st_failing, 2, "disk-full errors"));
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 1);
	char *t = sq_text(c, "SELECT cast(state AS TEXT) FROM checkpoint");
	ck_assert_str_eq(t, "state-one");
	free(t);
	t = sq_text(c, "SELECT cursor FROM sources");
	ck_assert_str_eq(t, "c1");
	free(t);
	t = sq_text(c, "SELECT cursor FROM checkpoint_source");
	ck_assert_str_eq(t, "c1");
	free(t);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT sum(posts) FROM volume_minute"), 3);
	sqlite3_close(c);

	/* A third arrives while failing: the two commit together, the newest state wins. */
	push(&bus, checkpoint_msg(3, src.id, "c3", "state-three", 5));
	usleep(100 * 1000);
	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 7, "recovery"));
	db_close(db);
	bus_destroy(&bus);
	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 3);
	t = sq_text(c, "SELECT cast(state AS TEXT) FROM checkpoint");
	ck_assert_str_eq(t, "state-three");
	free(t);
	t = sq_text(c, "SELECT cursor FROM sources");
	ck_assert_str_eq(t, "c3");
	free(t);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 12);
	ck_assert_int_eq(sq_int(c, "SELECT sum(posts) FROM volume_minute"), 12);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

/* Checkpoint `epoch`: three term rows "e<epoch>r<j>" in its own minute, a volume row, a cursor. */
static struct dbmsg *checkpoint_rows_msg(uint64_t epoch, int64_t source_id)
{
	char state[32], cursor[32];
	snprintf(state, sizeof state, "state-%llu", (unsigned long long)epoch);
	snprintf(cursor, sizeof cursor, "c%llu", (unsigned long long)epoch);
	struct dbmsg *m = checkpoint_msg(epoch, source_id, cursor, state, 1);
	struct checkpoint *c = &m->u.checkpoint;
	int64_t minute = T0 + (int64_t)epoch * 60000;
	free(c->pool);
	free(c->term_rows);
	c->pool = malloc(3 * 8);
	c->term_rows = calloc(3, sizeof *c->term_rows);
	for (int j = 0; j < 3; j++) {
		char *s = c->pool + 8 * j;
		snprintf(s, 8, "e%02llur%d", (unsigned long long)epoch, j);
		c->term_rows[j] = (struct term_minute_row){ .term = s, .term_len = 5,
							    .kind = TERM_WORD, .minute_ms = minute,
							    .count = 1, .authors = 1 };
	}
	c->nterm = 3;
	c->volume_rows[0].minute_ms = minute;
	return m;
}

static bool st_rows_dropped(json_t *st, int64_t n)
{
	return jint(st, "rows_dropped") >= n && jint(st, "queue_depth") == 0;
}

static struct dbmsg *reset_msg(int64_t id, const char *name, const char *url);
static char *cursor_of(int64_t id, const char *table);

/*
 * A writer on a disk that is full from the start, with the backlog caps of
 * o (batch_max 2 unless set) and sources "a" and "b" (ids 1 and 2).
 */
static struct db *full_disk_writer(struct db_options o, struct bus *bus)
{
	o.vfs = fault_vfs_name();
	o.batch_ms = 5;
	o.batch_max = o.batch_max ? o.batch_max : 2;
	o.retry_min_ms = 10;
	o.retry_max_ms = 20;
	struct db *db = open_ok(&o);
	struct source_config a = { .kind = "rss", .name = "a", .url = "ua" };
	struct source_config b = { .kind = "rss", .name = "b", .url = "ub" };
	ck_assert_int_eq(db_source_upsert(db, &a), 0);
	ck_assert_int_eq(db_source_upsert(db, &b), 0);
	ck_assert_int_eq(a.id, 1);
	ck_assert_int_eq(b.id, 2);
	bus_setup(bus);
	ck_assert_int_eq(db_writer_start(db, bus), 0);
	atomic_store(&fault_mode, FAULT_FULL);
	return db;
}

START_TEST(test_checkpoints_fold_and_drop_their_oldest_rows_when_writes_fail_long)
{
	/* A backlog of 4 messages / 16 rows; ten checkpoints of 4 rows each arrive while failing. */
	struct bus bus;
	struct db *db = full_disk_writer((struct db_options){ .retry_max_msgs = 4,
							      .retry_max_rows = 16 }, &bus);
	for (uint64_t e = 1; e <= 10; e++) {
		/* a's cursor moves with the odd epochs only, b's with the even ones */
		push(&bus, checkpoint_rows_msg(e, e % 2 ? 1 : 2));
		usleep(5000);
	}
	json_t *st = status_wait(&bus, st_rows_dropped, 1, "rows dropped");
	json_decref(st);
	usleep(100 * 1000); /* a few more failed attempts: the backlog must stay folded */
	st = status_get(&bus);
	ck_assert_int_le(jint(st, "pending"), 4);
	int64_t dropped = jint(st, "rows_dropped");
	ck_assert_int_eq(jint(st, "msgs_dropped"), 0);
	ck_assert_int_le(40 - dropped, 16);
	json_decref(st);
	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 1, "recovery"));
	db_close(db);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	/* every row is either written or counted as dropped */
	int64_t kept = sq_int(c, "SELECT count(*) FROM term_minute") +
		       sq_int(c, "SELECT count(*) FROM volume_minute");
	ck_assert_int_eq(kept + dropped, 40);
	/* what was dropped is the oldest: the term rows kept are the newest ones, without a gap */
	int64_t nterm = sq_int(c, "SELECT count(*) FROM term_minute");
	ck_assert_int_gt(nterm, 0);
	char *t = sq_text(c, "SELECT max(term) FROM terms t JOIN term_minute tm ON tm.term_id = t.id");
	ck_assert_str_eq(t, "e10r2");
	free(t);
	t = sq_text(c, "SELECT min(term) FROM terms t JOIN term_minute tm ON tm.term_id = t.id");
	unsigned epoch, row;
	ck_assert_int_eq(sscanf(t, "e%ur%u", &epoch, &row), 2);
	free(t);
	ck_assert_int_eq(nterm, (10 - (int)epoch) * 3 + 3 - (int)row);
	/* volume rows are one a minute: they go only after every term row */
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM volume_minute"), 10);
	/* the newest state and epoch, and each source's newest cursor, folded in or not */
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 10);
	t = sq_text(c, "SELECT cast(state AS TEXT) FROM checkpoint");
	ck_assert_str_eq(t, "state-10");
	free(t);
	t = cursor_of(1, "checkpoint_source");
	ck_assert_str_eq(t, "c9");
	free(t);
	t = cursor_of(2, "checkpoint_source");
	ck_assert_str_eq(t, "c10");
	free(t);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_checkpoints_fold_without_loss_over_the_message_cap)
{
	/* Ten checkpoints of 4 rows: over 4 messages, within 44 rows (but not an eighth under). */
	struct bus bus;
	struct db *db = full_disk_writer((struct db_options){ .retry_max_msgs = 4,
							      .retry_max_rows = 44 }, &bus);
	for (uint64_t e = 1; e <= 10; e++) {
		/* each brings a segment, and its state names the one before too */
		struct dbmsg *m = checkpoint_rows_msg(e, 1);
		with_segments(m, e, e, e > 1 ? e - 1 : 1, e);
		push(&bus, m);
	}
	json_t *st = backlog_wait(&bus);
	ck_assert_int_le(jint(st, "pending"), 4);
	json_decref(st);
	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 1, "recovery"));
	db_close(db);
	st = status_get(&bus);
	ck_assert_int_eq(jint(st, "rows_dropped"), 0);
	ck_assert_int_eq(jint(st, "msgs_dropped"), 0);
	json_decref(st);
	bus_destroy(&bus);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM term_minute"), 30);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM volume_minute"), 10);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 10);
	sqlite3_close(c);
	/* segment 9 came with a checkpoint folded into the newest, whose state names it */
	char *segs = segments_stored();
	ck_assert_str_eq(segs, "9,10");
	free(segs);
	char *t = cursor_of(1, "checkpoint_source");
	ck_assert_str_eq(t, "c10");
	free(t);
	assert_integrity(dbpath);
}
END_TEST

struct answered {
	atomic_int n;
	int rc;
	char error[256];
};

static void on_answer(struct dbmsg *m, void *ctx)
{
	struct answered *a = ctx;
	a->rc = m->rc;
	snprintf(a->error, sizeof a->error, "%s", m->error);
	dbmsg_free(m);
	atomic_fetch_add(&a->n, 1);
}

START_TEST(test_a_request_in_a_backlog_over_its_caps_is_answered_with_the_error)
{
	struct bus bus;
	struct db *db = full_disk_writer((struct db_options){ .batch_max = 8,
							      .retry_max_msgs = 100,
							      .retry_max_rows = 16 }, &bus);
	for (uint64_t e = 1; e <= 4; e++)
		push(&bus, checkpoint_rows_msg(e, 1));
	json_decref(status_wait(&bus, st_failing, 1, "a failure"));
	/* rows over their cap, then a status, a source change somebody waits for, more rows */
	struct answered ans = { 0 };
	struct dbmsg *save = reset_msg(0, "new", "http://n/");
	save->done = on_answer;
	save->done_ctx = &ans;
	push(&bus, source_state_msg(1, NULL, T0, "", 0, 5, 0));
	push(&bus, save);
	push(&bus, checkpoint_rows_msg(5, 1));
	for (int i = 0; i < 500 && atomic_load(&ans.n) == 0; i++)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&ans.n), 1);
	ck_assert_int_lt(ans.rc, 0);
	ck_assert_msg(strstr(ans.error, "database write failed") != NULL, "%s", ans.error);
	json_t *st = status_wait(&bus, st_rows_dropped, 1, "the oldest rows to go");
	ck_assert_int_eq(jint(st, "msgs_dropped"), 0);
	json_decref(st);
	atomic_store(&fault_mode, FAULT_NONE);
	json_decref(status_wait(&bus, st_ok_rows, 1, "recovery"));
	db_close(db);
	bus_destroy(&bus);
	sqlite3 *c = sq_open(dbpath);
	/* the status was kept and written; the refused source was not created */
	ck_assert_int_eq(sq_int(c, "SELECT posts_seen FROM sources WHERE id = 1"), 5);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sources"), 2);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

/*
 * Opens the file (migrating it to DB_SCHEMA_VERSION), reads its checkpoint
 * into ck and closes it; returns a plain connection to the migrated file.
 */
static sqlite3 *migrated(struct db_checkpoint *ck)
{
	struct db *db = open_ok(NULL);
	ck_assert_int_eq(db_checkpoint_load(db, ck), 0);
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	return c;
}

START_TEST(test_migration_3_adds_checkpoint_sources_to_a_version_2_file)
{
	/* a version-2 file with data: today's schema without what migration 3 adds */
	struct db *db = open_ok(NULL);
	struct source_config src = { .kind = "rss", .name = "feed", .url = "u", .cursor = "k" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	sq_exec(c, "DROP TABLE checkpoint_segment; DROP TABLE post_log;"
		   " DROP TABLE checkpoint_source; UPDATE checkpoint SET epoch = 7;"
		   " PRAGMA user_version = 2");
	sqlite3_close(c);

	struct db_checkpoint ck;
	c = migrated(&ck);
	ck_assert_uint_eq(ck.epoch, 7);
	ck_assert_uint_eq(ck.ncursors, 0);
	db_checkpoint_clear(&ck);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sqlite_schema WHERE name ="
				  " 'checkpoint_source'"), 1);
	char *cur = sq_text(c, "SELECT cursor FROM sources");
	ck_assert_str_eq(cur, "k");
	free(cur);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_migration_4_adds_the_post_log_to_a_version_3_file)
{
	struct db *db = open_ok(NULL);
	struct source_config src = { .kind = "push", .name = "app", .url = "", .cursor = "" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	sq_exec(c, "DROP TABLE checkpoint_segment; DROP TABLE post_log; PRAGMA user_version = 3");
	sqlite3_close(c);

	db = open_ok(NULL);
	db_close(db);
	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	/* the log works: a post goes in once, a repeat is ignored, seq only grows */
	sq_exec(c, "INSERT INTO post_log (source_id, post_id, created_ms, received_ms, author,"
		   " lang, url, title, text) VALUES (1, 'a', 0, 0, '', '', '', '', 't')"
		   " ON CONFLICT DO NOTHING;"
		   "INSERT INTO post_log (source_id, post_id, created_ms, received_ms, author,"
		   " lang, url, title, text) VALUES (1, 'a', 0, 0, '', '', '', '', 't')"
		   " ON CONFLICT DO NOTHING;");
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM post_log"), 1);
	/* rows go with their source */
	sq_exec(c, "PRAGMA foreign_keys = ON; DELETE FROM sources");
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM post_log"), 0);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

START_TEST(test_migration_5_adds_checkpoint_segments_to_a_version_4_file)
{
	struct db *db = open_ok(NULL);
	db_close(db);
	sqlite3 *c = sq_open(dbpath);
	sq_exec(c, "DROP TABLE checkpoint_segment; UPDATE checkpoint SET epoch = 9,"
		   " state = 'whole'; PRAGMA user_version = 4");
	sqlite3_close(c);

	struct db_checkpoint ck;
	c = migrated(&ck);
	/* a state saved whole, before segments, stays as it was */
	ck_assert_uint_eq(ck.epoch, 9);
	ck_assert_uint_eq(ck.state_len, 5);
	ck_assert_uint_eq(ck.nseg, 0);
	ck_assert_uint_eq(ck.seg_next, 0);
	db_checkpoint_clear(&ck);
	sq_exec(c, "INSERT INTO checkpoint_segment (id, body) VALUES (1, x'00')");
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM checkpoint_segment"), 1);
	sqlite3_close(c);
	assert_integrity(dbpath);
}
END_TEST

/* Source resets and a file that is not usable ---------------------------------- */

static struct dbmsg *reset_msg(int64_t id, const char *name, const char *url)
{
	struct dbmsg *m = dbmsg_new(DBMSG_SOURCE_SAVE);
	struct source_config c = { .id = id, .kind = "rss", .name = (char *)name,
				   .url = (char *)url, .enabled = true, .interval_s = 60,
				   .params_json = (char *)"{}", .cursor = (char *)"" };
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(source_config_copy(&m->u.save.cfg, &c), 0);
	m->u.save.reset_cursor = true;
	return m;
}

static struct dbmsg *checkpoint_gen(uint64_t epoch, int64_t id, const char *cursor, uint64_t gen)
{
	struct dbmsg *m = checkpoint_msg(epoch, id, cursor, "s", 1);
	m->u.checkpoint.cursors[0].gen = gen;
	return m;
}

static bool st_batches(json_t *st, int64_t n)
{
	return json_is_true(json_object_get(st, "ok")) && jint(st, "batches") >= n &&
	       jint(st, "pending") == 0 && jint(st, "queue_depth") == 0;
}

static char *cursor_of(int64_t id, const char *table)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT cursor FROM %s WHERE %s = %lld", table,
		 strcmp(table, "sources") ? "source_id" : "id", (long long)id);
	sqlite3 *c = sq_open(dbpath);
	char *t = sq_text(c, sql);
	sqlite3_close(c);
	return t;
}

START_TEST(test_writer_never_writes_back_a_cursor_from_before_a_reset)
{
	struct db *db = open_ok(&(struct db_options){ .batch_ms = 10 });
	struct source_config src = { .kind = "rss", .name = "feed", .url = "http://a/", .cursor =
				     "a-100" };
	ck_assert_int_eq(db_source_upsert(db, &src), 0);
	struct bus bus;
	bus_setup(&bus);

	/*
	 * In one batch: the reset, then a checkpoint analytics built before it
	 * learned of it (its marker is of the old feed's generation).
	 */
	uint64_t old = dbmsg_source_gen(src.id);
	push(&bus, reset_msg(src.id, "feed", "http://b/"));
	push(&bus, checkpoint_gen(1, src.id, "a-200", old));
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	json_decref(status_wait(&bus, st_batches, 1, "the reset and the first checkpoint"));
	char *t = cursor_of(src.id, "sources");
	ck_assert_str_eq(t, "");
	free(t);
	ck_assert_ptr_null(cursor_of(src.id, "checkpoint_source"));
	/* the reset committed: the source's generation moved on */
	uint64_t now = dbmsg_source_gen(src.id);
	ck_assert_uint_gt(now, old);

	/* In a later batch: another checkpoint still carrying the old feed's cursor. */
	push(&bus, checkpoint_gen(2, src.id, "a-300", old));
	json_decref(status_wait(&bus, st_batches, 2, "the second checkpoint"));
	t = cursor_of(src.id, "sources");
	ck_assert_str_eq(t, "");
	free(t);
	ck_assert_ptr_null(cursor_of(src.id, "checkpoint_source"));

	/* The new feed's cursor, and an unstamped one, are written. */
	push(&bus, checkpoint_gen(3, src.id, "b-1", now));
	json_decref(status_wait(&bus, st_batches, 3, "the new feed's checkpoint"));
	t = cursor_of(src.id, "sources");
	ck_assert_str_eq(t, "b-1");
	free(t);
	push(&bus, checkpoint_gen(4, src.id, "b-2", 0));
	db_close(db);
	bus_destroy(&bus);
	t = cursor_of(src.id, "checkpoint_source");
	ck_assert_str_eq(t, "b-2");
	free(t);
	sqlite3 *c = sq_open(dbpath);
	/* the rows of every checkpoint count, stale cursor or not */
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 4);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 4);
	sqlite3_close(c);
	/* markers are stamped with the generation of their source */
	struct post *mk = dbmsg_marker_new(src.id, "x", NULL, 0);
	ck_assert_uint_eq(dbmsg_marker_cursor(mk)->gen, now);
	post_free(mk);
}
END_TEST

static bool st_unavailable(json_t *st, int64_t arg)
{
	(void)arg;
	json_t *e = json_object_get(st, "error");
	return json_is_false(json_object_get(st, "ok")) && json_is_string(e) &&
	       (strstr(json_string_value(e), "corrupt") ||
		strstr(json_string_value(e), "not an SQLite database"));
}

/* A valid database with sources "demo" (1, cursor d-1) and "api" (2, cursor keep). */
static char *good_database(size_t *len)
{
	struct db *db = open_ok(NULL);
	struct source_config a = { .kind = "mastodon", .name = "demo", .url = "u", .cursor = "d-1" };
	struct source_config b = { .kind = "rss", .name = "api", .url = "v", .cursor = "keep" };
	ck_assert_int_eq(db_source_upsert(db, &a), 0);
	ck_assert_int_eq(db_source_upsert(db, &b), 0);
	ck_assert_int_eq(a.id, 1);
	ck_assert_int_eq(b.id, 2);
	db_close(db);
	char *bytes = file_bytes(dbpath, len);
	unlink(dbpath);
	return bytes;
}

static void unavailable_then_restored(const void *bad, size_t bad_len, const char *good,
				      size_t good_len)
{
	write_file(dbpath, bad, bad_len);
	struct db_options o = { .batch_ms = 10, .retry_min_ms = 20, .retry_max_ms = 60,
				.allow_unavailable = true, .clock_ms = fake_clock };
	struct db *db = NULL;
	char err[512] = "";
	ck_assert_int_eq(db_open_with(&db, dbpath, &o, err, sizeof err), 0);
	ck_assert_ptr_nonnull(db);
	ck_assert(!db_available(db));
	ck_assert_msg(strstr(err, "corrupt") || strstr(err, "not an SQLite database"), "%s", err);
	char why[512];
	db_unavailable_reason(db, why, sizeof why);
	ck_assert_str_eq(why, err);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), -EBUSY);
	struct db_checkpoint ck;
	ck_assert_int_eq(db_checkpoint_load(db, &ck), -EBUSY);
	/* trendd runs "demo" as id 1 (as stored) and "cfg" as id 2 (stored is "api") */
	struct source_config run[] = { { .id = 1, .name = "demo" }, { .id = 2, .name = "cfg" } };
	ck_assert_int_eq(db_running_sources_set(db, run, 2), 0);

	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	json_decref(status_wait(&bus, st_unavailable, 0, "the fault in the status"));
	push(&bus, checkpoint_gen(1, 1, "d-2", 0));
	push(&bus, checkpoint_gen(2, 2, "cfg-9", 0));
	push(&bus, source_state_msg(2, NULL, T0, "", 0, 77, 0));
	usleep(300 * 1000);
	json_decref(status_wait(&bus, st_failing, 2, "retries of the bad file"));
	size_t now_len;
	char *now = file_bytes(dbpath, &now_len);
	ck_assert_uint_eq(now_len, bad_len);
	ck_assert_mem_eq(now, bad, bad_len);
	free(now);

	/* A backup is put back (written next to it, renamed over it). */
	char tmp[400];
	snprintf(tmp, sizeof tmp, "%s.restore", dbpath);
	write_file(tmp, good, good_len);
	ck_assert_int_eq(rename(tmp, dbpath), 0);
	json_decref(status_wait(&bus, st_ok_rows, 2, "writes to resume"));
	ck_assert(db_available(db));
	/* sources are changed only after a restart: the running ids are not the file's */
	struct dbmsg *save = reset_msg(0, "new", "http://n/");
	push(&bus, save);
	db_close(db);
	bus_destroy(&bus);

	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT sum(count) FROM term_minute"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sources"), 2);
	ck_assert_int_eq(sq_int(c, "SELECT posts_seen FROM sources WHERE id = 2"), 0);
	sqlite3_close(c);
	char *t = cursor_of(1, "sources");
	ck_assert_str_eq(t, "d-2");
	free(t);
	t = cursor_of(2, "sources");
	ck_assert_str_eq(t, "keep");
	free(t);
	ck_assert_ptr_null(cursor_of(2, "checkpoint_source"));
	assert_integrity(dbpath);
}

START_TEST(test_a_file_that_is_not_a_database_is_set_aside_until_it_is_replaced)
{
	size_t good_len;
	char *good = good_database(&good_len);
	static const char text[] = "this is not a database, it is a grocery list\nmilk\n";
	unavailable_then_restored(text, sizeof text - 1, good, good_len);
	free(good);
}
END_TEST

START_TEST(test_a_truncated_database_is_set_aside_until_it_is_replaced)
{
	size_t good_len;
	char *good = good_database(&good_len);
	ck_assert_uint_gt(good_len, 3 * 4096);
	/* a copy cut short: the header promises pages the file does not have */
	unavailable_then_restored(good, good_len - 2 * 4096, good, good_len);
	free(good);
}
END_TEST

static void rename_over_dbpath(const void *bytes, size_t len)
{
	char tmp[400];
	snprintf(tmp, sizeof tmp, "%s.tmp", dbpath);
	write_file(tmp, bytes, len);
	ck_assert_int_eq(rename(tmp, dbpath), 0);
	/* the write-ahead log of the file that was there is not this file's */
	snprintf(tmp, sizeof tmp, "%s-wal", dbpath);
	unlink(tmp);
	snprintf(tmp, sizeof tmp, "%s-shm", dbpath);
	unlink(tmp);
}

/*
 * trendd runs on a file with "demo" 1 and "api" 2, and meanwhile creates
 * "new" (3) and "x" (4), renames "api" and deletes "demo". Then a backup
 * with "demo" 1, "api" 2 and "new" 3 takes the file's place - after the
 * file turned to garbage (corrupt_first), or straight away, noticed when a
 * failed write makes the writer open the path again. Only "new" is the
 * same source in both: only its cursor and status may be written.
 */
static void replaced_while_running(bool corrupt_first)
{
	struct db *db = open_ok(NULL);
	const char *names[] = { "demo", "api", "new" };
	for (int i = 0; i < 3; i++) {
		struct source_config c = { .kind = "rss", .name = (char *)names[i], .url = "u",
					   .cursor = "stored" };
		ck_assert_int_eq(db_source_upsert(db, &c), 0);
		ck_assert_int_eq(c.id, i + 1);
	}
	db_close(db);
	size_t backup_len;
	char *backup = file_bytes(dbpath, &backup_len);
	unlink(dbpath);

	size_t good_len;
	char *good = good_database(&good_len);
	write_file(dbpath, good, good_len);
	free(good);
	struct db_options o = { .vfs = fault_vfs_name(), .batch_ms = 10, .retry_min_ms = 20,
				.retry_max_ms = 60, .allow_unavailable = true };
	db = open_ok(&o);
	struct source_config *v;
	size_t n;
	ck_assert_int_eq(db_sources_load(db, &v, &n), 0);
	ck_assert_int_eq(db_running_sources_set(db, v, n), 0);
	db_sources_free(v, n);
	struct bus bus;
	bus_setup(&bus);
	ck_assert_int_eq(db_writer_start(db, &bus), 0);
	push(&bus, reset_msg(0, "new", "http://n/"));
	push(&bus, reset_msg(0, "x", "http://x/"));
	push(&bus, reset_msg(2, "api renamed", "http://v/"));
	struct dbmsg *del = dbmsg_new(DBMSG_SOURCE_DELETE);
	del->u.delete_id = 1;
	push(&bus, del);
	json_decref(status_wait(&bus, st_batches, 1, "the source changes"));
	sqlite3 *c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT max(id) FROM sources"), 4);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sources"), 3);
	sqlite3_close(c);

	if (corrupt_first) {
		static const char junk[] = "not a database any more\n";
		rename_over_dbpath(junk, sizeof junk - 1);
	} else {
		rename_over_dbpath(backup, backup_len);
	}
	atomic_store(&fault_mode, FAULT_READONLY);
	push(&bus, one_row_msg("x", TERM_WORD, T0, 1));
	json_decref(status_wait(&bus, st_failing, 1, "the failed write"));
	atomic_store(&fault_mode, FAULT_NONE);
	if (corrupt_first) {
		json_decref(status_wait(&bus, st_unavailable, 0, "the garbage file to be refused"));
		ck_assert(!db_available(db));
		rename_over_dbpath(backup, backup_len);
	}
	free(backup);
	json_decref(status_wait(&bus, st_ok_rows, 1, "writes to resume"));
	for (int id = 1; id <= 4; id++) {
		char cur[16];
		snprintf(cur, sizeof cur, "run-%d", id);
		push(&bus, checkpoint_gen((uint64_t)id, id, cur, 0));
		push(&bus, source_state_msg(id, NULL, T0, "", 0, 70 + id, 0));
	}
	push(&bus, reset_msg(0, "another", "http://a/"));
	json_decref(status_wait(&bus, st_batches, 3, "the checkpoints"));
	db_close(db);
	bus_destroy(&bus);

	char *t = cursor_of(3, "sources");
	ck_assert_str_eq(t, "run-3");
	free(t);
	for (int id = 1; id <= 2; id++) {
		t = cursor_of(id, "sources");
		ck_assert_str_eq(t, "stored"); /* deleted, renamed: not the backup's source */
		free(t);
		ck_assert_ptr_null(cursor_of(id, "checkpoint_source"));
	}
	c = sq_open(dbpath);
	ck_assert_int_eq(sq_int(c, "SELECT posts_seen FROM sources WHERE id = 3"), 73);
	ck_assert_int_eq(sq_int(c, "SELECT sum(posts_seen) FROM sources WHERE id <> 3"), 0);
	ck_assert_int_eq(sq_int(c, "SELECT count(*) FROM sources"), 3);
	ck_assert_int_eq(sq_int(c, "SELECT epoch FROM checkpoint"), 4);
	sqlite3_close(c);
	assert_integrity(dbpath);
}

START_TEST(test_a_file_put_back_after_turning_corrupt_is_matched_against_the_running_sources)
{
	replaced_while_running(true);
}
END_TEST

START_TEST(test_a_file_swapped_while_running_is_matched_against_the_running_sources)
{
	replaced_while_running(false);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_creates_current_schema_in_wal_mode);
	tcase_add_test(tc, test_open_migrates_an_empty_file);
	tcase_add_test(tc, test_reopen_keeps_data_and_schema);
	tcase_add_test(tc, test_open_refuses_newer_schema_and_leaves_it_untouched);
	tcase_add_test(tc, test_open_rolls_back_a_failed_migration);
	tcase_add_test(tc, test_open_reads_the_wal_with_a_half_checkpointed_file);
	tcase_add_test(tc, test_open_explains_a_read_only_file_that_needs_migrating);
	tcase_add_test(tc, test_open_rejects_a_text_file_without_touching_it);
	tcase_add_test(tc, test_open_reports_corrupt_and_unopenable_files);
	tcase_add_test(tc, test_sources_round_trip_sql_significant_strings);
	tcase_add_test(tc, test_source_upsert_keeps_cursor_unless_one_is_given);
	tcase_add_test(tc, test_source_upsert_rejects_invalid_sources);
	tcase_add_test(tc, test_source_upsert_stops_at_the_source_limit);
	tcase_add_test(tc, test_writer_adds_term_minutes_and_updates_source_state);
	tcase_add_test(tc, test_writer_skips_invalid_rows_and_keeps_the_rest);
	tcase_add_test(tc, test_writer_stores_snapshot_views_by_score_and_count);
	tcase_add_test(tc, test_writer_drains_the_queue_on_close);
	tcase_add_test(tc, test_writer_survives_a_read_only_file_and_recovers);
	tcase_add_test(tc, test_writer_survives_a_full_disk_and_recovers);
	tcase_add_test(tc, test_writer_retries_while_another_connection_holds_the_lock);
	tcase_add_test(tc, test_writer_bounds_its_backlog_while_writes_fail);
	tcase_add_test(tc, test_writer_merges_source_states_while_writes_fail);
	tcase_add_test(tc, test_writer_gives_up_at_shutdown_after_the_grace_period);
	tcase_add_test(tc, test_term_cache_separates_kinds_and_empties_when_full);
	tcase_add_test(tc, test_new_file_gets_incremental_auto_vacuum_and_a_checkpoint_row);
	tcase_add_test(tc, test_migration_2_rolls_up_the_minutes_of_a_version_1_file);
	tcase_add_test(tc, test_writer_commits_a_checkpoint_with_rows_state_and_cursors);
	tcase_add_test(tc, test_a_failed_checkpoint_leaves_the_previous_one_intact);
	tcase_add_test(tc, test_checkpoints_fold_and_drop_their_oldest_rows_when_writes_fail_long);
	tcase_add_test(tc, test_checkpoints_fold_without_loss_over_the_message_cap);
	tcase_add_test(tc, test_a_request_in_a_backlog_over_its_caps_is_answered_with_the_error);
	tcase_add_test(tc, test_migration_3_adds_checkpoint_sources_to_a_version_2_file);
	tcase_add_test(tc, test_migration_4_adds_the_post_log_to_a_version_3_file);
	tcase_add_test(tc, test_writer_keeps_the_segments_the_newest_state_names);
	tcase_add_test(tc, test_migration_5_adds_checkpoint_segments_to_a_version_4_file);
	tcase_add_test(tc, test_writer_rolls_minutes_up_into_hours_and_days);
	tcase_add_test(tc, test_writer_stores_volume_minutes_with_hour_and_day_rollups);
	tcase_add_test(tc, test_writer_keeps_late_minutes_past_retention_only_in_the_rollups);
	tcase_add_test(tc, test_retention_deletes_expired_rows_in_small_chunks);
	tcase_add_test(tc, test_retention_forever_keeps_rows_and_defaults_keep_days);
	tcase_add_test(tc, test_writer_never_writes_back_a_cursor_from_before_a_reset);
	tcase_add_test(tc, test_a_file_that_is_not_a_database_is_set_aside_until_it_is_replaced);
	tcase_add_test(tc, test_a_truncated_database_is_set_aside_until_it_is_replaced);
	tcase_add_test(tc, test_a_file_put_back_after_turning_corrupt_is_matched_against_the_running_sources);
	tcase_add_test(tc, test_a_file_swapped_while_running_is_matched_against_the_running_sources);
	suite_add_tcase(s, tc);
	TCase *big = tcase_create("file size");
	tcase_add_checked_fixture(big, tmp_setup, tmp_teardown);
	tcase_set_timeout(big, 300);
	tcase_add_test(big, test_file_size_stays_flat_over_days_of_constant_load);
	tcase_add_test(big, test_version_1_file_reuses_freed_pages_and_stays_flat);
	suite_add_tcase(s, big);
	return s;
}

int main(void) { return tu_run(suite()); }
