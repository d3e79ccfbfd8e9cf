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

#include <stddef.h>
#include <stdint.h>

struct snapshot;

enum dbmsg_kind {
	DBMSG_TERM_MINUTES,   /* per-minute term counts for history */
	DBMSG_SNAPSHOT,       /* a trends snapshot to keep (once a minute) */
	DBMSG_SOURCE_STATE,   /* a source's cursor and status after a poll */
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

struct source_state {
	int64_t source_id;
	char *cursor;         /* owned */
	int64_t last_ok_ms;   /* 0 = never */
	int64_t last_error_ms;
	char *last_error;     /* owned; "" when the last poll succeeded */
	uint64_t posts_seen;
	uint64_t items_skipped;
};

struct dbmsg {
	enum dbmsg_kind kind;
	union {
		struct {
			size_t n;
			struct term_minute_row *rows; /* owned */
			char *pool;                   /* owned: term bytes */
		} minutes;
		struct snapshot *snapshot;            /* owned reference */
		struct source_state source;
	} u;
};

struct dbmsg *dbmsg_new(enum dbmsg_kind kind);
void dbmsg_free(struct dbmsg *m);

#endif
