#include "core/live.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bus.h"

struct live_req *live_req_new(enum live_op op)
{
	struct live_req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->op = op;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

void live_req_free(struct live_req *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->pool);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r);
}

int live_ask(struct bus *bus, struct live_req *r, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	if (queue_push(&bus->live, r, timeout_ms) < 0)
		return -EPIPE;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->mu);
	while (!r->answered && rc == 0)
		rc = pthread_cond_timedwait(&r->cond, &r->mu, &ts);
	if (!r->answered) {
		r->abandoned = true;
		pthread_mutex_unlock(&r->mu);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void live_answer(struct live_req *r)
{
	/* rows kept pool offsets while the pool could still move */
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].term_len)
			r->rows[i].term = r->pool + (uintptr_t)r->rows[i].term;
	pthread_mutex_lock(&r->mu);
	bool abandoned = r->abandoned;
	r->answered = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	if (abandoned)
		live_req_free(r);
}

int live_add_row(struct live_req *r, const struct live_row *row)
{
	if (r->nrows == r->rows_cap) {
		size_t cap = r->rows_cap ? r->rows_cap * 2 : 64;
		struct live_row *nr = realloc(r->rows, cap * sizeof *nr);
		if (!nr)
			return -ENOMEM;
		r->rows = nr;
		r->rows_cap = cap;
	}
	struct live_row *dst = &r->rows[r->nrows];
	*dst = *row;
	if (row->term_len) {
		if (r->pool_len + row->term_len + 1 > r->pool_cap) {
			size_t cap = r->pool_cap ? r->pool_cap * 2 : 4096;
			while (cap < r->pool_len + row->term_len + 1)
				cap *= 2;
			char *np = realloc(r->pool, cap);
			if (!np)
				return -ENOMEM;
			r->pool = np;
			r->pool_cap = cap;
		}
		memcpy(r->pool + r->pool_len, row->term, row->term_len);
		r->pool[r->pool_len + row->term_len] = 0;
		dst->term = (const char *)(uintptr_t)r->pool_len; /* fixed up in live_answer */
		r->pool_len += row->term_len + 1;
	} else {
		dst->term = NULL;
	}
	r->nrows++;
	return 0;
}
