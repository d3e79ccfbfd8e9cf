/*
 * snapshot.h - the immutable view of the trends that the analytics thread
 * publishes every tick.
 *
 * Built by the analytics thread, then published through a publish_slot and
 * read by the web thread (REST and WebSocket) and the db thread (minute
 * snapshots). Nothing in it changes after snapshot_publish(); readers hold a
 * reference for as long as they use it. All memory hangs off the snapshot's
 * arena and goes with the last reference.
 *
 * A snapshot holds one view per (window, dimension): the global views first
 * (views[0..WINDOW_COUNT), indexed by enum window_id), then views for single
 * languages and sources. Each view has its trend entries once and, per kind
 * (and "all"), two rankings into them: by trend score and by count.
 */
#ifndef TRENDD_SNAPSHOT_H
#define TRENDD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/publish.h"
#include "core/term.h"

#define SNAPSHOT_SERIES_POINTS 32   /* most points in a sparkline series (view->series_points) */
#define SNAPSHOT_TOP_K         100  /* entries ranked per kind and sort */

enum snapshot_sort { SORT_SCORE, SORT_COUNT, SORT_COUNT_ };

struct trend {
	const char *term;        /* borrowed from the snapshot arena, NUL-terminated */
	uint32_t term_len;
	uint8_t kind;            /* enum term_kind */
	uint32_t count;          /* occurrences in the window */
	uint32_t error;          /* count may be low by at most this (pruning bound) */
	uint32_t authors;        /* distinct authors (estimate) */
	double score;            /* trend score, 0 when not trending */
	double sentiment;        /* mean VADER compound of the posts, [-1, 1] */
	uint32_t pos, neu, neg;  /* posts by sentiment label */
	uint32_t *series;        /* view->series_points counts, oldest first */
};

struct trend_ranking {
	uint32_t n;
	uint32_t *idx;           /* indexes into view->trends, best first */
};

struct snapshot_view {
	int window;              /* enum window_id */
	char lang[16];           /* language key (term_lang_key), "" = all languages */
	int64_t source_id;       /* 0 = all sources */
	uint32_t ntrends;
	struct trend *trends;
	struct trend_ranking rank[SORT_COUNT_][TERM_KIND_COUNT + 1];
	/* Overall volume and sentiment of the posts in the window. */
	uint64_t posts;
	double sentiment;        /* mean compound */
	uint64_t pos, neu, neg;
	uint32_t *volume_series; /* posts per series point, oldest first */
	uint32_t series_points;  /* <= SNAPSHOT_SERIES_POINTS */
	/* History before the window that trend scores compare with; while it is
	 * shorter than history_needed_ms nothing trends (warming up). */
	int64_t history_ms, history_needed_ms;
	int64_t series_step_ms;  /* span of one series point */
	/* Wall time its trends were counted at: the snapshot's generated_ms, or
	 * an earlier snapshot's for a view carried over from it (the engine
	 * rebuilds the language and source views within a time budget). */
	int64_t computed_ms;
};

struct snapshot_stats {
	uint64_t posts_total;    /* posts counted since start (or restore) */
	uint64_t late_posts;     /* behind the watermark: history only */
	uint64_t future_posts;   /* clamped: created more than 5 min ahead */
	uint64_t tokens_total;
	double posts_per_s;      /* over the last 10 s of wall time */
	uint64_t terms_tracked;  /* distinct terms in memory */
	uint64_t post_queue_depth;
	double tick_ms;          /* time to build this snapshot */
	uint64_t checkpoint_bytes;     /* what the last one wrote: state, new segments; 0 before */
	uint64_t checkpoint_segments;  /* segments its state names */
	double checkpoint_build_ms;    /* time it took to build */
	int64_t checkpoint_period_ms;  /* the period it set (stretched when building is slow) */
};

struct snapshot {
	struct ref ref;
	uint64_t seq;
	int64_t generated_ms;    /* wall time */
	int64_t event_time_ms;   /* newest event time seen (clamped) */
	int64_t watermark_ms;
	struct snapshot_stats stats;
	size_t nviews;
	struct snapshot_view *views;
	struct snapshot_chunk *arena; /* owned */
};

/* Creates an empty snapshot with one reference. NULL when out of memory. */
struct snapshot *snapshot_new(void);
/* Arena allocation, zeroed, 16-byte aligned; freed with the snapshot. */
void *snapshot_alloc(struct snapshot *s, size_t size);
char *snapshot_strdup(struct snapshot *s, const char *str, size_t len);
/*
 * A copy of view src (of another snapshot) into dst, its memory from s's
 * arena, so that it outlives src's snapshot. 0, or -ENOMEM (dst then holds
 * part of it and must not be published).
 */
int snapshot_view_copy(struct snapshot *s, struct snapshot_view *dst,
		       const struct snapshot_view *src);

/*
 * Finds the view for (window, lang, source); lang "" and source 0 mean all.
 * lang matches by its primary subtag, case-insensitively ("pt-BR" finds "pt").
 */
const struct snapshot_view *snapshot_find_view(const struct snapshot *s, int window,
					       const char *lang, int64_t source_id);

static inline void snapshot_put(struct snapshot *s)
{
	if (s)
		ref_put(&s->ref);
}

/* Publication: the single global slot the analytics thread writes. */
void snapshot_publish(struct publish_slot *slot, struct snapshot *s); /* moves s */
struct snapshot *snapshot_acquire(struct publish_slot *slot);         /* new ref or NULL */

#endif
