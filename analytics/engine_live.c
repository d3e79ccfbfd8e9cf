/*
 * engine_live.c - the analytics thread's answers to live requests
 * (core/live.h): what the database does not have yet, from the open minutes
 * of the global windows and the rows of the next checkpoint - a term's
 * minutes, the top terms, the volume - and a term's detail (co-occurring
 * terms, example posts) from the recent-post ring. The engine's inside is
 * in analytics/engine_impl.h.
 */
#include "analytics/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/engine_impl.h"
#include "analytics/window.h"
#include "core/live.h"
#include "core/term.h"

/* ---- live answers ---- */

struct live_ctx {
	struct engine *e;
	struct live_req *r;
	struct row_batch top;         /* LIVE_TOP: rows by (kind, epoch class, term) */
	int rc;
};

static bool kind_matches(int want, uint8_t kind) { return want == TERM_KIND_ALL || want == kind; }

static int live_open_minute(void *ctx, int64_t minute_ms, const struct window_minute_row *rows,
			    size_t n, const struct window_minute_volume *v)
{
	struct live_ctx *lc = ctx;
	struct live_req *r = lc->r;
	if (r->op == LIVE_VOLUME) {
		if (v->posts == 0)
			return 0;
		struct live_row row = { .minute_ms = minute_ms, .epoch = UINT64_MAX,
					.count = (uint32_t)v->posts, .pos = (uint32_t)v->pos,
					.neg = (uint32_t)v->neg, .sent_sum = v->sent_sum };
		return live_add_row(r, &row);
	}
	for (size_t i = 0; i < n; i++) {
		const struct window_minute_row *w = &rows[i];
		if (r->op == LIVE_TERM) {
			struct live_row row = { .minute_ms = minute_ms, .epoch = UINT64_MAX,
						.count = w->count, .authors = w->authors,
						.pos = w->pos, .neg = w->neg, .sent_sum = w->sent_sum };
			if (r->nrows >= ENGINE_MAX_LIVE_ROWS)
				return -E2BIG;
			int rc = live_add_row(r, &row);
			if (rc < 0)
				return rc;
		} else if (kind_matches(r->kind, w->kind) &&
			   row_batch_add(&lc->top, w->term, w->term_len, w->kind, 1, w->count,
				     w->authors, w->pos, w->neg, w->sent_sum) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

struct top_run {
	size_t first, n;              /* rows of one term in the sorted top batch */
	uint64_t count;
};

static const struct row_batch *g_top_sort; /* qsort has no context; analytics thread only */

static int cmp_top_rows(const void *x, const void *y)
{
	const struct term_minute_row *a = &g_top_sort->rows[*(const uint32_t *)x];
	const struct term_minute_row *b = &g_top_sort->rows[*(const uint32_t *)y];
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	size_t n = a->term_len < b->term_len ? a->term_len : b->term_len;
	int c = memcmp(g_top_sort->pool + (uintptr_t)a->term, g_top_sort->pool + (uintptr_t)b->term, n);
	if (c)
		return c;
	return (a->term_len > b->term_len) - (a->term_len < b->term_len);
}

static int cmp_runs(const void *x, const void *y)
{
	const struct top_run *a = x, *b = y;
	return a->count < b->count ? 1 : a->count > b->count ? -1 : 0;
}

/* LIVE_TOP: the limit terms with the most posts, each with a row per epoch class. */
static int live_top_emit(struct live_ctx *lc)
{
	struct row_batch *t = &lc->top;
	struct live_req *r = lc->r;
	uint32_t *order = malloc((t->n ? t->n : 1) * sizeof *order);
	struct top_run *runs = malloc((t->n ? t->n : 1) * sizeof *runs);
	size_t nruns = 0;
	int rc = -ENOMEM;

	if (!order || !runs)
		goto out;
	for (size_t i = 0; i < t->n; i++)
		order[i] = (uint32_t)i;
	g_top_sort = t;
	qsort(order, t->n, sizeof *order, cmp_top_rows);
	for (size_t i = 0; i < t->n; i++) {
		if (i == 0 || cmp_top_rows(&order[i - 1], &order[i]) != 0)
			runs[nruns++] = (struct top_run){ i, 0, 0 };
		runs[nruns - 1].n++;
		runs[nruns - 1].count += t->rows[order[i]].count;
	}
	qsort(runs, nruns, sizeof *runs, cmp_runs);
	if (r->limit && nruns > r->limit)
		nruns = r->limit;
	rc = 0;
	for (size_t k = 0; k < nruns && rc == 0; k++)
		for (size_t i = runs[k].first; i < runs[k].first + runs[k].n && rc == 0; i++) {
			const struct term_minute_row *w = &t->rows[order[i]];
			/* the minute field held the epoch class: 1 open, 2 pending */
			struct live_row row = {
				.minute_ms = r->from_ms,
				.epoch = w->minute_ms == 1 ? UINT64_MAX : lc->e->epoch_sent + 1,
				.count = w->count, .authors = w->authors, .pos = w->pos,
				.neg = w->neg, .sent_sum = w->sent_sum,
				.term = t->pool + (uintptr_t)w->term, .term_len = w->term_len,
				.kind = w->kind,
			};
			rc = live_add_row(r, &row);
		}
out:
	free(order);
	free(runs);
	return rc;
}

/* ---- LIVE_TERM_DETAIL: co-occurring terms and example posts ---- */

/* A term seen with the asked one: count of shared posts; count 0 = empty slot. */
struct cooc {
	uint64_t hash;
	const char *text;             /* borrowed from the ring */
	uint32_t count;
	uint8_t len, kind;
};

struct cooc_table {
	struct cooc *slots;           /* owned */
	size_t cap, n;                /* cap: a power of two, 0 before the first term */
};

/* The bytes of a post's record after its hashes: id, url, author, text, terms. */
static const char *recent_bytes(const struct recent_post *rp)
{
	return (const char *)(rp->rec + rp->nterms);
}

static const char *recent_terms(const struct recent_post *rp)
{
	return recent_bytes(rp) + rp->id_len + rp->url_len + rp->author_len + rp->text_len;
}

static int cooc_grow(struct cooc_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct cooc *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].count)
			continue;
		size_t j = t->slots[i].hash & (cap - 1);
		while (slots[j].count)
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/*
 * Counts one post for a term. Past ENGINE_DETAIL_SCAN_TERMS distinct terms
 * a new one is not tracked (the scan goes newest first, so what is left out
 * is the rare terms of the oldest posts). 0 or -ENOMEM.
 */
static int cooc_add(struct cooc_table *t, uint64_t h, const char *text, uint8_t len, uint8_t kind)
{
	if ((t->n + 1) * 2 > t->cap) {
		if (t->cap >= 2 * (size_t)ENGINE_DETAIL_SCAN_TERMS) {
			for (size_t j = h & (t->cap - 1); t->slots[j].count; j = (j + 1) & (t->cap - 1))
				if (t->slots[j].hash == h) {
					t->slots[j].count++;
					return 0;
				}
			return 0;
		}
		if (cooc_grow(t) < 0)
			return -ENOMEM;
	}
	size_t j = h & (t->cap - 1);
	for (; t->slots[j].count; j = (j + 1) & (t->cap - 1))
		if (t->slots[j].hash == h) {
			t->slots[j].count++;
			return 0;
		}
	t->slots[j] = (struct cooc){ .hash = h, .text = text, .count = 1, .len = len, .kind = kind };
	t->n++;
	return 0;
}

/* Most shared posts first; ties by kind, then term bytes: one order for one ring. */
static int cmp_cooc(const void *x, const void *y)
{
	const struct cooc *a = x, *b = y;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	int c = memcmp(a->text, b->text, a->len < b->len ? a->len : b->len);
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* Index of the asked term among rp's terms (hash, then bytes), or -1. */
static int recent_find(const struct recent_post *rp, uint64_t h, const struct live_req *r)
{
	const char *c = recent_terms(rp);
	for (size_t j = 0; j < rp->nterms; j++) {
		uint8_t kind = (uint8_t)c[0], len = (uint8_t)c[1];
		if (rp->rec[j] == h)
			return kind == r->kind && len == r->term_len &&
			       memcmp(c + 2, r->term, len) == 0 ? (int)j : -1;
		c += 2 + len;
	}
	return -1;
}

/*
 * Scans the ring newest first for the posts with (r->kind, r->term): counts
 * every other term of those posts, keeps the newest r->examples of them by
 * event time, and answers with the r->limit terms of most shared posts.
 */
static int live_term_detail(struct engine *e, struct live_req *r)
{
	const struct recent_post *ex[ENGINE_DETAIL_POSTS_MAX];
	size_t nex = 0, want_ex = r->examples, want_terms = r->limit;
	struct cooc_table t = { 0 };
	struct cooc *top = NULL;
	uint64_t h = term_hash((uint8_t)r->kind, r->term, r->term_len);
	int rc = 0;

	if (want_ex > ENGINE_DETAIL_POSTS_MAX)
		want_ex = ENGINE_DETAIL_POSTS_MAX;
	if (want_terms > ENGINE_DETAIL_TERMS_MAX)
		want_terms = ENGINE_DETAIL_TERMS_MAX;
	r->scanned = e->recent_n;
	for (size_t k = 0; k < e->recent_cap && rc == 0; k++) {
		const struct recent_post *rp =
			&e->recent[(e->recent_next + e->recent_cap - 1 - k) % e->recent_cap];
		int at;
		if (!rp->rec || (at = recent_find(rp, h, r)) < 0)
			continue;
		r->matched++;
		/* newest event time first; of equal times the later arrival (seen first) */
		size_t pos = nex;
		while (pos > 0 && ex[pos - 1]->event_ms < rp->event_ms)
			pos--;
		if (pos < want_ex) {
			size_t last = nex < want_ex ? nex : want_ex - 1;
			memmove(&ex[pos + 1], &ex[pos], (last - pos) * sizeof *ex);
			ex[pos] = rp;
			if (nex < want_ex)
				nex++;
		}
		const char *c = recent_terms(rp);
		for (size_t j = 0; j < rp->nterms && rc == 0; j++) {
			uint8_t kind = (uint8_t)c[0], len = (uint8_t)c[1];
			if ((int)j != at)
				rc = cooc_add(&t, rp->rec[j], c + 2, len, kind);
			c += 2 + len;
		}
	}
	if (rc < 0)
		goto out;
	if (t.n && !(top = malloc(t.n * sizeof *top))) {
		rc = -ENOMEM;
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < t.cap; i++)
		if (t.slots[i].count)
			top[n++] = t.slots[i];
	if (n)
		qsort(top, n, sizeof *top, cmp_cooc);
	for (size_t i = 0; i < n && i < want_terms && rc == 0; i++) {
		struct live_row row = { .count = top[i].count, .term = top[i].text,
					.term_len = top[i].len, .kind = top[i].kind };
		rc = live_add_row(r, &row);
	}
	for (size_t i = 0; i < nex && rc == 0; i++) {
		const struct recent_post *rp = ex[i];
		const char *c = recent_bytes(rp);
		struct live_post lp = {
			.source_id = rp->source_id, .time_ms = rp->event_ms,
			.sentiment = rp->compound, .truncated = rp->truncated,
			.id = c, .id_len = rp->id_len,
			.url = c + rp->id_len, .url_len = rp->url_len,
			.author = c + rp->id_len + rp->url_len, .author_len = rp->author_len,
			.text = c + rp->id_len + rp->url_len + rp->author_len,
			.text_len = rp->text_len,
		};
		rc = live_add_post(r, &lp);
	}
out:
	free(top);
	free(t.slots);
	return rc;
}

void engine_live_answer(struct engine *e, struct live_req *r)
{
	struct live_ctx lc = { .e = e, .r = r };
	const struct term_minute_row *pr = e->pending.rows;
	int rc = 0;

	r->checkpoint_epoch = e->epoch_sent;
	if ((r->op == LIVE_TERM || r->op == LIVE_TERM_DETAIL) &&
	    (r->term_len == 0 || r->term_len >= sizeof r->term || r->kind < 0 ||
	     r->kind >= TERM_KIND_COUNT)) {
		rc = -EINVAL;
		goto out;
	}
	if (r->op == LIVE_TERM_DETAIL) {
		rc = live_term_detail(e, r);
		goto out;
	}
	rc = window_open_minutes(e->win, r->from_ms, r->to_ms, r->kind,
				 r->op == LIVE_TERM ? r->term : NULL, r->term_len,
				 live_open_minute, &lc);
	if (r->op == LIVE_VOLUME) {
		for (size_t i = 0; i < e->volume.n && rc == 0; i++) {
			const struct volume_minute_row *v = &e->volume.rows[i];
			if (v->minute_ms < r->from_ms || v->minute_ms >= r->to_ms)
				continue;
			struct live_row row = { .minute_ms = v->minute_ms, .epoch = e->epoch_sent + 1,
						.count = v->posts, .pos = v->pos, .neg = v->neg,
						.sent_sum = v->sent_sum };
			rc = live_add_row(r, &row);
		}
		goto out;
	}
	for (size_t i = 0; i < e->pending.n && rc == 0; i++) {
		const struct term_minute_row *w = &pr[i];
		const char *term = e->pending.pool + (uintptr_t)w->term;
		if (w->minute_ms < r->from_ms || w->minute_ms >= r->to_ms)
			continue;
		if (r->op == LIVE_TERM) {
			if (w->kind != r->kind || w->term_len != r->term_len ||
			    memcmp(term, r->term, r->term_len) != 0)
				continue;
			struct live_row row = { .minute_ms = w->minute_ms, .epoch = e->epoch_sent + 1,
						.count = w->count, .authors = w->authors,
						.pos = w->pos, .neg = w->neg, .sent_sum = w->sent_sum };
			rc = live_add_row(r, &row);
		} else if (kind_matches(r->kind, w->kind)) {
			rc = row_batch_add(&lc.top, term, w->term_len, w->kind, 2, w->count, w->authors,
				       w->pos, w->neg, w->sent_sum);
		}
	}
	if (rc == 0 && r->op == LIVE_TOP)
		rc = live_top_emit(&lc);
out:
	row_batch_free(&lc.top);
	r->rc = rc;
	live_answer(r);
}

