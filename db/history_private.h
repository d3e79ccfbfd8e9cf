/*
 * history_private.h - what the history reader files share: history.c (the
 * pool, the readers, series and snapshots) and history_top.c (the top terms
 * of a range). Not for use outside db/.
 *
 * A struct reader and its connection belong to one reader thread; the pool
 * is shared by the readers, which touch only its atomics and read-only
 * settings once they run.
 */
#ifndef TRENDD_HISTORY_PRIVATE_H
#define TRENDD_HISTORY_PRIVATE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/live.h"
#include "core/queue.h"
#include "core/strbuf.h"
#include "db/history.h"

#define READERS_MAX 4

enum gran { G_MINUTE, G_HOUR, G_DAY, G_COUNT_ };

static inline int64_t gran_ms(enum gran g)
{
	return g == G_DAY ? HISTORY_DAY_MS : g == G_HOUR ? HISTORY_HOUR_MS : HISTORY_MINUTE_MS;
}

enum rstmt {
	RS_BEGIN,
	RS_COMMIT,
	RS_ROLLBACK,
	RS_EPOCH,
	RS_TERM_ID,
	RS_TERM_NAME,
	RS_SERIES_MINUTE,
	RS_SERIES_HOUR,
	RS_SERIES_DAY,
	RS_SUM_MINUTE,
	RS_SUM_HOUR,
	RS_SUM_DAY,
	RS_TOP_HOUR,
	RS_TOP_DAY,
	RS_TOP_HOUR_KIND,
	RS_TOP_DAY_KIND,
	RS_VOLUME_MINUTE,
	RS_VOLUME_HOUR,
	RS_VOLUME_DAY,
	RS_SNAPSHOT,
	RS_COUNT_
};

struct history_pool;

/* One reader thread; it alone uses conn and st. */
struct reader {
	struct history_pool *pool;   /* borrowed */
	pthread_t thread;
	bool started;
	sqlite3 *conn;               /* owned, read-only; NULL until needed */
	uint64_t conn_gen;           /* db_generation() when conn was opened */
	sqlite3_stmt *st[RS_COUNT_]; /* owned */
	int64_t deadline_ms;         /* monotonic: the running query is interrupted after */
};

struct history_pool {
	struct db *db;               /* borrowed: its availability (db.h) */
	char *path;                  /* owned */
	char *vfs;                   /* owned; NULL = SQLite's default */
	struct bus *bus;             /* borrowed; NULL = no live part */
	struct history_options o;
	int64_t retain_minute_ms, retain_hour_ms; /* negative = forever */
	int64_t (*clock_ms)(void);
	struct queue q;              /* struct history_query * (moved) */
	struct reader r[READERS_MAX];
	int nreaders;
	atomic_bool stopping;
	/* Live answers are skipped until this monotonic time after a timeout. */
	atomic_llong live_skip_until_ms;
	atomic_llong live_backoff_ms;
};

/* Sums of one point or one term: counts add up, authors takes the largest. */
struct acc {
	uint64_t count, pos, neg;
	uint32_t authors;
	double sent;
};

static inline void acc_add(struct acc *a, uint64_t count, uint64_t authors, double sent, uint64_t pos,
		    uint64_t neg)
{
	a->count += count;
	a->pos += pos;
	a->neg += neg;
	a->sent += sent;
	if (authors > a->authors)
		a->authors = authors > UINT32_MAX ? UINT32_MAX : (uint32_t)authors;
}

static inline int64_t col_u(sqlite3_stmt *st, int i)
{
	int64_t v = sqlite3_column_int64(st, i);
	return v < 0 ? 0 : v;
}

static inline void st_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static inline double acc_mean(const struct acc *a)
{
	return a->count ? a->sent / (double)a->count : 0.0;
}

static inline void put_time(struct strbuf *sb, int64_t t_ms)
{
	char ts[32];
	clock_format_rfc3339(t_ms, ts, sizeof ts);
	sb_json_cstr(sb, ts);
}

/*
 * Starts the read transaction: its checkpoint epoch must be at least `need`
 * (the epoch a live answer assumes is stored). A newer checkpoint may be a
 * moment from its commit, so a transaction that sees an older one is retried
 * for up to epoch_wait_ms; *caught_up says whether it got there. Returns an
 * SQLite result code.
 */
int history_txn_begin(struct reader *r, uint64_t need, uint64_t *epoch, bool *caught_up);
/* Ends the read transaction (commits; rolls back if that fails). */
void history_txn_end(struct reader *r);

/* Whether live answers are asked for now (a bus, not stopping, not backing off). */
bool history_live_enabled(struct history_pool *p);
/*
 * Asks the analytics thread; returns the answered request (the caller frees
 * it) or NULL, in which case req is gone (freed, or the analytics thread's).
 */
struct live_req *history_live_get(struct history_pool *p, struct live_req *req);

/* history_top.c: GET /api/history/top. Returns an SQLite result code. */
int history_run_top(struct reader *r, struct history_query *q);

#endif
