/*
 * render.h - the web layer's documents: request parameters in, JSON and
 * Prometheus text out.
 *
 * Pure functions over immutable inputs (a snapshot, published blobs, counters
 * copied by the caller), with no libwebsockets in sight, so every document the
 * server sends can be tested byte for byte. The web thread calls them; nothing
 * here blocks or keeps state.
 *
 * A web_view is what a client asks to see: one ranking of one snapshot view.
 * It is also the key of the WebSocket render cache, so it is always fully
 * initialised (render_view_default) and compared with render_view_eq.
 */
#ifndef TRENDD_WEB_RENDER_H
#define TRENDD_WEB_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "core/snapshot_json.h"
#include "core/strbuf.h"

#define RENDER_LANG_BYTES    16   /* matches snapshot_view.lang, NUL included */
#define RENDER_DEFAULT_LIMIT 20

struct web_view {
	int window;              /* enum window_id */
	int kind;                /* enum term_kind or TERM_KIND_ALL */
	int sort;                /* enum snapshot_sort */
	uint32_t limit;          /* 1..LIMIT_TRENDS_PER_VIEW */
	int64_t source_id;       /* 0 = all sources */
	char lang[RENDER_LANG_BYTES]; /* "" = all languages; [A-Za-z0-9-] */
};

/* window=5m, kind=all, sort=score, limit=20, lang="", source=0. */
void render_view_default(struct web_view *v);
bool render_view_eq(const struct web_view *a, const struct web_view *b);
/* A hash of every field of v: equal views hash equal. */
uint64_t render_view_hash(const struct web_view *v);
/* Fills q; q->lang points into v, so v must outlive q. */
void render_view_query(const struct web_view *v, struct trends_query *q);

/*
 * Applies one request parameter (name=value, already URL-decoded) to v.
 * Returns 0 when applied, 1 when the name is not a view parameter (callers
 * ignore it: cache-busting arguments stay harmless), or -EINVAL with a
 * readable message in err when the value is not valid for the name.
 */
int render_view_set(struct web_view *v, const char *name, size_t nlen, const char *val,
		    size_t vlen, char *err, size_t errlen);

/* WebSocket messages from the client (protocol trendd.v1). */
enum ws_msg_type { WS_MSG_SUBSCRIBE, WS_MSG_UNSUBSCRIBE, WS_MSG_PING };

/*
 * Parses one client message. For "subscribe" v starts from the defaults and
 * takes every field present ("window", "kind", "sort", "lang" strings,
 * "limit", "source" integers); unknown fields are ignored. Returns 0, or
 * -EINVAL with a readable message in err (bad JSON, unknown type, bad field).
 */
int render_ws_parse(const char *data, size_t len, enum ws_msg_type *type, struct web_view *v,
		    char *err, size_t errlen);

/*
 * A trends document for v: `{` + snapshot_json_members + `}` for REST, or
 * `{"type":"trends",` + members + `}` as a WebSocket message. Returns 0, or
 * -1 when out of memory.
 */
int render_trends(struct strbuf *sb, const struct snapshot *s, const struct web_view *v,
		  bool ws_message);

/*
 * GET /api/terms/{term}/related: the analytics thread's LIVE_TERM_DETAIL
 * answer r as {"term","kind","scanned_posts","matched_posts",
 * "cooccurring":[{"term","kind","count"}],"examples":[{"id","source",
 * "source_id","time","url","author","text","truncated","sentiment"}]}.
 * sources_json is the ingest blob (the /api/sources array, or NULL) that
 * names each example's source ("" for a source it does not list). Returns
 * 0, or -1 when out of memory.
 */
struct live_req;
int render_term_detail(struct strbuf *sb, const struct live_req *r, const char *sources_json,
		       size_t sources_len);

/* {"error":"msg"} and {"type":"error","error":"msg"}. */
void render_error(struct strbuf *sb, const char *msg);
void render_ws_error(struct strbuf *sb, const char *msg);
/* {"type":"sources","sources":<json>}; json is the ingest blob (a JSON array). */
void render_ws_sources(struct strbuf *sb, const char *json, size_t len);

/*
 * Reads "ok" from the db writer's status blob: 1 when true, 0 when false or
 * absent, -1 when json is not a JSON object.
 */
int render_db_ok(const char *json, size_t len);

/* Counters kept by the web thread, copied out for one document. */
struct web_stats {
	int64_t uptime_ms;
	uint64_t ws_clients;
	uint64_t ws_dropped_slow;     /* closed: unsent data stayed over the cap */
	uint64_t ws_rejected;         /* upgrades refused (path, origin, client cap) */
	uint64_t ws_messages_sent;
	uint64_t ws_renders;          /* trends messages rendered */
	uint64_t ws_render_cache_hits;
	uint64_t http_requests;
	uint64_t http_responses_4xx;
	uint64_t http_responses_5xx;
	uint64_t http_not_modified;   /* 304 answers to If-None-Match */
};

/* A snapshot older than this makes /healthz report "degraded". */
#define RENDER_HEALTH_MAX_SNAPSHOT_AGE_MS 10000

/*
 * GET /healthz: {"status":"ok"|"degraded","problems":[…],"uptime_s":…,
 * "snapshot_age_ms":…|null,"snapshot_seq":…,"db":<blob>|null,"posts_total":…,
 * "ws_clients":…}. s and db_json may be NULL. Returns true when status is ok.
 */
bool render_health(struct strbuf *sb, const struct snapshot *s, int64_t now_ms,
		   const struct web_stats *st, const char *db_json, size_t db_len, int db_ok);

/* GET /metrics in the Prometheus text exposition format 0.0.4. s may be NULL. */
void render_metrics(struct strbuf *sb, const struct snapshot *s, int64_t now_ms,
		    const struct web_stats *st, int db_ok);

/*
 * More of GET /metrics: per source, from the ingest blob (the /api/sources
 * array; NULL or not an array: the families with no samples) -
 * trendd_source_posts_total, _polls_total, _items_skipped_total,
 * _consecutive_errors and trendd_source_state (one sample per state, 1 for
 * the current one), labelled {id,source,kind} - and the db commit-time
 * histogram trendd_db_commit_seconds.
 */
void render_metrics_sources(struct strbuf *sb, const char *json, size_t len);
struct dbstats_view;
void render_metrics_db(struct strbuf *sb, const struct dbstats_view *v);

/* A Prometheus label value: backslash, double quote and line feed escaped. */
void render_label_value(struct strbuf *sb, const char *s);

#endif
