/*
 * source_mastodon_stream.c - a streamed `mastodon` source (params.stream, see
 * source_mastodon.h): one long-lived GET of Mastodon's streaming API, read as
 * Server-Sent Events on the ingest thread's curl multi handle, and a REST
 * catch-up through the matching timeline after every gap.
 *
 * Events: `update` carries a status, parsed as the REST timelines are
 * (feed_mastodon.c) and emitted as a post. `status.update` (an edit of a
 * status already counted), `delete` and every other event are counted in
 * status.stream.ignored and otherwise left alone: trendd counts what was
 * said when it was said, and an edit or a deletion does not unsay it for the
 * windows already published. Heartbeat comments only keep the connection
 * alive; the connection fails after idle_timeout_s without a byte.
 *
 * Gaps: the greatest status id seen (stream or REST, ids compared as
 * integers) is the cursor. When a connection that was delivering ends - or at
 * start, when the source has a stored cursor - the next connection, once its
 * first bytes arrive, starts a catch-up: min_id pages of the timeline from
 * the cursor, following rel="prev" links, until a page is not full, the pages
 * reach the first status the new connection delivered, or max_catchup_pages
 * were read (then a warning says the rest of the gap was skipped). Waiting for
 * the new connection first means nothing falls between catch-up and stream;
 * the overlap is removed by the source's dedup of recent ids, so nothing is
 * counted twice. While a catch-up runs, the stored cursor stays where it
 * started, so a crash in the middle repeats it instead of skipping the gap.
 *
 * Everything here runs on the ingest thread. curl does not allow starting a
 * transfer from inside another's callbacks, so work the stream's data asks
 * for (a catch-up) is started from service(), which the ingest loop calls on
 * every turn; the data callback wakes the loop for it.
 */
#include "ingest/source_mastodon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "ingest/feed_mastodon.h"
#include "ingest/http.h"
#include "ingest/sse.h"
#include "ingest/stream.h"

/* Statuses larger than this are not statuses (Mastodon's own are a few KiB). */
#define MSTREAM_EVENT_MAX (512 * 1024)

struct mstream {
	struct stream_host host;                 /* copy; url and cursor point into this struct */
	const struct mastodon_settings *set;     /* borrowed: the source's kind state */
	char *base_url;                          /* owned */
	char auth[MASTODON_TOKEN_MAX + 16];      /* "Bearer <token>" or "" */
	struct sse_parser sse;
	struct strbuf wrap;                      /* "[" + status + "]" for the timeline parser */
	struct strbuf url;

	bool open;                               /* the stream request is out */
	bool live;                               /* its 2xx body started */
	bool healthy_sent;                       /* healthy() reported for this connection */
	int64_t live_ms;                         /* monotonic: when the body started */
	int64_t healthy_ms;                      /* monotonic: the last healthy() report */
	uint64_t dropped_seen;                   /* sse.dropped already counted as skipped */
	char newest[LIMIT_POST_ID_BYTES];        /* greatest status id seen, "" none */
	char first_live[LIMIT_POST_ID_BYTES];    /* first status id on this connection */

	bool catchup_wanted;                     /* a gap to fill once the stream is live */
	bool catching_up;                        /* a catch-up request is out */
	char catch_from[LIMIT_POST_ID_BYTES];    /* the catch-up reads what follows this id */
	int catch_pages;                         /* pages read by this catch-up */
	char *catch_next;                        /* owned: URL of its next page, or NULL */

	char reported[LIMIT_POST_ID_BYTES];      /* cursor last given to the host */
	int64_t reported_ms;

	/* status.stream */
	uint64_t connects, events, updates, ignored, catchup_pages, catchups_failed;
};

static bool id_greater(const char *a, const char *b)
{
	return a[0] && (!b[0] || feed_mastodon_id_cmp(a, b) > 0);
}

/* The position a reconnect may resume from: the catch-up's start while one is owed. */
static const char *resume_cursor(const struct mstream *st)
{
	return st->catchup_wanted || st->catching_up ? st->catch_from : st->newest;
}

static void cursor_report(struct mstream *st, bool now)
{
	const char *c = resume_cursor(st);
	int64_t t = clock_mono_ms();

	if (!strcmp(c, st->reported) || (!now && t - st->reported_ms < STREAM_REPORT_MS))
		return;
	snprintf(st->reported, sizeof st->reported, "%s", c);
	st->reported_ms = t;
	st->host.ops->cursor(st->host.ctx, c);
}

/* Emits the posts of a parsed timeline page or event; keeps the newest id. */
static int doc_take(struct mstream *st, struct feed_doc *doc)
{
	if (doc->cursor && id_greater(doc->cursor, st->newest))
		snprintf(st->newest, sizeof st->newest, "%s", doc->cursor);
	return st->host.ops->emit(st->host.ctx, doc);
}

/* ---- the stream ---- */

static void status_event(struct mstream *st, const struct sse_event *ev)
{
	struct feed_doc doc;
	struct feed_input in = {
		.content_type = "application/json",
		.base_url = st->base_url,
		.source_id = st->host.source_id,
		.html = st->host.html,
	};

	/* One status is a timeline of one: the REST parser reads it as it reads pages. */
	sb_reset(&st->wrap);
	sb_putc(&st->wrap, '[');
	sb_append(&st->wrap, ev->data, ev->len);
	sb_putc(&st->wrap, ']');
	feed_doc_init(&doc);
	in.body = st->wrap.buf;
	in.len = st->wrap.len;
	if (st->wrap.failed || feed_mastodon_parse(&in, &doc) < 0) {
		log_warn("ingest", "source %lld: out of memory reading a stream event",
			 (long long)st->host.source_id);
	} else if (!doc.wellformed || doc.nposts + doc.skipped == 0) {
		st->host.ops->counted(st->host.ctx, 0, 1);
	} else {
		if (doc.cursor && !st->first_live[0])
			snprintf(st->first_live, sizeof st->first_live, "%s", doc.cursor);
		doc_take(st, &doc);
	}
	feed_doc_clear(&doc);
}

static int on_event(void *user, const struct sse_event *ev)
{
	struct mstream *st = user;
	int64_t now = clock_mono_ms();

	st->events++;
	if (!strcmp(ev->type, "update")) {
		st->updates++;
		status_event(st, ev);
	} else {
		st->ignored++;
	}
	if (!st->healthy_sent || now - st->healthy_ms >= STREAM_REPORT_MS) {
		st->healthy_sent = true;
		st->healthy_ms = now;
		st->host.ops->healthy(st->host.ctx);
	}
	return 0;
}

static int on_data(void *user, const char *data, size_t len)
{
	struct mstream *st = user;
	int rc;

	if (!st->live) {
		st->live = true;
		st->live_ms = clock_mono_ms();
		st->connects++;
		st->host.ops->connected(st->host.ctx);
		if (st->catchup_wanted)
			st->host.ops->wake(st->host.ctx);   /* service() starts it */
	}
	rc = sse_parser_feed(&st->sse, data, len, on_event, st);
	if (st->sse.dropped > st->dropped_seen) {
		st->host.ops->counted(st->host.ctx, 0, st->sse.dropped - st->dropped_seen);
		st->dropped_seen = st->sse.dropped;
	}
	cursor_report(st, false);
	return rc < 0 ? 1 : 0;
}

/* How long a 429 or 503 asks to wait: delta-seconds or an HTTP date. */
static int64_t retry_after_ms(const struct http_response *r)
{
	const char *v = http_response_header(r, "Retry-After");
	char *end;
	long long secs;
	time_t t;

	if (!v || !v[0] || (r->status != 429 && r->status != 503))
		return 0;
	secs = strtoll(v, &end, 10);
	if (end != v && *end == 0)
		return secs <= 0 ? 0 : secs > 3600 ? 3600 * 1000LL : secs * 1000;
	if ((t = curl_getdate(v, NULL)) == (time_t)-1)
		return 0;
	int64_t d = (int64_t)t * 1000 - clock_now_ms();
	return d <= 0 ? 0 : d > 3600 * 1000LL ? 3600 * 1000LL : d;
}

/* A failed response in words: "HTTP 401 Unauthorized: <the server's message>". */
static void describe_status(const struct http_response *r, char *msg, size_t cap)
{
	char detail[160] = "";
	const char *text = http_status_text(r->status);

	if (r->body.len && source_kind_mastodon.error_detail)
		source_kind_mastodon.error_detail(r->body.buf, r->body.len, detail, sizeof detail);
	snprintf(msg, cap, "HTTP %ld%s%s%s%s", r->status, text[0] ? " " : "", text,
		 detail[0] ? ": " : "", detail);
}

static void on_stream_done(void *user, struct http_response *r)
{
	struct mstream *st = user;
	bool was_live = st->live;
	char msg[256];

	st->open = false;
	st->live = false;
	if (r->error[0])
		snprintf(msg, sizeof msg, "stream: %s", r->error);
	else if (r->status >= 200 && r->status < 300)
		snprintf(msg, sizeof msg, "stream: the server closed it");
	else
		describe_status(r, msg, sizeof msg);
	if (was_live) {
		/* A connection that held for long worked, however it ended. */
		if (!st->healthy_sent && clock_mono_ms() - st->live_ms >= STREAM_STABLE_MS)
			st->host.ops->healthy(st->host.ctx);
		/* What comes until the next connection is a gap; an owed catch-up covers it too. */
		if (st->newest[0] && !st->catchup_wanted && !st->catching_up) {
			snprintf(st->catch_from, sizeof st->catch_from, "%s", st->newest);
			st->catchup_wanted = true;
		}
	}
	cursor_report(st, true);
	st->host.ops->failed(st->host.ctx, msg, retry_after_ms(r));
}

static int connect_stream(void *p)
{
	struct mstream *st = p;
	struct http_request req = {
		.accept = "text/event-stream",
		.authorization = st->auth[0] ? st->auth : NULL,
		.on_data = on_data,
		.idle_timeout_ms = (long)st->set->idle_timeout_s * 1000,
	};
	char msg[96];
	int rc;

	if (st->open)
		return -EALREADY;
	sb_reset(&st->url);
	if ((rc = mastodon_stream_url(st->set, st->base_url, &st->url)) < 0) {
		st->host.ops->failed(st->host.ctx, "out of memory building the request", 0);
		return 0;
	}
	req.url = st->url.buf;
	sse_parser_reset(&st->sse);
	st->first_live[0] = 0;
	st->healthy_sent = false;
	if ((rc = http_client_get(st->host.http, &req, on_stream_done, st)) < 0) {
		snprintf(msg, sizeof msg, "could not start the request (%s)", strerror(-rc));
		st->host.ops->failed(st->host.ctx, msg, 0);
		return 0;
	}
	st->open = true;
	return 0;
}

/* ---- the REST catch-up ---- */

static void on_catchup_done(void *user, struct http_response *r);

static void catchup_request(struct mstream *st)
{
	struct http_request req = {
		.accept = "application/json",
		.authorization = st->auth[0] ? st->auth : NULL,
		.max_body = st->host.max_body,
		.timeout_ms = st->host.timeout_ms,
	};
	char msg[128];
	int rc = 0;

	sb_reset(&st->url);
	if (st->catch_next)
		sb_puts(&st->url, st->catch_next);
	else
		rc = mastodon_timeline_url(st->set, st->base_url, st->catch_from, &st->url);
	free(st->catch_next);
	st->catch_next = NULL;
	if (rc == 0 && !st->url.failed) {
		req.url = st->url.buf;
		rc = http_client_get(st->host.http, &req, on_catchup_done, st);
	}
	if (rc < 0 || st->url.failed) {
		snprintf(msg, sizeof msg, "catch-up after a gap: could not start the request (%s)",
			 strerror(rc < 0 ? -rc : ENOMEM));
		st->catching_up = false;
		st->catchups_failed++;
		st->host.ops->warn(st->host.ctx, msg);
		return;
	}
	st->catching_up = true;
}

static void catchup_finish(struct mstream *st, const char *warning)
{
	st->catching_up = false;
	free(st->catch_next);
	st->catch_next = NULL;
	if (warning) {
		st->catchups_failed++;
		st->host.ops->warn(st->host.ctx, warning);
	}
	cursor_report(st, true);
}

static void on_catchup_done(void *user, struct http_response *r)
{
	struct mstream *st = user;
	struct feed_doc doc;
	char msg[400];
	bool full;

	if (r->error[0] || r->status < 200 || r->status >= 300) {
		char what[200];
		if (r->error[0])
			snprintf(what, sizeof what, "%s", r->error);
		else
			describe_status(r, what, sizeof what);
		snprintf(msg, sizeof msg, "catch-up after a gap failed (%s); statuses after %.40s "
					  "may be missing", what, st->catch_from);
		catchup_finish(st, msg);
		return;
	}
	struct feed_input in = {
		.body = r->body.buf ? r->body.buf : "",
		.len = r->body.len,
		.content_type = http_response_header(r, "Content-Type"),
		.base_url = st->base_url,
		.cursor = st->catch_from,
		.source_id = st->host.source_id,
		.html = st->host.html,
	};
	feed_doc_init(&doc);
	if (feed_mastodon_parse(&in, &doc) < 0 || !doc.wellformed) {
		snprintf(msg, sizeof msg, "catch-up after a gap failed (%s)",
			 doc.wellformed ? "out of memory" : doc.error);
		feed_doc_clear(&doc);
		catchup_finish(st, msg);
		return;
	}
	st->catch_pages++;
	st->catchup_pages++;
	full = doc.items >= (size_t)st->set->limit;
	if (doc.cursor && id_greater(doc.cursor, st->catch_from))
		snprintf(st->catch_from, sizeof st->catch_from, "%s", doc.cursor);
	else
		full = false;   /* no step forward: paging on would repeat this page */
	if (doc_take(st, &doc) < 0) {
		feed_doc_clear(&doc);
		return;   /* trendd stops */
	}
	feed_doc_clear(&doc);

	/* Caught up when the page was not full, or it reached what the stream delivered. */
	if (!full ||
	    (st->first_live[0] && feed_mastodon_id_cmp(st->catch_from, st->first_live) >= 0)) {
		catchup_finish(st, NULL);
		return;
	}
	if (st->catch_pages >= st->set->max_catchup_pages) {
		snprintf(msg, sizeof msg, "catch-up after a gap stopped after %d pages "
			 "(params.max_catchup_pages); statuses after %.40s were skipped",
			 st->catch_pages, st->catch_from);
		catchup_finish(st, msg);
		return;
	}
	const char *link = http_response_header(r, "Link");
	if (mastodon_prev_link(st->base_url, link, &st->catch_next) < 0) {
		catchup_finish(st, "catch-up after a gap: out of memory");
		return;
	}
	cursor_report(st, false);
	catchup_request(st);   /* from a done callback, outside curl's own: allowed */
}

static void service(void *p)
{
	struct mstream *st = p;

	cursor_report(st, false);   /* one held back by the rate limit goes out now */
	if (st->live && st->catchup_wanted && !st->catching_up) {
		st->catchup_wanted = false;
		st->catch_pages = 0;
		catchup_request(st);
	}
	if (st->live && !st->healthy_sent && clock_mono_ms() - st->live_ms >= STREAM_STABLE_MS) {
		st->healthy_sent = true;
		st->healthy_ms = clock_mono_ms();
		st->host.ops->healthy(st->host.ctx);
	}
}

/* ---- life cycle ---- */

static int create(const void *kstate, const struct stream_host *host, void **out)
{
	const struct mastodon_settings *set = kstate;
	struct mstream *st = calloc(1, sizeof *st);

	if (!st)
		return -ENOMEM;
	st->host = *host;
	st->host.url = st->host.cursor = NULL;   /* copied below; the originals may change */
	st->set = set;
	if (!(st->base_url = strdup(host->url))) {
		free(st);
		return -ENOMEM;
	}
	if (set->token[0])
		snprintf(st->auth, sizeof st->auth, "Bearer %s", set->token);
	sse_parser_init(&st->sse, MSTREAM_EVENT_MAX + 64, MSTREAM_EVENT_MAX);
	sb_init(&st->wrap);
	sb_init(&st->url);
	/* A stored cursor: what came while trendd was not running is a gap too. */
	if (host->cursor && host->cursor[0] && strlen(host->cursor) < sizeof st->newest) {
		snprintf(st->newest, sizeof st->newest, "%s", host->cursor);
		snprintf(st->catch_from, sizeof st->catch_from, "%s", host->cursor);
		snprintf(st->reported, sizeof st->reported, "%s", host->cursor);
		st->catchup_wanted = true;
	}
	*out = st;
	return 0;
}

static void destroy(void *p)
{
	struct mstream *st = p;

	if (!st)
		return;
	http_client_cancel(st->host.http, st);
	sse_parser_free(&st->sse);
	sb_free(&st->wrap);
	sb_free(&st->url);
	free(st->catch_next);
	free(st->base_url);
	free(st);
}

static void status_json(const void *p, struct strbuf *sb)
{
	const struct mstream *st = p;

	sb_puts(sb, "{\"connected\":");
	sb_puts(sb, st->live ? "true" : "false");
	sb_puts(sb, ",\"connects\":");
	sb_put_u64(sb, st->connects);
	sb_puts(sb, ",\"events\":");
	sb_put_u64(sb, st->events);
	sb_puts(sb, ",\"updates\":");
	sb_put_u64(sb, st->updates);
	sb_puts(sb, ",\"ignored\":");
	sb_put_u64(sb, st->ignored);
	sb_puts(sb, ",\"dropped\":");
	sb_put_u64(sb, st->sse.dropped);
	sb_puts(sb, ",\"heartbeats\":");
	sb_put_u64(sb, st->sse.comments);
	sb_puts(sb, ",\"catching_up\":");
	sb_puts(sb, st->catching_up || st->catchup_wanted ? "true" : "false");
	sb_puts(sb, ",\"catchup_pages\":");
	sb_put_u64(sb, st->catchup_pages);
	sb_puts(sb, ",\"catchups_failed\":");
	sb_put_u64(sb, st->catchups_failed);
	sb_putc(sb, '}');
}

const struct stream_ops mastodon_stream_ops = {
	.create = create,
	.destroy = destroy,
	.connect = connect_stream,
	.service = service,
	.status_json = status_json,
};
