#include "analytics/hll.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * Forms of a struct hll_set, told apart by cap:
 *  - inline (cap 0): u.inl[0..n) are the distinct hashes, no heap memory;
 *  - sparse (cap 2^k): u.heap.mem is cap uint32 slots, 0 = empty, linear
 *    probing from hll_mix32(hash), n entries, n <= cap / 2;
 *  - dense (cap HLL_SET_DENSE): u.heap.mem is HLL_REGISTERS one-byte registers.
 * In the heap forms u.heap.last is 0 or a hash the set holds.
 */
#define RANK_BITS    (32 - HLL_P)
#define SPARSE_FIRST 16 /* slots of a set that outgrows its inline room */

/*
 * Raises the register hash v picks to its rank: reg is the first register of
 * a set (stride 1 for a dense set's own array, the table's stride for a
 * column, reg then pointing at the column's byte of row 0).
 */
static inline void register_max(uint8_t *reg, size_t stride, uint32_t v)
{
	uint32_t x = hll_reg_hash(v);
	uint8_t *r = reg + (size_t)hll_reg_index(x) * stride, rank = hll_reg_rank(x);
	if (*r < rank)
		*r = rank;
}

/*
 * dst[i] = max(dst[i], src[i]) for every register: the union of two dense
 * sets, which a view does for each quarter hour a term's 24h authors span.
 * Sixteen registers a step (a compare-and-branch per byte mispredicts about
 * as often as it is taken).
 */
static void registers_max(uint8_t *dst, const uint8_t *src)
{
#ifdef __SSE2__
	for (uint32_t i = 0; i < HLL_REGISTERS; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(dst + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		_mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_max_epu8(a, b));
	}
#else
	for (uint32_t i = 0; i < HLL_REGISTERS; i++)
		dst[i] = dst[i] < src[i] ? src[i] : dst[i];
#endif
}

static inline void dense_insert(uint8_t *reg, uint32_t v)
{
	register_max(reg, 1, v);
}

/*
 * Copies the hashes of vals[0..len) - the slots of a sparse set or an inline
 * set's hashes - to out without a branch per slot: every slot is copied and
 * the count moves by whether it held a hash (a test per slot goes either way
 * about as often, and mispredicted more than the copies cost). Returns how
 * many.
 */
static inline uint32_t hashes_gather(const uint32_t *vals, uint32_t len, uint32_t *out)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < len; i++) {
		out[k] = vals[i];
		k += vals[i] != 0;
	}
	return k;
}

/* Inserts into sparse slots with room; returns true when newly added. */
static inline bool slots_insert(uint32_t *slot, uint32_t cap, uint32_t v)
{
	uint32_t mask = cap - 1, i = hll_mix32(v) & mask;
	while (slot[i]) {
		if (slot[i] == v)
			return false;
		i = (i + 1) & mask;
	}
	slot[i] = v;
	return true;
}

/* The hashes of an inline, sparse or packed set: vals[0..len), zeros to be skipped. */
static const uint32_t *set_values(const struct hll_set *s, uint32_t *len)
{
	if (s->cap == 0) {
		*len = s->n;
		return s->u.inl;
	}
	*len = s->cap == HLL_SET_PACKED ? s->n : s->cap;
	return s->u.heap.mem;
}

static int set_resize(struct hll_set *s, uint32_t cap);

/* A packed set sparse again, with the slots an add may need. */
static int set_unpack(struct hll_set *s)
{
	uint32_t cap = SPARSE_FIRST;
	while (cap < 2 * (s->n + 1) && cap < 2 * HLL_SPARSE_MAX)
		cap *= 2;
	return set_resize(s, cap);
}

int hll_set_pack(struct hll_set *s)
{
	if (s->cap == 0 || s->cap >= HLL_SET_PACKED)
		return 0;
	uint32_t *v = malloc((s->n ? s->n : 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	const uint32_t *slot = s->u.heap.mem;
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->cap; i++) /* not hashes_gather(): v has room for n */
		if (slot[i])
			v[n++] = slot[i];
	assert(n == s->n);
	(void)n;
	free(s->u.heap.mem);
	s->u.heap.slots = s->cap;
	s->u.heap.mem = v;
	s->cap = HLL_SET_PACKED;
	return 0;
}

/* Turns an inline or sparse set dense. */
static int set_to_dense(struct hll_set *s)
{
	uint8_t *reg = calloc(1, HLL_REGISTERS);
	if (!reg)
		return -ENOMEM;
	uint32_t len, last = s->cap ? s->u.heap.last : 0;
	const uint32_t *v = set_values(s, &len);
	for (uint32_t i = 0; i < len; i++)
		if (v[i])
			dense_insert(reg, v[i]);
	if (s->cap)
		free(s->u.heap.mem);
	s->cap = HLL_SET_DENSE;
	s->n = 0;
	s->u.heap.mem = reg;
	s->u.heap.last = last;
	return 0;
}

/* Moves the inline hashes to a sparse set (the union overlays them). */
static int set_spill(struct hll_set *s)
{
	uint32_t tmp[HLL_INLINE], n = s->n;
	uint32_t *slot = calloc(SPARSE_FIRST, sizeof *slot);
	if (!slot)
		return -ENOMEM;
	memcpy(tmp, s->u.inl, sizeof tmp);
	for (uint32_t i = 0; i < n; i++)
		slots_insert(slot, SPARSE_FIRST, tmp[i]);
	s->cap = SPARSE_FIRST;
	s->u.heap.mem = slot;
	s->u.heap.last = 0;
	return 0;
}

/* Doubles a sparse set, or turns it dense past HLL_SPARSE_MAX hashes. */
static int sparse_grow(struct hll_set *s)
{
	if (s->cap >= HLL_SPARSE_MAX * 2)
		return set_to_dense(s);
	uint32_t cap = s->cap * 2, *old = s->u.heap.mem;
	uint32_t *slot = calloc(cap, sizeof *slot);
	if (!slot)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->cap; i++)
		if (old[i])
			slots_insert(slot, cap, old[i]);
	free(old);
	s->cap = cap;
	s->u.heap.mem = slot;
	return 0;
}

int hll_set_add(struct hll_set *s, uint32_t v)
{
	if (v == 0)
		v = 1;
	if (s->cap == 0) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->u.inl[i] == v)
				return 0;
		if (s->n < HLL_INLINE) {
			s->u.inl[s->n++] = v;
			return 0;
		}
		int rc = set_spill(s);
		if (rc < 0)
			return rc;
	}
	if (s->u.heap.last == v)
		return 0;
	if (s->cap == HLL_SET_PACKED) {
		int rc = set_unpack(s);
		if (rc < 0)
			return rc;
	}
	if (s->cap == HLL_SET_DENSE) {
		dense_insert(s->u.heap.mem, v);
		s->u.heap.last = v;
		return 0;
	}
	/* Probe before growing: a hash already present needs no room. */
	uint32_t *slot = s->u.heap.mem, mask = s->cap - 1, i = hll_mix32(v) & mask;
	while (slot[i]) {
		if (slot[i] == v) {
			s->u.heap.last = v;
			return 0;
		}
		i = (i + 1) & mask;
	}
	if ((s->n + 1) * 2 > s->cap) {
		int rc = sparse_grow(s);
		if (rc < 0)
			return rc;
		if (s->cap == HLL_SET_DENSE) {
			dense_insert(s->u.heap.mem, v);
			s->u.heap.last = v;
			return 0;
		}
		slots_insert(s->u.heap.mem, s->cap, v);
	} else {
		slot[i] = v;
	}
	s->n++;
	s->u.heap.last = v;
	return 0;
}

static void dense_fold(uint8_t *reg, const struct hll_set *src)
{
	if (src->cap == HLL_SET_DENSE) {
		registers_max(reg, src->u.heap.mem);
		return;
	}
	uint32_t len;
	const uint32_t *v = set_values(src, &len);
	for (uint32_t i = 0; i < len; i++)
		if (v[i])
			dense_insert(reg, v[i]);
}

int hll_set_merge(struct hll_set *dst, const struct hll_set *src)
{
	if (hll_set_empty(src))
		return 0;
	if (src->cap == HLL_SET_DENSE && dst->cap != HLL_SET_DENSE) {
		int rc = set_to_dense(dst);
		if (rc < 0)
			return rc;
	}
	if (dst->cap == HLL_SET_DENSE) {
		dense_fold(dst->u.heap.mem, src);
		return 0;
	}
	uint32_t len;
	const uint32_t *v = set_values(src, &len);
	for (uint32_t i = 0; i < len; i++)
		if (v[i] && hll_set_add(dst, v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/*
 * The registers are histogrammed by rank first: the harmonic sum then needs
 * one power of two per rank instead of one per register. Four histograms
 * take every fourth register, so that runs of equal registers (most of them
 * are 0, 1 or 2) do not wait on each other's increments.
 */
static uint64_t dense_estimate(const uint8_t *reg)
{
	uint32_t h4[4][RANK_BITS + 2] = { { 0 } }, hist[RANK_BITS + 2];
	for (uint32_t i = 0; i < HLL_REGISTERS; i += 4) {
		h4[0][reg[i]]++;
		h4[1][reg[i + 1]]++;
		h4[2][reg[i + 2]]++;
		h4[3][reg[i + 3]]++;
	}
	for (int r = 0; r <= RANK_BITS + 1; r++)
		hist[r] = h4[0][r] + h4[1][r] + h4[2][r] + h4[3][r];
	double sum = 0, m = HLL_REGISTERS;
	for (int r = 0; r <= RANK_BITS + 1; r++)
		sum += ldexp((double)hist[r], -r);
	double e = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
	/* Linear counting is the better estimator while many registers are empty. */
	uint32_t zeros = hist[0];
	if (zeros > 0) {
		double lc = m * log(m / zeros);
		if (lc <= 2.5 * m)
			e = lc;
	}
	return (uint64_t)(e + 0.5);
}

uint64_t hll_set_count(const struct hll_set *s)
{
	if (s->cap == HLL_SET_DENSE)
		return dense_estimate(s->u.heap.mem);
	return s->n;
}

size_t hll_set_bytes(const struct hll_set *s)
{
	if (s->cap == 0 || s->cap == HLL_SET_COLUMN)
		return 0;
	if (s->cap == HLL_SET_PACKED)
		return s->n * sizeof(uint32_t);
	return s->cap == HLL_SET_DENSE ? HLL_REGISTERS : s->cap * sizeof(uint32_t);
}

void hll_set_clear(struct hll_set *s)
{
	if (s->cap && s->cap != HLL_SET_COLUMN)
		free(s->u.heap.mem);
	memset(s, 0, sizeof *s);
}

/* ---- groups ----------------------------------------------------------- */

/*
 * A group's register table: HLL_REGISTERS rows of stride bytes, 1-2 MiB for
 * a busy minute, made anew each time the table widens: from core/bigmem.h,
 * on huge pages, where filling a new 2 MiB table costs one page fault
 * instead of 512.
 */
static inline size_t table_bytes(uint32_t stride) { return (size_t)HLL_REGISTERS * stride; }

/* A zeroed table of stride columns, or NULL. Freed with table_free(reg, stride). */
static uint8_t *table_alloc(uint32_t stride) { return bigmem_alloc(table_bytes(stride), true); }

static void table_free(uint8_t *reg, uint32_t stride) { bigmem_free(reg, table_bytes(stride)); }

int hll_group_alloc(struct hll_group *g, uint32_t ncols, uint32_t stride)
{
	if (ncols > stride || !stride)
		return -EINVAL;
	uint8_t *reg = table_alloc(stride);
	if (!reg)
		return -ENOMEM;
	hll_group_free(g);
	g->reg = reg;
	g->ncols = ncols;
	g->stride = stride;
	return 0;
}

static inline void column_insert(struct hll_group *g, uint32_t col, uint32_t v)
{
	register_max(g->reg + col, g->stride, v);
}

/*
 * Adds of many hashes to one column: a sparse set's hashes when it takes the
 * column, and the rest of a run once its set has one. The table's fields are
 * read once: a register store (uint8_t) may alias them, so column_insert()
 * in a loop reloads both for every add. column_fill() takes hashes as stored
 * (never 0), column_run() the low words of log entries (0 stored as 1).
 */
static void column_fill(struct hll_group *g, uint32_t col, const uint32_t *v, size_t n)
{
	uint8_t *reg = g->reg + col;
	const size_t stride = g->stride;
	for (size_t i = 0; i < n; i++)
		register_max(reg, stride, v[i]);
}

static void column_run(struct hll_group *g, uint32_t col, const uint64_t *x, size_t n)
{
	uint8_t *reg = g->reg + col;
	const size_t stride = g->stride;
	for (size_t i = 0; i < n; i++)
		register_max(reg, stride, (uint32_t)x[i] ? (uint32_t)x[i] : 1);
}

/* A new zeroed column, widening every row when the table is full. */
static int group_take_column(struct hll_group *g, uint32_t *col)
{
	if (g->ncols == g->stride) {
		uint32_t stride = g->stride ? g->stride * 2 : 16;
		uint8_t *reg = table_alloc(stride);
		if (!reg)
			return -ENOMEM;
		for (uint32_t r = 0; g->reg && r < HLL_REGISTERS; r++)
			memcpy(reg + (size_t)r * stride, g->reg + (size_t)r * g->stride, g->stride);
		table_free(g->reg, g->stride);
		g->reg = reg;
		g->stride = stride;
	}
	*col = g->ncols++;
	return 0;
}

static bool sparse_has(const struct hll_set *s, uint32_t v)
{
	const uint32_t *slot = s->u.heap.mem;
	uint32_t mask = s->cap - 1, i = hll_mix32(v) & mask;
	while (slot[i]) {
		if (slot[i] == v)
			return true;
		i = (i + 1) & mask;
	}
	return false;
}

int hll_group_add_slow(struct hll_group *g, struct hll_set *s, uint32_t v)
{
	if (v == 0)
		v = 1;
	if (s->cap == HLL_SET_COLUMN) {
		if (s->u.heap.last != v) {
			column_insert(g, s->n, v);
			s->u.heap.last = v;
		}
		return 0;
	}
	/* Only a full sparse set meeting a new hash would go dense: it takes a column. */
	if (s->cap != HLL_SPARSE_MAX * 2 || (s->n + 1) * 2 <= s->cap || s->u.heap.last == v ||
	    sparse_has(s, v))
		return hll_set_add(s, v);
	uint32_t col;
	int rc = group_take_column(g, &col);
	if (rc < 0)
		return rc;
	/* the set's HLL_SPARSE_MAX hashes, and v */
	assert(s->n == HLL_SPARSE_MAX);
	uint32_t vals[HLL_SPARSE_MAX + 1];
	uint32_t k = hashes_gather(s->u.heap.mem, s->cap, vals);
	vals[k++] = v;
	column_fill(g, col, vals, k);
	free(s->u.heap.mem);
	s->cap = HLL_SET_COLUMN;
	s->n = col;
	s->u.heap.mem = NULL;
	s->u.heap.last = v;
	return 0;
}

/*
 * An inline or sparse set made sparse with cap slots (a power of two of at
 * least SPARSE_FIRST and more than twice its hashes), in one rehash.
 *
 * The rehash first gathers the hashes out of the old slots without a branch
 * (hashes_gather: a flush grows thousands of sets, in the bench ~4,500 per
 * flush of ~31 hashes each). The copy also keeps an inline set's hashes,
 * which share the union with the heap fields. The hashes are
 * distinct, so an insert needs no compare; and the new slots are well under
 * half full (a sparse set grows from half full to at least twice the slots,
 * an inline one puts its HLL_INLINE hashes into at least SPARSE_FIRST), so
 * a probe mostly stops at its home slot.
 */
static int set_resize(struct hll_set *s, uint32_t cap)
{
	uint32_t tmp[HLL_SPARSE_MAX], len, last = s->cap ? s->u.heap.last : 0;
	const uint32_t *v = set_values(s, &len);
	uint32_t *slot = calloc(cap, sizeof *slot);
	if (!slot)
		return -ENOMEM;
	/* a set grows only inline or below 2 * HLL_SPARSE_MAX slots: len fits tmp */
	assert(len <= HLL_SPARSE_MAX);
	uint32_t k = hashes_gather(v, len, tmp);
	for (uint32_t i = 0, mask = cap - 1; i < k; i++) {
		uint32_t j = hll_mix32(tmp[i]) & mask;
		while (slot[j])
			j = (j + 1) & mask;
		slot[j] = tmp[i];
	}
	if (s->cap)
		free(s->u.heap.mem);
	s->cap = cap;
	s->u.heap.mem = slot;
	s->u.heap.last = last;
	return 0;
}

/*
 * Whether the next add of a run to s is a plain sparse one: s is sparse and
 * hll_group_add_run's room test (made before each add, present hash or not)
 * would not grow it.
 */
static inline bool run_sparse_ok(const struct hll_set *s)
{
	return s->cap != 0 && s->cap < HLL_SET_PACKED &&
	       !(s->cap < HLL_SPARSE_MAX * 2 && (s->n + 1) * 2 > s->cap);
}

/*
 * Adds x[0..n) of a run to sparse set s (run_sparse_ok) for as long as the
 * general loop of hll_group_add_run would only probe and insert - no growth,
 * no column, heap.last untouched - and returns how many it took: it stops
 * after an insert that leaves s too full for the room test of the next add,
 * and before a new hash that finds a full set at the sparse maximum (the
 * general loop grows the first, gives the second a column). The same adds
 * in the same order, without the per-add tests of the form and room. The
 * set's cap is read once: a slot store (uint32_t) may alias it, and the
 * compiler reloaded it after every insert. Nothing is prefetched ahead: a
 * flush loads the whole set before its run (analytics/window.c), and loading
 * the slots of the adds 8 ahead as well made applying a flush 5% slower.
 */
static size_t run_sparse(struct hll_set *s, const uint64_t *x, size_t n)
{
	uint32_t *slot = s->u.heap.mem, cap = s->cap, mask = cap - 1, sn = s->n;
	/* the last n the general loop's room test lets through without growing */
	const uint32_t full = cap < HLL_SPARSE_MAX * 2 ? cap / 2 - 1 : cap / 2, max = cap / 2;
	size_t i = 0;
	for (; i < n; i++) {
		uint32_t v = (uint32_t)x[i] | ((uint32_t)x[i] == 0);
		uint32_t j = hll_mix32(v) & mask, o;
		while ((o = slot[j]) != 0 && o != v)
			j = (j + 1) & mask;
		if (o)
			continue;
		if (sn == max)
			break; /* full at the sparse maximum: the general loop gives it a column */
		slot[j] = v;
		if (++sn > full) {
			i++;
			break; /* the next add grows it */
		}
	}
	s->n = sn;
	return i;
}

int hll_group_add_run(struct hll_group *g, struct hll_set *s, const uint64_t *x, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (run_sparse_ok(s)) {
			i += run_sparse(s, x + i, n - i);
			if (i == n)
				break;
			/* x[i] grows s or gives it a column: the general case below */
		}
		uint32_t v = (uint32_t)x[i] ? (uint32_t)x[i] : 1;
		if (s->cap == HLL_SET_COLUMN) {
			/* a column stays one: the rest of the run in one loop, no form tests */
			column_run(g, s->n, x + i, n - i);
			break;
		}
		if (s->cap == 0) {
			bool have = false;
			for (uint32_t k = 0; k < s->n; k++)
				have |= s->u.inl[k] == v;
			if (have)
				continue;
			if (s->n < HLL_INLINE) {
				s->u.inl[s->n++] = v;
				continue;
			}
		}
		if (s->cap == 0 || (s->cap < HLL_SPARSE_MAX * 2 && (s->n + 1) * 2 > s->cap)) {
			/* out of room: grow once for all the adds still to come */
			uint64_t want = (uint64_t)s->n + (n - i);
			uint32_t cap = SPARSE_FIRST;
			if (want > HLL_SPARSE_MAX)
				want = HLL_SPARSE_MAX;
			while (cap < 2 * want)
				cap *= 2;
			if (set_resize(s, cap) < 0) {
				rc = -ENOMEM; /* this hash is lost: fewer authors, never wrong ones */
				continue;
			}
		}
		if (s->cap == HLL_SET_DENSE || s->cap == HLL_SET_PACKED) {
			hll_set_add(s, v); /* not a member form, but an ordinary set is still served */
			continue;
		}
		uint32_t *slot = s->u.heap.mem, mask = s->cap - 1, j = hll_mix32(v) & mask;
		bool have = false;
		for (; slot[j]; j = (j + 1) & mask)
			if (slot[j] == v) {
				have = true;
				break;
			}
		if (have)
			continue;
		if ((s->n + 1) * 2 <= s->cap) {
			slot[j] = v;
			s->n++;
		} else if (hll_group_add_slow(g, s, v) < 0) {
			rc = -ENOMEM; /* full at the sparse maximum: the hash takes a column */
		}
	}
	return rc;
}

uint64_t hll_group_count(const struct hll_group *g, const struct hll_set *s)
{
	if (s->cap != HLL_SET_COLUMN)
		return hll_set_count(s);
	uint8_t reg[HLL_REGISTERS];
	for (uint32_t r = 0; r < HLL_REGISTERS; r++)
		reg[r] = g->reg[(size_t)r * g->stride + s->n];
	return dense_estimate(reg);
}

/*
 * The table is walked once, row by row, writing every column's register of
 * the row into that column's own array: reading it column by column instead
 * would walk the whole table once per column, a cache miss per row each time
 * once the table outgrows the cache (98 columns of a busy minute: 1.6 million
 * misses). Needs an array of ncols pointers; without memory for it, falls back
 * to a column at a time.
 */
int hll_group_detach(struct hll_group *g, struct hll_set *sets, size_t n)
{
	int rc = 0;
	uint8_t **dst = g->ncols ? calloc(g->ncols, sizeof *dst) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct hll_set *s = &sets[i];
		if (s->cap != HLL_SET_COLUMN)
			continue;
		uint8_t *reg = malloc(HLL_REGISTERS);
		uint32_t col = s->n, last = s->u.heap.last;
		memset(s, 0, sizeof *s);
		if (!reg) {
			rc = -ENOMEM;
			continue;
		}
		if (dst) {
			dst[col] = reg;
		} else {
			for (uint32_t r = 0; r < HLL_REGISTERS; r++)
				reg[r] = g->reg[(size_t)r * g->stride + col];
		}
		s->cap = HLL_SET_DENSE;
		s->u.heap.mem = reg;
		s->u.heap.last = last;
	}
	for (uint32_t r = 0; dst && r < HLL_REGISTERS; r++) {
		const uint8_t *row = g->reg + (size_t)r * g->stride;
		for (uint32_t c = 0; c < g->ncols; c++)
			if (dst[c])
				dst[c][r] = row[c];
	}
	free(dst);
	hll_group_free(g);
	return rc;
}

size_t hll_group_bytes(const struct hll_group *g) { return (size_t)HLL_REGISTERS * g->stride; }

void hll_group_free(struct hll_group *g)
{
	table_free(g->reg, g->stride);
	memset(g, 0, sizeof *g);
}

/* ---- the pointer form ------------------------------------------------- */

struct hll {
	struct hll_set s;
};

int hll_add(struct hll **hp, uint32_t v)
{
	if (!*hp) {
		*hp = calloc(1, sizeof **hp);
		if (!*hp)
			return -ENOMEM;
	}
	return hll_set_add(&(*hp)->s, v);
}

int hll_merge(struct hll **dst, const struct hll *src)
{
	if (!src)
		return 0;
	if (!*dst) {
		*dst = calloc(1, sizeof **dst);
		if (!*dst)
			return -ENOMEM;
	}
	return hll_set_merge(&(*dst)->s, &src->s);
}

uint64_t hll_count(const struct hll *h) { return h ? hll_set_count(&h->s) : 0; }

size_t hll_bytes(const struct hll *h) { return h ? sizeof *h + hll_set_bytes(&h->s) : 0; }

void hll_free(struct hll *h)
{
	if (!h)
		return;
	hll_set_clear(&h->s);
	free(h);
}

/* ---- unions ----------------------------------------------------------- */

/*
 * The union stays exact while it is small: its distinct hashes go to an
 * open-addressing table of UNION_SLOTS slots made once, which is never
 * resized because the union turns dense (registers) before it could hold
 * more than HLL_SPARSE_MAX hashes - when the next set would take it past
 * that, or when it meets a dense set or a group column. A reset clears only
 * the slots used. The first set added is not copied at all until a second
 * one comes: most unions are of one set (a term seen in one bucket), and
 * such a union counts what the set counts.
 */
#define UNION_SLOTS (2 * HLL_SPARSE_MAX)

struct hll_union {
	uint32_t *slot;            /* owned; UNION_SLOTS, 0 = empty */
	uint16_t *used;            /* owned; the n slots filled, in order */
	uint32_t *out;             /* owned; HLL_SPARSE_MAX: hll_union_hashes()' copy */
	uint32_t n;                /* distinct hashes in slot[] */
	const struct hll_set *only; /* borrowed: the one set added so far, not in slot[] */
	const struct hll_group *only_g; /* its group, when it is a member */
	uint8_t *reg;              /* owned; dense registers, valid when dense */
	bool dense;
};

_Static_assert(UNION_SLOTS <= 65536, "hll_union.used holds slot numbers in 16 bits");

struct hll_union *hll_union_new(void)
{
	struct hll_union *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->reg = calloc(1, HLL_REGISTERS);
	u->slot = calloc(UNION_SLOTS, sizeof *u->slot);
	u->used = malloc(HLL_SPARSE_MAX * sizeof *u->used);
	u->out = malloc(HLL_SPARSE_MAX * sizeof *u->out);
	if (!u->reg || !u->slot || !u->used || !u->out) {
		hll_union_free(u);
		return NULL;
	}
	return u;
}

void hll_union_free(struct hll_union *u)
{
	if (!u)
		return;
	free(u->slot);
	free(u->used);
	free(u->out);
	free(u->reg);
	free(u);
}

static void union_clear_slots(struct hll_union *u)
{
	for (uint32_t i = 0; i < u->n; i++)
		u->slot[u->used[i]] = 0;
	u->n = 0;
}

void hll_union_reset(struct hll_union *u)
{
	if (u->dense)
		memset(u->reg, 0, HLL_REGISTERS);
	u->dense = false;
	union_clear_slots(u);
	u->only = NULL;
	u->only_g = NULL;
}

static void union_go_dense(struct hll_union *u)
{
	for (uint32_t i = 0; i < u->n; i++)
		dense_insert(u->reg, u->slot[u->used[i]]);
	union_clear_slots(u);
	u->dense = true;
}

/*
 * Adds s (a member of g when g is not NULL) to the table or the registers.
 * The union stays exact while it holds at most HLL_SPARSE_MAX distinct
 * hashes and has taken no dense set, whatever the sets it took and their
 * order: kept and fresh unions of the same sets (analytics/window_view.c) are
 * then the same union.
 */
static void union_take(struct hll_union *u, const struct hll_group *g, const struct hll_set *s)
{
	bool column = s->cap == HLL_SET_COLUMN;
	if (!u->dense && (column || s->cap == HLL_SET_DENSE))
		union_go_dense(u);
	if (u->dense) {
		if (!column) {
			dense_fold(u->reg, s);
			return;
		}
		const uint8_t *col = g->reg + s->n;
		for (uint32_t r = 0; r < HLL_REGISTERS; r++)
			if (u->reg[r] < col[(size_t)r * g->stride])
				u->reg[r] = col[(size_t)r * g->stride];
		return;
	}
	/* the table holds at most HLL_SPARSE_MAX hashes: half full at most */
	uint32_t len;
	const uint32_t *v = set_values(s, &len);
	for (uint32_t k = 0; k < len; k++) {
		if (!v[k])
			continue;
		uint32_t i = hll_mix32(v[k]) & (UNION_SLOTS - 1);
		while (u->slot[i] && u->slot[i] != v[k])
			i = (i + 1) & (UNION_SLOTS - 1);
		if (u->slot[i])
			continue;
		if (u->n == HLL_SPARSE_MAX) {
			/* one distinct hash too many: the rest go to the registers */
			union_go_dense(u);
			for (; k < len; k++)
				if (v[k])
					dense_insert(u->reg, v[k]);
			return;
		}
		u->slot[i] = v[k];
		u->used[u->n++] = (uint16_t)i;
	}
}

void hll_union_add_member(struct hll_union *u, const struct hll_group *g, const struct hll_set *s)
{
	if (hll_set_empty(s))
		return;
	if (!u->dense && u->n == 0 && !u->only) {
		u->only = s;
		u->only_g = g;
		return;
	}
	if (u->only) {
		union_take(u, u->only_g, u->only);
		u->only = NULL;
	}
	union_take(u, g, s);
}

void hll_union_add_set(struct hll_union *u, const struct hll_set *s)
{
	hll_union_add_member(u, NULL, s);
}

void hll_union_add(struct hll_union *u, const struct hll *h)
{
	if (h)
		hll_union_add_set(u, &h->s);
}

const uint8_t *hll_union_registers(struct hll_union *u)
{
	if (u->only && (u->only->cap == HLL_SET_DENSE || u->only->cap == HLL_SET_COLUMN)) {
		/* what the next set would do first: dense either way */
		union_take(u, u->only_g, u->only);
		u->only = NULL;
	}
	return u->dense ? u->reg : NULL;
}

void hll_union_load_registers(struct hll_union *u, const uint8_t *reg)
{
	hll_union_reset(u);
	memcpy(u->reg, reg, HLL_REGISTERS);
	u->dense = true;
}

const uint32_t *hll_union_hashes(struct hll_union *u, uint32_t *n)
{
	if (u->only) {
		/* into the table (or the registers, for a dense set) */
		union_take(u, u->only_g, u->only);
		u->only = NULL;
	}
	if (u->dense)
		return NULL;
	for (uint32_t i = 0; i < u->n; i++)
		u->out[i] = u->slot[u->used[i]];
	*n = u->n;
	return u->out;
}

void hll_union_load_hashes(struct hll_union *u, const uint32_t *v, uint32_t n)
{
	hll_union_reset(u);
	if (n > HLL_SPARSE_MAX) { /* not from hll_union_hashes(); still the same union */
		for (uint32_t k = 0; k < n; k++)
			dense_insert(u->reg, v[k]);
		u->dense = true;
		return;
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = hll_mix32(v[k]) & (UNION_SLOTS - 1);
		while (u->slot[i])
			i = (i + 1) & (UNION_SLOTS - 1);
		u->slot[i] = v[k];
		u->used[u->n++] = (uint16_t)i;
	}
}

uint64_t hll_union_count(struct hll_union *u)
{
	if (u->only)
		return hll_group_count(u->only_g, u->only);
	if (u->dense)
		return dense_estimate(u->reg);
	return u->n;
}
