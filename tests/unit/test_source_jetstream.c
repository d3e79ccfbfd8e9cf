/*
 * Unit tests for ingest/source_jetstream.c (settings, the subscribe URL,
 * where a source resumes) and ingest/jetstream.c (the libwebsockets client
 * thread and its cursor markers), the latter run by the
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
#include "core/dbmsg.h"
#include "core/hash.h"
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

/* ---- where a source resumes ---- */

static uint64_t id_hash(const char *id)
{
	return hash_bytes(id, strlen(id));
}

/* The number of ids in seen (ingest's compact form), checking its length. */
static uint32_t seen_count(const uint8_t *seen, size_t len)
{
	uint32_t n;

	ck_assert_uint_ge(len, 4);
	memcpy(&n, seen, 4);
	ck_assert_uint_eq(len, 4 + 8 * (size_t)n);
	return n;
}

static uint64_t seen_at(const uint8_t *seen, size_t i)
{
	uint64_t h;

	memcpy(&h, seen + 4 + 8 * i, 8);
	return h;
}

static void post_id(char *out, size_t cap, int i)
{
	snprintf(out, cap, "at://did:plc:r%d/app.bsky.feed.post/3k%d", i % 7, i);
}

START_TEST(test_jetstream_resume_marks_the_greatest_time_read_and_the_posts_queued)
{
	struct jetstream_resume *r = malloc(sizeof *r);
	const char *a = "at://did:plc:a/app.bsky.feed.post/1";
	const char *b = "at://did:plc:b/app.bsky.feed.post/2";

	ck_assert_int_eq(jetstream_resume_init(r, "", NULL, 0), 0);
	ck_assert_int_eq(r->cursor_us, 0);
	/* time_us steps back now and then: the cursor keeps the greatest. */
	jetstream_resume_read(r, 1783175888090631);
	jetstream_resume_add(r, a);
	jetstream_resume_read(r, 1783175888087611);
	jetstream_resume_add(r, b);
	jetstream_resume_read(r, 1783175888089000);
	ck_assert_int_eq(r->cursor_us, 1783175888090631);
	ck_assert(jetstream_resume_has(r, a));
	ck_assert(jetstream_resume_has(r, b));
	ck_assert(!jetstream_resume_has(r, "at://did:plc:a/app.bsky.feed.post/3"));

	struct post *m = jetstream_resume_marker(r, 7, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert(post_is_marker(m));
	const struct source_cursor *c = dbmsg_marker_cursor(m);
	ck_assert_int_eq(c->source_id, 7);
	ck_assert_str_eq(c->cursor, "1783175888090631");
	ck_assert_uint_eq(seen_count(c->seen, c->seen_len), 2);
	ck_assert(seen_at(c->seen, 0) == id_hash(a));   /* oldest first */
	ck_assert(seen_at(c->seen, 1) == id_hash(b));
	post_free(m);
	free(r);
}
END_TEST

START_TEST(test_jetstream_resume_marker_carries_the_newest_ids_a_checkpoint_keeps)
{
	struct jetstream_resume *r = malloc(sizeof *r);
	const int n = JETSTREAM_SEEN_IDS + 300;
	char id[96];

	ck_assert_int_eq(jetstream_resume_init(r, "1783175888085434", NULL, 0), 0);
	for (int i = 0; i < n; i++) {
		post_id(id, sizeof id, i);
		jetstream_resume_add(r, id);
	}
	/* The connection remembers JETSTREAM_SEEN_IDS for its reconnects... */
	post_id(id, sizeof id, n - JETSTREAM_SEEN_IDS);
	ck_assert(jetstream_resume_has(r, id));
	post_id(id, sizeof id, n - JETSTREAM_SEEN_IDS - 1);
	ck_assert(!jetstream_resume_has(r, id));
	/* ...a marker the newest INGEST_SEEN_IDS, the form ingest restores. */
	struct post *m = jetstream_resume_marker(r, 7, 0);
	ck_assert_ptr_nonnull(m);
	const struct source_cursor *c = dbmsg_marker_cursor(m);
	ck_assert_str_eq(c->cursor, "1783175888085434");
	ck_assert_uint_eq(seen_count(c->seen, c->seen_len), INGEST_SEEN_IDS);
	ck_assert_uint_eq(c->seen_len, INGEST_SEEN_MAX_BYTES);
	for (int i = 0; i < INGEST_SEEN_IDS; i++) {
		post_id(id, sizeof id, n - INGEST_SEEN_IDS + i);
		ck_assert_msg(seen_at(c->seen, (size_t)i) == id_hash(id), "id %d", i);
	}
	post_free(m);
	free(r);
}
END_TEST

START_TEST(test_jetstream_resume_restores_a_marker_and_drops_what_it_covers)
{
	struct jetstream_resume *r = malloc(sizeof *r), *back = malloc(sizeof *back);
	char id[96];

	ck_assert_int_eq(jetstream_resume_init(r, NULL, NULL, 0), 0);
	for (int i = 0; i < 2500; i++) {
		post_id(id, sizeof id, i);
		jetstream_resume_add(r, id);
		jetstream_resume_read(r, 1783175888000000 + i * 1000);
	}
	struct post *m = jetstream_resume_marker(r, 7, 0);
	const struct source_cursor *c = dbmsg_marker_cursor(m);

	ck_assert_int_eq(jetstream_resume_init(back, c->cursor, c->seen, c->seen_len), 0);
	ck_assert_int_eq(back->cursor_us, 1783175888000000 + 2499 * 1000);
	for (int i = 2500 - INGEST_SEEN_IDS; i < 2500; i++) {
		post_id(id, sizeof id, i);
		ck_assert_msg(jetstream_resume_has(back, id), "post %d", i);
	}
	post_id(id, sizeof id, 2500 - INGEST_SEEN_IDS - 1);
	ck_assert(!jetstream_resume_has(back, id));
	post_id(id, sizeof id, 2500);
	ck_assert(!jetstream_resume_has(back, id));
	/* Restored and marked again, nothing changes: a crash loop loses nothing. */
	struct post *m2 = jetstream_resume_marker(back, 7, 0);
	const struct source_cursor *c2 = dbmsg_marker_cursor(m2);
	ck_assert_str_eq(c2->cursor, c->cursor);
	ck_assert_uint_eq(c2->seen_len, c->seen_len);
	ck_assert_int_eq(memcmp(c2->seen, c->seen, c->seen_len), 0);
	/* Later posts go after the restored ones. */
	post_id(id, sizeof id, 2500);
	jetstream_resume_add(back, id);
	struct post *m3 = jetstream_resume_marker(back, 7, 0);
	const struct source_cursor *c3 = dbmsg_marker_cursor(m3);
	ck_assert_uint_eq(seen_count(c3->seen, c3->seen_len), INGEST_SEEN_IDS);
	ck_assert(seen_at(c3->seen, INGEST_SEEN_IDS - 1) == id_hash(id));
	ck_assert(seen_at(c3->seen, 0) == seen_at(c->seen, 1));
	post_free(m);
	post_free(m2);
	post_free(m3);
	free(r);
	free(back);
}
END_TEST

START_TEST(test_jetstream_resume_refuses_damaged_seen_ids)
{
	struct jetstream_resume *r = malloc(sizeof *r);
	uint8_t buf[4 + 8 * 3] = { 0 };
	uint32_t n = 3, big = INGEST_SEEN_IDS + 1;

	memcpy(buf, &n, 4);
	memset(buf + 4, 0xab, sizeof buf - 4);
	ck_assert_int_eq(jetstream_resume_init(r, "1783175888085434", buf, sizeof buf), 0);
	ck_assert_uint_eq(r->nseen, 3);
	/* Too short, a length that does not match the count, a count over the cap. */
	ck_assert_int_eq(jetstream_resume_init(r, "1783175888085434", buf, 3), -EINVAL);
	ck_assert_uint_eq(r->nseen, 0);
	ck_assert_int_eq(r->cursor_us, 1783175888085434);
	ck_assert_int_eq(jetstream_resume_init(r, "1783175888085434", buf, sizeof buf - 8), -EINVAL);
	ck_assert_uint_eq(r->nseen, 0);
	memcpy(buf, &big, 4);
	ck_assert_int_eq(jetstream_resume_init(r, "x", buf, sizeof buf), -EINVAL);
	ck_assert_uint_eq(r->nseen, 0);
	ck_assert_int_eq(r->cursor_us, 0);
	free(r);
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
	char *id[200];        /* owned: a post's id, else NULL */
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
		c->id[c->n] = ev.post ? strdup(ev.post->id) : NULL;
		post_free(ev.post);
		c->n++;
		p = nl ? nl + 1 : c->buf + total;
	}
	ck_assert_uint_eq(c->n, 152);
}

static void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->id[i]);
	free(c->buf);
}

/* ---- the ingest side ---- */

struct harness {
	struct bus bus;
	struct wss srv;
	struct ingest *ig;
	char url[64];
};

/*
 * port 0: the test's server. markers: ingest's cursor_markers (the daemon's
 * setting); restore: seen ids of a checkpoint (NULL: none).
 */
static void h_start_full(struct harness *h, uint16_t port, const char *params, const char *cursor,
			 bool markers, const struct source_cursor *restore)
{
	struct ingest_config cfg = { .interval_ms = 300, .no_jitter = true,
				     .cursor_markers = markers, .restore = restore,
				     .nrestore = restore ? 1 : 0 };
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

static void h_start_port(struct harness *h, uint16_t port, const char *params, const char *cursor)
{
	h_start_full(h, port, params, cursor, false, NULL);
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
	corpus_free(&c);
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

/* ---- cursor markers (exactly-once) ---- */

/* One item off the post queue: a post, or a cursor marker. */
struct item {
	bool marker;
	char *text;           /* owned: the post's id, or the marker's cursor */
	uint8_t *seen;        /* owned: a marker's seen ids */
	size_t seen_len;
};

static void items_free(struct item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(it[i].text);
		free(it[i].seen);
	}
}

/* Takes items until the last one is a marker with cursor want, or the time is up. */
static size_t take_until_marked(struct bus *b, struct item *out, size_t max, int64_t want,
				int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	char w[24];
	size_t got = 0;

	snprintf(w, sizeof w, "%" PRId64, want);
	while (got < max) {
		struct post *p;
		int64_t left = end - clock_mono_ms();
		if (left <= 0 || queue_pop_batch(&b->posts, (void **)&p, 1, (int)left) != 1)
			break;
		ck_assert_int_eq(p->source_id, 7);
		const struct source_cursor *c = dbmsg_marker_cursor(p);
		struct item *it = &out[got++];
		it->marker = c != NULL;
		it->text = strdup(c ? c->cursor : p->id);
		it->seen = NULL;
		it->seen_len = c ? c->seen_len : 0;
		if (c && c->seen_len) {
			it->seen = malloc(c->seen_len);
			memcpy(it->seen, c->seen, c->seen_len);
		}
		post_free(p);
		if (it->marker && !strcmp(it->text, w))
			break;
	}
	return got;
}

static int64_t corpus_time_of(const struct corpus *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->id[i] && !strcmp(c->id[i], id))
			return c->time_us[i];
	ck_abort_msg("%s is not a post of the corpus", id);
	return 0;
}

/*
 * Checks the markers among items: each carries the ids of exactly the posts
 * queued before it in this run (plus restored ones), newest last, and a
 * cursor at or past every post before it, never decreasing.
 */
static void check_markers(const struct corpus *c, const struct item *it, size_t n,
			  size_t restored)
{
	size_t posts = 0, markers = 0;
	int64_t greatest = 0, last_cursor = 0;
	const char *last_post = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!it[i].marker) {
			int64_t t = corpus_time_of(c, it[i].text);
			greatest = t > greatest ? t : greatest;
			last_post = it[i].text;
			posts++;
			continue;
		}
		markers++;
		int64_t cur = strtoll(it[i].text, NULL, 10);
		ck_assert_int_ge(cur, greatest);
		ck_assert_int_ge(cur, last_cursor);
		last_cursor = cur;
		ck_assert_uint_eq(seen_count(it[i].seen, it[i].seen_len), restored + posts);
		if (last_post)
			ck_assert(seen_at(it[i].seen, restored + posts - 1) == id_hash(last_post));
	}
	ck_assert_uint_ge(markers, 1);
}

/* The corpus in time_us order, as Jetstream replays it from a cursor. */
static void corpus_time_order(const struct corpus *c, size_t *order)
{
	for (size_t i = 0; i < c->n; i++)
		order[i] = i;
	for (size_t i = 1; i < c->n; i++)
		for (size_t j = i; j > 0 && c->time_us[order[j]] < c->time_us[order[j - 1]]; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/*
 * The posts among items (markers skipped) are each once and none of the ids
 * queued before (first[0..nfirst)); returns how many.
 */
static size_t posts_fresh_once(const struct item *it, size_t n, char *const *first, size_t nfirst)
{
	size_t fresh = 0;
	for (size_t i = 0; i < n; i++) {
		if (it[i].marker)
			continue;
		fresh++;
		for (size_t k = 0; k < nfirst; k++)
			ck_assert_str_ne(it[i].text, first[k]);
		for (size_t k = i + 1; k < n; k++)
			ck_assert(it[k].marker || strcmp(it[i].text, it[k].text));
	}
	return fresh;
}

START_TEST(test_jetstream_source_puts_a_marker_behind_its_posts)
{
	struct harness h;
	struct corpus c;
	struct item it[200];
	const size_t cut = 100;
	size_t posts = 0, n;
	int64_t max_before = 0;

	corpus_load(&c);
	h_start_full(&h, 0, "{}", NULL, true, NULL);
	ck_assert(wss_wait(&h.srv, 1, 5000));
	int fd = wss_conn(&h.srv, 0);
	for (size_t i = 0; i < cut; i++) {
		ws_frame(fd, true, 1, c.line[i], c.len[i]);
		posts += c.is_post[i];
		if (c.time_us[i] > max_before)
			max_before = c.time_us[i];
		if (i % 10 == 9)
			fx_sleep_ms(5);   /* several bursts */
	}
	n = take_until_marked(&h.bus, it, 200, max_before, 5000);
	ck_assert_uint_gt(n, posts);
	/* Every post once, the last item a marker with the greatest time_us read. */
	ck_assert(it[n - 1].marker);
	ck_assert_str_eq(it[n - 1].text, "1783175888277907");
	ck_assert_int_eq(max_before, 1783175888277907);
	size_t got = 0;
	for (size_t i = 0; i < n; i++)
		got += !it[i].marker;
	ck_assert_uint_eq(got, posts);
	check_markers(&c, it, n, 0);
	/* The ingest thread reports the cursor for the status without a marker of its own. */
	json_t *s = fx_wait_status_str(&h.bus, "cursor", "1783175888277907", 3000);
	json_decref(s);
	struct post *p;
	ck_assert_int_eq(queue_pop_batch(&h.bus.posts, (void **)&p, 1, 300), 0);
	items_free(it, n);
	corpus_free(&c);
	h_stop(&h);
}
END_TEST

/*
 * A stream read in two parts: a first connection gets the corpus' first
 * `cut` events, a second one - after a restart or a settings edit - the
 * whole corpus again, in time_us order, as Jetstream replays it from the
 * rewound cursor.
 */
struct two_runs {
	struct corpus c;
	struct item it[200], again[200];   /* the items of each part */
	size_t n, m;
	size_t posts_before;               /* posts among the first `cut` events */
	int64_t max_before, max_all;       /* greatest time_us of the first part, of all */
	char *first_ids[64];               /* owned: ids the first part queued */
	size_t nfirst;
};

/* Starts h with markers and feeds it the first part; r->it ends with the marker behind it. */
static void first_run(struct harness *h, struct two_runs *r, size_t cut)
{
	memset(r, 0, sizeof *r);
	corpus_load(&r->c);
	for (size_t i = 0; i < r->c.n; i++) {
		if (i < cut) {
			r->posts_before += r->c.is_post[i];
			if (r->c.time_us[i] > r->max_before)
				r->max_before = r->c.time_us[i];
		}
		if (r->c.time_us[i] > r->max_all)
			r->max_all = r->c.time_us[i];
	}
	h_start_full(h, 0, "{}", NULL, true, NULL);
	ck_assert(wss_wait(&h->srv, 1, 5000));
	int fd = wss_conn(&h->srv, 0);
	for (size_t i = 0; i < cut; i++)
		ws_frame(fd, true, 1, r->c.line[i], r->c.len[i]);
	r->n = take_until_marked(&h->bus, r->it, 200, r->max_before, 5000);
	ck_assert(r->n > 0 && r->it[r->n - 1].marker);
	for (size_t i = 0; i < r->n; i++)
		if (!r->it[i].marker)
			r->first_ids[r->nfirst++] = strdup(r->it[i].text);
	ck_assert_uint_eq(r->nfirst, r->posts_before);
}

/*
 * The second part on connection conn: it asked for the first part's cursor
 * minus the 5 s rewind; the whole corpus is replayed to it, and exactly the
 * posts the first part had not queued come out - none lost, none twice.
 * Returns how many.
 */
static size_t second_run(struct harness *h, struct two_runs *r, int conn)
{
	char want_path[256];
	size_t order[200];

	snprintf(want_path, sizeof want_path,
		 "/subscribe?wantedCollections=app.bsky.feed.post&cursor=%" PRId64,
		 r->max_before - 5000000);
	pthread_mutex_lock(&h->srv.mu);
	ck_assert_str_eq(h->srv.targets[conn], want_path);
	pthread_mutex_unlock(&h->srv.mu);
	corpus_time_order(&r->c, order);
	int fd = wss_conn(&h->srv, conn);
	for (size_t i = 0; i < r->c.n; i++)
		ws_frame(fd, true, 1, r->c.line[order[i]], r->c.len[order[i]]);
	r->m = take_until_marked(&h->bus, r->again, 200, r->max_all, 5000);
	ck_assert(r->m > 0 && r->again[r->m - 1].marker);
	size_t fresh = posts_fresh_once(r->again, r->m, r->first_ids, r->nfirst);
	ck_assert_uint_eq(fresh, 17 - r->posts_before);
	check_markers(&r->c, r->again, r->m, r->posts_before);
	return fresh;
}

static void two_runs_free(struct two_runs *r)
{
	for (size_t k = 0; k < r->nfirst; k++)
		free(r->first_ids[k]);
	items_free(r->it, r->n);
	items_free(r->again, r->m);
	corpus_free(&r->c);
}

START_TEST(test_jetstream_source_restarts_from_a_marker_without_loss_or_recount)
{
	struct harness h;
	struct two_runs *r = malloc(sizeof *r);

	/* A first run reads 100 events; its last marker is what a checkpoint keeps. */
	first_run(&h, r, 100);
	const struct item *mk = &r->it[r->n - 1];
	char cursor[24];
	snprintf(cursor, sizeof cursor, "%s", mk->text);
	struct source_cursor ckpt = { .source_id = 7, .cursor = cursor, .seen = mk->seen,
				      .seen_len = mk->seen_len };
	/* Killed: it never learns what came after. */
	h_stop(&h);

	/* Restarted from the checkpoint: cursor minus the rewind, and the seen ids. */
	h_start_full(&h, 0, "{}", cursor, true, &ckpt);
	ck_assert(wss_wait(&h.srv, 1, 5000));
	size_t fresh = second_run(&h, r, 0);
	json_t *s = fx_wait_status_int(&h.bus, "posts_seen", (json_int_t)fresh, 3000);
	ck_assert_int_eq(fx_stream_int(s, "duplicates"), (json_int_t)r->posts_before);
	json_decref(s);

	two_runs_free(r);
	free(r);
	h_stop(&h);
}
END_TEST

/*
 * A settings edit that keeps the feed: the new stream resumes where the old
 * one stopped (its final cursor and seen ids), not at the cursor last
 * reported for the status with the ingest thread's ids, which would count
 * the rewound posts again. The old stream's last marker may come first in
 * the second part.
 */
START_TEST(test_jetstream_source_settings_edit_resumes_without_recount)
{
	struct harness h;
	struct two_runs *r = malloc(sizeof *r);

	first_run(&h, r, 100);
	/* The same feed with other settings (the same rewind, said explicitly). */
	struct source_config sc = { .id = 7, .enabled = true, .interval_s = 60, .name = "bsky",
				    .url = h.url, .params_json = "{\"rewind_s\":5}", .cursor = "" };
	snprintf(sc.kind, sizeof sc.kind, "jetstream");
	ck_assert_int_eq(ingest_source_set(h.ig, &sc), 0);
	ck_assert(wss_wait(&h.srv, 2, 5000));
	second_run(&h, r, 1);

	two_runs_free(r);
	free(r);
	h_stop(&h);
}
END_TEST

START_TEST(test_jetstream_source_marks_its_last_batch_on_stop)
{
	struct harness h;
	struct corpus c;
	struct item it[200];
	size_t n = 0, posts = 0;
	int64_t greatest = 0;
	struct post *p;

	corpus_load(&c);
	h_start_full(&h, 0, "{}", NULL, true, NULL);
	ck_assert(wss_wait(&h.srv, 1, 5000));
	int fd = wss_conn(&h.srv, 0);
	for (size_t i = 0; i < 40; i++) {
		ws_frame(fd, true, 1, c.line[i], c.len[i]);
		greatest = c.time_us[i] > greatest ? c.time_us[i] : greatest;
	}
	n = take_until_marked(&h.bus, it, 200, greatest, 5000);
	ck_assert(n > 0 && it[n - 1].marker);
	/* A second burst at once, and stop as soon as its posts are queued. */
	for (size_t i = 40; i < c.n; i++) {
		ws_frame(fd, true, 1, c.line[i], c.len[i]);
		greatest = c.time_us[i] > greatest ? c.time_us[i] : greatest;
	}
	for (size_t i = 0; i < c.n; i++)
		posts += c.is_post[i];
	size_t seen_posts = 0;
	for (size_t i = 0; i < n; i++)
		seen_posts += !it[i].marker;
	while (seen_posts < posts && n < 200) {
		ck_assert_int_eq(queue_pop_batch(&h.bus.posts, (void **)&p, 1, 5000), 1);
		const struct source_cursor *mc = dbmsg_marker_cursor(p);
		it[n] = (struct item){ .marker = mc != NULL,
				       .text = strdup(mc ? mc->cursor : p->id) };
		if (mc && mc->seen_len) {
			it[n].seen = malloc(mc->seen_len);
			it[n].seen_len = mc->seen_len;
			memcpy(it[n].seen, mc->seen, mc->seen_len);
		}
		seen_posts += !it[n].marker;
		n++;
		post_free(p);
	}
	ingest_stop(h.ig);
	h.ig = NULL;
	/* Whatever is left ends with the marker of the last batch. */
	while (n < 200 && queue_pop_batch(&h.bus.posts, (void **)&p, 1, 0) == 1) {
		const struct source_cursor *mc = dbmsg_marker_cursor(p);
		ck_assert_ptr_nonnull(mc);
		it[n] = (struct item){ .marker = true, .text = strdup(mc->cursor) };
		it[n].seen = malloc(mc->seen_len);
		it[n].seen_len = mc->seen_len;
		memcpy(it[n].seen, mc->seen, mc->seen_len);
		n++;
		post_free(p);
	}
	/*
	 * The events after the last post may not have been read: the cursor is
	 * at or past every post (check_markers) and never past what was sent.
	 */
	ck_assert(it[n - 1].marker);
	ck_assert_int_le(strtoll(it[n - 1].text, NULL, 10), greatest);
	check_markers(&c, it, n, 0);
	ck_assert_uint_eq(seen_count(it[n - 1].seen, it[n - 1].seen_len), posts);
	items_free(it, n);
	corpus_free(&c);
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
	tc = tcase_create("resume");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_jetstream_resume_marks_the_greatest_time_read_and_the_posts_queued);
	tcase_add_test(tc, test_jetstream_resume_marker_carries_the_newest_ids_a_checkpoint_keeps);
	tcase_add_test(tc, test_jetstream_resume_restores_a_marker_and_drops_what_it_covers);
	tcase_add_test(tc, test_jetstream_resume_refuses_damaged_seen_ids);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_jetstream_source_resumes_after_a_drop_without_loss_or_duplicates);
	tcase_add_test(tc, test_jetstream_source_starts_from_its_stored_cursor);
	tcase_add_test(tc, test_jetstream_source_skips_oversize_and_binary_messages);
	tcase_add_test(tc, test_jetstream_source_unreachable_backs_off_and_can_be_removed);
	tcase_add_test(tc, test_jetstream_source_puts_a_marker_behind_its_posts);
	tcase_add_test(tc, test_jetstream_source_restarts_from_a_marker_without_loss_or_recount);
	tcase_add_test(tc, test_jetstream_source_marks_its_last_batch_on_stop);
	tcase_add_test(tc, test_jetstream_source_settings_edit_resumes_without_recount);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(jetstream_suite());
}
