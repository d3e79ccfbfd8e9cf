/*
 * engine_impl.h - the inside of struct engine (analytics/engine.h), shared
 * by the two files that implement it and by nothing else:
 *  - engine.c: the analytics thread - posts counted into the windows, cursor
 *    markers, the recent-post ring, snapshots, checkpoints and saved state;
 *  - engine_live.c: its answers to live requests (core/live.h): open-minute
 *    and pending rows of a term, the top terms, volume, and term detail
 *    from the recent-post ring.
 * Everything here belongs to the analytics thread.
 */
#ifndef TRENDD_ENGINE_IMPL_H
#define TRENDD_ENGINE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/engine.h"
#include "analytics/window.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/live.h"

#define RATE_SECONDS 10

/*
 * History rows of the next checkpoint: closed minutes from the window and
 * late posts, one row per (kind, minute, term) - rows for the same key merge
 * as the database merges them (counts add, authors take the larger) - so the
 * batch stays bounded by the distinct pairs while the db queue is full.
 */
struct row_batch {
	struct term_minute_row *rows; /* owned; term is a pool offset until sent */
	size_t n, cap;
	char *pool;                   /* owned */
	size_t pool_len, pool_cap;
	uint32_t *idx;                /* owned: row index + 1, 0 = empty */
	size_t idx_cap;               /* power of two, at least 2 * cap */
};

struct vol_batch {
	struct volume_minute_row *rows; /* owned, one per minute */
	size_t n, cap;
};

/* The newest cursor marker of one source, and what it does not cover yet. */
struct mark {
	struct source_cursor cur;     /* owned */
	bool has;                     /* a marker arrived */
	bool dirty;                   /* not sent in a checkpoint yet */
	uint64_t uncovered;           /* posts counted since the marker */
};

/*
 * One post in the recent-post ring. rec holds, in this order: nterms term
 * hashes, the id, url, author and text bytes (lengths here, no NULs), then
 * per term its kind, its length and its bytes (in the order of the hashes).
 */
struct recent_post {
	uint64_t *rec;                /* owned, NULL for an empty slot */
	uint32_t cap;                 /* bytes rec holds, kept for the posts that follow */
	int64_t source_id;
	int64_t event_ms;
	float compound;
	uint16_t nterms;
	uint16_t id_len, url_len, author_len, text_len;
	bool truncated;
};

/* The windows of one language or one source. */
struct dimwin {
	char lang[16];                /* language key, or "" */
	int64_t source_id;            /* source id, or 0 */
	struct window *w;             /* owned */
	int64_t last_post_ms;         /* wall time of the newest post, for idle eviction */
};

struct engine {
	struct engine_config cfg;
	struct window_config wcfg;     /* the global windows */
	struct window_config dim_wcfg; /* language and source windows */
	struct dimwin dims[ENGINE_MAX_LANG_VIEWS + ENGINE_MAX_SOURCE_VIEWS];
	size_t ndims, nlang_dims, nsource_dims;
	bool dims_full_warned;
	struct bus *bus;
	pthread_t thread;
	bool running;
	bool restored;

	struct vader *vader;
	struct vader_scratch *vscratch;
	struct stopwords *stopwords;
	struct tokenizer *tok;
	struct window *win;

	char *textbuf;                /* title + text scratch */
	size_t textbuf_cap;
	struct row_batch pending;     /* rows of epoch epoch_sent + 1 */
	struct vol_batch volume;
	bool rows_warned;

	struct mark *marks;           /* owned; nmarks used, by arrival */
	size_t nmarks;
	uint64_t epoch_sent;          /* last checkpoint epoch handed to the db thread */
	int64_t next_ckpt_ms;         /* monotonic */
	int64_t ckpt_due_ms;          /* monotonic: when the pending checkpoint fell due, 0 */
	bool ckpt_wait_marker;        /* due, waiting for a marker to cover the posts */
	bool ckpt_uncovered_warned;   /* uncovered_warn() said it; reset by a covered one */
	uint64_t consumed;            /* posts and markers taken since the last checkpoint */
	bool ckpt_warned;
	int64_t ckpt_build_us;        /* time the last checkpoint's state took to build */
	size_t ckpt_bytes;            /* what it wrote: its state and new segments */
	int64_t ckpt_period_ms;       /* the period it set (engine_checkpoint_period()) */
	int64_t ckpt_period_said_ms;  /* the longest stretched period logged so far */
	size_t ckpt_state_len;        /* the last state's size, without its new segments */
	size_t ckpt_segments;         /* segments the last state names */
	/*
	 * The windows' closed buckets saved apart (window_state_save_segments()):
	 * out holds the segments the db thread has not taken yet (a checkpoint
	 * not taken leaves them for the next), refs is rebuilt by every save.
	 */
	struct window_segments segs;

	struct recent_post *recent;   /* owned: ring of recent_cap slots */
	size_t recent_cap, recent_n, recent_next; /* next: the slot the next post takes */

	uint64_t seq;
	uint64_t posts_total, tokens_total;
	uint64_t rate[RATE_SECONDS];  /* posts per wall second, ring */
	int64_t rate_sec;
	int64_t last_snapshot_minute;
	struct snapshot *last;        /* the last one published (a reference), or NULL */
	size_t dim_next;              /* the dimension whose views the next tick rebuilds first */
};

/*
 * The time from one checkpoint to the next: the configured period, or
 * ENGINE_CHECKPOINT_COST times what the last one's state took to build,
 * whichever is longer. Closed buckets are written once (segments), but the
 * term table and the open buckets are saved whole, and grow with the windows
 * (tens of MB hours into a busy run with many sources; the first checkpoint
 * of a run that restored nothing writes everything): at a fixed period that
 * could take most of the analytics thread. Stretched, checkpoints take at
 * most 1 / cost of the thread's time (engine_config.checkpoint_cost).
 */
#define ENGINE_CHECKPOINT_COST 20
static inline int64_t engine_checkpoint_period(int64_t configured_ms, int64_t build_us, int cost)
{
	int64_t stretched = build_us * cost / 1000;
	return stretched > configured_ms ? stretched : configured_ms;
}

/* The hash of a term in the recent-post ring. */
static inline uint64_t term_hash(uint8_t kind, const char *s, size_t len)
{
	return hash_bytes_seed(s, len, 0x7f4a7c159e3779b9ull * (kind + 1u));
}

/* ---- engine.c, for engine_live.c ---- */

/* Adds a row, merging it into the row of the same (kind, minute, term). 0 or -ENOMEM. */
int row_batch_add(struct row_batch *b, const char *term, uint32_t len, uint8_t kind,
		  int64_t minute_ms, uint32_t count, uint32_t authors, uint32_t pos, uint32_t neg,
		  double sent);
void row_batch_free(struct row_batch *b);

/* ---- engine_live.c, for engine.c ---- */

/* Answers live request r from the windows, the pending rows and the recent posts. */
void engine_live_answer(struct engine *e, struct live_req *r);

#endif
