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
	uint64_t *id;
	char **bytes;
	size_t *len;
};

static int segs_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int segs_grow(struct segs *st)
{
	size_t cap = st->cap ? 2 * st->cap : 64;
	uint64_t *id = realloc(st->id, cap * sizeof *id);
	if (id)
		st->id = id;
	char **bytes = realloc(st->bytes, cap * sizeof *bytes);
	if (bytes)
		st->bytes = bytes;
	size_t *len = realloc(st->len, cap * sizeof *len);
	if (len)
		st->len = len;
	if (!id || !bytes || !len)
		return -1;
	st->cap = cap;
	return 0;
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
		if (len > out_len - at || (st->n && id <= st->id[st->n - 1])) /* never given twice */
			return -1;
		if (st->n == st->cap && segs_grow(st) < 0)
			return -1;
		if (!(st->bytes[st->n] = malloc(len ? len : 1)))
			return -1;
		memcpy(st->bytes[st->n], p + at, len);
		st->id[st->n] = id;
		st->len[st->n++] = len;
		at += len;
		added++;
	}
	uint64_t *ref = malloc((nrefs ? nrefs : 1) * sizeof *ref);
	if (!ref)
		return -1;
	if (nrefs)
		memcpy(ref, refs, nrefs * sizeof *ref);
	qsort(ref, nrefs, sizeof *ref, segs_cmp_u64);
	size_t kept = 0;
	for (size_t i = 0; i < st->n; i++) {
		if (!bsearch(&st->id[i], ref, nrefs, sizeof *ref, segs_cmp_u64)) {
			free(st->bytes[i]);
			continue;
		}
		st->id[kept] = st->id[i];
		st->bytes[kept] = st->bytes[i];
		st->len[kept++] = st->len[i];
	}
	st->n = kept;
	free(ref);
	return added;
}

static int segs_lookup(void *ctx, uint64_t id, const void **buf, size_t *len)
{
	const struct segs *st = ctx;
	uint64_t *hit = st->n ? bsearch(&id, st->id, st->n, sizeof id, segs_cmp_u64) : NULL;
	if (!hit)
		return -1;
	*buf = st->bytes[hit - st->id];
	*len = st->len[hit - st->id];
	return 0;
}

static void segs_free(struct segs *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->bytes[i]);
	free(st->id);
	free(st->bytes);
	free(st->len);
	memset(st, 0, sizeof *st);
}

#endif
