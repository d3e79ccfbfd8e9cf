/*
 * Unit tests for ingest/source_mastodon_stream.c and the Link pagination of
 * ingest/source_mastodon.c, run by the real ingest thread against a small
 * Mastodon written here: a timeline the tests fill, REST pages after min_id
 * with Link headers, and a streaming endpoint the tests feed by hand -
 * captured events (tests/fixtures/mastodon/stream_user.http) and generated
 * ones, cut anywhere, dropped mid-event, silent, or refused.
 *
 * The kind table is this file's own (source_kind_find below): only the
 * mastodon kind, so the test needs no other parser.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/ingest.h"
#include "ingest/source_mastodon.h"
#include "tests/unit/fixture_http.h"
#include "tests/unit/testutil.h"

const struct source_kind *source_kind_find(const char *name)
{
	return strcmp(name, "mastodon") ? NULL : &source_kind_mastodon;
}

/* ---- a small Mastodon ---- */

#define MAX_REQS     256
#define MAX_STATUSES 256

struct req_log {
	char target[1024];
	char headers[2048];
};

struct fake {
	struct fx_listener lis;
	uint16_t port;
	pthread_mutex_t mu;
	/* under mu */
	struct req_log reqs[MAX_REQS];
	int nreqs;
	int stream_fd;              /* the open stream, or -1 */
	int streams;                /* stream requests answered */
	int ids[MAX_STATUSES];      /* the timeline, ascending */
	int nids;
	int stream_status;          /* 200, or an error status to refuse streams with */
	bool foreign_links;         /* Link headers point at another origin */
	int old_streams[8];         /* dropped streams, closed at the end */
	int nold;
};

static void status_json_put(struct strbuf *sb, int id)
{
	sb_printf(sb,
		  "{\"id\":\"%d\",\"created_at\":\"2026-11-25T12:00:%02d.000Z\",\"language\":\"en\","
		  "\"url\":\"http://m.example/@a/%d\",\"content\":\"<p>status %d</p>\","
		  "\"account\":{\"url\":\"http://m.example/@u%d\"},\"reblog\":null}",
		  id, id % 60, id, id, id % 7);
}

static int query_int(const char *target, const char *name, int dflt)
{
	char key[32];
	snprintf(key, sizeof key, "%s=", name);
	for (const char *p = strchr(target, '?'); p; p = strchr(p + 1, '&')) {
		if (!strncmp(p + 1, key, strlen(key)))
			return atoi(p + 1 + strlen(key));
	}
	return dflt;
}

/* GET /api/v1/timelines/public?limit=N&min_id=X: the N statuses after X, newest first. */
static void serve_timeline(struct fake *f, int c, const char *target)
{
	struct strbuf body = STRBUF_INIT, head = STRBUF_INIT;
	int limit = query_int(target, "limit", 40), min_id = query_int(target, "min_id", 0);
	int page[64], n = 0;

	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->nids && n < limit && n < 64; i++)
		if (f->ids[i] > min_id)
			page[n++] = f->ids[i];
	bool foreign = f->foreign_links;
	pthread_mutex_unlock(&f->mu);
	sb_putc(&body, '[');
	for (int i = n - 1; i >= 0; i--) {
		status_json_put(&body, page[i]);
		if (i)
			sb_putc(&body, ',');
	}
	sb_putc(&body, ']');
	sb_puts(&head, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n");
	if (n > 0) {
		/* A marker tells a followed link from a URL trendd built itself. */
		const char *origin = foreign ? "http://localhost:3000" : NULL;
		char here[64];
		snprintf(here, sizeof here, "http://127.0.0.1:%u", f->port);
		sb_printf(&head, "Link: <%s/api/v1/timelines/public?limit=%d&max_id=%d>; rel=\"next\", "
				 "<%s/api/v1/timelines/public?limit=%d&min_id=%d&via=link>; rel=\"prev\"\r\n",
			  origin ? origin : here, limit, page[0], origin ? origin : here, limit,
			  page[n - 1]);
	}
	sb_printf(&head, "Content-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
	fx_send_all(c, head.buf, head.len);
	fx_send_all(c, body.buf, body.len);
	sb_free(&head);
	sb_free(&body);
	close(c);
}

static void serve_stream(struct fake *f, int c)
{
	pthread_mutex_lock(&f->mu);
	int status = f->stream_status;
	pthread_mutex_unlock(&f->mu);
	if (status != 200) {
		static const char body[] = "{\"error\":\"This method requires an authenticated user\"}";
		char head[256];
		int n = snprintf(head, sizeof head,
				 "HTTP/1.1 %d Unauthorized\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 status, sizeof body - 1);
		fx_send_all(c, head, (size_t)n);
		fx_send_all(c, body, sizeof body - 1);
		close(c);
		pthread_mutex_lock(&f->mu);
		f->streams++;
		pthread_mutex_unlock(&f->mu);
		return;
	}
	/* No length, no chunks: the body lasts until the connection closes. */
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Cache-Control: private, no-store\r\nConnection: close\r\n\r\n:)\n";
	fx_send_all(c, head, sizeof head - 1);
	pthread_mutex_lock(&f->mu);
	if (f->stream_fd >= 0 && f->nold < 8)
		f->old_streams[f->nold++] = f->stream_fd;
	f->stream_fd = c;
	f->streams++;
	pthread_mutex_unlock(&f->mu);
}

static void serve_one(void *arg, int c)
{
	struct fake *f = arg;
	char buf[8192], *target, *headers;

	if (fx_read_request(c, buf, sizeof buf, &target, &headers) < 0) {
		close(c);
		return;
	}
	pthread_mutex_lock(&f->mu);
	if (f->nreqs < MAX_REQS) {
		snprintf(f->reqs[f->nreqs].target, sizeof f->reqs[0].target, "%s", target);
		snprintf(f->reqs[f->nreqs].headers, sizeof f->reqs[0].headers, "%s", headers);
		f->nreqs++;
	}
	pthread_mutex_unlock(&f->mu);
	if (!strncmp(target, "/api/v1/streaming/", 18))
		serve_stream(f, c);
	else if (!strncmp(target, "/api/v1/timelines/public", 24))
		serve_timeline(f, c, target);
	else {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
					 "Connection: close\r\n\r\n";
		fx_send_all(c, nf, sizeof nf - 1);
		close(c);
	}
}

static void fake_start(struct fake *f)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	f->stream_fd = -1;
	f->stream_status = 200;
	fx_listener_start(&f->lis, 64, &f->port, serve_one, f);
}

static void fake_stop(struct fake *f)
{
	fx_listener_stop(&f->lis);
	if (f->stream_fd >= 0)
		close(f->stream_fd);
	for (int i = 0; i < f->nold; i++)
		close(f->old_streams[i]);
}

static void fake_add(struct fake *f, int from, int to)
{
	pthread_mutex_lock(&f->mu);
	for (int id = from; id <= to && f->nids < MAX_STATUSES; id++)
		f->ids[f->nids++] = id;
	pthread_mutex_unlock(&f->mu);
}

static int fake_streams(struct fake *f)
{
	return fx_locked_int(&f->mu, &f->streams);
}

static bool wait_streams(struct fake *f, int n, int timeout_ms)
{
	return fx_wait_locked_int(&f->mu, &f->streams, n, timeout_ms);
}

static struct req_log fake_req(struct fake *f, int i)
{
	pthread_mutex_lock(&f->mu);
	ck_assert_int_lt(i, f->nreqs);
	struct req_log l = f->reqs[i];
	pthread_mutex_unlock(&f->mu);
	return l;
}

static int fake_nreqs(struct fake *f)
{
	return fx_locked_int(&f->mu, &f->nreqs);
}

/* The targets of the requests so far that contain what, in order. */
static int fake_find(struct fake *f, const char *what, char out[][1024], int max)
{
	int n = 0;
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->nreqs && n < max; i++)
		if (strstr(f->reqs[i].target, what))
			memcpy(out[n++], f->reqs[i].target, 1024);
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Writes to the open stream. */
static void stream_send(struct fake *f, const char *data, size_t len)
{
	pthread_mutex_lock(&f->mu);
	int fd = f->stream_fd;
	pthread_mutex_unlock(&f->mu);
	ck_assert_int_ge(fd, 0);
	fx_send_all(fd, data, len);
}

static void stream_update(struct fake *f, int id)
{
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "event: update\ndata: ");
	status_json_put(&sb, id);
	sb_puts(&sb, "\n\n");
	stream_send(f, sb.buf, sb.len);
	sb_free(&sb);
}

static void stream_drop(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	int fd = f->stream_fd;
	f->stream_fd = -1;
	pthread_mutex_unlock(&f->mu);
	ck_assert_int_ge(fd, 0);
	shutdown(fd, SHUT_RDWR);
	close(fd);
}

/* ---- the ingest side ---- */

struct harness {
	struct bus bus;
	struct fake fake;
	struct ingest *ig;
	char url[64];
};

/* The server first, so that a test can set it up before trendd asks anything. */
static void h_server(struct harness *h)
{
	ck_assert_int_eq(bus_init(&h->bus), 0);
	fake_start(&h->fake);
	snprintf(h->url, sizeof h->url, "http://127.0.0.1:%u", h->fake.port);
}

static void h_ingest(struct harness *h, const char *params, const char *cursor)
{
	struct ingest_config cfg = { .interval_ms = 300, .no_jitter = true };
	struct source_config sc = { .id = 1, .enabled = true, .interval_s = 60, .name = "m" };

	snprintf(sc.kind, sizeof sc.kind, "mastodon");
	sc.url = h->url;
	sc.params_json = (char *)params;
	sc.cursor = (char *)(cursor ? cursor : "");
	ck_assert_int_eq(ingest_start(&h->ig, &cfg, &h->bus, &sc, 1), 0);
}

static void h_start(struct harness *h, const char *params, const char *cursor)
{
	h_server(h);
	h_ingest(h, params, cursor);
}

static void h_stop(struct harness *h)
{
	if (h->ig)
		ingest_stop(h->ig);
	fake_stop(&h->fake);
	fx_drain_posts(&h->bus);
	bus_destroy(&h->bus);
}

/* Takes posts until n came or timeout_ms passed; their ids go into ids (as integers). */
static size_t take_ids(struct bus *b, int *ids, size_t n, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	size_t got = 0;
	while (got < n) {
		struct post *p;
		int64_t left = end - clock_mono_ms();
		if (left <= 0 || queue_pop_batch(&b->posts, (void **)&p, 1, (int)left) != 1)
			break;
		ids[got++] = atoi(p->id);
		post_free(p);
	}
	return got;
}

static void assert_each_once(const int *ids, size_t n, int from, int to)
{
	ck_assert_uint_eq(n, (size_t)(to - from + 1));
	for (int id = from; id <= to; id++) {
		int seen = 0;
		for (size_t i = 0; i < n; i++)
			seen += ids[i] == id;
		ck_assert_msg(seen == 1, "status %d seen %d times", id, seen);
	}
}

/* ---- tests ---- */

START_TEST(test_mastodon_stream_reads_captured_updates_and_ignores_other_events)
{
	struct harness h;
	char *raw;
	size_t n, blen;
	struct post *p[4];

	h_start(&h, "{\"stream\":\"public\"}", NULL);
	ck_assert(wait_streams(&h.fake, 1, 5000));
	raw = tu_read_fixture("mastodon/stream_user.http", &n);
	const char *body = tu_http_body(raw, n, &blen);
	/* The capture in uneven pieces, the way a network hands it over. */
	for (size_t off = 0, k = 0; off < blen; k++) {
		size_t piece = (size_t[]){ 1, 700, 3, 4096, 17 }[k % 5];
		if (piece > blen - off)
			piece = blen - off;
		stream_send(&h.fake, body + off, piece);
		off += piece;
		if (k % 7 == 0)
			fx_sleep_ms(2);
	}
	free(raw);

	size_t got = 0;
	int64_t end = clock_mono_ms() + 5000;
	while (got < 2 && clock_mono_ms() < end)
		got += queue_pop_batch(&h.bus.posts, (void **)p + got, 2 - got, 100);
	ck_assert_uint_eq(got, 2);
	ck_assert_str_eq(p[0]->id, "117024236332527350");
	ck_assert_str_eq(p[0]->text, "only real cars respond.");
	ck_assert_str_eq(p[0]->author, "http://localhost:3000/@mastodonpy_test");
	ck_assert_str_eq(p[0]->lang, "ja");
	ck_assert_str_eq(p[1]->id, "117024236559579118");
	post_free(p[0]);
	post_free(p[1]);
	/* The edit (status.update) and the delete do not count it again. */
	ck_assert_uint_eq(queue_pop_batch(&h.bus.posts, (void **)p, 1, 300), 0);

	/* The cursor reaches the db at most once a second; it gets there. */
	json_t *s = fx_wait_status_str(&h.bus, "cursor", "117024236559579118", 3000);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	ck_assert(json_is_null(json_object_get(fx_status_of(s), "next_poll")));
	ck_assert(json_is_null(json_object_get(fx_status_of(s), "last_error")));
	ck_assert_int_eq(fx_status_int(s, "polls"), 1);
	ck_assert_int_eq(fx_status_int(s, "items_skipped"), 0);
	ck_assert_str_eq(fx_status_str(s, "cursor"), "117024236559579118");
	ck_assert(json_is_true(json_object_get(json_object_get(fx_status_of(s), "stream"),
					       "connected")));
	ck_assert_int_eq(fx_stream_int(s, "events"), 6);
	ck_assert_int_eq(fx_stream_int(s, "updates"), 2);
	ck_assert_int_eq(fx_stream_int(s, "ignored"), 4);
	ck_assert_int_ge(fx_stream_int(s, "heartbeats"), 2);   /* ours and the capture's ":)" */
	json_decref(s);

	/* One request: no cursor at start means no catch-up. */
	ck_assert_int_eq(fake_nreqs(&h.fake), 1);
	struct req_log l = fake_req(&h.fake, 0);
	ck_assert_str_eq(l.target, "/api/v1/streaming/public");
	ck_assert_ptr_nonnull(strcasestr(l.headers, "Accept: text/event-stream"));
	ck_assert_ptr_null(strcasestr(l.headers, "Authorization:"));
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_stream_counts_bad_events_and_keeps_going)
{
	struct harness h;
	int ids[8];
	struct strbuf big = STRBUF_INIT;

	h_start(&h, "{\"stream\":\"hashtag\",\"tag\":\"caf\xC3\xA9\"}", NULL);
	ck_assert(wait_streams(&h.fake, 1, 5000));
	ck_assert_str_eq(fake_req(&h.fake, 0).target, "/api/v1/streaming/hashtag?tag=caf%C3%A9");
	stream_update(&h.fake, 11);
	stream_send(&h.fake, "event: update\ndata: {not json\n\n", 31);
	stream_send(&h.fake, "event: update\ndata: {\"id\":\"12\"}\n\n", 34);   /* no content */
	/* An event over the cap is dropped whole, never cut. */
	sb_puts(&big, "event: update\ndata: {\"x\":\"");
	for (int i = 0; i < 600 * 1024 / 8; i++)
		sb_puts(&big, "abcdefgh");
	sb_puts(&big, "\"}\n\n");
	stream_send(&h.fake, big.buf, big.len);
	sb_free(&big);
	stream_update(&h.fake, 13);

	ck_assert_uint_eq(take_ids(&h.bus, ids, 2, 5000), 2);
	ck_assert_int_eq(ids[0], 11);
	ck_assert_int_eq(ids[1], 13);
	json_t *s = fx_wait_status_int(&h.bus, "items_skipped", 3, 3000);
	ck_assert_int_eq(fx_status_int(s, "items_skipped"), 3);
	ck_assert_int_eq(fx_status_int(s, "posts_seen"), 2);
	ck_assert_int_eq(fx_stream_int(s, "dropped"), 1);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_stream_reconnects_and_catches_up_without_gaps_or_duplicates)
{
	struct harness h;
	int ids[32];
	char targets[8][1024];
	struct strbuf sb = STRBUF_INIT;

	h_start(&h, "{\"stream\":\"public\",\"limit\":3}", NULL);
	ck_assert(wait_streams(&h.fake, 1, 5000));
	fake_add(&h.fake, 1001, 1005);
	for (int id = 1001; id <= 1005; id++)
		stream_update(&h.fake, id);
	ck_assert_uint_eq(take_ids(&h.bus, ids, 5, 5000), 5);

	/* 1006 is cut off mid-event; 1007..1012 appear while the stream is down. */
	fake_add(&h.fake, 1006, 1012);
	sb_puts(&sb, "event: update\ndata: ");
	status_json_put(&sb, 1006);
	stream_send(&h.fake, sb.buf, sb.len / 2);
	sb_free(&sb);
	fx_sleep_ms(50);
	stream_drop(&h.fake);
	json_t *s = fx_wait_status_str(&h.bus, "last_error", "stream: the server closed it", 3000);
	ck_assert_str_eq(fx_status_str(s, "cursor"), "1005");
	json_decref(s);

	/* The new connection repeats two statuses the catch-up also finds, and goes on. */
	ck_assert(wait_streams(&h.fake, 2, 5000));
	fake_add(&h.fake, 1013, 1013);
	stream_update(&h.fake, 1011);
	stream_update(&h.fake, 1012);
	stream_update(&h.fake, 1013);
	size_t got = 5 + take_ids(&h.bus, ids + 5, 27, 4000);
	assert_each_once(ids, got, 1001, 1013);

	/* The catch-up started right after the last status seen and paged by Link. */
	int nc = fake_find(&h.fake, "/api/v1/timelines/public", targets, 8);
	ck_assert_int_ge(nc, 2);
	ck_assert_str_eq(targets[0], "/api/v1/timelines/public?limit=3&min_id=1005");
	ck_assert_str_eq(targets[1], "/api/v1/timelines/public?limit=3&min_id=1008&via=link");

	s = fx_wait_status_str(&h.bus, "cursor", "1013", 3000);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	ck_assert_int_eq(fx_status_int(s, "posts_seen"), 13);
	ck_assert_int_eq(fx_status_int(s, "consecutive_errors"), 0);
	ck_assert(json_is_null(json_object_get(fx_status_of(s), "last_error")));
	ck_assert_int_eq(fx_status_int(s, "polls"), 2);
	ck_assert_int_eq(fx_stream_int(s, "connects"), 2);
	ck_assert_int_ge(fx_stream_int(s, "catchup_pages"), 2);
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_stream_catches_up_from_stored_cursor_up_to_the_page_cap)
{
	struct harness h;
	int ids[32];
	char targets[8][1024];

	h_server(&h);
	fake_add(&h.fake, 1001, 1020);
	h_ingest(&h, "{\"stream\":\"public:local\",\"limit\":5,\"max_catchup_pages\":2}", "1000");
	ck_assert(wait_streams(&h.fake, 1, 5000));
	ck_assert_str_eq(fake_req(&h.fake, 0).target, "/api/v1/streaming/public/local");
	/* Two pages of five, then the cap: the rest of the gap is skipped with a warning. */
	ck_assert_uint_eq(take_ids(&h.bus, ids, 32, 2000), 10);
	assert_each_once(ids, 10, 1001, 1010);
	ck_assert_int_eq(fake_find(&h.fake, "/timelines/", targets, 8), 2);
	ck_assert_str_eq(targets[0], "/api/v1/timelines/public?limit=5&local=true&min_id=1000");
	ck_assert_str_eq(targets[1], "/api/v1/timelines/public?limit=5&min_id=1005&via=link");
	json_t *s = fx_wait_status_str(&h.bus, "last_error", "stopped after 2 pages", 3000);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	ck_assert_str_eq(fx_status_str(s, "cursor"), "1010");
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_stream_silence_past_the_idle_timeout_reconnects)
{
	struct harness h;

	h_start(&h, "{\"stream\":\"public\",\"idle_timeout_s\":1}", NULL);
	ck_assert(wait_streams(&h.fake, 1, 5000));
	int64_t t0 = clock_mono_ms();
	json_t *s = fx_wait_status_str(&h.bus, "last_error", "stream: no data for 1 s", 4000);
	ck_assert_int_ge(clock_mono_ms() - t0, 900);
	ck_assert_int_eq(fx_status_int(s, "consecutive_errors"), 1);
	json_decref(s);
	ck_assert(wait_streams(&h.fake, 2, 4000));
	/* Heartbeats keep a quiet stream open. */
	int64_t end = clock_mono_ms() + 2500;
	while (clock_mono_ms() < end) {
		stream_send(&h.fake, ":thump\n", 7);
		fx_sleep_ms(300);
	}
	ck_assert_int_eq(fake_streams(&h.fake), 2);
	s = fx_source_now(&h.bus);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_stream_refused_shows_the_server_error_and_backs_off)
{
	struct harness h;

	setenv("TRENDD_TEST_MASTODON_TOKEN", "secret-token", 1);
	h_server(&h);
	h.fake.stream_status = 401;
	h_ingest(&h, "{\"stream\":\"public\",\"access_token_env\":\"TRENDD_TEST_MASTODON_TOKEN\"}",
		 NULL);
	json_t *s = fx_wait_status_int(&h.bus, "consecutive_errors", 2, 5000);
	ck_assert_str_eq(fx_status_str(s, "last_error"),
			 "HTTP 401 Unauthorized: This method requires an authenticated user");
	ck_assert_str_eq(fx_status_str(s, "state"), "backoff");
	ck_assert(json_is_string(json_object_get(fx_status_of(s), "next_poll")));
	/* The token goes out in the header and nowhere else. */
	char *text = json_dumps(s, 0);
	ck_assert_ptr_null(strstr(text, "secret-token"));
	free(text);
	json_decref(s);
	ck_assert_ptr_nonnull(strstr(fake_req(&h.fake, 0).headers,
				     "Authorization: Bearer secret-token\r\n"));
	h_stop(&h);
	unsetenv("TRENDD_TEST_MASTODON_TOKEN");
}
END_TEST

START_TEST(test_mastodon_stream_source_removed_while_streaming_closes_it)
{
	struct harness h;
	char c;

	h_start(&h, "{\"stream\":\"public\"}", NULL);
	ck_assert(wait_streams(&h.fake, 1, 5000));
	stream_update(&h.fake, 5);
	int ids[1];
	ck_assert_uint_eq(take_ids(&h.bus, ids, 1, 3000), 1);
	ck_assert_int_eq(ingest_source_remove(h.ig, 1), 0);
	/* trendd hangs up: the server's end reads the close. */
	pthread_mutex_lock(&h.fake.mu);
	int fd = h.fake.stream_fd;
	pthread_mutex_unlock(&h.fake.mu);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 3000), 1);
	ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_poll_follows_prev_links_up_to_max_catchup_pages)
{
	struct harness h;
	int ids[32];
	char targets[8][1024];

	h_server(&h);
	fake_add(&h.fake, 1001, 1030);
	h_ingest(&h, "{\"limit\":5,\"max_catchup_pages\":3}", "1000");
	ck_assert_uint_eq(take_ids(&h.bus, ids, 30, 4000), 30);
	assert_each_once(ids, 30, 1001, 1030);
	/*
	 * Three pages back to back - the first from the cursor, the others
	 * from the rel="prev" links - then the round ends at the cap, and the
	 * next one, at the interval, starts again from the cursor.
	 */
	ck_assert_int_ge(fake_find(&h.fake, "/timelines/", targets, 8), 6);
	ck_assert_str_eq(targets[0], "/api/v1/timelines/public?limit=5&min_id=1000");
	ck_assert_str_eq(targets[1], "/api/v1/timelines/public?limit=5&min_id=1005&via=link");
	ck_assert_str_eq(targets[2], "/api/v1/timelines/public?limit=5&min_id=1010&via=link");
	ck_assert_str_eq(targets[3], "/api/v1/timelines/public?limit=5&min_id=1015");
	ck_assert_str_eq(targets[4], "/api/v1/timelines/public?limit=5&min_id=1020&via=link");
	json_t *s = fx_wait_status_str(&h.bus, "cursor", "1030", 2000);
	ck_assert_ptr_null(json_object_get(fx_status_of(s), "stream"));   /* polled, not streamed */
	ck_assert_int_eq(fx_status_int(s, "posts_seen"), 30);
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_poll_builds_the_next_page_when_links_leave_the_server)
{
	struct harness h;
	int ids[32];
	char targets[8][1024];

	h_server(&h);
	h.fake.foreign_links = true;
	fake_add(&h.fake, 1001, 1012);
	h_ingest(&h, "{\"limit\":5}", "1000");
	ck_assert_uint_eq(take_ids(&h.bus, ids, 12, 3000), 12);
	assert_each_once(ids, 12, 1001, 1012);
	ck_assert_int_ge(fake_find(&h.fake, "/timelines/", targets, 8), 3);
	ck_assert_str_eq(targets[1], "/api/v1/timelines/public?limit=5&min_id=1005");
	ck_assert_str_eq(targets[2], "/api/v1/timelines/public?limit=5&min_id=1010");
	h_stop(&h);
}
END_TEST

START_TEST(test_mastodon_stream_settings_are_checked)
{
	static const char *const bad[] = {
		"{\"stream\":\"user\"}",
		"{\"stream\":\"hashtag\"}",
		"{\"stream\":\"public\",\"idle_timeout_s\":0}",
		"{\"max_catchup_pages\":0}",
		"{\"max_catchup_pages\":101}",
		"{\"access_token_env\":\"TRENDD_TEST_UNSET_VARIABLE\"}",
	};
	struct source_config c = { .id = 1, .enabled = true, .url = (char *)"https://m.example" };
	char err[200];

	snprintf(c.kind, sizeof c.kind, "mastodon");
	unsetenv("TRENDD_TEST_UNSET_VARIABLE");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c.params_json = (char *)bad[i];
		err[0] = 0;
		ck_assert_msg(ingest_source_check(&c, err, sizeof err) == -EINVAL, "case %zu", i);
		ck_assert_msg(strlen(err) > 10, "case %zu: '%s'", i, err);
	}
	c.params_json = (char *)"{\"stream\":\"hashtag:local\",\"tag\":\"#x\",\"limit\":10,"
				"\"max_catchup_pages\":100,\"idle_timeout_s\":30}";
	ck_assert_int_eq(ingest_source_check(&c, err, sizeof err), 0);

	/* The stream's name says the timeline; a "timeline" sent along is ignored. */
	void *st = NULL;
	c.params_json = (char *)"{\"stream\":\"public:remote\",\"timeline\":\"tag\",\"local\":true}";
	ck_assert_int_eq(source_kind_mastodon.setup(&c, &st, err, sizeof err), 0);
	const struct mastodon_settings *set = st;
	ck_assert_int_eq(set->timeline, MASTODON_TL_PUBLIC);
	ck_assert(!set->local);
	ck_assert(set->remote);
	ck_assert_str_eq(set->stream, "public:remote");
	struct strbuf u = STRBUF_INIT;
	ck_assert_int_eq(mastodon_stream_url(set, "https://m.example/", &u), 0);
	ck_assert_str_eq(u.buf, "https://m.example/api/v1/streaming/public/remote");
	sb_reset(&u);
	ck_assert_int_eq(mastodon_timeline_url(set, "https://m.example", "7", &u), 0);
	ck_assert_str_eq(u.buf, "https://m.example/api/v1/timelines/public?limit=40&remote=true&min_id=7");
	sb_free(&u);
	source_kind_mastodon.release(st);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("source_mastodon_stream");
	TCase *tc = tcase_create("stream");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mastodon_stream_reads_captured_updates_and_ignores_other_events);
	tcase_add_test(tc, test_mastodon_stream_counts_bad_events_and_keeps_going);
	tcase_add_test(tc, test_mastodon_stream_reconnects_and_catches_up_without_gaps_or_duplicates);
	tcase_add_test(tc, test_mastodon_stream_catches_up_from_stored_cursor_up_to_the_page_cap);
	tcase_add_test(tc, test_mastodon_stream_silence_past_the_idle_timeout_reconnects);
	tcase_add_test(tc, test_mastodon_stream_refused_shows_the_server_error_and_backs_off);
	tcase_add_test(tc, test_mastodon_stream_source_removed_while_streaming_closes_it);
	tcase_add_test(tc, test_mastodon_poll_follows_prev_links_up_to_max_catchup_pages);
	tcase_add_test(tc, test_mastodon_poll_builds_the_next_page_when_links_leave_the_server);
	tcase_add_test(tc, test_mastodon_stream_settings_are_checked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(stream_suite());
}
