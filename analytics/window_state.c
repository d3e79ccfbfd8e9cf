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
 * it): a header, the window scalars, the term table (every id, so ids, the
 * free list and thus every later tie-break stay the same), then the buckets
 * of each level with their entries and author sets. Index structures and
 * prefetch hints are rebuilt, not saved, and so are the terms' running
 * totals: they are what the entries hold (window_recount_totals()). The
 * reader checks every length and value against the bytes left before it
 * allocates, so corrupt input costs at most its own size.
 *
 * Term segments. A term's record - id, kind, bytes, when first seen - does
 * not change while the term lives; only its score peaks do, and those are
 * saved apart from it. So a save with segments writes the records of the
 * terms born since the last one into a new segment and names the earlier
 * segments again instead of writing the table whole. A segment is written
 * again (its live records into the new one) once fewer than half of its
 * records are still live, or while it is small and there is a new one to
 * join: a day in, a checkpoint writes the terms born in its seconds, not a
 * table of millions. Loading reads the segments in the order they were
 * written; a later record of an id is its record, records of free ids are
 * of terms that died.
 *
 * TWS4, the format before, kept the records and the totals in the state;
 * it still loads (load_terms_v4()), totals as saved.
 */
#define STATE_MAGIC   0x35535754u  /* "TWS5" */
#define STATE_MAGIC_V4 0x34535754u /* "TWS4" */
#define STATE_MAX_TERM_BYTES 1024  /* longer than any term the tokenizer makes */
#define REG_MAX       (32 - HLL_P + 1)

enum { SET_INLINE, SET_SPARSE, SET_DENSE, SET_COLUMN };

/* A bucket's flags: in the window totals, keeps sketches, has sets; body in a segment. */
#define BUCKET_IN_SEGMENT 8

/* How a state holds its term records: itself, or in segments it names. */
enum { TERMS_INLINE, TERMS_IN_SEGMENTS };
/*
 * A segment with fewer records than TERM_SEG_RECORDS takes in the new ones
 * of a save; a new one holds at most TERM_SEG_MAX_RECORDS, so that writing
 * one again (half dead) costs a bounded share of a checkpoint.
 */
#define TERM_SEG_RECORDS     4096
#define TERM_SEG_MAX_RECORDS 65536
/* cold[id].live while loading: on the free list */
#define LIVE_FREE 2

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
 * A live term's record: id, kind, length and bytes, and when it was first
 * seen - what does not change while the term lives. Built in a local buffer
 * and appended at once (with the bytes apart when long).
 */
#define TERM_BYTES_INLINE 96
static void put_record(struct strbuf *sb, uint32_t id, const struct wcold *c)
{
	char buf[10 + 1 + 10 + TERM_BYTES_INLINE + 10];
	size_t n = varint_to(buf, id);
	buf[n++] = (char)c->kind;
	n += varint_to(buf + n, c->len);
	if (c->len <= TERM_BYTES_INLINE) {
		memcpy(buf + n, term_str(c), c->len);
		n += c->len;
	} else {
		sb_append(sb, buf, n);
		sb_append(sb, term_str(c), c->len);
		n = 0;
	}
	n += varint_to(buf + n, zigzag(c->first_seen_ms));
	sb_append(sb, buf, n);
}

/*
 * A term's score peaks, if it has any: its id as the gap from the last
 * term's with peaks, a byte saying which windows have one, then those (the
 * peak as is, its time zigzag). Returns whether it had any.
 */
static bool put_peak(struct strbuf *sb, uint32_t gap, const struct wcold *c)
{
	uint8_t have = 0;
	for (int k = 0; k < WINDOW_COUNT; k++)
		if (c->peak[k] != 0 || c->peak_ms[k] != 0)
			have |= (uint8_t)(1u << k);
	if (!have)
		return false;
	char buf[10 + 1 + WINDOW_COUNT * (sizeof c->peak[0] + 10)];
	size_t n = varint_to(buf, gap);
	buf[n++] = (char)have;
	for (int k = 0; k < WINDOW_COUNT; k++) {
		if (!(have & (1u << k)))
			continue;
		memcpy(buf + n, &c->peak[k], sizeof c->peak[k]);
		n += sizeof c->peak[k];
		n += varint_to(buf + n, zigzag(c->peak_ms[k]));
	}
	sb_append(sb, buf, n);
	return true;
}

/* TWS4: a term's totals and peaks after its bytes (the byte `have`: totals in bits 0-3, peaks 4-7). */
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
		if (!rd_get(r, s->u.inl, n * sizeof(uint32_t)))
			return false;
		/* distinct, and never 0 (an empty sparse slot), as hll_set_add() keeps them */
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t j = 0; j <= i; j++)
				if (s->u.inl[i] == (j < i ? s->u.inl[j] : 0))
					return rd_fail(r, "bad inline author set");
		return true;
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
 * The body of b, no longer open or a quarter hour: as the segment it was saved in
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

/* A save's new term segments: records go to body, a segment every TERM_SEG_MAX_RECORDS. */
struct term_out {
	struct window_segments *segs;
	struct strbuf body;
	uint32_t nrec;  /* in body */
	bool failed;
};

/* Ends the new segment in o->body: into segs->out, and w->tseg. */
static void term_seg_close(struct window *w, struct term_out *o)
{
	if (!o->nrec || o->failed)
		return;
	if (w->ntseg == w->tseg_cap) {
		uint32_t cap = w->tseg_cap ? 2 * w->tseg_cap : 16;
		struct term_seg *v = realloc(w->tseg, cap * sizeof *v);
		if (!v) {
			o->failed = true;
			return;
		}
		w->tseg = v;
		w->tseg_cap = cap;
	}
	uint64_t id = o->segs->next_id, len = o->body.len;
	PUT(&o->segs->out, id);
	PUT(&o->segs->out, len);
	sb_append(&o->segs->out, o->body.buf, o->body.len);
	if (o->body.failed || o->segs->out.failed) {
		o->failed = true;
		return;
	}
	w->tseg[w->ntseg++] = (struct term_seg){ id, hash_bytes(o->body.buf, o->body.len), o->nrec,
						 o->nrec };
	o->segs->next_id++;
	o->segs->added++;
	sb_reset(&o->body);
	o->nrec = 0;
}

/*
 * One pass over the terms: the peaks of every live term to pk, and the
 * records - of all of them to rec (a state without segments), or to new
 * segments in o of those in no segment or in one being dropped
 * (remap[seg - 1] == UINT32_MAX); the others move to segment
 * remap[seg - 1] + 1.
 */
static bool terms_pass(struct window *w, struct strbuf *rec, struct term_out *o,
		       const uint32_t *remap, struct strbuf *pk, uint32_t *npeaks)
{
	uint32_t last = 0;
	bool o_missing = false;
	for (uint32_t id = 0; id < w->nterms; id++) {
		struct wcold *c = &w->cold[id];
		if (!c->live)
			continue;
		if (put_peak(pk, id - last, c)) {
			last = id;
			(*npeaks)++;
		}
		if (rec) {
			put_record(rec, id, c);
		} else if (c->seg && remap[c->seg - 1] != UINT32_MAX) {
			c->seg = remap[c->seg - 1] + 1;
		} else if (!o) {
			o_missing = true; /* w->terms_unsaved was wrong: never in fact */
		} else {
			if (o->nrec == TERM_SEG_MAX_RECORDS)
				term_seg_close(w, o);
			put_record(&o->body, id, c);
			o->nrec++;
			c->seg = w->ntseg + 1; /* the index it takes when closed */
		}
	}
	return !o_missing;
}

/*
 * The term records as segments (see "Term segments"): the kept ones named,
 * the rest in new ones. False when out of memory, with the term segments
 * left to window_forget_terms().
 */
static bool put_terms_apart(struct window *w, struct strbuf *sb, struct window_segments *segs,
			    struct strbuf *pk, uint32_t *npeaks)
{
	uint32_t n = w->ntseg, kept = 0;
	uint32_t *remap = calloc(n ? n : 1, sizeof *remap);
	if (!remap)
		return false;
	/* records to write: new ones, or the live ones of a segment mostly dead */
	bool fresh = w->terms_unsaved > 0;
	for (uint32_t i = 0; i < n; i++)
		fresh |= w->tseg[i].nlive > 0 && w->tseg[i].nlive * 2 < w->tseg[i].nrec;
	for (uint32_t i = 0; i < n; i++) {
		const struct term_seg *g = &w->tseg[i];
		bool drop = g->nlive * 2 < g->nrec || (fresh && g->nrec < TERM_SEG_RECORDS);
		remap[i] = drop ? UINT32_MAX : kept;
		if (!drop)
			w->tseg[kept++] = *g; /* kept <= i */
	}
	w->ntseg = kept;
	struct term_out o = { .segs = segs, .body = STRBUF_INIT };
	bool whole = terms_pass(w, NULL, fresh ? &o : NULL, remap, pk, npeaks);
	term_seg_close(w, &o);
	free(remap);
	sb_free(&o.body);
	if (o.failed || !whole)
		return false;
	w->terms_unsaved = 0;
	uint8_t mode = TERMS_IN_SEGMENTS;
	PUT(sb, mode);
	PUT(sb, w->ntseg);
	for (uint32_t i = 0; i < w->ntseg; i++) {
		PUT(sb, w->tseg[i].id);
		PUT(sb, w->tseg[i].hash);
		PUT(&segs->refs, w->tseg[i].id);
	}
	return true;
}

/* Every term record is written again at the next save with segments. */
static void window_forget_terms(struct window *w)
{
	for (uint32_t id = 0; id < w->nterms; id++)
		w->cold[id].seg = 0;
	w->ntseg = 0;
	w->terms_unsaved = w->live_terms;
}

/*
 * The term table: its size and how it holds the records (in the state, or
 * the segments), the free list, the records if in the state, the peaks.
 */
static void put_terms(struct window *w, struct strbuf *sb, struct window_segments *segs)
{
	struct strbuf pk = STRBUF_INIT;
	uint32_t nfree = w->nterms - w->live_terms, npeaks = 0;
	size_t at = sb->len;
	PUT(sb, w->nterms);
	if (segs && !put_terms_apart(w, sb, segs, &pk, &npeaks)) {
		window_forget_terms(w);
		sb->len = at + sizeof w->nterms;
		sb->buf[sb->len] = 0;
		sb_reset(&pk);
		npeaks = 0;
		segs = NULL;
	}
	if (!segs) {
		uint8_t mode = TERMS_INLINE;
		PUT(sb, mode);
		PUT(sb, w->live_terms);
	}
	PUT(sb, nfree);
	for (uint32_t id = w->free_head; id != NO_TERM; id = w->terms[id].u.next_free)
		PUT(sb, id);
	if (!segs)
		terms_pass(w, sb, NULL, NULL, &pk, &npeaks);
	PUT(sb, npeaks);
	if (pk.len)
		sb_append(sb, pk.buf, pk.len);
	if (pk.failed)
		sb->failed = true;
	sb_free(&pk);
}

/* window_state_save() when segs is NULL: every body in the state */
void window_state_save_segments(struct window *w, struct strbuf *sb, struct window_segments *segs)
{
	uint32_t magic = STATE_MAGIC;
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

	put_terms(w, sb, segs);

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
			if (segs && (b->state != B_OPEN || l == 2) && b->n > 0 && !sb->failed)
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
	window_forget_terms(w);
	for (int l = 0; l < NLEVELS; l++)
		for (uint32_t i = 0; i < w->lv[l].nslots; i++)
			bucket_edited(&w->lv[l].b[i]);
}

/* Where the bodies saved apart are looked up. */
struct seg_src {
	window_segment_fn fn;
	void *ctx;
	char why[96]; /* a problem found inside a segment, named */
};

/* Points body at the bytes of segment id, which must hash to h. */
static bool find_segment(struct rd *r, const struct seg_src *src, uint64_t id, uint64_t h,
			 struct rd *body)
{
	const void *p = NULL;
	size_t len = 0;
	if (id == 0 || !src->fn || src->fn(src->ctx, id, &p, &len) < 0 || !p)
		return rd_fail(r, "names a segment that is missing");
	if (hash_bytes(p, len) != h)
		return rd_fail(r, "segment checksum mismatch (damaged)");
	*body = (struct rd){ .p = p, .len = len };
	return true;
}

/*
 * A term record (put_record()) into cold[id], in term segment seg (0: in
 * the state). A record in a segment replaces an earlier one of its id; one
 * of a free id is of a term that died since, and is skipped.
 */
static bool get_record(struct rd *r, struct window *w, uint32_t seg)
{
	uint32_t id, len;
	uint8_t kind;
	uint64_t first;
	if (!get_varint32(r, &id) || !GET(r, kind) || !get_varint32(r, &len))
		return false;
	if (id >= w->nterms || kind >= TERM_KIND_COUNT || len == 0 || len > STATE_MAX_TERM_BYTES ||
	    len > rd_left(r))
		return rd_fail(r, "bad term");
	const uint8_t *s = r->p + r->off;
	r->off += len;
	if (!get_varint(r, &first))
		return false;
	if (memchr(s, 0, len))
		return rd_fail(r, "term with a NUL byte");
	struct wcold *c = &w->cold[id];
	if (c->live && !seg)
		return rd_fail(r, c->live == LIVE_FREE ? "record of a free term" : "duplicate term");
	if (c->live == LIVE_FREE)
		return true;
	if (c->live) {
		if (c->len >= TERM_INLINE)
			free(c->str.out);
		if (c->seg)
			w->tseg[c->seg - 1].nlive--;
	}
	c->live = 0;
	char *dst = c->str.in;
	if (len >= TERM_INLINE && !(dst = c->str.out = malloc(len + 1u)))
		return rd_fail(r, "out of memory");
	memcpy(dst, s, len);
	dst[len] = 0;
	c->len = (uint16_t)len;
	c->kind = kind;
	c->live = 1;
	c->first_seen_ms = unzigzag(first);
	c->seg = seg;
	if (seg)
		w->tseg[seg - 1].nlive++;
	return true;
}

/* The records in the term segments, read in the order written. */
static int get_segment_records(struct window *w, struct rd *r, struct seg_src *src,
			       struct rd *body)
{
	for (uint32_t i = 0; i < w->ntseg; i++) {
		struct rd *b = &body[i];
		while (b->off < b->len && get_record(b, w, i + 1))
			w->tseg[i].nrec++;
		if (b->bad) {
			snprintf(src->why, sizeof src->why, "segment %llu: %s",
				 (unsigned long long)w->tseg[i].id, b->bad);
			return rd_fail(r, strcmp(b->bad, "out of memory") ? src->why : b->bad),
			       -EINVAL;
		}
	}
	return 0;
}

/* The free list: the ids marked LIVE_FREE and linked in its order. */
static int get_free_list(struct window *w, struct rd *r)
{
	uint32_t nfree;
	if (!GET(r, nfree) || nfree > w->nterms || nfree > rd_left(r) / 4)
		return rd_fail(r, "bad free list"), -EINVAL;
	uint32_t *link = &w->free_head;
	for (uint32_t i = 0; i < nfree; i++) {
		uint32_t id;
		if (!GET(r, id) || id >= w->nterms || w->cold[id].live)
			return rd_fail(r, "bad free list"), -EINVAL;
		w->cold[id].live = LIVE_FREE; /* a second mention is refused */
		*link = id;
		link = &w->terms[id].u.next_free;
	}
	*link = NO_TERM;
	return 0;
}

/* Every id free or live with its record; the live ones into the index. */
static int index_terms(struct window *w, struct rd *r)
{
	for (uint32_t id = 0; id < w->nterms; id++) {
		struct wcold *c = &w->cold[id];
		if (c->live == LIVE_FREE) {
			c->live = 0;
			continue;
		}
		if (!c->live)
			return rd_fail(r, "a term without a record"), -EINVAL;
		w->live_terms++;
		struct tkey k;
		uint64_t h = term_key(c->kind, term_str(c), c->len, &k);
		uint32_t slot;
		if ((w->live_terms + 1) * 4 > w->tindex_cap * 3 && window_tindex_grow(w) < 0)
			return -ENOMEM;
		if (window_term_find(w, c->kind, term_str(c), c->len, h, k, &slot) != NO_TERM)
			return rd_fail(r, "duplicate term"), -EINVAL;
		w->tindex[slot] = slot_make(id, c->kind, c->len, h, k);
	}
	return 0;
}

/* The score peaks (put_peak()), ids ascending, of live terms. */
static int get_peaks(struct window *w, struct rd *r)
{
	uint32_t n, id = 0;
	if (!GET(r, n) || n > rd_left(r) / 2)
		return rd_fail(r, "bad peak count"), -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t gap;
		uint8_t have;
		if (!get_varint32(r, &gap) || !GET(r, have))
			return -EINVAL;
		if ((i > 0 && gap == 0) || gap >= w->nterms - id || !have ||
		    have >= 1u << WINDOW_COUNT || !w->cold[id + gap].live)
			return rd_fail(r, "bad peak"), -EINVAL;
		id += gap;
		struct wcold *c = &w->cold[id];
		for (int k = 0; k < WINDOW_COUNT; k++) {
			uint64_t v;
			if (!(have & (1u << k)))
				continue;
			if (!GET(r, c->peak[k]) || !get_varint(r, &v))
				return -EINVAL;
			c->peak_ms[k] = unzigzag(v);
		}
	}
	return 0;
}

/* TWS4: every id's live byte, a live one's record and tail; then the free list. */
static int load_terms_v4(struct window *w, struct rd *r)
{
	uint32_t nterms;
	if (!GET(r, nterms))
		return -EINVAL;
	if (nterms > rd_left(r) || nterms >= NO_TERM - 1) /* a term takes at least a byte */
		return rd_fail(r, "bad term count"), -EINVAL;
	while (w->terms_cap < nterms)
		if (window_terms_grow(w) < 0)
			return -ENOMEM;
	for (uint32_t id = 0; id < nterms; id++) {
		struct wcold *c = &w->cold[id];
		uint8_t live;
		memset(&w->terms[id], 0, sizeof w->terms[id]);
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
		rd_get(r, s, len);
		s[len] = 0;
		if (!get_term_tail(r, c))
			return -EINVAL;
		if (memchr(s, 0, len))
			return rd_fail(r, "term with a NUL byte"), -EINVAL;
	}
	int rc = get_free_list(w, r);
	if (rc == 0)
		rc = index_terms(w, r);
	w->terms_unsaved = w->live_terms;
	return rc;
}

/*
 * TWS5: the term count; how the records are held - in the state (their
 * count) or in segments (the segments' ids and hashes); the free list; the
 * records if in the state; the score peaks. The free list is read before
 * the records, so a record knows whether its id is live.
 */
static int load_terms(struct window *w, struct rd *r, struct seg_src *src)
{
	uint32_t nterms, nrec = 0, nseg = 0;
	uint8_t mode;
	struct rd *body = NULL;
	int rc = -EINVAL;
	if (!GET(r, nterms) || !GET(r, mode) || mode > TERMS_IN_SEGMENTS ||
	    !(mode == TERMS_INLINE ? GET(r, nrec) : GET(r, nseg)))
		return rd_fail(r, "bad term table"), -EINVAL;
	/* every id takes 4 bytes or more: on the free list, or a record */
	size_t room = rd_left(r);
	if (nseg > rd_left(r) / 16)
		return rd_fail(r, "bad term segment count"), -EINVAL;
	if (nseg && (!(w->tseg = calloc(nseg, sizeof *w->tseg)) ||
		     !(body = calloc(nseg, sizeof *body))))
		return -ENOMEM;
	w->tseg_cap = nseg;
	for (uint32_t i = 0; i < nseg; i++) {
		struct term_seg *g = &w->tseg[i];
		w->ntseg = i + 1;
		if (!GET(r, g->id) || !GET(r, g->hash))
			goto out;
		if (i > 0 && g->id <= w->tseg[i - 1].id) {
			rd_fail(r, "term segments out of order");
			goto out;
		}
		if (!find_segment(r, src, g->id, g->hash, &body[i]))
			goto out;
		room += body[i].len;
	}
	if (nterms >= NO_TERM - 1 || nterms > room / 4 || nrec > nterms) {
		rd_fail(r, "bad term count");
		goto out;
	}
	rc = -ENOMEM;
	while (w->terms_cap < nterms)
		if (window_terms_grow(w) < 0)
			goto out;
	if (nterms) {
		memset(w->terms, 0, (size_t)nterms * sizeof *w->terms);
		memset(w->cold, 0, (size_t)nterms * sizeof *w->cold);
	}
	w->nterms = nterms;
	if ((rc = get_free_list(w, r)) < 0)
		goto out;
	for (uint32_t i = 0; i < nrec; i++)
		if (!get_record(r, w, 0)) {
			rc = strcmp(r->bad, "out of memory") ? -EINVAL : -ENOMEM;
			goto out;
		}
	if ((rc = get_segment_records(w, r, src, body)) < 0 || (rc = index_terms(w, r)) < 0 ||
	    (rc = get_peaks(w, r)) < 0)
		goto out;
	w->terms_unsaved = nseg ? 0 : w->live_terms;
out:
	free(body);
	return rc;
}

/*
 * Points body at the bytes of the segment a bucket names (id, then the hash
 * of its bytes, in r) and records the segment in b.
 */
static bool get_segment(struct rd *r, const struct seg_src *src, struct bucket *b,
			struct rd *body)
{
	uint64_t id, h;
	if (!GET(r, id) || !GET(r, h) || !find_segment(r, src, id, h, body))
		return false;
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
	    (in_segment && ((state == B_OPEN && l != 2) || n == 0)))
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
	if (!GET(&r, magic) || (magic != STATE_MAGIC && magic != STATE_MAGIC_V4)) {
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
	if (r.bad || (rc = magic == STATE_MAGIC_V4 ? load_terms_v4(w, &r) : load_terms(w, &r, &src)) < 0)
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
	if (magic == STATE_MAGIC)
		window_recount_totals(w);
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
