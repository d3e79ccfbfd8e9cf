/*
 * term_cache.h - the db writer's map from (kind, term) to terms.id, so a term
 * that appears every minute costs SQLite one lookup per run, not one per row.
 *
 * Owned by the db writer thread; not thread-safe. Open addressing with linear
 * probing over a power-of-two table kept at most half full; term bytes live
 * in a chunked pool owned by the cache. The cache holds at most `max` entries:
 * when it is full it is emptied and refills from the hot terms (cheaper and
 * simpler than tracking recency per entry, and rare: it takes `max` distinct
 * terms). The writer also empties it when a transaction rolls back, because
 * ids handed out inside that transaction no longer exist.
 */
#ifndef TRENDD_TERM_CACHE_H
#define TRENDD_TERM_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct term_cache_slot {
	uint64_t hash;
	int64_t id;              /* 0 = empty slot (SQLite rowids start at 1) */
	const char *term;        /* borrowed from the pool */
	uint32_t len;
	uint8_t kind;
};

struct term_cache_chunk;

struct term_cache {
	struct term_cache_slot *slots; /* owned; cap slots */
	size_t cap, n, max;
	struct term_cache_chunk *pool; /* owned */
	uint64_t hits, misses, clears;
};

/* max >= 1 entries. Returns 0 or -ENOMEM. */
int term_cache_init(struct term_cache *c, size_t max);
void term_cache_destroy(struct term_cache *c);
/* The id of (kind, term), or 0 when not cached. */
int64_t term_cache_get(struct term_cache *c, uint8_t kind, const char *term, uint32_t len);
/* Remembers id (> 0) for (kind, term), emptying the cache first when it is full. */
int term_cache_put(struct term_cache *c, uint8_t kind, const char *term, uint32_t len,
		   int64_t id);
void term_cache_clear(struct term_cache *c);

#endif
