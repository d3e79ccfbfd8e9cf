#include "core/snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct snapshot_chunk {
	struct snapshot_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define CHUNK_MIN (64 * 1024)

static void snapshot_destroy(struct ref *r)
{
	struct snapshot *s = (struct snapshot *)r;
	struct snapshot_chunk *c = s->arena;
	while (c) {
		struct snapshot_chunk *n = c->next;
		free(c);
		c = n;
	}
	free(s);
}

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	ref_init(&s->ref, snapshot_destroy);
	return s;
}

void *snapshot_alloc(struct snapshot *s, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	struct snapshot_chunk *c = s->arena;
	if (!c || c->cap - c->used < size) {
		size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = s->arena;
		s->arena = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *snapshot_strdup(struct snapshot *s, const char *str, size_t len)
{
	char *p = snapshot_alloc(s, len + 1);
	if (!p)
		return NULL;
	memcpy(p, str, len);
	p[len] = 0;
	return p;
}

/* A copy of n uint32_t from src in s's arena (NULL stays NULL); false when out of memory. */
static bool copy_u32(struct snapshot *s, uint32_t **dst, const uint32_t *src, size_t n)
{
	*dst = NULL;
	if (!src)
		return true;
	*dst = snapshot_alloc(s, (n ? n : 1) * sizeof **dst);
	if (!*dst)
		return false;
	memcpy(*dst, src, n * sizeof **dst);
	return true;
}

int snapshot_view_copy(struct snapshot *s, struct snapshot_view *dst,
		       const struct snapshot_view *src)
{
	*dst = *src;
	dst->trends = NULL;
	if (!copy_u32(s, &dst->volume_series, src->volume_series, src->series_points))
		return -ENOMEM;
	for (int so = 0; so < SORT_COUNT_; so++)
		for (int k = 0; k <= TERM_KIND_COUNT; k++)
			if (!copy_u32(s, &dst->rank[so][k].idx, src->rank[so][k].idx,
				      src->rank[so][k].n))
				return -ENOMEM;
	if (!src->trends)
		return 0;
	dst->trends = snapshot_alloc(s, (src->ntrends ? src->ntrends : 1) * sizeof *dst->trends);
	if (!dst->trends)
		return -ENOMEM;
	for (uint32_t i = 0; i < src->ntrends; i++) {
		const struct trend *a = &src->trends[i];
		struct trend *b = &dst->trends[i];
		*b = *a;
		b->term = a->term ? snapshot_strdup(s, a->term, a->term_len) : NULL;
		if ((a->term && !b->term) ||
		    !copy_u32(s, &b->series, a->series, src->series_points))
			return -ENOMEM;
	}
	return 0;
}

const struct snapshot_view *snapshot_find_view(const struct snapshot *s, int window,
					       const char *lang, int64_t source_id)
{
	char key[16];
	term_lang_key(lang, key, sizeof key);
	if (lang && lang[0] && !key[0])
		return NULL; /* not a language code: no view */
	for (size_t i = 0; i < s->nviews; i++) {
		const struct snapshot_view *v = &s->views[i];
		if (v->window == window && v->source_id == source_id && strcmp(v->lang, key) == 0)
			return v;
	}
	return NULL;
}

void snapshot_publish(struct publish_slot *slot, struct snapshot *s)
{
	publish_set(slot, &s->ref);
}

struct snapshot *snapshot_acquire(struct publish_slot *slot)
{
	return (struct snapshot *)publish_get(slot);
}
