/*
 * live.h - asking the analytics thread for history it has not handed to the
 * database yet.
 *
 * History in SQLite holds closed minutes up to the last checkpoint. The rest -
 * minutes still open in the windows, and closed minutes emitted since the
 * last checkpoint - lives on the analytics thread. A history query (on a db
 * reader thread) asks for that part with live_ask(): the request goes on
 * bus->live, the analytics thread answers it between batches, after first
 * counting every post already queued (so a post acknowledged before the
 * query was asked is in the answer), and the asker merges the answer with
 * what the database has:
 *
 *   result = database rows (checkpoint epoch C, read in one transaction)
 *          + answer rows with epoch > C
 *
 * Rows are additive (minute, term) counts, like term_minute; rows of one
 * epoch are never split between the database and an answer.
 *
 * The asker owns the request; it blocks (it is never the lws or analytics
 * thread) until answered or timed out. A timed-out request is abandoned:
 * analytics still answers it later and frees it, because its `abandoned`
 * flag is set under the lock.
 *
 * An asker that must never block (the lws thread) sends the request with
 * live_submit() and a `done` callback instead: analytics calls it with the
 * answered request, which then belongs to the callback. Such an asker must
 * stay able to take the answer until the analytics thread has stopped (it
 * answers every queued request before it ends) and bus_destroy() (which
 * answers any left with -EPIPE).
 *
 * LIVE_TERM_DETAIL is not history: it asks what the posts the analytics
 * thread keeps (the newest ENGINE_RECENT_POSTS, analytics/engine.h) say about
 * one (kind, term): the terms that appear in the same posts, and the newest
 * of those posts.
 */
#ifndef TRENDD_LIVE_H
#define TRENDD_LIVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;

enum live_op {
	LIVE_TERM,      /* per-minute rows of one (kind, term), [from_ms, to_ms) */
	LIVE_TOP,       /* per-term totals over [from_ms, to_ms), kind filter, top n by count */
	LIVE_VOLUME,    /* per-minute post volume and sentiment, [from_ms, to_ms) */
	LIVE_TERM_DETAIL, /* (kind, term) in the recent posts: co-occurring terms, examples */
};

struct live_row {
	int64_t minute_ms;
	uint64_t epoch;       /* checkpoint epoch the row belongs to; UINT64_MAX = still open */
	uint32_t count, authors, pos, neg;
	double sent_sum;
	const char *term;     /* LIVE_TOP, LIVE_TERM_DETAIL: borrowed from the request's pool */
	uint32_t term_len;
	uint8_t kind;
};

/*
 * LIVE_TERM_DETAIL: one example post. Strings are borrowed from the
 * request's pool, valid UTF-8, not NUL-terminated; "" (length 0) when the
 * post had none or it was over the engine's cap.
 */
struct live_post {
	int64_t source_id;
	int64_t time_ms;      /* event time */
	double sentiment;     /* VADER compound */
	const char *id, *url, *author, *text;
	uint32_t id_len, url_len, author_len, text_len;
	bool truncated;       /* text is the start of a longer post text */
};

struct live_req {
	/* question */
	enum live_op op;
	int kind;             /* enum term_kind, or TERM_KIND_ALL for LIVE_TOP */
	char term[256];       /* LIVE_TERM, LIVE_TERM_DETAIL */
	size_t term_len;
	int64_t from_ms, to_ms;
	size_t limit;         /* LIVE_TOP; LIVE_TERM_DETAIL: co-occurring terms wanted */
	size_t examples;      /* LIVE_TERM_DETAIL: example posts wanted */
	uint64_t req_id;      /* the asker's tag, untouched by analytics */

	/* answer, filled by the analytics thread */
	struct live_row *rows;   /* owned by the request */
	size_t nrows, rows_cap;
	char *pool;              /* owned: term bytes of LIVE_TOP rows */
	size_t pool_len, pool_cap;
	uint64_t checkpoint_epoch; /* epochs <= this are in the database (once committed) */
	struct live_post *posts; /* owned: LIVE_TERM_DETAIL examples, newest first */
	size_t nposts, posts_cap;
	uint64_t scanned;        /* LIVE_TERM_DETAIL: recent posts looked at */
	uint64_t matched;        /* LIVE_TERM_DETAIL: of those, posts with the term */
	int rc;                  /* 0, or negative errno */

	/* hand-over */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool answered, abandoned;
	void (*done)(struct live_req *r, void *ctx); /* set: live_submit() asker */
	void *done_ctx;
};

/* A new request (zeroed question; mutex and condition ready) or NULL. */
struct live_req *live_req_new(enum live_op op);
void live_req_free(struct live_req *r);

/*
 * Sends r to the analytics thread and waits up to timeout_ms for the answer.
 * Returns 0 (r answered; the caller frees it), -ETIMEDOUT (r now belongs to
 * the analytics thread, which frees it) or -EPIPE (analytics is gone; the
 * caller frees r).
 */
int live_ask(struct bus *bus, struct live_req *r, int timeout_ms);

/*
 * Sends r, whose done callback is set, to the analytics thread without
 * waiting. Returns 0 (r now belongs to analytics until done gets it),
 * -EAGAIN (too many questions waiting) or -EPIPE (analytics is gone); on an
 * error r stays the caller's.
 */
int live_submit(struct bus *bus, struct live_req *r);

/*
 * Analytics side: marks r answered and wakes the asker, or frees it if
 * abandoned, or hands it to its done callback. Row terms and post strings
 * point into r->pool from here on.
 */
void live_answer(struct live_req *r);

/* Appends a row to the answer (copying term when it has one); 0 or -ENOMEM. */
int live_add_row(struct live_req *r, const struct live_row *row);

/* Appends an example post to the answer, copying its strings; 0 or -ENOMEM. */
int live_add_post(struct live_req *r, const struct live_post *p);

#endif
