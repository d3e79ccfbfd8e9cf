/*
 * segstore.h - segments of incremental checkpoints kept in memory as the
 * database keeps them (analytics/window.h; db/writer.c), for the tests and
 * fuzz targets: ascending ids, each with its bytes.
 *
 * segs_commit() takes in the new segments out[0..out_len) - each its id and
 * length, as uint64_t, then its bytes; ids must grow - then keeps only the
 * nrefs ids in refs (in any order), and returns the segments taken in, or -1
 * when out is malformed or out of memory. segs_lookup() is a
 * window_segment_fn over it (ctx: the struct segs).
 */
#ifndef TRENDD_TEST_SEGSTORE_H
#define TRENDD_TEST_SEGSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct segs {
	size_t n, cap;
	struct seg {
		uint64_t id;
		char *bytes;
		size_t len;
	} *v;
};

static int segs_cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static ssize_t segs_commit(struct segs *st, const void *out, size_t out_len, const uint64_t *refs,
			   size_t nrefs)
{
	const char *p = out;
	ssize_t added = 0;
	for (size_t at = 0; at < out_len;) {
		uint64_t id, len;
		if (out_len - at < 16)
			return -1;
		memcpy(&id, p + at, 8);
		memcpy(&len, p + at + 8, 8);
		at += 16;
		if (len > out_len - at || (st->n && id <= st->v[st->n - 1].id)) /* never given twice */
			return -1;
		if (st->n == st->cap) {
			size_t cap = st->cap ? 2 * st->cap : 64;
			struct seg *v = realloc(st->v, cap * sizeof *v);
			if (!v)
				return -1;
			st->v = v;
			st->cap = cap;
		}
		struct seg *g = &st->v[st->n];
		if (!(g->bytes = malloc(len ? len : 1)))
			return -1;
		memcpy(g->bytes, p + at, len);
		g->id = id;
		g->len = len;
		st->n++;
		at += len;
		added++;
	}
	uint64_t *ref = malloc((nrefs ? nrefs : 1) * sizeof *ref);
	if (!ref)
		return -1;
	if (nrefs)
		memcpy(ref, refs, nrefs * sizeof *ref);
	qsort(ref, nrefs, sizeof *ref, segs_cmp_id);
	size_t kept = 0;
	for (size_t i = 0; i < st->n; i++) {
		if (bsearch(&st->v[i].id, ref, nrefs, sizeof *ref, segs_cmp_id))
			st->v[kept++] = st->v[i];
		else
			free(st->v[i].bytes);
	}
	st->n = kept;
	free(ref);
	return added;
}

/* (the id is the first member of struct seg, so ids and segments compare alike) */
static int segs_lookup(void *ctx, uint64_t id, const void **buf, size_t *len)
{
	const struct segs *st = ctx;
	const struct seg *hit = st->n ? bsearch(&id, st->v, st->n, sizeof *st->v, segs_cmp_id) : NULL;
	if (!hit)
		return -1;
	*buf = hit->bytes;
	*len = hit->len;
	return 0;
}

static void segs_free(struct segs *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->v[i].bytes);
	free(st->v);
	memset(st, 0, sizeof *st);
}

#endif
