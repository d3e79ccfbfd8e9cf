#include "db/term_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

struct term_cache_chunk {
	struct term_cache_chunk *next;
	size_t used, cap;
	char data[];
};

#define CHUNK_BYTES (64 * 1024)

static uint64_t key_hash(uint8_t kind, const char *term, uint32_t len)
{
	return hash_bytes_seed(term, len, hash_u64(0x7465726d00ull + kind));
}

int term_cache_init(struct term_cache *c, size_t max)
{
	size_t cap = 16;

	memset(c, 0, sizeof *c);
	if (max == 0)
		max = 1;
	while (cap < max * 2)
		cap *= 2;
	c->slots = calloc(cap, sizeof *c->slots);
	if (!c->slots)
		return -ENOMEM;
	c->cap = cap;
	c->max = max;
	return 0;
}

static void pool_free(struct term_cache *c)
{
	struct term_cache_chunk *k = c->pool;
	while (k) {
		struct term_cache_chunk *next = k->next;
		free(k);
		k = next;
	}
	c->pool = NULL;
}

void term_cache_destroy(struct term_cache *c)
{
	pool_free(c);
	free(c->slots);
	memset(c, 0, sizeof *c);
}

void term_cache_clear(struct term_cache *c)
{
	if (c->n == 0)
		return;
	memset(c->slots, 0, c->cap * sizeof *c->slots);
	pool_free(c);
	c->n = 0;
	c->clears++;
}

static char *pool_dup(struct term_cache *c, const char *s, uint32_t len)
{
	struct term_cache_chunk *k = c->pool;
	if (!k || k->cap - k->used < len) {
		size_t cap = len > CHUNK_BYTES ? len : CHUNK_BYTES;
		k = malloc(sizeof *k + cap);
		if (!k)
			return NULL;
		k->used = 0;
		k->cap = cap;
		k->next = c->pool;
		c->pool = k;
	}
	char *p = k->data + k->used;
	memcpy(p, s, len);
	k->used += len;
	return p;
}

/* The slot holding (kind, term), or the empty slot where it belongs. */
static struct term_cache_slot *find(struct term_cache *c, uint64_t h, uint8_t kind,
				    const char *term, uint32_t len)
{
	size_t mask = c->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct term_cache_slot *s = &c->slots[i];
		if (s->id == 0)
			return s;
		if (s->hash == h && s->kind == kind && s->len == len &&
		    memcmp(s->term, term, len) == 0)
			return s;
	}
}

int64_t term_cache_get(struct term_cache *c, uint8_t kind, const char *term, uint32_t len)
{
	struct term_cache_slot *s = find(c, key_hash(kind, term, len), kind, term, len);
	if (s->id)
		c->hits++;
	else
		c->misses++;
	return s->id;
}

int term_cache_put(struct term_cache *c, uint8_t kind, const char *term, uint32_t len,
		   int64_t id)
{
	uint64_t h = key_hash(kind, term, len);
	struct term_cache_slot *s;

	if (id <= 0)
		return -EINVAL;
	s = find(c, h, kind, term, len);
	if (s->id) {
		s->id = id;
		return 0;
	}
	if (c->n >= c->max) {
		term_cache_clear(c);
		s = find(c, h, kind, term, len);
	}
	const char *copy = pool_dup(c, term, len);
	if (!copy)
		return -ENOMEM;
	s->hash = h;
	s->id = id;
	s->term = copy;
	s->len = len;
	s->kind = kind;
	c->n++;
	return 0;
}
