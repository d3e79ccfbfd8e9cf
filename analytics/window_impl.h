/*
 * window_impl.h - the inside of struct window (analytics/window.h), shared by
 * the three files that implement it and by nothing else:
 *  - window.c: terms, buckets and levels, counting posts, closing, pruning,
 *    rolling up and expiring buckets, the running totals, window_check();
 *  - window_view.c: reading the windows - views (top terms by count and by
 *    trend score, series, volume), the kept author unions, window_lookup();
 *  - window_state.c: saving a window and restoring it (window_state_*).
 * The small functions all three use are inline here; the larger ones are
 * window.c's, declared at the end.
 *
 * Owned, like the window, by the analytics thread.
 */
#ifndef TRENDD_WINDOW_IMPL_H
#define TRENDD_WINDOW_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "analytics/hll.h"
#include "analytics/window.h"
#include "core/hash.h"

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
	/* 1 + the index in window.tseg of the segment its record was saved in; 0: none */
	uint32_t seg;
};

/*
 * A segment of term records (window_state.c, "Term segments"): records
 * written in it, and how many of them are still the record of a live term.
 */
struct term_seg {
	uint64_t id, hash;
	uint32_t nrec, nlive;
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
	/*
	 * A bucket that is no longer open, or a quarter hour (open ones change
	 * only when a minute rolls up), saved apart from the state as a segment
	 * (window_state_save_segments()): the segment's id and the hash of its
	 * bytes; seg 0 when it has none, or changed since (bucket_edited()).
	 */
	uint64_t seg, seg_hash;
};

/*
 * Every change to a bucket that may be in a segment - a minute rolled into
 * a quarter hour, a quarter hour closing, sketches dropped at baseline, the
 * slot cleared - goes through here: the segment it was saved in no longer
 * holds it, and the next checkpoint writes it again.
 */
static inline void bucket_edited(struct bucket *b) { b->seg = 0; }

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
 * closing; then all go at once (their memory is kept for the next), and
 * those built ahead for the next bucket (window.ahead[]) take their place. A
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
	uint32_t edits;                /* built ahead: level_edits of their level */
	int64_t built_ms;              /* built ahead: the window's end at the last build */
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

/*
 * term_expected()'s author sums for the history range a window will have
 * once its end moves to the next minute, built ahead by its views (see
 * hist_build_ahead()): only while every bucket of that range is closed,
 * and dropped when one of them changes (window_hist_touch()).
 */
#define HIST_AHEAD_TERMS 2048

struct hist_ahead {
	bool valid;
	int64_t m_lo, m_hi, q_lo, q_hi; /* the range: minutes, quarter hours */
	int64_t built_ms;              /* the window's end at the last build */
	uint32_t n;
	uint32_t *ids;                 /* owned, HIST_AHEAD_TERMS: the entries' terms */
	uint64_t *sums;                /* owned, HIST_AHEAD_TERMS: their sums */
	uint32_t *slot;                /* owned, 2 * HIST_AHEAD_TERMS: 1 + entry, 0 = empty */
};

struct window {
	struct window_config cfg;
	struct level lv[NLEVELS];

	struct wterm *terms;           /* owned, 64-byte aligned; indexed by term id */
	struct wcold *cold;            /* owned; parallel to terms */
	uint32_t nterms, terms_cap, free_head, live_terms;
	struct tslot *tindex;          /* owned */
	uint32_t tindex_cap;
	/* the segments holding the saved term records (window_state.c) */
	struct term_seg *tseg;         /* owned, in the order written */
	uint32_t ntseg, tseg_cap;
	uint32_t terms_unsaved;        /* live terms whose record is in no segment */

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
	/* the part that changed a bucket the window still holds: not closing, nor leaving */
	uint32_t level_edits[NLEVELS];
	struct prefix_cache prefix[WINDOW_COUNT];
	/* the unions prefix[] will keep once the window's end moves a bucket on */
	struct prefix_cache ahead[WINDOW_COUNT];
	uint64_t unions_ahead;         /* kept unions that were built ahead */
	struct hist_ahead hist_ahead[WINDOW_COUNT];
	uint64_t sums_ahead;           /* term_expected() sums taken from hist_ahead */
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

static inline int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

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

static inline struct tslot slot_make(uint32_t id, uint8_t kind, size_t len, uint64_t h,
				     struct tkey k)
{
	return (struct tslot){ .key = { k.a, k.b }, .meta = slot_meta(h, kind, len),
			       .id1 = id + 1 };
}

static inline uint32_t entry_home(uint32_t term, uint32_t mask)
{
	return (uint32_t)hash_u64(term) & mask;
}

static inline uint32_t bucket_find_ix(const struct bucket *b, uint32_t term)
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

static inline const struct entry *bucket_find(const struct bucket *b, uint32_t term)
{
	uint32_t ix = bucket_find_ix(b, term);
	return ix == NO_TERM ? NULL : &b->e[ix];
}

/* The author set of entry e of b, or NULL when b keeps none. */
static inline const struct hll_set *entry_authors(const struct bucket *b, const struct entry *e)
{
	return b->sk ? &b->sk[e - b->e] : NULL;
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

static inline struct bucket *level_bucket(struct level *L, int64_t key)
{
	struct bucket *b = &L->b[(uint64_t)key & (L->nslots - 1)];
	return b->key == key ? b : NULL;
}

/* ---- window.c, for window_view.c and window_state.c ---- */

/* The id of term (kind, s[0..len)) with hash h and key words k, or NO_TERM and its free slot. */
uint32_t window_term_find(const struct window *w, uint8_t kind, const char *s, size_t len,
			  uint64_t h, struct tkey k, uint32_t *slot_out);
/* Doubles the term index (the first: 1024 slots). 0 or -ENOMEM. */
int window_tindex_grow(struct window *w);
/* Grows the term array; terms move, so callers hold ids, not pointers. 0 or -ENOMEM. */
int window_terms_grow(struct window *w);
/* Rebuilds b's entry index (b->idx, b->idx_cap slots) from its entries. */
void window_bucket_reindex(struct bucket *b);
/* Gives an open level-0/1 bucket's syn as many slots as e. 0 or -ENOMEM. */
int window_syn_fit(struct bucket *b);
/* Packs a closed bucket's sparse author sets (hll_set_pack). */
void window_bucket_pack_sets(struct bucket *b);
/* bucket_sync() of every dirty bucket: before reading the totals. */
void window_sync(struct window *w);
/* Applies the pending author adds of every open minute: before anything reads their sets. */
void window_flush_authors(struct window *w);

/* ---- window_view.c, for window.c ---- */

void window_prefix_cache_free(struct prefix_cache *pc);
size_t window_prefix_cache_bytes(const struct prefix_cache *pc);
void window_hist_ahead_free(struct hist_ahead *ha);
size_t window_hist_ahead_bytes(const struct hist_ahead *ha);
/* Bucket key of a level changed (opened, closed, edited, cleared): sums built ahead over it go. */
void window_hist_touch(struct window *w, int level, int64_t key);

#endif
