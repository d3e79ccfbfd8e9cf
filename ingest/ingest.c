#include "ingest/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/feed.h"
#include "ingest/html_text.h"
#include "ingest/http.h"
#include "ingest/source_kind.h"
#include "ingest/stream.h"

#ifndef TRENDD_VERSION
#define TRENDD_VERSION "0.1.0"
#endif
#define INGEST_USER_AGENT "trendd/" TRENDD_VERSION " (+https://github.com/trendd)"

#define NEVER INT64_MAX
/* Longest sleep of the loop: bounds how late it notices bus->stopping. */
#define INGEST_TICK_MS 500
/* How long one blocking push waits before checking for stop again. */
#define INGEST_PUSH_WAIT_MS 50
/* How long a marker may wait for room once trendd stops (analytics still drains). */
#define INGEST_STOP_MARKER_MS 1000
/*
 * Least time between two publications of the sources JSON: with many sources
 * polling, rebuilding it after every response would cost more than polling.
 */
#define INGEST_PUBLISH_MIN_MS 50

enum src_state { SRC_IDLE, SRC_OK, SRC_BACKOFF, SRC_ERROR, SRC_DISABLED };

static const char *const g_state_names[] = { "idle", "ok", "backoff", "error", "disabled" };

/*
 * Recently emitted post ids (64-bit hashes) of one source. The cursor already
 * keeps pages from overlapping; this catches what it cannot (a reblogged
 * status seen again, a server that ignores min_id). A linear scan of a few
 * thousand integers per post costs less than parsing the post did.
 */
struct seen_ring {
	uint64_t h[INGEST_SEEN_IDS];
	size_t n, next;
};

/*
 * The HTTP settings every polled kind takes in its params, next to its own:
 * a slow or huge feed may need other bounds than the defaults, and tests use
 * small ones. 0 means the default.
 */
struct src_http {
	long timeout_ms;         /* params.timeout_s */
	size_t max_body;         /* params.max_body_bytes: may only lower LIMIT_FEED_BODY_BYTES */
	int64_t backoff_cap_ms;  /* params.backoff_cap_s */
};

/* One source, owned by the ingest thread. */
struct src {
	struct ingest *ig;                /* borrowed: for the HTTP callback */
	struct source_config cfg;         /* owned copy */
	uint64_t gen;                     /* settings generation its markers carry (core/dbmsg.h) */
	const struct source_kind *kind;   /* NULL: not pollable */
	void *kstate;                     /* owned through kind->release */
	char *params_text;                /* owned: params as a compact JSON object */
	enum src_state state;
	bool inflight;                    /* a request is out; its callback still comes */
	bool removed;                     /* dropped while in flight: freed by the callback */
	bool state_owed;                  /* a DBMSG_SOURCE_STATE is to be sent */
	int64_t next_ms;                  /* monotonic time of the next poll, NEVER */
	int64_t next_wall_ms;             /* the same on the wall clock, for the status */
	int64_t last_ok_ms, last_error_ms;   /* wall time, 0 = never */
	char last_error[256];             /* "" when the last poll succeeded; settings errors too */
	char last_warning[256];           /* "" unless the last document was read despite problems */
	uint32_t consecutive_errors;
	uint64_t posts_seen, items_skipped, polls;
	int pages_in_row;                 /* immediate re-polls while catching up */
	struct src_http http;             /* HTTP settings from params; 0: the defaults */
	char *validated_url;              /* owned: URL the validators below belong to */
	char *etag, *last_modified;       /* owned: for conditional GET, or NULL */
	struct seen_ring seen;
	bool seen_taken;                  /* seen came from the old stream's handover */
	struct src *grave_next;           /* in ingest.graveyard when removed */
	char *next_url;                   /* owned: the next page while catching up, or NULL */
	bool streamed;                    /* keeps a connection open instead (ingest/stream.h) */
	void *stream;                     /* owned via kind->stream; made at the first connect */
};

enum cmd_op { CMD_SET, CMD_REMOVE, CMD_POLL };

struct cmd {
	enum cmd_op op;
	int64_t id;
	struct source_config cfg;         /* owned, CMD_SET only */
	bool fresh;                       /* CMD_SET: nothing of the old source carries over */
	uint64_t seq;                     /* CMD_SET, CMD_REMOVE: its bus->sources_cmds number */
	struct cmd *next;
};

/*
 * Between ingest_start() and the join in ingest_stop() everything here belongs
 * to the ingest thread, except `stop` (atomic), http_client_wakeup() on `http`
 * and the command list under cmd_mu.
 */
struct ingest {
	struct ingest_config cfg;         /* user_agent copied below */
	char *user_agent;                 /* owned */
	struct bus *bus;                  /* borrowed */
	pthread_t thread;
	atomic_bool stop;
	struct http_client *http;         /* owned; shared with the thread until join */
	struct html_text *html;           /* owned: the thread's converter */
	struct src **srcs;                /* owned array */
	size_t nsrcs, cap;
	struct src *graveyard;            /* owned: removed while in flight */
	bool dirty;                       /* sources JSON to publish */
	int64_t published_ms;             /* monotonic time of the last publication */
	uint64_t applied_seq;             /* the last source command applied (bus->sources_cmds) */
	uint64_t rng;
	struct strbuf scratch;

	pthread_mutex_t cmd_mu;           /* guards the command list only */
	struct cmd *cmd_head, *cmd_tail;  /* owned */
	size_t ncmds;
};

/* ---- small helpers ---- */

static uint64_t rng_next(struct ingest *ig)
{
	/* xorshift64*: only spreads retries, nothing depends on its quality. */
	uint64_t x = ig->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ig->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static bool seen_has(const struct seen_ring *r, uint64_t h)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->h[i] == h)
			return true;
	return false;
}

static void seen_add(struct seen_ring *r, uint64_t h)
{
	r->h[r->next] = h;
	r->next = (r->next + 1) % INGEST_SEEN_IDS;
	if (r->n < INGEST_SEEN_IDS)
		r->n++;
}

/* The ring oldest first, in the compact form of INGEST_SEEN_MAX_BYTES; returns the length. */
static size_t seen_encode(const struct seen_ring *r, uint8_t *out)
{
	uint32_t n = (uint32_t)r->n;
	size_t first = r->n < INGEST_SEEN_IDS ? 0 : r->next;
	memcpy(out, &n, 4);
	for (size_t i = 0; i < r->n; i++)
		memcpy(out + 4 + 8 * i, &r->h[(first + i) % INGEST_SEEN_IDS], 8);
	return 4 + 8 * r->n;
}

static int seen_decode(struct seen_ring *r, const uint8_t *in, size_t len)
{
	uint32_t n;
	if (len < 4 || (memcpy(&n, in, 4), n > INGEST_SEEN_IDS) || len != 4 + 8 * (size_t)n)
		return -EINVAL;
	memset(r, 0, sizeof *r);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t h;
		memcpy(&h, in + 4 + 8 * (size_t)i, 8);
		seen_add(r, h);
	}
	return 0;
}

static void set_str(char **dst, const char *src)
{
	char *n = src ? strdup(src) : NULL;
	/* On allocation failure the old value is dropped: these are only hints. */
	free(*dst);
	*dst = n;
}

/* Reads the integer params.key into *out when present; -EINVAL unless it is in [lo, hi]. */
static int param_int(json_t *root, const char *key, long long lo, long long hi, long long *out,
		     char *err, size_t cap)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, cap, "params.%s must be an integer from %lld to %lld", key, lo, hi);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

/* The HTTP settings in a source's params (see struct src_http); -EINVAL with err. */
static int src_http_parse(const char *params, struct src_http *out, char *err, size_t cap)
{
	long long timeout_s = 0, max_body = 0, cap_s = 0;
	json_t *root;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (!params || !params[0])
		return 0;
	root = json_loads(params, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return 0;   /* the kind's own check says what is wrong */
	}
	if (param_int(root, "timeout_s", 1, 3600, &timeout_s, err, cap) < 0 ||
	    param_int(root, "max_body_bytes", 1024, LIMIT_FEED_BODY_BYTES, &max_body, err, cap) < 0 ||
	    param_int(root, "backoff_cap_s", 1, INGEST_MAX_DELAY_MS / 1000, &cap_s, err, cap) < 0)
		rc = -EINVAL;
	json_decref(root);
	out->timeout_ms = (long)timeout_s * 1000;
	out->max_body = (size_t)max_body;
	out->backoff_cap_ms = cap_s * 1000;
	return rc;
}

static int64_t interval_ms(const struct ingest *ig, const struct src *s)
{
	if (ig->cfg.interval_ms > 0)
		return ig->cfg.interval_ms;
	if (s->streamed)
		return STREAM_RECONNECT_MS;   /* a stream's interval is its first reconnect delay */
	return (int64_t)(s->cfg.interval_s > 0 ? s->cfg.interval_s : 1) * 1000;
}

static int64_t backoff_cap_ms(const struct ingest *ig, const struct src *s)
{
	if (s->http.backoff_cap_ms > 0)
		return s->http.backoff_cap_ms;
	return ig->cfg.backoff_cap_ms > 0 ? ig->cfg.backoff_cap_ms : INGEST_BACKOFF_CAP_MS;
}

/* The wait after the n-th failure in a row; see ingest.h. */
static int64_t backoff_ms(struct ingest *ig, const struct src *s, uint32_t n)
{
	int64_t base = interval_ms(ig, s), cap = backoff_cap_ms(ig, s), window = base;

	for (uint32_t i = 0; i < n && window < cap; i++)
		window *= 2;
	if (window > cap)
		window = cap;
	if (window <= base)
		return base;
	if (ig->cfg.no_jitter)
		return window;
	return base + (int64_t)(rng_next(ig) % (uint64_t)(window - base + 1));
}

/*
 * Schedules the next poll delay_ms after now_mono, and shows it on the wall
 * clock delay_ms after now_wall, read beside it: the status then says the
 * wait that was chosen, not one blurred by a pause between two clock reads.
 */
static void src_schedule(struct src *s, int64_t now_mono, int64_t now_wall, int64_t delay_ms)
{
	s->next_ms = now_mono + delay_ms;
	s->next_wall_ms = now_wall + delay_ms;
}

/* ---- sources: life cycle ---- */

static void src_free(struct src *s)
{
	if (!s)
		return;
	if (s->stream)
		s->kind->stream->destroy(s->stream);   /* it borrows kstate */
	if (s->kind && s->kstate)
		s->kind->release(s->kstate);
	source_config_clear(&s->cfg);
	free(s->params_text);
	free(s->validated_url);
	free(s->etag);
	free(s->last_modified);
	free(s->next_url);
	free(s);
}

/* The params as compact JSON for GET /api/sources; "{}" when they are not an object. */
static char *params_normalize(const char *text)
{
	json_t *root = text && text[0] ? json_loads(text, 0, NULL) : NULL;
	char *out = NULL;

	if (json_is_object(root))
		out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out ? out : strdup("{}");
}

static int src_new(struct ingest *ig, const struct source_config *cfg, struct src **out)
{
	struct src *s = calloc(1, sizeof *s);
	char err[200] = "";
	int rc;

	if (!s)
		return -ENOMEM;
	s->ig = ig;
	s->next_ms = NEVER;
	/*
	 * Taken once: a reset is committed (and the generation raised) before
	 * ingest hears of it, so the cursors of this source's polls carry the
	 * new generation and a late marker of the old feed carries the old one,
	 * which the writer refuses.
	 */
	s->gen = dbmsg_source_gen(cfg->id);
	if ((rc = source_config_copy(&s->cfg, cfg)) < 0) {
		free(s);
		return rc;
	}
	if (!(s->params_text = params_normalize(cfg->params_json))) {
		src_free(s);
		return -ENOMEM;
	}
	s->kind = source_kind_find(s->cfg.kind);
	if (!s->kind) {
		s->state = SRC_ERROR;
		snprintf(s->last_error, sizeof s->last_error, "unsupported source kind '%s'",
			 s->cfg.kind);
	} else if (src_http_parse(s->cfg.params_json, &s->http, err, sizeof err) < 0) {
		/* Before setup(): without kind state the source is never polled. */
		s->state = SRC_ERROR;
		snprintf(s->last_error, sizeof s->last_error, "bad settings: %s", err);
	} else if ((rc = s->kind->setup(&s->cfg, &s->kstate, err, sizeof err)) < 0) {
		if (rc == -ENOMEM) {
			src_free(s);
			return rc;
		}
		s->state = SRC_ERROR;
		snprintf(s->last_error, sizeof s->last_error, "bad settings: %s", err);
	} else if (!s->cfg.enabled) {
		s->state = SRC_DISABLED;
	} else {
		s->state = SRC_IDLE;
		src_schedule(s, clock_mono_ms(), clock_now_ms(), 0);
		s->streamed = s->kind->stream && (!s->kind->streams || s->kind->streams(s->kstate));
	}
	if (s->state == SRC_ERROR) {
		s->last_error_ms = clock_now_ms();
		log_warn("ingest", "source %lld (%s): %s", (long long)s->cfg.id, s->cfg.name,
			 s->last_error);
	}
	*out = s;
	return 0;
}

int ingest_source_check(const struct source_config *cfg, char *err, size_t cap)
{
	const struct source_kind *k;
	struct src_http http;
	void *state = NULL;
	int rc;

	if (strcmp(cfg->kind, "push") == 0)
		return 0; /* posts arrive through POST /api/ingest */
	if (!(k = source_kind_find(cfg->kind))) {
		snprintf(err, cap, "unsupported source kind '%.32s'", cfg->kind);
		return -EINVAL;
	}
	if (!k->own_url_check && (!cfg->url || (strncasecmp(cfg->url, "http://", 7) != 0 &&
						strncasecmp(cfg->url, "https://", 8) != 0) ||
				  strlen(cfg->url) < 10)) {
		snprintf(err, cap, "url must be an http:// or https:// URL");
		return -EINVAL;
	}
	if ((rc = k->setup(cfg, &state, err, cap)) < 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	k->release(state);
	return src_http_parse(cfg->params_json, &http, err, cap);
}

static struct src *src_find(struct ingest *ig, int64_t id, size_t *idx)
{
	for (size_t i = 0; i < ig->nsrcs; i++)
		if (ig->srcs[i]->cfg.id == id) {
			if (idx)
				*idx = i;
			return ig->srcs[i];
		}
	return NULL;
}

/* Drops a source that left the list; one with a request out waits for its callback. */
static void src_retire(struct ingest *ig, struct src *s)
{
	if (s->inflight) {
		s->removed = true;
		s->grave_next = ig->graveyard;
		ig->graveyard = s;
	} else {
		src_free(s);
	}
}

static int srcs_append(struct ingest *ig, struct src *s)
{
	if (ig->nsrcs == ig->cap) {
		size_t cap = ig->cap ? ig->cap * 2 : 8;
		struct src **n = realloc(ig->srcs, cap * sizeof *n);
		if (!n)
			return -ENOMEM;
		ig->srcs = n;
		ig->cap = cap;
	}
	ig->srcs[ig->nsrcs++] = s;
	return 0;
}

/* ---- publishing status ---- */

static void put_time_or_null(struct strbuf *sb, int64_t wall_ms)
{
	char buf[32];
	if (wall_ms <= 0) {
		sb_puts(sb, "null");
		return;
	}
	/* Milliseconds: with short intervals and backoff, seconds would blur the schedule. */
	clock_format_rfc3339_ms(wall_ms, buf, sizeof buf);
	sb_json_cstr(sb, buf);
}

static void src_json(struct strbuf *sb, const struct src *s, int64_t now_mono, int64_t now_wall)
{
	sb_puts(sb, "{\"id\":");
	sb_put_i64(sb, s->cfg.id);
	sb_puts(sb, ",\"kind\":");
	sb_json_cstr(sb, s->cfg.kind);
	sb_puts(sb, ",\"name\":");
	sb_json_cstr(sb, s->cfg.name);
	sb_puts(sb, ",\"url\":");
	sb_json_cstr(sb, s->cfg.url);
	sb_puts(sb, ",\"enabled\":");
	sb_puts(sb, s->cfg.enabled ? "true" : "false");
	sb_puts(sb, ",\"interval_s\":");
	sb_put_i64(sb, s->cfg.interval_s);
	sb_puts(sb, ",\"params\":");
	sb_puts(sb, s->params_text);   /* compact JSON made by jansson */
	sb_puts(sb, ",\"status\":{\"state\":");
	sb_json_cstr(sb, g_state_names[s->state]);
	sb_puts(sb, ",\"last_ok\":");
	put_time_or_null(sb, s->last_ok_ms);
	sb_puts(sb, ",\"last_error\":");
	if (s->last_error[0])
		sb_json_cstr(sb, s->last_error);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"last_error_at\":");
	put_time_or_null(sb, s->last_error_ms);
	sb_puts(sb, ",\"last_warning\":");
	if (s->last_warning[0])
		sb_json_cstr(sb, s->last_warning);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"consecutive_errors\":");
	sb_put_u64(sb, s->consecutive_errors);
	sb_puts(sb, ",\"posts_seen\":");
	sb_put_u64(sb, s->posts_seen);
	sb_puts(sb, ",\"items_skipped\":");
	sb_put_u64(sb, s->items_skipped);
	sb_puts(sb, ",\"polls\":");
	sb_put_u64(sb, s->polls);
	sb_puts(sb, ",\"next_poll\":");
	if (s->inflight)
		put_time_or_null(sb, now_wall);
	else if (s->next_ms == NEVER)
		sb_puts(sb, "null");
	else
		put_time_or_null(sb, s->next_ms > now_mono ? s->next_wall_ms : now_wall);
	sb_puts(sb, ",\"cursor\":");
	sb_json_cstr(sb, s->cfg.cursor);
	if (s->stream && s->kind->stream->status_json) {
		sb_puts(sb, ",\"stream\":");
		s->kind->stream->status_json(s->stream, sb);
	}
	sb_puts(sb, "}}");
}

static void sources_publish(struct ingest *ig)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t now_mono = clock_mono_ms(), now_wall = clock_now_ms();
	struct blob *b;
	char *data;
	size_t len;

	sb_putc(&sb, '[');
	for (size_t i = 0; i < ig->nsrcs; i++) {
		if (i)
			sb_putc(&sb, ',');
		src_json(&sb, ig->srcs[i], now_mono, now_wall);
	}
	sb_putc(&sb, ']');
	if (!(data = sb_detach(&sb, &len)) || !(b = blob_take(data, len))) {
		/* Still dirty: the next loop tries again. */
		log_warn("ingest", "out of memory publishing sources");
		return;
	}
	publish_set(&ig->bus->sources, &b->ref);
	atomic_store(&ig->bus->sources_applied, ig->applied_seq);
	bus_wake_web(ig->bus);
	ig->dirty = false;
	ig->published_ms = now_mono;
}

/* Sends owed source states to the db thread without ever waiting for room. */
static void states_flush(struct ingest *ig)
{
	for (size_t i = 0; i < ig->nsrcs; i++) {
		struct src *s = ig->srcs[i];
		struct dbmsg *m;
		int rc;

		if (!s->state_owed)
			continue;
		if (!(m = dbmsg_new(DBMSG_SOURCE_STATE)))
			return;
		m->u.source.source_id = s->cfg.id;
		/* With markers the checkpoint owns the stored cursor; NULL keeps it. */
		m->u.source.cursor = ig->cfg.cursor_markers ? NULL
			: strdup(s->cfg.cursor ? s->cfg.cursor : "");
		m->u.source.last_ok_ms = s->last_ok_ms;
		m->u.source.last_error_ms = s->last_error_ms;
		m->u.source.last_error = strdup(s->last_error);
		m->u.source.posts_seen = s->posts_seen;
		m->u.source.items_skipped = s->items_skipped;
		if ((!m->u.source.cursor && !ig->cfg.cursor_markers) || !m->u.source.last_error) {
			dbmsg_free(m);
			return;
		}
		rc = queue_try_push(&ig->bus->db, m);
		if (rc == -EAGAIN) {
			/* Full: this source's newest state goes out on a later round. */
			dbmsg_free(m);
			return;
		}
		if (rc < 0)
			dbmsg_free(m);   /* closed: the db thread is gone */
		s->state_owed = false;
	}
}

/* ---- polling ---- */

static bool stopping(struct ingest *ig)
{
	return atomic_load(&ig->stop) || bus_stopping(ig->bus);
}

/* Parses an HTTP delay: delta-seconds or an HTTP-date. Returns ms from now, or -1. */
static int64_t parse_retry_after(const char *v, int64_t now_wall)
{
	char *end;
	long long secs;

	if (!v || !v[0])
		return -1;
	secs = strtoll(v, &end, 10);
	if (end != v && *end == 0)
		return secs < 0 ? 0 : secs > INGEST_MAX_DELAY_MS / 1000 ? INGEST_MAX_DELAY_MS
									 : secs * 1000;
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	int64_t d = (int64_t)t * 1000 - now_wall;
	return d < 0 ? 0 : d > INGEST_MAX_DELAY_MS ? INGEST_MAX_DELAY_MS : d;
}

/*
 * When the server says few requests are left, the time to wait for its
 * window to reset (ms), else 0. Mastodon sends the reset as an ISO 8601
 * time; others send seconds from now or a Unix time.
 */
static int64_t rate_limit_hold(const struct http_response *r, int64_t now_wall)
{
	const char *rem = http_response_header(r, "X-RateLimit-Remaining");
	const char *reset = http_response_header(r, "X-RateLimit-Reset");
	char *end;
	int64_t at;

	if (!rem || !reset)
		return 0;
	double left = strtod(rem, &end);
	if (end == rem || !(left <= INGEST_RATELIMIT_LOW))   /* NaN too */
		return 0;
	if (clock_parse_rfc3339(reset, strlen(reset), &at) < 0) {
		double v = strtod(reset, &end);
		if (end == reset || !(v >= 0 && v < 1e12))
			return 0;
		/* Small numbers are seconds from now, large ones a Unix time. */
		at = v < 1e9 ? now_wall + (int64_t)(v * 1000) : (int64_t)(v * 1000);
	}
	at -= now_wall;
	return at <= 0 ? 0 : at > INGEST_MAX_DELAY_MS ? INGEST_MAX_DELAY_MS : at;
}

static void poll_failed(struct ingest *ig, struct src *s, const char *msg, int64_t at_least_ms)
{
	int64_t now = clock_mono_ms(), delay;

	s->state = SRC_BACKOFF;
	s->consecutive_errors++;
	s->pages_in_row = 0;
	s->last_error_ms = clock_now_ms();
	/* Messages quote servers: keep them valid UTF-8 when cutting. */
	utf8_sanitize(s->last_error, sizeof s->last_error, msg, strlen(msg));
	delay = backoff_ms(ig, s, s->consecutive_errors);
	if (delay < at_least_ms)
		delay = at_least_ms;
	src_schedule(s, now, s->last_error_ms, delay);
	/* Log the first failure and then ever more rarely: a dead source must not flood. */
	if ((s->consecutive_errors & (s->consecutive_errors - 1)) == 0)
		log_warn("ingest", "source %lld (%s): %s (%u in a row, next try in %lld ms)",
			 (long long)s->cfg.id, s->cfg.name, msg, s->consecutive_errors,
			 (long long)delay);
}

static void poll_succeeded(struct ingest *ig, struct src *s, bool more, int64_t hold_ms)
{
	int64_t now = clock_mono_ms(), delay;

	s->last_ok_ms = clock_now_ms();
	if (s->consecutive_errors)
		log_info("ingest", "source %lld (%s): ok again after %u errors",
			 (long long)s->cfg.id, s->cfg.name, s->consecutive_errors);
	s->state = SRC_OK;
	s->consecutive_errors = 0;
	s->last_error[0] = 0;
	int pages = s->kind->catchup_pages ? s->kind->catchup_pages(s->kstate)
					    : INGEST_CATCHUP_PAGES;
	if (more && hold_ms == 0 && s->pages_in_row + 1 < pages) {
		s->pages_in_row++;
		delay = 0;
	} else {
		s->pages_in_row = 0;
		delay = interval_ms(ig, s);
	}
	if (delay < hold_ms)
		delay = hold_ms;
	src_schedule(s, now, s->last_ok_ms, delay);
}

/* Waits for room on the post queue; gives up only when trendd stops. */
static int post_push(struct ingest *ig, struct post *p)
{
	for (;;) {
		int rc = queue_push(&ig->bus->posts, p, INGEST_PUSH_WAIT_MS);
		if (rc != -EAGAIN)
			return rc;
		if (stopping(ig))
			return -ECANCELED;
	}
}

/*
 * Puts the source's cursor marker on the post queue behind the posts it
 * covers: analytics checkpoints a cursor only together with the posts it
 * counted up to it (docs/STORAGE.md, "Exactly-once"). Waits for room like a
 * post; -ECANCELED when trendd stops (the previous marker then stands).
 */
static int marker_push(struct ingest *ig, struct src *s, bool fresh)
{
	uint8_t seen[INGEST_SEEN_MAX_BYTES];
	size_t len = fresh ? 0 : seen_encode(&s->seen, seen);
	struct post *m;
	int rc;

	if (!ig->cfg.cursor_markers)
		return 0;
	m = dbmsg_marker_new_gen(s->cfg.id, s->gen, fresh || !s->cfg.cursor ? "" : s->cfg.cursor,
				 seen, len);
	if (!m) {
		log_warn("ingest", "source %lld: out of memory for a cursor marker",
			 (long long)s->cfg.id);
		return -ENOMEM;
	}
	/*
	 * Stopping with a full queue: analytics is still draining it, so wait a
	 * little - without the marker, its last checkpoint cannot include the
	 * posts already queued (docs/STORAGE.md).
	 */
	if ((rc = post_push(ig, m)) == -ECANCELED)
		rc = queue_push(&ig->bus->posts, m, INGEST_STOP_MARKER_MS) == 0 ? 0 : -ECANCELED;
	if (rc < 0)
		post_free(m);
	return rc;
}

/*
 * Moves the document's posts onto the queue, oldest first (feeds list the
 * newest first), skipping ids this source emitted recently. Returns 0, or
 * -ECANCELED when trendd stops halfway (the cursor must then stay put).
 */
static int posts_emit(struct ingest *ig, struct src *s, struct feed_doc *doc)
{
	int rc = 0;

	for (size_t i = doc->nposts; i-- > 0;) {
		struct post *p = doc->posts[i];
		doc->posts[i] = NULL;
		if (rc < 0) {
			post_free(p);
			continue;
		}
		uint64_t h = hash_bytes(p->id, strlen(p->id));
		if (seen_has(&s->seen, h)) {
			post_free(p);
			continue;
		}
		if ((rc = post_push(ig, p)) < 0) {
			post_free(p);
			continue;
		}
		seen_add(&s->seen, h);
		s->posts_seen++;
	}
	doc->nposts = 0;
	/*
	 * Stopped halfway: the cursor stays, and a marker with it and the seen
	 * ids covers the posts already queued (a restart fetches the page again
	 * and skips them).
	 */
	if (rc < 0)
		marker_push(ig, s, false);
	return rc < 0 ? -ECANCELED : 0;
}

/*
 * The URL relative links in a response are resolved against: its
 * Content-Location when that is an http(s) URL (resolved against the request),
 * else the URL after redirects - a feed that moved links relative to where it
 * is now, not to where the source's settings still point. Owned by the caller
 * (curl_free); NULL when there is nothing better than the configured URL.
 */
static char *base_url_of(const struct http_response *r)
{
	const char *loc = http_response_header(r, "Content-Location");
	char *out = NULL, *scheme = NULL;
	CURLU *u;

	if (!r->url || !r->url[0] || !(u = curl_url()))
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, r->url, 0) != CURLUE_OK)
		goto out;
	/* With a URL already set, a relative one is resolved against it. */
	if (loc && loc[0] && curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK)
		curl_url_set(u, CURLUPART_URL, r->url, 0);
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")))
		curl_url_set(u, CURLUPART_URL, r->url, 0);
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		out = NULL;
out:
	curl_free(scheme);
	curl_url_cleanup(u);
	return out;
}

static void handle_body(struct ingest *ig, struct src *s, struct http_response *r,
			int64_t hold_ms)
{
	struct feed_doc doc;
	bool more = false;
	char *base = base_url_of(r);
	struct feed_input in = {
		.body = r->body.buf ? r->body.buf : "",
		.len = r->body.len,
		.content_type = http_response_header(r, "Content-Type"),
		.base_url = base ? base : s->cfg.url,
		.cursor = s->cfg.cursor,
		.source_id = s->cfg.id,
		.html = ig->html,
		.link = http_response_header(r, "Link"),
	};
	int rc;

	feed_doc_init(&doc);
	rc = s->kind->parse(s->kstate, &in, &doc, &more);
	set_str(&s->next_url, more && rc == 0 ? doc.next_url : NULL);
	if (rc < 0) {
		poll_failed(ig, s, "out of memory while parsing", 0);
		goto out;
	}
	if (!doc.wellformed) {
		poll_failed(ig, s, doc.error, hold_ms);
		goto out;
	}
	if (posts_emit(ig, s, &doc) < 0)
		goto out;   /* stopping: nothing more to record */
	s->items_skipped += doc.skipped;
	/* A kind that read a flawed document returns it well-formed with the flaw in error. */
	utf8_sanitize(s->last_warning, sizeof s->last_warning, doc.error, strlen(doc.error));
	if (doc.cursor && doc.cursor[0]) {
		free(s->cfg.cursor);
		s->cfg.cursor = doc.cursor;
		doc.cursor = NULL;
	}
	if (marker_push(ig, s, false) == -ECANCELED)
		goto out;
	poll_succeeded(ig, s, more, hold_ms);
out:
	feed_doc_clear(&doc);
	curl_free(base);
}

static void on_response(void *user, struct http_response *r)
{
	struct src *s = user;
	struct ingest *ig = s->ig;
	int64_t now_wall = clock_now_ms(), hold_ms;
	char msg[sizeof s->last_error];

	s->inflight = false;
	if (s->removed) {
		struct src **pp = &ig->graveyard;
		while (*pp && *pp != s)
			pp = &(*pp)->grave_next;
		if (*pp)
			*pp = s->grave_next;
		src_free(s);
		return;
	}
	s->polls++;
	s->state_owed = true;
	ig->dirty = true;
	hold_ms = rate_limit_hold(r, now_wall);

	if (r->error[0]) {
		poll_failed(ig, s, r->error, 0);
	} else if (r->status == 304) {
		poll_succeeded(ig, s, false, hold_ms);
	} else if (r->status >= 200 && r->status < 300) {
		const char *etag = http_response_header(r, "ETag");
		const char *lm = http_response_header(r, "Last-Modified");
		handle_body(ig, s, r, hold_ms);
		if (s->state == SRC_OK) {
			set_str(&s->etag, etag);
			set_str(&s->last_modified, lm);
		}
	} else {
		char detail[160] = "";
		int64_t wait = hold_ms;
		const char *text = http_status_text(r->status);
		if (s->kind->error_detail && r->body.len)
			s->kind->error_detail(r->body.buf, r->body.len, detail, sizeof detail);
		snprintf(msg, sizeof msg, "HTTP %ld%s%s%s%s", r->status, text[0] ? " " : "", text,
			 detail[0] ? ": " : "", detail);
		if (r->status == 429 || r->status == 503) {
			int64_t ra = parse_retry_after(http_response_header(r, "Retry-After"),
						       now_wall);
			if (ra > wait)
				wait = ra;
		}
		poll_failed(ig, s, msg, wait);
	}
}

static void poll_start(struct ingest *ig, struct src *s)
{
	struct strbuf *url = &ig->scratch;
	struct http_request req = {
		.accept = s->kind->accept,
		.max_body = s->http.max_body ? s->http.max_body : ig->cfg.max_body_bytes,
		.timeout_ms = s->http.timeout_ms ? s->http.timeout_ms : ig->cfg.timeout_ms,
	};
	int rc;

	sb_reset(url);
	/* Catching up, a page may name the next one (a Link header); else the cursor does. */
	if (s->next_url && s->pages_in_row > 0) {
		sb_puts(url, s->next_url);
		rc = 0;
	} else {
		rc = s->kind->request_url(s->kstate, s->cfg.url, s->cfg.cursor, url);
	}
	set_str(&s->next_url, NULL);
	if (rc < 0 || url->failed) {
		poll_failed(ig, s, "out of memory building the request", 0);
		ig->dirty = true;
		return;
	}
	req.url = url->buf;
	/* Validators only mean something for the very URL they came with. */
	if (s->validated_url && !strcmp(s->validated_url, url->buf)) {
		req.if_none_match = s->etag;
		req.if_modified_since = s->last_modified;
	} else {
		set_str(&s->validated_url, url->buf);
		set_str(&s->etag, NULL);
		set_str(&s->last_modified, NULL);
	}
	rc = http_client_get(ig->http, &req, on_response, s);
	if (rc < 0) {
		char msg[96];
		snprintf(msg, sizeof msg, "could not start the request (%s)", strerror(-rc));
		poll_failed(ig, s, msg, 0);
		ig->dirty = true;
		return;
	}
	/* Not published by itself: the response will be, moments later. */
	s->inflight = true;
}

/* ---- streamed sources (ingest/stream.h) ---- */

static int host_emit(void *ctx, struct feed_doc *doc)
{
	struct src *s = ctx;
	int rc = posts_emit(s->ig, s, doc);

	if (rc == 0)
		rc = marker_push(s->ig, s, false) == -ECANCELED ? -ECANCELED : 0;
	s->items_skipped += doc->skipped;
	doc->skipped = 0;
	s->ig->dirty = true;
	return rc;
}

static void host_counted(void *ctx, uint64_t posts, uint64_t skipped)
{
	struct src *s = ctx;

	s->posts_seen += posts;
	s->items_skipped += skipped;
	s->ig->dirty = true;
}

static void host_connected(void *ctx)
{
	struct src *s = ctx;

	s->state = SRC_OK;
	s->next_ms = NEVER;
	s->state_owed = true;
	s->ig->dirty = true;
}

static void host_healthy(void *ctx)
{
	struct src *s = ctx;

	if (s->consecutive_errors) {
		log_info("ingest", "source %lld (%s): streaming again after %u errors",
			 (long long)s->cfg.id, s->cfg.name, s->consecutive_errors);
		s->consecutive_errors = 0;
		s->last_error[0] = 0;
	}
	s->last_ok_ms = clock_now_ms();
	s->ig->dirty = true;
}

static void host_cursor(void *ctx, const char *cursor)
{
	struct src *s = ctx;
	char *c = strdup(cursor);

	if (!c)
		return;   /* the next report tries again */
	free(s->cfg.cursor);
	s->cfg.cursor = c;
	s->state_owed = true;
	s->ig->dirty = true;
	/*
	 * The stream reports a cursor once the posts before it are queued. One
	 * that queues its own posts puts its own markers behind them: a marker
	 * from here would carry this thread's seen ids, not the stream's.
	 */
	if (!s->kind->stream->queues_markers)
		marker_push(s->ig, s, false);
}

static void host_warn(void *ctx, const char *msg)
{
	struct src *s = ctx;

	utf8_sanitize(s->last_error, sizeof s->last_error, msg, strlen(msg));
	s->last_error_ms = clock_now_ms();
	s->state_owed = true;
	s->ig->dirty = true;
	log_warn("ingest", "source %lld (%s): %s", (long long)s->cfg.id, s->cfg.name, msg);
}

static void host_failed(void *ctx, const char *msg, int64_t at_least_ms)
{
	struct src *s = ctx;

	poll_failed(s->ig, s, msg, at_least_ms);
	s->state_owed = true;
	s->ig->dirty = true;
}

static void host_wake(void *ctx)
{
	struct src *s = ctx;

	http_client_wakeup(s->ig->http);
}

static const struct stream_host_ops g_stream_host = {
	.emit = host_emit,
	.counted = host_counted,
	.connected = host_connected,
	.healthy = host_healthy,
	.cursor = host_cursor,
	.warn = host_warn,
	.failed = host_failed,
	.wake = host_wake,
};

/* A streamed source's turn: news from its own thread, then (re)connecting when due. */
static void stream_turn(struct ingest *ig, struct src *s, int64_t now)
{
	const struct stream_ops *ops = s->kind->stream;
	int rc;

	if (s->stream && ops->service)
		ops->service(s->stream);
	if (s->next_ms == NEVER || s->next_ms > now)
		return;
	if (!s->stream) {
		uint8_t seen[INGEST_SEEN_MAX_BYTES];
		struct stream_host host = {
			.ops = &g_stream_host,
			.ctx = s,
			.source_id = s->cfg.id,
			.url = s->cfg.url,
			.cursor = s->cfg.cursor ? s->cfg.cursor : "",
			.seen = seen,
			.seen_len = seen_encode(&s->seen, seen),
			.cursor_markers = ig->cfg.cursor_markers,
			.gen = s->gen,
			.bus = ig->bus,
			.http = ig->http,
			.html = ig->html,
			.user_agent = ig->user_agent,
			.max_body = s->http.max_body ? s->http.max_body : ig->cfg.max_body_bytes,
			.timeout_ms = s->http.timeout_ms ? s->http.timeout_ms : ig->cfg.timeout_ms,
		};
		if ((rc = ops->create(s->kstate, &host, &s->stream)) < 0) {
			char msg[96];
			s->stream = NULL;
			snprintf(msg, sizeof msg, "could not start the stream (%s)", strerror(-rc));
			host_failed(s, msg, 0);
			return;
		}
	}
	s->next_ms = NEVER;
	if (ops->connect(s->stream) == -EALREADY)
		return;
	s->polls++;
	s->state_owed = true;
	ig->dirty = true;
}

/* ---- commands from other threads ---- */

static int cmd_push(struct ingest *ig, struct cmd *c)
{
	pthread_mutex_lock(&ig->cmd_mu);
	if (ig->ncmds >= INGEST_COMMANDS_MAX) {
		pthread_mutex_unlock(&ig->cmd_mu);
		if (c->op == CMD_SET)
			source_config_clear(&c->cfg);
		free(c);
		return -EAGAIN;
	}
	/* Numbered under the lock, so numbers and queue order agree. */
	if (c->op != CMD_POLL)
		c->seq = atomic_fetch_add(&ig->bus->sources_cmds, 1) + 1;
	if (ig->cmd_tail)
		ig->cmd_tail->next = c;
	else
		ig->cmd_head = c;
	ig->cmd_tail = c;
	ig->ncmds++;
	pthread_mutex_unlock(&ig->cmd_mu);
	http_client_wakeup(ig->http);
	return 0;
}

static int source_set(struct ingest *ig, const struct source_config *cfg, bool fresh)
{
	struct cmd *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->op = CMD_SET;
	c->id = cfg->id;
	c->fresh = fresh;
	if (source_config_copy(&c->cfg, cfg) < 0) {
		free(c);
		return -ENOMEM;
	}
	return cmd_push(ig, c);
}

int ingest_source_set(struct ingest *ig, const struct source_config *cfg)
{
	return source_set(ig, cfg, false);
}

int ingest_source_reset(struct ingest *ig, const struct source_config *cfg)
{
	return source_set(ig, cfg, true);
}

int ingest_source_remove(struct ingest *ig, int64_t id)
{
	struct cmd *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->op = CMD_REMOVE;
	c->id = id;
	return cmd_push(ig, c);
}

int ingest_poll_now(struct ingest *ig, int64_t id)
{
	struct cmd *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->op = CMD_POLL;
	c->id = id;
	return cmd_push(ig, c);
}

/*
 * The settings of a streamed source changed but not its feed: a stream that
 * queues its own markers stops, and the new one takes up exactly where it
 * stopped (stream_ops.handover) rather than at the cursor last reported,
 * which would count the posts since that report again. The old stream's news
 * still pending is taken first, so the counts carried over are complete.
 */
static void stream_handover(struct src *old, struct src *s)
{
	const struct stream_ops *ops = old->kind ? old->kind->stream : NULL;
	uint8_t seen[INGEST_SEEN_MAX_BYTES];
	size_t len = 0;
	struct strbuf cursor = STRBUF_INIT;

	if (!old->stream || !ops || !ops->handover || s->kind != old->kind)
		return;
	if (ops->handover(old->stream, &cursor, seen, &len) == 0) {
		if (seen_decode(&s->seen, seen, len) < 0)
			log_warn("ingest", "source %lld: the stream's seen ids are damaged",
				 (long long)s->cfg.id);
		set_str(&s->cfg.cursor, cursor.buf);
		/* s->seen is set from these: the caller must not copy old's over them */
		s->seen_taken = true;
	}
	if (ops->service)
		ops->service(old->stream);
	sb_free(&cursor);
}

static void cmd_set(struct ingest *ig, struct cmd *c)
{
	size_t idx;
	struct src *old = src_find(ig, c->id, &idx), *s;

	if (!old && ig->nsrcs >= LIMIT_SOURCES) {
		log_warn("ingest", "source %lld not added: already %d sources", (long long)c->id,
			 LIMIT_SOURCES);
		return;
	}
	if (old && !c->fresh && !c->cfg.cursor[0])
		set_str(&c->cfg.cursor, old->cfg.cursor);
	if (src_new(ig, &c->cfg, &s) < 0) {
		log_warn("ingest", "out of memory applying source %lld", (long long)c->id);
		return;
	}
	if (old && c->fresh) {
		ig->srcs[idx] = s;
		src_retire(ig, old);
		/* A new feed: the next checkpoint must not bring the old cursor back. */
		marker_push(ig, s, true);
	} else if (old) {
		stream_handover(old, s);
		/* The history of a source survives an edit of its settings. */
		s->last_ok_ms = old->last_ok_ms;
		s->polls = old->polls;
		s->posts_seen = old->posts_seen;
		s->items_skipped = old->items_skipped;
		if (!s->seen_taken)
			s->seen = old->seen;
		if (s->state != SRC_ERROR && old->last_error_ms && !s->last_error_ms)
			s->last_error_ms = old->last_error_ms;
		ig->srcs[idx] = s;
		src_retire(ig, old);
	} else if (srcs_append(ig, s) < 0) {
		src_free(s);
		return;
	}
	s->state_owed = true;
}

static void cmd_remove(struct ingest *ig, int64_t id)
{
	size_t idx;
	struct src *s = src_find(ig, id, &idx);

	if (!s)
		return;
	memmove(ig->srcs + idx, ig->srcs + idx + 1, (ig->nsrcs - idx - 1) * sizeof *ig->srcs);
	ig->nsrcs--;
	/* Its posts already queued are covered: analytics need not wait for more. */
	marker_push(ig, s, true);
	src_retire(ig, s);
}

static void commands_run(struct ingest *ig)
{
	struct cmd *list;

	pthread_mutex_lock(&ig->cmd_mu);
	list = ig->cmd_head;
	ig->cmd_head = ig->cmd_tail = NULL;
	ig->ncmds = 0;
	pthread_mutex_unlock(&ig->cmd_mu);

	while (list) {
		struct cmd *c = list;
		struct src *s;
		list = c->next;
		switch (c->op) {
		case CMD_SET:
			cmd_set(ig, c);
			source_config_clear(&c->cfg);
			break;
		case CMD_REMOVE:
			cmd_remove(ig, c->id);
			break;
		case CMD_POLL:
			s = src_find(ig, c->id, NULL);
			if (s && s->kind && s->kstate && s->cfg.enabled && !s->inflight) {
				src_schedule(s, clock_mono_ms(), clock_now_ms(), 0);
				s->pages_in_row = 0;
			}
			break;
		}
		if (c->seq) {
			ig->applied_seq = c->seq;
			/* Someone waits to see it: publish on this turn, not after the pause. */
			ig->published_ms = clock_mono_ms() - INGEST_PUBLISH_MIN_MS;
		}
		free(c);
		ig->dirty = true;
	}
}

static void commands_free(struct ingest *ig)
{
	while (ig->cmd_head) {
		struct cmd *c = ig->cmd_head;
		ig->cmd_head = c->next;
		if (c->op == CMD_SET)
			source_config_clear(&c->cfg);
		free(c);
	}
	ig->cmd_tail = NULL;
	ig->ncmds = 0;
}

/* ---- the thread ---- */

static int next_timeout_ms(struct ingest *ig, int64_t now)
{
	int64_t t = INGEST_TICK_MS;

	if (ig->dirty) {
		t = ig->published_ms + INGEST_PUBLISH_MIN_MS - now;
		if (t > INGEST_TICK_MS)
			t = INGEST_TICK_MS;
	}

	for (size_t i = 0; i < ig->nsrcs; i++) {
		const struct src *s = ig->srcs[i];
		if (s->state_owed && t > 100)
			t = 100;   /* the db queue was full: try again soon */
		if (s->inflight || s->next_ms == NEVER)
			continue;
		if (s->next_ms - now < t)
			t = s->next_ms - now;
	}
	return t < 0 ? 0 : (int)t;
}

static void *ingest_main(void *arg)
{
	struct ingest *ig = arg;

	ig->dirty = true;
	ig->published_ms = clock_mono_ms() - INGEST_PUBLISH_MIN_MS;
	while (!stopping(ig)) {
		int64_t now;

		commands_run(ig);
		now = clock_mono_ms();
		for (size_t i = 0; i < ig->nsrcs && !stopping(ig); i++) {
			struct src *s = ig->srcs[i];
			if (s->streamed)
				stream_turn(ig, s, now);
			else if (!s->inflight && s->next_ms != NEVER && s->next_ms <= now)
				poll_start(ig, s);
		}
		states_flush(ig);
		if (ig->dirty && clock_mono_ms() - ig->published_ms >= INGEST_PUBLISH_MIN_MS)
			sources_publish(ig);
		if (http_client_run(ig->http, next_timeout_ms(ig, clock_mono_ms())) < 0) {
			log_error("ingest", "curl multi failed; retrying");
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void ingest_free(struct ingest *ig)
{
	/* Streams first: they cancel their own transfers and join their threads. */
	for (size_t i = 0; i < ig->nsrcs; i++) {
		struct src *s = ig->srcs[i];
		if (s->stream) {
			s->kind->stream->destroy(s->stream);
			s->stream = NULL;
		}
	}
	/* Transfers go next: their callbacks point at the sources. */
	http_client_free(ig->http);
	for (size_t i = 0; i < ig->nsrcs; i++)
		src_free(ig->srcs[i]);
	free(ig->srcs);
	while (ig->graveyard) {
		struct src *s = ig->graveyard;
		ig->graveyard = s->grave_next;
		src_free(s);
	}
	commands_free(ig);
	pthread_mutex_destroy(&ig->cmd_mu);
	html_text_free(ig->html);
	sb_free(&ig->scratch);
	free(ig->user_agent);
	free(ig);
}

int ingest_start(struct ingest **out, const struct ingest_config *cfg, struct bus *bus,
		 const struct source_config *sources, size_t nsources)
{
	struct ingest *ig;
	int rc;

	if (nsources > LIMIT_SOURCES)
		return -E2BIG;
	ig = calloc(1, sizeof *ig);
	if (!ig)
		return -ENOMEM;
	if (cfg)
		ig->cfg = *cfg;
	ig->bus = bus;
	atomic_init(&ig->stop, false);
	pthread_mutex_init(&ig->cmd_mu, NULL);
	sb_init(&ig->scratch);
	ig->rng = (uint64_t)clock_now_ms() ^ hash_u64((uint64_t)(uintptr_t)ig);
	if (!ig->rng)
		ig->rng = 1;
	ig->user_agent = strdup(ig->cfg.user_agent ? ig->cfg.user_agent : INGEST_USER_AGENT);
	ig->cfg.user_agent = NULL;
	if (!ig->user_agent) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = http_client_new(&ig->http, ig->user_agent)) < 0)
		goto fail;
	if ((rc = html_text_new(&ig->html)) < 0)
		goto fail;
	for (size_t i = 0; i < nsources; i++) {
		struct src *s;
		if ((rc = src_new(ig, &sources[i], &s)) < 0)
			goto fail;
		if ((rc = srcs_append(ig, s)) < 0) {
			src_free(s);
			goto fail;
		}
		for (size_t k = 0; cfg && k < cfg->nrestore; k++) {
			const struct source_cursor *r = &cfg->restore[k];
			if (r->source_id != s->cfg.id || !r->seen_len)
				continue;
			if (seen_decode(&s->seen, r->seen, r->seen_len) < 0)
				log_warn("ingest", "source %lld: stored seen ids are damaged; "
						   "starting without them", (long long)s->cfg.id);
		}
	}
	ig->cfg.restore = NULL;   /* borrowed only during start */
	ig->cfg.nrestore = 0;
	rc = -pthread_create(&ig->thread, NULL, ingest_main, ig);
	if (rc < 0)
		goto fail;
	pthread_setname_np(ig->thread, "ingest");
	log_info("ingest", "started with %zu sources", nsources);
	*out = ig;
	return 0;
fail:
	ingest_free(ig);
	return rc;
}

void ingest_stop(struct ingest *ig)
{
	if (!ig)
		return;
	atomic_store(&ig->stop, true);
	http_client_wakeup(ig->http);
	pthread_join(ig->thread, NULL);
	ingest_free(ig);
}
