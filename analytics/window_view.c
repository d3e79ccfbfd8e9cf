/*
 * window_view.c - reading the windows: the views of a snapshot (top terms
 * by count and by trend score per kind, their authors, sentiment, baseline
 * and series, the window's volume), window_lookup(), and the author unions
 * kept between views (struct prefix_cache). The window's inside is in
 * analytics/window_impl.h.
 */
#include "analytics/window.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/hll.h"
#include "analytics/window_impl.h"
#include "core/hash.h"

/* ---- kept author unions (struct prefix_cache) ------------------------ */

void window_prefix_cache_free(struct prefix_cache *pc)
{
	for (uint32_t i = 0; i < pc->nmem; i++)
		free(pc->reg[i]);
	free(pc->reg);
	free(pc->ids);
	free(pc->at);
	free(pc->len);
	free(pc->count);
	free(pc->cov);
	free(pc->last);
	free(pc->hashes);
	free(pc->slot);
	memset(pc, 0, sizeof *pc);
}

size_t window_prefix_cache_bytes(const struct prefix_cache *pc)
{
	if (!pc->ids)
		return 0;
	return (size_t)pc->nmem * HLL_REGISTERS + (size_t)pc->hash_cap * sizeof(uint32_t) +
	       PREFIX_CACHE_TERMS * (4 * sizeof(uint32_t) + 2 * sizeof(uint64_t)) +
	       PREFIX_CACHE_DENSE * sizeof(uint8_t *) +
	       2 * PREFIX_CACHE_TERMS * sizeof(uint32_t);
}

/*
 * bucket_find() of term id in each of b[0..n) (a NULL bucket finds nothing)
 * into e[0..n): the reads of a view, which look one term up in tens to
 * hundreds of buckets, each probe two dependent cache misses (index slot,
 * entry). Here the home slots of all are fetched first, then the entries
 * they name, then the probes run: the misses overlap instead of queueing.
 */
static void buckets_find(const struct bucket *const *b, uint32_t n, uint32_t id,
			 const struct entry **e)
{
	uint32_t h = (uint32_t)hash_u64(id); /* entry_home() before the mask */
	for (uint32_t k = 0; k < n; k++)
		if (b[k] && b[k]->idx_cap)
			__builtin_prefetch(&b[k]->idx[h & (b[k]->idx_cap - 1)]);
	for (uint32_t k = 0; k < n; k++)
		if (b[k] && b[k]->idx_cap) {
			uint32_t i1 = b[k]->idx[h & (b[k]->idx_cap - 1)];
			if (i1)
				__builtin_prefetch(&b[k]->e[i1 - 1]);
		}
	for (uint32_t k = 0; k < n; k++)
		e[k] = b[k] ? bucket_find(b[k], id) : NULL;
}

/* ---- reading windows ------------------------------------------------- */

/*
 * The buckets a view of one window reads for each of its terms, listed once
 * per view (window_fill_view(), window_lookup()) rather than once per term,
 * in w->fb. Every list is in the order the reads have always taken.
 */
struct view_plan {
	int win;
	const struct bucket **series;  /* the window's buckets that exist, oldest first */
	const struct bucket **open;    /* 24h: open minutes whose quarter is open or missing */
	const struct bucket **authors; /* the author sets term_authors() unites */
	const struct bucket **hist;    /* term_expected()'s closed history buckets */
	uint32_t nseries, nopen, nauthors, nhist;
	uint32_t nstable;              /* authors[0..nstable): closed, so cached unions hold */
	struct prefix_cache *cache;    /* of this window, valid for them; NULL: none */
	uint8_t *series_at, *open_at;  /* the series point of each series bucket, open minute */
};

static void history_ranges(const struct window *w, int win, int64_t *m_lo, int64_t *m_hi,
			   int64_t *q_lo, int64_t *q_hi);

/* Allocates pc's arrays once; false when out of memory (pc stays unallocated). */
static bool prefix_cache_alloc(struct prefix_cache *pc)
{
	if (pc->ids)
		return true;
	pc->ids = malloc(PREFIX_CACHE_TERMS * sizeof *pc->ids);
	pc->at = malloc(PREFIX_CACHE_TERMS * sizeof *pc->at);
	pc->len = malloc(PREFIX_CACHE_TERMS * sizeof *pc->len);
	pc->count = malloc(PREFIX_CACHE_TERMS * sizeof *pc->count);
	pc->cov = malloc(PREFIX_CACHE_TERMS * sizeof *pc->cov);
	pc->last = malloc(PREFIX_CACHE_TERMS * sizeof *pc->last);
	pc->reg = calloc(PREFIX_CACHE_DENSE, sizeof *pc->reg);
	pc->slot = calloc(2 * PREFIX_CACHE_TERMS, sizeof *pc->slot);
	if (!pc->ids || !pc->at || !pc->len || !pc->count || !pc->cov || !pc->last || !pc->reg ||
	    !pc->slot) {
		window_prefix_cache_free(pc);
		return false;
	}
	return true;
}

/* Drops every entry of pc (keeping its memory), which then holds under the keys given. */
static void prefix_cache_empty(struct prefix_cache *pc, uint32_t epoch, uint32_t edits,
			       int64_t end_key)
{
	if (pc->n)
		memset(pc->slot, 0, 2 * PREFIX_CACHE_TERMS * sizeof *pc->slot);
	pc->n = pc->ndense = pc->nhash = 0;
	pc->epoch = epoch;
	pc->edits = edits;
	pc->end_key = end_key;
	pc->valid = true;
}

/*
 * w->prefix[win], emptied first if its level changed or the window moved on
 * - or, when the window's end moved to the bucket the unions built ahead
 * were for and its level had no edit since, holding those; NULL: no memory.
 */
static struct prefix_cache *prefix_cache_for(struct window *w, int win)
{
	struct prefix_cache *pc = &w->prefix[win], *ah = &w->ahead[win];
	int level = win == WINDOW_24H ? 2 : 1;
	int64_t end_key = floor_div(w->end_ms, level_span_ms[level]);
	if (!prefix_cache_alloc(pc))
		return NULL;
	uint32_t epoch = w->level_epoch[level] - w->level_closes[level];
	if (pc->valid && pc->epoch == epoch && pc->end_key == end_key)
		return pc;
	if (ah->valid && ah->n && ah->end_key == end_key && ah->edits == w->level_edits[level]) {
		struct prefix_cache t = *pc;
		*pc = *ah;
		*ah = t;
		ah->valid = false; /* the old entries: emptied when next built ahead */
		pc->epoch = epoch;
		w->unions_ahead += pc->n;
	} else {
		prefix_cache_empty(pc, epoch, 0, end_key);
	}
	return pc;
}

/*
 * The term tables of the caches below: slot[0..nslots) (a power of two,
 * more than the entries) holds 1 + the entry of a term, ids[] the terms.
 * The entry of term id, or -1.
 */
static int term_table_find(const uint32_t *slot, const uint32_t *ids, uint32_t nslots, uint32_t id)
{
	for (uint32_t j = (uint32_t)hash_u64(id) & (nslots - 1);; j = (j + 1) & (nslots - 1)) {
		uint32_t e = slot[j];
		if (!e)
			return -1;
		if (ids[e - 1] == id)
			return (int)e - 1;
	}
}

/* Enters term id, not in the table, as entry e. */
static void term_table_put(uint32_t *slot, uint32_t nslots, uint32_t id, uint32_t e)
{
	uint32_t j = (uint32_t)hash_u64(id) & (nslots - 1);
	while (slot[j])
		j = (j + 1) & (nslots - 1);
	slot[j] = e + 1;
}

/* The entry kept for term id, or -1. */
static int prefix_find(const struct prefix_cache *pc, uint32_t id)
{
	return term_table_find(pc->slot, pc->ids, 2 * PREFIX_CACHE_TERMS, id);
}

/* Starts u again from entry k: the union it was kept from. */
static void prefix_load(const struct prefix_cache *pc, int k, struct hll_union *u)
{
	if (pc->len[k] == PREFIX_DENSE)
		hll_union_load_registers(u, pc->reg[pc->at[k]]);
	else /* an empty one may have no array to point into */
		hll_union_load_hashes(u, pc->len[k] ? pc->hashes + pc->at[k] : NULL, pc->len[k]);
}

/* A bucket's identity among those of a view's author list: its key and level. */
static inline int64_t bucket_tag(const struct bucket *b) { return b->key * 4 + b->level; }

/*
 * Stores union u's registers or hashes in the cache: into *at and *len,
 * reusing dense block *at when reuse_dense. false when there is no room or
 * memory (nothing changed).
 */
static bool prefix_store(struct prefix_cache *pc, struct hll_union *u, bool reuse_dense,
			 uint32_t *at, uint32_t *len)
{
	uint32_t n;
	const uint32_t *v = hll_union_hashes(u, &n);
	if (v) {
		if (pc->nhash + n > pc->hash_cap) {
			uint32_t cap = pc->hash_cap ? pc->hash_cap : 4096;
			while (cap < pc->nhash + n)
				cap *= 2;
			if (cap > PREFIX_CACHE_HASHES)
				return false;
			uint32_t *nh = realloc(pc->hashes, cap * sizeof *nh);
			if (!nh)
				return false;
			pc->hashes = nh;
			pc->hash_cap = cap;
		}
		if (n) /* a term in none of the closed buckets keeps no hashes */
			memcpy(pc->hashes + pc->nhash, v, n * sizeof *v);
		*at = pc->nhash;
		*len = n;
		pc->nhash += n;
		return true;
	}
	if (!reuse_dense) {
		if (pc->ndense == PREFIX_CACHE_DENSE)
			return false;
		if (pc->ndense == pc->nmem) {
			pc->reg[pc->nmem] = malloc(HLL_REGISTERS);
			if (!pc->reg[pc->nmem])
				return false;
			pc->nmem++;
		}
		*at = pc->ndense++;
	}
	memcpy(pc->reg[*at], hll_union_registers(u), HLL_REGISTERS);
	*len = PREFIX_DENSE;
	return true;
}

/*
 * Keeps the union u of the first cov closed buckets of a view's list, the
 * last of them tagged last, for term id (not kept yet) while there is room
 * and memory.
 */
static void prefix_put(struct prefix_cache *pc, uint32_t id, struct hll_union *u, uint32_t cov,
		       int64_t last)
{
	uint32_t at, len;
	if (pc->n == PREFIX_CACHE_TERMS || !prefix_store(pc, u, false, &at, &len))
		return;
	term_table_put(pc->slot, 2 * PREFIX_CACHE_TERMS, id, pc->n);
	pc->ids[pc->n] = id;
	pc->at[pc->n] = at;
	pc->len[pc->n] = len;
	pc->count[pc->n] = hll_union_count(u);
	pc->cov[pc->n] = cov;
	pc->last[pc->n] = last;
	pc->n++;
}

/*
 * Entry k becomes u, the union of the first cov closed buckets, which
 * holds what k held: a dense union in k's own block when k was dense, else
 * appended (the hashes k held stay unused until the cache empties). Left as
 * it was when there is no room.
 */
static void prefix_extend(struct prefix_cache *pc, int k, struct hll_union *u, uint32_t cov,
			  int64_t last)
{
	uint32_t at = pc->at[k], len;
	if (!prefix_store(pc, u, pc->len[k] == PREFIX_DENSE, &at, &len))
		return;
	pc->at[k] = at;
	pc->len[k] = len;
	pc->count[k] = hll_union_count(u);
	pc->cov[k] = cov;
	pc->last[k] = last;
}

/*
 * The buckets of a history range - minutes [m_lo, m_hi], quarter hours
 * [q_lo, q_hi] - that exist and are not open, into out[]: their number;
 * *open counts those that are open (a view leaves them out; sums built
 * ahead wait until there are none).
 */
static uint32_t history_buckets(struct window *w, int64_t m_lo, int64_t m_hi, int64_t q_lo,
				int64_t q_hi, const struct bucket **out, uint32_t *open)
{
	const int64_t lo[2] = { m_lo, q_lo }, hi[2] = { m_hi, q_hi };
	uint32_t n = 0;
	*open = 0;
	for (int l = 1; l <= 2; l++)
		for (int64_t k = lo[l - 1]; k <= hi[l - 1]; k++) {
			const struct bucket *b = level_bucket(&w->lv[l], k);
			if (b && b->state == B_OPEN)
				(*open)++;
			else if (b)
				out[n++] = b;
		}
	return n;
}

/* Term id's authors summed over the closed buckets b[0..n) (found into e[0..n)). */
static uint64_t history_sum(const struct bucket *const *b, uint32_t n, uint32_t id,
			    const struct entry **e)
{
	uint64_t sum = 0;
	buckets_find(b, n, id, e);
	for (uint32_t i = 0; i < n; i++)
		if (e[i])
			sum += e[i]->authors;
	return sum;
}

/*
 * How many buckets of its author level (minutes; quarters for 24h) window
 * win reads, up to its end bucket.
 */
static int64_t author_buckets(const struct window *w, int win)
{
	return win == WINDOW_5M ? 6 : win == WINDOW_1H ? 60 : w->lv[2].nwin;
}

static void view_plan(struct window *w, int win, struct view_plan *p)
{
	struct level *L = &w->lv[win], *L1 = &w->lv[1], *L2 = &w->lv[2];
	const struct bucket **at = w->fb;
	memset(p, 0, sizeof *p);
	p->win = win;
	p->series_at = w->fat;

	/* series: the window's own level; the newest quarters fill from minutes as they close */
	int64_t end = floor_div(w->end_ms, L->span_ms), first = end - L->nwin + 1;
	uint32_t per = (uint32_t)(L->nwin / series_points[win]);
	p->series = at;
	for (int64_t k = first; k <= end; k++) {
		const struct bucket *b = level_bucket(L, k);
		if (b) {
			p->series_at[p->nseries] = (uint8_t)((k - first) / per);
			p->series[p->nseries++] = b;
		}
	}
	at += p->nseries;
	p->open = at;
	p->open_at = w->fat + p->nseries;
	for (uint32_t i = 0; win == WINDOW_24H && i < L1->nslots; i++) {
		const struct bucket *b1 = &L1->b[i];
		int64_t k = floor_div(b1->key, 15);
		if (b1->state != B_OPEN || k < first || k > end)
			continue;
		const struct bucket *q = level_bucket(L, k);
		if (q && q->state != B_OPEN)
			continue;
		p->open_at[p->nopen] = (uint8_t)((k - first) / per);
		p->open[p->nopen++] = b1;
	}
	at += p->nopen;

	/* authors: minute sets (the 5m window reads the 6 minutes it touches), or quarters
	 * and the minutes not yet rolled up */
	p->authors = at;
	if (win == WINDOW_5M || win == WINDOW_1H) {
		int64_t end1 = floor_div(w->end_ms, 60000);
		int64_t nm = author_buckets(w, win);
		for (int64_t k = end1 - nm + 1; k <= end1; k++) {
			const struct bucket *b = level_bucket(L1, k);
			if (b && b->sk)
				p->authors[p->nauthors++] = b;
		}
	} else {
		int64_t end2 = floor_div(w->end_ms, 900000);
		for (int64_t k = end2 - author_buckets(w, win) + 1; k <= end2; k++) {
			const struct bucket *b = level_bucket(L2, k);
			if (b && b->state != B_BASELINE && b->sk)
				p->authors[p->nauthors++] = b;
		}
		for (uint32_t i = 0; i < L1->nslots; i++)
			if (L1->b[i].state == B_OPEN && L1->b[i].sk)
				p->authors[p->nauthors++] = &L1->b[i];
	}
	at += p->nauthors;
	while (p->nstable < p->nauthors && p->authors[p->nstable]->state == B_CLOSED)
		p->nstable++;
	if (p->nstable)
		p->cache = prefix_cache_for(w, win);

	/* history: the closed minutes and quarters before the window */
	int64_t m_lo, m_hi, q_lo, q_hi;
	uint32_t open;
	history_ranges(w, win, &m_lo, &m_hi, &q_lo, &q_hi);
	p->hist = at;
	p->nhist = history_buckets(w, m_lo, m_hi, q_lo, q_hi, p->hist, &open);
}

/* Adds to u the author sets of the entries e[0..n) found in buckets b[0..n). */
static void union_add_entries(struct hll_union *u, const struct bucket *const *b,
			      const struct entry *const *e, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (e[i])
			hll_union_add_member(u, &b[i]->grp, entry_authors(b[i], e[i]));
}

/* Distinct authors of a term in the plan's window: the union of its sketches. */
static uint64_t term_authors(struct window *w, const struct view_plan *p, uint32_t id)
{
	struct hll_union *u = w->uni;
	const struct bucket *const *bs = p->authors;
	const struct entry **fe = w->fe;
	uint32_t ns = p->nstable;
	int kept = p->cache ? prefix_find(p->cache, id) : -1;
	uint32_t from = kept >= 0 ? p->cache->cov[kept] : 0;
	if (kept >= 0 && from <= ns && bucket_tag(bs[from - 1]) == p->cache->last[kept]) {
		/* the union of the first closed buckets, kept: only the rest are read */
		buckets_find(bs + from, p->nauthors - from, id, fe);
		if (from == ns) {
			uint32_t found = 0;
			for (uint32_t i = 0; i < p->nauthors - ns; i++) {
				const struct hll_set *a = fe[i] ? entry_authors(bs[ns + i], fe[i]) : NULL;
				found += a && !hll_set_empty(a);
			}
			if (!found)
				return p->cache->count[kept]; /* nothing to add: its count */
		}
		prefix_load(p->cache, kept, u);
		if (from < ns) {
			/* buckets closed since it was kept: add them and keep that */
			union_add_entries(u, bs + from, fe, ns - from);
			prefix_extend(p->cache, kept, u, ns, bucket_tag(bs[ns - 1]));
		}
		union_add_entries(u, bs + ns, fe + (ns - from), p->nauthors - ns);
		return hll_union_count(u);
	}
	hll_union_reset(u);
	buckets_find(bs, p->nauthors, id, fe);
	union_add_entries(u, bs, fe, ns);
	if (p->cache && kept < 0)
		prefix_put(p->cache, id, u, ns, bucket_tag(bs[ns - 1]));
	else if (p->cache)
		prefix_extend(p->cache, kept, u, ns, bucket_tag(bs[ns - 1])); /* not the list it had */
	union_add_entries(u, bs + ns, fe + ns, p->nauthors - ns);
	return hll_union_count(u);
}

/*
 * How often views came (ms of the window's end between them), from the end
 * at the last build ahead, which becomes the end now; 1 s if unknown.
 */
static int64_t ahead_every(int64_t *built_ms, int64_t end_ms, int64_t span_ms)
{
	int64_t every = end_ms - *built_ms;
	*built_ms = end_ms;
	return every <= 0 || every > span_ms ? 1000 : every;
}

/*
 * How many of the missing terms a view builds ahead, left_ms before they
 * are needed, with views coming every_ms: twice their share of the views
 * still to come, front loaded so terms that become candidates later find
 * room; all within two views of the deadline.
 */
static size_t ahead_share(size_t missing, int64_t left_ms, int64_t every_ms)
{
	double views_left = (double)left_ms / (double)every_ms;
	return views_left <= 2 ? missing : (size_t)ceil(2.0 * (double)missing / views_left);
}

/*
 * Builds ahead, for some of ids[0..n) (a view's candidates by count), the
 * unions the kept ones will be once the window's end moves to the next
 * bucket of their level: the closed buckets' sets but those of the bucket
 * that leaves then. A move starts every kept union again (a union cannot
 * take a set out), which made the first view after it unite hundreds of
 * terms' 60 minute or 96 quarter-hour sets at once: a tick of 200 ms and
 * more once in 15 minutes. Now each view builds a share, prefix_cache_for()
 * takes them over at the move, and a bucket closing meanwhile is added to
 * them as to kept ones; an edit of the level (a roll-up into a closed
 * quarter) drops them. The share: ahead_share(), the same whether views
 * come every second or every ten.
 */
static void prefix_build_ahead(struct window *w, const struct view_plan *p, const uint32_t *ids,
			       size_t n)
{
	int win = p->win, level = win == WINDOW_24H ? 2 : 1;
	int64_t span = level_span_ms[level], end_key = floor_div(w->end_ms, span);
	struct prefix_cache *ah = &w->ahead[win];
	struct hll_union *u = w->uni;
	if (!p->cache || !n || !prefix_cache_alloc(ah))
		return;
	int64_t every = ahead_every(&ah->built_ms, w->end_ms, span);
	if (!ah->valid || ah->end_key != end_key + 1 || ah->edits != w->level_edits[level])
		prefix_cache_empty(ah, 0, w->level_edits[level], end_key + 1);
	/* the closed buckets that stay in the window: [from, nstable) */
	int64_t first = end_key + 1 - author_buckets(w, win) + 1;
	uint32_t from = 0, ns = p->nstable;
	while (from < ns && p->authors[from]->key < first)
		from++;
	if (from == ns)
		return;
	size_t missing = 0;
	for (size_t i = 0; i < n; i++)
		missing += prefix_find(ah, ids[i]) < 0;
	size_t share = ahead_share(missing, (end_key + 1) * span - w->end_ms, every);
	for (size_t i = 0; i < n && share; i++) {
		if (prefix_find(ah, ids[i]) >= 0)
			continue;
		if (ah->n == PREFIX_CACHE_TERMS)
			return;
		hll_union_reset(u);
		buckets_find(p->authors + from, ns - from, ids[i], w->fe);
		union_add_entries(u, p->authors + from, w->fe, ns - from);
		uint32_t kept = ah->n;
		prefix_put(ah, ids[i], u, ns - from, bucket_tag(p->authors[ns - 1]));
		if (ah->n == kept)
			return; /* no room left for its registers or hashes */
		share--;
	}
}

/*
 * The history ranges of window win: minutes [*m_lo, *m_hi] (level 1) and
 * quarter hours [*q_lo, *q_hi] (level 2) before the window start.
 */
static void history_ranges_at(int win, int64_t end_ms, int64_t *m_lo, int64_t *m_hi,
			      int64_t *q_lo, int64_t *q_hi)
{
	int64_t start_ms = end_ms - window_span_ms(win);
	*m_hi = floor_div(start_ms, 60000) - 1;
	*m_lo = *m_hi - 59;
	*q_hi = floor_div(*m_lo * 60000, 900000) - 1;
	*q_lo = floor_div(start_ms - 86400000, 900000);
}

static void history_ranges(const struct window *w, int win, int64_t *m_lo, int64_t *m_hi,
			   int64_t *q_lo, int64_t *q_hi)
{
	history_ranges_at(win, w->end_ms, m_lo, m_hi, q_lo, q_hi);
}

/* ---- baseline sums built ahead (struct hist_ahead) ----------------- */

/* A history range's buckets, at most: 60 minutes and the quarter hours of the day before. */
enum { HIST_MINUTES = 60, HIST_QUARTERS = 96 };

void window_hist_ahead_free(struct hist_ahead *ha)
{
	free(ha->ids);
	free(ha->sums);
	free(ha->slot);
	memset(ha, 0, sizeof *ha);
}

size_t window_hist_ahead_bytes(const struct hist_ahead *ha)
{
	return ha->ids ? HIST_AHEAD_TERMS * (3 * sizeof(uint32_t) + sizeof(uint64_t)) : 0;
}

void window_hist_touch(struct window *w, int level, int64_t key)
{
	for (int win = 0; win < WINDOW_COUNT; win++) {
		struct hist_ahead *ha = &w->hist_ahead[win];
		if (ha->valid && (level == 1 ? key >= ha->m_lo && key <= ha->m_hi
					     : key >= ha->q_lo && key <= ha->q_hi))
			ha->valid = false;
	}
}

/* The entry of term id, or -1. */
static int hist_ahead_find(const struct hist_ahead *ha, uint32_t id)
{
	return term_table_find(ha->slot, ha->ids, 2 * HIST_AHEAD_TERMS, id);
}

/* The sum built ahead of term id for history ending at minute m_hi; false: none. */
static bool hist_ahead_take(struct window *w, int win, int64_t m_hi, uint32_t id, uint64_t *sum)
{
	const struct hist_ahead *ha = &w->hist_ahead[win];
	int k;
	if (!ha->valid || ha->m_hi != m_hi || (k = hist_ahead_find(ha, id)) < 0)
		return false;
	*sum = ha->sums[k];
	w->sums_ahead++;
	return true;
}

/*
 * Builds ahead, for some of ids[0..n) (a view's candidates by count), the
 * sums term_expected() will need once the window's end moves to the next
 * minute and its history range with it: the range moves every minute, and
 * every candidate of every view summed its authors over it again, up to
 * 60 minutes and 96 quarter hours each, in that one tick. Only while every
 * bucket of the next range is behind the watermark and closed: nothing can
 * change them then but an edit, which drops the sums (window_hist_touch()).
 */
static void hist_build_ahead(struct window *w, int win, const uint32_t *ids, size_t n)
{
	struct hist_ahead *ha = &w->hist_ahead[win];
	int64_t next_ms = (floor_div(w->end_ms, 60000) + 1) * 60000, m_lo, m_hi, q_lo, q_hi;
	const struct bucket *hb[HIST_MINUTES + HIST_QUARTERS];
	const struct entry *he[HIST_MINUTES + HIST_QUARTERS];

	if (!n)
		return;
	if (!ha->ids) {
		ha->ids = malloc(HIST_AHEAD_TERMS * sizeof *ha->ids);
		ha->sums = malloc(HIST_AHEAD_TERMS * sizeof *ha->sums);
		ha->slot = calloc(2 * HIST_AHEAD_TERMS, sizeof *ha->slot);
		if (!ha->ids || !ha->sums || !ha->slot) {
			window_hist_ahead_free(ha);
			return;
		}
	}
	int64_t every = ahead_every(&ha->built_ms, w->end_ms, 60000);
	history_ranges_at(win, next_ms, &m_lo, &m_hi, &q_lo, &q_hi);
	/* levels keep two windows: what the move frees is in none of the sums then */
	int64_t kept1 = floor_div(next_ms, 60000) - w->lv[1].keep + 1;
	int64_t kept2 = floor_div(next_ms, 900000) - w->lv[2].keep + 1;
	m_lo = m_lo > kept1 ? m_lo : kept1;
	q_lo = q_lo > kept2 ? q_lo : kept2;
	int64_t wm = window_watermark_ms(w);
	if ((m_hi + 1) * 60000 > wm || (q_hi + 1) * 900000 > wm)
		return; /* posts may still come for it */
	if (!ha->valid || ha->m_hi != m_hi) {
		if (ha->n)
			memset(ha->slot, 0, 2 * HIST_AHEAD_TERMS * sizeof *ha->slot);
		ha->n = 0;
		ha->m_lo = m_lo;
		ha->m_hi = m_hi;
		ha->q_lo = q_lo;
		ha->q_hi = q_hi;
		ha->valid = true;
	}
	if ((m_hi - m_lo + 1) + (q_hi - q_lo + 1) > HIST_MINUTES + HIST_QUARTERS)
		return; /* more than a range holds: not built, rather than wrong */
	uint32_t open, nh = history_buckets(w, m_lo, m_hi, q_lo, q_hi, hb, &open);
	if (open)
		return;
	size_t missing = 0;
	for (size_t i = 0; i < n; i++)
		missing += hist_ahead_find(ha, ids[i]) < 0;
	size_t share = ahead_share(missing, next_ms - w->end_ms, every);
	for (size_t i = 0; i < n && share && ha->n < HIST_AHEAD_TERMS; i++) {
		if (hist_ahead_find(ha, ids[i]) >= 0)
			continue;
		term_table_put(ha->slot, 2 * HIST_AHEAD_TERMS, ids[i], ha->n);
		ha->ids[ha->n] = ids[i];
		ha->sums[ha->n++] = history_sum(hb, nh, ids[i], he);
		share--;
	}
}

static int64_t history_needed_ms(int win)
{
	int64_t span = window_span_ms(win);
	return span < 3600000 ? span : 3600000;
}

/* How much history before window win there is at all (any term). */
static int64_t window_history_ms(struct window *w, int win)
{
	int64_t m_lo, m_hi, q_lo, q_hi, covered = 0;
	history_ranges(w, win, &m_lo, &m_hi, &q_lo, &q_hi);
	for (int64_t k = m_lo; k <= m_hi; k++) {
		const struct bucket *b = level_bucket(&w->lv[1], k);
		covered += b && b->state != B_OPEN ? 60000 : 0;
	}
	for (int64_t k = q_lo; k <= q_hi; k++) {
		const struct bucket *b = level_bucket(&w->lv[2], k);
		covered += b && b->state != B_OPEN ? 900000 : 0;
	}
	return covered;
}

/*
 * Expected distinct authors of a term in window win, from its own history
 * before the window: the authors it had per minute over the hour before the
 * window start (level-1 buckets, kept two hours), then per quarter hour over
 * the rest of the 24 h before it (level 2), scaled to the window's span.
 * Buckets with no data at all (trendd was not running) do not count as
 * history. *known is false until the history covers one window span (at most
 * an hour): before that there is no baseline to rise above.
 */
static double term_expected(struct window *w, const struct view_plan *p, uint32_t id,
			    bool *known)
{
	int win = p->win;
	int64_t span = window_span_ms(win), m_lo, m_hi, q_lo, q_hi;
	struct wcold *c = &w->cold[id];

	history_ranges(w, win, &m_lo, &m_hi, &q_lo, &q_hi);
	uint32_t epoch = w->level_epoch[1] + w->level_epoch[2];
	if (w->hist[win].epoch != epoch || w->hist[win].m_hi != m_hi ||
	    w->hist[win].key == 0) {
		/* a new key (never 0, which no term holds after a reset of its record) */
		if (++w->hist_next_key == 0)
			w->hist_next_key = 1;
		w->hist[win].key = w->hist_next_key;
		w->hist[win].epoch = epoch;
		w->hist[win].m_hi = m_hi;
		w->hist[win].covered_ms = window_history_ms(w, win);
	}
	int64_t covered_ms = w->hist[win].covered_ms;
	if (c->hist_key[win] != w->hist[win].key) {
		uint64_t sum = 0;
		if (!hist_ahead_take(w, win, m_hi, id, &sum))
			sum = history_sum(p->hist, p->nhist, id, w->fe);
		c->hist_sum[win] = sum;
		c->hist_key[win] = w->hist[win].key;
	}
	*known = covered_ms >= history_needed_ms(win);
	if (covered_ms == 0)
		return 0;
	return (double)c->hist_sum[win] * (double)span / (double)covered_ms;
}

static double trend_raw_score(double obs, double exp, uint32_t min_authors)
{
	if (obs < min_authors || obs <= exp)
		return 0;
	double d = obs - exp;
	return d * d / (exp > 1 ? exp : 1);
}

static double term_score(struct window *w, const struct view_plan *p, uint32_t id,
			 uint64_t authors)
{
	int win = p->win;
	struct wcold *pk = &w->cold[id];
	if (w->end_ms - pk->first_seen_ms < w->cfg.warmup_ms)
		return 0;
	bool known;
	double exp_authors = term_expected(w, p, id, &known);
	if (!known)
		return 0; /* warming up: no history to compare with yet */
	double raw = trend_raw_score((double)authors, exp_authors, w->cfg.min_authors);
	double hl_ms = w->cfg.half_life_s * 1000.0 *
		       ((double)window_span_ms(win) / (double)window_span_ms(WINDOW_5M));
	double decayed = 0;
	if (pk->peak[win] > 0 && hl_ms > 0)
		decayed = pk->peak[win] * exp2(-(double)(w->end_ms - pk->peak_ms[win]) / hl_ms);
	if (raw >= decayed) {
		pk->peak[win] = (float)raw;
		pk->peak_ms[win] = w->end_ms;
		return raw;
	}
	return decayed < 0.01 ? 0 : decayed;
}

/* Min-heap of term ids keyed by a window count. */
struct heap {
	uint32_t *v;
	size_t n, cap;
};

static inline uint32_t hcount(const struct window *w, int win, uint32_t id)
{
	return wsum_total(&w->cold[id].sum[win]);
}

static void heap_push(struct heap *h, const struct window *w, int win, uint32_t id)
{
	uint32_t c = hcount(w, win, id);
	size_t i;
	if (h->n == h->cap) {
		if (c <= hcount(w, win, h->v[0]))
			return;
		/* replace the root and sift down */
		i = 0;
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;
			uint32_t mc = c;
			if (l < h->n && hcount(w, win, h->v[l]) < mc) {
				m = l;
				mc = hcount(w, win, h->v[l]);
			}
			if (r < h->n && hcount(w, win, h->v[r]) < mc)
				m = r;
			if (m == i)
				break;
			h->v[i] = h->v[m];
			i = m;
		}
		h->v[i] = id;
		return;
	}
	i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (hcount(w, win, h->v[p]) <= c)
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = id;
}

struct cand {
	uint32_t id;
	uint32_t count;
	uint64_t authors;
	double score;
	int32_t view_idx;
};

static int cmp_cand_count(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_cand_score(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return cmp_cand_count(a, b);
}

/* Series and per-term error bound: the buckets of the window's level in range. */
static void term_series(struct window *w, const struct view_plan *p, uint32_t id,
			uint32_t *series, uint32_t *error)
{
	uint32_t err = 0;
	const struct entry **es = w->fe;
	buckets_find(p->series, p->nseries, id, es);
	for (uint32_t i = 0; i < p->nseries; i++) {
		const struct bucket *b = p->series[i];
		if (es[i])
			series[p->series_at[i]] += entry_total(es[i]);
		else if (b->state != B_OPEN)
			err += b->error;
		err += b->error_in;
	}
	for (uint32_t j = 0; j < p->nopen; j++) {
		const struct entry *e1 = bucket_find(p->open[j], id);
		if (e1)
			series[p->open_at[j]] += entry_total(e1);
	}
	*error = err;
}

static void volume_series(struct window *w, int win, uint32_t *series)
{
	const struct level *L = &w->lv[win];
	int64_t end = floor_div(w->end_ms, L->span_ms), first = end - L->nwin + 1;
	uint32_t per = (uint32_t)(L->nwin / series_points[win]);
	for (int64_t k = first; k <= end; k++) {
		const struct bucket *b = level_bucket((struct level *)L, k);
		uint64_t c = b ? b->vol.posts : 0;
		if (win == WINDOW_24H && (!b || b->state == B_OPEN)) {
			const struct level *L1 = &w->lv[1];
			for (int64_t m = k * 15; m < k * 15 + 15; m++) {
				const struct bucket *b1 = level_bucket((struct level *)L1, m);
				if (b1 && b1->state == B_OPEN)
					c += b1->vol.posts;
			}
		}
		series[(uint32_t)(k - first) / per] += (uint32_t)c;
	}
}

/*
 * The series and error bounds of a view's terms tr[0..n) (ids[k] the term
 * of tr[k]): term_series() of each, but read bucket by bucket - each series
 * bucket's entries once, looking their terms up among the view's - instead
 * of term by term, one probe of every bucket for each (a view shows up to a
 * thousand terms, the 5m window has 300 buckets). The sums are the same:
 * a term's error is what the closed buckets without it and every bucket's
 * error_in add, that is all closed buckets' errors less those of the ones
 * that have it, plus the error_in.
 */
static int view_series(struct window *w, const struct view_plan *p, const uint32_t *ids,
		       struct trend *tr, uint32_t n)
{
	uint32_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	uint32_t *slot = calloc(cap, sizeof *slot); /* 1 + k for term ids[k] */
	uint32_t *got = calloc(n ? n : 1, sizeof *got); /* closed buckets' errors a term is in */
	uint64_t *shown = calloc(w->nterms / 64 + 1, sizeof *shown); /* bit id: ids has it */
	if (!slot || !got || !shown) {
		free(slot);
		free(got);
		free(shown);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t j = (uint32_t)hash_u64(ids[k]) & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = k + 1;
		shown[ids[k] / 64] |= 1ull << (ids[k] % 64);
	}
	uint32_t err = 0;
	for (uint32_t i = 0; i < p->nseries; i++) {
		const struct bucket *b = p->series[i];
		bool closed = b->state != B_OPEN;
		uint8_t at = p->series_at[i];
		if (closed)
			err += b->error;
		err += b->error_in;
		for (uint32_t x = 0; x < b->n; x++) {
			const struct entry *e = &b->e[x];
			if (!(shown[e->term / 64] >> (e->term % 64) & 1))
				continue;
			uint32_t j = (uint32_t)hash_u64(e->term) & (cap - 1), k;
			while (ids[(k = slot[j]) - 1] != e->term) /* there: its bit is set */
				j = (j + 1) & (cap - 1);
			tr[k - 1].series[at] += entry_total(e);
			if (closed)
				got[k - 1] += b->error;
		}
	}
	for (uint32_t k = 0; k < n; k++) {
		for (uint32_t j = 0; j < p->nopen; j++) {
			const struct entry *e1 = bucket_find(p->open[j], ids[k]);
			if (e1)
				tr[k].series[p->open_at[j]] += entry_total(e1);
		}
		tr[k].error = err - got[k];
	}
	free(slot);
	free(got);
	free(shown);
	return 0;
}

/*
 * The candidates of each view wanted (want[win]): the top C terms by count
 * of each kind, into heaps[win][kind], in one pass over the terms for all.
 */
static int view_candidates(struct window *w, const bool *want,
			   struct heap (*heaps)[TERM_KIND_COUNT])
{
	const size_t C = w->cfg.candidates;
	for (int win = 0; win < WINDOW_COUNT; win++)
		for (int k = 0; want[win] && k < TERM_KIND_COUNT; k++) {
			heaps[win][k].cap = C;
			heaps[win][k].v = malloc(C * sizeof(uint32_t));
			if (!heaps[win][k].v)
				return -ENOMEM;
		}
	for (uint32_t id = 0; id < w->nterms; id++) {
		const struct wcold *c = &w->cold[id];
		if (!c->live || c->kind >= TERM_KIND_COUNT)
			continue;
		for (int win = 0; win < WINDOW_COUNT; win++)
			if (want[win] && wsum_total(&c->sum[win]) > 0)
				heap_push(&heaps[win][c->kind], w, win, id);
	}
	return 0;
}

/* One view from its candidates (view_candidates()). */
static int fill_view(struct window *w, int win, struct snapshot *s, struct snapshot_view *v,
		     struct heap *heaps)
{
	const size_t K = SNAPSHOT_TOP_K;
	struct cand *cands = NULL, *byscore = NULL;
	uint32_t *ids = NULL;
	size_t ncand = 0;
	int rc = -ENOMEM;

	v->window = win;
	v->series_points = series_points[win];
	v->series_step_ms = level_span_ms[win] * (level_nwin[win] / series_points[win]);
	v->posts = w->vol[win].posts;
	v->pos = w->vol[win].pos;
	v->neg = w->vol[win].neg;
	v->neu = v->posts - v->pos - v->neg;
	v->sentiment = v->posts ? w->vol[win].sent / (double)v->posts : 0;
	v->history_ms = window_history_ms(w, win);
	v->history_needed_ms = history_needed_ms(win);
	v->volume_series = snapshot_alloc(s, v->series_points * sizeof(uint32_t));
	if (!v->volume_series)
		goto out;
	volume_series(w, win, v->volume_series);

	/* 1. candidates: the top C terms by count of each kind */
	for (int k = 0; k < TERM_KIND_COUNT; k++)
		ncand += heaps[k].n;
	cands = calloc(ncand ? ncand : 1, sizeof *cands);
	byscore = calloc(ncand ? ncand : 1, sizeof *byscore);
	ids = malloc((ncand ? ncand : 1) * sizeof *ids);
	if (!cands || !byscore || !ids)
		goto out;
	ncand = 0;
	for (int k = 0; k < TERM_KIND_COUNT; k++)
		for (size_t i = 0; i < heaps[k].n; i++) {
			uint32_t id = heaps[k].v[i];
			cands[ncand++] = (struct cand){ .id = id, .count = hcount(w, win, id),
							.view_idx = -1 };
		}
	qsort(cands, ncand, sizeof *cands, cmp_cand_count);

	/* 2. authors and score for every candidate */
	struct view_plan plan;
	view_plan(w, win, &plan);
	for (size_t i = 0; i < ncand; i++) {
		cands[i].authors = term_authors(w, &plan, cands[i].id);
		if (cands[i].authors > cands[i].count)
			cands[i].authors = cands[i].count; /* an estimate never beats the count */
		cands[i].score = term_score(w, &plan, cands[i].id, cands[i].authors);
		ids[i] = cands[i].id;
	}
	prefix_build_ahead(w, &plan, ids, ncand);
	hist_build_ahead(w, win, ids, ncand);
	memcpy(byscore, cands, ncand * sizeof *cands);
	qsort(byscore, ncand, sizeof *byscore, cmp_cand_score);

	/* 3. rankings (indexes into cands first, view indexes later) */
	uint32_t *rank_cand[SORT_COUNT_][TERM_KIND_COUNT + 1];
	uint32_t rank_n[SORT_COUNT_][TERM_KIND_COUNT + 1];
	memset(rank_n, 0, sizeof rank_n);
	for (int sort = 0; sort < SORT_COUNT_; sort++)
		for (int k = 0; k <= TERM_KIND_COUNT; k++) {
			rank_cand[sort][k] = snapshot_alloc(s, K * sizeof(uint32_t));
			if (!rank_cand[sort][k])
				goto out;
		}
	/* position of each candidate in cands, for byscore entries */
	for (size_t i = 0; i < ncand; i++)
		cands[i].view_idx = (int32_t)i;
	for (size_t i = 0; i < ncand; i++) {
		int kind = w->cold[cands[i].id].kind;
		if (rank_n[SORT_COUNT][kind] < K)
			rank_cand[SORT_COUNT][kind][rank_n[SORT_COUNT][kind]++] = (uint32_t)i;
		if (rank_n[SORT_COUNT][TERM_KIND_ALL] < K)
			rank_cand[SORT_COUNT][TERM_KIND_ALL][rank_n[SORT_COUNT][TERM_KIND_ALL]++] =
				(uint32_t)i;
	}
	/* map byscore back to cands positions by id */
	for (size_t i = 0; i < ncand; i++) {
		if (byscore[i].score <= 0)
			break;
		uint32_t pos = 0;
		/* cands is sorted by count desc then id: binary search */
		size_t lo = 0, hi = ncand;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (cmp_cand_count(&cands[mid], &byscore[i]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = (uint32_t)lo;
		int kind = w->cold[byscore[i].id].kind;
		if (rank_n[SORT_SCORE][kind] < K)
			rank_cand[SORT_SCORE][kind][rank_n[SORT_SCORE][kind]++] = pos;
		if (rank_n[SORT_SCORE][TERM_KIND_ALL] < K)
			rank_cand[SORT_SCORE][TERM_KIND_ALL][rank_n[SORT_SCORE][TERM_KIND_ALL]++] =
				pos;
	}

	/* 4. view entries: every candidate that made a ranking, once */
	for (size_t i = 0; i < ncand; i++)
		cands[i].view_idx = -1;
	size_t nview = 0;
	for (int sort = 0; sort < SORT_COUNT_; sort++)
		for (int k = 0; k <= TERM_KIND_COUNT; k++)
			for (uint32_t r = 0; r < rank_n[sort][k]; r++) {
				struct cand *c = &cands[rank_cand[sort][k][r]];
				if (c->view_idx < 0)
					c->view_idx = (int32_t)nview++;
			}
	v->ntrends = (uint32_t)nview;
	v->trends = snapshot_alloc(s, (nview ? nview : 1) * sizeof *v->trends);
	if (!v->trends)
		goto out;
	for (size_t i = 0; i < ncand; i++) {
		struct cand *c = &cands[i];
		if (c->view_idx < 0)
			continue;
		const struct wcold *t = &w->cold[c->id];
		struct trend *tr = &v->trends[c->view_idx];
		const struct wsum *sm = &w->cold[c->id].sum[win];
		tr->term = snapshot_strdup(s, term_str(t), t->len);
		tr->series = snapshot_alloc(s, v->series_points * sizeof(uint32_t));
		if (!tr->term || !tr->series)
			goto out;
		tr->term_len = t->len;
		tr->kind = t->kind;
		tr->count = wsum_total(sm);
		tr->authors = (uint32_t)c->authors;
		tr->score = c->score;
		tr->sentiment = tr->count ? sm->sent / (double)tr->count : 0;
		tr->pos = sm->n[LABEL_POS];
		tr->neg = sm->n[LABEL_NEG];
		tr->neu = sm->n[LABEL_NEU];
		ids[c->view_idx] = c->id;
	}
	if (view_series(w, &plan, ids, v->trends, (uint32_t)nview) < 0)
		goto out;
	for (int sort = 0; sort < SORT_COUNT_; sort++)
		for (int k = 0; k <= TERM_KIND_COUNT; k++) {
			struct trend_ranking *rk = &v->rank[sort][k];
			rk->n = rank_n[sort][k];
			rk->idx = rank_cand[sort][k];
			for (uint32_t r = 0; r < rk->n; r++)
				rk->idx[r] = (uint32_t)cands[rk->idx[r]].view_idx;
		}
	rc = 0;
out:
	free(ids);
	free(cands);
	free(byscore);
	return rc;
}

/*
 * The views wanted (want[win]) into v[win]: the pending author adds applied
 * and the totals synced, candidates ranked in one pass, then each view.
 */
static int fill_views(struct window *w, const bool *want, struct snapshot *s,
		      struct snapshot_view *const *v)
{
	struct heap heaps[WINDOW_COUNT][TERM_KIND_COUNT];
	memset(heaps, 0, sizeof heaps);
	window_flush_authors(w); /* term_authors reads the open minutes' sets */
	window_sync(w);          /* and the ranking, the totals */
	int rc = view_candidates(w, want, heaps);
	for (int win = 0; rc == 0 && win < WINDOW_COUNT; win++)
		if (want[win])
			rc = fill_view(w, win, s, v[win], heaps[win]);
	for (int win = 0; win < WINDOW_COUNT; win++)
		for (int k = 0; k < TERM_KIND_COUNT; k++)
			free(heaps[win][k].v);
	return rc;
}

int window_fill_views(struct window *w, struct snapshot *s, struct snapshot_view *v)
{
	const bool want[WINDOW_COUNT] = { true, true, true };
	struct snapshot_view *const vs[WINDOW_COUNT] = { &v[0], &v[1], &v[2] };
	return fill_views(w, want, s, vs);
}

int window_fill_view(struct window *w, int win, struct snapshot *s, struct snapshot_view *v)
{
	bool want[WINDOW_COUNT] = { false };
	struct snapshot_view *vs[WINDOW_COUNT] = { NULL };
	want[win] = true;
	vs[win] = v;
	return fill_views(w, want, s, vs);
}

void window_lookup(struct window *w, int win, int kind, const char *term, size_t len,
		   struct window_term_info *out)
{
	memset(out, 0, sizeof *out);
	struct tkey k;
	uint64_t h = term_key((uint8_t)kind, term, len, &k);
	uint32_t id = window_term_find(w, (uint8_t)kind, term, len, h, k, NULL);
	if (id == NO_TERM)
		return;
	window_flush_authors(w);
	window_sync(w);
	const struct wsum *sm = &w->cold[id].sum[win];
	out->found = true;
	out->count = wsum_total(sm);
	out->pos = sm->n[LABEL_POS];
	out->neg = sm->n[LABEL_NEG];
	out->sent_sum = sm->sent;
	struct view_plan plan;
	view_plan(w, win, &plan);
	out->authors = (uint32_t)term_authors(w, &plan, id);
	term_series(w, &plan, id, out->series, &out->error);
	bool known;
	double exp_authors = term_expected(w, &plan, id, &known);
	out->score = known ? trend_raw_score(out->authors, exp_authors, w->cfg.min_authors) : 0;
}

