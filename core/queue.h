/*
 * queue.h - bounded multi-producer, multi-consumer queue of pointers.
 *
 * Used for the post queue (ingest/web -> analytics) and the db queue
 * (analytics/web -> db writer). A full queue makes producers wait (or fail
 * with -EAGAIN for queue_try_push); nothing is dropped. Consumers take items
 * in batches so the lock is taken once per batch, not once per item.
 *
 * queue_close() wakes every waiter: pushes then fail with -EPIPE and pops drain
 * what is left and then return 0.
 *
 * queue_wake() makes a consumer's queue_pop_batch() return at once (with 0
 * items if there are none) - the one waiting now, or else the next one: a wake
 * is kept until a pop takes it, so one that comes while the consumer is busy
 * elsewhere is not lost. A consumer that also serves another queue without a
 * wait of its own - analytics waits for posts and answers live questions in
 * between - is woken for the other queue's item this way.
 */
#ifndef TRENDD_QUEUE_H
#define TRENDD_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	void **items;         /* owned ring of cap slots */
	size_t cap, head, len;
	bool closed;
	uint64_t pushed;      /* total items ever pushed */
	uint64_t waits;       /* times a producer had to wait for room */
	uint64_t wakes;       /* queue_wake() calls */
	uint64_t wakes_seen;  /* wakes when a pop last returned for one */
};

int queue_init(struct queue *q, size_t cap);
void queue_destroy(struct queue *q);   /* the queue must be empty or its items leaked */

/* Waits up to timeout_ms (-1 forever) for room. 0, -EAGAIN on timeout, -EPIPE if closed. */
int queue_push(struct queue *q, void *item, int timeout_ms);
int queue_try_push(struct queue *q, void *item);

/*
 * Takes up to max items into out, waiting up to timeout_ms (-1 forever, 0 not
 * at all) for the first one. Returns the number taken; 0 on timeout or when
 * closed and empty.
 */
size_t queue_pop_batch(struct queue *q, void **out, size_t max, int timeout_ms);

void queue_close(struct queue *q);
void queue_wake(struct queue *q);
size_t queue_depth(struct queue *q);
bool queue_is_closed(struct queue *q);

#endif
