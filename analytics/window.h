/*
 * window.h - sliding-window term counters in event time: the 5m, 1h and 24h
 * windows, distinct authors per term, sentiment per term, and the trend score.
 *
 * Structure. Three rings of buckets: level 0 holds 1-second buckets (the 5m
 * window), level 1 1-minute buckets (the 1h window), level 2 15-minute
 * buckets (the 24h window, plus the 24 h before it as the baseline). A post
 * updates the level-0 and level-1 buckets of its event time (exact counts in
 * open buckets); level-1 buckets roll up into level 2 when they close.
 * Each term keeps a running total per window: a post's counts go into it
 * at the next read of the totals (or close of the bucket) after it arrives,
 * and are subtracted when the bucket holding them leaves the window or drops
 * them.
 *
 * Event time. The window end is the newest event time seen (or the wall
 * clock given to window_advance, whichever is later). The watermark is the
 * end minus the allowed lateness: a bucket stays open, exact, until the
 * watermark passes its end; then it closes and is pruned to the top-m terms
 * by count, remembering the largest count it dropped as its error bound. A
 * post behind the watermark is late: window_add_post() rejects it and the
 * caller sends it to history only. A post more than future_ms ahead of the
 * wall clock is clamped to the wall clock and counted.
 *
 * Invariants (checked in debug builds by window_check):
 *  - for every term and window, total = sum of its entries in the buckets of
 *    that window's level that are in range, counting open buckets (as every
 *    reader sees it: the open buckets' new counts are added first);
 *  - term->refs = number of bucket entries that name the term; a term with
 *    refs == 0 is freed;
 *  - a reported count is never above the true count and never below it by
 *    more than the reported error.
 *
 * Owned by the analytics thread; not thread-safe.
 */
#ifndef TRENDD_WINDOW_H
#define TRENDD_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "core/strbuf.h"

#define WINDOW_MAX_LATENESS_MS (50 * 60 * 1000LL)

struct strbuf;
struct window;
struct token;

struct window_config {
	int64_t lateness_ms;   /* allowed lateness, default 60 s, at most WINDOW_MAX_LATENESS_MS */
	uint32_t top_m;        /* entries kept per closed bucket, default 4096 */
	uint32_t min_authors;  /* distinct authors before a term can trend, default 5 */
	int64_t warmup_ms;     /* a term first seen less than this ago cannot trend, default 30 s */
	double half_life_s;    /* score decay after the peak for the 5m window, default 60 s;
	                        * the 1h and 24h windows scale it by their span */
	int64_t future_ms;     /* posts further ahead of the wall clock are clamped, default 5 min */
	size_t candidates;     /* terms per kind ranked by count before scoring, default 256 */
};

void window_config_defaults(struct window_config *c);

struct window_post {
	int64_t event_ms;      /* created_at */
	uint32_t author_hash;  /* hash of the stable author key */
	float compound;        /* VADER compound */
	const struct token *tokens;
	size_t ntokens;
};

enum window_add_result {
	WINDOW_ADDED = 0,
	WINDOW_LATE = 1,       /* behind the watermark: not counted live */
};

/* One closed minute of one term, for history. */
struct window_minute_row {
	const char *term;      /* borrowed, valid during the callback */
	uint32_t term_len;
	uint8_t kind;
	int64_t minute_ms;
	uint32_t count, authors, pos, neg;
	double sent_sum;
};

/* Called once per closed minute with its kept rows. */
typedef void (*window_minute_fn)(void *ctx, int64_t minute_ms,
				 const struct window_minute_row *rows, size_t n);

/* Every post counted in one minute, whatever its terms. */
struct window_minute_volume {
	uint64_t posts, pos, neg;
	double sent_sum;
};

/* Called once per closed minute that counted a post, after its rows. */
typedef void (*window_volume_fn)(void *ctx, int64_t minute_ms,
				 const struct window_minute_volume *v);

/* Called per open minute by window_open_minutes(). */
typedef int (*window_open_fn)(void *ctx, int64_t minute_ms, const struct window_minute_row *rows,
			      size_t n, const struct window_minute_volume *v);

struct window_stats {
	uint64_t posts;        /* counted live */
	uint64_t late_posts;
	uint64_t future_posts;
	uint64_t terms;        /* live terms */
	uint64_t entries;      /* bucket entries across all levels */
	uint64_t pruned;       /* entries dropped by top-m pruning */
	size_t bytes;          /* approximate memory held */
	uint64_t unions_ahead; /* kept author unions built before the window's end moved */
	uint64_t sums_ahead;   /* baseline author sums built before the history range moved */
};

struct window *window_new(const struct window_config *cfg);
void window_free(struct window *w);
void window_set_minute_sink(struct window *w, window_minute_fn fn, void *ctx);
void window_set_volume_sink(struct window *w, window_volume_fn fn, void *ctx);

/*
 * The minutes still open (not yet handed to the minute sink) that start in
 * [from_ms, to_ms), oldest first: fn gets each one's rows - every term, or
 * only (kind, term[0..len)) when term is not NULL - with author estimates so
 * far, and its volume. Stops at the first non-zero return of fn and returns
 * it; 0 otherwise.
 */
int window_open_minutes(struct window *w, int64_t from_ms, int64_t to_ms, int kind,
			const char *term, size_t len, window_open_fn fn, void *ctx);

/*
 * Saving and restoring. window_state_save() appends everything the window
 * holds - buckets of every level with their entries and author sets, term
 * totals and first-seen times, score peaks, event time, watermark and the
 * late / future counters - to sb (check sb->failed). window_state_load()
 * builds a window from such bytes with cfg: fed the same posts and ticks
 * afterwards it behaves exactly as the saved one would have. Bytes that are
 * truncated, corrupt or do not fit cfg (buckets that collide in its rings)
 * are refused with -EINVAL and a readable err; -ENOMEM when out of memory.
 * Sinks are not part of the state: set them again.
 */
void window_state_save(const struct window *w, struct strbuf *sb);
int window_state_load(struct window **out, const struct window_config *cfg, const void *buf,
		      size_t len, char *err, size_t errlen);

/*
 * Incremental saving. A bucket that is no longer open changes again only in
 * flows out of the ordinary (a late minute rolled into a closed quarter
 * hour, the sketches dropped at baseline), so its entries and author sets -
 * most of a state - can be saved once, apart, as a *segment* that later
 * states name by id and hash instead of holding. window_state_save_segments()
 * saves w as window_state_save() does, except that the body of each such
 * bucket goes into a new segment in segs->out (bodies of at least
 * min_bytes) or, when it was saved so before and has not changed since, is
 * named again. The term records go apart too: a term's name does not
 * change while it lives, so a save writes the records of the terms new
 * since the last one into a new segment and names the earlier ones (see
 * window_state.c, "Term segments"). Every id the state names is appended
 * to segs->refs. Segment
 * ids come from segs->next_id, which the caller keeps across saves and
 * windows: an id is never given twice, so a segment's bytes never change.
 * The caller must keep every segment the newest state names: window
 * remembers which are written and does not write them again.
 * window_forget_segments() makes it write them all anew (after the caller
 * lost some).
 *
 * window_state_load_segments() loads such a state, asking fn for each
 * segment it names; a segment that is missing or whose bytes do not hash
 * to what the state says is refused like any other damage.
 * window_state_load() is the same without segments.
 */
#define WINDOW_SEGMENT_MIN_BYTES 512
struct window_segments {
	uint64_t next_id;    /* the next new segment's id; ids start at 1 */
	size_t min_bytes;    /* 0: WINDOW_SEGMENT_MIN_BYTES */
	struct strbuf out;   /* new segments, each its id and length (u64) and bytes */
	struct strbuf refs;  /* the ids the state names, u64 each */
	size_t added;        /* segments appended to out */
};
void window_state_save_segments(struct window *w, struct strbuf *sb,
				struct window_segments *segs);
void window_forget_segments(struct window *w);
/*
 * Sets every term's running totals to what its bucket entries hold, as a
 * restore does (states do not carry them): the same counts, and sentiment
 * sums up to the rounding of adding them in another order.
 */
void window_recount_totals(struct window *w);
/* Points *buf and *len at segment id's bytes; negative when there is no such segment. */
typedef int (*window_segment_fn)(void *ctx, uint64_t id, const void **buf, size_t *len);
int window_state_load_segments(struct window **out, const struct window_config *cfg,
			       const void *buf, size_t len, window_segment_fn fn, void *ctx,
			       char *err, size_t errlen);

/* Counts a post. Tokens with the same (kind, text) count once per post. */
enum window_add_result window_add_post(struct window *w, const struct window_post *p);

/* Moves the window end to at least now_ms (wall clock) and clamps future posts
 * against it; closes and expires buckets. Call once per tick. */
void window_advance(struct window *w, int64_t now_ms);

int64_t window_end_ms(const struct window *w);
int64_t window_watermark_ms(const struct window *w);
void window_get_stats(const struct window *w, struct window_stats *st);

/*
 * Fills view (already allocated inside snapshot s) for window id win: its
 * trends (top SNAPSHOT_TOP_K per kind by count and by score, with authors,
 * sentiment, error bound and series) and the overall volume. 0 or -ENOMEM.
 */
int window_fill_view(struct window *w, int win, struct snapshot *s, struct snapshot_view *v);
/*
 * window_fill_view() of every window id into v[0..WINDOW_COUNT), for less:
 * the terms are ranked for all three in one pass. 0 or -ENOMEM.
 */
int window_fill_views(struct window *w, struct snapshot *s, struct snapshot_view *v);

/* Test support: totals of one term in window win (0 when unknown). */
struct window_term_info {
	uint32_t count, error, authors, pos, neg;
	double sent_sum, score;
	bool found;
	uint32_t series[SNAPSHOT_SERIES_POINTS]; /* as a view's, read term by term */
};
void window_lookup(struct window *w, int win, int kind, const char *term, size_t len,
		   struct window_term_info *out);
/* Verifies the invariants above; returns 0 or -1 with a message in err. */
int window_check(struct window *w, char *err, size_t errlen);

#endif
