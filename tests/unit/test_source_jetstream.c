/*
 * Unit tests for ingest/source_jetstream.c (settings, the subscribe URL) and
 * ingest/jetstream.c (the libwebsockets client thread), the latter run by the
 * real ingest thread against a WebSocket server written here on raw sockets,
 * so that a test controls every frame: it replays the captured Jetstream
 * corpus (tests/fixtures/jetstream), fragments messages, sends frames over
 * the cap or binary ones, and drops the connection mid-stream.
 *
 * The kind table is this file's own (source_kind_find below).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/feed_jetstream.h"
#include "ingest/ingest.h"
#include "ingest/source_jetstream.h"
#include "tests/unit/fixture_http.h"
#include "tests/unit/testutil.h"

const struct source_kind *source_kind_find(const char *name)
{
	return strcmp(name, "jetstream") ? NULL : &source_kind_jetstream;
}

/* ---- settings ---- */

static int settings(const char *url, const char *params, struct jetstream_settings **out,
		    char *err, size_t cap)
{
	struct source_config c = { .id = 1, .enabled = true, .url = (char *)url,
				   .params_json = (char *)params };
	void *st = NULL;
	snprintf(c.kind, sizeof c.kind, "jetstream");
	int rc = source_kind_jetstream.setup(&c, &st, err, cap);
	*out = st;
	return rc;
}

static void path_of(const char *url, const char *params, int64_t cursor, char *out, size_t cap)
{
	struct jetstream_settings *st;
	struct strbuf sb = STRBUF_INIT;
	char err[200] = "";

	ck_assert_msg(settings(url, params, &st, err, sizeof err) == 0, "%s: %s", url, err);
	ck_assert_int_eq(jetstream_subscribe_path(st, cursor, &sb), 0);
	snprintf(out, cap, "%s", sb.buf);
	sb_free(&sb);
	source_kind_jetstream.release(st);
}

START_TEST(test_jetstream_settings_build_the_subscribe_url)
{
	struct jetstream_settings *st;
	char p[512], err[200];

	ck_assert_int_eq(settings("wss://jetstream2.us-east.bsky.network/subscribe", NULL, &st, err,
				  sizeof err), 0);
	ck_assert(st->tls);
	ck_assert_str_eq(st->host, "jetstream2.us-east.bsky.network");
	ck_assert_int_eq(st->port, 443);
	ck_assert_int_eq(st->rewind_us, 5000000);
	source_kind_jetstream.release(st);

	path_of("wss://jetstream2.us-east.bsky.network/subscribe", "{}", 0, p, sizeof p);
	ck_assert_str_eq(p, "/subscribe?wantedCollections=app.bsky.feed.post");
	/* Resuming rewinds by rewind_s, since time_us is not monotonic. */
	path_of("wss://jetstream2.us-east.bsky.network/subscribe", "{}", 1783175888403568, p,
		sizeof p);
	ck_assert_str_eq(p, "/subscribe?wantedCollections=app.bsky.feed.post&cursor=1783175883403568");
	path_of("ws://127.0.0.1:6008", "{\"rewind_s\":0}", 1783175888403568, p, sizeof p);
	ck_assert_str_eq(p, "/subscribe?wantedCollections=app.bsky.feed.post&cursor=1783175888403568");
	path_of("ws://[::1]:6008/subscribe?compress=false",
		"{\"wantedCollections\":[\"app.bsky.feed.*\",\"app.bsky.graph.follow\"],"
		"\"wantedDids\":[\"did:plc:abc\",\"did:web:example.com\"]}", 0, p, sizeof p);
	ck_assert_str_eq(p, "/subscribe?compress=false&wantedCollections=app.bsky.feed.%2A"
			    "&wantedCollections=app.bsky.graph.follow&wantedDids=did%3Aplc%3Aabc"
			    "&wantedDids=did%3Aweb%3Aexample.com");
	/* Every collection: no filter at all. */
	path_of("ws://h/x?", "{\"wantedCollections\":[]}", 5, p, sizeof p);
	ck_assert_str_eq(p, "/x?cursor=1");
	ck_assert_int_eq(settings("ws://[::1]:6008/s", NULL, &st, err, sizeof err), 0);
	ck_assert_str_eq(st->host, "::1");
	ck_assert_int_eq(st->port, 6008);
	ck_assert(!st->tls);
	source_kind_jetstream.release(st);

	ck_assert_int_eq(jetstream_cursor_parse("1783175888403568"), 1783175888403568);
	ck_assert_int_eq(jetstream_cursor_parse(""), 0);
	ck_assert_int_eq(jetstream_cursor_parse("117024236559579118x"), 0);
	ck_assert_int_eq(jetstream_cursor_parse("-5"), 0);
}
END_TEST

START_TEST(test_jetstream_settings_reject_bad_values)
{
	static const char *const bad[][2] = {
		{ "https://jetstream.example/subscribe", NULL },
		{ "ws://", NULL },
		{ "ws://:80/subscribe", NULL },
		{ "ws://h:99999/subscribe", NULL },
		{ "ws://h:x/subscribe", NULL },
		{ "ws://user:pw@h/subscribe", NULL },
		{ "ws://h/sub scribe", NULL },
		{ "ws://[::1/subscribe", NULL },
		{ "ws://h/subscribe", "[]" },
		{ "ws://h/subscribe", "{\"wantedCollections\":\"app.bsky.feed.post\"}" },
		{ "ws://h/subscribe", "{\"wantedCollections\":[\"post\"]}" },
		{ "ws://h/subscribe", "{\"wantedCollections\":[\"app.bsky.*.post\"]}" },
		{ "ws://h/subscribe", "{\"wantedDids\":[\"plc:abc\"]}" },
		{ "ws://h/subscribe", "{\"wantedDids\":[\"did:plc:a&cursor=1\"]}" },
		{ "ws://h/subscribe", "{\"rewind_s\":-1}" },
		{ "ws://h/subscribe", "{\"idle_timeout_s\":1}" },
	};
	struct jetstream_settings *st;
	char err[200];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_msg(settings(bad[i][0], bad[i][1], &st, err, sizeof err) == -EINVAL,
			      "case %zu", i);
		ck_assert_ptr_null(st);
		ck_assert_msg(strlen(err) > 10, "case %zu: '%s'", i, err);
	}
	/* 101 DIDs are more than a URL should carry. */
	struct strbuf many = STRBUF_INIT;
	sb_puts(&many, "{\"wantedDids\":[");
	for (int i = 0; i <= JETSTREAM_DIDS_MAX; i++)
		sb_printf(&many, "%s\"did:plc:%d\"", i ? "," : "", i);
	sb_puts(&many, "]}");
	ck_assert_int_eq(settings("ws://h/subscribe", many.buf, &st, err, sizeof err), -EINVAL);
	sb_free(&many);

	/* The API's check takes ws:// for this kind, not http://. */
	struct source_config c = { .url = (char *)"wss://jetstream.example/subscribe",
				   .params_json = (char *)"{}" };
	snprintf(c.kind, sizeof c.kind, "jetstream");
	ck_assert_int_eq(ingest_source_check(&c, err, sizeof err), 0);
	c.url = (char *)"http://jetstream.example/subscribe";
	ck_assert_int_eq(ingest_source_check(&c, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "ws://"));
}
END_TEST

/* ---- a WebSocket server on raw sockets ---- */

#define MAX_CONNS 8

struct wss {
	struct fx_listener lis;
	uint16_t port;
	pthread_mutex_t mu;
	char targets[MAX_CONNS][1024];   /* request target of each connection */
	int conns[MAX_CONNS];
	int nconns;
};

static void handshake(void *arg, int c)
{
	struct wss *s = arg;
	char buf[4096], key[128] = "", accept_key[64], both[256];
	unsigned char sha[20];

	fx_read_head(c, buf, sizeof buf);
	const char *k = strcasestr(buf, "\r\nSec-WebSocket-Key:");
	if (k) {
		k += 20;
		while (*k == ' ')
			k++;
		snprintf(key, sizeof key, "%.*s", (int)strcspn(k, "\r\n"), k);
	}
	snprintf(both, sizeof both, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	lws_SHA1((const unsigned char *)both, strlen(both), sha);
	lws_b64_encode_string((const char *)sha, 20, accept_key, sizeof accept_key);
	char resp[256];
	int rn = snprintf(resp, sizeof resp,
			  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept_key);
	fx_send_all(c, resp, (size_t)rn);
	pthread_mutex_lock(&s->mu);
	if (s->nconns < MAX_CONNS) {
		const char *sp = strchr(buf, ' ');
		snprintf(s->targets[s->nconns], sizeof s->targets[0], "%.*s",
			 sp ? (int)strcspn(sp + 1, " ") : 0, sp ? sp + 1 : "");
		s->conns[s->nconns++] = c;
	} else {
		close(c);
	}
	pthread_mutex_unlock(&s->mu);
}

static void wss_start(struct wss *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	fx_listener_start(&s->lis, 16, &s->port, handshake, s);
}

static void wss_stop(struct wss *s)
{
	fx_listener_stop(&s->lis);
	for (int i = 0; i < s->nconns; i++)
		if (s->conns[i] >= 0)
			close(s->conns[i]);
}

static bool wss_wait(struct wss *s, int n, int timeout_ms)
{
	return fx_wait_locked_int(&s->mu, &s->nconns, n, timeout_ms);
}

static int wss_conn(struct wss *s, int i)
{
	pthread_mutex_lock(&s->mu);
	int c = s->conns[i];
	pthread_mutex_unlock(&s->mu);
	return c;
}

/* One unmasked frame: fin, opcode (1 text, 2 binary, 0 continuation, 8 close). */
static void ws_frame(int c, bool fin, int opcode, const char *data, size_t len)
{
	unsigned char h[10];
	size_t hl = 2;

	h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		h[1] = (unsigned char)len;
	} else if (len < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	fx_send_all(c, h, hl);
	fx_send_all(c, data, len);
}

/* Drops the connection without a close frame, as a crashed server would. */
static void ws_drop(struct wss *s, int i)
{
	pthread_mutex_lock(&s->mu);
	int c = s->conns[i];
	s->conns[i] = -1;
	pthread_mutex_unlock(&s->mu);
	shutdown(c, SHUT_RDWR);
	close(c);
}

/* ---- the corpus ---- */

struct corpus {
	char *buf;
	const char *line[200];
	size_t len[200];
	int64_t time_us[200];
	bool is_post[200];
	size_t n;
};

static void corpus_load(struct corpus *c)
{
	size_t total;
	c->buf = tu_read_fixture("jetstream/corpus_expected_v1.jsonl", &total);
	c->n = 0;
	for (char *p = c->buf; p < c->buf + total && c->n < 200;) {
		char *nl = memchr(p, '\n', (size_t)(c->buf + total - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(c->buf + total - p);
		struct jetstream_event ev;
		ck_assert_int_eq(jetstream_event_parse(p, n, 1, &ev), 0);
		c->line[c->n] = p;
		c->len[c->n] = n;
		c->time_us[c->n] = ev.time_us;
		c->is_post[c->n] = ev.kind == JETSTREAM_POST;
		post_free(ev.post);
		c->n++;
		p = nl ? nl + 1 : c->buf + total;
	}
	ck_assert_uint_eq(c->n, 152);
}

/* ---- the ingest side ---- */

struct harness {
	struct bus bus;
	struct wss srv;
	struct ingest *ig;
	char url[64];
};

/* port 0: the test's server. */
static void h_start_port(struct harness *h, uint16_t port, const char *params, const char *cursor)
{
	struct ingest_config cfg = { .interval_ms = 300, .no_jitter = true };
	struct source_config sc = { .id = 7, .enabled = true, .interval_s = 60, .name = "bsky" };

	lws_set_log_level(LLL_ERR, NULL);
	ck_assert_int_eq(bus_init(&h->bus), 0);
	wss_start(&h->srv);
	snprintf(h->url, sizeof h->url, "ws://127.0.0.1:%u/subscribe", port ? port : h->srv.port);
	snprintf(sc.kind, sizeof sc.kind, "jetstream");
	sc.url = h->url;
	sc.params_json = (char *)params;
	sc.cursor = (char *)(cursor ? cursor : "");
	ck_assert_int_eq(ingest_start(&h->ig, &cfg, &h->bus, &sc, 1), 0);
}

static void h_start(struct harness *h, const char *params, const char *cursor)
{
	h_start_port(h, 0, params, cursor);
}

static void h_stop(struct harness *h)
{
	if (h->ig)
		ingest_stop(h->ig);
	wss_stop(&h->srv);
	fx_drain_posts(&h->bus);
	bus_destroy(&h->bus);
}

/* Takes up to max posts, waiting at most timeout_ms; their ids go to ids (caller frees). */
static size_t take_posts(struct bus *b, char **ids, size_t max, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	size_t got = 0;
	while (got < max) {
		struct post *p;
		int64_t left = end - clock_mono_ms();
		if (left <= 0 || queue_pop_batch(&b->posts, (void **)&p, 1, (int)left) != 1)
			break;
		ck_assert_int_eq(p->source_id, 7);
		ids[got++] = strdup(p->id);
		post_free(p);
	}
	return got;
}

START_TEST(test_jetstream_source_resumes_after_a_drop_without_loss_or_duplicates)
{
	struct harness h;
	struct corpus c;
	char *ids[64], want_path[256];
	const size_t cut = 100;
	size_t posts_before = 0;
	int64_t max_before = 0;

	corpus_load(&c);
	h_start(&h, "{}", NULL);
	ck_assert(wss_wait(&h.srv, 1, 5000));
	pthread_mutex_lock(&h.srv.mu);
	ck_assert_str_eq(h.srv.targets[0], "/subscribe?wantedCollections=app.bsky.feed.post");
	pthread_mutex_unlock(&h.srv.mu);

	/* The first 100 events, every fifth one in three fragments; then the server dies. */
	int fd = wss_conn(&h.srv, 0);
	for (size_t i = 0; i < cut; i++) {
		if (i % 5 == 0 && c.len[i] > 10) {
			ws_frame(fd, false, 1, c.line[i], 4);
			ws_frame(fd, false, 0, c.line[i] + 4, 5);
			ws_frame(fd, true, 0, c.line[i] + 9, c.len[i] - 9);
		} else {
			ws_frame(fd, true, 1, c.line[i], c.len[i]);
		}
		posts_before += c.is_post[i];
		if (c.time_us[i] > max_before)
			max_before = c.time_us[i];
	}
	ck_assert_uint_eq(take_posts(&h.bus, ids, posts_before, 5000), posts_before);
	ws_drop(&h.srv, 0);
	json_t *s = fx_wait_status_str(&h.bus, "last_error", "the connection closed", 5000);
	ck_assert_str_eq(fx_status_str(s, "state"), "backoff");
	json_decref(s);

	/* It comes back asking for the greatest time_us seen, rewound by 5 s... */
	ck_assert(wss_wait(&h.srv, 2, 5000));
	snprintf(want_path, sizeof want_path,
		 "/subscribe?wantedCollections=app.bsky.feed.post&cursor=%" PRId64,
		 max_before - 5000000);
	pthread_mutex_lock(&h.srv.mu);
	ck_assert_str_eq(h.srv.targets[1], want_path);
	pthread_mutex_unlock(&h.srv.mu);
	/* ...and the server replays from there: every event again, then the rest. */
	fd = wss_conn(&h.srv, 1);
	for (size_t i = 0; i < c.n; i++)
		ws_frame(fd, true, 1, c.line[i], c.len[i]);

	size_t got = posts_before + take_posts(&h.bus, ids + posts_before, 17 - posts_before, 5000);
	got += take_posts(&h.bus, ids + got, 64 - got, 300);
	ck_assert_uint_eq(got, 17);   /* every post of the corpus, once */
	for (size_t i = 0; i < got; i++)
		for (size_t j = i + 1; j < got; j++)
			ck_assert_str_ne(ids[i], ids[j]);

	s = fx_wait_status_int(&h.bus, "posts_seen", 17, 3000);
	json_decref(s);
	s = fx_wait_status_str(&h.bus, "cursor", "1783175888403568", 3000);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	ck_assert(json_is_null(json_object_get(fx_status_of(s), "next_poll")));
	ck_assert(json_is_null(json_object_get(fx_status_of(s), "last_error")));
	ck_assert_int_eq(fx_status_int(s, "posts_seen"), 17);
	ck_assert_int_eq(fx_status_int(s, "items_skipped"), 0);
	ck_assert_int_eq(fx_status_int(s, "polls"), 2);
	ck_assert_int_eq(fx_stream_int(s, "connects"), 2);
	ck_assert_int_eq(fx_stream_int(s, "events"), (json_int_t)(cut + c.n));
	ck_assert_int_eq(fx_stream_int(s, "duplicates"), (json_int_t)posts_before);
	ck_assert_int_eq(fx_stream_int(s, "ignored"), (json_int_t)(cut + c.n - 17 - posts_before));
	ck_assert_int_eq(fx_stream_int(s, "resumed_from"), max_before - 5000000);
	json_decref(s);
	for (size_t i = 0; i < got; i++)
		free(ids[i]);
	free(c.buf);
	h_stop(&h);
}
END_TEST

START_TEST(test_jetstream_source_starts_from_its_stored_cursor)
{
	struct harness h;

	h_start(&h, "{\"rewind_s\":2,\"wantedDids\":[\"did:plc:abc\"]}", "1783175888403568");
	ck_assert(wss_wait(&h.srv, 1, 5000));
	pthread_mutex_lock(&h.srv.mu);
	ck_assert_str_eq(h.srv.targets[0], "/subscribe?wantedCollections=app.bsky.feed.post"
					   "&wantedDids=did%3Aplc%3Aabc&cursor=1783175886403568");
	pthread_mutex_unlock(&h.srv.mu);
	json_t *s = fx_wait_status_int(&h.bus, "polls", 1, 3000);
	ck_assert_str_eq(fx_status_str(s, "cursor"), "1783175888403568");
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_jetstream_source_skips_oversize_and_binary_messages)
{
	struct harness h;
	char *ids[4];
	const char *post = "{\"did\":\"did:plc:a\",\"time_us\":1700000000000000,\"kind\":\"commit\","
			   "\"commit\":{\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
			   "\"rkey\":\"3k\",\"record\":{\"text\":\"after\",\"createdAt\":"
			   "\"2026-11-25T12:00:00Z\"}}}";

	h_start(&h, "{}", NULL);
	ck_assert(wss_wait(&h.srv, 1, 5000));
	int fd = wss_conn(&h.srv, 0);
	size_t big = JETSTREAM_EVENT_MAX + 100;
	char *junk = malloc(big);
	memset(junk, 'x', big);
	ws_frame(fd, false, 1, junk, big / 2);           /* over the cap across fragments */
	ws_frame(fd, true, 0, junk, big - big / 2);
	ws_frame(fd, true, 2, "\x28\xb5\x2f\xfd", 4);     /* a zstd frame: not asked for */
	ws_frame(fd, true, 1, "{\"did\":", 7);           /* cut JSON */
	ws_frame(fd, true, 1, post, strlen(post));
	free(junk);
	ck_assert_uint_eq(take_posts(&h.bus, ids, 1, 5000), 1);
	ck_assert_uint_eq(take_posts(&h.bus, ids + 1, 3, 200), 0);
	ck_assert_str_eq(ids[0], "at://did:plc:a/app.bsky.feed.post/3k");
	free(ids[0]);
	json_t *s = fx_wait_status_int(&h.bus, "items_skipped", 3, 3000);
	ck_assert_int_eq(fx_status_int(s, "items_skipped"), 3);
	ck_assert_int_eq(fx_status_int(s, "posts_seen"), 1);
	ck_assert_str_eq(fx_status_str(s, "state"), "ok");
	json_decref(s);
	h_stop(&h);
}
END_TEST

START_TEST(test_jetstream_source_unreachable_backs_off_and_can_be_removed)
{
	struct harness h;

	/* Nothing listens: every attempt fails, further apart each time. */
	h_start_port(&h, fx_closed_port(), "{}", NULL);
	json_t *s = fx_wait_status_int(&h.bus, "consecutive_errors", 2, 8000);
	ck_assert_str_eq(fx_status_str(s, "state"), "backoff");
	ck_assert_ptr_nonnull(strstr(fx_status_str(s, "last_error"), "could not connect"));
	ck_assert(json_is_string(json_object_get(fx_status_of(s), "next_poll")));
	json_decref(s);
	ck_assert_int_eq(ingest_source_remove(h.ig, 7), 0);
	int64_t end = clock_mono_ms() + 3000;
	for (;;) {
		struct ref *r = publish_get(&h.bus.sources);
		const struct blob *bl = (const struct blob *)r;
		bool empty = bl && bl->len == 2;
		ref_put(r);
		if (empty)
			break;
		ck_assert(clock_mono_ms() < end);
		fx_sleep_ms(10);
	}
	h_stop(&h);
}
END_TEST

static Suite *jetstream_suite(void)
{
	Suite *s = suite_create("source_jetstream");
	TCase *tc = tcase_create("settings");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_jetstream_settings_build_the_subscribe_url);
	tcase_add_test(tc, test_jetstream_settings_reject_bad_values);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_jetstream_source_resumes_after_a_drop_without_loss_or_duplicates);
	tcase_add_test(tc, test_jetstream_source_starts_from_its_stored_cursor);
	tcase_add_test(tc, test_jetstream_source_skips_oversize_and_binary_messages);
	tcase_add_test(tc, test_jetstream_source_unreachable_backs_off_and_can_be_removed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(jetstream_suite());
}
