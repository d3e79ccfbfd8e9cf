/*
 * dbmsg.h - messages to the db writer thread.
 *
 * Producers (analytics, ingest, web) allocate a message, fill it and push it
 * on bus->db; the db thread owns it from then on and frees it with
 * dbmsg_free(). A message that needs an answer carries a completion callback
 * that the db thread calls once the write is durable (or failed).
 */
#ifndef TRENDD_DBMSG_H
#define TRENDD_DBMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "core/source.h"

struct snapshot;
struct dbmsg;

enum dbmsg_kind {
	DBMSG_TERM_MINUTES,   /* per-minute term counts for history */
	DBMSG_SNAPSHOT,       /* a trends snapshot to keep (once a minute) */
	DBMSG_SOURCE_STATE,   /* a source's cursor and status after a poll */
	DBMSG_SOURCE_SAVE,    /* create or update a source's settings (API); answered */
	DBMSG_SOURCE_DELETE,  /* delete a source (API); answered */
	DBMSG_VOLUME_MINUTES, /* per-minute post volume and sentiment for history */
	DBMSG_CHECKPOINT,     /* one checkpoint epoch of analytics: rows, state, cursors */
	DBMSG_PUSH,           /* pushed posts (POST /api/ingest) to log durably; answered */
};

/*
 * One row of term_minute. Rows are additive: writing the same (term, kind,
 * minute) twice adds the counts, so late posts and split batches merge.
 */
struct term_minute_row {
	const char *term;     /* borrowed from the message's pool */
	uint32_t term_len;
	uint8_t kind;         /* enum term_kind */
	int64_t minute_ms;    /* start of the minute, UTC */
	uint32_t count;
	uint32_t authors;     /* distinct authors in the minute (estimate) */
	uint32_t pos, neg;    /* posts labelled positive / negative */
	double sent_sum;      /* sum of compound scores */
};

/*
 * One row of volume_minute: every post counted in a minute, whatever its
 * terms. Additive like term_minute_row: two rows for one minute add up.
 */
struct volume_minute_row {
	int64_t minute_ms;    /* start of the minute, UTC */
	uint32_t posts;
	uint32_t pos, neg;    /* posts labelled positive / negative */
	double sent_sum;      /* sum of compound scores */
};

struct source_state {
	int64_t source_id;
	char *cursor;         /* owned */
	int64_t last_ok_ms;   /* 0 = never */
	int64_t last_error_ms;
	char *last_error;     /* owned; "" when the last poll succeeded */
	uint64_t posts_seen;
	uint64_t items_skipped;
};

/*
 * Where a source resumes: its cursor and the ids it emitted recently (the
 * ingest thread's seen ring in its compact form, ingest_seen_encode()). The
 * committed one always matches the posts the committed window state counted
 * (docs/STORAGE.md, "Exactly-once").
 */
struct source_cursor {
	int64_t source_id;
	char *cursor;         /* owned; "" = from the newest items */
	uint8_t *seen;        /* owned, or NULL */
	size_t seen_len;
	uint64_t gen;         /* the source's generation when the marker was made; 0 = unknown */
};

/*
 * Everything analytics produced in one checkpoint epoch, committed in one
 * transaction: the term and volume rows of the minutes closed (and the late
 * posts counted) since the previous checkpoint, the serialized window state
 * at that instant and the cursors of the posts counted up to it.
 */
struct checkpoint {
	uint64_t epoch;       /* checkpoint.epoch once committed; one more than the last */
	int64_t created_ms;
	size_t nterm;
	struct term_minute_row *term_rows;   /* owned */
	char *pool;                          /* owned: term bytes */
	size_t nvolume;
	struct volume_minute_row *volume_rows; /* owned */
	uint8_t *state;                      /* owned: engine_state_save(); NULL keeps the stored */
	size_t state_len;
	/*
	 * The state's closed buckets are kept apart, as segments
	 * (analytics/window.h, docs/STORAGE.md "Incremental checkpoints"):
	 * segments holds the ones new since the last checkpoint the db thread
	 * took, each its id and length (uint64_t) and bytes, and is always
	 * written; segment_refs, which goes with state, lists every id the
	 * state names - the writer keeps those and deletes every other.
	 */
	uint8_t *segments;                   /* owned, or NULL */
	size_t segments_len;
	uint64_t *segment_refs;              /* owned; NULL when state is */
	size_t nsegment_refs;
	int64_t state_build_us;              /* time the analytics thread took to build state */
	size_t ncursors;
	struct source_cursor *cursors;       /* owned */
};

/*
 * A request that wants an answer sets done: once its transaction committed
 * (rc 0) or failed (rc < 0 and a readable error), the db thread calls
 * done(m, done_ctx) instead of freeing the message, and done owns it from
 * then on. Answered requests are never retried: the requester decides.
 */
typedef void (*dbmsg_done_fn)(struct dbmsg *m, void *ctx);

struct source_save {
	struct source_config cfg;   /* owned; cfg.id = 0 creates (and is set on success) */
	bool reset_cursor;          /* forget the stored cursor (URL or kind changed) */
};

/*
 * Pushed posts of one request. The writer logs them (post_log, deduplicated
 * by (source, id)) in its transaction; once that commits it puts the new
 * ones and a cursor marker (the last log sequence number) on the post queue,
 * then answers. errors_json is the request's per-line errors, rendered by
 * the web thread: the members after "accepted" and "duplicates".
 */
struct push_posts {
	int64_t source_id;
	struct post **posts;  /* owned; entries handed on become NULL */
	int64_t *seq;         /* owned; per post, 0 = logged before */
	size_t n;
	size_t accepted, duplicates; /* answer; duplicates include repeats within the request */
	char *errors_json;    /* owned */
};

struct dbmsg {
	enum dbmsg_kind kind;
	dbmsg_done_fn done;   /* NULL: fire and forget */
	void *done_ctx;
	uint64_t req_id;      /* the requester's tag, untouched by the db */
	int rc;               /* answer: 0 or a negative errno */
	char error[256];      /* answer: readable reason when rc < 0 */
	union {
		struct {
			size_t n;
			struct term_minute_row *rows; /* owned */
			char *pool;                   /* owned: term bytes */
		} minutes;
		struct {
			size_t n;
			struct volume_minute_row *rows; /* owned */
		} volume;
		struct snapshot *snapshot;            /* owned reference */
		struct source_state source;
		struct source_save save;
		int64_t delete_id;
		struct checkpoint checkpoint;
		struct push_posts push;
	} u;
};

struct dbmsg *dbmsg_new(enum dbmsg_kind kind);
void dbmsg_free(struct dbmsg *m);
void source_cursor_clear(struct source_cursor *c);
/* Deep copy; 0 or -ENOMEM. */
int source_cursor_copy(struct source_cursor *dst, const struct source_cursor *src);

/*
 * A cursor marker: a struct post (post_is_marker() true) that the ingest
 * thread puts on the post queue after the posts of a poll or stream batch,
 * so analytics learns which cursor goes with the posts it has counted. One
 * allocation, freed by post_free() like a post. Returns NULL when out of
 * memory. dbmsg_marker_cursor() gives the cursor of a marker (NULL for a
 * post); it stays owned by the marker.
 *
 * dbmsg_marker_new() stamps the marker with the source's generation now
 * (dbmsg_source_gen()); dbmsg_marker_new_gen() with the one given - the
 * generation of the source settings whose poll produced the cursor, which a
 * producer takes once when it starts polling those settings.
 */
struct post *dbmsg_marker_new(int64_t source_id, const char *cursor, const void *seen,
			      size_t seen_len);
struct post *dbmsg_marker_new_gen(int64_t source_id, uint64_t gen, const char *cursor,
				  const void *seen, size_t seen_len);
const struct source_cursor *dbmsg_marker_cursor(const struct post *p);

/*
 * Source generations: when a source is reset to a new feed (or deleted, or
 * its id given to a new source) the db writer bumps its generation once that
 * commits, before anyone is told. A checkpoint cursor stamped with an older
 * generation comes from the old feed - a checkpoint built just before the
 * reset - and the writer does not write it back. A source never reset has
 * generation DBMSG_GEN_FIRST; 0 means "not stamped" and is never refused.
 * Any thread; a mutex guards a table of at most DBMSG_GEN_SLOTS reset
 * sources (when it is full the least recently reset one is forgotten, which
 * can only let an old cursor through, never refuse a current one).
 */
#define DBMSG_GEN_FIRST 1
#define DBMSG_GEN_SLOTS (2 * LIMIT_SOURCES)
uint64_t dbmsg_source_gen(int64_t source_id);
void dbmsg_source_gen_bump(int64_t source_id);

#endif
