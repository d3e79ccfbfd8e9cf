#include "db/rollup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

int64_t rollup_floor(int64_t t_ms, int64_t period_ms)
{
	int64_t r = t_ms % period_ms;
	return t_ms - (r < 0 ? r + period_ms : r);
}

int rollup_init(struct rollup *r, int64_t period_ms, size_t max)
{
	memset(r, 0, sizeof *r);
	if (max == 0)
		max = 1;
	r->period_ms = period_ms;
	r->max = max;
	r->cap = 64;
	r->slots = calloc(r->cap, sizeof *r->slots);
	r->order = malloc(max * sizeof *r->order);
	if (!r->slots || !r->order) {
		rollup_destroy(r);
		return -ENOMEM;
	}
	return 0;
}

void rollup_destroy(struct rollup *r)
{
	free(r->slots);
	free(r->order);
	memset(r, 0, sizeof *r);
}

void rollup_clear(struct rollup *r)
{
	for (size_t i = 0; i < r->n; i++)
		r->slots[r->order[i]].used = false;
	r->n = 0;
}

static size_t slot_of(const struct rollup *r, int64_t key, int64_t period_ms)
{
	uint64_t h = hash_u64((uint64_t)key ^ hash_u64((uint64_t)period_ms));
	size_t mask = r->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct rollup_entry *e = &r->slots[i];
		if (!e->used || (e->key == key && e->period_ms == period_ms))
			return i;
	}
}

/* Doubles the table; the insertion order is kept (order[] is rewritten). */
static int grow(struct rollup *r)
{
	size_t ncap = r->cap * 2;
	struct rollup_entry *old = r->slots;
	struct rollup_entry *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -ENOMEM;
	r->slots = ns;
	r->cap = ncap;
	for (size_t i = 0; i < r->n; i++) {
		const struct rollup_entry *e = &old[r->order[i]];
		size_t j = slot_of(r, e->key, e->period_ms);
		r->slots[j] = *e;
		r->order[i] = (uint32_t)j;
	}
	free(old);
	return 0;
}

int rollup_add(struct rollup *r, int64_t key, uint8_t kind, int64_t t_ms,
	       const struct rollup_add *v)
{
	int64_t p = rollup_floor(t_ms, r->period_ms);
	size_t i = slot_of(r, key, p);
	struct rollup_entry *e = &r->slots[i];

	if (!e->used) {
		if (r->n >= r->max)
			return -ENOSPC;
		if ((r->n + 1) * 2 > r->cap) {
			if (grow(r) < 0)
				return -ENOMEM;
			i = slot_of(r, key, p);
			e = &r->slots[i];
		}
		memset(e, 0, sizeof *e);
		e->used = true;
		e->key = key;
		e->period_ms = p;
		e->kind = kind;
		r->order[r->n++] = (uint32_t)i;
	}
	e->count += v->count;
	e->pos += v->pos;
	e->neg += v->neg;
	e->sent_sum += v->sent_sum;
	if (v->authors > e->authors)
		e->authors = v->authors;
	return 0;
}

static int64_t clamp(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (int64_t)v; }

static int order_cmp(const void *a, const void *b, void *ctx)
{
	const struct rollup_entry *s = ctx;
	const struct rollup_entry *x = &s[*(const uint32_t *)a], *y = &s[*(const uint32_t *)b];
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->period_ms > y->period_ms) - (x->period_ms < y->period_ms);
}

int rollup_flush(struct rollup *r, sqlite3_stmt *st, bool volume, int64_t keep_from_ms,
		 uint64_t *rows)
{
	uint64_t written = 0;

	/* in key order: consecutive upserts walk the table's B-tree left to right */
	qsort_r(r->order, r->n, sizeof *r->order, order_cmp, r->slots);

	for (size_t i = 0; i < r->n; i++) {
		const struct rollup_entry *e = &r->slots[r->order[i]];
		int rc;
		if (e->period_ms < keep_from_ms)
			continue;
		if (volume) {
			sqlite3_bind_int64(st, 1, e->period_ms);
			sqlite3_bind_int64(st, 2, clamp(e->count));
			sqlite3_bind_int64(st, 3, clamp(e->pos));
			sqlite3_bind_int64(st, 4, clamp(e->neg));
			sqlite3_bind_double(st, 5, e->sent_sum);
		} else {
			sqlite3_bind_int64(st, 1, e->key);
			sqlite3_bind_int64(st, 2, e->period_ms);
			sqlite3_bind_int(st, 3, e->kind);
			sqlite3_bind_int64(st, 4, clamp(e->count));
			sqlite3_bind_int64(st, 5, e->authors);
			sqlite3_bind_double(st, 6, e->sent_sum);
			sqlite3_bind_int64(st, 7, clamp(e->pos));
			sqlite3_bind_int64(st, 8, clamp(e->neg));
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			sqlite3_clear_bindings(st);
			return rc;
		}
		written++;
	}
	sqlite3_clear_bindings(st);
	*rows += written;
	rollup_clear(r);
	return SQLITE_OK;
}
