/*
 * dbstats.h - how long the database writer's commits take: a count, a sum and
 * a histogram of fixed buckets, kept in atomic counters.
 *
 * The db writer thread records each commit with one call, dbstats_commit(),
 * which never blocks and takes no lock (relaxed atomic adds: the counters are
 * statistics, not synchronisation). Any thread may read them with
 * dbstats_read(); a read taken while a commit is being recorded may be off by
 * that one commit between fields, never torn within a field. GET /metrics
 * shows them as the Prometheus histogram trendd_db_commit_seconds.
 *
 * Lives in struct bus (bus->dbstats); dbstats_init() before any thread uses it.
 */
#ifndef TRENDD_DBSTATS_H
#define TRENDD_DBSTATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the buckets, in seconds; one more bucket counts the rest (+Inf). */
#define DBSTATS_BOUNDS 14
extern const double dbstats_bounds_s[DBSTATS_BOUNDS];

struct dbstats {
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
	atomic_uint_fast64_t max_ns;
	atomic_uint_fast64_t bucket[DBSTATS_BOUNDS + 1]; /* per bucket, not cumulative */
};

/* A copy for one reader: buckets cumulative, as Prometheus wants them. */
struct dbstats_view {
	uint64_t count;                      /* equals cumulative[DBSTATS_BOUNDS] */
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t cumulative[DBSTATS_BOUNDS + 1];
};

void dbstats_init(struct dbstats *s);
/* Records one commit that took ns nanoseconds. Lock-free; the db writer thread. */
void dbstats_commit(struct dbstats *s, uint64_t ns);
/* Any thread. */
void dbstats_read(const struct dbstats *s, struct dbstats_view *out);

#endif
