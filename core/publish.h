/*
 * publish.h - reference-counted immutable objects and the slot that publishes
 * the newest one to other threads.
 *
 * A producer thread builds an object, then publish_set() swaps it into the
 * slot; readers take a reference with publish_get() and drop it with
 * ref_put(). The object is freed when the last reference goes, so a reader can
 * keep an old snapshot for as long as it needs while the producer moves on.
 *
 * The slot's mutex is held only for the pointer read plus the refcount
 * increment (a few nanoseconds, once per tick per reader): it closes the race
 * where a reader loads the pointer just before the producer drops the last
 * reference. Object contents are never locked: they do not change.
 */
#ifndef TRENDD_PUBLISH_H
#define TRENDD_PUBLISH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct ref {
	atomic_int count;
	void (*destroy)(struct ref *r);
};

static inline void ref_init(struct ref *r, void (*destroy)(struct ref *))
{
	atomic_init(&r->count, 1);
	r->destroy = destroy;
}

static inline void ref_get(struct ref *r) { atomic_fetch_add(&r->count, 1); }

static inline void ref_put(struct ref *r)
{
	if (r && atomic_fetch_sub(&r->count, 1) == 1)
		r->destroy(r);
}

struct publish_slot {
	pthread_mutex_t mu;
	struct ref *cur;     /* owned: one reference */
	atomic_uint_fast64_t version;
};

void publish_init(struct publish_slot *s);
void publish_destroy(struct publish_slot *s);
/* Publishes r, taking over the caller's reference; drops the previous object. */
void publish_set(struct publish_slot *s, struct ref *r);
/* Returns a new reference to the current object, or NULL when none. */
struct ref *publish_get(struct publish_slot *s);
/* Increases by one on every publish_set; cheap to poll. */
uint64_t publish_version(struct publish_slot *s);

#endif

#ifndef TRENDD_BLOB_DEFINED
#define TRENDD_BLOB_DEFINED
#include <stddef.h>
/*
 * blob - an immutable, reference-counted byte string (e.g. a rendered JSON
 * document) for publication through a publish_slot.
 */
struct blob {
	struct ref ref;
	size_t len;
	char data[];   /* len bytes plus a NUL */
};

/* Copies data; NULL when out of memory. */
struct blob *blob_new(const char *data, size_t len);
/* Takes over a malloc'd buffer of len bytes; frees it on failure. */
struct blob *blob_take(char *data, size_t len);
#endif
