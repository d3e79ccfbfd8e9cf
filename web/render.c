#include "web/render.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/dbstats.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/live.h"
#include "core/term.h"

void render_view_default(struct web_view *v)
{
	/* memset first: padding bytes too, so a view is a well-defined cache key */
	memset(v, 0, sizeof *v);
	v->window = WINDOW_5M;
	v->kind = TERM_KIND_ALL;
	v->sort = SORT_SCORE;
	v->limit = RENDER_DEFAULT_LIMIT;
	v->source_id = 0;
}

bool render_view_eq(const struct web_view *a, const struct web_view *b)
{
	return a->window == b->window && a->kind == b->kind && a->sort == b->sort &&
	       a->limit == b->limit && a->source_id == b->source_id &&
	       strcmp(a->lang, b->lang) == 0;
}

uint64_t render_view_hash(const struct web_view *v)
{
	char key[128];
	int n = snprintf(key, sizeof key, "%d/%d/%d/%u/%lld/%s", v->window, v->kind, v->sort,
			 v->limit, (long long)v->source_id, v->lang);

	return hash_bytes(key, n > 0 && (size_t)n < sizeof key ? (size_t)n : 0);
}

void render_view_query(const struct web_view *v, struct trends_query *q)
{
	q->window = v->window;
	q->kind = v->kind;
	q->sort = v->sort;
	q->limit = v->limit;
	q->lang = v->lang;
	q->source_id = v->source_id;
}

static bool name_is(const char *name, size_t nlen, const char *lit)
{
	return strlen(lit) == nlen && memcmp(name, lit, nlen) == 0;
}

/* Decimal digits only (no sign, no spaces, no leading '+'); *out <= max. */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int set_window(struct web_view *v, const char *val, size_t vlen, char *err, size_t errlen)
{
	int w = window_parse(val, vlen);
	if (w < 0) {
		snprintf(err, errlen, "window must be one of 5m, 1h, 24h");
		return -EINVAL;
	}
	v->window = w;
	return 0;
}

static int set_kind(struct web_view *v, const char *val, size_t vlen, char *err, size_t errlen)
{
	int k = term_kind_parse(val, vlen);
	if (k < 0) {
		snprintf(err, errlen, "kind must be one of all, word, hashtag, mention, cashtag, "
				      "domain, emoji, bigram");
		return -EINVAL;
	}
	v->kind = k;
	return 0;
}

static int set_sort(struct web_view *v, const char *val, size_t vlen, char *err, size_t errlen)
{
	if (name_is(val, vlen, "score"))
		v->sort = SORT_SCORE;
	else if (name_is(val, vlen, "count"))
		v->sort = SORT_COUNT;
	else {
		snprintf(err, errlen, "sort must be score or count");
		return -EINVAL;
	}
	return 0;
}

static int set_limit(struct web_view *v, uint64_t n, bool ok, char *err, size_t errlen)
{
	if (!ok || n < 1 || n > LIMIT_TRENDS_PER_VIEW) {
		snprintf(err, errlen, "limit must be an integer from 1 to %d",
			 LIMIT_TRENDS_PER_VIEW);
		return -EINVAL;
	}
	v->limit = (uint32_t)n;
	return 0;
}

static int set_source(struct web_view *v, uint64_t n, bool ok, char *err, size_t errlen)
{
	if (!ok) {
		snprintf(err, errlen, "source must be a source id (a non-negative integer)");
		return -EINVAL;
	}
	v->source_id = (int64_t)n;
	return 0;
}

/* BCP-47-ish: letters, digits and '-', short enough for the view key. */
static int set_lang(struct web_view *v, const char *val, size_t vlen, char *err, size_t errlen)
{
	if (vlen >= RENDER_LANG_BYTES)
		goto bad;
	for (size_t i = 0; i < vlen; i++) {
		char c = val[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			goto bad;
	}
	memcpy(v->lang, val, vlen);
	v->lang[vlen] = 0;
	return 0;
bad:
	snprintf(err, errlen, "lang must be a language code such as en or pt-BR (at most %d "
			      "letters, digits and '-')", RENDER_LANG_BYTES - 1);
	return -EINVAL;
}

int render_view_set(struct web_view *v, const char *name, size_t nlen, const char *val,
		    size_t vlen, char *err, size_t errlen)
{
	uint64_t n = 0;
	bool ok;

	if (name_is(name, nlen, "window"))
		return set_window(v, val, vlen, err, errlen);
	if (name_is(name, nlen, "kind"))
		return set_kind(v, val, vlen, err, errlen);
	if (name_is(name, nlen, "sort"))
		return set_sort(v, val, vlen, err, errlen);
	if (name_is(name, nlen, "lang"))
		return set_lang(v, val, vlen, err, errlen);
	/*
	 * Parsed before the call that takes n: the order in which a call's
	 * arguments are evaluated is unspecified, and with n and the parse as
	 * two arguments of one call, clang passed n before the parse set it.
	 */
	if (name_is(name, nlen, "limit")) {
		ok = parse_uint(val, vlen, UINT32_MAX, &n) == 0;
		return set_limit(v, n, ok, err, errlen);
	}
	if (name_is(name, nlen, "source")) {
		ok = parse_uint(val, vlen, INT64_MAX, &n) == 0;
		return set_source(v, n, ok, err, errlen);
	}
	return 1;
}

/* One field of a subscribe message: strings for names, integers for numbers. */
static int ws_field(struct web_view *v, const char *key, json_t *val, char *err, size_t errlen)
{
	size_t klen = strlen(key);

	if (name_is(key, klen, "limit") || name_is(key, klen, "source")) {
		bool limit = key[0] == 'l';
		json_int_t i = json_is_integer(val) ? json_integer_value(val) : -1;
		bool ok = json_is_integer(val) && i >= 0;
		return limit ? set_limit(v, (uint64_t)i, ok, err, errlen)
			     : set_source(v, (uint64_t)i, ok, err, errlen);
	}
	if (name_is(key, klen, "window") || name_is(key, klen, "kind") ||
	    name_is(key, klen, "sort") || name_is(key, klen, "lang")) {
		if (!json_is_string(val)) {
			snprintf(err, errlen, "%s must be a string", key);
			return -EINVAL;
		}
		return render_view_set(v, key, klen, json_string_value(val),
				       json_string_length(val), err, errlen);
	}
	return 0; /* unknown fields: newer clients may send more */
}

int render_ws_parse(const char *data, size_t len, enum ws_msg_type *type, struct web_view *v,
		    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	const char *key;
	json_t *val;
	int rc = -EINVAL;

	if (!root) {
		snprintf(err, errlen, "message is not valid JSON: %s", jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "message must be a JSON object");
		goto out;
	}
	val = json_object_get(root, "type");
	if (!json_is_string(val)) {
		snprintf(err, errlen, "message needs a \"type\" string");
		goto out;
	}
	const char *t = json_string_value(val);
	if (strcmp(t, "ping") == 0) {
		*type = WS_MSG_PING;
		rc = 0;
	} else if (strcmp(t, "unsubscribe") == 0) {
		*type = WS_MSG_UNSUBSCRIBE;
		rc = 0;
	} else if (strcmp(t, "subscribe") == 0) {
		struct web_view nv;
		render_view_default(&nv);
		json_object_foreach(root, key, val) {
			if (ws_field(&nv, key, val, err, errlen) < 0)
				goto out;
		}
		*type = WS_MSG_SUBSCRIBE;
		*v = nv;
		rc = 0;
	} else {
		struct strbuf sb = STRBUF_INIT;
		sb_json_str(&sb, t, json_string_length(val) > 64 ? 64 : json_string_length(val));
		snprintf(err, errlen, "unknown message type %s (expected subscribe, unsubscribe "
				      "or ping)", sb.failed ? "?" : sb.buf);
		sb_free(&sb);
	}
out:
	json_decref(root);
	return rc;
}

int render_trends(struct strbuf *sb, const struct snapshot *s, const struct web_view *v,
		  bool ws_message)
{
	struct trends_query q;

	render_view_query(v, &q);
	sb_puts(sb, ws_message ? "{\"type\":\"trends\"," : "{");
	if (snapshot_json_members(sb, s, &q) < 0)
		return -1;
	sb_putc(sb, '}');
	return sb->failed ? -1 : 0;
}

/* The name of source id in a parsed /api/sources array, or "". */
static const char *source_name(json_t *arr, int64_t id)
{
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) {
		if (json_integer_value(json_object_get(it, "id")) == id) {
			const char *n = json_string_value(json_object_get(it, "name"));
			return n ? n : "";
		}
	}
	return "";
}

int render_term_detail(struct strbuf *sb, const struct live_req *r, const char *sources_json,
		       size_t sources_len)
{
	json_t *sources = sources_json && r->nposts ? json_loadb(sources_json, sources_len, 0, NULL)
						    : NULL;
	char when[40];

	sb_puts(sb, "{\"term\":");
	sb_json_str(sb, r->term, r->term_len);
	sb_puts(sb, ",\"kind\":");
	sb_json_cstr(sb, term_kind_name(r->kind));
	sb_puts(sb, ",\"scanned_posts\":");
	sb_put_u64(sb, r->scanned);
	sb_puts(sb, ",\"matched_posts\":");
	sb_put_u64(sb, r->matched);
	sb_puts(sb, ",\"cooccurring\":[");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct live_row *row = &r->rows[i];
		sb_puts(sb, i ? ",{\"term\":" : "{\"term\":");
		sb_json_str(sb, row->term, row->term_len);
		sb_puts(sb, ",\"kind\":");
		sb_json_cstr(sb, term_kind_name(row->kind));
		sb_puts(sb, ",\"count\":");
		sb_put_u64(sb, row->count);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"examples\":[");
	for (size_t i = 0; i < r->nposts; i++) {
		const struct live_post *p = &r->posts[i];
		sb_puts(sb, i ? ",{\"id\":" : "{\"id\":");
		sb_json_str(sb, p->id, p->id_len);
		sb_puts(sb, ",\"source\":");
		sb_json_cstr(sb, source_name(sources, p->source_id));
		sb_puts(sb, ",\"source_id\":");
		sb_put_i64(sb, p->source_id);
		clock_format_rfc3339(p->time_ms, when, sizeof when);
		sb_puts(sb, ",\"time\":");
		sb_json_cstr(sb, when);
		sb_puts(sb, ",\"url\":");
		sb_json_str(sb, p->url, p->url_len);
		sb_puts(sb, ",\"author\":");
		sb_json_str(sb, p->author, p->author_len);
		sb_puts(sb, ",\"text\":");
		sb_json_str(sb, p->text, p->text_len);
		sb_puts(sb, p->truncated ? ",\"truncated\":true" : ",\"truncated\":false");
		sb_puts(sb, ",\"sentiment\":");
		sb_put_double(sb, p->sentiment, 4);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]}");
	json_decref(sources);
	return sb->failed ? -1 : 0;
}

void render_error(struct strbuf *sb, const char *msg)
{
	sb_puts(sb, "{\"error\":");
	sb_json_cstr(sb, msg);
	sb_putc(sb, '}');
}

void render_ws_error(struct strbuf *sb, const char *msg)
{
	sb_puts(sb, "{\"type\":\"error\",\"error\":");
	sb_json_cstr(sb, msg);
	sb_putc(sb, '}');
}

void render_ws_sources(struct strbuf *sb, const char *json, size_t len)
{
	sb_puts(sb, "{\"type\":\"sources\",\"sources\":");
	if (json && len)
		sb_append(sb, json, len);
	else
		sb_puts(sb, "[]");
	sb_putc(sb, '}');
}

int render_db_ok(const char *json, size_t len)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	int ok;

	if (!json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	ok = json_is_true(json_object_get(root, "ok")) ? 1 : 0;
	json_decref(root);
	return ok;
}

bool render_health(struct strbuf *sb, const struct snapshot *s, int64_t now_ms,
		   const struct web_stats *st, const char *db_json, size_t db_len, int db_ok)
{
	const char *problems[3];
	size_t np = 0;
	int64_t age = s ? now_ms - s->generated_ms : 0;

	if (age < 0)
		age = 0;
	if (!s)
		problems[np++] = "no snapshot yet";
	else if (age > RENDER_HEALTH_MAX_SNAPSHOT_AGE_MS)
		problems[np++] = "snapshot is stale: the analytics thread is not keeping up";
	if (db_json && db_ok == 0)
		problems[np++] = "database writer reports an error";
	else if (db_json && db_ok < 0)
		problems[np++] = "database status is unreadable";

	sb_puts(sb, "{\"status\":");
	sb_puts(sb, np ? "\"degraded\"" : "\"ok\"");
	sb_puts(sb, ",\"problems\":[");
	for (size_t i = 0; i < np; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_json_cstr(sb, problems[i]);
	}
	sb_puts(sb, "],\"uptime_s\":");
	sb_put_i64(sb, st->uptime_ms / 1000);
	sb_puts(sb, ",\"snapshot_age_ms\":");
	if (s)
		sb_put_i64(sb, age);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"snapshot_seq\":");
	sb_put_u64(sb, s ? s->seq : 0);
	sb_puts(sb, ",\"db\":");
	/* the blob is the db writer's own JSON object; only pass through what parses */
	if (db_json && db_ok >= 0)
		sb_append(sb, db_json, db_len);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"posts_total\":");
	sb_put_u64(sb, s ? s->stats.posts_total : 0);
	sb_puts(sb, ",\"ws_clients\":");
	sb_put_u64(sb, st->ws_clients);
	sb_putc(sb, '}');
	return np == 0;
}

static void metric(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_u64(struct strbuf *sb, const char *name, const char *type, const char *help,
		       uint64_t v)
{
	metric(sb, name, type, help);
	sb_puts(sb, name);
	sb_putc(sb, ' ');
	sb_put_u64(sb, v);
	sb_putc(sb, '\n');
}

static void metric_f(struct strbuf *sb, const char *name, const char *type, const char *help,
		     double v)
{
	metric(sb, name, type, help);
	sb_puts(sb, name);
	sb_putc(sb, ' ');
	sb_put_double(sb, v, 6);
	sb_putc(sb, '\n');
}

void render_metrics(struct strbuf *sb, const struct snapshot *s, int64_t now_ms,
		    const struct web_stats *st, int db_ok)
{
	static const struct snapshot_stats none;
	const struct snapshot_stats *ss = s ? &s->stats : &none;

	metric_f(sb, "trendd_uptime_seconds", "gauge", "Seconds since the web server started.",
		 (double)st->uptime_ms / 1000.0);
	metric_u64(sb, "trendd_posts_total", "counter", "Posts counted by the analytics thread.",
		   ss->posts_total);
	metric_f(sb, "trendd_posts_per_second", "gauge",
		 "Posts per second over the last 10 s of wall time.", ss->posts_per_s);
	metric_u64(sb, "trendd_late_posts_total", "counter",
		   "Posts behind the watermark: counted in history only.", ss->late_posts);
	metric_u64(sb, "trendd_future_posts_total", "counter",
		   "Posts dated more than 5 minutes ahead, clamped.", ss->future_posts);
	metric_u64(sb, "trendd_tokens_total", "counter", "Terms extracted from posts.",
		   ss->tokens_total);
	metric_u64(sb, "trendd_post_queue_depth", "gauge",
		   "Posts waiting between ingest and analytics.", ss->post_queue_depth);
	metric_u64(sb, "trendd_terms_tracked", "gauge", "Distinct terms held in memory.",
		   ss->terms_tracked);
	metric_f(sb, "trendd_tick_seconds", "gauge", "Time to build the latest snapshot.",
		 ss->tick_ms / 1000.0);
	metric_u64(sb, "trendd_checkpoint_state_bytes", "gauge",
		   "Analytics state the latest checkpoint wrote: the state and its new segments "
		   "(0 before the first).",
		   ss->checkpoint_bytes);
	metric_u64(sb, "trendd_checkpoint_segments", "gauge",
		   "Segments (closed buckets, quarter hours, term records) the latest checkpoint's "
		   "state names instead of holding.",
		   ss->checkpoint_segments);
	metric_f(sb, "trendd_checkpoint_build_seconds", "gauge",
		 "Time the analytics thread took to build that state.",
		 ss->checkpoint_build_ms / 1000.0);
	metric_f(sb, "trendd_checkpoint_period_seconds", "gauge",
		 "Time between checkpoints: the configured period, longer while building is slow.",
		 (double)ss->checkpoint_period_ms / 1000.0);
	metric_u64(sb, "trendd_snapshot_seq", "gauge", "Sequence number of the latest snapshot.",
		   s ? s->seq : 0);
	metric_f(sb, "trendd_snapshot_age_seconds", "gauge",
		 "Age of the latest snapshot (-1 before the first one).",
		 s ? (double)(now_ms - s->generated_ms) / 1000.0 : -1.0);
	metric_u64(sb, "trendd_ws_clients", "gauge", "Connected WebSocket clients.",
		   st->ws_clients);
	metric_u64(sb, "trendd_ws_dropped_clients_total", "counter",
		   "WebSocket clients closed because their unsent data stayed over the cap.",
		   st->ws_dropped_slow);
	metric_u64(sb, "trendd_ws_rejected_total", "counter",
		   "WebSocket upgrades refused (path, origin or client cap).", st->ws_rejected);
	metric_u64(sb, "trendd_ws_messages_sent_total", "counter",
		   "WebSocket messages written.", st->ws_messages_sent);
	metric_u64(sb, "trendd_ws_renders_total", "counter",
		   "Trends messages rendered for WebSocket clients.", st->ws_renders);
	metric_u64(sb, "trendd_ws_render_cache_hits_total", "counter",
		   "Trends messages reused from the per-snapshot render cache.",
		   st->ws_render_cache_hits);
	metric_u64(sb, "trendd_http_requests_total", "counter", "HTTP requests answered.",
		   st->http_requests);
	metric(sb, "trendd_http_errors_total", "counter", "HTTP error responses by class.");
	sb_puts(sb, "trendd_http_errors_total{class=\"4xx\"} ");
	sb_put_u64(sb, st->http_responses_4xx);
	sb_puts(sb, "\ntrendd_http_errors_total{class=\"5xx\"} ");
	sb_put_u64(sb, st->http_responses_5xx);
	sb_putc(sb, '\n');
	metric_u64(sb, "trendd_http_not_modified_total", "counter",
		   "304 answers to If-None-Match.", st->http_not_modified);
	metric_f(sb, "trendd_db_ok", "gauge",
		 "1 when the database writer reports ok, 0 when not, -1 before it reports.",
		 db_ok > 0 ? 1.0 : (db_ok == 0 ? 0.0 : -1.0));
}

void render_label_value(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_puts(sb, "\\\\");
		else if (*s == '"')
			sb_puts(sb, "\\\"");
		else if (*s == '\n')
			sb_puts(sb, "\\n");
		else
			sb_putc(sb, *s);
	}
}

static const char *const source_states[] = { "ok", "backoff", "error", "idle", "disabled" };

static void source_labels(struct strbuf *sb, const char *name, json_t *src)
{
	const char *sname = json_string_value(json_object_get(src, "name"));
	const char *kind = json_string_value(json_object_get(src, "kind"));

	sb_puts(sb, name);
	sb_puts(sb, "{id=\"");
	sb_put_i64(sb, json_integer_value(json_object_get(src, "id")));
	sb_puts(sb, "\",source=\"");
	render_label_value(sb, sname ? sname : "");
	sb_puts(sb, "\",kind=\"");
	render_label_value(sb, kind ? kind : "");
	sb_putc(sb, '"');
}

/* One family: a sample per source of status.<field> (an integer; absent counts 0). */
static void source_family(struct strbuf *sb, json_t *arr, const char *name, const char *type,
			  const char *help, const char *field)
{
	json_t *src;
	size_t i;

	metric(sb, name, type, help);
	json_array_foreach(arr, i, src) {
		json_t *v = json_object_get(json_object_get(src, "status"), field);
		source_labels(sb, name, src);
		sb_puts(sb, "} ");
		sb_put_i64(sb, json_is_integer(v) ? json_integer_value(v) : 0);
		sb_putc(sb, '\n');
	}
}

void render_metrics_sources(struct strbuf *sb, const char *json, size_t len)
{
	json_t *arr = json ? json_loadb(json, len, 0, NULL) : NULL, *src;
	size_t i;

	if (!json_is_array(arr)) {
		json_decref(arr);
		arr = json_array();
	}
	source_family(sb, arr, "trendd_source_posts_total", "counter",
		      "Posts delivered by the source (each id once).", "posts_seen");
	source_family(sb, arr, "trendd_source_polls_total", "counter",
		      "Polls (or connection attempts) of the source.", "polls");
	source_family(sb, arr, "trendd_source_items_skipped_total", "counter",
		      "Malformed items the source's documents held.", "items_skipped");
	source_family(sb, arr, "trendd_source_consecutive_errors", "gauge",
		      "Failed polls in a row (0 after a success).", "consecutive_errors");
	metric(sb, "trendd_source_state", "gauge",
	       "1 for the state the source is in (ok, backoff, error, idle, disabled), else 0.");
	json_array_foreach(arr, i, src) {
		const char *st = json_string_value(json_object_get(json_object_get(src, "status"),
								    "state"));
		for (size_t k = 0; k < sizeof source_states / sizeof source_states[0]; k++) {
			source_labels(sb, "trendd_source_state", src);
			sb_printf(sb, ",state=\"%s\"} %d\n", source_states[k],
				  st && !strcmp(st, source_states[k]));
		}
	}
	json_decref(arr);
}

void render_metrics_db(struct strbuf *sb, const struct dbstats_view *v)
{
	metric(sb, "trendd_db_commit_seconds", "histogram",
	       "Time the database writer took per commit (group commit of a batch).");
	for (size_t i = 0; i <= DBSTATS_BOUNDS; i++) {
		sb_puts(sb, "trendd_db_commit_seconds_bucket{le=\"");
		if (i < DBSTATS_BOUNDS)
			sb_printf(sb, "%g", dbstats_bounds_s[i]);
		else
			sb_puts(sb, "+Inf");
		sb_puts(sb, "\"} ");
		sb_put_u64(sb, v->cumulative[i]);
		sb_putc(sb, '\n');
	}
	sb_puts(sb, "trendd_db_commit_seconds_sum ");
	sb_put_double(sb, (double)v->sum_ns / 1e9, 9);
	sb_puts(sb, "\ntrendd_db_commit_seconds_count ");
	sb_put_u64(sb, v->count);
	sb_putc(sb, '\n');
	metric_f(sb, "trendd_db_commit_max_seconds", "gauge",
		 "The longest commit since trendd started.", (double)v->max_ns / 1e9);
}
