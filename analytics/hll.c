#include "analytics/hll.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Sparse form: `cap` slots of uint32 (0 = empty; a hash of 0 is stored as 1,
 * which merges two of 2^32 hashes - harmless). Dense form: cap == 0 and
 * HLL_REGISTERS bytes of registers.
 */
struct hll {
	uint32_t cap;     /* sparse slots, power of two; 0 when dense */
	uint32_t n;       /* sparse entries */
	union {
		uint32_t slot[1];
		uint8_t reg[1];
	} u;
};

#define RANK_BITS (32 - HLL_P)

static inline uint32_t reg_index(uint32_t h) { return h >> RANK_BITS; }

static inline uint8_t reg_rank(uint32_t h)
{
	uint32_t rest = h << HLL_P; /* the low RANK_BITS bits, left-aligned */
	if (rest == 0)
		return RANK_BITS + 1;
	return (uint8_t)(__builtin_clz(rest) + 1);
}

static struct hll *alloc_sparse(uint32_t cap)
{
	struct hll *h = calloc(1, offsetof(struct hll, u) + cap * sizeof(uint32_t));
	if (h)
		h->cap = cap;
	return h;
}

static struct hll *alloc_dense(void)
{
	return calloc(1, offsetof(struct hll, u) + HLL_REGISTERS);
}

static inline uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	return x;
}

/* Inserts into a sparse set with room; returns true when newly added. */
static bool sparse_insert(struct hll *h, uint32_t v)
{
	uint32_t mask = h->cap - 1, i = mix32(v) & mask;
	while (h->u.slot[i]) {
		if (h->u.slot[i] == v)
			return false;
		i = (i + 1) & mask;
	}
	h->u.slot[i] = v;
	h->n++;
	return true;
}

static void dense_insert(struct hll *h, uint32_t v)
{
	uint32_t i = reg_index(v);
	uint8_t r = reg_rank(v);
	if (h->u.reg[i] < r)
		h->u.reg[i] = r;
}

static struct hll *to_dense(struct hll *s)
{
	struct hll *d = alloc_dense();
	if (!d)
		return NULL;
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->u.slot[i])
			dense_insert(d, s->u.slot[i]);
	free(s);
	return d;
}

static struct hll *grow(struct hll *s)
{
	if (s->cap >= HLL_SPARSE_MAX * 2)
		return to_dense(s);
	struct hll *g = alloc_sparse(s->cap * 2);
	if (!g)
		return NULL;
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->u.slot[i])
			sparse_insert(g, s->u.slot[i]);
	free(s);
	return g;
}

int hll_add(struct hll **hp, uint32_t v)
{
	struct hll *h = *hp;
	if (v == 0)
		v = 1;
	if (!h) {
		h = alloc_sparse(4);
		if (!h)
			return -ENOMEM;
		*hp = h;
	}
	if (h->cap == 0) {
		dense_insert(h, v);
		return 0;
	}
	/* keep the load factor at or below 1/2 */
	if ((h->n + 1) * 2 > h->cap) {
		struct hll *g = grow(h);
		if (!g)
			return -ENOMEM;
		*hp = h = g;
		if (h->cap == 0) {
			dense_insert(h, v);
			return 0;
		}
	}
	sparse_insert(h, v);
	return 0;
}

int hll_merge(struct hll **dst, const struct hll *src)
{
	if (!src)
		return 0;
	if (src->cap == 0) {
		struct hll *d = *dst;
		if (!d || d->cap != 0) {
			struct hll *nd = alloc_dense();
			if (!nd)
				return -ENOMEM;
			if (d) {
				for (uint32_t i = 0; i < d->cap; i++)
					if (d->u.slot[i])
						dense_insert(nd, d->u.slot[i]);
				free(d);
			}
			*dst = d = nd;
		}
		for (uint32_t i = 0; i < HLL_REGISTERS; i++)
			if (d->u.reg[i] < src->u.reg[i])
				d->u.reg[i] = src->u.reg[i];
		return 0;
	}
	for (uint32_t i = 0; i < src->cap; i++)
		if (src->u.slot[i] && hll_add(dst, src->u.slot[i]) < 0)
			return -ENOMEM;
	return 0;
}

static double alpha_mm(void)
{
	double m = HLL_REGISTERS;
	return 0.7213 / (1.0 + 1.079 / m) * m * m;
}

static uint64_t dense_estimate(const uint8_t *reg)
{
	double sum = 0;
	uint32_t zeros = 0;
	for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
		sum += ldexp(1.0, -reg[i]);
		zeros += reg[i] == 0;
	}
	double m = HLL_REGISTERS, e = alpha_mm() / sum;
	/* Linear counting is the better estimator while many registers are empty. */
	if (zeros > 0) {
		double lc = m * log(m / zeros);
		if (lc <= 2.5 * m)
			e = lc;
	}
	return (uint64_t)(e + 0.5);
}

uint64_t hll_count(const struct hll *h)
{
	if (!h)
		return 0;
	if (h->cap)
		return h->n;
	return dense_estimate(h->u.reg);
}

size_t hll_bytes(const struct hll *h)
{
	if (!h)
		return 0;
	return offsetof(struct hll, u) + (h->cap ? h->cap * sizeof(uint32_t) : HLL_REGISTERS);
}

void hll_free(struct hll *h) { free(h); }

/*
 * The union accumulator stays exact (a sparse set it grows as needed, up to
 * HLL_SPARSE_MAX * 2 slots) until the union gets large or meets a dense
 * sketch; then it switches to registers.
 */
struct hll_union {
	struct hll *acc;   /* owned; NULL = empty */
	uint8_t *reg;      /* owned; dense registers, valid when dense */
	bool dense;
};

struct hll_union *hll_union_new(void)
{
	struct hll_union *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->reg = calloc(1, HLL_REGISTERS);
	if (!u->reg) {
		free(u);
		return NULL;
	}
	return u;
}

void hll_union_free(struct hll_union *u)
{
	if (!u)
		return;
	hll_free(u->acc);
	free(u->reg);
	free(u);
}

void hll_union_reset(struct hll_union *u)
{
	if (u->dense)
		memset(u->reg, 0, HLL_REGISTERS);
	u->dense = false;
	if (u->acc) {
		if (u->acc->cap > 64) {
			hll_free(u->acc);
			u->acc = NULL;
		} else {
			memset(u->acc->u.slot, 0, u->acc->cap * sizeof(uint32_t));
			u->acc->n = 0;
		}
	}
}

static void union_go_dense(struct hll_union *u)
{
	if (u->acc) {
		for (uint32_t i = 0; i < u->acc->cap; i++) {
			uint32_t v = u->acc->u.slot[i];
			if (v) {
				uint32_t k = reg_index(v);
				uint8_t r = reg_rank(v);
				if (u->reg[k] < r)
					u->reg[k] = r;
			}
		}
		hll_free(u->acc);
		u->acc = NULL;
	}
	u->dense = true;
}

void hll_union_add(struct hll_union *u, const struct hll *h)
{
	if (!h)
		return;
	if (!u->dense && (h->cap == 0 || (u->acc && u->acc->n + h->n > HLL_SPARSE_MAX)))
		union_go_dense(u);
	if (u->dense) {
		if (h->cap == 0) {
			for (uint32_t i = 0; i < HLL_REGISTERS; i++)
				if (u->reg[i] < h->u.reg[i])
					u->reg[i] = h->u.reg[i];
		} else {
			for (uint32_t i = 0; i < h->cap; i++) {
				uint32_t v = h->u.slot[i];
				if (v) {
					uint32_t k = reg_index(v);
					uint8_t r = reg_rank(v);
					if (u->reg[k] < r)
						u->reg[k] = r;
				}
			}
		}
		return;
	}
	if (hll_merge(&u->acc, h) < 0 || (u->acc && u->acc->cap == 0)) {
		/* out of memory or the merge itself went dense: fall back to registers */
		struct hll *a = u->acc;
		u->acc = NULL;
		if (a && a->cap == 0) {
			memcpy(u->reg, a->u.reg, HLL_REGISTERS);
			hll_free(a);
			u->dense = true;
		} else {
			u->acc = a;
			union_go_dense(u);
			hll_union_add(u, h);
		}
	}
}

uint64_t hll_union_count(struct hll_union *u)
{
	if (u->dense)
		return dense_estimate(u->reg);
	return u->acc ? u->acc->n : 0;
}
