/*
 * hll.h - distinct-count sketch for authors per term: exact while small,
 * HyperLogLog (precision 14, 16384 one-byte registers, standard error 0.81%)
 * once large.
 *
 * A sketch starts sparse: an open-addressing set of 32-bit author hashes,
 * exact, growing 4 -> 8 -> ... -> HLL_SPARSE_MAX entries; past that it turns
 * dense (16 KiB of registers). Most term/minute sketches see a handful of
 * authors and stay a few bytes. Sketches merge (union) exactly in sparse form
 * and by register-wise max in dense form, so minute sketches roll up into
 * quarter-hour sketches and windows are unions of bucket sketches.
 *
 * Owned by the analytics thread; no locking.
 */
#ifndef TRENDD_HLL_H
#define TRENDD_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_P          14
#define HLL_REGISTERS  (1u << HLL_P)
#define HLL_SPARSE_MAX 1024   /* distinct hashes kept exactly before going dense */

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
 * sketches": reset, add sketches, count. Cheaper than merging into a sketch.
 */
struct hll_union;
struct hll_union *hll_union_new(void);
void hll_union_free(struct hll_union *u);
void hll_union_reset(struct hll_union *u);
void hll_union_add(struct hll_union *u, const struct hll *h);
uint64_t hll_union_count(struct hll_union *u);

#endif
