/*
 * history.h - history queries: the question the web layer asks, the reader
 * threads that answer it, and the answer as JSON or CSV.
 *
 * The web thread builds a struct history_query from a request (web/history.c
 * validates every parameter) and hands it to history_submit(); it never
 * touches SQLite. One of a small pool of reader threads, each with its own
 * read-only connection (a WAL reader: it never blocks the writer nor is
 * blocked by it), runs the query and renders the answer into q->body, then
 * calls q->done on the reader thread; done owns q from then on. The web
 * layer's done posts it to its mailbox and wakes the service loop.
 *
 * A query that shows the present also asks the analytics thread for the part
 * of history not in SQLite yet (core/live.h): the still-open minute and the
 * closed minutes since the last checkpoint. The reader asks first, then reads
 * the database in one transaction that also reads the checkpoint epoch C,
 * and adds the live rows whose epoch is above C. If the answer says a newer
 * checkpoint exists than the transaction saw, the transaction is repeated
 * (briefly waiting for the commit) so no epoch is missed or counted twice.
 * When analytics does not answer within the live timeout, the answer comes
 * from the database alone with "live": false.
 *
 * The query struct is shared by the web and db layers; its helpers are
 * inline so the web layer needs only this header, not the db library.
 */
#ifndef TRENDD_HISTORY_H
#define TRENDD_HISTORY_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

#define HISTORY_MINUTE_MS         60000LL
#define HISTORY_HOUR_MS           (60 * HISTORY_MINUTE_MS)
#define HISTORY_DAY_MS            (24 * HISTORY_HOUR_MS)

/* Caps on what one query may ask for. */
#define HISTORY_TERMS_MAX         5          /* terms compared at once */
#define HISTORY_POINTS_MAX        20000      /* points per series */
#define HISTORY_TOP_LIMIT_MAX     1000       /* limit= of /api/history/top */
#define HISTORY_TOP_LIMIT_DEFAULT 20
#define HISTORY_TOP_RANGE_MAX_MS  (3660 * HISTORY_DAY_MS) /* ten years */

/* The reader pool. */
#define HISTORY_READERS           2
#define HISTORY_QUEUE_MAX         64         /* queries waiting for a reader */
#define HISTORY_LIVE_TIMEOUT_MS   2000       /* wait for the analytics thread's answer */
#define HISTORY_LIVE_BACKOFF_MS   10000      /* after a timeout, answer without live ... */
#define HISTORY_LIVE_BACKOFF_MAX_MS 300000   /* ... doubling up to this while it lasts */
#define HISTORY_EPOCH_WAIT_MS     1000       /* wait this long for a checkpoint to commit */
#define HISTORY_QUERY_TIMEOUT_MS  10000      /* a query running longer is interrupted */
#define HISTORY_LIVE_TOP_ROWS     4096       /* terms asked of analytics for a top query */
#define HISTORY_CACHE_KB          32768      /* page cache per reader connection */

enum history_what {
	HISTORY_TERM,       /* GET /api/terms/{term}: one series */
	HISTORY_COMPARE,    /* GET /api/terms?terms=a,b: up to HISTORY_TERMS_MAX series */
	HISTORY_TOP,        /* GET /api/history/top */
	HISTORY_SENTIMENT,  /* GET /api/sentiment: post volume and mean sentiment */
	HISTORY_SNAPSHOT,   /* GET /api/snapshots: the stored trends of a past minute */
};

enum history_format { HISTORY_JSON, HISTORY_CSV };

struct history_term {
	char *s;              /* owned; any bytes, NULs included */
	size_t len;
	int kind;             /* enum term_kind */
};

struct history_query;
typedef void (*history_done_fn)(struct history_query *q, void *ctx);

/*
 * Invariants once submitted (web/history.c checks them; the reader answers
 * 400 if they do not hold): from_ms < to_ms; for series both are multiples
 * of step_ms (UTC days) and (to - from) / step <= HISTORY_POINTS_MAX; for top
 * both are whole minutes and the range is at most HISTORY_TOP_RANGE_MAX_MS.
 */
struct history_query {
	/* the question */
	enum history_what what;
	enum history_format format;
	struct history_term terms[HISTORY_TERMS_MAX];
	size_t nterms;
	int64_t from_ms, to_ms;   /* [from, to) */
	int64_t step_ms;          /* series: HISTORY_MINUTE_MS, _HOUR_MS or _DAY_MS */
	int kind;                 /* top: enum term_kind or TERM_KIND_ALL */
	uint32_t limit;           /* top: 1..HISTORY_TOP_LIMIT_MAX */
	int window;               /* snapshot: enum window_id */
	int sort;                 /* snapshot: enum snapshot_sort */
	int64_t at_ms;            /* snapshot: the newest one at or before this */

	/* the answer, filled by the reader */
	int status;               /* HTTP status */
	bool csv;                 /* body is text/csv (else JSON) */
	bool live;                /* the live part is included */
	struct strbuf body;       /* owned */

	/* hand-over */
	uint64_t req_id;          /* the requester's tag */
	history_done_fn done;     /* called once, on the reader thread; takes q */
	void *done_ctx;
};

static inline struct history_query *history_query_new(enum history_what what)
{
	struct history_query *q = calloc(1, sizeof *q);
	if (q) {
		q->what = what;
		sb_init(&q->body);
	}
	return q;
}

static inline void history_query_free(struct history_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nterms; i++)
		free(q->terms[i].s);
	sb_free(&q->body);
	free(q);
}

/* Copies s[0..len) as the next term. 0, -ENOSPC (HISTORY_TERMS_MAX reached) or -ENOMEM. */
static inline int history_query_add_term(struct history_query *q, const char *s, size_t len,
					 int kind)
{
	if (q->nterms == HISTORY_TERMS_MAX)
		return -ENOSPC;
	char *c = malloc(len + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, s, len);
	c[len] = 0;
	q->terms[q->nterms++] = (struct history_term){ .s = c, .len = len, .kind = kind };
	return 0;
}

/* The start of the step holding t (steps are aligned to the Unix epoch, UTC). */
static inline int64_t history_floor(int64_t t, int64_t step)
{
	int64_t r = t % step;
	return t - (r < 0 ? r + step : r);
}

static inline int64_t history_ceil(int64_t t, int64_t step)
{
	int64_t f = history_floor(t, step);
	return f == t ? t : f + step;
}

/* The reader pool ----------------------------------------------------------- */

struct db;
struct bus;
struct history_pool;

struct history_options {
	int readers;             /* threads, 1..4; 0 = HISTORY_READERS */
	int live_timeout_ms;     /* 0 = HISTORY_LIVE_TIMEOUT_MS */
	int query_timeout_ms;    /* 0 = HISTORY_QUERY_TIMEOUT_MS */
	int epoch_wait_ms;       /* 0 = HISTORY_EPOCH_WAIT_MS */
};

/*
 * Opens one read-only connection per reader on db's file (it must be open and
 * migrated: db_open) and starts the threads. bus may be NULL: then there is
 * no live part and every answer says "live": false. The retention periods and
 * the clock come from db's options. db must outlive the pool: while it is
 * unavailable (db.h) queries are answered 503 with the reason, and readers
 * open new connections after the writer opened the file again. Returns 0 or
 * a negative errno with a readable reason in err.
 */
int history_pool_start(struct history_pool **out, struct db *db, struct bus *bus,
		       const struct history_options *opt, char *err, size_t errlen);

/*
 * Queues q (moved on success) for a reader. -EAGAIN when HISTORY_QUEUE_MAX
 * queries wait already, -EPIPE once the pool is stopping; q stays the
 * caller's then.
 */
int history_submit(struct history_pool *p, struct history_query *q);
/* The same for the web layer's function pointer (ctx is the pool). */
int history_submit_ctx(void *ctx, struct history_query *q);

/*
 * Stops taking queries, answers those still queued with 503, waits for the
 * readers (at most one running query each, bounded by the timeouts) and
 * closes their connections. NULL is fine.
 */
void history_pool_stop(struct history_pool *p);

#endif
