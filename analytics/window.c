#include "analytics/window.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/hll.h"
#include "analytics/tokenize.h"
#include "core/bigmem.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/strbuf.h"
#include "core/term.h"

/*
 * Levels and windows: level L holds the buckets of window L (enum window_id).
 * Level 2 keeps twice the window so the 24 h before the 24h window serve as
 * its baseline.
 */
#define NLEVELS 3
static const int64_t level_span_ms[NLEVELS] = { 1000, 60000, 900000 };
static const int64_t level_nwin[NLEVELS] = { 300, 60, 96 };
/* Sparkline shape per window: points x buckets per point = level_nwin. */
static const uint32_t series_points[NLEVELS] = { 30, 30, 32 };

enum bucket_state { B_EMPTY, B_OPEN, B_CLOSED, B_BASELINE };

#define EMPTY_KEY INT64_MIN

/*
 * Posts are counted by sentiment label - n[LABEL_NEU], n[LABEL_POS],
 * n[LABEL_NEG] - so counting one post is one increment plus the sentiment
 * sum; the count is the sum of the three.
 */
enum { LABEL_NEU, LABEL_POS, LABEL_NEG };

struct wsum {
	uint32_t n[3];
	float sent;
};

struct vsum {
	uint64_t posts, pos, neg;
	double sent;
};

/* Bytes of a term string kept inside struct wterm, NUL included. */
#define TERM_INLINE 32

/*
 * A term's hot record: what a counted token reads or writes of its term -
 * the per-post dedupe mark, the reference count and the entry hints - and
 * nothing else, in 16 bytes, four to a cache line. What tells the term
 * apart (length, kind, key words) is in its term index slot, which a token
 * reads anyway to find the term; its running totals, the string and what
 * only the read side needs (first seen, score peaks) are in the parallel
 * array window.cold. A token reads the cold record only when its text is
 * longer than 16 bytes, whose key words are a hash and need a string
 * compare. The totals are not written per token: see "Running totals".
 */
struct wterm {
	_Alignas(16) union {
		uint32_t last_post;    /* live: dedupe within one post */
		uint32_t next_free;    /* !live: free-list link */
	} u;
	uint32_t refs;                 /* bucket entries naming this term */
	/*
	 * Hints: the term's entry index in the level-0 and level-1 bucket it was
	 * last counted in. Only hints: a user checks b->e[cidx].term == id, which
	 * alone proves the entry is the term's (one entry per term per bucket).
	 */
	uint32_t cidx[2];
};

_Static_assert(sizeof(struct wterm) == 16, "four hot term records per cache line");

struct wcold {
	struct wsum sum[WINDOW_COUNT]; /* running totals per window (see "Running totals") */
	uint16_t len;                  /* next to sum: ranking a view reads them, every term */
	uint8_t kind;
	uint8_t live;
	float peak[WINDOW_COUNT];      /* trend score peak, for decay */
	union {
		char in[TERM_INLINE];  /* len < TERM_INLINE: the string, NUL-terminated */
		char *out;             /* owned, NUL-terminated; longer strings */
	} str;
	int64_t first_seen_ms;
	int64_t peak_ms[WINDOW_COUNT];
	/* term_expected()'s author sum per window, valid while hist_key matches the window's */
	uint64_t hist_sum[WINDOW_COUNT];
	uint32_t hist_key[WINDOW_COUNT];
};

/*
 * Term index slot: the term's key - key words (see term_words), length and
 * kind - with the high 32 bits of its hash (the tag) and its id. A probe
 * compares keys in the slot, so a token whose text has at most 16 bytes
 * is resolved, found or not, without reading any term; the home slot is
 * tag & mask, so the index rehashes without reading terms either. Tag,
 * length and kind share one word (slot_meta), so a key is three word
 * compares. Slots are 32 bytes in a 64-byte aligned array: two to a cache
 * line, never across two.
 */
struct tslot {
	uint64_t key[2];               /* term_words(), or the hash of a longer text */
	uint64_t meta;                 /* slot_meta(): tag | len << 32 | kind << 48 */
	uint32_t id1;                  /* term id + 1, 0 = empty */
	uint32_t pad;
};

_Static_assert(sizeof(struct tslot) == 32, "two index slots per cache line");

struct entry {
	uint32_t term;
	uint32_t n[3];                 /* posts by label, as in struct wsum */
	float sent;
	/*
	 * Closed level-1/2 buckets: the author estimate, set when the bucket
	 * closes. Open level-1 buckets: 1 + the group column of the entry's
	 * author set, 0 while the set has none - a copy of what the set says
	 * (kept equal wherever a set takes a column, checked by window_check),
	 * so counting a post, which reads the entry anyway, can add the author
	 * to a column without reading the set.
	 */
	uint32_t authors;
};

struct bucket {
	int64_t key;                   /* time / span; EMPTY_KEY when unused */
	uint8_t state;
	uint8_t level;
	bool in_sum;                   /* entries are part of the window totals */
	bool sketches;                 /* sk[] is kept: levels 1 and 2 until baseline */
	uint32_t n, cap;
	struct entry *e;               /* owned */
	struct hll_set *sk;            /* owned; authors of e[i], parallel to e; NULL at level 0 */
	struct hll_group grp;          /* level 1 while open: the dense sets of sk (see hll.h) */
	/*
	 * Level 1 while open: author adds not yet applied to sk, each
	 * (entry index << 32 | author hash as stored); see "Author sets of an
	 * open minute" below. Owned; alog_cap slots, freed when the bucket
	 * closes.
	 */
	uint64_t *alog;
	uint32_t alog_n, alog_cap;
	/*
	 * Open level-0 and level-1 buckets: what of each entry is in its term's
	 * running totals, parallel to e (syn_cap slots, owned; freed at close);
	 * dirty when a post was counted since the last bucket_sync().
	 */
	struct wsum *syn;
	uint32_t syn_cap;
	bool dirty;
	uint32_t *idx;                 /* owned; entry index + 1, 0 = empty */
	uint32_t idx_cap;
	uint32_t error;                /* largest count dropped by pruning */
	uint32_t error_in;             /* level 2: errors of the minutes rolled into it */
	struct vsum vol;               /* posts in this bucket */
};

struct level {
	int64_t span_ms, nwin, keep;   /* keep: buckets retained (window + baseline) */
	uint32_t nslots;               /* power of two */
	struct bucket *b;              /* owned ring */
};

/*
 * term_authors() unites a term's author sets over a window's buckets in key
 * order: the closed ones first, which no longer change, then the open ones.
 * The union of the closed ones is kept here per term - the 24h window
 * unites up to 96 quarter-hour sets per term, the 1h window 60 minute sets,
 * every view, every tick - and later views start from it and add only the
 * open buckets' sets: its registers when it is dense, else its distinct
 * hashes (a term in none of the closed buckets keeps an empty list, which
 * saves looking for it in all of them). The union is then the same: what
 * it holds, exact or dense, is all that adding more sets depends on.
 * Entries hold while the window's end stays in the same bucket and the
 * level whose closed buckets they cover has no bucket change but by
 * closing; then all go at once (their memory is kept for the next). A
 * bucket that closes joins the end of the closed ones (the oldest open
 * bucket closes first, and none can appear among the closed ones: a post
 * for a time behind the watermark is late), so an entry records how many
 * of them it covers and the last of those, and a term whose entry covers
 * fewer than are closed now adds just the sets of those that closed since
 * (and keeps that union instead, while there is room): the 24h window's
 * views no longer start every union again when a quarter hour closes. At most
 * PREFIX_CACHE_TERMS terms a window and view (the candidates of a view are
 * fewer), PREFIX_CACHE_DENSE of them dense (16 KiB each) and
 * PREFIX_CACHE_HASHES hashes for the exact ones: past that the rest unite
 * as before.
 */
#define PREFIX_CACHE_TERMS  2048
#define PREFIX_CACHE_DENSE  512
#define PREFIX_CACHE_HASHES (256 * 1024)
#define PREFIX_DENSE        UINT32_MAX /* prefix_cache.len of a dense entry */

struct prefix_cache {
	uint32_t epoch;                /* level_epoch less level_closes of their level */
	int64_t end_key;               /* the window's end bucket at that level */
	bool valid;
	uint32_t n, ndense, nmem;      /* entries; dense ones; register blocks allocated */
	uint32_t nhash, hash_cap;      /* hashes kept; room in hashes */
	uint32_t *ids;                 /* owned, PREFIX_CACHE_TERMS: the entries' terms */
	uint32_t *at;                  /* owned, PREFIX_CACHE_TERMS: register block or first hash */
	uint32_t *len;                 /* owned, PREFIX_CACHE_TERMS: hashes, or PREFIX_DENSE */
	uint64_t *count;               /* owned, PREFIX_CACHE_TERMS: the union's count */
	uint32_t *cov;                 /* owned, PREFIX_CACHE_TERMS: closed buckets covered */
	int64_t *last;                 /* owned, PREFIX_CACHE_TERMS: bucket_tag() of the last */
	uint8_t **reg;                 /* owned, PREFIX_CACHE_DENSE blocks of HLL_REGISTERS */
	uint32_t *hashes;              /* owned, hash_cap (grown up to PREFIX_CACHE_HASHES) */
	uint32_t *slot;                /* owned, 2 * PREFIX_CACHE_TERMS: 1 + entry, 0 = empty */
};

static void prefix_cache_free(struct prefix_cache *pc)
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

static size_t prefix_cache_bytes(const struct prefix_cache *pc)
{
	if (!pc->ids)
		return 0;
	return (size_t)pc->nmem * HLL_REGISTERS + (size_t)pc->hash_cap * sizeof(uint32_t) +
	       PREFIX_CACHE_TERMS * (4 * sizeof(uint32_t) + 2 * sizeof(uint64_t)) +
	       PREFIX_CACHE_DENSE * sizeof(uint8_t *) +
	       2 * PREFIX_CACHE_TERMS * sizeof(uint32_t);
}

struct window {
	struct window_config cfg;
	struct level lv[NLEVELS];

	struct wterm *terms;           /* owned, 64-byte aligned; indexed by term id */
	struct wcold *cold;            /* owned; parallel to terms */
	uint32_t nterms, terms_cap, free_head, live_terms;
	struct tslot *tindex;          /* owned */
	uint32_t tindex_cap;

	int64_t end_ms;                /* window end: newest event or wall time */
	int64_t wall_ms;               /* last wall clock from window_advance */
	bool started;
	uint32_t post_seq;
	struct vsum vol[WINDOW_COUNT];

	window_minute_fn minute_fn;
	void *minute_ctx;
	window_volume_fn volume_fn;
	void *volume_ctx;
	struct window_minute_row *rows;
	size_t rows_cap;

	struct hll_union *uni;
	uint64_t posts, late, future, pruned, entries;

	/*
	 * Closed level-1 and level-2 buckets change only when one changes state
	 * (closes, becomes baseline, is cleared) or, outside the normal flow,
	 * a closed quarter takes a minute's roll-up: level_epoch[] counts those
	 * per level (history_changed()). term_expected() reads such buckets
	 * only; its results are kept per term (wcold.hist_*) under a key per
	 * window that is new whenever a level-1 or level-2 epoch or the
	 * window's history range has moved since: about once a minute, instead
	 * of a few hundred bucket probes per candidate per view every tick.
	 * term_authors() keeps unions under the epoch of one level (prefix).
	 */
	uint32_t level_epoch[NLEVELS], hist_next_key;
	uint32_t level_closes[NLEVELS]; /* the part of level_epoch that is buckets closing */
	struct prefix_cache prefix[WINDOW_COUNT];
	struct {
		uint32_t key, epoch;
		int64_t m_hi;
		int64_t covered_ms;
	} hist[WINDOW_COUNT];

	/* fill_view scratch */
	uint32_t *cand;
	size_t cand_cap;
	/* a view's bucket lists (struct view_plan), and buckets_find()'s answers */
	const struct bucket **fb;
	uint8_t *fat;
	const struct entry **fe;
};

static const uint32_t NO_TERM = UINT32_MAX;

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

static inline int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
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

static inline uint32_t load32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/*
 * The key words of a text: for at most 16 bytes, two words that with the
 * length determine the text, read without going past it; longer texts take
 * their hash instead (term_key). A term's index slot keeps its words, so
 * comparing a token with it is two word compares, whatever the length.
 *
 * A text of 4 to 16 bytes is four 4-byte loads at offsets 0, min(4, len - 4),
 * min(8, len - 4) and len - 4: every load ends inside the text and together
 * they cover it (up to 8 bytes the first and last overlap; up to 12 the
 * middle two are 4 and len - 4; then 4 and 8, with len - 4 <= 12), so with
 * the length they determine it. The offsets are minimums, not branches: the
 * lengths of a post's tokens follow no pattern, and a branch per length
 * class mispredicted about five times a post (-15 to -20 ns/post in full).
 * 1 to 3 bytes (few terms) take the first, middle and last byte.
 */
struct tkey {
	uint64_t a, b;
};

static inline struct tkey term_words(const char *s, size_t len)
{
	if (__builtin_expect(len - 4 <= 12, 1)) { /* 4 <= len <= 16 (size_t wraps below 4) */
		size_t last = len - 4, o1 = last < 4 ? last : 4, o2 = last < 8 ? last : 8;
		return (struct tkey){ load32(s) | (uint64_t)load32(s + o1) << 32,
				      load32(s + o2) | (uint64_t)load32(s + last) << 32 };
	}
	if (len > 0 && len < 4)
		return (struct tkey){ ((uint64_t)(unsigned char)s[0] << 16) |
					      ((uint64_t)(unsigned char)s[len >> 1] << 8) |
					      (unsigned char)s[len - 1],
				      0 };
	return (struct tkey){ 0, 0 };
}

/*
 * Hash of (kind, text) and its key words. Short texts mix their two words
 * with one 128-bit multiply folded to 64 bits (hash_mix); longer ones use
 * hash_bytes_seed() and take the hash as their first key word. Tags use the
 * high half, so all 64 bits must be good: the product's high word, which
 * depends on every bit of both words, is folded into both halves. The hash
 * only places terms in the index (slots compare whole keys): it decides no
 * result and is not saved.
 */
static inline __attribute__((always_inline)) uint64_t term_key(uint8_t kind, const char *s,
								size_t len, struct tkey *k)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * (kind + 1u);
	*k = term_words(s, len);
	if (len > 16) {
		k->a = hash_bytes_seed(s, len, seed);
		k->b = 0;
		return k->a;
	}
	return hash_mix(k->a ^ 0xe7037ed1a0b428dbull, k->b ^ seed ^ len);
}

static inline uint64_t term_hash(uint8_t kind, const char *s, size_t len)
{
	struct tkey k;
	return term_key(kind, s, len, &k);
}

static inline uint32_t term_tag(uint64_t h) { return (uint32_t)(h >> 32); }

/*
 * The word of a slot that holds the tag of hash h, the length and the kind.
 * Terms are at most UINT16_MAX bytes (struct token); a longer text asked
 * for gets bit 63, which no slot has (kind and length end below it), so it
 * is never found.
 */
static inline uint64_t slot_meta(uint64_t h, uint8_t kind, size_t len)
{
	if (len > UINT16_MAX)
		return 1ull << 63;
	return term_tag(h) | (uint64_t)len << 32 | (uint64_t)kind << 48;
}

static inline uint32_t slot_tag(const struct tslot *sl) { return (uint32_t)sl->meta; }

static inline const char *term_str(const struct wcold *c)
{
	return c->len < TERM_INLINE ? c->str.in : c->str.out;
}

/*
 * Whether slot sl has the key of a text with key words k and slot_meta()
 * meta. Equal keys settle it for texts of up to 16 bytes; a longer text's
 * words are only its hash, and term_is compares its string.
 */
static inline bool slot_is(const struct tslot *sl, uint64_t meta, struct tkey k)
{
	return (sl->meta == meta) & (sl->key[0] == k.a) & (sl->key[1] == k.b);
}

/* Whether term id, whose slot has the key of (kind, s[0..len)), is that text. */
static inline bool term_is(const struct window *w, uint32_t id, const char *s, size_t len)
{
	return len <= 16 || memcmp(term_str(&w->cold[id]), s, len) == 0;
}

static int tindex_grow(struct window *w)
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
static uint32_t term_find(const struct window *w, uint8_t kind, const char *s, size_t len,
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

static inline struct tslot slot_make(uint32_t id, uint8_t kind, size_t len, uint64_t h,
				     struct tkey k)
{
	return (struct tslot){ .key = { k.a, k.b }, .meta = slot_meta(h, kind, len),
			       .id1 = id + 1 };
}

/* Grows the term array; terms move, so callers hold ids, not pointers. */
static int terms_grow(struct window *w)
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
	uint32_t id = term_find(w, kind, s, len, h, k, &slot);
	if (id != NO_TERM)
		return id;
	if ((w->live_terms + 1) * 4 > w->tindex_cap * 3) {
		if (tindex_grow(w) < 0)
			return NO_TERM;
		term_find(w, kind, s, len, h, k, &slot);
	}
	if (w->free_head == NO_TERM && w->nterms == w->terms_cap && terms_grow(w) < 0)
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

static inline uint32_t entry_home(uint32_t term, uint32_t mask)
{
	return (uint32_t)hash_u64(term) & mask;
}

static uint32_t bucket_find_ix(const struct bucket *b, uint32_t term)
{
	if (!b->idx_cap)
		return NO_TERM;
	uint32_t mask = b->idx_cap - 1, j = entry_home(term, mask);
	for (;;) {
		uint32_t i1 = b->idx[j];
		if (!i1)
			return NO_TERM;
		if (b->e[i1 - 1].term == term)
			return i1 - 1;
		j = (j + 1) & mask;
	}
}

static const struct entry *bucket_find(const struct bucket *b, uint32_t term)
{
	uint32_t ix = bucket_find_ix(b, term);
	return ix == NO_TERM ? NULL : &b->e[ix];
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

/* The author set of entry e of b, or NULL when b keeps none. */
static inline const struct hll_set *entry_authors(const struct bucket *b, const struct entry *e)
{
	return b->sk ? &b->sk[e - b->e] : NULL;
}

static void bucket_reindex(struct bucket *b)
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
		bucket_reindex(b);
	}
	return 0;
}

/* Gives an open level-0/1 bucket's syn as many slots as e. 0 or -ENOMEM. */
static int syn_fit(struct bucket *b)
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
	if (b->level < 2 && b->state == B_OPEN && syn_fit(b) < 0)
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
static void window_flush_authors(struct window *w)
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

/* Drops every entry and returns the slot to empty, keeping its memory. */
static void bucket_clear(struct window *w, struct bucket *b)
{
	if (b->level > 0)
		history_changed(w, b->level);
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

static inline uint32_t wsum_total(const struct wsum *s) { return s->n[0] + s->n[1] + s->n[2]; }
static inline uint32_t entry_total(const struct entry *e) { return e->n[0] + e->n[1] + e->n[2]; }

/* An entry's counts as a total (what an open bucket's syn copies). */
static inline struct wsum entry_sum(const struct entry *e)
{
	return (struct wsum){ { e->n[0], e->n[1], e->n[2] }, e->sent };
}

/* Whether y holds all of e (same counts and sentiment sum). */
static inline bool entry_synced(const struct entry *e, const struct wsum *y)
{
	return e->n[0] == y->n[0] && e->n[1] == y->n[1] && e->n[2] == y->n[2] &&
	       e->sent == y->sent;
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
static void window_sync(struct window *w)
{
	for (int l = 0; l < 2; l++) {
		struct level *L = &w->lv[l];
		for (uint32_t i = 0; i < L->nslots; i++)
			if (L->b[i].dirty)
				bucket_sync(w, l, &L->b[i]);
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
	bucket_reindex(b);
}

/* ---- levels --------------------------------------------------------- */

static struct bucket *level_bucket(struct level *L, int64_t key)
{
	struct bucket *b = &L->b[(uint64_t)key & (L->nslots - 1)];
	return b->key == key ? b : NULL;
}

static void bucket_retire(struct window *w, int level, struct bucket *b);

/* level_open() of a bucket not yet open: retires the stale occupant of its slot, opens it. */
static struct bucket *level_open_new(struct window *w, int level, struct bucket *b, int64_t key)
{
	struct level *L = &w->lv[level];
	if (b->state != B_EMPTY)
		bucket_retire(w, level, b);
	b->key = key;
	b->state = B_OPEN;
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
	if (dst->state != B_OPEN)
		history_changed(w, 2); /* a closed quarter's sets change (not in normal flow) */
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
			bucket_reindex(b);
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
static void bucket_pack_sets(struct bucket *b)
{
	for (uint32_t i = 0; b->sk && i < b->n; i++)
		hll_set_pack(&b->sk[i]); /* out of memory: it stays unpacked, which is fine */
}

static void bucket_close(struct window *w, int level, struct bucket *b)
{
	assert(b->state == B_OPEN);
	/* pruning subtracts dropped entries from the totals: they must hold them */
	bucket_sync(w, level, b);
	syn_free(b);
	b->state = B_CLOSED;
	if (level > 0) {
		history_changed(w, level);
		w->level_closes[level]++;
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
		bucket_pack_sets(b);
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
		bucket_pack_sets(b);
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
	if (!w->uni || !w->fb || !w->fe || !w->fat || tindex_grow(w) < 0)
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
	bigmem_free(w->tindex, (size_t)w->tindex_cap * sizeof *w->tindex);
	free(w->rows);
	free(w->cand);
	free(w->fb);
	free(w->fe);
	free(w->fat);
	for (int win = 0; win < WINDOW_COUNT; win++)
		prefix_cache_free(&w->prefix[win]);
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
		    (id = term_find(w, (uint8_t)kind, term, len, h, k, NULL)) == NO_TERM)
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
		bytes += prefix_cache_bytes(&w->prefix[win]);
	st->bytes = bytes;
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

/* w->prefix[win], emptied first if its level changed or the window moved on; NULL: no memory */
static struct prefix_cache *prefix_cache_for(struct window *w, int win)
{
	struct prefix_cache *pc = &w->prefix[win];
	int level = win == WINDOW_24H ? 2 : 1;
	int64_t end_key = floor_div(w->end_ms, level_span_ms[level]);
	if (!pc->ids) {
		pc->ids = malloc(PREFIX_CACHE_TERMS * sizeof *pc->ids);
		pc->at = malloc(PREFIX_CACHE_TERMS * sizeof *pc->at);
		pc->len = malloc(PREFIX_CACHE_TERMS * sizeof *pc->len);
		pc->count = malloc(PREFIX_CACHE_TERMS * sizeof *pc->count);
		pc->cov = malloc(PREFIX_CACHE_TERMS * sizeof *pc->cov);
		pc->last = malloc(PREFIX_CACHE_TERMS * sizeof *pc->last);
		pc->reg = calloc(PREFIX_CACHE_DENSE, sizeof *pc->reg);
		pc->slot = calloc(2 * PREFIX_CACHE_TERMS, sizeof *pc->slot);
		if (!pc->ids || !pc->at || !pc->len || !pc->count || !pc->cov || !pc->last ||
		    !pc->reg || !pc->slot) {
			prefix_cache_free(pc);
			return NULL;
		}
	}
	uint32_t epoch = w->level_epoch[level] - w->level_closes[level];
	if (!pc->valid || pc->epoch != epoch || pc->end_key != end_key) {
		if (pc->n)
			memset(pc->slot, 0, 2 * PREFIX_CACHE_TERMS * sizeof *pc->slot);
		pc->n = pc->ndense = pc->nhash = 0;
		pc->epoch = epoch;
		pc->end_key = end_key;
		pc->valid = true;
	}
	return pc;
}

/* The entry kept for term id, or -1. */
static int prefix_find(const struct prefix_cache *pc, uint32_t id)
{
	for (uint32_t j = (uint32_t)hash_u64(id) & (2 * PREFIX_CACHE_TERMS - 1);;
	     j = (j + 1) & (2 * PREFIX_CACHE_TERMS - 1)) {
		uint32_t e = pc->slot[j];
		if (!e)
			return -1;
		if (pc->ids[e - 1] == id)
			return (int)e - 1;
	}
}

/* Starts u again from entry k: the union it was kept from. */
static void prefix_load(const struct prefix_cache *pc, int k, struct hll_union *u)
{
	if (pc->len[k] == PREFIX_DENSE)
		hll_union_load_registers(u, pc->reg[pc->at[k]]);
	else
		hll_union_load_hashes(u, pc->hashes + pc->at[k], pc->len[k]);
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
	uint32_t j = (uint32_t)hash_u64(id) & (2 * PREFIX_CACHE_TERMS - 1);
	while (pc->slot[j])
		j = (j + 1) & (2 * PREFIX_CACHE_TERMS - 1);
	pc->ids[pc->n] = id;
	pc->at[pc->n] = at;
	pc->len[pc->n] = len;
	pc->count[pc->n] = hll_union_count(u);
	pc->cov[pc->n] = cov;
	pc->last[pc->n] = last;
	pc->slot[j] = ++pc->n;
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
		int64_t nm = win == WINDOW_5M ? 6 : 60;
		for (int64_t k = end1 - nm + 1; k <= end1; k++) {
			const struct bucket *b = level_bucket(L1, k);
			if (b && b->sk)
				p->authors[p->nauthors++] = b;
		}
	} else {
		int64_t end2 = floor_div(w->end_ms, 900000);
		for (int64_t k = end2 - L2->nwin + 1; k <= end2; k++) {
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
	history_ranges(w, win, &m_lo, &m_hi, &q_lo, &q_hi);
	p->hist = at;
	for (int64_t k = m_lo; k <= m_hi; k++) {
		const struct bucket *b = level_bucket(L1, k);
		if (b && b->state != B_OPEN)
			p->hist[p->nhist++] = b;
	}
	for (int64_t k = q_lo; k <= q_hi; k++) {
		const struct bucket *b = level_bucket(L2, k);
		if (b && b->state != B_OPEN)
			p->hist[p->nhist++] = b;
	}
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
 * The history ranges of window win: minutes [*m_lo, *m_hi] (level 1) and
 * quarter hours [*q_lo, *q_hi] (level 2) before the window start.
 */
static void history_ranges(const struct window *w, int win, int64_t *m_lo, int64_t *m_hi,
			   int64_t *q_lo, int64_t *q_hi)
{
	int64_t start_ms = w->end_ms - window_span_ms(win);
	*m_hi = floor_div(start_ms, 60000) - 1;
	*m_lo = *m_hi - 59;
	*q_hi = floor_div(*m_lo * 60000, 900000) - 1;
	*q_lo = floor_div(start_ms - 86400000, 900000);
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
		buckets_find(p->hist, p->nhist, id, w->fe);
		for (uint32_t i = 0; i < p->nhist; i++)
			if (w->fe[i])
				sum += w->fe[i]->authors;
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
	}
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
	uint32_t id = term_find(w, (uint8_t)kind, term, len, h, k, NULL);
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

int window_check(struct window *w, char *err, size_t errlen)
{
	uint32_t *refs = calloc(w->nterms ? w->nterms : 1, sizeof *refs);
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
	for (uint32_t id = 0; id < w->nterms; id++) {
		const struct wterm *t = &w->terms[id];
		const struct wcold *c = &w->cold[id];
		if (!c->live)
			continue;
		if (t->refs != refs[id]) {
			snprintf(err, errlen, "term '%s': refs %u, entries %u", term_str(c),
				 t->refs, refs[id]);
			goto out;
		}
		/* found by its own key: the slot's key is the string's */
		struct tkey k;
		uint64_t h = term_key(c->kind, term_str(c), c->len, &k);
		if (term_find(w, c->kind, term_str(c), c->len, h, k, NULL) != id) {
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
	rc = 0;
out:
	free(refs);
	free(tot);
	return rc;
}

/* ---- saving and restoring -------------------------------------------- */

/*
 * The state is native-endian binary (it never leaves the machine that wrote
 * it): a header, the window scalars, the term table in id order (so ids, the
 * free list and thus every later tie-break stay the same), then the buckets
 * of each level with their entries and author sets. Index structures and
 * prefetch hints are rebuilt, not saved. The reader checks every length and
 * value against the bytes left before it allocates, so corrupt input costs
 * at most its own size.
 */
#define STATE_MAGIC   0x34535754u  /* "TWS4" */
#define STATE_MAX_TERM_BYTES 1024  /* longer than any term the tokenizer makes */
#define REG_MAX       (32 - HLL_P + 1)

enum { SET_INLINE, SET_SPARSE, SET_DENSE, SET_COLUMN };

#define PUT(sb, v) sb_append((sb), (const char *)&(v), sizeof(v))

struct rd {
	const uint8_t *p;
	size_t len, off;
	const char *bad;   /* first problem found, or NULL */
};

static bool rd_get(struct rd *r, void *out, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		if (!r->bad)
			r->bad = "truncated";
		memset(out, 0, n);
		return false;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return true;
}

#define GET(r, v) rd_get((r), &(v), sizeof(v))

static bool rd_fail(struct rd *r, const char *why)
{
	if (!r->bad)
		r->bad = why;
	return false;
}

static size_t rd_left(const struct rd *r) { return r->len - r->off; }

/* LEB128: most counts and ids are small, and entries are most of a state. */
static void put_varint(struct strbuf *sb, uint64_t v)
{
	char buf[10];
	size_t n = 0;
	do {
		buf[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	sb_append(sb, buf, n);
}

static bool get_varint(struct rd *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b;
		if (!GET(r, b))
			return false;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return rd_fail(r, "bad number");
}

static bool get_varint32(struct rd *r, uint32_t *v)
{
	uint64_t x;
	if (!get_varint(r, &x))
		return false;
	if (x > UINT32_MAX)
		return rd_fail(r, "number out of range");
	*v = (uint32_t)x;
	return true;
}

/*
 * An entry: term id, counts by label and authors as numbers, the sentiment
 * sum as is. An open minute's entry saves 0 authors: its copy of the set's
 * column is rebuilt from the set on load.
 */
static void put_entry(struct strbuf *sb, const struct entry *e, bool open_minute)
{
	put_varint(sb, e->term);
	for (int i = 0; i < 3; i++)
		put_varint(sb, e->n[i]);
	PUT(sb, e->sent);
	put_varint(sb, open_minute ? 0 : e->authors);
}

static bool get_entry(struct rd *r, struct entry *e)
{
	bool ok = get_varint32(r, &e->term);
	for (int i = 0; i < 3 && ok; i++)
		ok = get_varint32(r, &e->n[i]);
	return ok && GET(r, e->sent) && get_varint32(r, &e->authors);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/*
 * A term's totals and read-side fields, most of them zero: a byte saying
 * which windows have a total and which a score peak, then only those, as
 * numbers; times as they are (zigzag), floats as they are.
 */
static void put_term_tail(struct strbuf *sb, const struct wcold *c)
{
	uint8_t have = 0;
	for (int k = 0; k < WINDOW_COUNT; k++) {
		if (wsum_total(&c->sum[k]) || c->sum[k].sent != 0)
			have |= (uint8_t)(1u << k);
		if (c->peak[k] != 0 || c->peak_ms[k] != 0)
			have |= (uint8_t)(1u << (4 + k));
	}
	PUT(sb, have);
	put_varint(sb, zigzag(c->first_seen_ms));
	for (int k = 0; k < WINDOW_COUNT; k++) {
		if (have & (1u << k)) {
			for (int i = 0; i < 3; i++)
				put_varint(sb, c->sum[k].n[i]);
			PUT(sb, c->sum[k].sent);
		}
		if (have & (1u << (4 + k))) {
			PUT(sb, c->peak[k]);
			put_varint(sb, zigzag(c->peak_ms[k]));
		}
	}
}

static bool get_term_tail(struct rd *r, struct wcold *c)
{
	uint8_t have;
	uint64_t v;
	if (!GET(r, have) || !get_varint(r, &v))
		return false;
	c->first_seen_ms = unzigzag(v);
	for (int k = 0; k < WINDOW_COUNT; k++) {
		if (have & (1u << k)) {
			for (int i = 0; i < 3; i++)
				if (!get_varint32(r, &c->sum[k].n[i]))
					return false;
			if (!GET(r, c->sum[k].sent))
				return false;
		}
		if (have & (1u << (4 + k))) {
			if (!GET(r, c->peak[k]) || !get_varint(r, &v))
				return false;
			c->peak_ms[k] = unzigzag(v);
		}
	}
	return true;
}

/* Registers reg[r * stride]: the non-zero ones as (index, value) when few, else all. */
static void put_registers(struct strbuf *sb, const uint8_t *reg, size_t stride)
{
	/* built in buf and appended at once: the sparse form is under HLL_REGISTERS bytes */
	uint8_t buf[HLL_REGISTERS];
	uint32_t nnz = 0;
	for (uint32_t i = 0; i < HLL_REGISTERS; i++)
		nnz += reg[(size_t)i * stride] != 0;
	PUT(sb, nnz);
	if (nnz * 3 < HLL_REGISTERS) {
		size_t o = 0;
		for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
			uint8_t v = reg[(size_t)i * stride];
			uint16_t ix = (uint16_t)i;
			if (!v)
				continue;
			memcpy(buf + o, &ix, sizeof ix);
			buf[o + sizeof ix] = v;
			o += sizeof ix + 1;
		}
		sb_append(sb, (const char *)buf, o);
		return;
	}
	if (stride == 1) {
		sb_append(sb, (const char *)reg, HLL_REGISTERS);
		return;
	}
	for (uint32_t i = 0; i < HLL_REGISTERS; i++)
		buf[i] = reg[(size_t)i * stride];
	sb_append(sb, (const char *)buf, HLL_REGISTERS);
}

static bool get_registers(struct rd *r, uint8_t *reg, size_t stride)
{
	uint32_t nnz;
	if (!GET(r, nnz) || nnz > HLL_REGISTERS)
		return rd_fail(r, "bad register count");
	if (nnz * 3 < HLL_REGISTERS) {
		for (uint32_t i = 0; i < nnz; i++) {
			uint16_t ix;
			uint8_t v;
			if (!GET(r, ix) || !GET(r, v) || ix >= HLL_REGISTERS || v == 0 || v > REG_MAX)
				return rd_fail(r, "bad register");
			reg[(size_t)ix * stride] = v;
		}
		return true;
	}
	for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
		uint8_t v;
		if (!GET(r, v) || v > REG_MAX)
			return rd_fail(r, "bad register");
		reg[(size_t)i * stride] = v;
	}
	return true;
}

/* Sorts v[0..n) ascending, tmp holding n: by insertion while short, else by bytes (LSD radix). */
static void sort_u32(uint32_t *v, uint32_t *tmp, uint32_t n)
{
	if (n <= 32) {
		for (uint32_t i = 1; i < n; i++) {
			uint32_t x = v[i], j = i;
			for (; j > 0 && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	uint32_t *from = v, *to = tmp;
	for (unsigned shift = 0; shift < 32; shift += 8) {
		uint32_t at[257] = { 0 };
		for (uint32_t i = 0; i < n; i++)
			at[((from[i] >> shift) & 255) + 1]++;
		for (int b = 0; b < 256; b++)
			at[b + 1] += at[b];
		for (uint32_t i = 0; i < n; i++)
			to[at[(from[i] >> shift) & 255]++] = from[i];
		uint32_t *t = from;
		from = to;
		to = t;
	}
	/* four passes: the sorted values are back in v */
}

static void put_set(struct strbuf *sb, const struct hll_group *g, const struct hll_set *s)
{
	uint8_t tag;
	if (s->cap == 0) {
		uint8_t n = (uint8_t)s->n;
		tag = SET_INLINE;
		PUT(sb, tag);
		PUT(sb, n);
		sb_append(sb, (const char *)s->u.inl, n * sizeof(uint32_t));
	} else if (s->cap == HLL_SET_COLUMN) {
		tag = SET_COLUMN;
		PUT(sb, tag);
		PUT(sb, s->n);
		PUT(sb, s->u.heap.last);
		put_registers(sb, g->reg + s->n, g->stride);
	} else if (s->cap == HLL_SET_DENSE) {
		tag = SET_DENSE;
		PUT(sb, tag);
		PUT(sb, s->u.heap.last);
		put_registers(sb, s->u.heap.mem, 1);
	} else {
		/* the hashes in ascending order, not the slots: a quarter to half the bytes;
		 * a packed set as the sparse one it was */
		uint32_t v[2 * HLL_SPARSE_MAX], tmp[2 * HLL_SPARSE_MAX], n = 0;
		const uint32_t *slot = s->u.heap.mem;
		bool packed = s->cap == HLL_SET_PACKED;
		uint32_t len = packed ? s->n : s->cap, cap = packed ? s->u.heap.slots : s->cap;
		for (uint32_t i = 0; i < len; i++)
			if (slot[i])
				v[n++] = slot[i];
		sort_u32(v, tmp, n);
		tag = SET_SPARSE;
		PUT(sb, tag);
		PUT(sb, cap);
		PUT(sb, n);
		PUT(sb, s->u.heap.last);
		sb_append(sb, (const char *)v, (size_t)n * sizeof *v);
	}
}

/* Reads a set into *s (zeroed); a column goes into g, which has its table. */
static bool get_set(struct rd *r, struct hll_group *g, struct hll_set *s)
{
	uint8_t tag;
	memset(s, 0, sizeof *s);
	if (!GET(r, tag))
		return false;
	switch (tag) {
	case SET_INLINE: {
		uint8_t n;
		if (!GET(r, n) || n > HLL_INLINE)
			return rd_fail(r, "bad inline author set");
		s->n = n;
		return rd_get(r, s->u.inl, n * sizeof(uint32_t));
	}
	case SET_COLUMN: {
		uint32_t col, last;
		if (!GET(r, col) || !GET(r, last) || col >= g->ncols)
			return rd_fail(r, "bad author set column");
		if (!get_registers(r, g->reg + col, g->stride))
			return false;
		s->cap = HLL_SET_COLUMN;
		s->n = col;
		s->u.heap.last = last;
		return true;
	}
	case SET_DENSE: {
		uint32_t last;
		if (!GET(r, last))
			return false;
		uint8_t *reg = calloc(1, HLL_REGISTERS);
		if (!reg)
			return rd_fail(r, "out of memory");
		s->cap = HLL_SET_DENSE;
		s->u.heap.mem = reg;
		s->u.heap.last = last;
		return get_registers(r, reg, 1);
	}
	case SET_SPARSE: {
		uint32_t cap, n, last, have = 0;
		if (!GET(r, cap) || !GET(r, n) || !GET(r, last))
			return false;
		if (cap < 16 || cap > 2 * HLL_SPARSE_MAX || (cap & (cap - 1)) || n * 2 > cap ||
		    (size_t)n * 4 > rd_left(r))
			return rd_fail(r, "bad sparse author set");
		uint32_t *slot = calloc(cap, sizeof *slot);
		if (!slot)
			return rd_fail(r, "out of memory");
		s->cap = cap;
		s->n = n;
		s->u.heap.mem = slot;
		s->u.heap.last = last;
		/* linear probing from hll_mix32(hash), as hll_group_add() inserts */
		for (uint32_t k = 0, prev = 0; k < n; k++) {
			uint32_t v, i;
			if (!GET(r, v) || v <= prev)
				return rd_fail(r, "bad sparse author set");
			prev = v;
			for (i = hll_mix32(v) & (cap - 1); slot[i]; i = (i + 1) & (cap - 1))
				;
			slot[i] = v;
			have++;
		}
		return have == n;
	}
	default:
		return rd_fail(r, "unknown author set form");
	}
}

void window_state_save(const struct window *w, struct strbuf *sb)
{
	uint32_t magic = STATE_MAGIC, nfree = w->nterms - w->live_terms;
	uint8_t started = w->started;
	size_t start = sb->len;

	/*
	 * The pending author adds go into the sets first, so the state holds
	 * sets only. That changes how w holds its authors, not what they are:
	 * w is logically const, and every window comes from window_new, never
	 * from a const object, so writing through it is defined.
	 */
	window_flush_authors((struct window *)w);
	window_sync((struct window *)w); /* the totals saved hold every count */

	PUT(sb, magic);
	PUT(sb, w->end_ms);
	PUT(sb, w->wall_ms);
	PUT(sb, started);
	PUT(sb, w->post_seq);
	for (int i = 0; i < WINDOW_COUNT; i++)
		PUT(sb, w->vol[i]);
	PUT(sb, w->posts);
	PUT(sb, w->late);
	PUT(sb, w->future);
	PUT(sb, w->pruned);

	PUT(sb, w->nterms);
	for (uint32_t id = 0; id < w->nterms; id++) {
		const struct wcold *c = &w->cold[id];
		uint8_t live = c->live;
		PUT(sb, live);
		if (!live)
			continue;
		PUT(sb, c->kind);
		PUT(sb, c->len);
		sb_append(sb, term_str(c), c->len);
		put_term_tail(sb, c);
	}
	PUT(sb, nfree);
	for (uint32_t id = w->free_head; id != NO_TERM; id = w->terms[id].u.next_free)
		PUT(sb, id);

	for (int l = 0; l < NLEVELS; l++) {
		const struct level *L = &w->lv[l];
		uint32_t nb = 0;
		for (uint32_t i = 0; i < L->nslots; i++)
			nb += L->b[i].state != B_EMPTY;
		PUT(sb, nb);
		for (uint32_t i = 0; i < L->nslots; i++) {
			const struct bucket *b = &L->b[i];
			if (b->state == B_EMPTY)
				continue;
			uint8_t flags = (uint8_t)(b->in_sum | (b->sketches << 1) | ((b->sk != NULL) << 2));
			PUT(sb, b->key);
			PUT(sb, b->state);
			PUT(sb, flags);
			PUT(sb, b->error);
			PUT(sb, b->error_in);
			PUT(sb, b->vol);
			PUT(sb, b->n);
			PUT(sb, b->grp.ncols);
			PUT(sb, b->grp.stride);
			for (uint32_t k = 0; k < b->n; k++) {
				put_entry(sb, &b->e[k], l == 1 && b->state == B_OPEN);
				if (b->sk)
					put_set(sb, &b->grp, &b->sk[k]);
			}
		}
	}
	/* a hash of it all: damage is refused whole, not restored as plausible counts */
	if (!sb->failed) {
		uint64_t h = hash_bytes(sb->buf + start, sb->len - start);
		PUT(sb, h);
	}
}

static int load_terms(struct window *w, struct rd *r)
{
	uint32_t nterms, nfree;
	if (!GET(r, nterms))
		return -EINVAL;
	if (nterms > rd_left(r) || nterms >= NO_TERM - 1) /* a term takes at least a byte */
		return rd_fail(r, "bad term count"), -EINVAL;
	while (w->terms_cap < nterms)
		if (terms_grow(w) < 0)
			return -ENOMEM;
	for (uint32_t id = 0; id < nterms; id++) {
		struct wterm *t = &w->terms[id];
		struct wcold *c = &w->cold[id];
		uint8_t live;
		memset(t, 0, sizeof *t);
		memset(c, 0, sizeof *c);
		w->nterms = id + 1;
		if (!GET(r, live) || live > 1)
			return rd_fail(r, "bad term"), -EINVAL;
		if (!live)
			continue;
		uint8_t kind;
		uint16_t len;
		if (!GET(r, kind) || !GET(r, len) || kind >= TERM_KIND_COUNT || len == 0 ||
		    len > STATE_MAX_TERM_BYTES || len > rd_left(r))
			return rd_fail(r, "bad term"), -EINVAL;
		char *s = c->str.in;
		if (len >= TERM_INLINE && !(s = c->str.out = malloc(len + 1u)))
			return -ENOMEM;
		c->len = len;
		c->kind = kind;
		c->live = 1;
		w->live_terms++;
		rd_get(r, s, len);
		s[len] = 0;
		if (!get_term_tail(r, c))
			return -EINVAL;
		if (memchr(s, 0, len))
			return rd_fail(r, "term with a NUL byte"), -EINVAL;
		struct tkey k;
		uint64_t h = term_key(kind, s, len, &k);
		uint32_t slot;
		if ((w->live_terms + 1) * 4 > w->tindex_cap * 3 && tindex_grow(w) < 0)
			return -ENOMEM;
		if (term_find(w, kind, s, len, h, k, &slot) != NO_TERM)
			return rd_fail(r, "duplicate term"), -EINVAL;
		w->tindex[slot] = slot_make(id, kind, len, h, k);
	}
	if (!GET(r, nfree) || nfree != w->nterms - w->live_terms)
		return rd_fail(r, "bad free list"), -EINVAL;
	uint32_t *link = &w->free_head;
	for (uint32_t i = 0; i < nfree; i++) {
		uint32_t id;
		if (!GET(r, id) || id >= w->nterms || w->cold[id].live)
			return rd_fail(r, "bad free list"), -EINVAL;
		w->cold[id].live = 2; /* on the list: a second mention is refused */
		*link = id;
		link = &w->terms[id].u.next_free;
	}
	*link = NO_TERM;
	for (uint32_t id = w->free_head; id != NO_TERM; id = w->terms[id].u.next_free)
		w->cold[id].live = 0;
	return 0;
}

static int load_bucket(struct window *w, int l, struct rd *r)
{
	struct level *L = &w->lv[l];
	int64_t key;
	uint8_t state, flags;
	uint32_t n, ncols, stride;
	struct vsum vol;
	uint32_t error, error_in;

	if (!GET(r, key) || !GET(r, state) || !GET(r, flags) || !GET(r, error) ||
	    !GET(r, error_in) || !GET(r, vol) || !GET(r, n) || !GET(r, ncols) || !GET(r, stride))
		return -EINVAL;
	bool in_sum = flags & 1, sketches = flags & 2, has_sk = flags & 4;
	if (key == EMPTY_KEY || state < B_OPEN || state > B_BASELINE || flags > 7)
		return rd_fail(r, "bad bucket"), -EINVAL;
	/*
	 * A bucket that never took an entry has no arrays yet, author sets
	 * included (bucket_grow() makes them with the first entry).
	 */
	if ((l == 0 && (sketches || has_sk)) ||
	    (l > 0 && ((has_sk != sketches && !(sketches && n == 0)) ||
		       sketches != (state != B_BASELINE))))
		return rd_fail(r, "bucket author sets misplaced"), -EINVAL;
	if (n > rd_left(r) / 8 || ncols > n || stride > 2 * n + 16 ||
	    (ncols && (l != 1 || state != B_OPEN || stride < ncols)))
		return rd_fail(r, "bad bucket size"), -EINVAL;
	struct bucket *b = &L->b[(uint64_t)key & (L->nslots - 1)];
	if (b->state != B_EMPTY)
		return rd_fail(r, "buckets collide (saved with a larger lateness?)"), -EINVAL;
	b->key = key;
	b->state = state;
	b->in_sum = in_sum;
	b->sketches = sketches;
	b->error = error;
	b->error_in = error_in;
	b->vol = vol;
	if (n == 0 && !has_sk)
		return 0; /* as it was saved: arrays come with the first entry */
	uint32_t cap = pow2_at_least(n > 16 ? n : 16);
	uint32_t icap = pow2_at_least(2 * ((uint64_t)n + 1) > 32 ? 2 * ((uint64_t)n + 1) : 32);
	b->e = malloc((size_t)cap * sizeof *b->e);
	b->idx = calloc(icap, sizeof *b->idx);
	b->sk = has_sk ? calloc(cap, sizeof *b->sk) : NULL;
	if (!b->e || !b->idx || (has_sk && !b->sk) ||
	    (ncols && hll_group_alloc(&b->grp, ncols, stride) < 0))
		return -ENOMEM;
	b->cap = cap;
	b->idx_cap = icap;
	for (uint32_t k = 0; k < n; k++) {
		struct entry *e = &b->e[k];
		if (!get_entry(r, e))
			return -EINVAL;
		if (e->term >= w->nterms || !w->cold[e->term].live)
			return rd_fail(r, "entry names an unknown term"), -EINVAL;
		b->n = k + 1;
		w->terms[e->term].refs++;
		w->entries++;
		if (has_sk && !get_set(r, &b->grp, &b->sk[k]))
			return -EINVAL;
		/* an open minute's entry keeps a copy of its set's column (struct entry) */
		if (l == 1 && state == B_OPEN)
			e->authors = b->sk[k].cap == HLL_SET_COLUMN ? b->sk[k].n + 1 : 0;
	}
	bucket_reindex(b);
	for (uint32_t k = 0; k < n; k++)
		if (bucket_find_ix(b, b->e[k].term) != k)
			return rd_fail(r, "a term twice in one bucket"), -EINVAL;
	if (l < 2 && state == B_OPEN) {
		/* saving synced the totals: they hold all of every entry */
		if (syn_fit(b) < 0)
			return -ENOMEM;
		for (uint32_t k = 0; k < n; k++)
			b->syn[k] = entry_sum(&b->e[k]);
	}
	if (state == B_CLOSED)
		bucket_pack_sets(b); /* as closing packed them */
	return 0;
}

int window_state_load(struct window **out, const struct window_config *cfg, const void *buf,
		      size_t len, char *err, size_t errlen)
{
	struct rd r = { .p = buf, .len = len };
	struct window *w = window_new(cfg);
	uint32_t magic;
	uint8_t started;
	int rc = -EINVAL;

	*out = NULL;
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!GET(&r, magic) || magic != STATE_MAGIC) {
		rd_fail(&r, "not a window state");
		goto fail;
	}
	uint64_t h;
	if (len < sizeof magic + sizeof h) {
		rd_fail(&r, "truncated");
		goto fail;
	}
	memcpy(&h, (const uint8_t *)buf + len - sizeof h, sizeof h);
	if (hash_bytes(buf, len - sizeof h) != h) {
		rd_fail(&r, "checksum mismatch (damaged or truncated)");
		goto fail;
	}
	r.len = len - sizeof h;
	GET(&r, w->end_ms);
	GET(&r, w->wall_ms);
	GET(&r, started);
	GET(&r, w->post_seq);
	for (int i = 0; i < WINDOW_COUNT; i++)
		GET(&r, w->vol[i]);
	GET(&r, w->posts);
	GET(&r, w->late);
	GET(&r, w->future);
	GET(&r, w->pruned);
	w->started = started != 0;
	if (r.bad || (rc = load_terms(w, &r)) < 0)
		goto fail;
	for (int l = 0; l < NLEVELS; l++) {
		uint32_t nb;
		if (!GET(&r, nb) || nb > w->lv[l].nslots) {
			rd_fail(&r, "more buckets than the rings hold (saved with a larger lateness?)");
			rc = -EINVAL;
			goto fail;
		}
		for (uint32_t i = 0; i < nb; i++)
			if ((rc = load_bucket(w, l, &r)) < 0)
				goto fail;
	}
	if (r.off != r.len) {
		rd_fail(&r, "trailing bytes");
		rc = -EINVAL;
		goto fail;
	}
	for (uint32_t id = 0; id < w->nterms; id++)
		if (w->cold[id].live && w->terms[id].refs == 0) {
			rd_fail(&r, "a term no bucket names");
			rc = -EINVAL;
			goto fail;
		}
	char why[200];
	if (window_check(w, why, sizeof why) < 0) {
		snprintf(err, errlen, "window state is inconsistent: %s", why);
		window_free(w);
		return -EINVAL;
	}
	*out = w;
	return 0;
fail:
	if (rc == -ENOMEM || (r.bad && !strcmp(r.bad, "out of memory"))) {
		snprintf(err, errlen, "out of memory restoring the window state");
		rc = -ENOMEM;
	} else {
		snprintf(err, errlen, "window state rejected at byte %zu: %s", r.off,
			 r.bad ? r.bad : "invalid");
		rc = -EINVAL;
	}
	window_free(w);
	return rc;
}
