/*
 * Unit tests for ingest/source_feed.c, the `rss` and `atom` source kinds:
 * the settings they accept, and the real ingest thread (ingest.c, http.c)
 * polling a small HTTP server that runs in the test on 127.0.0.1 - which
 * validators it sends back, which posts come out, what the status says.
 *
 * The kind table is this file's own (source_kind_find below), so the test
 * builds from the feed sources alone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/ingest.h"
#include "ingest/source_feed.h"
#include "tests/unit/fixture_http.h"
#include "tests/unit/testutil.h"

const struct source_kind *source_kind_find(const char *name)
{
	if (!strcmp(name, "rss"))
		return &source_kind_rss;
	if (!strcmp(name, "atom"))
		return &source_kind_atom;
	return NULL;
}

/* ---- a tiny HTTP/1.1 server: one request per connection ---- */

#define MAX_REQS 256

struct server;
typedef void (*handler_fn)(struct server *s, int idx, const char *headers, struct strbuf *reply);

struct server {
	struct fx_listener lis;
	uint16_t port;
	handler_fn handler;
	pthread_mutex_t mu;
	char headers[MAX_REQS][2048];
	int nreqs;
};

static void serve_one(void *arg, int c)
{
	struct server *s = arg;
	char buf[8192];

	fx_read_head(c, buf, sizeof buf);
	const char *hdr = strstr(buf, "\r\n");
	int idx;
	pthread_mutex_lock(&s->mu);
	idx = s->nreqs;
	if (s->nreqs < MAX_REQS)
		snprintf(s->headers[s->nreqs++], sizeof s->headers[0], "%s", hdr ? hdr + 2 : "");
	pthread_mutex_unlock(&s->mu);

	struct strbuf reply = STRBUF_INIT;
	s->handler(s, idx, hdr ? hdr + 2 : "", &reply);
	fx_reply_close(c, &reply);
}

static void server_start(struct server *s, handler_fn h)
{
	memset(s, 0, sizeof *s);
	s->handler = h;
	pthread_mutex_init(&s->mu, NULL);
	fx_listener_start(&s->lis, 64, &s->port, serve_one, s);
}

static void server_stop(struct server *s)
{
	fx_listener_stop(&s->lis);
}

static bool wait_reqs(struct server *s, int n, int timeout_ms)
{
	return fx_wait_locked_int(&s->mu, &s->nreqs, n, timeout_ms);
}

/* The value of header name in request i, or NULL. */
static const char *req_header(struct server *s, int i, const char *name, char *buf, size_t cap)
{
	const char *found = NULL;
	size_t nl = strlen(name);

	pthread_mutex_lock(&s->mu);
	for (const char *p = s->headers[i]; p && *p; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
			found = buf;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

static void reply(struct strbuf *r, int status, const char *ctype, const char *extra,
		  const char *body)
{
	size_t len = strlen(body);
	sb_printf(r, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n%s\r\n",
		  status, status == 304 ? "Not Modified" : "OK", ctype, len, extra ? extra : "");
	sb_append(r, body, len);
}

/* ---- the ingest thread ---- */

struct harness {
	struct bus bus;
	struct server srv;
	struct ingest *ig;
	char url[96];
};

static void h_start_full(struct harness *h, handler_fn fn, const char *kind, const char *path,
			 const char *cursor)
{
	struct ingest_config cfg = { .interval_ms = 100, .backoff_cap_ms = 200, .no_jitter = true };
	struct source_config sc = { .id = 1, .enabled = true, .interval_s = 60 };

	ck_assert_int_eq(bus_init(&h->bus), 0);
	server_start(&h->srv, fn);
	snprintf(h->url, sizeof h->url, "http://127.0.0.1:%u%s", h->srv.port, path);
	snprintf(sc.kind, sizeof sc.kind, "%s", kind);
	sc.name = (char *)"feed";
	sc.url = h->url;
	sc.params_json = (char *)"";
	sc.cursor = (char *)cursor;
	ck_assert_int_eq(ingest_start(&h->ig, &cfg, &h->bus, &sc, 1), 0);
}

static void h_start(struct harness *h, handler_fn fn, const char *kind, const char *path)
{
	h_start_full(h, fn, kind, path, "");
}

static void h_start_cursor(struct harness *h, handler_fn fn, const char *path, const char *cursor)
{
	h_start_full(h, fn, "rss", path, cursor);
}

static void h_stop(struct harness *h)
{
	ingest_stop(h->ig);
	server_stop(&h->srv);
	fx_drain_posts(&h->bus);
	bus_destroy(&h->bus);
}

/* The status object of source 1 (caller decrefs), or NULL. */
static json_t *status_now(struct bus *b)
{
	struct ref *r = publish_get(&b->sources);
	json_t *st = NULL;
	if (!r)
		return NULL;
	const struct blob *bl = (const struct blob *)r;
	json_t *all = json_loadb(bl->data, bl->len, 0, NULL);
	ref_put(r);
	st = json_incref(json_object_get(json_array_get(all, 0), "status"));
	json_decref(all);
	return st;
}

/* Waits until status.key is a string containing want. */
static bool wait_status(struct bus *b, const char *key, const char *want, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	for (;;) {
		json_t *st = status_now(b);
		const char *v = json_string_value(json_object_get(st, key));
		bool ok = v && strstr(v, want);
		json_decref(st);
		if (ok)
			return true;
		if (clock_mono_ms() > end)
			return false;
		fx_sleep_ms(10);
	}
}

static const char *const FEED_V1 =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>T</title>\n"
	"<item><guid>a</guid><title>First</title><link>/p/a</link>"
	"<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>\n"
	"<item><guid>b</guid><title>Second</title><pubDate>Mon, 01 Jan 2024 11:00:00 GMT</pubDate>"
	"</item>\n<item><guid>undated</guid><title>Third</title></item>\n"
	"</channel></rss>\n";

static const char *const FEED_V2 =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>T</title>\n"
	"<item><guid>c</guid><title>New</title><pubDate>Mon, 01 Jan 2024 12:00:00 GMT</pubDate>"
	"</item>\n"
	"<item><guid>a</guid><title>First</title><link>/p/a</link>"
	"<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>\n"
	"<item><guid>b</guid><title>Second</title><pubDate>Mon, 01 Jan 2024 11:00:00 GMT</pubDate>"
	"</item>\n<item><guid>undated</guid><title>Third</title></item>\n"
	"</channel></rss>\n";

START_TEST(test_source_feed_checks_its_settings)
{
	const struct source_kind *k = &source_kind_rss;
	struct source_config c = { .id = 1, .url = (char *)"ftp://x/feed", .params_json = (char *)"" };
	struct strbuf url = STRBUF_INIT;
	char err[200] = "";
	void *st = NULL;

	ck_assert_int_eq(k->setup(&c, &st, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "http:// or https://"));
	c.url = (char *)"https://example.com/feed?format=rss&x=1";
	c.params_json = (char *)"[1, 2]";
	ck_assert_int_eq(k->setup(&c, &st, err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "params must be a JSON object");
	c.params_json = (char *)"{\"anything\": true}";
	ck_assert_int_eq(k->setup(&c, &st, err, sizeof err), 0);
	/* The request is the URL as given, whatever the cursor. */
	ck_assert_int_eq(k->request_url(st, c.url, "1704103200000", &url), 0);
	ck_assert_str_eq(url.buf, "https://example.com/feed?format=rss&x=1");
	k->release(st);
	sb_free(&url);
	ck_assert_ptr_nonnull(strstr(source_kind_atom.accept, "application/atom+xml"));
	ck_assert_ptr_nonnull(strstr(source_kind_rss.accept, "application/rss+xml"));
	ck_assert_str_eq(source_kind_atom.name, "atom");
}
END_TEST

static void handler_etag(struct server *s, int idx, const char *headers, struct strbuf *r)
{
	char v[128];
	(void)headers;
	if (idx > 0 && req_header(s, idx, "If-None-Match", v, sizeof v) && !strcmp(v, "\"v1\""))
		reply(r, 304, "application/rss+xml", "ETag: \"v1\"\r\n", "");
	else
		reply(r, 200, "application/rss+xml",
		      "ETag: \"v1\"\r\nLast-Modified: Mon, 01 Jan 2024 11:00:00 GMT\r\n", FEED_V1);
}

START_TEST(test_source_feed_polls_with_conditional_get)
{
	struct harness h;
	struct post *p[8];
	char v[128];

	h_start(&h, handler_etag, "rss", "/feed.xml");
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 3000), 3);
	/* Oldest first, links resolved against the feed URL. */
	ck_assert_str_eq(p[0]->id, "undated");
	ck_assert_str_eq(p[1]->id, "b");
	ck_assert_str_eq(p[2]->id, "a");
	char want[128];
	snprintf(want, sizeof want, "http://127.0.0.1:%u/p/a", h.srv.port);
	ck_assert_str_eq(p[2]->url, want);
	ck_assert_int_eq(p[2]->source_id, 1);
	fx_free_posts(p, 3);

	ck_assert(wait_reqs(&h.srv, 3, 3000));
	ck_assert_ptr_nonnull(req_header(&h.srv, 0, "Accept", v, sizeof v));
	ck_assert_ptr_nonnull(strstr(v, "application/rss+xml"));
	ck_assert_ptr_null(req_header(&h.srv, 0, "If-None-Match", v, sizeof v));
	ck_assert_ptr_nonnull(req_header(&h.srv, 1, "If-None-Match", v, sizeof v));
	ck_assert_str_eq(v, "\"v1\"");
	ck_assert_ptr_nonnull(req_header(&h.srv, 1, "If-Modified-Since", v, sizeof v));
	ck_assert_str_eq(v, "Mon, 01 Jan 2024 11:00:00 GMT");
	/* 304s give nothing more, and the source stays healthy. */
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 300), 0);
	ck_assert(wait_status(&h.bus, "state", "ok", 2000));
	h_stop(&h);
}
END_TEST

static void handler_growing(struct server *s, int idx, const char *headers, struct strbuf *r)
{
	(void)s;
	(void)headers;
	/* No validators: every poll gets the whole feed again. */
	reply(r, 200, "application/rss+xml", NULL, idx < 3 ? FEED_V1 : FEED_V2);
}

START_TEST(test_source_feed_emits_each_item_once)
{
	struct harness h;
	struct post *p[16];

	h_start(&h, handler_growing, "rss", "/feed");
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 3, 3000), 3);
	fx_free_posts(p, 3);
	ck_assert(wait_reqs(&h.srv, 6, 5000));
	/* The same feed three times, then with one new item: only that one is new. */
	size_t n = fx_take_posts(&h.bus, p, 16, 1000);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(p[0]->id, "c");
	ck_assert_str_eq(p[0]->title, "New");
	fx_free_posts(p, n);
	/* The cursor is the newest item date. */
	json_t *st = status_now(&h.bus);
	ck_assert_str_eq(json_string_value(json_object_get(st, "cursor")), "1704110400000");
	json_decref(st);
	h_stop(&h);
}
END_TEST

static void handler_late(struct server *s, int idx, const char *headers, struct strbuf *r)
{
	(void)s;
	(void)headers;
	if (idx == 0) {
		reply(r, 200, "application/rss+xml", NULL, FEED_V1);
		return;
	}
	/* An item that appears after the newest one, but dated before it. */
	reply(r, 200, "application/rss+xml", NULL,
	      "<rss version=\"2.0\"><channel><title>T</title>"
	      "<item><guid>late</guid><title>Late</title>"
	      "<pubDate>Mon, 01 Jan 2024 09:00:00 GMT</pubDate></item>"
	      "<item><guid>b</guid><title>Second</title>"
	      "<pubDate>Mon, 01 Jan 2024 11:00:00 GMT</pubDate></item></channel></rss>");
}

START_TEST(test_source_feed_cursor_guards_restarts_but_not_late_items)
{
	struct harness h;
	struct post *p[8];

	/* As after a restart: the stored cursor is 10:30, so "a" (10:00) was counted before. */
	h_start_cursor(&h, handler_late, "/late", "1704105000000");
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 2, 3000), 2);
	ck_assert_str_eq(p[0]->id, "undated");
	ck_assert_str_eq(p[1]->id, "b");
	fx_free_posts(p, 2);
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 1, 3000), 1);
	ck_assert_str_eq(p[0]->id, "late");
	fx_free_posts(p, 1);
	ck_assert(wait_reqs(&h.srv, 4, 3000));
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 8, 300), 0);
	/* The cursor never moves back to the late item's date. */
	json_t *st = status_now(&h.bus);
	ck_assert_str_eq(json_string_value(json_object_get(st, "cursor")), "1704106800000");
	json_decref(st);
	h_stop(&h);
}
END_TEST

static void handler_html(struct server *s, int idx, const char *headers, struct strbuf *r)
{
	(void)s;
	(void)idx;
	(void)headers;
	reply(r, 200, "text/html; charset=utf-8", NULL,
	      "<!DOCTYPE html><html><head><title>Moved</title></head><body>x</body></html>");
}

START_TEST(test_source_feed_reports_a_page_that_is_no_feed)
{
	struct harness h;
	struct post *p[2];

	h_start(&h, handler_html, "atom", "/");
	ck_assert(wait_status(&h.bus, "last_error",
			      "not an RSS or Atom feed: the root element is <html>", 3000));
	ck_assert(wait_status(&h.bus, "state", "backoff", 1000));
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 2, 200), 0);
	h_stop(&h);
}
END_TEST

static void handler_sloppy(struct server *s, int idx, const char *headers, struct strbuf *r)
{
	(void)s;
	(void)idx;
	(void)headers;
	/* Latin-1 bytes under a UTF-8 declaration, saved by the Content-Type; HTML entities. */
	reply(r, 200, "text/xml; charset=iso-8859-1", NULL,
	      "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><channel><title>T</title>"
	      "<item><guid>x</guid><title>Caf\xE9&nbsp;cr\xE8me &amp; more</title></item>"
	      "</channel></rss>");
}

START_TEST(test_source_feed_delivers_readable_feeds_that_are_not_wellformed)
{
	struct harness h;
	struct post *p[2];

	h_start(&h, handler_sloppy, "rss", "/sloppy");
	ck_assert_uint_eq(fx_take_posts(&h.bus, p, 2, 3000), 1);
	ck_assert_str_eq(p[0]->title, "Caf\xC3\xA9\xC2\xA0" "cr\xC3\xA8me & more");
	fx_free_posts(p, 1);
	ck_assert(wait_status(&h.bus, "state", "ok", 2000));
	h_stop(&h);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("source_feed");
	TCase *tc = tcase_create("source_feed");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_source_feed_checks_its_settings);
	tcase_add_test(tc, test_source_feed_polls_with_conditional_get);
	tcase_add_test(tc, test_source_feed_emits_each_item_once);
	tcase_add_test(tc, test_source_feed_cursor_guards_restarts_but_not_late_items);
	tcase_add_test(tc, test_source_feed_reports_a_page_that_is_no_feed);
	tcase_add_test(tc, test_source_feed_delivers_readable_feeds_that_are_not_wellformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
