/*
 * hll.h - distinct-count sketch for authors per term: exact while small,
 * HyperLogLog (precision 14, 16384 one-byte registers, standard error 0.81%)
 * once large.
 *
 * A set starts inline: up to HLL_INLINE 32-bit author hashes kept inside the
 * 32-byte struct hll_set itself, so the many term/minute sets that see one or
 * a few authors cost no allocation and no extra memory access. Past that it
 * turns sparse: a heap open-addressing set, exact, growing 16 -> 32 -> ... ->
 * 2 * HLL_SPARSE_MAX slots (load factor at most 1/2); past HLL_SPARSE_MAX
 * distinct hashes it turns dense (16 KiB of registers). A sparse set that
 * will not change for a while can be packed (hll_set_pack): its hashes in
 * an array of just their number, a quarter to a half of the slots' memory;
 * it is read as before and unpacked by the first add. Sets merge (union)
 * exactly while the result stays sparse and by register-wise max in dense
 * form, so minute sets roll up into quarter-hour sets and windows are unions
 * of bucket sets.
 *
 * Two ways to hold one: struct hll_set is a value the owner embeds (zeroed
 * memory is an empty set; hll_set_clear frees what it holds); struct hll is
 * the same thing behind a pointer that hll_add creates on first use.
 *
 * Owned by the analytics thread; no locking.
 */
#ifndef TRENDD_HLL_H
#define TRENDD_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLL_P          14
#define HLL_REGISTERS  (1u << HLL_P)
#define HLL_SPARSE_MAX 1024   /* distinct hashes kept exactly before going dense */
#define HLL_INLINE     6      /* distinct hashes kept inside struct hll_set */
#define HLL_SET_DENSE  UINT32_MAX /* hll_set.cap of a dense set */
#define HLL_SET_COLUMN (UINT32_MAX - 1) /* hll_set.cap of a member in a group column */
#define HLL_SET_PACKED (UINT32_MAX - 2) /* hll_set.cap of a packed set; below: sparse slots */

/*
 * A hash of 0 is stored as 1 everywhere (0 marks an empty sparse slot); that
 * merges two of 2^32 hashes, which is harmless.
 */
struct hll_set {
	uint32_t n;            /* distinct hashes held (inline, sparse); 0 when dense */
	uint32_t cap;          /* 0: inline; HLL_SET_DENSE: registers; else sparse slots (2^k) */
	union {
		uint32_t inl[HLL_INLINE];
		struct {
			void *mem;     /* owned: cap (packed: n) uint32_t slots or HLL_REGISTERS bytes */
			uint32_t last; /* the hash added last: a repeat touches no heap memory */
			uint32_t slots; /* packed: the cap it had, which its saved form keeps */
		} heap;
	} u;
};

/* Adds a 32-bit hash. 0 ok, -ENOMEM (the set is unchanged). */
int hll_set_add(struct hll_set *s, uint32_t hash);
/* dst |= src. 0 ok, -ENOMEM (dst holds part of src). */
int hll_set_merge(struct hll_set *dst, const struct hll_set *src);
uint64_t hll_set_count(const struct hll_set *s); /* exact unless dense */
size_t hll_set_bytes(const struct hll_set *s);   /* heap memory held */
void hll_set_clear(struct hll_set *s);           /* frees it; the set is empty again */
/*
 * Packs a sparse set (anything else stays as it is): the same hashes, count
 * and heap.last, in n slots instead of cap. 0 ok, -ENOMEM (left unpacked).
 */
int hll_set_pack(struct hll_set *s);
/* hll_set_* except hll_set_clear must not see a set in a group column (below). */

static inline bool hll_set_empty(const struct hll_set *s) { return s->cap == 0 && s->n == 0; }

static inline uint32_t hll_mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	return x;
}

/*
 * Registers are picked and ranked from a remix of the hash (lowbias32), so a
 * caller with weak hashes - a multiplicative hash of an id, say - still gets
 * uniform registers: an estimate is only as good as the bits it reads. The
 * remix is a bijection; exact sets store the hash itself.
 */
static inline uint32_t hll_reg_hash(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	return h;
}

/* Register index and rank (1 + leading zeros of the rest) of a remixed hash. */
static inline uint32_t hll_reg_index(uint32_t x) { return x >> (32 - HLL_P); }

static inline uint8_t hll_reg_rank(uint32_t x)
{
	uint32_t rest = x << HLL_P;
	return rest ? (uint8_t)(__builtin_clz(rest) + 1) : 32 - HLL_P + 1;
}

/*
 * A group: sets that mostly receive the same hashes together - the author
 * sets of one open minute, one per term, where a post adds its author to the
 * set of each of its terms. When a member goes dense it takes a column in
 * the group's register-major table (register r of column c at
 * reg[r * stride + c]) instead of 16 KiB of its own: the dense members a
 * post updates then share one row, picked by the author's hash, so a post
 * touches one or two cache lines instead of one per term, and the rows of
 * frequent authors stay in cache. A member in a column has cap HLL_SET_COLUMN
 * and n = its column; only the hll_group_* functions may read it, until
 * hll_group_detach() turns every member into an ordinary dense set.
 */
struct hll_group {
	uint8_t *reg;          /* owned; HLL_REGISTERS rows of stride bytes */
	uint32_t ncols;        /* columns in use */
	uint32_t stride;       /* columns allocated */
};

/*
 * One hash prepared for adding to many sets - a post's author, added to the
 * set of each of its terms: the stored value, its sparse probe start and its
 * register and rank are computed once, not per set.
 */
struct hll_key {
	uint32_t v;            /* the hash as stored (0 becomes 1) */
	uint32_t mix;          /* hll_mix32(v): sparse probe start before masking */
	uint32_t row;          /* register index */
	uint8_t rank;
};

static inline void hll_key_init(struct hll_key *k, uint32_t hash)
{
	k->v = hash ? hash : 1;
	k->mix = hll_mix32(k->v);
	uint32_t x = hll_reg_hash(k->v);
	k->row = hll_reg_index(x);
	k->rank = hll_reg_rank(x);
}

int hll_group_add_slow(struct hll_group *g, struct hll_set *s, uint32_t hash);

/*
 * hll_set_add() for a member of g. 0 ok, -ENOMEM (the set is unchanged).
 * Called for every counted token, so the cases that need no allocation -
 * inline room, a repeat of the last hash, a column, a sparse hit or a sparse
 * insert with room - are inline here; growing goes to hll_group_add_slow().
 */
static inline int hll_group_add(struct hll_group *g, struct hll_set *s, const struct hll_key *k)
{
	uint32_t v = k->v;
	if (s->cap == 0) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->u.inl[i] == v)
				return 0;
		if (s->n < HLL_INLINE) {
			s->u.inl[s->n++] = v;
			return 0;
		}
	} else if (s->u.heap.last == v) {
		return 0;
	} else if (s->cap == HLL_SET_COLUMN) {
		uint8_t *r = g->reg + (size_t)k->row * g->stride + s->n;
		if (*r < k->rank)
			*r = k->rank;
		s->u.heap.last = v;
		return 0;
	} else if (s->cap < HLL_SET_PACKED) {
		uint32_t *slot = s->u.heap.mem, mask = s->cap - 1, i = k->mix & mask;
		while (slot[i]) {
			if (slot[i] == v) {
				s->u.heap.last = v;
				return 0;
			}
			i = (i + 1) & mask;
		}
		if ((s->n + 1) * 2 <= s->cap) {
			slot[i] = v;
			s->n++;
			s->u.heap.last = v;
			return 0;
		}
	}
	return hll_group_add_slow(g, s, v);
}

/*
 * hll_group_add() of the hashes in the low 32 bits of x[0..n) to member s of
 * g: the adds of one set in a row, as a log of adds sorted by set delivers
 * them. Knowing how many come, a set that runs out of room grows once to
 * room for all of them (repeats counted as new, at most the sparse maximum)
 * instead of doubling and rehashing on the way there; so with repeats it can
 * end up roomier than adds one by one would leave it, never past the
 * 2 * HLL_SPARSE_MAX slots of a full sparse set. heap.last stays a hash s
 * holds, not necessarily the last one added.
 * 0 ok, -ENOMEM (the hashes that found no memory are missing from s).
 */
int hll_group_add_run(struct hll_group *g, struct hll_set *s, const uint64_t *x, size_t n);
uint64_t hll_group_count(const struct hll_group *g, const struct hll_set *s);
/*
 * Turns the members sets[0..n) that hold columns into dense sets of their own
 * and frees the table; g is empty afterwards. 0 ok, -ENOMEM: a member that
 * could not get memory is left empty (its authors are lost, not wrong).
 */
int hll_group_detach(struct hll_group *g, struct hll_set *sets, size_t n);
size_t hll_group_bytes(const struct hll_group *g);
/*
 * Gives g (its previous table freed) a zeroed table of stride columns, ncols
 * of them in use - to fill in registers read back from elsewhere.
 * 0, -EINVAL (ncols > stride or no stride), -ENOMEM (g unchanged).
 */
int hll_group_alloc(struct hll_group *g, uint32_t ncols, uint32_t stride);
void hll_group_free(struct hll_group *g); /* members in columns must be cleared too */

struct hll;

/* Adds a 32-bit author hash; creates the sketch on first use. 0 ok, -ENOMEM. */
int hll_add(struct hll **h, uint32_t hash);
/* dst |= src; creates dst when NULL. 0 ok, -ENOMEM. */
int hll_merge(struct hll **dst, const struct hll *src);
uint64_t hll_count(const struct hll *h);   /* exact when sparse, estimate when dense */
size_t hll_bytes(const struct hll *h);     /* memory held */
void hll_free(struct hll *h);

/*
 * A reusable union accumulator for "how many distinct authors across these
 * sketches": reset, add sketches, count. Cheaper than merging into a sketch:
 * it allocates nothing after hll_union_new(), and a union of one set reads
 * nothing but that set's count. The sets added are borrowed until the count:
 * they must not change (nor a group they are members of) before it.
 */
struct hll_union;
struct hll_union *hll_union_new(void);
void hll_union_free(struct hll_union *u);
void hll_union_reset(struct hll_union *u);
void hll_union_add(struct hll_union *u, const struct hll *h);
void hll_union_add_set(struct hll_union *u, const struct hll_set *s);
void hll_union_add_member(struct hll_union *u, const struct hll_group *g, const struct hll_set *s);
uint64_t hll_union_count(struct hll_union *u);
/*
 * The union's HLL_REGISTERS registers when it is dense (it will be from now
 * on, whatever is added), else NULL: what a caller may keep to start the
 * same union again with hll_union_load_registers() - reset, then dense with
 * a copy of reg - and add the sets that follow, for the same count.
 */
const uint8_t *hll_union_registers(struct hll_union *u);
void hll_union_load_registers(struct hll_union *u, const uint8_t *reg);
/*
 * The same for a union that is still exact: its *n distinct hashes (at most
 * HLL_SPARSE_MAX), valid until the union changes, or NULL when it is dense.
 * hll_union_load_hashes() resets u and starts it again from v[0..n), the
 * distinct hashes returned here: adding the sets that follow then gives the
 * count (and the form, exact or dense) the original union would have.
 */
const uint32_t *hll_union_hashes(struct hll_union *u, uint32_t *n);
void hll_union_load_hashes(struct hll_union *u, const uint32_t *v, uint32_t n);

#endif
