/*
 * engine.h - the analytics thread: takes posts off the post queue, tokenizes
 * and scores them, updates the sliding windows in event time, and every tick
 * publishes an immutable snapshot of the trends. Closed minutes of term counts
 * go to the db thread for history.
 */
#ifndef TRENDD_ENGINE_H
#define TRENDD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

struct engine;

struct engine_config {
	const char *data_dir;     /* lexicon and stopwords */
	int64_t tick_ms;          /* snapshot period, default 1000 */
	int64_t lateness_ms;      /* allowed lateness; negative: the default, 60000 */
	size_t top_m;             /* terms kept per closed bucket, default 4096 */
	bool no_lang_views;       /* skip the per-language windows */
	bool no_source_views;     /* skip the per-source windows */
};

/*
 * Besides the global windows the engine keeps one set of windows per
 * language (primary subtag, up to ENGINE_MAX_LANG_VIEWS) and per source (up
 * to ENGINE_MAX_SOURCE_VIEWS), so /api/trends can answer lang= and source=.
 * Each post counts in the global, its language's and its source's windows.
 * A dimension idle for ENGINE_VIEW_IDLE_MS is dropped.
 */
#define ENGINE_MAX_LANG_VIEWS   16
#define ENGINE_MAX_SOURCE_VIEWS 64
#define ENGINE_VIEW_IDLE_MS     (26 * 3600 * 1000LL)

int engine_start(struct engine **out, const struct engine_config *cfg, struct bus *bus,
		 char *err, size_t errlen);
void engine_stop(struct engine *e);   /* drains the post queue, joins */

#endif
