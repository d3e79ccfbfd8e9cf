/*
 * Unit tests for ingest/ingest.c (with http.c, source_mastodon.c and the
 * parsers): the real ingest thread polls a small HTTP server running in the
 * test on 127.0.0.1, which replays captured Mastodon responses
 * (tests/fixtures/mastodon) or answers what each test needs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/http.h"
#include "ingest/ingest.h"
#include "ingest/source_mastodon.h"
#include "tests/unit/fixture_http.h"
#include "tests/unit/testutil.h"

/* ---- a tiny HTTP/1.1 server: one request per connection ---- */

#define MAX_REQS 512

struct req_log {
	char target[1024];
	char headers[4096];
	int64_t at_ms;   /* monotonic */
};

struct server;
/* Writes a complete raw response into reply, or sets *hang to never answer. */
typedef void (*handler_fn)(struct server *srv, int idx, const char *target, const char *headers,
			   struct strbuf *reply, bool *hang);

struct server {
	struct fx_listener lis;
	uint16_t port;
	handler_fn handler;
	void *ctx;
	pthread_mutex_t mu;
	struct req_log reqs[MAX_REQS];
	int nreqs;
	int hung[64];
	int nhung;
};

static void serve_one(void *arg, int c)
{
	struct server *s = arg;
	char buf[16384], *target, *headers;

	if (fx_read_request(c, buf, sizeof buf, &target, &headers) < 0) {
		close(c);
		return;
	}
	int idx;
	pthread_mutex_lock(&s->mu);
	idx = s->nreqs;
	if (s->nreqs < MAX_REQS) {
		struct req_log *l = &s->reqs[s->nreqs++];
		snprintf(l->target, sizeof l->target, "%s", target);
		snprintf(l->headers, sizeof l->headers, "%s", headers);
		l->at_ms = clock_mono_ms();
	}
	pthread_mutex_unlock(&s->mu);

	struct strbuf reply = STRBUF_INIT;
	bool hang = false;
	s->handler(s, idx, target, headers, &reply, &hang);
	if (hang && s->nhung < 64) {
		s->hung[s->nhung++] = c;
		sb_free(&reply);
		return;
	}
	fx_reply_close(c, &reply);
}

static void server_start(struct server *s, handler_fn h, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->handler = h;
	s->ctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	fx_listener_start(&s->lis, 64, &s->port, serve_one, s);
}

static void server_stop(struct server *s)
{
	fx_listener_stop(&s->lis);
	for (int i = 0; i < s->nhung; i++)
		close(s->hung[i]);
}

static int server_nreqs(struct server *s)
{
	return fx_locked_int(&s->mu, &s->nreqs);
}

static struct req_log server_req(struct server *s, int i)
{
	pthread_mutex_lock(&s->mu);
	ck_assert_int_lt(i, s->nreqs);
	struct req_log l = s->reqs[i];
	pthread_mutex_unlock(&s->mu);
	return l;
}

static bool wait_reqs(struct server *s, int n, int timeout_ms)
{
	return fx_wait_locked_int(&s->mu, &s->nreqs, n, timeout_ms);
}

/* ---- replies ---- */

static void reply_make(struct strbuf *r, int status, const char *reason, const char *extra,
		       const char *body, size_t len)
{
	sb_printf(r,
		  "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
		  "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
		  status, reason, len, extra ? extra : "");
	sb_append(r, body, len);
}

/* Replays a capture, closing the connection after it. */
static void reply_capture(struct strbuf *r, const char *name)
{
	char rel[256], *raw;
	size_t n;
	snprintf(rel, sizeof rel, "mastodon/%s", name);
	raw = tu_read_fixture(rel, &n);
	const char *eol = strstr(raw, "\r\n");
	ck_assert_ptr_nonnull(eol);
	sb_append(r, raw, (size_t)(eol + 2 - raw));
	sb_puts(r, "Connection: close\r\n");
	sb_append(r, eol + 2, n - (size_t)(eol + 2 - raw));
	free(raw);
}

static void reply_empty(struct strbuf *r) { reply_make(r, 200, "OK", NULL, "[]", 2); }

/* One synthetic status per request, so a source keeps producing. */
static void reply_one_status(struct strbuf *r, int n)
{
	char body[512];
	int len = snprintf(body, sizeof body,
			   "[{\"id\":\"%d\",\"created_at\":\"2026-08-01T13:55:50.338Z\","
			   "\"content\":\"<p>post %d</p>\",\"url\":\"http://x/%d\",\"language\":\"en\","
			   "\"account\":{\"url\":\"http://x/@a\"}}]",
			   1000 + n, n, n);
	reply_make(r, 200, "OK", NULL, body, (size_t)len);
}

/* ---- ingest harness ---- */

struct harness {
	struct bus bus;
	struct server srv;
	struct ingest *ig;
	char url[64];
};

static void h_start_server(struct harness *h, handler_fn fn, void *ctx)
{
	ck_assert_int_eq(bus_init(&h->bus), 0);
	server_start(&h->srv, fn, ctx);
	snprintf(h->url, sizeof h->url, "http://127.0.0.1:%u", h->srv.port);
}

static struct source_config src_cfg(int64_t id, const char *kind, const char *url,
				    const char *params, const char *cursor)
{
	struct source_config c = { .id = id, .enabled = true, .interval_s = 60 };
	snprintf(c.kind, sizeof c.kind, "%s", kind);
	c.name = (char *)(id == 1 ? "one" : id == 2 ? "two" : id == 3 ? "three" : "more");
	c.url = (char *)url;
	c.params_json = (char *)params;
	c.cursor = (char *)(cursor ? cursor : "");
	return c;
}

static void h_start_ingest(struct harness *h, const struct ingest_config *cfg,
			   const struct source_config *srcs, size_t n)
{
	ck_assert_int_eq(ingest_start(&h->ig, cfg, &h->bus, srcs, n), 0);
}

static void h_stop(struct harness *h)
{
	if (h->ig)
		ingest_stop(h->ig);
	server_stop(&h->srv);
	bus_destroy(&h->bus);
}

/* The current sources JSON, parsed (caller decrefs), or NULL. */
static json_t *sources_now(struct bus *b)
{
	struct ref *r = publish_get(&b->sources);
	if (!r)
		return NULL;
	const struct blob *bl = (const struct blob *)r;
	json_error_t err;
	json_t *v = json_loadb(bl->data, bl->len, 0, &err);
	ck_assert_msg(v != NULL, "sources JSON does not parse: %s", err.text);
	ck_assert(json_is_array(v));
	ref_put(r);
	return v;
}

/* A copy of the source's element with that id (caller decrefs), or NULL. */
static json_t *source_json(struct bus *b, int64_t id)
{
	json_t *all = sources_now(b), *found = NULL, *el;
	size_t i;
	json_array_foreach(all, i, el) {
		if (json_integer_value(json_object_get(el, "id")) == id)
			found = json_deep_copy(el);
	}
	json_decref(all);
	return found;
}

static const char *status_str(json_t *src, const char *key)
{
	return json_string_value(json_object_get(json_object_get(src, "status"), key));
}

static json_int_t status_int(json_t *src, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(src, "status"), key));
}

/* Waits until the source's status field key equals want. */
static bool wait_status(struct bus *b, int64_t id, const char *key, const char *want,
			int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	for (;;) {
		json_t *s = source_json(b, id);
		const char *v = status_str(s, key);
		bool ok = v && !strcmp(v, want);
		json_decref(s);
		if (ok)
			return true;
		if (clock_mono_ms() > end)
			return false;
		fx_sleep_ms(5);
	}
}

static const char *header_value(const char *headers, const char *name, char *buf, size_t cap)
{
	const char *p = headers;
	size_t nl = strlen(name);
	while (p && *p) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t n = strcspn(v, "\r\n");
			snprintf(buf, cap, "%.*s", (int)n, v);
			return buf;
		}
		p = strstr(p, "\r\n");
		if (p)
			p += 2;
	}
	return NULL;
}

/* ---- tests ---- */

static void handler_public_then_empty(struct server *s, int idx, const char *target,
				      const char *headers, struct strbuf *r, bool *hang)
{
	char v[128];
	if (idx == 0)
		reply_capture(r, "timeline_public.http");
	else if (header_value(headers, "If-None-Match", v, sizeof v))
		reply_make(r, 304, "Not Modified", "ETag: W/\"e1\"\r\n", "", 0);
	else
		reply_make(r, 200, "OK", "ETag: W/\"e1\"\r\n", "[]", 2);
}

START_TEST(test_ingest_delivers_posts_and_advances_cursor)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 100 };
	struct post *p[16];

	h_start_server(&h, handler_public_then_empty, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url,
					  "{\"timeline\": \"public\", \"limit\": 40}", NULL);
	h_start_ingest(&h, &cfg, &sc, 1);

	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 5000), 8);
	/* Oldest first, every field from the status. */
	ck_assert_str_eq(p[0]->id, "117020574694606796");
	ck_assert_str_eq(p[7]->id, "117020593378945190");
	ck_assert_str_eq(p[3]->id, "117020588169351887");
	ck_assert_str_eq(p[3]->text, "@mastodonpy_test beep beep I'm a jeep");
	ck_assert_str_eq(p[3]->author, "http://localhost:3000/@admin");
	ck_assert_str_eq(p[3]->url, "http://localhost:3000/@admin/117020588169351887");
	ck_assert_str_eq(p[3]->lang, "en");
	ck_assert_int_eq(p[3]->created_at_ms, 1785592470847LL);
	ck_assert_int_eq(p[3]->source_id, 1);
	ck_assert_str_eq(p[7]->lang, "ja");
	fx_free_posts(p, 8);

	ck_assert(wait_reqs(&h.srv, 3, 5000));
	struct req_log r0 = server_req(&h.srv, 0), r1 = server_req(&h.srv, 1),
		       r2 = server_req(&h.srv, 2);
	char v[256];
	ck_assert_str_eq(r0.target, "/api/v1/timelines/public?limit=40");
	ck_assert_str_eq(r1.target, "/api/v1/timelines/public?limit=40&min_id=117020593378945190");
	ck_assert_ptr_nonnull(header_value(r0.headers, "User-Agent", v, sizeof v));
	ck_assert_msg(!strncmp(v, "trendd/", 7) && strstr(v, "(+https://github.com/trendd)"),
		      "%s", v);
	ck_assert_ptr_nonnull(header_value(r0.headers, "Accept-Encoding", v, sizeof v));
	ck_assert_ptr_nonnull(strstr(v, "gzip"));
	ck_assert_ptr_nonnull(strstr(v, "deflate"));
	/* The same URL again: a conditional GET with the ETag it got. */
	ck_assert_str_eq(r2.target, r1.target);
	ck_assert_ptr_null(header_value(r1.headers, "If-None-Match", v, sizeof v));
	ck_assert_ptr_nonnull(header_value(r2.headers, "If-None-Match", v, sizeof v));
	ck_assert_str_eq(v, "W/\"e1\"");

	/* Nothing is emitted twice. */
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 1, 300), 0);

	json_t *s = source_json(&h.bus, 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(json_string_value(json_object_get(s, "kind")), "mastodon");
	ck_assert_str_eq(json_string_value(json_object_get(s, "name")), "one");
	ck_assert_str_eq(json_string_value(json_object_get(s, "url")), h.url);
	ck_assert(json_is_true(json_object_get(s, "enabled")));
	ck_assert_int_eq(json_integer_value(json_object_get(s, "interval_s")), 60);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "params"), "timeline")),
			 "public");
	ck_assert_str_eq(status_str(s, "state"), "ok");
	ck_assert_str_eq(status_str(s, "cursor"), "117020593378945190");
	ck_assert_int_eq(status_int(s, "posts_seen"), 8);
	ck_assert_int_eq(status_int(s, "items_skipped"), 0);
	ck_assert_int_eq(status_int(s, "consecutive_errors"), 0);
	ck_assert_int_ge(status_int(s, "polls"), 3);
	ck_assert(json_is_null(json_object_get(json_object_get(s, "status"), "last_error")));
	int64_t t;
	const char *last_ok = status_str(s, "last_ok");
	ck_assert_int_eq(clock_parse_rfc3339(last_ok, strlen(last_ok), &t), 0);
	ck_assert_int_lt(llabs(t - clock_now_ms()), 60000);
	ck_assert_ptr_nonnull(status_str(s, "next_poll"));
	json_decref(s);

	/* The db thread hears of the new cursor. */
	void *msgs[64];
	size_t nm = queue_pop_batch(&h.bus.db, msgs, 64, 1000);
	ck_assert_uint_gt(nm, 0);
	bool found = false;
	for (size_t i = 0; i < nm; i++) {
		struct dbmsg *m = msgs[i];
		ck_assert_int_eq(m->kind, DBMSG_SOURCE_STATE);
		ck_assert_int_eq(m->u.source.source_id, 1);
		if (!strcmp(m->u.source.cursor, "117020593378945190") &&
		    m->u.source.posts_seen == 8 && m->u.source.last_ok_ms > 0 &&
		    !m->u.source.last_error[0])
			found = true;
		dbmsg_free(m);
	}
	ck_assert(found);
	h_stop(&h);
}
END_TEST

#define TAG "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"

static void handler_tag_pages(struct server *s, int idx, const char *target, const char *headers,
			      struct strbuf *r, bool *hang)
{
	if (strstr(target, "min_id=117020582018205170"))
		reply_capture(r, "timeline_tag_page3.http");
	else if (strstr(target, "min_id=117020582089808070"))
		reply_capture(r, "timeline_tag_page1.http");
	else if (strstr(target, "min_id=117020582251615632"))
		reply_capture(r, "timeline_tag_page4_empty.http");
	else
		reply_make(r, 404, "Not Found", NULL, "{\"error\":\"Record not found\"}", 28);
}

START_TEST(test_ingest_catches_up_full_pages_at_once)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 5000 };
	struct post *p[32];

	h_start_server(&h, handler_tag_pages, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url,
					  "{\"timeline\":\"tag\",\"tag\":\"#" TAG "\",\"limit\":10}",
					  "117020582018205170");
	int64_t t0 = clock_mono_ms();
	h_start_ingest(&h, &cfg, &sc, 1);

	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 20, 5000), 20);
	ck_assert_str_eq(p[0]->id, "117020582018205171");
	ck_assert_str_eq(p[0]->text, "Toot number 0! #" TAG);
	ck_assert_str_eq(p[9]->id, "117020582089808070");
	ck_assert_str_eq(p[10]->id, "117020582177108552");
	ck_assert_str_eq(p[19]->id, "117020582251615632");
	ck_assert_str_eq(p[19]->text, "Toot number 29! #" TAG);
	fx_free_posts(p, 20);

	/* Two full pages, so three requests back to back, well before the 5 s interval. */
	ck_assert(wait_reqs(&h.srv, 3, 3000));
	ck_assert_str_eq(server_req(&h.srv, 0).target,
			 "/api/v1/timelines/tag/" TAG "?limit=10&min_id=117020582018205170");
	ck_assert_str_eq(server_req(&h.srv, 1).target,
			 "/api/v1/timelines/tag/" TAG "?limit=10&min_id=117020582089808070");
	ck_assert_str_eq(server_req(&h.srv, 2).target,
			 "/api/v1/timelines/tag/" TAG "?limit=10&min_id=117020582251615632");
	ck_assert_int_lt(server_req(&h.srv, 2).at_ms - t0, 2500);
	/* The empty page ends the round: the next poll waits for the interval. */
	fx_sleep_ms(500);
	ck_assert_int_eq(server_nreqs(&h.srv), 3);
	json_t *s = source_json(&h.bus, 1);
	ck_assert_str_eq(status_str(s, "cursor"), "117020582251615632");
	ck_assert_int_eq(status_int(s, "posts_seen"), 20);
	json_decref(s);
	h_stop(&h);
}
END_TEST

static void handler_counting(struct server *s, int idx, const char *target, const char *headers,
			     struct strbuf *r, bool *hang)
{
	reply_one_status(r, idx);
}

START_TEST(test_ingest_backs_off_unreachable_source_while_good_one_flows)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 100, .no_jitter = true };
	char bad_url[64];
	struct post *p[64];

	h_start_server(&h, handler_counting, NULL);
	snprintf(bad_url, sizeof bad_url, "http://127.0.0.1:%u", fx_closed_port());
	struct source_config sc[2] = { src_cfg(1, "mastodon", bad_url, "", NULL),
				       src_cfg(2, "mastodon", h.url, "", NULL) };
	int64_t t0 = clock_mono_ms();
	h_start_ingest(&h, &cfg, sc, 2);

	/* Watch the failures of the bad source: each retry waits twice as long. */
	int64_t err_at[16];
	int nerr = 0, last = 0;
	while (clock_mono_ms() - t0 < 2000 && nerr < 16) {
		json_t *s = source_json(&h.bus, 1);
		int ce = (int)status_int(s, "consecutive_errors");
		if (ce > last) {
			ck_assert_str_eq(status_str(s, "state"), "backoff");
			ck_assert_str_eq(status_str(s, "last_error"), "connection refused");
			/* The published schedule: the n-th failure waits interval * 2^n. */
			const char *at = status_str(s, "last_error_at"), *next = status_str(s, "next_poll");
			int64_t at_ms, next_ms;
			ck_assert_int_eq(clock_parse_rfc3339(at, strlen(at), &at_ms), 0);
			ck_assert_int_eq(clock_parse_rfc3339(next, strlen(next), &next_ms), 0);
			ck_assert_msg(llabs(next_ms - at_ms - (100LL << ce)) <= 20,
				      "failure %d: next poll %lld ms later", ce,
				      (long long)(next_ms - at_ms));
			err_at[nerr++] = clock_mono_ms();
			last = ce;
		}
		json_decref(s);
		fx_sleep_ms(5);
	}
	/* Failures at about 0, 200, 600, 1400 ms: four in two seconds, not twenty. */
	ck_assert_msg(nerr >= 3 && nerr <= 5, "%d failures", nerr);
	/* 200 then 400 ms, seen through publications that may lag by up to 50 ms. */
	int64_t g1 = err_at[1] - err_at[0], g2 = err_at[2] - err_at[1];
	ck_assert_msg(g1 >= 130 && g1 < 330, "first retry after %lld ms", (long long)g1);
	ck_assert_msg(g2 >= 330 && g2 < 600, "second retry after %lld ms", (long long)g2);
	ck_assert_int_gt(g2, g1 + 100);

	/* Meanwhile the good source kept polling and delivering. */
	size_t n = fx_take_posts(&h.bus, p, 64, 200);
	ck_assert_uint_ge(n, 8);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(p[i]->source_id, 2);
	fx_free_posts(p, n);
	json_t *good = source_json(&h.bus, 2);
	ck_assert_str_eq(status_str(good, "state"), "ok");
	ck_assert_int_eq(status_int(good, "consecutive_errors"), 0);
	json_decref(good);
	h_stop(&h);
}
END_TEST

static void handler_errors_then_ok(struct server *s, int idx, const char *target,
				   const char *headers, struct strbuf *r, bool *hang)
{
	if (idx == 0)
		reply_capture(r, "error_401_home_unauthenticated.http");
	else if (idx == 1)
		reply_make(r, 500, "Internal Server Error", NULL, "oops", 4);
	else if (idx == 2)
		reply_capture(r, "timeline_public.http");
	else
		reply_empty(r);
}

START_TEST(test_ingest_http_errors_back_off_then_recover)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 50, .no_jitter = true };
	struct post *p[8];

	h_start_server(&h, handler_errors_then_ok, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);

	/* The server's own explanation is kept with the status. */
	ck_assert(wait_status(&h.bus, 1, "last_error",
			      "HTTP 401 Unauthorized: The access token is invalid", 3000));
	ck_assert(wait_status(&h.bus, 1, "last_error", "HTTP 500 Internal Server Error", 3000));
	json_t *s = source_json(&h.bus, 1);
	ck_assert_str_eq(status_str(s, "state"), "backoff");
	ck_assert_int_eq(status_int(s, "consecutive_errors"), 2);
	json_decref(s);

	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 3000), 8);
	fx_free_posts(p, 8);
	ck_assert(wait_status(&h.bus, 1, "state", "ok", 3000));
	s = source_json(&h.bus, 1);
	ck_assert_int_eq(status_int(s, "consecutive_errors"), 0);
	ck_assert(json_is_null(json_object_get(json_object_get(s, "status"), "last_error")));
	ck_assert_ptr_nonnull(status_str(s, "last_error_at"));
	ck_assert_str_eq(status_str(s, "cursor"), "117020593378945190");
	json_decref(s);
	h_stop(&h);
}
END_TEST

static void handler_429(struct server *s, int idx, const char *target, const char *headers,
			struct strbuf *r, bool *hang)
{
	if (idx == 0)
		reply_make(r, 429, "Too Many Requests", "Retry-After: 1\r\n",
			   "{\"error\":\"Too many requests\"}", 29);
	else
		reply_empty(r);
}

START_TEST(test_ingest_honours_retry_after_on_429)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 50, .no_jitter = true };

	h_start_server(&h, handler_429, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);
	ck_assert(wait_status(&h.bus, 1, "last_error",
			      "HTTP 429 Too Many Requests: Too many requests", 3000));
	ck_assert(wait_reqs(&h.srv, 2, 4000));
	int64_t gap = server_req(&h.srv, 1).at_ms - server_req(&h.srv, 0).at_ms;
	/* The backoff alone would retry after 100 ms. */
	ck_assert_msg(gap >= 950 && gap < 2500, "retried after %lld ms", (long long)gap);
	ck_assert(wait_status(&h.bus, 1, "state", "ok", 2000));
	h_stop(&h);
}
END_TEST

static void handler_ratelimited(struct server *s, int idx, const char *target,
				const char *headers, struct strbuf *r, bool *hang)
{
	char extra[256], when[40];
	if (idx == 0) {
		/* Mastodon's form: an ISO 8601 time with fractional seconds. */
		int64_t reset = clock_now_ms() + 1500;
		clock_format_rfc3339_ms(reset, when, sizeof when);
		snprintf(extra, sizeof extra,
			 "X-RateLimit-Limit: 300\r\nX-RateLimit-Remaining: 0\r\n"
			 "X-RateLimit-Reset: %.23s497Z\r\n",
			 when);
		reply_make(r, 200, "OK", extra, "[]", 2);
	} else {
		reply_make(r, 200, "OK", "X-RateLimit-Remaining: 299\r\n", "[]", 2);
	}
}

START_TEST(test_ingest_waits_for_rate_limit_reset)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 50 };

	h_start_server(&h, handler_ratelimited, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);
	ck_assert(wait_reqs(&h.srv, 3, 5000));
	int64_t gap1 = server_req(&h.srv, 1).at_ms - server_req(&h.srv, 0).at_ms;
	int64_t gap2 = server_req(&h.srv, 2).at_ms - server_req(&h.srv, 1).at_ms;
	ck_assert_msg(gap1 >= 1000 && gap1 < 3000, "waited %lld ms", (long long)gap1);
	/* With requests to spare it is back to the interval. */
	ck_assert_msg(gap2 < 500, "then waited %lld ms", (long long)gap2);
	json_t *s = source_json(&h.bus, 1);
	ck_assert_str_eq(status_str(s, "state"), "ok");
	json_decref(s);
	h_stop(&h);
}
END_TEST

static struct strbuf g_deflated_timeline, g_deflate_bomb;

static void deflate_into(struct strbuf *out, const char *data, size_t len)
{
	uLongf n = compressBound(len);
	sb_init(out);
	ck_assert(sb_reserve(out, n));
	ck_assert_int_eq(compress2((Bytef *)out->buf, &n, (const Bytef *)data, len, 9), Z_OK);
	out->len = n;
}

static void handler_sizes(struct server *s, int idx, const char *target, const char *headers,
			  struct strbuf *r, bool *hang)
{
	if (strstr(target, "/tag/big")) {
		/* A plain body over the cap. */
		size_t n = 100 * 1024;
		char *body = malloc(n);
		memset(body, ' ', n);
		body[0] = '[';
		body[n - 1] = ']';
		reply_make(r, 200, "OK", NULL, body, n);
		free(body);
	} else if (strstr(target, "/tag/bomb")) {
		/* 2 KiB on the wire, 4 MiB once inflated. */
		reply_make(r, 200, "OK", "Content-Encoding: deflate\r\n", g_deflate_bomb.buf,
			   g_deflate_bomb.len);
	} else if (strstr(target, "min_id")) {
		reply_empty(r);
	} else {
		reply_make(r, 200, "OK", "Content-Encoding: deflate\r\n", g_deflated_timeline.buf,
			   g_deflated_timeline.len);
	}
}

START_TEST(test_ingest_caps_body_size_after_decompression)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 100, .max_body_bytes = 64 * 1024 };
	struct post *p[8];
	char *raw;
	size_t n, blen;

	raw = tu_read_fixture("mastodon/timeline_public.http", &n);
	const char *body = tu_http_body(raw, n, &blen);
	deflate_into(&g_deflated_timeline, body, blen);
	free(raw);
	char *zeros = malloc(4 << 20);
	memset(zeros, ' ', 4 << 20);
	zeros[0] = '[';
	zeros[(4 << 20) - 1] = ']';
	deflate_into(&g_deflate_bomb, zeros, 4 << 20);
	free(zeros);
	ck_assert_uint_lt(g_deflate_bomb.len, 64 * 1024);

	h_start_server(&h, handler_sizes, NULL);
	struct source_config sc[3] = { src_cfg(1, "mastodon", h.url, NULL, NULL),
				       src_cfg(2, "mastodon", h.url,
					       "{\"timeline\":\"tag\",\"tag\":\"big\"}", NULL),
				       src_cfg(3, "mastodon", h.url,
					       "{\"timeline\":\"tag\",\"tag\":\"bomb\"}", NULL) };
	h_start_ingest(&h, &cfg, sc, 3);

	/* A compressed body within the cap is inflated and used. */
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 5000), 8);
	ck_assert_str_eq(p[7]->id, "117020593378945190");
	fx_free_posts(p, 8);
	ck_assert(wait_status(&h.bus, 2, "last_error", "body larger than 64 KiB", 5000));
	ck_assert(wait_status(&h.bus, 3, "last_error", "body larger than 64 KiB", 5000));
	json_t *s = source_json(&h.bus, 3);
	ck_assert_str_eq(status_str(s, "state"), "backoff");
	json_decref(s);
	h_stop(&h);
	sb_free(&g_deflated_timeline);
	sb_free(&g_deflate_bomb);
}
END_TEST

static char *g_mixed_page;

static void handler_bad_bodies(struct server *s, int idx, const char *target,
			       const char *headers, struct strbuf *r, bool *hang)
{
	if (strstr(target, "/tag/mixed"))
		reply_make(r, 200, "OK", NULL, strstr(target, "min_id") ? "[]" : g_mixed_page,
			   strstr(target, "min_id") ? 2 : strlen(g_mixed_page));
	else if (strstr(target, "/tag/gone"))
		reply_make(r, 200, "OK", NULL, "{\"error\":\"Record not found\"}", 28);
	else
		reply_make(r, 200, "OK", "Content-Type: text/html\r\n", "<html>hi</html>", 15);
}

START_TEST(test_ingest_reports_bad_bodies_and_bad_sources)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 100 };

	/* The captured page with two statuses broken in different ways. */
	char *raw;
	size_t n, blen;
	raw = tu_read_fixture("mastodon/timeline_public.http", &n);
	const char *body = tu_http_body(raw, n, &blen);
	json_t *page = json_loadb(body, blen, 0, NULL);
	free(raw);
	json_object_del(json_array_get(page, 1), "created_at");
	json_object_set_new(json_array_get(page, 3), "id", json_pack("{s:b}", "nested", 1));
	g_mixed_page = json_dumps(page, JSON_COMPACT);
	json_decref(page);

	h_start_server(&h, handler_bad_bodies, NULL);
	struct source_config sc[6] = {
		src_cfg(1, "mastodon", h.url, "{\"timeline\":\"tag\",\"tag\":\"gone\"}", NULL),
		src_cfg(2, "gopher", h.url, NULL, NULL),
		src_cfg(3, "mastodon", h.url, NULL, NULL),
		src_cfg(4, "mastodon", h.url, "{\"timeline\":\"home\"}", NULL),
		src_cfg(5, "mastodon", h.url, NULL, NULL),
		src_cfg(6, "mastodon", h.url, "{\"timeline\":\"tag\",\"tag\":\"mixed\"}", NULL),
	};
	sc[2].enabled = false;
	h_start_ingest(&h, &cfg, sc, 6);

	/* Malformed statuses are skipped and counted; the rest of the page is used. */
	ck_assert(wait_status(&h.bus, 6, "cursor", "117020593378945190", 3000));
	json_t *mixed = source_json(&h.bus, 6);
	ck_assert_str_eq(status_str(mixed, "state"), "ok");
	ck_assert_int_eq(status_int(mixed, "items_skipped"), 2);
	ck_assert_int_eq(status_int(mixed, "posts_seen"), 6);
	json_decref(mixed);

	ck_assert(wait_status(&h.bus, 1, "last_error", "Mastodon error: Record not found", 3000));
	ck_assert(wait_status(&h.bus, 5, "state", "backoff", 3000));
	json_t *s = source_json(&h.bus, 5);
	ck_assert_msg(!strncmp(status_str(s, "last_error"), "not a Mastodon timeline: invalid JSON",
			       37),
		      "%s", status_str(s, "last_error"));
	json_decref(s);

	s = source_json(&h.bus, 2);
	ck_assert_str_eq(status_str(s, "state"), "error");
	ck_assert_str_eq(status_str(s, "last_error"), "unsupported source kind 'gopher'");
	ck_assert_int_eq(status_int(s, "polls"), 0);
	ck_assert(json_is_null(json_object_get(json_object_get(s, "status"), "next_poll")));
	json_decref(s);

	s = source_json(&h.bus, 3);
	ck_assert_str_eq(status_str(s, "state"), "disabled");
	ck_assert(json_is_false(json_object_get(s, "enabled")));
	ck_assert_int_eq(status_int(s, "polls"), 0);
	json_decref(s);

	s = source_json(&h.bus, 4);
	ck_assert_str_eq(status_str(s, "state"), "error");
	ck_assert_str_eq(status_str(s, "last_error"),
			 "bad settings: params.timeline must be \"public\", \"local\" or \"tag\"");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "params"),
							   "timeline")),
			 "home");
	json_decref(s);

	/* Only the two pollable sources ever reached the server. */
	for (int i = 0; i < server_nreqs(&h.srv); i++) {
		const char *t = server_req(&h.srv, i).target;
		ck_assert_msg(!strncmp(t, "/api/v1/timelines/tag/gone?", 27) ||
				      !strncmp(t, "/api/v1/timelines/tag/mixed?", 28) ||
				      !strncmp(t, "/api/v1/timelines/public?", 25),
			      "%s", t);
	}
	void *items[16];
	while ((n = queue_pop_batch(&h.bus.posts, items, 16, 0)) > 0)
		fx_free_posts((struct post **)items, n);
	h_stop(&h);
	free(g_mixed_page);
}
END_TEST

static void handler_hang(struct server *s, int idx, const char *target, const char *headers,
			 struct strbuf *r, bool *hang)
{
	*hang = true;
}

START_TEST(test_ingest_stop_returns_promptly_with_request_in_flight)
{
	struct harness h;
	struct ingest_config cfg = { 0 };

	h_start_server(&h, handler_hang, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);
	ck_assert(wait_reqs(&h.srv, 1, 3000));
	fx_sleep_ms(100);
	int64_t t0 = clock_mono_ms();
	ingest_stop(h.ig);
	h.ig = NULL;
	ck_assert_int_lt(clock_mono_ms() - t0, 500);
	h_stop(&h);
}
END_TEST

START_TEST(test_ingest_full_queue_pauses_without_dropping)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 50 };
	struct post *p[16];

	h_start_server(&h, handler_public_then_empty, NULL);
	/* A post queue of three: the ingest thread must wait for room. */
	queue_destroy(&h.bus.posts);
	ck_assert_int_eq(queue_init(&h.bus.posts, 3), 0);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);

	fx_sleep_ms(300);
	ck_assert_uint_eq(queue_depth(&h.bus.posts), 3);
	size_t n = 0;
	while (n < 8) {
		size_t got = fx_take_posts(&h.bus, p + n, 1, 2000);
		ck_assert_uint_eq(got, 1);
		n++;
		fx_sleep_ms(10);
	}
	ck_assert_str_eq(p[0]->id, "117020574694606796");
	ck_assert_str_eq(p[7]->id, "117020593378945190");
	for (size_t i = 1; i < 8; i++)
		ck_assert_str_ne(p[i]->id, p[i - 1]->id);
	fx_free_posts(p, 8);
	ck_assert_uint_gt(h.bus.posts.waits, 0);

	/* Stopping while the producer waits for room is prompt too. */
	ingest_stop(h.ig);
	h.ig = NULL;
	h_stop(&h);
}
END_TEST

START_TEST(test_ingest_stop_is_prompt_while_queue_is_full)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 50 };

	h_start_server(&h, handler_public_then_empty, NULL);
	queue_destroy(&h.bus.posts);
	ck_assert_int_eq(queue_init(&h.bus.posts, 2), 0);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);
	fx_sleep_ms(300);
	ck_assert_uint_eq(queue_depth(&h.bus.posts), 2);
	int64_t t0 = clock_mono_ms();
	ingest_stop(h.ig);
	h.ig = NULL;
	ck_assert_int_lt(clock_mono_ms() - t0, 500);
	/* The cursor did not move past posts that never made it onto the queue. */
	json_t *s = source_json(&h.bus, 1);
	ck_assert_str_eq(status_str(s, "cursor"), "");
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_ingest_never_blocks_on_full_db_queue)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 50 };
	struct post *p[8];

	h_start_server(&h, handler_public_then_empty, NULL);
	/* Fill the db queue; the ingest thread must keep going regardless. */
	size_t filled = 0;
	for (;;) {
		struct dbmsg *m = dbmsg_new(DBMSG_SNAPSHOT);
		if (queue_try_push(&h.bus.db, m) < 0) {
			dbmsg_free(m);
			break;
		}
		filled++;
	}
	ck_assert_uint_gt(filled, 0);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 3000), 8);
	fx_free_posts(p, 8);
	ck_assert(wait_reqs(&h.srv, 4, 3000));

	/* Once there is room, the newest state arrives. */
	void *msgs[256];
	size_t got, seen = 0;
	bool found = false;
	int64_t end = clock_mono_ms() + 3000;
	while (!found && clock_mono_ms() < end) {
		got = queue_pop_batch(&h.bus.db, msgs, 256, 100);
		for (size_t i = 0; i < got; i++) {
			struct dbmsg *m = msgs[i];
			if (m->kind == DBMSG_SOURCE_STATE) {
				ck_assert_int_eq(m->u.source.source_id, 1);
				if (!strcmp(m->u.source.cursor, "117020593378945190"))
					found = true;
			} else {
				seen++;
			}
			dbmsg_free(m);
		}
	}
	ck_assert(found);
	ck_assert_uint_eq(seen, filled);
	h_stop(&h);
}
END_TEST

START_TEST(test_ingest_commands_add_poll_and_remove_sources)
{
	struct harness h;
	struct ingest_config cfg = { 0 };   /* interval 60 s: only commands cause polls */

	h_start_server(&h, handler_counting, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url, NULL, NULL);
	h_start_ingest(&h, &cfg, &sc, 1);
	ck_assert(wait_reqs(&h.srv, 1, 3000));
	ck_assert(wait_status(&h.bus, 1, "state", "ok", 3000));

	ck_assert_int_eq(ingest_poll_now(h.ig, 1), 0);
	ck_assert(wait_reqs(&h.srv, 2, 2000));

	struct source_config sc2 = src_cfg(2, "mastodon", h.url,
					   "{\"timeline\":\"local\",\"limit\":5}", NULL);
	ck_assert_int_eq(ingest_source_set(h.ig, &sc2), 0);
	ck_assert(wait_status(&h.bus, 2, "state", "ok", 3000));
	bool saw_local = false;
	for (int i = 0; i < server_nreqs(&h.srv); i++)
		if (!strcmp(server_req(&h.srv, i).target,
			    "/api/v1/timelines/public?limit=5&local=true"))
			saw_local = true;
	ck_assert(saw_local);

	/* An edit keeps the source's history and cursor. */
	json_t *before = source_json(&h.bus, 1);
	struct source_config edit = src_cfg(1, "mastodon", h.url, "{\"limit\":7}", NULL);
	edit.interval_s = 120;
	ck_assert_int_eq(ingest_source_set(h.ig, &edit), 0);
	int64_t end = clock_mono_ms() + 2000;
	json_t *after = NULL;
	while (clock_mono_ms() < end) {
		json_decref(after);
		after = source_json(&h.bus, 1);
		if (json_integer_value(json_object_get(after, "interval_s")) == 120)
			break;
		fx_sleep_ms(5);
	}
	ck_assert_int_eq(json_integer_value(json_object_get(after, "interval_s")), 120);
	ck_assert_int_ge(status_int(after, "posts_seen"), status_int(before, "posts_seen"));
	ck_assert_int_ge(status_int(after, "polls"), status_int(before, "polls"));
	/* The cursor carries over (a poll right after the edit may move it on). */
	ck_assert_int_ge(atoll(status_str(after, "cursor")), atoll(status_str(before, "cursor")));
	ck_assert_int_ge(atoll(status_str(before, "cursor")), 1000);
	json_decref(before);
	json_decref(after);

	ck_assert_int_eq(ingest_source_remove(h.ig, 2), 0);
	end = clock_mono_ms() + 2000;
	json_t *gone;
	while ((gone = source_json(&h.bus, 2)) && clock_mono_ms() < end) {
		json_decref(gone);
		fx_sleep_ms(5);
	}
	ck_assert_ptr_null(gone);
	json_t *all = sources_now(&h.bus);
	ck_assert_uint_eq(json_array_size(all), 1);
	json_decref(all);

	void *items[64];
	size_t n;
	while ((n = queue_pop_batch(&h.bus.posts, items, 64, 0)) > 0)
		fx_free_posts((struct post **)items, n);
	h_stop(&h);
}
END_TEST

/* source_mastodon.c: settings and request URLs. */
static void url_for(const char *base, const char *params, const char *cursor, char *out,
		    size_t cap)
{
	struct source_config c = src_cfg(1, "mastodon", base, params, NULL);
	void *st = NULL;
	char err[200];
	struct strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(source_kind_mastodon.setup(&c, &st, err, sizeof err), 0);
	ck_assert_int_eq(source_kind_mastodon.request_url(st, base, cursor, &sb), 0);
	snprintf(out, cap, "%s", sb.buf);
	sb_free(&sb);
	source_kind_mastodon.release(st);
}

START_TEST(test_mastodon_source_builds_request_urls)
{
	char u[512], err[200];
	url_for("https://mastodon.example/", NULL, "", u, sizeof u);
	ck_assert_str_eq(u, "https://mastodon.example/api/v1/timelines/public?limit=40");
	url_for("https://m.example", "{\"timeline\":\"local\"}", "117", u, sizeof u);
	ck_assert_str_eq(u, "https://m.example/api/v1/timelines/public?limit=40&local=true&min_id=117");
	url_for("https://m.example", "{\"timeline\":\"tag\",\"tag\":\"#caf\xC3\xA9 x\",\"limit\":99,"
		"\"local\":true}", "5", u, sizeof u);
	ck_assert_str_eq(u, "https://m.example/api/v1/timelines/tag/caf%C3%A9%20x?limit=40&local=true"
			    "&min_id=5");

	static const char *const bad[][2] = {
		{ "ftp://m.example", NULL },
		{ "https://m.example", "[1]" },
		{ "https://m.example", "{\"timeline\":\"tag\"}" },
		{ "https://m.example", "{\"limit\":\"ten\"}" },
		{ "https://m.example", "{\"local\":\"yes\"}" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct source_config c = src_cfg(1, "mastodon", bad[i][0], bad[i][1], NULL);
		void *st = NULL;
		err[0] = 0;
		ck_assert_int_eq(source_kind_mastodon.setup(&c, &st, err, sizeof err), -EINVAL);
		ck_assert_ptr_null(st);
		ck_assert_msg(strlen(err) > 10, "case %zu: '%s'", i, err);
	}
}
END_TEST

static void handler_redirects(struct server *s, int idx, const char *target,
			      const char *headers, struct strbuf *r, bool *hang)
{
	if (strstr(target, "/tag/loop"))
		reply_make(r, 302, "Found", "Location: /api/v1/timelines/tag/loop?limit=40\r\n", "", 0);
	else if (strstr(target, "/tag/file"))
		reply_make(r, 302, "Found", "Location: file:///etc/passwd\r\n", "", 0);
	else if (strstr(target, "/tag/slow"))
		*hang = true;
	else if (!strncmp(target, "/moved", 6))
		reply_capture(r, "timeline_public.http");
	else
		reply_make(r, 301, "Moved Permanently", "Location: /moved\r\n", "", 0);
}

START_TEST(test_ingest_follows_redirects_within_limits_and_times_out)
{
	struct harness h;
	struct ingest_config cfg = { .interval_ms = 100, .timeout_ms = 300 };
	struct post *p[8];

	h_start_server(&h, handler_redirects, NULL);
	struct source_config sc[4] = {
		src_cfg(1, "mastodon", h.url, NULL, NULL),
		src_cfg(2, "mastodon", h.url, "{\"timeline\":\"tag\",\"tag\":\"loop\"}", NULL),
		src_cfg(3, "mastodon", h.url, "{\"timeline\":\"tag\",\"tag\":\"file\"}", NULL),
		src_cfg(4, "mastodon", h.url, "{\"timeline\":\"tag\",\"tag\":\"slow\"}", NULL),
	};
	h_start_ingest(&h, &cfg, sc, 4);

	/* A redirect to another http URL is followed. */
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 5000), 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(p[i]->source_id, 1);
	fx_free_posts(p, 8);
	ck_assert(wait_status(&h.bus, 2, "last_error", "too many redirects (more than 5)", 5000));
	ck_assert(wait_status(&h.bus, 3, "last_error",
			      "unsupported protocol (only http and https are fetched)", 5000));
	ck_assert(wait_status(&h.bus, 4, "last_error", "timed out after 300 ms", 5000));
	ck_assert(wait_status(&h.bus, 1, "state", "ok", 1000));
	h_stop(&h);
}
END_TEST

/* http.c on its own: headers of the final response, after a redirect. */
static void handler_http(struct server *s, int idx, const char *target, const char *headers,
			 struct strbuf *r, bool *hang)
{
	if (!strcmp(target, "/start"))
		reply_make(r, 302, "Found", "ETag: \"old\"\r\nLocation: /final\r\n", "", 0);
	else
		reply_make(r, 200, "OK",
			   "ETag: \"new\"\r\nLink: <http://x/?max_id=1>; rel=\"next\"\r\n"
			   "X-RateLimit-Remaining: 299\r\nx-ratelimit-reset: 2026-08-01T14:00:00.497737Z\r\n",
			   "[1]", 3);
}

static void on_http_done(void *user, struct http_response *resp)
{
	struct http_response *copy = user;
	copy->status = resp->status;
	snprintf(copy->error, sizeof copy->error, "%s", resp->error);
	sb_append(&copy->body, resp->body.buf ? resp->body.buf : "", resp->body.len);
	sb_append(&copy->headers, resp->headers.buf ? resp->headers.buf : "", resp->headers.len);
	copy->nheaders = resp->nheaders;
}

START_TEST(test_http_reports_final_response_headers)
{
	struct server srv;
	struct http_client *c;
	struct http_response got = { .body = STRBUF_INIT, .headers = STRBUF_INIT };
	char url[64];

	server_start(&srv, handler_http, NULL);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/start", srv.port);
	ck_assert_int_eq(http_client_new(&c, "trendd-test"), 0);
	struct http_request req = { .url = url, .accept = "application/json" };
	ck_assert_int_eq(http_client_get(c, &req, on_http_done, &got), 0);
	ck_assert_uint_eq(http_client_active(c), 1);
	int64_t end = clock_mono_ms() + 5000;
	while (http_client_active(c) > 0 && clock_mono_ms() < end)
		ck_assert_int_eq(http_client_run(c, 100), 0);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(got.error, "");
	ck_assert_str_eq(got.body.buf, "[1]");
	/* Case-insensitive, and only the final response's headers count. */
	ck_assert_str_eq(http_response_header(&got, "etag"), "\"new\"");
	ck_assert_str_eq(http_response_header(&got, "LINK"), "<http://x/?max_id=1>; rel=\"next\"");
	ck_assert_str_eq(http_response_header(&got, "X-RateLimit-Reset"),
			 "2026-08-01T14:00:00.497737Z");
	ck_assert_ptr_null(http_response_header(&got, "Location"));
	struct req_log r0 = server_req(&srv, 0);
	char v[128];
	ck_assert_str_eq(header_value(r0.headers, "User-Agent", v, sizeof v), "trendd-test");
	ck_assert_str_eq(header_value(r0.headers, "Accept", v, sizeof v), "application/json");
	ck_assert_str_eq(server_req(&srv, 1).target, "/final");
	http_client_free(c);
	sb_free(&got.body);
	sb_free(&got.headers);
	server_stop(&srv);

	char size[32];
	http_format_size(16 * 1024 * 1024, size, sizeof size);
	ck_assert_str_eq(size, "16 MiB");
	http_format_size(64 * 1024, size, sizeof size);
	ck_assert_str_eq(size, "64 KiB");
	http_format_size(1500, size, sizeof size);
	ck_assert_str_eq(size, "1500 bytes");
	ck_assert_str_eq(http_status_text(503), "Service Unavailable");
	ck_assert_str_eq(http_status_text(299), "");
}
END_TEST

START_TEST(test_ingest_puts_cursor_markers_behind_pages_and_restores_seen_ids)
{
	struct harness h;
	/* the checkpointed seen ids of source 1 name one post of the page */
	uint8_t seen[12];
	uint32_t one = 1;
	uint64_t hid = hash_bytes("117020588169351887", 18);
	memcpy(seen, &one, 4);
	memcpy(seen + 4, &hid, 8);
	struct source_cursor restore = { .source_id = 1, .cursor = "", .seen = seen,
					 .seen_len = sizeof seen };
	struct ingest_config cfg = { .interval_ms = 100, .cursor_markers = true,
				     .restore = &restore, .nrestore = 1 };
	struct post *p[16];

	h_start_server(&h, handler_public_then_empty, NULL);
	struct source_config sc = src_cfg(1, "mastodon", h.url,
					  "{\"timeline\": \"public\", \"limit\": 40}", NULL);
	h_start_ingest(&h, &cfg, &sc, 1);

	/* seven posts (the eighth was seen before the restart), then the page's marker */
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 5000), 8);
	for (int i = 0; i < 7; i++) {
		ck_assert(!post_is_marker(p[i]));
		ck_assert_ptr_null(dbmsg_marker_cursor(p[i]));
		ck_assert_str_ne(p[i]->id, "117020588169351887");
	}
	const struct source_cursor *c = dbmsg_marker_cursor(p[7]);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->source_id, 1);
	ck_assert_str_eq(c->cursor, "117020593378945190");
	/* its seen ids: the restored one first, then the seven new, oldest first */
	ck_assert_uint_eq(c->seen_len, 4 + 8 * 8);
	uint32_t n;
	uint64_t h0, h7;
	memcpy(&n, c->seen, 4);
	memcpy(&h0, c->seen + 4, 8);
	memcpy(&h7, c->seen + 4 + 7 * 8, 8);
	ck_assert_uint_eq(n, 8);
	ck_assert(h0 == hid);
	ck_assert(h7 == hash_bytes(p[6]->id, strlen(p[6]->id)));
	fx_free_posts(p, 8);

	/* the state messages leave the cursor to the checkpoint */
	void *msgs[64];
	size_t nm = queue_pop_batch(&h.bus.db, msgs, 64, 1000);
	ck_assert_uint_gt(nm, 0);
	for (size_t i = 0; i < nm; i++) {
		struct dbmsg *m = msgs[i];
		ck_assert_int_eq(m->kind, DBMSG_SOURCE_STATE);
		ck_assert_ptr_null(m->u.source.cursor);
		dbmsg_free(m);
	}

	/* a new feed for the source: an empty marker, so no old cursor comes back */
	struct source_config fresh = src_cfg(1, "mastodon", h.url, "{\"timeline\": \"local\"}",
					     NULL);
	ck_assert_int_eq(ingest_source_reset(h.ig, &fresh), 0);
	bool empty = false;
	for (int tries = 0; tries < 50 && !empty; tries++) {
		size_t k = fx_take_posts(&h.bus, p, 1, 100);
		if (k == 0)
			continue;
		c = dbmsg_marker_cursor(p[0]);
		empty = c && c->cursor[0] == 0 && c->seen_len == 0;
		post_free(p[0]);
	}
	ck_assert(empty);
	h_stop(&h);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ingest_delivers_posts_and_advances_cursor);
	tcase_add_test(tc, test_ingest_puts_cursor_markers_behind_pages_and_restores_seen_ids);
	tcase_add_test(tc, test_ingest_catches_up_full_pages_at_once);
	tcase_add_test(tc, test_ingest_backs_off_unreachable_source_while_good_one_flows);
	tcase_add_test(tc, test_ingest_http_errors_back_off_then_recover);
	tcase_add_test(tc, test_ingest_honours_retry_after_on_429);
	tcase_add_test(tc, test_ingest_waits_for_rate_limit_reset);
	tcase_add_test(tc, test_ingest_caps_body_size_after_decompression);
	tcase_add_test(tc, test_ingest_reports_bad_bodies_and_bad_sources);
	tcase_add_test(tc, test_ingest_follows_redirects_within_limits_and_times_out);
	tcase_add_test(tc, test_ingest_stop_returns_promptly_with_request_in_flight);
	tcase_add_test(tc, test_ingest_full_queue_pauses_without_dropping);
	tcase_add_test(tc, test_ingest_stop_is_prompt_while_queue_is_full);
	tcase_add_test(tc, test_ingest_never_blocks_on_full_db_queue);
	tcase_add_test(tc, test_ingest_commands_add_poll_and_remove_sources);
	tcase_add_test(tc, test_mastodon_source_builds_request_urls);
	tcase_add_test(tc, test_http_reports_final_response_headers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
