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
	free(r->posts);
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
	/* Analytics waits on the post queue: wake it for the question. */
	queue_wake(&bus->posts);
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

int live_submit(struct bus *bus, struct live_req *r)
{
	if (!r->done)
		return -EINVAL;
	int rc = queue_try_push(&bus->live, r);
	if (rc == 0)
		queue_wake(&bus->posts);
	return rc == -EAGAIN ? -EAGAIN : rc < 0 ? -EPIPE : 0;
}

static const char *pool_at(const struct live_req *r, const char *off, uint32_t len)
{
	return len ? r->pool + (uintptr_t)off : "";
}

void live_answer(struct live_req *r)
{
	/* rows and posts kept pool offsets while the pool could still move */
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].term_len)
			r->rows[i].term = pool_at(r, r->rows[i].term, r->rows[i].term_len);
	for (size_t i = 0; i < r->nposts; i++) {
		struct live_post *p = &r->posts[i];
		p->id = pool_at(r, p->id, p->id_len);
		p->url = pool_at(r, p->url, p->url_len);
		p->author = pool_at(r, p->author, p->author_len);
		p->text = pool_at(r, p->text, p->text_len);
	}
	if (r->done) {
		r->answered = true;
		r->done(r, r->done_ctx); /* r is the callback's now */
		return;
	}
	pthread_mutex_lock(&r->mu);
	bool abandoned = r->abandoned;
	r->answered = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	if (abandoned)
		live_req_free(r);
}

/* Copies s[0..len) and a NUL into the pool; *off is its offset. 0 or -ENOMEM. */
static int pool_put(struct live_req *r, const char *s, size_t len, size_t *off)
{
	if (r->pool_len + len + 1 > r->pool_cap) {
		size_t cap = r->pool_cap ? r->pool_cap * 2 : 4096;
		while (cap < r->pool_len + len + 1)
			cap *= 2;
		char *np = realloc(r->pool, cap);
		if (!np)
			return -ENOMEM;
		r->pool = np;
		r->pool_cap = cap;
	}
	memcpy(r->pool + r->pool_len, s, len);
	r->pool[r->pool_len + len] = 0;
	*off = r->pool_len;
	r->pool_len += len + 1;
	return 0;
}

int live_add_post(struct live_req *r, const struct live_post *p)
{
	size_t off[4];
	if (r->nposts == r->posts_cap) {
		size_t cap = r->posts_cap ? r->posts_cap * 2 : 8;
		struct live_post *np = realloc(r->posts, cap * sizeof *np);
		if (!np)
			return -ENOMEM;
		r->posts = np;
		r->posts_cap = cap;
	}
	if (pool_put(r, p->id, p->id_len, &off[0]) < 0 ||
	    pool_put(r, p->url, p->url_len, &off[1]) < 0 ||
	    pool_put(r, p->author, p->author_len, &off[2]) < 0 ||
	    pool_put(r, p->text, p->text_len, &off[3]) < 0)
		return -ENOMEM;
	struct live_post *dst = &r->posts[r->nposts++];
	*dst = *p;
	/* offsets until live_answer */
	dst->id = (const char *)(uintptr_t)off[0];
	dst->url = (const char *)(uintptr_t)off[1];
	dst->author = (const char *)(uintptr_t)off[2];
	dst->text = (const char *)(uintptr_t)off[3];
	return 0;
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
		size_t off;
		if (pool_put(r, row->term, row->term_len, &off) < 0)
			return -ENOMEM;
		dst->term = (const char *)(uintptr_t)off; /* fixed up in live_answer */
	} else {
		dst->term = NULL;
	}
	r->nrows++;
	return 0;
}
