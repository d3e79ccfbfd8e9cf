#include "analytics/window.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/hll.h"
#include "analytics/tokenize.h"
#include "analytics/window_impl.h"
#include "core/bigmem.h"
#include "core/hash.h"

void window_config_defaults(struct window_config *c)
{
	c->lateness_ms = 60000;
	c->top_m = 4096;
	c->min_authors = 5;
	c->warmup_ms = 30000;
	c->half_life_s = 60;
	c->future_ms = 5 * 60000;
	c->candidates = 256;
}

/*
 * Arrays of a megabyte and more - the term records and the term index of a
 * busy window, an open minute's author log and the scratch a flush sorts it
 * into - come from core/bigmem.h, on huge pages, where a round of the bench's
 * full stage (200,000 posts, a new window) takes ~870 page faults instead of
 * ~3,030: the log and the scratch are made anew every minute or flush. None of
 * these arrays is read index for index alongside another, so all may start at
 * a 2 MiB boundary without their accesses colliding in the caches.
 */

/* ---- terms ---------------------------------------------------------- */

int window_tindex_grow(struct window *w)
{
	uint32_t cap = w->tindex_cap ? w->tindex_cap * 2 : 1024;
	/* 64-byte aligned so that no slot straddles two lines (cap * 32 is a multiple of 64) */
	struct tslot *idx = bigmem_alloc((size_t)cap * sizeof *idx, true);
	if (!idx)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->tindex_cap; i++) {
		struct tslot sl = w->tindex[i];
		if (!sl.id1)
			continue;
		uint32_t j = slot_tag(&sl) & (cap - 1);
		while (idx[j].id1)
			j = (j + 1) & (cap - 1);
		idx[j] = sl;
	}
	bigmem_free(w->tindex, (size_t)w->tindex_cap * sizeof *idx);
	w->tindex = idx;
	w->tindex_cap = cap;
	return 0;
}

/* The id of term (kind, s[0..len)) with hash h and key words k, or NO_TERM and its free slot. */
uint32_t window_term_find(const struct window *w, uint8_t kind, const char *s, size_t len,
			  uint64_t h, struct tkey k, uint32_t *slot_out)
{
	uint32_t mask = w->tindex_cap - 1, j = term_tag(h) & mask;
	uint64_t meta = slot_meta(h, kind, len);
	for (;;) {
		const struct tslot *sl = &w->tindex[j];
		if (!sl->id1) {
			if (slot_out)
				*slot_out = j;
			return NO_TERM;
		}
		if (slot_is(sl, meta, k) && term_is(w, sl->id1 - 1, s, len))
			return sl->id1 - 1;
		j = (j + 1) & mask;
	}
}

/*
 * The first term whose slot has the key of (kind, text of length len), or
 * NO_TERM: for a text of at most 16 bytes the answer, for a longer one a
 * guess that term_is confirms. Reads the index only.
 */
static inline uint32_t term_guess(const struct window *w, uint64_t meta, struct tkey k)
{
	uint32_t mask = w->tindex_cap - 1, j = (uint32_t)meta & mask;
	for (;;) {
		const struct tslot *sl = &w->tindex[j];
		if (!sl->id1)
			return NO_TERM;
		if (slot_is(sl, meta, k))
			return sl->id1 - 1;
		j = (j + 1) & mask;
	}
}

/* Grows the term array; terms move, so callers hold ids, not pointers. */
int window_terms_grow(struct window *w)
{
	uint32_t cap = w->terms_cap ? w->terms_cap * 2 : 1024;
	struct wterm *nt = bigmem_alloc((size_t)cap * sizeof *nt, false);
	struct wcold *np = realloc(w->cold, (size_t)cap * sizeof *np);
	if (np)
		w->cold = np;
	if (!nt || !np) {
		bigmem_free(nt, (size_t)cap * sizeof *nt);
		return -ENOMEM;
	}
	if (w->nterms)
		memcpy(nt, w->terms, (size_t)w->nterms * sizeof *nt);
	bigmem_free(w->terms, (size_t)w->terms_cap * sizeof *nt);
	w->terms = nt;
	w->terms_cap = cap;
	return 0;
}

/* The term's id, interned if new; NO_TERM when out of memory. */
static uint32_t term_intern(struct window *w, uint8_t kind, const char *s, size_t len, uint64_t h,
			    struct tkey k)
{
	uint32_t slot;
	uint32_t id = window_term_find(w, kind, s, len, h, k, &slot);
	if (id != NO_TERM)
		return id;
	if ((w->live_terms + 1) * 4 > w->tindex_cap * 3) {
		if (window_tindex_grow(w) < 0)
			return NO_TERM;
		window_term_find(w, kind, s, len, h, k, &slot);
	}
	if (w->free_head == NO_TERM && w->nterms == w->terms_cap && window_terms_grow(w) < 0)
		return NO_TERM;
	char *out = NULL;
	if (len >= TERM_INLINE) {
		out = malloc(len + 1);
		if (!out)
			return NO_TERM;
		memcpy(out, s, len);
		out[len] = 0;
	}
	if (w->free_head != NO_TERM) {
		id = w->free_head;
		w->free_head = w->terms[id].u.next_free;
	} else {
		id = w->nterms++;
	}
	struct wcold *c = &w->cold[id];
	memset(&w->terms[id], 0, sizeof w->terms[id]);
	memset(c, 0, sizeof *c);
	if (out) {
		c->str.out = out;
	} else {
		memcpy(c->str.in, s, len);
		c->str.in[len] = 0;
	}
	c->len = (uint16_t)len;
	c->kind = kind;
	c->live = 1;
	c->first_seen_ms = w->end_ms;
	w->terms_unsaved++; /* c->seg is 0 */
	/* no entry hint: a first check then fails on the entry's term id */
	w->tindex[slot] = slot_make(id, kind, len, h, k);
	w->live_terms++;
	return id;
}

/* Removes a term whose last bucket entry went away (backward-shift delete). */
static void term_release(struct window *w, uint32_t id)
{
	struct wterm *t = &w->terms[id];
	struct wcold *c = &w->cold[id];
	uint32_t mask = w->tindex_cap - 1;
	uint32_t j = term_tag(term_hash(c->kind, term_str(c), c->len)) & mask;

	assert(c->live && t->refs == 0);
	while (w->tindex[j].id1 != id + 1)
		j = (j + 1) & mask;
	for (;;) {
		uint32_t k = (j + 1) & mask;
		w->tindex[j] = (struct tslot){ .id1 = 0 };
		for (;;) {
			struct tslot sl = w->tindex[k];
			if (!sl.id1)
				goto done;
			uint32_t home = slot_tag(&sl) & mask;
			/* move it back if its home is not in the (j, k] cyclic range */
			bool between = j <= k ? (home > j && home <= k) : (home > j || home <= k);
			if (!between) {
				w->tindex[j] = sl;
				j = k;
				break;
			}
			k = (k + 1) & mask;
		}
	}
done:
	if (c->len >= TERM_INLINE)
		free(c->str.out);
	if (c->seg)
		w->tseg[c->seg - 1].nlive--;
	else
		w->terms_unsaved--;
	c->live = 0;
	t->u.next_free = w->free_head;
	w->free_head = id;
	w->live_terms--;
}

static inline void term_unref(struct window *w, uint32_t id)
{
	if (--w->terms[id].refs == 0)
		term_release(w, id);
}

/* ---- buckets -------------------------------------------------------- */

void window_bucket_reindex(struct bucket *b)
{
	uint32_t mask = b->idx_cap - 1;
	memset(b->idx, 0, b->idx_cap * sizeof *b->idx);
	for (uint32_t i = 0; i < b->n; i++) {
		uint32_t j = entry_home(b->e[i].term, mask);
		while (b->idx[j])
			j = (j + 1) & mask;
		b->idx[j] = i + 1;
	}
}

static int bucket_grow(struct bucket *b)
{
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 16;
		if (b->sketches) {
			struct hll_set *nk = realloc(b->sk, cap * sizeof *nk);
			if (!nk)
				return -ENOMEM;
			b->sk = nk;
		}
		struct entry *ne = realloc(b->e, cap * sizeof *ne);
		if (!ne)
			return -ENOMEM;
		b->e = ne;
		b->cap = cap;
	}
	if ((b->n + 1) * 2 > b->idx_cap) {
		uint32_t cap = b->idx_cap ? b->idx_cap * 2 : 32;
		uint32_t *ni = realloc(b->idx, cap * sizeof *ni);
		if (!ni)
			return -ENOMEM;
		b->idx = ni;
		b->idx_cap = cap;
		window_bucket_reindex(b);
	}
	return 0;
}

/* Gives an open level-0/1 bucket's syn as many slots as e. 0 or -ENOMEM. */
int window_syn_fit(struct bucket *b)
{
	if (b->syn_cap >= b->cap)
		return 0;
	struct wsum *ns = realloc(b->syn, (size_t)b->cap * sizeof *ns);
	if (!ns)
		return -ENOMEM;
	b->syn = ns;
	b->syn_cap = b->cap;
	return 0;
}

static void syn_free(struct bucket *b)
{
	free(b->syn);
	b->syn = NULL;
	b->syn_cap = 0;
}

/* Index of the entry for term, creating it (and a term reference); NO_TERM when out of memory. */
static uint32_t bucket_get(struct window *w, struct bucket *b, uint32_t term)
{
	uint32_t ix = bucket_find_ix(b, term);
	if (ix != NO_TERM)
		return ix;
	if (bucket_grow(b) < 0)
		return NO_TERM;
	uint32_t mask = b->idx_cap - 1, j = entry_home(term, mask);
	while (b->idx[j])
		j = (j + 1) & mask;
	if (b->level < 2 && b->state == B_OPEN && window_syn_fit(b) < 0)
		return NO_TERM;
	ix = b->n++;
	b->e[ix] = (struct entry){ .term = term };
	if (b->sketches)
		memset(&b->sk[ix], 0, sizeof b->sk[ix]);
	if (b->syn)
		b->syn[ix] = (struct wsum){ { 0, 0, 0 }, 0 };
	b->idx[j] = ix + 1;
	w->terms[term].refs++;
	w->entries++;
	return ix;
}

/*
 * Author sets of an open minute. Adding a post's author to the set of each
 * of its terms directly costs a cache line per sparse set: a random line of
 * a set of a few KiB, among megabytes of sets per minute, and those lines
 * push the tokenizer's and the sentiment tables out of the cache on every
 * post. So a post does not touch the sets: it appends (entry, author) to
 * its minute's log - a sequential write - and the log is applied in
 * batches sorted by entry, so each set takes all its adds of a batch in one
 * run (hll_group_add_run: its lines are in cache after the first few, and
 * it grows once for the run instead of doubling on the way), and the other
 * tables are evicted once per batch instead of once per post. A batch is a
 * full log or whatever is pending when something reads the sets. The log
 * grows from ALOG_FIRST to ALOG_MAX slots of 8 bytes (2 MiB) per open minute
 * and a flush borrows as much again to sort: the memory stays bounded, and
 * a quiet window's minutes keep small logs. The one exception is a set in
 * a group column: its register row is picked by the author and shared by
 * all the post's dense terms (see hll.h), so a post updates it at once,
 * finding the column through the entry's copy of it (struct entry.authors);
 * logging those adds too measured slower.
 *
 * Why this is exact: a set is a union, so adds applied later or in another
 * order give the same set - the same hashes while exact, the same registers
 * once dense (a sparse set that takes a column carries all its hashes into
 * it, whenever that happens). What must hold is that nothing reads a set
 * while adds for it wait in the log: every reader of open level-1 sets -
 * term_authors (through window_fill_view and window_lookup),
 * window_open_minutes, closing (which prunes and so renumbers entries),
 * window_check and saving - applies the log first. Until then the entry
 * indexes in the log stay valid: entries of an open bucket only move when
 * it is pruned, at close.
 */
#define ALOG_FIRST 256u
#define ALOG_MAX   (1u << 18) /* larger batches measured barely faster */

/*
 * Sorts x[0..n) by entry index (the high word) with a stable LSD radix sort
 * over the bits that indexes below nentries use, in as few passes of at most
 * 16 bits as they need - one for a minute of up to 65536 terms. Returns the
 * sorted array (x or a copy the caller frees with bigmem_free(to_free, n * 8)),
 * or NULL when out of memory.
 */
static uint64_t *alog_sort(uint64_t *x, uint32_t n, uint32_t nentries, uint64_t **to_free)
{
	uint32_t bits = nentries > 1 ? 32 - (uint32_t)__builtin_clz(nentries - 1) : 1;
	uint32_t passes = (bits + 15) / 16, digit = (bits + passes - 1) / passes;
	uint64_t *tmp = bigmem_alloc((size_t)n * sizeof *tmp, false);
	uint32_t *cnt = malloc(((size_t)1 << digit) * sizeof *cnt);
	*to_free = tmp;
	if (!tmp || !cnt) {
		free(cnt);
		return NULL;
	}
	for (uint32_t p = 0; p < passes; p++) {
		uint32_t shift = 32 + p * digit, mask = (1u << digit) - 1, sum = 0;
		memset(cnt, 0, (mask + 1) * sizeof *cnt);
		for (uint32_t i = 0; i < n; i++)
			cnt[(x[i] >> shift) & mask]++;
		for (uint32_t d = 0; d <= mask; d++) {
			uint32_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (uint32_t i = 0; i < n; i++)
			tmp[cnt[(x[i] >> shift) & mask]++] = x[i];
		uint64_t *t = x;
		x = tmp;
		tmp = t;
	}
	free(cnt);
	return x;
}

/* Adds an author to the set of entry ix of open level-1 bucket b, keeping the column copy. */
static inline void entry_add_author(struct bucket *b, uint32_t ix, const struct hll_key *k)
{
	struct hll_set *set = &b->sk[ix];
	/* -ENOMEM leaves the set without this author: fewer authors, never wrong ones */
	hll_group_add(&b->grp, set, k);
	if (set->cap == HLL_SET_COLUMN)
		b->e[ix].authors = set->n + 1;
}

/* Applies the adds of entry ix's run x[0..n) to its set, keeping the column copy. */
static inline void entry_apply_run(struct bucket *b, uint32_t ix, const uint64_t *x, uint32_t n)
{
	/* -ENOMEM leaves the set without some authors: fewer, never wrong ones */
	hll_group_add_run(&b->grp, &b->sk[ix], x, n);
	if (b->sk[ix].cap == HLL_SET_COLUMN)
		b->e[ix].authors = b->sk[ix].n + 1;
}

/* Entries up to which a flush sorts by counting (the one-pass case of alog_sort). */
#define ALOG_COUNT_MAX (1u << 16)

/* Where entry d's run in a counted log starts: end[] as alog_apply_counted leaves it. */
static inline uint32_t run_start(const uint32_t *end, uint32_t d)
{
	return d ? end[d - 1] : 0;
}

/*
 * The first entry after d (from 0 when d is UINT32_MAX) whose run in a
 * counted log is not empty, or ne.
 */
static inline uint32_t run_next(const uint32_t *end, uint32_t ne, uint32_t d)
{
	for (d++; d < ne && end[d] == run_start(end, d); d++)
		;
	return d;
}

/*
 * Starts loading the whole slot array of entry d's sparse set, for the run
 * after the one being applied. Without it each run began with its first
 * probes waiting on a set last touched a flush earlier - in the bench about
 * 10,000 such waits per flush, one after another. Loaded a run early, the
 * set arrives while the previous run is applied (a set that grows first
 * rehashes these same slots). Only a set of at most RUN_PF_LINES lines per
 * add of its run (plus 8) is loaded whole, so a big set with a short run
 * does not load lines it will not probe; an inline set needs nothing, a
 * column is not read here. A prefetch changes nothing the adds see, and the
 * run applied meanwhile is another entry's: it neither moves nor frees this
 * set.
 */
#define RUN_PF_LINES 2

static inline void run_prefetch_set(const struct bucket *b, const uint32_t *end, uint32_t d)
{
	const struct hll_set *s = &b->sk[d];
	uint32_t len = end[d] - run_start(end, d), per_line = 64 / sizeof(uint32_t);
	if (s->cap == 0 || s->cap >= HLL_SET_PACKED || s->cap / per_line > RUN_PF_LINES * len + 8)
		return;
	for (uint32_t k = 0; k < s->cap; k += per_line)
		__builtin_prefetch((const uint32_t *)s->u.heap.mem + k, 1);
}

/*
 * bucket_flush_authors() for a bucket of at most ALOG_COUNT_MAX entries: a
 * counting sort by entry index - the one pass alog_sort would make, stable
 * like it, so every set takes the same adds in the same order - whose
 * counters then give each entry's run directly, with no scan of the sorted
 * log for run boundaries. -ENOMEM (nothing applied) when out of scratch.
 */
static int alog_apply_counted(struct bucket *b, const uint64_t *x, uint32_t n)
{
	uint32_t ne = b->n;
	uint32_t *end = calloc(ne, sizeof *end);
	uint64_t *y = bigmem_alloc((size_t)n * sizeof *y, false);
	if (!end || !y) {
		free(end);
		bigmem_free(y, (size_t)n * sizeof *y);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		end[x[i] >> 32]++;
	for (uint32_t d = 0, sum = 0; d < ne; d++) {
		uint32_t c = end[d];
		end[d] = sum;
		sum += c;
	}
	for (uint32_t i = 0; i < n; i++)
		y[end[x[i] >> 32]++] = x[i];
	/*
	 * end[d] is now where entry d's run ends, and the previous one's end its
	 * start; the set of the next non-empty run is loaded while this one is applied
	 */
	for (uint32_t d = run_next(end, ne, UINT32_MAX), next; d < ne; d = next) {
		next = run_next(end, ne, d);
		if (next < ne)
			run_prefetch_set(b, end, next);
		uint32_t start = run_start(end, d);
		entry_apply_run(b, d, y + start, end[d] - start);
	}
	free(end);
	bigmem_free(y, (size_t)n * sizeof *y);
	return 0;
}

/* Applies b's pending author adds to its sets. */
static void bucket_flush_authors(struct bucket *b)
{
	uint32_t n = b->alog_n;
	if (n == 0)
		return;
	b->alog_n = 0;
	assert(b->n > 0);
	if (b->n <= ALOG_COUNT_MAX && alog_apply_counted(b, b->alog, n) == 0)
		return;
	/* scratch for one flush only: a window keeps no sort memory between them */
	uint64_t *to_free;
	const uint64_t *x = alog_sort(b->alog, n, b->n, &to_free);
	if (!x)
		x = b->alog; /* out of memory to sort: unsorted is slower, not wrong */
	/* a run x[i..j) of one entry: sorted, every add of its set in this flush */
	for (uint32_t i = 0, j; i < n; i = j) {
		uint32_t ix = (uint32_t)(x[i] >> 32);
		for (j = i + 1; j < n && (uint32_t)(x[j] >> 32) == ix; j++)
			;
		if (j < n) /* the next run's set, read in the order of the sort */
			__builtin_prefetch(&b->sk[x[j] >> 32]);
		entry_apply_run(b, ix, x + i, j - i);
	}
	bigmem_free(to_free, (size_t)n * sizeof *to_free);
}

/* Applies the pending author adds of every open minute: before anything reads their sets. */
void window_flush_authors(struct window *w)
{
	struct level *L = &w->lv[1];
	for (uint32_t i = 0; i < L->nslots; i++)
		bucket_flush_authors(&L->b[i]);
}

/*
 * Makes room for need more log slots in b: grows the log up to ALOG_MAX,
 * then applies it. False when there is no log memory at all: the caller
 * adds to the sets directly.
 */
static bool alog_room(struct bucket *b, uint32_t need)
{
	if (b->alog_cap - b->alog_n >= need)
		return true;
	if (b->alog_cap < ALOG_MAX) {
		uint32_t cap = b->alog_cap ? b->alog_cap * 2 : ALOG_FIRST;
		uint64_t *l = bigmem_realloc(b->alog, (size_t)b->alog_cap * sizeof *l,
					  (size_t)cap * sizeof *l);
		if (l) {
			b->alog = l;
			b->alog_cap = cap;
			if (cap - b->alog_n >= need)
				return true;
		}
	}
	bucket_flush_authors(b);
	return b->alog_cap >= need;
}

static void alog_free(struct bucket *b)
{
	bigmem_free(b->alog, (size_t)b->alog_cap * sizeof *b->alog);
	b->alog = NULL;
	b->alog_n = b->alog_cap = 0;
}

/* A level-1 or level-2 bucket that views may have read changed (see level_epoch). */
static inline void history_changed(struct window *w, int level) { w->level_epoch[level]++; }

/*
 * The same for a bucket the window holds, which changed other than by
 * closing: the unions built ahead for the window's next bucket (see
 * level_edits) no longer hold.
 */
static inline void history_edited(struct window *w, int level)
{
	w->level_epoch[level]++;
	w->level_edits[level]++;
}

/* Drops every entry and returns the slot to empty, keeping its memory. */
static void bucket_clear(struct window *w, struct bucket *b)
{
	bucket_edited(b);
	if (b->level > 0) {
		const struct level *L = &w->lv[b->level];
		window_hist_touch(w, b->level, b->key);
		/* one at or before the window's first bucket is in no union built ahead */
		if (b->key > floor_div(w->end_ms, L->span_ms) - L->nwin + 1)
			history_edited(w, b->level);
		else
			history_changed(w, b->level);
	}
	for (uint32_t i = 0; i < b->n; i++) {
		if (b->sk)
			hll_set_clear(&b->sk[i]);
		term_unref(w, b->e[i].term);
	}
	hll_group_free(&b->grp);
	alog_free(b); /* closed buckets have none; an open one's pending adds go with its sets */
	syn_free(b);  /* likewise (bucket_close frees it) */
	b->dirty = false;
	w->entries -= b->n;
	b->n = 0;
	b->key = EMPTY_KEY;
	b->state = B_EMPTY;
	b->in_sum = false;
	b->error = 0;
	b->error_in = 0;
	memset(&b->vol, 0, sizeof b->vol);
	if (b->idx_cap)
		memset(b->idx, 0, b->idx_cap * sizeof *b->idx);
	/*
	 * A long-idle slot should not pin the memory of a peak; and a slot that
	 * gave up its sketches (baseline) starts over, so e and sk have one cap.
	 */
	if (b->cap > 4096 || (b->level > 0 && !b->sketches)) {
		free(b->e);
		free(b->sk);
		free(b->idx);
		b->e = NULL;
		b->sk = NULL;
		b->idx = NULL;
		b->cap = b->idx_cap = 0;
	}
	b->sketches = b->level > 0;
}

static void sum_sub(struct wsum *s, const struct entry *e)
{
	for (int i = 0; i < 3; i++)
		s->n[i] -= e->n[i];
	s->sent -= e->sent;
	if (wsum_total(s) == 0)
		s->sent = 0; /* no float residue on an empty total */
}

/*
 * vsum_add(s, v, 1) for the one post v describes, without the sign
 * products: a count that has just grown by one is not zero, so the sum is
 * not reset either.
 */
static inline void vsum_count(struct vsum *s, const struct vsum *v)
{
	s->posts++;
	s->pos += v->pos;
	s->neg += v->neg;
	s->sent += v->sent;
}

static void vsum_add(struct vsum *s, const struct vsum *v, int sign)
{
	s->posts += (uint64_t)sign * v->posts;
	s->pos += (uint64_t)sign * v->pos;
	s->neg += (uint64_t)sign * v->neg;
	s->sent += sign * v->sent;
	if (s->posts == 0)
		s->sent = 0;
}

/* Whether v is what posts with compound scores in [-1, 1] can sum to (NaN is not). */
static bool vsum_in_range(const struct vsum *v)
{
	return v->pos <= v->posts && v->neg <= v->posts - v->pos &&
	       fabs(v->sent) <= (double)v->posts * (1 + 1e-9) + 1e-6;
}

/*
 * The volume of window win by its buckets: those in the window, and for 24h
 * also the open minutes (which count there until they roll up). What the
 * running volume w->vol[win] must equal (window_check()).
 */
static struct vsum buckets_vol(const struct window *w, int win)
{
	struct vsum v = { 0, 0, 0, 0 };
	const struct level *L = &w->lv[win];
	for (uint32_t i = 0; i < L->nslots; i++)
		if (L->b[i].in_sum)
			vsum_add(&v, &L->b[i].vol, 1);
	if (win == WINDOW_24H) {
		const struct level *L1 = &w->lv[1];
		int64_t end1 = floor_div(w->end_ms, 60000);
		for (uint32_t i = 0; i < L1->nslots; i++)
			if (L1->b[i].state == B_OPEN && L1->b[i].key <= end1)
				vsum_add(&v, &L1->b[i].vol, 1);
	}
	return v;
}

/*
 * Recounts the volume of window win from its buckets. Called when a bucket
 * leaves a window, instead of subtracting its volume, so that no rounding
 * builds up in the sentiment sum however long the window runs; a level has
 * at most a few hundred slots, and a bucket leaves at most once a second.
 */
static void vol_recount(struct window *w, int win) { w->vol[win] = buckets_vol(w, win); }

static int cmp_count_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Which window totals an entry at `level` is part of. Level-0 entries count
 * in the 5m window; level-1 entries in 1h and - until they roll up into
 * level 2 - in 24h; level-2 entries in 24h.
 */
static void subtract_entry(struct window *w, int level, const struct bucket *b,
			   const struct entry *e, bool from_own_window, bool from_24h)
{
	struct wcold *t = &w->cold[e->term];
	if (from_own_window && b->in_sum)
		sum_sub(&t->sum[level], e);
	if (from_24h)
		sum_sub(&t->sum[WINDOW_24H], e);
}

/*
 * Running totals. A term's totals per window (wcold.sum) are what its
 * entries in that window's buckets hold. Counting a post does not write
 * them: its tokens count into their entries of the open level-0 and
 * level-1 bucket, which a token has to touch anyway, and the bucket is
 * marked dirty. bucket_sync() then adds to the totals what each entry
 * gained since the last sync - the entry minus its copy in b->syn - and
 * everything that reads the totals or takes a bucket out of them syncs
 * first: reading a view (window_fill_view, window_lookup), window_check,
 * saving, closing a bucket (pruning subtracts what it drops) and a bucket
 * leaving its window. So the totals read are the same as if every token
 * had added to them (up to the rounding of the sentiment sums), and the
 * term record a token touches keeps only its dedupe mark, references and
 * entry hints: 16 bytes instead of a cache line, which keeps four times
 * as many hot terms in the cache. A sync costs one pass over a dirty
 * bucket's entries; a bucket is dirty at most once per post and synced at
 * most once per read, close or expiry, not per token.
 *
 * Which totals a delta goes to follows the buckets' windows: a level-0
 * bucket's into 5m while in_sum, a level-1 bucket's into 1h while in_sum
 * and into 24h (an open minute has not rolled up into level 2 yet).
 * in_sum only ever turns false (bucket_leave_window, which syncs first),
 * so this is where each count would have gone when it came.
 */
static void bucket_sync(struct window *w, int level, struct bucket *b)
{
	if (!b->dirty)
		return;
	b->dirty = false;
	assert(level < 2 && b->state == B_OPEN && (b->syn || b->n == 0));
	for (uint32_t i = 0; i < b->n; i++) {
		const struct entry *e = &b->e[i];
		struct wsum *y = &b->syn[i];
		if (entry_synced(e, y))
			continue;
		struct wsum d = { { e->n[0] - y->n[0], e->n[1] - y->n[1], e->n[2] - y->n[2] },
				  e->sent - y->sent };
		*y = entry_sum(e);
		struct wsum *sum = w->cold[e->term].sum;
		int win[2], nwin = 0;
		if (b->in_sum)
			win[nwin++] = level; /* WINDOW_5M or WINDOW_1H */
		if (level == 1)
			win[nwin++] = WINDOW_24H;
		for (int k = 0; k < nwin; k++) {
			for (int j = 0; j < 3; j++)
				sum[win[k]].n[j] += d.n[j];
			sum[win[k]].sent += d.sent;
		}
	}
}

/* bucket_sync() of every dirty bucket: before reading the totals. */
void window_sync(struct window *w)
{
	for (int l = 0; l < 2; l++) {
		struct level *L = &w->lv[l];
		for (uint32_t i = 0; i < L->nslots; i++)
			if (L->b[i].dirty)
				bucket_sync(w, l, &L->b[i]);
	}
}

static void sum_add(struct wsum *s, const struct entry *e)
{
	for (int i = 0; i < 3; i++)
		s->n[i] += e->n[i];
	s->sent += e->sent;
}

/*
 * The totals counted again from the entries, where bucket_sync() puts
 * them: a level's buckets in the window into its own, open minutes into
 * 24h. Counts come out the same as the running totals; sentiment sums up to
 * the rounding of adding in another order.
 */
void window_recount_totals(struct window *w)
{
	for (uint32_t id = 0; id < w->nterms; id++)
		memset(w->cold[id].sum, 0, sizeof w->cold[id].sum);
	for (int l = 0; l < NLEVELS; l++) {
		const struct level *L = &w->lv[l];
		for (uint32_t i = 0; i < L->nslots; i++) {
			const struct bucket *b = &L->b[i];
			bool open_minute = l == 1 && b->state == B_OPEN;
			for (uint32_t k = 0; (b->in_sum || open_minute) && k < b->n; k++) {
				struct wsum *sum = w->cold[b->e[k].term].sum;
				if (b->in_sum)
					sum_add(&sum[l], &b->e[k]);
				if (open_minute)
					sum_add(&sum[WINDOW_24H], &b->e[k]);
			}
		}
	}
}

/*
 * Keeps the top_m entries by count and drops the rest, subtracting them from
 * the totals they were part of. The bucket's error bound becomes the largest
 * dropped count: any term missing from the bucket had at most that many.
 */
static void bucket_prune(struct window *w, int level, struct bucket *b)
{
	uint32_t m = w->cfg.top_m;
	if (b->n <= m)
		return;
	uint32_t *counts = malloc(b->n * sizeof *counts);
	if (!counts)
		return; /* keep everything: exact, just bigger */
	for (uint32_t i = 0; i < b->n; i++)
		counts[i] = entry_total(&b->e[i]);
	qsort(counts, b->n, sizeof *counts, cmp_count_desc);
	uint32_t threshold = counts[m - 1];
	/* Entries above the threshold all stay; ties at it fill the rest of m. */
	uint32_t above = 0;
	for (uint32_t i = 0; i < m; i++)
		above += counts[i] > threshold;
	uint32_t ties_left = m - above, kept = 0, dropped_max = 0;
	free(counts);

	for (uint32_t i = 0; i < b->n; i++) {
		struct entry *e = &b->e[i];
		uint32_t c = entry_total(e);
		bool keep = c > threshold || (c == threshold && ties_left > 0);
		if (keep) {
			if (c == threshold)
				ties_left--;
			if (b->sk)
				b->sk[kept] = b->sk[i]; /* moves the set's memory */
			b->e[kept++] = *e;
			continue;
		}
		if (c > dropped_max)
			dropped_max = c;
		subtract_entry(w, level, b, e, true, level == 1);
		if (b->sk)
			hll_set_clear(&b->sk[i]);
		w->pruned++;
		w->entries--;
		term_unref(w, e->term);
	}
	b->n = kept;
	if (dropped_max > b->error)
		b->error = dropped_max;
	window_bucket_reindex(b);
}

/* ---- levels --------------------------------------------------------- */

static void bucket_retire(struct window *w, int level, struct bucket *b);

/* level_open() of a bucket not yet open: retires the stale occupant of its slot, opens it. */
static struct bucket *level_open_new(struct window *w, int level, struct bucket *b, int64_t key)
{
	struct level *L = &w->lv[level];
	if (b->state != B_EMPTY)
		bucket_retire(w, level, b);
	b->key = key;
	b->state = B_OPEN;
	if (level > 0)
		window_hist_touch(w, level, key);
	int64_t end_key = floor_div(w->end_ms, L->span_ms);
	b->in_sum = key > end_key - L->nwin;
	return b;
}

/* The bucket for key, opened if new; the open case inline, as every post asks for two. */
static inline struct bucket *level_open(struct window *w, int level, int64_t key)
{
	struct level *L = &w->lv[level];
	struct bucket *b = &L->b[(uint64_t)key & (L->nslots - 1)];
	if (__builtin_expect(b->key == key, 1))
		return b;
	return level_open_new(w, level, b, key);
}

/*
 * Adds the closed minute src to its quarter dst_key. An open minute counts in
 * the 24h totals, and so does the quarter it goes to - unless that quarter is
 * already outside the 24h window: event time moved on by more than a day
 * while the minute was open (a restart after a day or more, the clock set
 * forward). The minute's counts then leave the totals here, as the quarter's
 * would have when it left the window; the quarter keeps them as baseline.
 */
static void roll_up(struct window *w, struct bucket *src, int64_t dst_key)
{
	struct bucket *dst = level_open(w, 2, dst_key);
	bucket_edited(dst); /* open or not, its body changes */
	if (dst->state != B_OPEN) {
		history_edited(w, 2); /* a closed quarter's sets change (not in normal flow) */
		window_hist_touch(w, 2, dst_key);
	}
	if (!dst->in_sum)
		vol_recount(w, WINDOW_24H); /* src, closed, no longer counts in it */
	for (uint32_t i = 0; i < src->n; i++) {
		const struct entry *s = &src->e[i];
		const struct hll_set *sa = entry_authors(src, s);
		if (entry_total(s) == 0 && (!sa || hll_set_empty(sa)))
			continue;
		uint32_t ix = bucket_get(w, dst, s->term);
		if (ix == NO_TERM || !dst->in_sum)
			sum_sub(&w->cold[s->term].sum[WINDOW_24H], s);
		if (ix == NO_TERM)
			continue; /* out of memory: the count leaves with the entry */
		struct entry *d = &dst->e[ix];
		for (int k = 0; k < 3; k++)
			d->n[k] += s->n[k];
		d->sent += s->sent;
		if (sa && dst->sk)
			hll_set_merge(&dst->sk[ix], sa);
	}
	vsum_add(&dst->vol, &src->vol, 1);
	dst->error_in += src->error;
}

static void emit_minute(struct window *w, const struct bucket *b)
{
	if (!w->minute_fn || b->n == 0)
		return;
	if (w->rows_cap < b->n) {
		struct window_minute_row *r = realloc(w->rows, b->n * sizeof *r);
		if (!r)
			return;
		w->rows = r;
		w->rows_cap = b->n;
	}
	size_t n = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct entry *e = &b->e[i];
		if (entry_total(e) == 0)
			continue;
		const struct wcold *t = &w->cold[e->term];
		w->rows[n++] = (struct window_minute_row){
			.term = term_str(t), .term_len = t->len, .kind = t->kind,
			.minute_ms = b->key * 60000, .count = entry_total(e),
			.authors = (uint32_t)e->authors, .pos = e->n[LABEL_POS],
			.neg = e->n[LABEL_NEG],
			.sent_sum = e->sent,
		};
	}
	w->minute_fn(w->minute_ctx, b->key * 60000, w->rows, n);
}

/*
 * Gives back the room a closed bucket no longer needs: a quarter hour grows to
 * every term of its minutes before pruning keeps top_m, and would otherwise
 * hold that capacity for two days. A failed realloc just keeps the old block.
 */
static void bucket_shrink(struct bucket *b)
{
	uint32_t cap = pow2_at_least(b->n > 16 ? b->n : 16);
	if (cap < b->cap) {
		struct entry *ne = realloc(b->e, cap * sizeof *ne);
		if (ne)
			b->e = ne;
		if (b->sk) {
			struct hll_set *nk = realloc(b->sk, cap * sizeof *nk);
			if (nk)
				b->sk = nk;
		}
		if (ne)
			b->cap = cap; /* sk has at least cap either way */
	}
	uint64_t want = 2 * ((uint64_t)b->n + 1);
	uint32_t icap = pow2_at_least(want > 32 ? want : 32);
	if (icap < b->idx_cap) {
		uint32_t *ni = realloc(b->idx, icap * sizeof *ni);
		if (ni) {
			b->idx = ni;
			b->idx_cap = icap;
			window_bucket_reindex(b);
		}
	}
}

/* Fixes each entry's author estimate from its set (closed buckets no longer change). */
static void bucket_count_authors(struct bucket *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		b->e[i].authors = b->sk ? (uint32_t)hll_set_count(&b->sk[i]) : 0;
}

/*
 * Packs a closed bucket's sparse author sets (hll_set_pack): from now on they
 * are read, by views and roll-ups, and changed only in flows out of the
 * ordinary (a late minute rolling up into a closed quarter), which unpack
 * them. A day of quarter-hour sets is most of a busy window's memory.
 */
void window_bucket_pack_sets(struct bucket *b)
{
	for (uint32_t i = 0; b->sk && i < b->n; i++)
		hll_set_pack(&b->sk[i]); /* out of memory: it stays unpacked, which is fine */
}

static void bucket_close(struct window *w, int level, struct bucket *b)
{
	/* of the open buckets only a quarter hour may be in a segment: closing changes it */
	assert(b->state == B_OPEN && (level == 2 || b->seg == 0));
	bucket_edited(b);
	/* pruning subtracts dropped entries from the totals: they must hold them */
	bucket_sync(w, level, b);
	syn_free(b);
	b->state = B_CLOSED;
	if (level > 0) {
		history_changed(w, level);
		w->level_closes[level]++;
		window_hist_touch(w, level, b->key);
	}
	if (level == 1) {
		/* pruning renumbers entries and the sets are read from here on */
		bucket_flush_authors(b);
		alog_free(b);
		/* Empty entries only carried authors for counts that were pruned
		 * at level 0 - impossible now that both levels count at arrival -
		 * so every entry here has a count. */
		bucket_prune(w, 1, b);
		/* closed: its sets no longer share a register table */
		hll_group_detach(&b->grp, b->sk, b->n);
		bucket_count_authors(b);
		window_bucket_pack_sets(b);
		emit_minute(w, b);
		if (w->volume_fn && b->vol.posts > 0) {
			struct window_minute_volume v = { b->vol.posts, b->vol.pos, b->vol.neg,
							  b->vol.sent };
			w->volume_fn(w->volume_ctx, b->key * 60000, &v);
		}
		roll_up(w, b, floor_div(b->key * 60000, 900000));
	} else if (level == 2) {
		bucket_prune(w, 2, b);
		bucket_count_authors(b);
		window_bucket_pack_sets(b);
	} else {
		bucket_prune(w, 0, b);
	}
	bucket_shrink(b);
}

/* Takes the bucket out of its window totals. */
static void bucket_leave_window(struct window *w, int level, struct bucket *b)
{
	if (!b->in_sum)
		return;
	bucket_sync(w, level, b); /* an open bucket's last counts, to take them out */
	for (uint32_t i = 0; i < b->n; i++)
		sum_sub(&w->cold[b->e[i].term].sum[level], &b->e[i]);
	b->in_sum = false;
	vol_recount(w, level);
}

/*
 * Retires a bucket whose slot is needed or whose time is over: closes it if
 * still open, leaves the window, and frees it.
 */
static void bucket_retire(struct window *w, int level, struct bucket *b)
{
	if (b->state == B_OPEN)
		bucket_close(w, level, b);
	bucket_leave_window(w, level, b);
	bucket_clear(w, b);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Closes, in time order, the open buckets of a level that end at or before the watermark. */
static void level_close_due(struct window *w, int level, int64_t watermark_ms)
{
	struct level *L = &w->lv[level];
	int64_t limit = floor_div(watermark_ms, L->span_ms); /* keys < limit have ended */
	int64_t keys[64];
	for (;;) {
		size_t n = 0;
		for (uint32_t i = 0; i < L->nslots && n < 64; i++)
			if (L->b[i].state == B_OPEN && L->b[i].key < limit)
				keys[n++] = L->b[i].key;
		if (n == 0)
			return;
		qsort(keys, n, sizeof *keys, cmp_i64);
		for (size_t i = 0; i < n; i++) {
			struct bucket *b = level_bucket(L, keys[i]);
			if (b && b->state == B_OPEN)
				bucket_close(w, level, b);
		}
	}
}

static void level_expire(struct window *w, int level)
{
	struct level *L = &w->lv[level];
	int64_t end_key = floor_div(w->end_ms, L->span_ms);
	int64_t first_in = end_key - L->nwin + 1, first_kept = end_key - L->keep + 1;
	for (uint32_t i = 0; i < L->nslots; i++) {
		struct bucket *b = &L->b[i];
		if (b->state == B_EMPTY || b->key >= first_in)
			continue;
		bucket_leave_window(w, level, b);
		if (b->state == B_OPEN)
			continue; /* late data may still arrive; freed once closed */
		if (b->key >= first_kept) {
			if (b->state == B_CLOSED) {
				/* baseline: counts and author estimates stay, sketches go */
				for (uint32_t k = 0; b->sk && k < b->n; k++)
					hll_set_clear(&b->sk[k]);
				free(b->sk);
				b->sk = NULL;
				b->sketches = false;
				b->state = B_BASELINE;
				bucket_edited(b);
				history_changed(w, level);
			}
			continue;
		}
		bucket_clear(w, b);
	}
}

static void slide_to(struct window *w, int64_t end_ms)
{
	if (w->started && end_ms <= w->end_ms)
		return;
	int64_t old_sec = floor_div(w->end_ms, 1000);
	w->end_ms = end_ms;
	w->started = true;
	if (floor_div(end_ms, 1000) == old_sec)
		return; /* nothing closes or expires within a second */
	int64_t wm = end_ms - w->cfg.lateness_ms;
	for (int l = 0; l < NLEVELS; l++)
		level_close_due(w, l, wm);
	for (int l = 0; l < NLEVELS; l++)
		level_expire(w, l);
}

/* ---- public API ------------------------------------------------------ */

struct window *window_new(const struct window_config *cfg)
{
	struct window *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	window_config_defaults(&w->cfg);
	if (cfg)
		w->cfg = *cfg;
	if (w->cfg.lateness_ms < 0)
		w->cfg.lateness_ms = 0;
	if (w->cfg.lateness_ms > WINDOW_MAX_LATENESS_MS)
		w->cfg.lateness_ms = WINDOW_MAX_LATENESS_MS;
	if (w->cfg.top_m < 16)
		w->cfg.top_m = 16;
	if (w->cfg.candidates < SNAPSHOT_TOP_K)
		w->cfg.candidates = SNAPSHOT_TOP_K;
	w->free_head = NO_TERM;
	for (int l = 0; l < NLEVELS; l++) {
		struct level *L = &w->lv[l];
		L->span_ms = level_span_ms[l];
		L->nwin = level_nwin[l];
		L->keep = l == 0 ? L->nwin : 2 * L->nwin; /* levels 1, 2: also the baseline */
		/* room for the kept buckets, the open ones behind the watermark, and slack */
		int64_t late = w->cfg.lateness_ms / L->span_ms + 2;
		L->nslots = pow2_at_least((uint64_t)(L->keep + late + 2));
		L->b = calloc(L->nslots, sizeof *L->b);
		if (!L->b)
			goto fail;
		for (uint32_t i = 0; i < L->nslots; i++) {
			L->b[i].key = EMPTY_KEY;
			L->b[i].level = (uint8_t)l;
			L->b[i].sketches = l > 0;
		}
	}
	w->uni = hll_union_new();
	w->fb = malloc(2 * (w->lv[0].nslots + w->lv[1].nslots + w->lv[2].nslots) * sizeof *w->fb);
	w->fe = malloc((w->lv[0].nslots + w->lv[1].nslots + w->lv[2].nslots) * sizeof *w->fe);
	w->fat = malloc(w->lv[0].nslots + w->lv[1].nslots + w->lv[2].nslots);
	if (!w->uni || !w->fb || !w->fe || !w->fat || window_tindex_grow(w) < 0)
		goto fail;
	return w;
fail:
	window_free(w);
	return NULL;
}

void window_free(struct window *w)
{
	if (!w)
		return;
	for (int l = 0; l < NLEVELS; l++) {
		struct level *L = &w->lv[l];
		for (uint32_t i = 0; L->b && i < L->nslots; i++) {
			struct bucket *b = &L->b[i];
			for (uint32_t k = 0; b->sk && k < b->n; k++)
				hll_set_clear(&b->sk[k]);
			hll_group_free(&b->grp);
			alog_free(b);
			syn_free(b);
			free(b->e);
			free(b->sk);
			free(b->idx);
		}
		free(L->b);
	}
	for (uint32_t i = 0; i < w->nterms; i++)
		if (w->cold[i].live && w->cold[i].len >= TERM_INLINE)
			free(w->cold[i].str.out);
	bigmem_free(w->terms, (size_t)w->terms_cap * sizeof *w->terms);
	free(w->cold);
	free(w->tseg);
	bigmem_free(w->tindex, (size_t)w->tindex_cap * sizeof *w->tindex);
	free(w->rows);
	free(w->cand);
	free(w->fb);
	free(w->fe);
	free(w->fat);
	for (int win = 0; win < WINDOW_COUNT; win++) {
		window_prefix_cache_free(&w->prefix[win]);
		window_prefix_cache_free(&w->ahead[win]);
		window_hist_ahead_free(&w->hist_ahead[win]);
	}
	hll_union_free(w->uni);
	free(w);
}

void window_set_minute_sink(struct window *w, window_minute_fn fn, void *ctx)
{
	w->minute_fn = fn;
	w->minute_ctx = ctx;
}

void window_set_volume_sink(struct window *w, window_volume_fn fn, void *ctx)
{
	w->volume_fn = fn;
	w->volume_ctx = ctx;
}

int window_open_minutes(struct window *w, int64_t from_ms, int64_t to_ms, int kind,
			const char *term, size_t len, window_open_fn fn, void *ctx)
{
	struct level *L = &w->lv[1];
	uint32_t id = NO_TERM;
	int rc;

	if (term) {
		struct tkey k;
		uint64_t h = term_key((uint8_t)kind, term, len, &k);
		if (kind < 0 || kind >= TERM_KIND_COUNT || len == 0 || len > UINT16_MAX ||
		    (id = window_term_find(w, (uint8_t)kind, term, len, h, k, NULL)) == NO_TERM)
			id = NO_TERM - 1; /* unknown term: volumes only, no rows */
	}
	window_flush_authors(w); /* rows carry the open sets' estimates */
	/* oldest first: each turn takes the oldest open minute after the last one */
	for (int64_t after = INT64_MIN;;) {
		struct bucket *b = NULL;
		for (uint32_t i = 0; i < L->nslots; i++) {
			struct bucket *c = &L->b[i];
			if (c->state == B_OPEN && c->key > after && c->key * 60000 >= from_ms &&
			    c->key * 60000 < to_ms && (!b || c->key < b->key))
				b = c;
		}
		if (!b)
			return 0;
		after = b->key;
		size_t nr = 0;
		if (w->rows_cap < b->n) {
			struct window_minute_row *r = realloc(w->rows, b->n * sizeof *r);
			if (!r)
				return -ENOMEM;
			w->rows = r;
			w->rows_cap = b->n;
		}
		for (uint32_t i = 0; i < b->n; i++) {
			const struct entry *e = &b->e[i];
			if ((term && e->term != id) || entry_total(e) == 0)
				continue;
			const struct wcold *t = &w->cold[e->term];
			w->rows[nr++] = (struct window_minute_row){
				.term = term_str(t), .term_len = t->len, .kind = t->kind,
				.minute_ms = b->key * 60000, .count = entry_total(e),
				.authors = b->sk ? (uint32_t)hll_group_count(&b->grp, &b->sk[i]) : 0,
				.pos = e->n[LABEL_POS], .neg = e->n[LABEL_NEG], .sent_sum = e->sent,
			};
		}
		struct window_minute_volume v = { b->vol.posts, b->vol.pos, b->vol.neg,
						  b->vol.sent };
		if ((rc = fn(ctx, b->key * 60000, w->rows, nr, &v)) != 0)
			return rc;
	}
}

int64_t window_end_ms(const struct window *w) { return w->end_ms; }
int64_t window_watermark_ms(const struct window *w) { return w->end_ms - w->cfg.lateness_ms; }

void window_advance(struct window *w, int64_t now_ms)
{
	w->wall_ms = now_ms;
	slide_to(w, now_ms > w->end_ms || !w->started ? now_ms : w->end_ms);
}

/*
 * Counting a post's tokens. Done one token at a time, each token is a chain
 * of dependent cache misses - term index slot, term, its entries - and the
 * core waits on each in turn. So the tokens of a post go through in
 * batches, in passes, each pass prefetching for every token what a later
 * pass will read, so the misses of different tokens overlap:
 *
 *   1. hash; prefetch the term index slot
 *   2. probe the term index by key; prefetch the line of the term found
 *      (and the string of a text longer than 16 bytes, to confirm it)
 *   3. confirm a long text's term, or intern a new one; dedupe within the
 *      post; by the term's hints, prefetch its level-0 and level-1 entries
 *   4. confirm the entries (or create them); count into them and into the
 *      term's totals; the author goes to the entry's group column, or to
 *      the minute's log of author adds (see "Author sets of an open minute")
 *
 * The author is the same for every token of a post, so what the sets need of
 * it (register, rank, the row of the group table) is computed once (struct
 * hll_key). Passes keep term ids and entry indexes, never pointers: interning
 * a term or adding an entry may move arrays (a prefetch of a stale address
 * only wastes the load). Dedupe happens in token order in pass 3, so it holds
 * across batches of one post too.
 */
#define ADD_BATCH 32

struct add_post {
	struct bucket *b0, *b1;        /* the post's open level-0 and level-1 buckets */
	uint32_t seq;                  /* post number, for dedupe */
	uint32_t label;                /* LABEL_NEU, LABEL_POS or LABEL_NEG */
	float compound;
	struct hll_key author;         /* prepared once for all the post's author sets */
};

/* Looks the entry of term id up in b (creating it) after its hint failed; sets the hint. */
static uint32_t entry_lookup(struct window *w, int l, struct bucket *b, uint32_t id)
{
	uint32_t ix = bucket_get(w, b, id);
	if (ix != NO_TERM)
		w->terms[id].cidx[l] = ix;
	return ix;
}

/*
 * Passes 1-3 for tokens tk[0..n): the terms to count go to id[], their
 * unconfirmed entry hints to x0[], x1[] (entries prefetched); returns how
 * many.
 */
static uint32_t add_resolve(struct window *w, const struct add_post *a, const struct token *tk,
			    size_t n, uint32_t *id, uint32_t *x0, uint32_t *x1)
{
	/*
	 * Interning (pass 3) changes neither bucket, so their entry arrays and
	 * sizes are read once; the index may grow in pass 3, but passes 1 and 2
	 * run before it.
	 */
	const struct entry *e0 = a->b0->e, *e1 = a->b1->e;
	const uint32_t n0 = a->b0->n, n1 = a->b1->n, seq = a->seq;
	const struct tslot *tindex = w->tindex;
	const uint32_t mask = w->tindex_cap - 1;
	/*
	 * A token's slot word (slot_meta) is made once, here; its low word is
	 * the tag, which is all of the hash that probing and interning use
	 * (a token is at most UINT16_MAX bytes, so the word always holds it).
	 */
	uint64_t meta[ADD_BATCH];
	struct tkey key[ADD_BATCH];
	uint32_t m = 0;

	assert(n <= ADD_BATCH);
	for (size_t k = 0; k < n; k++) {
		uint64_t h = term_key(tk[k].kind, tk[k].s, tk[k].len, &key[k]);
		meta[k] = slot_meta(h, tk[k].kind, tk[k].len);
		__builtin_prefetch(&tindex[term_tag(h) & mask]);
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t i = term_guess(w, meta[k], key[k]);
		id[k] = i;
		if (i != NO_TERM) {
			__builtin_prefetch(&w->terms[i], 1);
			if (tk[k].len > 16)
				__builtin_prefetch(&w->cold[i]);
		}
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t i = id[k];
		/* a term interned for an earlier token of this post is not among the guesses */
		if (i == NO_TERM || !term_is(w, i, tk[k].s, tk[k].len))
			i = term_intern(w, tk[k].kind, tk[k].s, tk[k].len,
					(uint64_t)(uint32_t)meta[k] << 32, key[k]);
		if (i == NO_TERM)
			continue;
		struct wterm *t = &w->terms[i];
		if (t->u.last_post == seq)
			continue; /* once per post */
		t->u.last_post = seq;
		/* hints, unconfirmed (see struct wterm); NO_TERM when out of range */
		uint32_t h0 = t->cidx[0] < n0 ? t->cidx[0] : NO_TERM;
		uint32_t h1 = t->cidx[1] < n1 ? t->cidx[1] : NO_TERM;
		if (h0 != NO_TERM)
			__builtin_prefetch(&e0[h0], 1);
		if (h1 != NO_TERM)
			__builtin_prefetch(&e1[h1], 1);
		x0[m] = h0;
		x1[m] = h1;
		id[m++] = i;
	}
	return m;
}

/*
 * Pass 4: counts the m terms add_resolve gave into their entries and totals.
 * What the post adds (label, compound, author) is read into locals once:
 * the counts are written through pointers the compiler cannot tell apart
 * from *a, and would otherwise reload it for every token.
 */
static void add_count(struct window *w, const struct add_post *a, const uint32_t *id,
		      const uint32_t *hint0, const uint32_t *hint1, uint32_t m)
{
	struct bucket *b0 = a->b0, *b1 = a->b1;
	const uint32_t label = a->label;
	const float c = a->compound;
	const uint8_t rank = a->author.rank;
	const uint64_t av = a->author.v;
	/*
	 * Room in the log for every token of the batch, so nothing applies the
	 * log - which may widen the group table - while row points into it.
	 */
	const bool logged = alog_room(b1, ADD_BATCH);
	uint8_t *row = b1->grp.reg ? b1->grp.reg + (size_t)a->author.row * b1->grp.stride : NULL;
	uint64_t *alog = b1->alog; /* alog_room made room for m more: no move until the end */
	uint32_t alog_n = b1->alog_n;
	/* the entry arrays, read again only after a lookup (which may move them) */
	struct entry *es0 = b0->e, *es1 = b1->e;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t i = id[k];
		/* a hint is confirmed by the entry's term (see struct wterm) */
		uint32_t x0 = hint0[k], x1 = hint1[k];
		if (__builtin_expect(x0 == NO_TERM || es0[x0].term != i, 0)) {
			x0 = entry_lookup(w, 0, b0, i);
			es0 = b0->e;
		}
		if (__builtin_expect(x1 == NO_TERM || es1[x1].term != i, 0)) {
			x1 = entry_lookup(w, 1, b1, i);
			es1 = b1->e;
		}
		if (x0 != NO_TERM) {
			struct entry *e0 = &es0[x0];
			e0->n[label]++;
			e0->sent += c;
		}
		if (x1 != NO_TERM) {
			struct entry *e1 = &es1[x1];
			e1->n[label]++;
			e1->sent += c;
			if (!logged) {
				entry_add_author(b1, x1, &a->author);
			} else if (e1->authors) {
				/* the set is column authors - 1 of the table: max into its register */
				uint8_t *r = row + (e1->authors - 1);
				if (*r < rank)
					*r = rank;
			} else {
				alog[alog_n++] = (uint64_t)x1 << 32 | av;
			}
		} else if (x0 == NO_TERM && w->terms[i].refs == 0) {
			/* out of memory for a new term's entries: nothing names it */
			term_release(w, i);
		}
	}
	b1->alog_n = alog_n;
}

enum window_add_result window_add_post(struct window *w, const struct window_post *p)
{
	int64_t t = p->event_ms;
	if (w->wall_ms && t > w->wall_ms + w->cfg.future_ms) {
		t = w->wall_ms;
		w->future++;
	}
	if (!w->started || t > w->end_ms)
		slide_to(w, t);
	if (t < w->end_ms - w->cfg.lateness_ms) {
		/* Its level-0 bucket has closed (or is about to): behind the watermark. */
		int64_t k0 = floor_div(t, 1000);
		struct bucket *b = level_bucket(&w->lv[0], k0);
		if (!b || b->state != B_OPEN) {
			w->late++;
			return WINDOW_LATE;
		}
	}
	/* a compound score is in [-1, 1]: one past a bound counts as the bound, NaN as 0 */
	float compound = p->compound;
	if (__builtin_expect(!(compound >= -1.0f && compound <= 1.0f), 0))
		compound = compound > 1.0f ? 1.0f : compound < -1.0f ? -1.0f : 0.0f;
	struct add_post a = {
		.b0 = level_open(w, 0, floor_div(t, 1000)),
		.b1 = level_open(w, 1, floor_div(t, 60000)),
		.label = compound >= 0.05f    ? LABEL_POS
			 : compound <= -0.05f ? LABEL_NEG
					      : LABEL_NEU,
		.compound = compound,
	};
	struct vsum pv = { 1, a.label == LABEL_POS, a.label == LABEL_NEG, compound };

	assert(a.b1->sketches);
	a.b0->dirty = a.b1->dirty = true; /* their counts go into the totals at the next sync */
	vsum_count(&a.b0->vol, &pv);
	vsum_count(&a.b1->vol, &pv);
	if (a.b0->in_sum)
		vsum_count(&w->vol[WINDOW_5M], &pv);
	vsum_count(&w->vol[WINDOW_1H], &pv);
	vsum_count(&w->vol[WINDOW_24H], &pv);
	w->posts++;
	if (++w->post_seq == 0)
		w->post_seq = 1;
	a.seq = w->post_seq;
	hll_key_init(&a.author, p->author_hash);
	/* the author's row of the group table, which the post's dense terms share */
	for (uint32_t o = 0; a.b1->grp.reg && o < a.b1->grp.ncols; o += 64)
		__builtin_prefetch(a.b1->grp.reg + (size_t)a.author.row * a.b1->grp.stride + o, 1);
	uint32_t id[ADD_BATCH], x0[ADD_BATCH], x1[ADD_BATCH];
	for (size_t at = 0; at < p->ntokens; at += ADD_BATCH) {
		size_t n = p->ntokens - at < ADD_BATCH ? p->ntokens - at : ADD_BATCH;
		uint32_t m = add_resolve(w, &a, p->tokens + at, n, id, x0, x1);
		add_count(w, &a, id, x0, x1, m);
	}
	return WINDOW_ADDED;
}

void window_get_stats(const struct window *w, struct window_stats *st)
{
	memset(st, 0, sizeof *st);
	st->posts = w->posts;
	st->late_posts = w->late;
	st->future_posts = w->future;
	st->terms = w->live_terms;
	st->entries = w->entries;
	st->pruned = w->pruned;
	size_t bytes = sizeof *w + w->terms_cap * (sizeof *w->terms + sizeof *w->cold) +
		       w->tindex_cap * sizeof *w->tindex;
	for (int l = 0; l < NLEVELS; l++) {
		const struct level *L = &w->lv[l];
		for (uint32_t i = 0; i < L->nslots; i++) {
			const struct bucket *b = &L->b[i];
			bytes += sizeof *b + b->cap * sizeof *b->e + b->idx_cap * sizeof *b->idx +
				 hll_group_bytes(&b->grp) + b->alog_cap * sizeof *b->alog +
				 b->syn_cap * sizeof *b->syn;
			if (b->sk)
				bytes += b->cap * sizeof *b->sk;
			for (uint32_t k = 0; b->sk && k < b->n; k++)
				bytes += hll_set_bytes(&b->sk[k]);
		}
	}
	for (uint32_t i = 0; i < w->nterms; i++)
		if (w->cold[i].live && w->cold[i].len >= TERM_INLINE)
			bytes += w->cold[i].len + 1u;
	for (int win = 0; win < WINDOW_COUNT; win++)
		bytes += window_prefix_cache_bytes(&w->prefix[win]) +
			 window_prefix_cache_bytes(&w->ahead[win]) +
			 window_hist_ahead_bytes(&w->hist_ahead[win]);
	st->bytes = bytes;
	st->unions_ahead = w->unions_ahead;
	st->sums_ahead = w->sums_ahead;
}

int window_check(struct window *w, char *err, size_t errlen)
{
	uint32_t *refs = calloc(w->nterms ? w->nterms : 1, sizeof *refs), *segl = NULL;
	uint64_t *tot = calloc((size_t)(w->nterms ? w->nterms : 1) * WINDOW_COUNT, sizeof *tot);
	int rc = -1;
	if (!refs || !tot) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	int64_t end1 = floor_div(w->end_ms, 60000);
	window_flush_authors(w); /* the sets are checked as they will be read */
	window_sync(w);          /* and the totals */
	for (int l = 0; l < NLEVELS; l++) {
		const struct level *L = &w->lv[l];
		int64_t end_key = floor_div(w->end_ms, L->span_ms);
		int64_t first_in = end_key - L->nwin + 1, first_kept = end_key - L->keep + 1;
		for (uint32_t i = 0; i < L->nslots; i++) {
			const struct bucket *b = &L->b[i];
			/*
			 * Where the window's end puts a bucket (see slide_to()): none
			 * after it; in the totals exactly while inside the window;
			 * closed ones inside, baseline ones before it, and none before
			 * what the level keeps unless still open. And its volume is
			 * what compound scores in [-1, 1] can sum to.
			 */
			if (b->state != B_EMPTY) {
				bool placed = w->started && b->key <= end_key &&
					      b->in_sum == (b->key >= first_in) &&
					      (b->state == B_OPEN ||
					       (b->key >= first_kept &&
						(b->state == B_BASELINE) == (b->key < first_in)));
				if (!placed) {
					snprintf(err, errlen,
						 "level %d bucket %lld: misplaced for the window's end %lld",
						 l, (long long)b->key, (long long)w->end_ms);
					goto out;
				}
				if (!vsum_in_range(&b->vol)) {
					snprintf(err, errlen, "level %d bucket %lld: volume out of range",
						 l, (long long)b->key);
					goto out;
				}
			}
			/* only a bucket no longer open, or a quarter hour, is in a segment */
			if (b->seg && ((b->state == B_OPEN && l != 2) || b->state == B_EMPTY || b->n == 0)) {
				snprintf(err, errlen, "level %d bucket %lld: open or empty, in a segment",
					 l, (long long)b->key);
				goto out;
			}
			/* author sets: levels 1 and 2 until baseline; columns only while open */
			bool misplaced = (b->cap > 0 && (b->sk != NULL) != b->sketches) ||
					 (l == 0 && b->sketches) ||
					 (b->grp.ncols && (l != 1 || b->state != B_OPEN));
			if (misplaced) {
				snprintf(err, errlen, "level %d bucket %lld: author sets misplaced",
					 l, (long long)b->key);
				goto out;
			}
			/* open level-0/1 buckets copy their entries into syn; others have none */
			bool syncs = l < 2 && b->state == B_OPEN;
			if ((!syncs && b->syn) || (syncs && b->n && b->syn_cap < b->n)) {
				snprintf(err, errlen, "level %d bucket %lld: totals copy misplaced",
					 l, (long long)b->key);
				goto out;
			}
			for (uint32_t k = 0; syncs && k < b->n; k++)
				if (!entry_synced(&b->e[k], &b->syn[k])) {
					snprintf(err, errlen, "term '%s': entry not in the totals",
						 term_str(&w->cold[b->e[k].term]));
					goto out;
				}
			for (uint32_t k = 0; k < b->n; k++) {
				const struct entry *e = &b->e[k];
				if (e->term >= w->nterms || !w->cold[e->term].live) {
					snprintf(err, errlen, "entry names a dead term");
					goto out;
				}
				if (!(fabs(e->sent) <= entry_total(e) * (1 + 1e-3) + 1e-3)) {
					snprintf(err, errlen, "term '%s': sentiment %g for %u posts",
						 term_str(&w->cold[e->term]), (double)e->sent,
						 entry_total(e));
					goto out;
				}
				/* a column names a column; an exact set holds at most one
				 * author per post */
				const struct hll_set *a = entry_authors(b, e);
				bool col = a && a->cap == HLL_SET_COLUMN;
				bool exact = a && !col && a->cap != HLL_SET_DENSE;
				if ((col && a->n >= b->grp.ncols) ||
				    (exact && a->n > entry_total(e))) {
					snprintf(err, errlen, "term '%s': %u authors, %u posts",
						 term_str(&w->cold[e->term]), a->n,
						 entry_total(e));
					goto out;
				}
				/* an open minute's entry names its set's column, or none */
				if (l == 1 && b->state == B_OPEN && e->authors != (col ? a->n + 1 : 0)) {
					snprintf(err, errlen, "term '%s': entry names column %u, set %u",
						 term_str(&w->cold[e->term]), e->authors,
						 col ? a->n + 1 : 0);
					goto out;
				}
				refs[e->term]++;
				if (b->in_sum)
					tot[(size_t)e->term * WINDOW_COUNT + l] += entry_total(e);
				/* open minutes count in 24h until they roll up */
				if (l == 1 && b->state == B_OPEN && b->key <= end1)
					tot[(size_t)e->term * WINDOW_COUNT + WINDOW_24H] +=
						entry_total(e);
			}
		}
	}
	/* each running volume against its buckets */
	for (int win = 0; win < WINDOW_COUNT; win++) {
		const struct vsum *x = &w->vol[win];
		const struct vsum y = buckets_vol(w, win);
		if (!vsum_in_range(x) || x->posts != y.posts || x->pos != y.pos || x->neg != y.neg ||
		    fabs(x->sent - y.sent) > 1e-6 * (double)(x->posts + 1)) {
			snprintf(err, errlen,
				 "window %s: %llu posts (%llu+ %llu-, sentiment %.6g), buckets %llu "
				 "(%llu+ %llu-, %.6g)",
				 window_name(win), (unsigned long long)x->posts,
				 (unsigned long long)x->pos, (unsigned long long)x->neg, x->sent,
				 (unsigned long long)y.posts, (unsigned long long)y.pos,
				 (unsigned long long)y.neg, y.sent);
			goto out;
		}
	}
	/* which term segments hold the live terms' records (window_state.c) */
	uint32_t unsaved = 0;
	if (!(segl = calloc(w->ntseg + 1, sizeof *segl))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (uint32_t id = 0; id < w->nterms; id++) {
		const struct wterm *t = &w->terms[id];
		const struct wcold *c = &w->cold[id];
		if (!c->live)
			continue;
		if (c->seg > w->ntseg) {
			snprintf(err, errlen, "term '%s': in term segment %u of %u", term_str(c),
				 c->seg, w->ntseg);
			goto out;
		}
		unsaved += c->seg == 0;
		segl[c->seg]++;
		if (t->refs != refs[id]) {
			snprintf(err, errlen, "term '%s': refs %u, entries %u", term_str(c),
				 t->refs, refs[id]);
			goto out;
		}
		/* found by its own key: the slot's key is the string's */
		struct tkey k;
		uint64_t h = term_key(c->kind, term_str(c), c->len, &k);
		if (window_term_find(w, c->kind, term_str(c), c->len, h, k, NULL) != id) {
			snprintf(err, errlen, "term '%s' is not found in the index", term_str(c));
			goto out;
		}
		for (int win = 0; win < WINDOW_COUNT; win++)
			if (wsum_total(&c->sum[win]) != tot[(size_t)id * WINDOW_COUNT + win]) {
				snprintf(err, errlen, "term '%s' window %s: total %u, buckets %llu",
					 term_str(c), window_name(win), wsum_total(&c->sum[win]),
					 (unsigned long long)tot[(size_t)id * WINDOW_COUNT + win]);
				goto out;
			}
	}
	if (unsaved != w->terms_unsaved) {
		snprintf(err, errlen, "%u terms in no term segment, counted %u", unsaved,
			 w->terms_unsaved);
		goto out;
	}
	for (uint32_t i = 0; i < w->ntseg; i++)
		if (segl[i + 1] != w->tseg[i].nlive || w->tseg[i].nlive > w->tseg[i].nrec) {
			snprintf(err, errlen, "term segment %llu: %u live records, counted %u of %u",
				 (unsigned long long)w->tseg[i].id, segl[i + 1], w->tseg[i].nlive,
				 w->tseg[i].nrec);
			goto out;
		}
	rc = 0;
out:
	free(refs);
	free(tot);
	free(segl);
	return rc;
}

