/*
 * rollup.h - the db writer's in-memory sums of one batch by (key, period),
 * turned into one upsert per entry when the batch is written.
 *
 * Every term-minute row the writer stores also adds into its term's hour and
 * day rows (term_hour, term_day), and every volume row into volume_hour and
 * volume_day. Summing a batch here first means a term seen in 500 minutes of
 * one batch costs one upsert per hour and day, not 500. Counts, pos, neg and
 * sent_sum add up; authors is the largest value added, the same rule the
 * tables apply on conflict (docs/STORAGE.md explains why).
 *
 * Owned by the db writer thread; not thread-safe. Open addressing over a
 * power-of-two table kept at most half full; at most `max` entries, after
 * which rollup_add() says -ENOSPC and the writer flushes (upserts and clears)
 * before adding again, so memory stays bounded whatever the batch size.
 * Entries are flushed in key order, the order of the tables' primary keys.
 */
#ifndef TRENDD_ROLLUP_H
#define TRENDD_ROLLUP_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rollup_entry {
	int64_t key;          /* terms.id, or 0 for volume rows */
	int64_t period_ms;    /* start of the hour or day */
	uint64_t count, pos, neg;
	double sent_sum;
	uint32_t authors;     /* largest per-minute distinct-author count added */
	uint8_t kind;         /* term_kinds.id of the term */
	bool used;
};

struct rollup {
	int64_t period_ms;            /* DB_HOUR_MS or DB_DAY_MS */
	struct rollup_entry *slots;   /* owned; cap slots */
	size_t cap, n, max;
	uint32_t *order;              /* owned: slot indexes in insertion order, max of them */
};

/* The values one row adds. */
struct rollup_add {
	uint64_t count, pos, neg;
	uint32_t authors;
	double sent_sum;
};

/* period_ms > 0, max >= 1. Returns 0 or -ENOMEM. */
int rollup_init(struct rollup *r, int64_t period_ms, size_t max);
void rollup_destroy(struct rollup *r);
void rollup_clear(struct rollup *r);
/* The start of the period holding t_ms (floor, also before 1970). */
int64_t rollup_floor(int64_t t_ms, int64_t period_ms);

/*
 * Adds v into (key, period of t_ms). Returns 0, -ENOSPC when the entry is
 * new and `max` entries are held (flush first), or -ENOMEM.
 */
int rollup_add(struct rollup *r, int64_t key, uint8_t kind, int64_t t_ms,
	       const struct rollup_add *v);

/*
 * Upserts every entry whose period starts at or after keep_from_ms (older
 * ones are past retention and only dropped) and clears the rollup.
 * `st` is a ROLLUP_ADD statement (term_id, period, kind, count, authors,
 * sent_sum, pos, neg) for terms, or a VOLUME_ADD statement (period, posts,
 * pos, neg, sent_sum) when volume is true. Adds the rows written to *rows.
 * Returns an SQLite result code; on failure the rollup is left as it was.
 */
int rollup_flush(struct rollup *r, sqlite3_stmt *st, bool volume, int64_t keep_from_ms,
		 uint64_t *rows);

#endif
