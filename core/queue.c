#include "core/queue.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int queue_init(struct queue *q, size_t cap)
{
	pthread_condattr_t ca;

	q->items = calloc(cap, sizeof *q->items);
	if (!q->items)
		return -ENOMEM;
	q->cap = cap;
	q->head = q->len = 0;
	q->closed = false;
	q->pushed = q->waits = q->wakes = q->wakes_seen = 0;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->not_empty, &ca);
	pthread_cond_init(&q->not_full, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void queue_destroy(struct queue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q->items);
	q->items = NULL;
}

static void deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/*
 * Waits on cond while the queue is full (want_room) or empty (!want_room).
 * Returns 0 when the condition cleared, the queue closed or (waiting for an
 * item) a queue_wake() not taken yet is there, which it takes; -EAGAIN on
 * timeout. q->mu is held.
 */
static int wait_for(struct queue *q, pthread_cond_t *cond, bool want_room, int timeout_ms)
{
	struct timespec ts;

	if (timeout_ms > 0)
		deadline(&ts, timeout_ms);
	for (;;) {
		bool blocked = want_room ? q->len == q->cap : q->len == 0;
		if (!want_room && q->wakes != q->wakes_seen) {
			q->wakes_seen = q->wakes;
			return 0;
		}
		if (!blocked || q->closed)
			return 0;
		if (timeout_ms == 0)
			return -EAGAIN;
		if (timeout_ms < 0)
			pthread_cond_wait(cond, &q->mu);
		else if (pthread_cond_timedwait(cond, &q->mu, &ts) == ETIMEDOUT)
			timeout_ms = 0; /* one last look at the condition */
	}
}

int queue_push(struct queue *q, void *item, int timeout_ms)
{
	int rc;

	pthread_mutex_lock(&q->mu);
	if (q->len == q->cap && !q->closed)
		q->waits++;
	rc = wait_for(q, &q->not_full, true, timeout_ms);
	if (q->closed) {
		rc = -EPIPE;
	} else if (rc == 0) {
		q->items[(q->head + q->len) % q->cap] = item;
		q->len++;
		q->pushed++;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int queue_try_push(struct queue *q, void *item) { return queue_push(q, item, 0); }

size_t queue_pop_batch(struct queue *q, void **out, size_t max, int timeout_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&q->mu);
	(void)wait_for(q, &q->not_empty, false, timeout_ms);
	while (n < max && q->len > 0) {
		out[n++] = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	if (n > 0)
		pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
	return n;
}

void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

void queue_wake(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->wakes++;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

size_t queue_depth(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

bool queue_is_closed(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	bool c = q->closed;
	pthread_mutex_unlock(&q->mu);
	return c;
}
