/*
 * engine.h - the analytics thread: takes posts off the post queue, tokenizes
 * and scores them, updates the sliding windows in event time, and every tick
 * publishes an immutable snapshot of the trends.
 *
 * Checkpoints (docs/STORAGE.md, "Exactly-once"). Every checkpoint_ms the
 * engine sends the db thread one DBMSG_CHECKPOINT holding everything since
 * the previous one: the term and volume rows of the minutes that closed and
 * of the late posts, its serialized window state, and the newest cursor
 * marker of each source (the ingest thread puts one on the post queue after
 * the posts of each batch). The writer commits it in one transaction, so the
 * committed windows, rows and cursors always describe the same instant. When
 * the db queue is full nothing is dropped: the rows stay and merge (by term
 * and minute) into the next attempt. The engine checkpoints at an instant
 * when, for each source, the last thing it consumed was that source's marker
 * (so no post is counted without its cursor), waiting at most another
 * checkpoint_ms for one.
 *
 * Live answers (core/live.h). Between batches the engine answers bus->live:
 * having counted every queued post, it answers from the minutes still open in
 * the global windows (epoch UINT64_MAX) and the rows not yet sent (the next
 * epoch); checkpoint_epoch is the last epoch sent, which the asker waits for.
 *
 * Recent posts (docs/ARCHITECTURE.md, "Term detail"). The engine also keeps
 * the newest recent_posts posts in a ring, each with what a reader needs to
 * recognise it - id, source, event time, URL, author, the first
 * ENGINE_EXCERPT_BYTES of its text (cut at a character boundary), its
 * sentiment - and up to ENGINE_RECENT_TERMS of its distinct terms (64-bit
 * hashes for matching, and their texts). LIVE_TERM_DETAIL scans the ring for
 * the posts with one term and answers with the terms most often in the same
 * posts and the newest of those posts. Every cap below bounds one post's
 * record, and a slot of the ring keeps the block of the largest record it
 * has held (rounded up to 256 bytes) for the posts that take it later, so
 * the ring holds at most recent_posts * (ENGINE_RECENT_POST_MAX_BYTES + 256)
 * (about 2.6 KB a post; 20,000 posts: 53 MB at worst). The ring is not
 * checkpointed: it starts empty.
 */
#ifndef TRENDD_ENGINE_H
#define TRENDD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/window.h"
#include "core/bus.h"

struct engine;

struct engine_config {
	const char *data_dir;     /* lexicon and stopwords */
	int64_t tick_ms;          /* snapshot period, default 1000 */
	int64_t lateness_ms;      /* allowed lateness; negative: the default, 60000 */
	size_t top_m;             /* terms kept per closed bucket, default 4096 */
	/*
	 * Terms kept per closed bucket of the language and source windows; 0:
	 * ENGINE_VIEW_TOP_M or top_m, whichever is smaller.
	 */
	size_t view_top_m;
	bool no_lang_views;       /* skip the per-language windows */
	bool no_source_views;     /* skip the per-source windows */
	/*
	 * Time a tick may spend on the language and source views, in
	 * microseconds; 0: ENGINE_VIEW_BUDGET_US. The global views are rebuilt
	 * every tick; these in turn, at least one window's a tick, the rest
	 * carried over from the last snapshot (fill_dim_views() in engine.c).
	 */
	int64_t view_budget_us;
	int64_t checkpoint_ms;    /* checkpoint period; 0: ENGINE_CHECKPOINT_MS */
	/*
	 * The period stretches to this many times the time the last state took
	 * to build, when that is longer (engine_checkpoint_period() in
	 * engine_impl.h); 0: ENGINE_CHECKPOINT_COST.
	 */
	int checkpoint_cost;
	/*
	 * Every source sends cursor markers (the daemon's ingest does): a post
	 * of a source whose marker has not followed yet holds the checkpoint
	 * back. Off, only sources that sent a marker are waited for.
	 */
	bool cursor_markers;
	size_t recent_posts;      /* posts kept for term detail; 0: ENGINE_RECENT_POSTS */
	bool no_recent_posts;     /* keep none (LIVE_TERM_DETAIL answers from nothing) */
	/* Restore: the state of the last committed checkpoint and its epoch. */
	const void *state;        /* borrowed, or NULL: start empty */
	size_t state_len;
	uint64_t epoch;
	/*
	 * The segments the state names, looked up by id (see
	 * window_state_load_segments()), and the id for the first new one: above
	 * every id stored, named or not. 0: 1.
	 */
	window_segment_fn segment_fn;
	void *segment_ctx;
	uint64_t segment_next;
};

#define ENGINE_CHECKPOINT_MS 5000
#define ENGINE_MAX_LIVE_ROWS (1u << 20)  /* rows in one live answer */

/* The recent-post ring and the caps of one post's record in it. */
#define ENGINE_RECENT_POSTS        20000
#define ENGINE_RECENT_POSTS_MAX    1000000
#define ENGINE_RECENT_TERMS        48    /* distinct terms kept, first in text order */
#define ENGINE_RECENT_TERM_BYTES   640   /* their texts together; later terms are left out */
#define ENGINE_EXCERPT_BYTES       280   /* of title + text, cut at a UTF-8 boundary */
#define ENGINE_RECENT_ID_BYTES     256   /* a longer id is kept as "" */
#define ENGINE_RECENT_URL_BYTES    512   /* a longer URL is kept as "" (no link beats a cut one) */
#define ENGINE_RECENT_AUTHOR_BYTES 128   /* a longer author is cut at a UTF-8 boundary */
#define ENGINE_RECENT_POST_MAX_BYTES                                                        \
	(64 + ENGINE_RECENT_TERMS * (8 + 2) + ENGINE_RECENT_TERM_BYTES + ENGINE_EXCERPT_BYTES + \
	 ENGINE_RECENT_ID_BYTES + ENGINE_RECENT_URL_BYTES + ENGINE_RECENT_AUTHOR_BYTES + 16)
/* LIVE_TERM_DETAIL: answer sizes, and distinct co-occurring terms counted in one scan */
#define ENGINE_DETAIL_TERMS_MAX    50
#define ENGINE_DETAIL_POSTS_MAX    20
#define ENGINE_DETAIL_SCAN_TERMS   (1u << 17)

/*
 * Besides the global windows the engine keeps one set of windows per
 * language (primary subtag, up to ENGINE_MAX_LANG_VIEWS) and per source (up
 * to ENGINE_MAX_SOURCE_VIEWS), so /api/trends can answer lang= and source=.
 * Each post counts in the global, its language's and its source's windows.
 * A dimension idle for ENGINE_VIEW_IDLE_MS is dropped.
 */
#define ENGINE_MAX_LANG_VIEWS   16
#define ENGINE_MAX_SOURCE_VIEWS 64
#define ENGINE_VIEW_IDLE_MS     (26 * 3600 * 1000LL)
#define ENGINE_VIEW_BUDGET_US   200000
/*
 * A language or source window keeps fewer terms per closed bucket than the
 * global one: it sees a share of the posts and shows as many terms, and
 * most of what it would keep beyond this is the tail its few posts brought
 * in once (docs/ANALYTICS.md, "Memory of the language and source windows").
 */
#define ENGINE_VIEW_TOP_M       2048
/*
 * Posts whose sentiment the engine scores before it tokenizes and counts
 * them: each of the two then runs with its own code and tables warm.
 */
#define ENGINE_SCORE_AHEAD      64

/*
 * Starts the thread. A state that cannot be restored (corrupt, truncated,
 * from an incompatible build) is logged and the engine starts with empty
 * windows: the rows already committed stay, only the open windows are lost.
 */
int engine_start(struct engine **out, const struct engine_config *cfg, struct bus *bus,
		 char *err, size_t errlen);
/* Drains the post queue, sends a last checkpoint (waiting for room), joins. */
void engine_stop(struct engine *e);

/* Whether the state given at start was restored (false: started empty). */
bool engine_restored(const struct engine *e);

#endif
