/*
 * snapshot_json.h - renders views of a trends snapshot as JSON, in the shape
 * of GET /api/trends (DESIGN §6). Used by the web thread (REST and WebSocket
 * pushes) and the db thread (minute snapshots). Pure functions of an
 * immutable snapshot: safe on any thread.
 */
#ifndef TRENDD_SNAPSHOT_JSON_H
#define TRENDD_SNAPSHOT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "core/strbuf.h"

struct trends_query {
	int window;          /* enum window_id */
	int kind;            /* enum term_kind or TERM_KIND_ALL */
	int sort;            /* enum snapshot_sort */
	size_t limit;        /* 1..LIMIT_TRENDS_PER_VIEW */
	const char *lang;    /* "" = all */
	int64_t source_id;   /* 0 = all */
};

/*
 * Appends the members of a trends document without the enclosing braces:
 *   "window":"5m","kind":"all","sort":"score","generated_at":"…","seq":N,
 *   "stats":{…},"overall":{…},"trends":[{"term","kind","count","error",
 *   "authors","score","sentiment","pos","neu","neg","series":[…]},…]
 * Callers wrap it ({ … } for REST, {"type":"trends", … } for WebSocket).
 * When the snapshot has no view for (window, lang, source) the trends array
 * is empty. Returns 0, or -1 when out of memory.
 */
int snapshot_json_members(struct strbuf *sb, const struct snapshot *s,
			  const struct trends_query *q);

/* Appends one trend as a JSON object; its series has `points` values. */
void snapshot_json_trend(struct strbuf *sb, const struct trend *t, uint32_t points);

#endif
