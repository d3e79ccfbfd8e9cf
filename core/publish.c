#include "core/publish.h"

void publish_init(struct publish_slot *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->cur = NULL;
	atomic_init(&s->version, 0);
}

void publish_destroy(struct publish_slot *s)
{
	ref_put(s->cur);
	s->cur = NULL;
	pthread_mutex_destroy(&s->mu);
}

void publish_set(struct publish_slot *s, struct ref *r)
{
	struct ref *old;

	pthread_mutex_lock(&s->mu);
	old = s->cur;
	s->cur = r;
	atomic_fetch_add(&s->version, 1);
	pthread_mutex_unlock(&s->mu);
	ref_put(old);
}

struct ref *publish_get(struct publish_slot *s)
{
	struct ref *r;

	pthread_mutex_lock(&s->mu);
	r = s->cur;
	if (r)
		ref_get(r);
	pthread_mutex_unlock(&s->mu);
	return r;
}

uint64_t publish_version(struct publish_slot *s) { return atomic_load(&s->version); }

#include <stdlib.h>
#include <string.h>

static void blob_destroy(struct ref *r) { free(r); }

struct blob *blob_new(const char *data, size_t len)
{
	struct blob *b = malloc(sizeof *b + len + 1);
	if (!b)
		return NULL;
	ref_init(&b->ref, blob_destroy);
	b->len = len;
	memcpy(b->data, data, len);
	b->data[len] = 0;
	return b;
}

struct blob *blob_take(char *data, size_t len)
{
	struct blob *b = blob_new(data, len);
	free(data);
	return b;
}
