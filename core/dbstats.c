#include "core/dbstats.h"

/* From half a millisecond (a small WAL commit) to ten seconds (a disk in trouble). */
const double dbstats_bounds_s[DBSTATS_BOUNDS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
};

void dbstats_init(struct dbstats *s)
{
	atomic_init(&s->count, 0);
	atomic_init(&s->sum_ns, 0);
	atomic_init(&s->max_ns, 0);
	for (size_t i = 0; i <= DBSTATS_BOUNDS; i++)
		atomic_init(&s->bucket[i], 0);
}

void dbstats_commit(struct dbstats *s, uint64_t ns)
{
	size_t i = 0;
	uint64_t max = atomic_load_explicit(&s->max_ns, memory_order_relaxed);

	/* bounds in whole nanoseconds: 14 compares, no floating point on the hot path */
	static const uint64_t bounds_ns[DBSTATS_BOUNDS] = {
		500000,	   1000000,   2500000,	 5000000,    10000000,	 25000000,   50000000,
		100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
	};
	while (i < DBSTATS_BOUNDS && ns > bounds_ns[i])
		i++;
	atomic_fetch_add_explicit(&s->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	while (ns > max && !atomic_compare_exchange_weak_explicit(&s->max_ns, &max, ns,
								  memory_order_relaxed,
								  memory_order_relaxed))
		;
}

void dbstats_read(const struct dbstats *s, struct dbstats_view *out)
{
	uint64_t run = 0;

	/* the count is the sum of the buckets read, so the histogram adds up */
	for (size_t i = 0; i <= DBSTATS_BOUNDS; i++) {
		run += atomic_load_explicit(&((struct dbstats *)s)->bucket[i], memory_order_relaxed);
		out->cumulative[i] = run;
	}
	out->count = run;
	out->sum_ns = atomic_load_explicit(&((struct dbstats *)s)->sum_ns, memory_order_relaxed);
	out->max_ns = atomic_load_explicit(&((struct dbstats *)s)->max_ns, memory_order_relaxed);
}
