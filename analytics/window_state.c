/*
 * window_state.c - a window saved to bytes and restored from them
 * (window_state_save(), window_state_load()), for the engine's checkpoints.
 * The window's inside is in analytics/window_impl.h.
 */
#include "analytics/window.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/hll.h"
#include "analytics/window_impl.h"
#include "core/hash.h"
#include "core/strbuf.h"

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

/* A bucket's flags: in the window totals, keeps sketches, has sets; body in a segment. */
#define BUCKET_IN_SEGMENT 8

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

/*
 * LEB128 into p; returns the bytes written (at most 10). Most counts and ids
 * are small, and entries are most of a state.
 */
static size_t varint_to(char *p, uint64_t v)
{
	if (v < 0x80) { /* most counts */
		*p = (char)v;
		return 1;
	}
	size_t n = 0;
	do {
		p[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
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
	/* built in buf and appended at once: entries are most of a state's fields */
	char buf[5 * 10 + sizeof e->sent];
	size_t n = varint_to(buf, e->term);
	for (int i = 0; i < 3; i++)
		n += varint_to(buf + n, e->n[i]);
	memcpy(buf + n, &e->sent, sizeof e->sent);
	n += sizeof e->sent;
	n += varint_to(buf + n, open_minute ? 0 : e->authors);
	sb_append(sb, buf, n);
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
 * A live term: live (1), kind, length and bytes, then its totals and
 * read-side fields, most of them zero: a byte saying which windows have a
 * total and which a score peak, then only those, as numbers; times as they
 * are (zigzag), floats as they are. Built in a local buffer and appended at
 * once (with the bytes apart when long): a state has one per term.
 */
#define TERM_TAIL_MAX (1 + 10 + WINDOW_COUNT * (3 * 10 + 2 * sizeof(float) + 10))
_Static_assert(sizeof(((struct wsum *)0)->sent) == sizeof(float) &&
		       sizeof(((struct wcold *)0)->peak[0]) == sizeof(float),
	       "TERM_TAIL_MAX counts the sums and peaks as floats");
#define TERM_BYTES_INLINE 96
static void put_term(struct strbuf *sb, const struct wcold *c)
{
	uint8_t buf[4 + TERM_BYTES_INLINE + TERM_TAIL_MAX];
	uint8_t have = 0;
	size_t n = 0;
	bool inline_bytes = c->len <= TERM_BYTES_INLINE;
	for (int k = 0; k < WINDOW_COUNT; k++) {
		if (wsum_total(&c->sum[k]) || c->sum[k].sent != 0)
			have |= (uint8_t)(1u << k);
		if (c->peak[k] != 0 || c->peak_ms[k] != 0)
			have |= (uint8_t)(1u << (4 + k));
	}
	buf[n++] = 1; /* live */
	buf[n++] = c->kind;
	memcpy(buf + n, &c->len, sizeof c->len);
	n += sizeof c->len;
	if (inline_bytes) {
		memcpy(buf + n, term_str(c), c->len);
		n += c->len;
	} else {
		sb_append(sb, (const char *)buf, n);
		sb_append(sb, term_str(c), c->len);
		n = 0;
	}
	buf[n++] = have;
	n += varint_to((char *)buf + n, zigzag(c->first_seen_ms));
	for (int k = 0; k < WINDOW_COUNT; k++) {
		if (have & (1u << k)) {
			for (int i = 0; i < 3; i++)
				n += varint_to((char *)buf + n, c->sum[k].n[i]);
			memcpy(buf + n, &c->sum[k].sent, sizeof c->sum[k].sent);
			n += sizeof c->sum[k].sent;
		}
		if (have & (1u << (4 + k))) {
			memcpy(buf + n, &c->peak[k], sizeof c->peak[k]);
			n += sizeof c->peak[k];
			n += varint_to((char *)buf + n, zigzag(c->peak_ms[k]));
		}
	}
	sb_append(sb, (const char *)buf, n);
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
		const uint32_t *out = v;
		bool packed = s->cap == HLL_SET_PACKED;
		uint32_t cap = packed ? s->u.heap.slots : s->cap;
		if (packed) {
			/*
			 * A packed set is an array of its hashes in no set order,
			 * and closed buckets are saved at every checkpoint for a
			 * day: sorted in place the first time (the order is not
			 * part of the set), then appended as they are.
			 */
			uint32_t *p = s->u.heap.mem;
			n = s->n;
			uint32_t i = 1;
			while (i < n && p[i - 1] < p[i])
				i++;
			if (i < n)
				sort_u32(p, tmp, n);
			out = p;
		} else {
			const uint32_t *slot = s->u.heap.mem;
			for (uint32_t i = 0; i < s->cap; i++)
				if (slot[i])
					v[n++] = slot[i];
			sort_u32(v, tmp, n);
		}
		char head[1 + 3 * sizeof(uint32_t)];
		head[0] = SET_SPARSE;
		memcpy(head + 1, &cap, sizeof cap);
		memcpy(head + 1 + 4, &n, sizeof n);
		memcpy(head + 1 + 8, &s->u.heap.last, sizeof(uint32_t));
		sb_append(sb, head, sizeof head);
		sb_append(sb, (const char *)out, (size_t)n * sizeof *out);
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

/* A bucket's entries, each with its author set when it keeps them: its body. */
static void put_body(struct strbuf *sb, const struct bucket *b, int l)
{
	for (uint32_t k = 0; k < b->n; k++) {
		put_entry(sb, &b->e[k], l == 1 && b->state == B_OPEN);
		if (b->sk)
			put_set(sb, &b->grp, &b->sk[k]);
	}
}

/*
 * The body of b, which is no longer open: as the segment it was saved in
 * if it has not changed since, else in sb - and moved from there into a new
 * segment when it is large enough to be worth a row of its own.
 */
static void put_body_apart(struct strbuf *sb, struct bucket *b, int l, size_t flags_at,
			   struct window_segments *segs)
{
	if (!b->seg) {
		size_t at = sb->len;
		size_t min = segs->min_bytes ? segs->min_bytes : WINDOW_SEGMENT_MIN_BYTES;
		put_body(sb, b, l);
		if (sb->failed || sb->len - at < min)
			return;
		uint64_t id = segs->next_id, len = sb->len - at;
		uint64_t h = hash_bytes(sb->buf + at, (size_t)len);
		PUT(&segs->out, id);
		PUT(&segs->out, len);
		sb_append(&segs->out, sb->buf + at, (size_t)len);
		if (segs->out.failed)
			return; /* the body stays in the state */
		sb->len = at;
		sb->buf[at] = 0;
		segs->next_id++;
		segs->added++;
		b->seg = id;
		b->seg_hash = h;
	}
	sb->buf[flags_at] |= BUCKET_IN_SEGMENT;
	PUT(sb, b->seg);
	PUT(sb, b->seg_hash);
	PUT(&segs->refs, b->seg);
}

/* window_state_save() when segs is NULL: every body in the state */
void window_state_save_segments(struct window *w, struct strbuf *sb, struct window_segments *segs)
{
	uint32_t magic = STATE_MAGIC, nfree = w->nterms - w->live_terms;
	uint8_t started = w->started;
	size_t start = sb->len;

	/* pending author adds go into the sets first, so the state holds sets only */
	window_flush_authors(w);
	window_sync(w); /* the totals saved hold every count */

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
		uint8_t dead = 0;
		if (c->live)
			put_term(sb, c);
		else
			PUT(sb, dead);
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
			struct bucket *b = &L->b[i];
			if (b->state == B_EMPTY)
				continue;
			uint8_t flags = (uint8_t)(b->in_sum | (b->sketches << 1) | ((b->sk != NULL) << 2));
			PUT(sb, b->key);
			PUT(sb, b->state);
			size_t flags_at = sb->len;
			PUT(sb, flags);
			PUT(sb, b->error);
			PUT(sb, b->error_in);
			PUT(sb, b->vol);
			PUT(sb, b->n);
			PUT(sb, b->grp.ncols);
			PUT(sb, b->grp.stride);
			if (segs && b->state != B_OPEN && b->n > 0 && !sb->failed)
				put_body_apart(sb, b, l, flags_at, segs);
			else
				put_body(sb, b, l);
		}
	}
	/* a hash of it all: damage is refused whole, not restored as plausible counts */
	if (!sb->failed) {
		uint64_t h = hash_bytes(sb->buf + start, sb->len - start);
		PUT(sb, h);
	}
}

void window_state_save(const struct window *w, struct strbuf *sb)
{
	/*
	 * Saving flushes pending author adds into the sets, which changes how w
	 * holds its authors, not what they are: w is logically const, and
	 * every window comes from window_new, never from a const object, so
	 * writing through it is defined.
	 */
	window_state_save_segments((struct window *)w, sb, NULL);
}

void window_forget_segments(struct window *w)
{
	for (int l = 0; l < NLEVELS; l++)
		for (uint32_t i = 0; i < w->lv[l].nslots; i++)
			bucket_edited(&w->lv[l].b[i]);
}

static int load_terms(struct window *w, struct rd *r)
{
	uint32_t nterms, nfree;
	if (!GET(r, nterms))
		return -EINVAL;
	if (nterms > rd_left(r) || nterms >= NO_TERM - 1) /* a term takes at least a byte */
		return rd_fail(r, "bad term count"), -EINVAL;
	while (w->terms_cap < nterms)
		if (window_terms_grow(w) < 0)
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
		if ((w->live_terms + 1) * 4 > w->tindex_cap * 3 && window_tindex_grow(w) < 0)
			return -ENOMEM;
		if (window_term_find(w, kind, s, len, h, k, &slot) != NO_TERM)
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

/* Where the bodies saved apart are looked up. */
struct seg_src {
	window_segment_fn fn;
	void *ctx;
	char why[96]; /* a problem found inside a segment, named */
};

/*
 * Points body at the bytes of the segment a bucket names (id, then the hash
 * of its bytes, in r) and records the segment in b.
 */
static bool get_segment(struct rd *r, const struct seg_src *src, struct bucket *b,
			struct rd *body)
{
	uint64_t id, h;
	const void *p = NULL;
	size_t len = 0;
	if (!GET(r, id) || !GET(r, h))
		return false;
	if (id == 0 || !src->fn || src->fn(src->ctx, id, &p, &len) < 0 || !p)
		return rd_fail(r, "names a segment that is missing");
	if (hash_bytes(p, len) != h)
		return rd_fail(r, "segment checksum mismatch (damaged)");
	*body = (struct rd){ .p = p, .len = len };
	b->seg = id;
	b->seg_hash = h;
	return true;
}

static int load_bucket(struct window *w, int l, struct rd *r, struct seg_src *src)
{
	struct level *L = &w->lv[l];
	int64_t key;
	uint8_t state, flags;
	uint32_t n, ncols, stride;
	struct vsum vol;
	uint32_t error, error_in;
	struct rd apart, *body = r; /* where the entries are */

	if (!GET(r, key) || !GET(r, state) || !GET(r, flags) || !GET(r, error) ||
	    !GET(r, error_in) || !GET(r, vol) || !GET(r, n) || !GET(r, ncols) || !GET(r, stride))
		return -EINVAL;
	bool in_sum = flags & 1, sketches = flags & 2, has_sk = flags & 4;
	bool in_segment = flags & BUCKET_IN_SEGMENT;
	if (key == EMPTY_KEY || state < B_OPEN || state > B_BASELINE || flags > 15 ||
	    (in_segment && (state == B_OPEN || n == 0)))
		return rd_fail(r, "bad bucket"), -EINVAL;
	/*
	 * A bucket that never took an entry has no arrays yet, author sets
	 * included (bucket_grow() makes them with the first entry).
	 */
	if ((l == 0 && (sketches || has_sk)) ||
	    (l > 0 && ((has_sk != sketches && !(sketches && n == 0)) ||
		       sketches != (state != B_BASELINE))))
		return rd_fail(r, "bucket author sets misplaced"), -EINVAL;
	struct bucket *b = &L->b[(uint64_t)key & (L->nslots - 1)];
	if (b->state != B_EMPTY)
		return rd_fail(r, "buckets collide (saved with a larger lateness?)"), -EINVAL;
	if (in_segment && !get_segment(r, src, b, &apart))
		return -EINVAL;
	if (in_segment)
		body = &apart;
	if (n > rd_left(body) / 8 || ncols > n || stride > 2 * n + 16 ||
	    (ncols && (l != 1 || state != B_OPEN || stride < ncols)))
		return rd_fail(r, "bad bucket size"), -EINVAL;
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
		if (!get_entry(body, e))
			break;
		if (e->term >= w->nterms || !w->cold[e->term].live) {
			rd_fail(body, "entry names an unknown term");
			break;
		}
		b->n = k + 1;
		w->terms[e->term].refs++;
		w->entries++;
		if (has_sk && !get_set(body, &b->grp, &b->sk[k]))
			break;
		/* an open minute's entry keeps a copy of its set's column (struct entry) */
		if (l == 1 && state == B_OPEN)
			e->authors = b->sk[k].cap == HLL_SET_COLUMN ? b->sk[k].n + 1 : 0;
	}
	if (in_segment && !apart.bad && apart.off != apart.len)
		rd_fail(&apart, "segment longer than its bucket");
	if (body->bad) {
		if (body == &apart) {
			snprintf(src->why, sizeof src->why, "segment %llu: %s",
				 (unsigned long long)b->seg, apart.bad);
			rd_fail(r, src->why);
		}
		return -EINVAL;
	}
	window_bucket_reindex(b);
	for (uint32_t k = 0; k < n; k++)
		if (bucket_find_ix(b, b->e[k].term) != k)
			return rd_fail(r, "a term twice in one bucket"), -EINVAL;
	if (l < 2 && state == B_OPEN) {
		/* saving synced the totals: they hold all of every entry */
		if (window_syn_fit(b) < 0)
			return -ENOMEM;
		for (uint32_t k = 0; k < n; k++)
			b->syn[k] = entry_sum(&b->e[k]);
	}
	if (state == B_CLOSED)
		window_bucket_pack_sets(b); /* as closing packed them */
	return 0;
}

int window_state_load(struct window **out, const struct window_config *cfg, const void *buf,
		      size_t len, char *err, size_t errlen)
{
	return window_state_load_segments(out, cfg, buf, len, NULL, NULL, err, errlen);
}

int window_state_load_segments(struct window **out, const struct window_config *cfg,
			       const void *buf, size_t len, window_segment_fn seg, void *seg_ctx,
			       char *err, size_t errlen)
{
	struct seg_src src = { .fn = seg, .ctx = seg_ctx };
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
			if ((rc = load_bucket(w, l, &r, &src)) < 0)
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
