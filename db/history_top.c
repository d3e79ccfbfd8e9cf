/*
 * history_top.c - the most used terms of a range (GET /api/history/top), on
 * a reader thread (history_private.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/term.h"
#include "db/history_private.h"

#define TOP_K_MAX 65536 /* per-period list length at which the search stops growing */

/*
 * The range is cut into pieces served by one table each: whole days from
 * term_day, whole hours from term_hour, and the minutes at either end from
 * term_minute. Finding the top terms without summing every row of a long
 * range uses the threshold idea: each piece has a source, a list of terms by
 * count (a period of term_hour or term_day, read through its count index),
 * and a term missing from a source's first K entries has at most the K-th
 * count in that piece (a minute piece uses its enclosing hour, an upper bound
 * for it). The terms of every list are candidates and get their exact totals;
 * a term in no list has at most the sum of those K-th counts. When the
 * limit-th candidate beats that sum, the answer is exact; otherwise K grows.
 * The live part is one more source.
 */
struct piece {
	enum gran g;
	int64_t from, to;     /* rows of table g in [from, to) */
};

struct source {
	enum gran g;          /* G_HOUR or G_DAY */
	int64_t period;
	bool exact;           /* the period is a whole piece (not a bound for some minutes) */
};

struct plan {
	struct piece pieces[8];
	size_t npieces;
	struct source *src;   /* owned */
	size_t nsrc, cap_src;
};

static int plan_source(struct plan *pl, enum gran g, int64_t period, bool exact)
{
	if (pl->nsrc == pl->cap_src) {
		size_t cap = pl->cap_src ? pl->cap_src * 2 : 64;
		struct source *ns = realloc(pl->src, cap * sizeof *ns);
		if (!ns)
			return -ENOMEM;
		pl->src = ns;
		pl->cap_src = cap;
	}
	pl->src[pl->nsrc++] = (struct source){ g, period, exact };
	return 0;
}

static int plan_piece(struct plan *pl, enum gran g, int64_t from, int64_t to)
{
	if (from >= to)
		return 0;
	/* at most minutes, hours, days, hours, minutes */
	assert(pl->npieces < sizeof pl->pieces / sizeof pl->pieces[0]);
	pl->pieces[pl->npieces++] = (struct piece){ g, from, to };
	if (g == G_MINUTE)
		return plan_source(pl, G_HOUR, history_floor(from, HISTORY_HOUR_MS), false);
	for (int64_t t = from; t < to; t += gran_ms(g))
		if (plan_source(pl, g, t, true) < 0)
			return -ENOMEM;
	return 0;
}

/* [a, b) as whole hours and the minutes around them. */
static int plan_hours(struct plan *pl, int64_t a, int64_t b)
{
	int64_t h0 = history_ceil(a, HISTORY_HOUR_MS), h1 = history_floor(b, HISTORY_HOUR_MS);
	int rc;

	if (a >= b)
		return 0;
	if (h0 > h1) /* inside one hour */
		return plan_piece(pl, G_MINUTE, a, b);
	if ((rc = plan_piece(pl, G_MINUTE, a, h0)) < 0 || (rc = plan_piece(pl, G_HOUR, h0, h1)) < 0)
		return rc;
	return plan_piece(pl, G_MINUTE, h1, b);
}

static int plan_build(struct plan *pl, int64_t from, int64_t to)
{
	int64_t d0 = history_ceil(from, HISTORY_DAY_MS), d1 = history_floor(to, HISTORY_DAY_MS);
	int rc;

	memset(pl, 0, sizeof *pl);
	if (d0 > d1)
		return plan_hours(pl, from, to);
	if ((rc = plan_hours(pl, from, d0)) < 0 || (rc = plan_piece(pl, G_DAY, d0, d1)) < 0)
		return rc;
	return plan_hours(pl, d1, to);
}

/*
 * Widens [from, to) where the finer rows are past their retention: an end
 * whose minutes are gone moves to the hour, one whose hours are gone to the
 * day. The answer reports the range it covers.
 */
static void top_align(const struct history_pool *p, struct history_query *q)
{
	int64_t now = p->clock_ms();
	int64_t min_from = p->retain_minute_ms < 0 ? INT64_MIN : now - p->retain_minute_ms;
	int64_t hour_from = p->retain_hour_ms < 0 ? INT64_MIN : now - p->retain_hour_ms;

	if (q->from_ms < min_from)
		q->from_ms = history_floor(q->from_ms, HISTORY_HOUR_MS);
	if (q->from_ms < hour_from)
		q->from_ms = history_floor(q->from_ms, HISTORY_DAY_MS);
	if (history_floor(q->to_ms, HISTORY_HOUR_MS) < min_from)
		q->to_ms = history_ceil(q->to_ms, HISTORY_HOUR_MS);
	if (history_floor(q->to_ms, HISTORY_DAY_MS) < hour_from)
		q->to_ms = history_ceil(q->to_ms, HISTORY_DAY_MS);
}

/* One term of the live answer, summed over its rows newer than the epoch. */
struct live_term {
	int kind;
	const char *term;     /* borrowed from the live request */
	uint32_t len;
	struct acc tot;
};

struct cand {
	int64_t id;           /* terms.id; 0 = only live so far */
	int kind;
	char *term;           /* owned */
	size_t len;
	struct acc tot;       /* exact totals, once read */
	/* what the lists say before the totals are read */
	uint64_t lb;          /* counts from lists that are exact for their piece */
	uint64_t listed;      /* counts from every list it is in */
	uint64_t listed_kth;  /* the k-th counts of those lists */
};

/* One entry of a source's list: which candidate, with what count. */
struct listed {
	size_t cand;
	uint64_t count;
};

struct top {
	struct cand *c;       /* owned */
	size_t n, cap;
	int64_t *ids;         /* owned: open-addressing set of candidate ids -> index + 1 */
	size_t *idx;
	size_t ids_cap;
	struct live_term *live;   /* owned; sorted by (kind, term) */
	struct live_term *live_by_count; /* owned: the same, by count descending */
	size_t nlive;
	struct listed *rows;      /* owned: one source's list, while it is read */
	size_t nrows, cap_rows;
};

static int term_cmp(int ka, const char *a, size_t la, int kb, const char *b, size_t lb)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	int c = memcmp(a, b, la < lb ? la : lb);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static int live_term_cmp(const void *x, const void *y)
{
	const struct live_term *a = x, *b = y;
	return term_cmp(a->kind, a->term, a->len, b->kind, b->term, b->len);
}

static int live_count_cmp(const void *x, const void *y)
{
	const struct live_term *a = x, *b = y;
	if (a->tot.count != b->tot.count)
		return a->tot.count < b->tot.count ? 1 : -1;
	return live_term_cmp(a, b);
}

/* The live rows newer than epoch, one entry per term. */
static int top_live_build(struct top *t, const struct live_req *req, uint64_t epoch, int kind)
{
	size_t n = 0;

	if (!req || req->nrows == 0)
		return 0;
	if (!(t->live = calloc(req->nrows, sizeof *t->live)))
		return -ENOMEM;
	for (size_t i = 0; i < req->nrows; i++) {
		const struct live_row *row = &req->rows[i];
		if (row->epoch <= epoch || !row->term || row->term_len == 0 ||
		    row->kind >= TERM_KIND_COUNT || (kind != TERM_KIND_ALL && row->kind != kind))
			continue;
		struct live_term *lt = &t->live[n++];
		lt->kind = row->kind;
		lt->term = row->term;
		lt->len = row->term_len;
		acc_add(&lt->tot, row->count, row->authors, row->sent_sum, row->pos, row->neg);
	}
	if (n > 1)
		qsort(t->live, n, sizeof *t->live, live_term_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && live_term_cmp(&t->live[m - 1], &t->live[i]) == 0) {
			const struct acc *a = &t->live[i].tot;
			acc_add(&t->live[m - 1].tot, a->count, a->authors, a->sent, a->pos, a->neg);
		} else {
			t->live[m++] = t->live[i];
		}
	}
	t->nlive = m;
	if (!(t->live_by_count = malloc((m ? m : 1) * sizeof *t->live_by_count)))
		return -ENOMEM;
	memcpy(t->live_by_count, t->live, m * sizeof *t->live);
	if (m > 1)
		qsort(t->live_by_count, m, sizeof *t->live_by_count, live_count_cmp);
	return 0;
}

static const struct live_term *top_live_find(const struct top *t, int kind, const char *s,
					     size_t len)
{
	size_t lo = 0, hi = t->nlive;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct live_term *lt = &t->live[mid];
		int c = term_cmp(kind, s, len, lt->kind, lt->term, lt->len);
		if (c == 0)
			return lt;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void top_clear(struct top *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->c[i].term);
	t->n = 0;
	if (t->ids)
		memset(t->ids, 0, t->ids_cap * sizeof *t->ids);
}

static int top_rows_grow(struct top *t)
{
	size_t cap = t->cap_rows ? t->cap_rows * 2 : 256;
	struct listed *nr = realloc(t->rows, cap * sizeof *nr);
	if (!nr)
		return -ENOMEM;
	t->rows = nr;
	t->cap_rows = cap;
	return 0;
}

static void top_free(struct top *t)
{
	top_clear(t);
	free(t->rows);
	free(t->c);
	free(t->ids);
	free(t->idx);
	free(t->live);
	free(t->live_by_count);
}

/* Index of candidate id in the id set, adding it when new; -1 when out of memory. */
static long top_id_slot(struct top *t, int64_t id)
{
	if ((t->n + 1) * 2 > t->ids_cap) {
		size_t cap = t->ids_cap ? t->ids_cap * 2 : 1024;
		int64_t *ids = calloc(cap, sizeof *ids);
		size_t *idx = calloc(cap, sizeof *idx);
		if (!ids || !idx) {
			free(ids);
			free(idx);
			return -1;
		}
		for (size_t i = 0; i < t->ids_cap; i++) {
			if (!t->ids[i])
				continue;
			size_t j = (size_t)((uint64_t)t->ids[i] * 0x9E3779B97F4A7C15ull) & (cap - 1);
			while (ids[j])
				j = (j + 1) & (cap - 1);
			ids[j] = t->ids[i];
			idx[j] = t->idx[i];
		}
		free(t->ids);
		free(t->idx);
		t->ids = ids;
		t->idx = idx;
		t->ids_cap = cap;
	}
	size_t j = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull) & (t->ids_cap - 1);
	while (t->ids[j] && t->ids[j] != id)
		j = (j + 1) & (t->ids_cap - 1);
	return (long)j;
}

/*
 * Adds a candidate unless its id is listed already (id 0: a term not
 * stored); *at gets its index either way.
 */
static int top_add(struct top *t, int64_t id, int kind, const char *term, size_t len,
		   size_t *at)
{
	long slot = -1;

	if (id > 0) {
		if ((slot = top_id_slot(t, id)) < 0)
			return -ENOMEM;
		if (t->ids[slot]) {
			*at = t->idx[slot];
			return 0;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct cand *nc = realloc(t->c, cap * sizeof *nc);
		if (!nc)
			return -ENOMEM;
		t->c = nc;
		t->cap = cap;
	}
	struct cand *c = &t->c[t->n];
	memset(c, 0, sizeof *c);
	c->id = id;
	c->kind = kind;
	if (term) {
		if (!(c->term = malloc(len + 1)))
			return -ENOMEM;
		memcpy(c->term, term, len);
		c->term[len] = 0;
		c->len = len;
	}
	if (id > 0) {
		t->ids[slot] = id;
		t->idx[slot] = t->n;
	}
	*at = t->n++;
	return 0;
}

static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	if (a->tot.count != b->tot.count)
		return a->tot.count < b->tot.count ? 1 : -1;
	return term_cmp(a->kind, a->term, a->len, b->kind, b->term, b->len);
}

/* What one list says about a listed candidate, its count there and the list's k-th count. */
static void cand_listed(struct cand *c, uint64_t count, uint64_t kth, bool exact)
{
	c->listed += count;
	c->listed_kth += kth;
	if (exact)
		c->lb += count;
}

/*
 * Reads one source's first k terms into the candidates; *kth = the k-th
 * count, 0 when the source has fewer (then an unlisted term has none there).
 */
static int top_source(struct reader *r, struct top *t, const struct source *s, int kind,
		      size_t k, uint64_t *kth)
{
	bool by_kind = kind != TERM_KIND_ALL;
	sqlite3_stmt *st = r->st[(s->g == G_DAY ? RS_TOP_DAY : RS_TOP_HOUR) +
				 (by_kind ? RS_TOP_HOUR_KIND - RS_TOP_HOUR : 0)];
	size_t got = 0;
	uint64_t last = 0;
	int rc;

	t->nrows = 0;
	sqlite3_bind_int64(st, 1, s->period);
	sqlite3_bind_int64(st, 2, (int64_t)k);
	if (by_kind)
		sqlite3_bind_int(st, 3, kind);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t at;
		if (top_add(t, sqlite3_column_int64(st, 0), -1, NULL, 0, &at) < 0 ||
		    (t->nrows == t->cap_rows && top_rows_grow(t) < 0)) {
			st_done(st);
			return SQLITE_NOMEM;
		}
		last = (uint64_t)col_u(st, 1);
		t->rows[t->nrows++] = (struct listed){ at, last };
		got++;
	}
	st_done(st);
	*kth = got == k ? last : 0;
	for (size_t i = 0; i < t->nrows; i++)
		cand_listed(&t->c[t->rows[i].cand], t->rows[i].count, *kth, s->exact);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Fills in what a candidate lacks (its name, or its id) and its exact totals. */
static int top_total(struct reader *r, struct top *t, const struct plan *pl, struct cand *c)
{
	sqlite3_stmt *st;
	int rc;

	if (c->term == NULL) {
		st = r->st[RS_TERM_NAME];
		sqlite3_bind_int64(st, 1, c->id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *kind = (const char *)sqlite3_column_text(st, 0);
			const void *s = sqlite3_column_blob(st, 1);
			size_t len = (size_t)sqlite3_column_bytes(st, 1);
			c->kind = kind ? term_kind_parse(kind, strlen(kind)) : -1;
			if ((c->term = malloc(len + 1))) {
				memcpy(c->term, s ? s : "", len);
				c->term[len] = 0;
				c->len = len;
			}
		}
		st_done(st);
		if (rc != SQLITE_ROW)
			return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
		if (!c->term)
			return SQLITE_NOMEM;
	}
	memset(&c->tot, 0, sizeof c->tot);
	for (size_t i = 0; c->id > 0 && i < pl->npieces; i++) {
		const struct piece *pc = &pl->pieces[i];
		st = r->st[RS_SUM_MINUTE + pc->g];
		sqlite3_bind_int64(st, 1, c->id);
		sqlite3_bind_int64(st, 2, pc->from);
		sqlite3_bind_int64(st, 3, pc->to);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			acc_add(&c->tot, (uint64_t)col_u(st, 0), (uint64_t)col_u(st, 1),
				sqlite3_column_double(st, 2), (uint64_t)col_u(st, 3),
				(uint64_t)col_u(st, 4));
		st_done(st);
		if (rc != SQLITE_ROW)
			return rc;
	}
	const struct live_term *lt = top_live_find(t, c->kind, c->term, c->len);
	if (lt)
		acc_add(&c->tot, lt->tot.count, lt->tot.authors, lt->tot.sent, lt->tot.pos,
			lt->tot.neg);
	return SQLITE_OK;
}

static int u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * One round with lists of k; *exact says whether the first q->limit are
 * proven. Before reading any totals, the lists bound each candidate: at
 * least the counts of the lists that are exact for their piece, at most its
 * listed counts plus the k-th count of every list it is missing from. A
 * candidate whose upper bound is below the limit-th best lower bound cannot
 * make the answer and is dropped unread.
 */
static int top_round(struct reader *r, struct top *t, const struct plan *pl,
		     const struct history_query *q, size_t k, bool *exact)
{
	uint64_t bound = 0, kth;
	int rc;

	top_clear(t);
	for (size_t i = 0; i < pl->nsrc; i++) {
		if ((rc = top_source(r, t, &pl->src[i], q->kind, k, &kth)) != SQLITE_OK)
			return rc;
		bound += kth;
	}
	/* The live part is one more source: a live term is listed by id when stored. */
	size_t nl = t->nlive < k ? t->nlive : k;
	uint64_t live_kth = t->nlive > k ? t->live_by_count[k - 1].tot.count : 0;
	for (size_t i = 0; i < nl; i++) {
		const struct live_term *lt = &t->live_by_count[i];
		sqlite3_stmt *st = r->st[RS_TERM_ID];
		int64_t id = 0;
		size_t at;
		sqlite3_bind_text(st, 1, term_kind_name(lt->kind), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, lt->term, (int)lt->len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			id = sqlite3_column_int64(st, 0);
		st_done(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return rc;
		if (top_add(t, id, lt->kind, id ? NULL : lt->term, lt->len, &at) < 0)
			return SQLITE_NOMEM;
		cand_listed(&t->c[at], lt->tot.count, live_kth, true);
	}
	bound += live_kth;

	/* the limit-th best lower bound */
	uint64_t floor_lb = 0;
	if (t->n >= q->limit) {
		uint64_t *lbs = malloc(t->n * sizeof *lbs);
		if (!lbs)
			return SQLITE_NOMEM;
		for (size_t i = 0; i < t->n; i++)
			lbs[i] = t->c[i].lb;
		qsort(lbs, t->n, sizeof *lbs, u64_desc);
		floor_lb = lbs[q->limit - 1];
		free(lbs);
	}
	size_t m = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct cand *c = &t->c[i];
		uint64_t ub = c->listed + (bound - c->listed_kth);
		if (ub < floor_lb) {
			free(c->term);
			continue;
		}
		if ((rc = top_total(r, t, pl, c)) != SQLITE_OK) {
			/* keep what still owns memory contiguous for top_clear */
			memmove(&t->c[m], &t->c[i], (t->n - i) * sizeof *t->c);
			t->n = m + (t->n - i);
			return rc;
		}
		if (c->kind < 0 || c->tot.count == 0) {
			free(c->term);
			continue;
		}
		t->c[m++] = *c;
	}
	t->n = m;
	if (t->n > 1)
		qsort(t->c, t->n, sizeof *t->c, cand_cmp);
	if (t->n >= q->limit)
		*exact = bound == 0 || t->c[q->limit - 1].tot.count > bound;
	else
		*exact = bound == 0;
	return SQLITE_OK;
}

static void render_top(struct history_query *q, const struct top *t)
{
	struct strbuf *sb = &q->body;
	size_t n = t->n < q->limit ? t->n : q->limit;

	if (q->format == HISTORY_CSV) {
		q->csv = true;
		sb_puts(sb, "term,kind,count,authors,sentiment\r\n");
		for (size_t i = 0; i < n; i++) {
			const struct cand *c = &t->c[i];
			sb_csv_field(sb, c->term, c->len);
			sb_printf(sb, ",%s,%llu,%u,", term_kind_name(c->kind),
				  (unsigned long long)c->tot.count, c->tot.authors);
			sb_put_double(sb, acc_mean(&c->tot), 4);
			sb_puts(sb, "\r\n");
		}
		return;
	}
	sb_puts(sb, "{\"from\":");
	put_time(sb, q->from_ms);
	sb_puts(sb, ",\"to\":");
	put_time(sb, q->to_ms);
	sb_puts(sb, ",\"kind\":");
	sb_json_cstr(sb, term_kind_name(q->kind));
	sb_puts(sb, ",\"live\":");
	sb_puts(sb, q->live ? "true" : "false");
	sb_puts(sb, ",\"terms\":[");
	for (size_t i = 0; i < n; i++) {
		const struct cand *c = &t->c[i];
		if (i)
			sb_putc(sb, ',');
		sb_puts(sb, "{\"term\":");
		sb_json_str(sb, c->term, c->len);
		sb_puts(sb, ",\"kind\":");
		sb_json_cstr(sb, term_kind_name(c->kind));
		sb_puts(sb, ",\"count\":");
		sb_put_u64(sb, c->tot.count);
		sb_puts(sb, ",\"authors\":");
		sb_put_u64(sb, c->tot.authors);
		sb_puts(sb, ",\"sentiment\":");
		sb_put_double(sb, acc_mean(&c->tot), 4);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]}");
}

int history_run_top(struct reader *r, struct history_query *q)
{
	struct history_pool *p = r->pool;
	struct live_req *req = NULL;
	struct plan pl = { 0 };
	struct top t = { 0 };
	uint64_t epoch = 0;
	bool caught_up = true, exact = false;
	int rc;

	top_align(p, q);
	if (plan_build(&pl, q->from_ms, q->to_ms) < 0) {
		rc = SQLITE_NOMEM;
		goto out;
	}
	q->live = false;
	if (history_live_enabled(p) && (req = live_req_new(LIVE_TOP))) {
		req->kind = q->kind;
		req->from_ms = q->from_ms;
		req->to_ms = q->to_ms;
		req->limit = HISTORY_LIVE_TOP_ROWS;
		req = history_live_get(p, req);
		q->live = req != NULL;
	}
	if ((rc = history_txn_begin(r, req ? req->checkpoint_epoch : 0, &epoch, &caught_up)) != SQLITE_OK)
		goto out;
	if (!caught_up)
		q->live = false;
	if (top_live_build(&t, req, epoch, q->kind) < 0) {
		rc = SQLITE_NOMEM;
		history_txn_end(r);
		goto out;
	}
	size_t k = q->limit * 2 < 16 ? 16 : q->limit * 2;
	for (;;) {
		if ((rc = top_round(r, &t, &pl, q, k, &exact)) != SQLITE_OK || exact ||
		    k >= TOP_K_MAX)
			break;
		k *= 4;
	}
	history_txn_end(r);
	if (rc == SQLITE_OK)
		render_top(q, &t);
out:
	top_free(&t);
	free(pl.src);
	live_req_free(req);
	return rc;
}

