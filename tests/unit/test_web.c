/*
 * Unit tests for the web layer (web/server.c, http.c, ws.c, static.c): a real
 * server on an ephemeral port in a thread, a real struct bus with hand-built
 * snapshots, libcurl as the HTTP client and a small raw-socket WebSocket
 * client, so the bytes on the wire are what is checked.
 *
 * Run as `test_web --demo --listen ADDR:PORT [--static-dir DIR]` it is instead
 * a stand-in trendd for dashboard work: the same web layer fed by a synthetic
 * snapshot producer (changing counts, bursts, an XSS-looking term, sources
 * with errors). tests/browser can run against it through TRENDD_BIN.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/limits.h"
#include "core/live.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "core/term.h"
#include "ingest/preview.h"
#include "tests/unit/testutil.h"
#include "web/preview.h"
#include "web/static.h"
#include "web/web.h"
#include "web/web_internal.h"

#define STATIC_TOP TRENDD_TEST_FIXTURES_DIR "/../../static"
#define CHARTJS_DIR "/usr/share/javascript/chart.js"

/* ---- hand-built snapshots ---- */

struct tterm {
	const char *term;
	int kind;
	uint32_t count, authors;
	double score, sentiment;
};

/* Counts fall with the index; scores do not, so the two rankings differ. */
static const struct tterm tterms[] = {
	{ "rust", TERM_WORD, 500, 120, 12.5, 0.40 },
	{ "#rustlang", TERM_HASHTAG, 480, 90, 40.0, 0.55 },
	{ "@ada@example.org", TERM_MENTION, 300, 70, 3.0, 0.10 },
	{ "$tsla", TERM_CASHTAG, 290, 25, 0.0, -0.35 },
	{ "example.com", TERM_DOMAIN, 250, 80, 7.5, 0.00 },
	{ "\xF0\x9F\x9A\x80", TERM_EMOJI, 240, 110, 22.0, 0.70 },
	{ "open source", TERM_BIGRAM, 200, 60, 18.0, 0.25 },
	{ "#fediverse", TERM_HASHTAG, 190, 55, 55.0, 0.30 },
	{ "<img src=x onerror=alert(1)>", TERM_WORD, 180, 12, 1.0, -0.90 },
	{ "weather", TERM_WORD, 150, 50, 0.0, -0.10 },
	{ "#climate", TERM_HASHTAG, 120, 44, 9.0, -0.50 },
	{ "@bob", TERM_MENTION, 100, 30, 0.0, 0.05 },
	{ "github.com", TERM_DOMAIN, 90, 40, 2.5, 0.15 },
	{ "release notes", TERM_BIGRAM, 80, 21, 4.0, 0.35 },
	{ "coffee", TERM_WORD, 70, 33, 6.0, 0.60 },
	{ "$btc", TERM_CASHTAG, 60, 18, 11.0, -0.20 },
};
#define NTTERMS (sizeof tterms / sizeof tterms[0])

static uint32_t *series(struct snapshot *s, uint32_t base)
{
	uint32_t *v = snapshot_alloc(s, SNAPSHOT_SERIES_POINTS * sizeof *v);
	for (int i = 0; i < SNAPSHOT_SERIES_POINTS; i++)
		v[i] = base / 10 + (uint32_t)((i * 7 + base) % 13);
	return v;
}

static const struct trend *sort_base;
static int sort_mode;

static int cmp_idx(const void *a, const void *b)
{
	const struct trend *x = &sort_base[*(const uint32_t *)a], *y = &sort_base[*(const uint32_t *)b];
	if (sort_mode == SORT_SCORE && x->score != y->score)
		return x->score < y->score ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->term, y->term);
}

/* One view: terms named prefix+term, counts scaled; rankings by score (score > 0) and count. */
static void build_view(struct snapshot *s, struct snapshot_view *v, int window, const char *lang,
		       int64_t source, const char *prefix, uint32_t scale, size_t nterms)
{
	v->window = window;
	snprintf(v->lang, sizeof v->lang, "%s", lang);
	v->source_id = source;
	v->ntrends = (uint32_t)nterms;
	v->trends = snapshot_alloc(s, nterms * sizeof *v->trends);
	for (size_t i = 0; i < nterms; i++) {
		struct trend *t = &v->trends[i];
		char name[160];
		snprintf(name, sizeof name, "%s%s", prefix, tterms[i].term);
		t->term = snapshot_strdup(s, name, strlen(name));
		t->term_len = (uint32_t)strlen(name);
		t->kind = (uint8_t)tterms[i].kind;
		t->count = tterms[i].count * scale;
		t->authors = tterms[i].authors;
		t->score = tterms[i].score;
		t->sentiment = tterms[i].sentiment;
		t->pos = t->count / 3;
		t->neu = t->count / 3;
		t->neg = t->count - 2 * (t->count / 3);
		t->series = series(s, t->count);
	}
	for (int sort = 0; sort < SORT_COUNT_; sort++) {
		for (int k = 0; k <= TERM_KIND_COUNT; k++) {
			struct trend_ranking *r = &v->rank[sort][k];
			r->idx = snapshot_alloc(s, (nterms + 1) * sizeof *r->idx);
			r->n = 0;
			for (size_t i = 0; i < nterms; i++) {
				if (k != TERM_KIND_ALL && v->trends[i].kind != k)
					continue;
				if (sort == SORT_SCORE && v->trends[i].score <= 0)
					continue;
				r->idx[r->n++] = (uint32_t)i;
			}
			sort_base = v->trends;
			sort_mode = sort;
			qsort(r->idx, r->n, sizeof *r->idx, cmp_idx);
		}
	}
	v->posts = 1000 * scale;
	v->sentiment = 0.12;
	v->pos = 400;
	v->neu = 400;
	v->neg = 200;
	v->volume_series = series(s, 900);
	v->series_points = SNAPSHOT_SERIES_POINTS;
	v->series_step_ms = window_span_ms(window) / SNAPSHOT_SERIES_POINTS;
}

/*
 * Views: 5m, 1h ("h-" terms), 24h ("d-"), 5m lang "en" ("en-"), 5m source 7
 * ("s7-"); terms get `tag` prepended so tests can tell snapshots apart.
 */
static struct snapshot *make_snapshot(uint64_t seq, const char *tag, size_t nterms)
{
	struct snapshot *s = snapshot_new();
	char p[64];

	ck_assert_ptr_nonnull(s);
	s->seq = seq;
	s->generated_ms = clock_now_ms();
	s->event_time_ms = s->generated_ms - 500;
	s->watermark_ms = s->event_time_ms - 60000;
	s->stats.posts_total = 1234 + seq;
	s->stats.late_posts = 7;
	s->stats.posts_per_s = 12.5;
	s->stats.terms_tracked = 4321;
	s->stats.post_queue_depth = 3;
	s->stats.tick_ms = 1.25;
	s->nviews = 5;
	s->views = snapshot_alloc(s, s->nviews * sizeof *s->views);
	snprintf(p, sizeof p, "%s", tag);
	build_view(s, &s->views[0], WINDOW_5M, "", 0, p, 1, nterms);
	snprintf(p, sizeof p, "%sh-", tag);
	build_view(s, &s->views[1], WINDOW_1H, "", 0, p, 10, nterms);
	snprintf(p, sizeof p, "%sd-", tag);
	build_view(s, &s->views[2], WINDOW_24H, "", 0, p, 100, nterms);
	snprintf(p, sizeof p, "%sen-", tag);
	build_view(s, &s->views[3], WINDOW_5M, "en", 0, p, 1, nterms / 2);
	snprintf(p, sizeof p, "%ss7-", tag);
	build_view(s, &s->views[4], WINDOW_5M, "", 7, p, 1, nterms / 2);
	return s;
}

static const char sources_json[] =
	"[{\"id\":1,\"kind\":\"mastodon\",\"name\":\"demo\",\"url\":\"http://127.0.0.1:9/\","
	"\"enabled\":true,\"interval_s\":10,\"params\":{},\"status\":{\"state\":\"ok\","
	"\"last_ok\":\"2026-11-25T12:00:00Z\",\"last_error\":null,\"last_error_at\":null,"
	"\"consecutive_errors\":0,\"posts_seen\":42,\"items_skipped\":1,\"polls\":5,"
	"\"next_poll\":\"2026-11-25T12:00:10Z\",\"cursor\":\"1099\"}},"
	"{\"id\":2,\"kind\":\"rss\",\"name\":\"news <b>feed</b>\",\"url\":\"http://127.0.0.1:9/rss\","
	"\"enabled\":true,\"interval_s\":60,\"params\":{},\"status\":{\"state\":\"backoff\","
	"\"last_ok\":null,\"last_error\":\"HTTP 503 from 127.0.0.1\",\"last_error_at\":"
	"\"2026-11-25T12:00:05Z\",\"consecutive_errors\":3,\"posts_seen\":0,\"items_skipped\":0,"
	"\"polls\":3,\"next_poll\":\"2026-11-25T12:02:00Z\",\"cursor\":null}}]";

static void publish_blob(struct publish_slot *slot, const char *json)
{
	struct blob *b = blob_new(json, strlen(json));
	ck_assert_ptr_nonnull(b);
	publish_set(slot, &b->ref);
}

/* ---- a server in a thread ---- */

struct server {
	struct bus bus;
	struct web *web;
	pthread_t th;
	int port;
	char static_dir[256];
};

static void *server_main(void *arg)
{
	struct server *sv = arg;
	web_run(sv->web);
	return NULL;
}

/* A static directory of our own: index.html, app.js, style.css, a subdir, and traps. */
static void make_static_dir(char *dir, size_t cap)
{
	char path[512];
	FILE *f;

	snprintf(dir, cap, "/tmp/trendd-web-static-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/index.html", dir);
	f = fopen(path, "w");
	fputs("<!doctype html><title>t</title><script src=\"app.js\"></script>\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/app.js", dir);
	f = fopen(path, "w");
	fputs("console.log('app');\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/style.css", dir);
	f = fopen(path, "w");
	fputs("body{}\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/.secret.js", dir);
	f = fopen(path, "w");
	fputs("hidden\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/sub/index.html", dir);
	f = fopen(path, "w");
	fputs("<p>sub</p>\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/passwd.txt", dir);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof path, "%s/core.c.txt", dir);
	ck_assert_int_eq(symlink(TRENDD_TEST_FIXTURES_DIR "/../../web/web.h", path), 0);
}

static void remove_static_dir(const char *dir)
{
	static const char *names[] = { "index.html", "app.js",	   "style.css", ".secret.js",
				       "sub/index.html", "passwd.txt", "core.c.txt", "sub" };
	char path[512];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		remove(path);
	}
	rmdir(dir);
}

static void server_start_cfg(struct server *sv, const char *listen, int64_t slow_ms)
{
	char err[256];
	struct web_config cfg = { .listen = listen, .static_dir = sv->static_dir,
				  .chartjs_dir = CHARTJS_DIR, .ws_slow_ms = slow_ms };

	ck_assert_int_eq(bus_init(&sv->bus), 0);
	make_static_dir(sv->static_dir, sizeof sv->static_dir);
	ck_assert_msg(web_create(&sv->web, &cfg, &sv->bus, err, sizeof err) == 0, "%s", err);
	sv->port = web_port(sv->web);
	ck_assert_int_gt(sv->port, 0);
	ck_assert_ptr_nonnull(sv->bus.wake_web);
	ck_assert_int_eq(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void server_start(struct server *sv) { server_start_cfg(sv, "127.0.0.1:0", 0); }

static void server_stop(struct server *sv)
{
	web_stop(sv->web);
	pthread_join(sv->th, NULL);
	web_free(sv->web);
	ck_assert_ptr_null(sv->bus.wake_web);
	bus_destroy(&sv->bus);
	remove_static_dir(sv->static_dir);
}

static void server_publish(struct server *sv, struct snapshot *s)
{
	snapshot_publish(&sv->bus.trends, s);
	bus_wake_web(&sv->bus);
}

/* ---- HTTP through libcurl ---- */

struct resp {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	char *nb = realloc(r->body, r->len + sz * n + 1);
	ck_assert_ptr_nonnull(nb);
	r->body = nb;
	memcpy(r->body + r->len, p, sz * n);
	r->len += sz * n;
	r->body[r->len] = 0;
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * n;
	if (r->hlen + k < sizeof r->headers - 1) {
		memcpy(r->headers + r->hlen, p, k);
		r->hlen += k;
		r->headers[r->hlen] = 0;
	}
	return k;
}

/* One request on handle c (connections are reused between calls on the same handle). */
static void http_on(CURL *c, struct server *sv, const char *method, const char *path,
		    const char *body, struct resp *r)
{
	char url[1024];
	memset(r, 0, sizeof *r);
	curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", sv->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->body) {
		r->body = calloc(1, 1);
		ck_assert_ptr_nonnull(r->body);
	}
}

static void http(struct server *sv, const char *method, const char *path, const char *body,
		 struct resp *r)
{
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	http_on(c, sv, method, path, body, r);
	curl_easy_cleanup(c);
}

static void resp_free(struct resp *r) { free(r->body); }

/* Case-insensitive "Name: value" lookup in the raw headers; value copied to out. */
static bool header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = r->headers;
	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1, *e;
			while (*v == ' ')
				v++;
			e = strpbrk(v, "\r\n");
			snprintf(out, cap, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return true;
		}
	}
	return false;
}

static json_t *json_body(const struct resp *r)
{
	json_error_t e;
	json_t *j = json_loadb(r->body, r->len, 0, &e);
	ck_assert_msg(j != NULL, "body is not JSON (%s): %.200s", e.text, r->body);
	return j;
}

static void assert_json_error(const struct resp *r, long status)
{
	char ct[128];
	ck_assert_int_eq(r->status, status);
	ck_assert(header(r, "Content-Type", ct, sizeof ct));
	ck_assert_str_eq(ct, "application/json; charset=utf-8");
	json_t *j = json_body(r);
	ck_assert(json_is_string(json_object_get(j, "error")));
	ck_assert_int_gt(strlen(json_string_value(json_object_get(j, "error"))), 0);
	json_decref(j);
}

/* ---- raw sockets ---- */

static int tcp_connect(int port, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Reads until the peer closes or timeout; returns bytes read. */
static size_t recv_until_close(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t len = 0;
	int64_t end = clock_mono_ms() + timeout_ms;
	while (len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - clock_mono_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return len;
}

/* Sends a raw request on a fresh connection; returns the status code and the whole reply. */
static int raw_http(int port, const char *req, char *out, size_t cap)
{
	int fd = tcp_connect(port, 0), status = -1;
	send_all(fd, req, strlen(req));
	size_t n = recv_until_close(fd, out, cap, 3000);
	close(fd);
	if (n > 12 && strncmp(out, "HTTP/1.", 7) == 0)
		status = atoi(out + 9);
	return status;
}

/* ---- a raw WebSocket client ---- */

static int read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;
	int64_t end = clock_mono_ms() + timeout_ms;
	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int64_t left = end - clock_mono_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, p, len, 0);
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Upgrade handshake; returns the HTTP status (101) or -1 when the server just closed. */
static int ws_open(int port, const char *path, const char *protocol, const char *origin,
		   int rcvbuf, int *fd_out)
{
	char req[1024], resp[2048];
	size_t len = 0;
	int fd = tcp_connect(port, rcvbuf);

	snprintf(req, sizeof req,
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s%s%s%s%s%s\r\n",
		 path, port, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
		 protocol ? "\r\n" : "", origin ? "Origin: " : "", origin ? origin : "",
		 origin ? "\r\n" : "");
	send_all(fd, req, strlen(req));
	/* byte by byte so no frame data is consumed with the headers */
	while (len < sizeof resp - 1) {
		if (read_exact(fd, resp + len, 1, 5000) < 0)
			break;
		len++;
		resp[len] = 0;
		if (len >= 4 && memcmp(resp + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	*fd_out = fd;
	if (len < 12)
		return -1;
	if (strstr(resp, " 101 ")) {
		/* the accept key for the RFC 6455 sample nonce */
		ck_assert_ptr_nonnull(strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
		ck_assert_ptr_nonnull(strcasestr(resp, "Sec-WebSocket-Protocol: trendd.v1"));
	}
	return atoi(resp + 9);
}

static void ws_send_op(int fd, int opcode, const char *data, size_t len)
{
	unsigned char hdr[14], mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t h = 0;
	char *p = malloc(len + 1);

	ck_assert_ptr_nonnull(p);
	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		hdr[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	memcpy(hdr + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(data[i] ^ mask[i % 4]);
	send_all(fd, hdr, h);
	send_all(fd, p, len);
	free(p);
}

static void ws_send(int fd, const char *text) { ws_send_op(fd, 1, text, strlen(text)); }

/* One frame: returns the opcode (payload malloc'd into *out) or a negative errno. */
static int ws_read(int fd, char **out, size_t *len, int timeout_ms)
{
	unsigned char h[2], ext[8];
	uint64_t n;
	int rc;

	if ((rc = read_exact(fd, h, 2, timeout_ms)) < 0)
		return rc;
	ck_assert_msg(!(h[1] & 0x80), "server frames are not masked");
	n = h[1] & 0x7f;
	if (n == 126) {
		ck_assert_int_eq(read_exact(fd, ext, 2, timeout_ms), 0);
		n = (uint64_t)ext[0] << 8 | ext[1];
	} else if (n == 127) {
		ck_assert_int_eq(read_exact(fd, ext, 8, timeout_ms), 0);
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | ext[i];
	}
	ck_assert_uint_lt(n, 64 * 1024 * 1024);
	*out = malloc(n + 1);
	ck_assert_ptr_nonnull(*out);
	if (n && (rc = read_exact(fd, *out, n, timeout_ms)) < 0) {
		free(*out);
		*out = NULL;
		return rc;
	}
	(*out)[n] = 0;
	*len = n;
	return h[0] & 0x0f;
}

/* Next text message whose "type" is `type` (others skipped); NULL on timeout. */
static json_t *ws_expect(int fd, const char *type, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	for (;;) {
		char *p = NULL;
		size_t n = 0;
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			return NULL;
		int op = ws_read(fd, &p, &n, (int)left);
		if (op < 0)
			return NULL;
		if (op == 1) {
			json_t *j = json_loadb(p, n, 0, NULL);
			ck_assert_msg(j != NULL, "server sent invalid JSON: %.200s", p);
			const char *t = json_string_value(json_object_get(j, "type"));
			free(p);
			if (t && strcmp(t, type) == 0)
				return j;
			json_decref(j);
			continue;
		}
		free(p);
		if (op == 8)
			return NULL;
	}
}

/* Reads /metrics and returns the value of one unlabelled sample. */
static double metric_value(struct server *sv, const char *name)
{
	struct resp r;
	char key[128];
	double v = NAN;
	http(sv, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = strstr(r.body, key);
	if (p)
		v = strtod(p + strlen(key), NULL);
	resp_free(&r);
	ck_assert_msg(!isnan(v), "metric %s missing", name);
	return v;
}

/* ================= static.c ================= */

START_TEST(test_static_index_skips_hidden_outside_and_unknown_files)
{
	char dir[256], err[256];
	struct static_files sf;

	make_static_dir(dir, sizeof dir);
	static_files_init(&sf);
	ck_assert_int_eq(static_files_add_dir(&sf, dir, "", true, STATIC_CACHE_REVALIDATE, err,
					      sizeof err), 0);
	static_files_finish(&sf);
	ck_assert_ptr_nonnull(static_files_find(&sf, "/index.html", 11));
	ck_assert_ptr_nonnull(static_files_find(&sf, "/", 1));
	ck_assert_ptr_nonnull(static_files_find(&sf, "/sub/", 5));
	const struct static_file *f = static_files_find(&sf, "/app.js", 7);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->mime, "text/javascript; charset=utf-8");
	ck_assert(!f->html);
	ck_assert(static_files_find(&sf, "/", 1)->html);
	/* symlinks out of the directory, hidden files, missing files */
	ck_assert_ptr_null(static_files_find(&sf, "/passwd.txt", 11));
	ck_assert_ptr_null(static_files_find(&sf, "/core.c.txt", 11));
	ck_assert_ptr_null(static_files_find(&sf, "/.secret.js", 11));
	ck_assert_ptr_null(static_files_find(&sf, "/nope.js", 8));
	/* malformed paths never match, even when they would resolve to a file */
	ck_assert_ptr_null(static_files_find(&sf, "/sub/../app.js", 14));
	ck_assert_ptr_null(static_files_find(&sf, "/./app.js", 9));
	ck_assert_ptr_null(static_files_find(&sf, "//app.js", 8));
	ck_assert_ptr_null(static_files_find(&sf, "app.js", 6));
	ck_assert_ptr_null(static_files_find(&sf, "/app.js\0x", 9));
	ck_assert_ptr_null(static_files_find(&sf, "\\app.js", 7));
	static_files_free(&sf);

	/* unconfined (the Chart.js directory): a link out is served */
	static_files_init(&sf);
	ck_assert_int_eq(static_files_add_dir(&sf, dir, "/v", false, STATIC_CACHE_LONG, err,
					      sizeof err), 0);
	static_files_finish(&sf);
	ck_assert_ptr_nonnull(static_files_find(&sf, "/v/passwd.txt", 13));
	ck_assert_ptr_null(static_files_find(&sf, "/app.js", 7));
	static_files_free(&sf);
	remove_static_dir(dir);

	static_files_init(&sf);
	ck_assert_int_eq(static_files_add_dir(&sf, "/nonexistent/trendd", "", true,
					      STATIC_CACHE_LONG, err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/trendd"));
	static_files_free(&sf);
}
END_TEST

START_TEST(test_static_mime_types)
{
	ck_assert_str_eq(static_mime_type("a.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(static_mime_type("x.min.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(static_mime_type("s.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(static_mime_type("i.svg"), "image/svg+xml");
	ck_assert_ptr_null(static_mime_type("Makefile"));
	ck_assert_ptr_null(static_mime_type("x.c"));
	ck_assert_ptr_null(static_mime_type("x.html.bak"));
}
END_TEST

/* ================= server.c ================= */

START_TEST(test_listen_parse_accepts_ipv4_ipv6_and_rejects_garbage)
{
	char addr[64], err[256];
	int port;
	bool v6;

	ck_assert_int_eq(web_listen_parse("127.0.0.1:8080", addr, sizeof addr, &port, &v6, err,
					  sizeof err), 0);
	ck_assert_str_eq(addr, "127.0.0.1");
	ck_assert_int_eq(port, 8080);
	ck_assert(!v6);
	ck_assert_int_eq(web_listen_parse("[::1]:9", addr, sizeof addr, &port, &v6, err, sizeof err),
			 0);
	ck_assert_str_eq(addr, "::1");
	ck_assert_int_eq(port, 9);
	ck_assert(v6);
	ck_assert_int_eq(web_listen_parse("localhost:0", addr, sizeof addr, &port, &v6, err,
					  sizeof err), 0);
	ck_assert_str_eq(addr, "127.0.0.1");
	ck_assert_int_eq(port, 0);
	static const char *bad[] = { "",	 "8080",	"127.0.0.1",	  "127.0.0.1:",
				     "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x", "::1:80",
				     "[::1]80",		"[::1]:",	"example.com:80", "1.2.3:80",
				     "[127.0.0.1]:80" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_msg(web_listen_parse(bad[i], addr, sizeof addr, &port, &v6, err,
					       sizeof err) == -EINVAL, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "listen address"));
	}
}
END_TEST

START_TEST(test_create_reports_address_in_use)
{
	struct bus bus;
	struct web *w = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	char listen_at[64], err[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&a, &al);
	snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", ntohs(a.sin_port));
	ck_assert_int_eq(bus_init(&bus), 0);
	struct web_config cfg = { .listen = listen_at, .static_dir = "/nonexistent" };
	ck_assert_int_lt(web_create(&w, &cfg, &bus, err, sizeof err), 0);
	ck_assert_ptr_null(w);
	char want[128];
	snprintf(want, sizeof want, "cannot listen on %s: address in use", listen_at);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(bus.wake_web);

	cfg.listen = "127.0.0.1:http";
	ck_assert_int_eq(web_create(&w, &cfg, &bus, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "ADDR:PORT"));
	cfg.listen = "192.0.2.1:0"; /* TEST-NET-1: not on this machine */
	ck_assert_int_lt(web_create(&w, &cfg, &bus, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "cannot listen on 192.0.2.1:0"));
	bus_destroy(&bus);
	close(fd);
}
END_TEST

START_TEST(test_serves_on_ipv6_loopback)
{
	struct server sv;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

	inet_pton(AF_INET6, "::1", &a.sin6_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		if (fd >= 0)
			close(fd);
		return; /* no IPv6 loopback on this machine */
	}
	close(fd);
	server_start_cfg(&sv, "[::1]:0", 0);
	char url[128];
	snprintf(url, sizeof url, "http://[::1]:%d/healthz", sv.port);
	CURL *c = curl_easy_init();
	struct resp r = { 0 };
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"status\""));
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

/* ================= http.c ================= */

START_TEST(test_trends_before_first_snapshot_is_503_json)
{
	struct server sv;
	struct resp r;
	char v[64];

	server_start(&sv);
	http(&sv, "GET", "/api/trends", NULL, &r);
	assert_json_error(&r, 503);
	ck_assert_str_eq(r.body, "{\"error\":\"no snapshot yet\"}");
	ck_assert(header(&r, "Retry-After", v, sizeof v));
	ck_assert_str_eq(v, "1");
	ck_assert(header(&r, "Cache-Control", v, sizeof v));
	ck_assert_str_eq(v, "no-store");
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_trends_default_document_shape)
{
	struct server sv;
	struct resp r;
	char v[64];

	server_start(&sv);
	server_publish(&sv, make_snapshot(5, "", NTTERMS));
	http(&sv, "GET", "/api/trends", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(header(&r, "Content-Type", v, sizeof v));
	ck_assert_str_eq(v, "application/json; charset=utf-8");
	ck_assert(header(&r, "Content-Length", v, sizeof v));
	ck_assert_int_eq(atol(v), (long)r.len);
	/* stored but revalidated: it carries an ETag */
	ck_assert(header(&r, "Cache-Control", v, sizeof v));
	ck_assert_str_eq(v, "no-cache");
	ck_assert(header(&r, "ETag", v, sizeof v));
	ck_assert(header(&r, "X-Content-Type-Options", v, sizeof v));
	ck_assert_str_eq(v, "nosniff");
	json_t *j = json_body(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "window")), "5m");
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "all");
	ck_assert_str_eq(json_string_value(json_object_get(j, "sort")), "score");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 5);
	ck_assert(json_is_string(json_object_get(j, "generated_at")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "stats"),
							    "posts_total")), 1239);
	json_t *t = json_object_get(j, "trends");
	/* 13 of the 16 terms have a score > 0; ordered by score, best first */
	ck_assert_int_eq(json_array_size(t), 13);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "term")),
			 "#fediverse");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 1), "term")),
			 "#rustlang");
	for (size_t i = 1; i < json_array_size(t); i++)
		ck_assert(json_number_value(json_object_get(json_array_get(t, i - 1), "score")) >=
			  json_number_value(json_object_get(json_array_get(t, i), "score")));
	json_t *e = json_array_get(t, 0);
	static const char *fields[] = { "term", "kind",	     "count", "error", "authors",
					"score", "sentiment", "pos",	 "neu",	  "neg",
					"series" };
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		ck_assert_msg(json_object_get(e, fields[i]) != NULL, "missing %s", fields[i]);
	ck_assert_int_eq(json_array_size(json_object_get(e, "series")), SNAPSHOT_SERIES_POINTS);
	json_decref(j);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_trends_filters_kind_sort_limit_window_lang_source)
{
	struct server sv;
	struct resp r;
	json_t *j, *t;

	server_start(&sv);
	server_publish(&sv, make_snapshot(9, "", NTTERMS));

	http(&sv, "GET", "/api/trends?kind=hashtag", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = json_body(&r);
	t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), 3);
	for (size_t i = 0; i < json_array_size(t); i++)
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, i), "kind")),
				 "hashtag");
	json_decref(j);
	resp_free(&r);

	/* sort=count has no minimum: $tsla (score 0) is ranked by its count */
	http(&sv, "GET", "/api/trends?sort=count&limit=4", NULL, &r);
	j = json_body(&r);
	t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), 4);
	ck_assert_str_eq(json_string_value(json_object_get(j, "sort")), "count");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "term")), "rust");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 3), "term")), "$tsla");
	json_decref(j);
	resp_free(&r);

	http(&sv, "GET", "/api/trends?window=24h&limit=200&kind=all&sort=count", NULL, &r);
	j = json_body(&r);
	t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), NTTERMS);
	ck_assert_str_eq(json_string_value(json_object_get(j, "window")), "24h");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "term")),
			 "d-rust");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(t, 0), "count")),
			 50000);
	json_decref(j);
	resp_free(&r);

	http(&sv, "GET", "/api/trends?lang=en&sort=count", NULL, &r);
	j = json_body(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "lang")), "en");
	t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), NTTERMS / 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "term")),
			 "en-rust");
	json_decref(j);
	resp_free(&r);

	http(&sv, "GET", "/api/trends?source=7&sort=count&limit=1", NULL, &r);
	j = json_body(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "source")), 7);
	t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "term")),
			 "s7-rust");
	json_decref(j);
	resp_free(&r);

	/* a view the snapshot does not have: an empty list, not an error */
	http(&sv, "GET", "/api/trends?lang=xx&_=12345", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = json_body(&r);
	ck_assert_int_eq(json_array_size(json_object_get(j, "trends")), 0);
	json_decref(j);
	resp_free(&r);

	/* HEAD: same headers, no body */
	http(&sv, "HEAD", "/api/trends", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.len, 0);
	char v[32];
	ck_assert(header(&r, "Content-Length", v, sizeof v));
	ck_assert_int_gt(atol(v), 100);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_trends_bad_parameters_are_400_with_reason)
{
	static const struct {
		const char *query, *says;
	} bad[] = {
		{ "window=7m", "window" },     { "window=", "window" },
		{ "kind=verb", "kind" },       { "kind=ALL", "kind" },
		{ "limit=0", "limit" },        { "limit=201", "limit" },
		{ "limit=abc", "limit" },      { "limit=-5", "limit" },
		{ "limit=99999999999999999999999", "limit" },
		{ "sort=random", "sort" },     { "lang=%3Cscript%3E", "lang" },
		{ "lang=abcdefghijklmnop", "lang" }, { "source=-1", "source" },
		{ "source=x", "source" },
	};
	struct server sv;
	struct resp r;
	char path[256];

	server_start(&sv);
	server_publish(&sv, make_snapshot(1, "", NTTERMS));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(path, sizeof path, "/api/trends?%s", bad[i].query);
		http(&sv, "GET", path, NULL, &r);
		assert_json_error(&r, 400);
		ck_assert_msg(strstr(r.body, bad[i].says) != NULL, "%s -> %s", bad[i].query, r.body);
		resp_free(&r);
	}
	/* an over-long argument */
	char big[1200] = "/api/trends?lang=";
	memset(big + strlen(big), 'a', 600);
	big[17 + 600] = 0;
	http(&sv, "GET", big, NULL, &r);
	assert_json_error(&r, 400);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_sources_is_empty_array_then_the_published_blob)
{
	struct server sv;
	struct resp r;

	server_start(&sv);
	http(&sv, "GET", "/api/sources", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "[]");
	resp_free(&r);
	publish_blob(&sv.bus.sources, sources_json);
	http(&sv, "GET", "/api/sources", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, sources_json);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_large_response_is_written_in_pieces)
{
	struct server sv;
	struct resp r;
	/* a 200 KB sources document: several writeable callbacks */
	size_t n = 200 * 1024;
	char *big = malloc(n + 1);

	ck_assert_ptr_nonnull(big);
	big[0] = '[';
	for (size_t i = 1; i < n - 1; i++)
		big[i] = (i % 10 == 0) ? ',' : '1';
	big[n - 1] = ']';
	big[n] = 0;
	server_start(&sv);
	publish_blob(&sv.bus.sources, big);
	http(&sv, "GET", "/api/sources", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, n);
	ck_assert_mem_eq(r.body, big, n);
	resp_free(&r);
	/* and the connection is still good for the next request */
	http(&sv, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	free(big);
	server_stop(&sv);
}
END_TEST

START_TEST(test_keep_alive_connection_serves_every_kind_of_response)
{
	static const struct {
		const char *method, *path, *body;
		long status;
	} seq[] = {
		{ "GET", "/api/trends?limit=3", NULL, 200 },
		{ "GET", "/app.js", NULL, 200 },
		{ "GET", "/nope", NULL, 404 },
		{ "POST", "/api/trends", "a=1&b=2", 405 },
		{ "GET", "/api/sources", NULL, 200 },
		{ "HEAD", "/api/trends", NULL, 200 },
		{ "GET", "/api/trends?window=9m", NULL, 400 },
		{ "GET", "/", NULL, 200 },
		{ "GET", "/metrics", NULL, 200 },
	};
	struct server sv;
	struct resp r;
	CURL *c = curl_easy_init();
	char *big = malloc(100001);

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 100000);
	big[0] = '[';
	big[99999] = ']';
	big[100000] = 0;
	server_start(&sv);
	server_publish(&sv, make_snapshot(1, "", NTTERMS));
	publish_blob(&sv.bus.sources, big);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
			long connects = -1;
			http_on(c, &sv, seq[i].method, seq[i].path, seq[i].body, &r);
			ck_assert_msg(r.status == seq[i].status, "%s %s -> %ld", seq[i].method,
				      seq[i].path, r.status);
			curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
			if (round || i)
				ck_assert_msg(connects == 0, "%s %s needed a new connection",
					      seq[i].method, seq[i].path);
			resp_free(&r);
		}
	}
	curl_easy_cleanup(c);
	free(big);
	server_stop(&sv);
}
END_TEST

START_TEST(test_healthz_reports_degraded_until_snapshot_and_db_ok)
{
	struct server sv;
	struct resp r;
	json_t *j;

	server_start(&sv);
	http(&sv, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = json_body(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "degraded");
	ck_assert(json_is_null(json_object_get(j, "snapshot_age_ms")));
	ck_assert(json_is_null(json_object_get(j, "db")));
	ck_assert(json_is_integer(json_object_get(j, "uptime_s")));
	json_decref(j);
	resp_free(&r);

	server_publish(&sv, make_snapshot(3, "", 4));
	publish_blob(&sv.bus.db_status, "{\"ok\":true,\"error\":null,\"queue\":0}");
	http(&sv, "GET", "/healthz", NULL, &r);
	j = json_body(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	ck_assert_int_eq(json_array_size(json_object_get(j, "problems")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "posts_total")), 1237);
	ck_assert(json_is_true(json_object_get(json_object_get(j, "db"), "ok")));
	ck_assert_int_ge(json_integer_value(json_object_get(j, "snapshot_age_ms")), 0);
	ck_assert_int_lt(json_integer_value(json_object_get(j, "snapshot_age_ms")), 5000);
	json_decref(j);
	resp_free(&r);

	publish_blob(&sv.bus.db_status, "{\"ok\":false,\"error\":\"disk full\"}");
	http(&sv, "GET", "/healthz", NULL, &r);
	j = json_body(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "degraded");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "db"), "error")),
			 "disk full");
	json_decref(j);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_metrics_are_prometheus_text)
{
	struct server sv;
	struct resp r;
	char v[128];

	server_start(&sv);
	server_publish(&sv, make_snapshot(11, "", 4));
	http(&sv, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(header(&r, "Content-Type", v, sizeof v));
	ck_assert_str_eq(v, "text/plain; version=0.0.4; charset=utf-8");
	static const char *want[] = {
		"# TYPE trendd_posts_total counter\ntrendd_posts_total 1245\n",
		"\ntrendd_posts_per_second 12.5\n",
		"\ntrendd_late_posts_total 7\n",
		"\ntrendd_post_queue_depth 3\n",
		"\ntrendd_ws_clients 0\n",
		"\ntrendd_snapshot_seq 11\n",
		"\ntrendd_terms_tracked 4321\n",
		"\ntrendd_ws_dropped_clients_total 0\n",
		"\ntrendd_db_ok -1\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(r.body, want[i]) != NULL, "missing %s in\n%s", want[i], r.body);
	/* every line is a comment or "name[{labels}] number" */
	char *save = NULL;
	for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		char *sp = strrchr(line, ' ');
		ck_assert_ptr_nonnull(sp);
		char *end;
		strtod(sp + 1, &end);
		ck_assert_msg(*end == 0 && end != sp + 1, "bad sample line %s", line);
		ck_assert(strncmp(line, "trendd_", 7) == 0);
	}
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_metrics_per_source_and_db_commit_histogram)
{
	struct server sv;
	struct resp r;

	server_start(&sv);
	publish_blob(&sv.bus.sources,
		     "[{\"id\":3,\"kind\":\"rss\",\"name\":\"a \\\"q\\\" \\\\ b\\nc\",\"status\":"
		     "{\"state\":\"backoff\",\"consecutive_errors\":4,\"posts_seen\":17,\"polls\":9,"
		     "\"items_skipped\":2}},"
		     "{\"id\":4,\"kind\":\"push\",\"name\":\"p\",\"status\":{\"state\":\"ok\"}}]");
	dbstats_commit(&sv.bus.dbstats, 300000);      /* 0.3 ms */
	dbstats_commit(&sv.bus.dbstats, 3000000);     /* 3 ms */
	dbstats_commit(&sv.bus.dbstats, 20000000000); /* 20 s */
	http(&sv, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	static const char *want[] = {
		"# TYPE trendd_source_posts_total counter\n"
		"trendd_source_posts_total{id=\"3\",source=\"a \\\"q\\\" \\\\ b\\nc\",kind=\"rss\"} 17\n"
		"trendd_source_posts_total{id=\"4\",source=\"p\",kind=\"push\"} 0\n",
		"trendd_source_polls_total{id=\"3\",source=\"a \\\"q\\\" \\\\ b\\nc\",kind=\"rss\"} 9\n",
		"trendd_source_items_skipped_total{id=\"3\",source=\"a \\\"q\\\" \\\\ b\\nc\",kind=\"rss\"} 2\n",
		"# TYPE trendd_source_consecutive_errors gauge\n"
		"trendd_source_consecutive_errors{id=\"3\",source=\"a \\\"q\\\" \\\\ b\\nc\",kind=\"rss\"} 4\n",
		"trendd_source_state{id=\"3\",source=\"a \\\"q\\\" \\\\ b\\nc\",kind=\"rss\",state=\"ok\"} 0\n"
		"trendd_source_state{id=\"3\",source=\"a \\\"q\\\" \\\\ b\\nc\",kind=\"rss\",state=\"backoff\"} 1\n",
		"trendd_source_state{id=\"4\",source=\"p\",kind=\"push\",state=\"ok\"} 1\n",
		"# TYPE trendd_db_commit_seconds histogram\n"
		"trendd_db_commit_seconds_bucket{le=\"0.0005\"} 1\n"
		"trendd_db_commit_seconds_bucket{le=\"0.001\"} 1\n"
		"trendd_db_commit_seconds_bucket{le=\"0.0025\"} 1\n"
		"trendd_db_commit_seconds_bucket{le=\"0.005\"} 2\n",
		"trendd_db_commit_seconds_bucket{le=\"10\"} 2\n"
		"trendd_db_commit_seconds_bucket{le=\"+Inf\"} 3\n"
		"trendd_db_commit_seconds_sum 20.0033",
		"trendd_db_commit_seconds_count 3\n",
		"\ntrendd_db_commit_max_seconds 20\n",
		"\ntrendd_ws_clients 0\n",
		"\ntrendd_ws_dropped_clients_total 0\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(r.body, want[i]) != NULL, "missing %s in\n%s", want[i], r.body);
	/* a label value never breaks a line: every sample line ends in a number */
	char *save = NULL;
	for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		ck_assert_msg(strncmp(line, "trendd_", 7) == 0, "bad line %s", line);
		char *end, *sp = strrchr(line, ' ');
		ck_assert_ptr_nonnull(sp);
		strtod(sp + 1, &end);
		ck_assert_msg(*end == 0 && end != sp + 1, "bad sample line %s", line);
	}
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_metrics_without_sources_have_empty_families)
{
	struct server sv;
	struct resp r;

	server_start(&sv);
	http(&sv, "GET", "/metrics", NULL, &r);
	ck_assert_ptr_nonnull(strstr(r.body, "# TYPE trendd_source_state gauge\n# HELP"));
	ck_assert_ptr_nonnull(strstr(r.body, "trendd_db_commit_seconds_count 0\n"));
	ck_assert_ptr_null(strstr(r.body, "trendd_source_state{"));
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_unknown_paths_are_404_json)
{
	static const char *paths[] = { "/nope", "/api/nope", "/api/trends/x", "/api/", "/metrics/",
				       "/index.htm", "/sub/nothing.js" };
	struct server sv;
	struct resp r;

	server_start(&sv);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		http(&sv, "GET", paths[i], NULL, &r);
		assert_json_error(&r, 404);
		ck_assert_str_eq(r.body, "{\"error\":\"not found\"}");
		resp_free(&r);
	}
	/* /ws without an upgrade explains itself */
	http(&sv, "GET", "/ws", NULL, &r);
	assert_json_error(&r, 426);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_wrong_method_is_405_json_with_allow)
{
	struct server sv;
	struct resp r;
	char v[64];

	server_start(&sv);
	http(&sv, "POST", "/api/trends", "x=1", &r);
	assert_json_error(&r, 405);
	ck_assert(header(&r, "Allow", v, sizeof v));
	ck_assert_str_eq(v, "GET, HEAD");
	resp_free(&r);
	http(&sv, "DELETE", "/healthz", NULL, &r);
	assert_json_error(&r, 405);
	resp_free(&r);
	http(&sv, "PUT", "/index.html", "x", &r);
	assert_json_error(&r, 405);
	resp_free(&r);
	/* unknown /api/ paths are 404 whatever the method */
	http(&sv, "POST", "/api/nothing", "{}", &r);
	assert_json_error(&r, 404);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_request_body_over_cap_is_413_and_closes)
{
	struct server sv;
	char req[512], out[4096];

	server_start(&sv);
	snprintf(req, sizeof req,
		 "POST /api/trends HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
		 LIMIT_REQUEST_BODY_BYTES + 1);
	ck_assert_int_eq(raw_http(sv.port, req, out, sizeof out), 413);
	ck_assert_ptr_nonnull(strstr(out, "{\"error\":\"request body is larger than"));
	ck_assert_ptr_nonnull(strcasestr(out, "connection: close"));
	/* a body without a length */
	ck_assert_int_eq(raw_http(sv.port, "POST /api/trends HTTP/1.1\r\nHost: x\r\n"
					    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
				  out, sizeof out), 411);
	/* the server is still fine */
	struct resp r;
	http(&sv, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_static_files_with_types_and_security_headers)
{
	struct server sv;
	struct resp r;
	char v[1024];

	server_start(&sv);
	http(&sv, "GET", "/", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "<script src=\"app.js\">"));
	ck_assert(header(&r, "Content-Type", v, sizeof v));
	ck_assert_str_eq(v, "text/html; charset=utf-8");
	ck_assert(header(&r, "Content-Security-Policy", v, sizeof v));
	ck_assert_ptr_nonnull(strstr(v, "default-src 'self'"));
	ck_assert_ptr_nonnull(strstr(v, "script-src 'self';"));
	ck_assert_ptr_nonnull(strstr(v, "style-src 'self';"));
	ck_assert_ptr_nonnull(strstr(v, "connect-src 'self' ws://127.0.0.1:"));
	ck_assert_ptr_null(strstr(v, "unsafe-inline"));
	ck_assert(header(&r, "X-Content-Type-Options", v, sizeof v));
	ck_assert_str_eq(v, "nosniff");
	ck_assert(header(&r, "Cache-Control", v, sizeof v));
	ck_assert_str_eq(v, "no-cache");
	resp_free(&r);

	http(&sv, "GET", "/app.js", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "console.log('app');\n");
	ck_assert(header(&r, "Content-Type", v, sizeof v));
	ck_assert_str_eq(v, "text/javascript; charset=utf-8");
	ck_assert(!header(&r, "Content-Security-Policy", v, sizeof v));
	resp_free(&r);

	http(&sv, "GET", "/sub/", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "<p>sub</p>\n");
	resp_free(&r);

	http(&sv, "HEAD", "/style.css", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(header(&r, "Content-Length", v, sizeof v));
	ck_assert_str_eq(v, "7");
	resp_free(&r);

	if (access(CHARTJS_DIR "/chart.min.js", R_OK) == 0) {
		http(&sv, "GET", "/vendor/chart.js/chart.min.js", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_ptr_nonnull(strstr(r.body, "Chart.js"));
		ck_assert(header(&r, "Cache-Control", v, sizeof v));
		ck_assert_str_eq(v, "public, max-age=86400");
		resp_free(&r);
	}
	server_stop(&sv);
}
END_TEST

START_TEST(test_path_traversal_is_refused)
{
	static const char *paths[] = {
		"/../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
		"/sub/../../../../etc/passwd",
		"/..%2f..%2f..%2fetc/passwd",
		"/passwd.txt",
		"/core.c.txt",
		"/.secret.js",
		"/etc/passwd",
		"//etc/passwd",
		"/%5c..%5c..%5cetc%5cpasswd",
		"/vendor/chart.js/../../../../etc/passwd",
	};
	struct server sv;
	char req[512], out[8192];

	server_start(&sv);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 paths[i]);
		int st = raw_http(sv.port, req, out, sizeof out);
		ck_assert_msg(st != 200 && !strstr(out, "root:"), "%s -> %d", paths[i], st);
		ck_assert_msg(!strstr(out, "TRENDD_WEB_H"), "%s served a source file", paths[i]);
	}
	/* a NUL byte in the path never reaches a file */
	int st = raw_http(sv.port, "GET /app.js%00.html HTTP/1.1\r\nHost: x\r\n\r\n", out,
			  sizeof out);
	ck_assert_int_ne(st, 200);
	server_stop(&sv);
}
END_TEST

/* ================= ws.c ================= */

START_TEST(test_ws_subscribe_gets_trends_now_and_on_every_snapshot)
{
	struct server sv;
	int fd;
	json_t *j;

	server_start(&sv);
	server_publish(&sv, make_snapshot(1, "a-", NTTERMS));
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	ws_send(fd, "{\"type\":\"subscribe\",\"window\":\"1h\",\"kind\":\"hashtag\",\"limit\":2,"
		    "\"sort\":\"count\",\"lang\":\"\",\"source\":0}");
	j = ws_expect(fd, "trends", 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(j, "window")), "1h");
	json_t *t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "term")),
			 "a-h-#rustlang");
	json_decref(j);

	server_publish(&sv, make_snapshot(2, "b-", NTTERMS));
	j = ws_expect(fd, "trends", 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "trends"), 0), "term")),
			 "b-h-#rustlang");
	json_decref(j);

	/* re-subscribing to another view answers at once from the same snapshot */
	ws_send(fd, "{\"type\":\"subscribe\"}");
	j = ws_expect(fd, "trends", 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(j, "window")), "5m");
	ck_assert_int_eq(json_array_size(json_object_get(j, "trends")), 13);
	json_decref(j);

	/* unsubscribed: no more trends */
	ws_send(fd, "{\"type\":\"unsubscribe\"}");
	ws_send(fd, "{\"type\":\"ping\"}");
	ck_assert_ptr_nonnull(j = ws_expect(fd, "pong", 5000));
	json_decref(j);
	server_publish(&sv, make_snapshot(3, "c-", NTTERMS));
	ck_assert_ptr_null(ws_expect(fd, "trends", 700));
	ck_assert_int_eq(metric_value(&sv, "trendd_ws_clients"), 1);
	close(fd);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_subscribe_before_first_snapshot_waits_for_it)
{
	struct server sv;
	int fd;

	server_start(&sv);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	ws_send(fd, "{\"type\":\"subscribe\",\"limit\":1}");
	ck_assert_ptr_null(ws_expect(fd, "trends", 500));
	server_publish(&sv, make_snapshot(4, "", NTTERMS));
	json_t *j = ws_expect(fd, "trends", 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 4);
	ck_assert_int_eq(json_array_size(json_object_get(j, "trends")), 1);
	json_decref(j);
	close(fd);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_bad_messages_get_errors_and_the_connection_stays)
{
	static const char *bad[] = {
		"not json",
		"[1,2]",
		"{\"window\":\"5m\"}",
		"{\"type\":\"dance\"}",
		"{\"type\":\"subscribe\",\"window\":\"2d\"}",
		"{\"type\":\"subscribe\",\"limit\":0}",
		"{\"type\":\"subscribe\",\"limit\":\"20\"}",
		"{\"type\":\"subscribe\",\"kind\":5}",
		"{\"type\":\"subscribe\",\"source\":-3}",
		"{\"type\":\"subscribe\",\"lang\":\"<x>\"}",
	};
	struct server sv;
	int fd;

	server_start(&sv);
	server_publish(&sv, make_snapshot(1, "", NTTERMS));
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ws_send(fd, bad[i]);
		json_t *j = ws_expect(fd, "error", 5000);
		ck_assert_msg(j != NULL, "no error for %s", bad[i]);
		ck_assert_int_gt(strlen(json_string_value(json_object_get(j, "error"))), 5);
		json_decref(j);
	}
	ws_send_op(fd, 2, "\x01\x02", 2); /* binary */
	json_t *j = ws_expect(fd, "error", 5000);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
	/* after all that, a good subscription still works */
	ws_send(fd, "{\"type\":\"subscribe\",\"future_field\":true}");
	ck_assert_ptr_nonnull(j = ws_expect(fd, "trends", 5000));
	json_decref(j);
	close(fd);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_message_over_cap_closes_with_1009)
{
	struct server sv;
	int fd;
	char *big = malloc(LIMIT_WS_MESSAGE_BYTES + 100), *p = NULL;
	size_t n;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', LIMIT_WS_MESSAGE_BYTES + 100);
	memcpy(big, "{\"type\":\"ping\"", 14);
	big[LIMIT_WS_MESSAGE_BYTES + 99] = '}';
	server_start(&sv);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	ws_send_op(fd, 1, big, LIMIT_WS_MESSAGE_BYTES + 100);
	int op = ws_read(fd, &p, &n, 5000);
	ck_assert_int_eq(op, 8);
	ck_assert_uint_ge(n, 2);
	ck_assert_int_eq(((unsigned char)p[0] << 8) | (unsigned char)p[1], 1009);
	free(p);
	free(big);
	close(fd);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_upgrade_refused_for_other_paths_protocols_and_origins)
{
	struct server sv;
	int fd;

	server_start(&sv);
	ck_assert_int_ne(ws_open(sv.port, "/other", "trendd.v1", NULL, 0, &fd), 101);
	close(fd);
	ck_assert_int_ne(ws_open(sv.port, "/ws", NULL, NULL, 0, &fd), 101);
	close(fd);
	ck_assert_int_ne(ws_open(sv.port, "/ws", "chat", NULL, 0, &fd), 101);
	close(fd);
	ck_assert_int_ne(ws_open(sv.port, "/ws", "trendd.v1", "http://evil.example", 0, &fd), 101);
	close(fd);
	char origin[64];
	snprintf(origin, sizeof origin, "http://127.0.0.1:%d", sv.port);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", origin, 0, &fd), 101);
	close(fd);
	ck_assert_int_ge(metric_value(&sv, "trendd_ws_rejected_total"), 3);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_sends_sources_on_connect_and_change)
{
	struct server sv;
	int fd;
	json_t *j;

	server_start(&sv);
	publish_blob(&sv.bus.sources, sources_json);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	j = ws_expect(fd, "sources", 5000);
	ck_assert_ptr_nonnull(j);
	json_t *list = json_object_get(j, "sources");
	ck_assert_int_eq(json_array_size(list), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(list, 1), "status"), "state")),
			 "backoff");
	json_decref(j);
	publish_blob(&sv.bus.sources, "[]");
	bus_wake_web(&sv.bus);
	j = ws_expect(fd, "sources", 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_array_size(json_object_get(j, "sources")), 0);
	json_decref(j);
	close(fd);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_same_view_is_rendered_once_per_snapshot)
{
	struct server sv;
	int fd[4];
	json_t *j;

	server_start(&sv);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd[i]), 101);
		ws_send(fd[i], "{\"type\":\"subscribe\",\"limit\":5}");
	}
	usleep(200 * 1000);
	server_publish(&sv, make_snapshot(1, "", NTTERMS));
	for (int i = 0; i < 4; i++) {
		ck_assert_ptr_nonnull(j = ws_expect(fd[i], "trends", 5000));
		json_decref(j);
	}
	ck_assert_int_eq(metric_value(&sv, "trendd_ws_renders_total"), 1);
	ck_assert_int_eq(metric_value(&sv, "trendd_ws_render_cache_hits_total"), 3);
	ck_assert_int_eq(metric_value(&sv, "trendd_ws_clients"), 4);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	server_stop(&sv);
}
END_TEST

START_TEST(test_ws_slow_client_is_dropped_not_queued)
{
	struct server sv;
	int slow, fast;
	json_t *j;

	server_start_cfg(&sv, "127.0.0.1:0", 400);
	server_publish(&sv, make_snapshot(1, "", NTTERMS));
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 4096, &slow), 101);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fast), 101);
	ws_send(slow, "{\"type\":\"subscribe\",\"window\":\"24h\",\"sort\":\"count\",\"limit\":200}");
	ws_send(fast, "{\"type\":\"subscribe\",\"limit\":1}");
	/*
	 * Big snapshots, fast: the slow client never reads, so its socket fills
	 * and its unsent data waits; the fast one keeps up and gets the newest.
	 */
	uint64_t seq = 2;
	int64_t end = clock_mono_ms() + 15000;
	while (metric_value(&sv, "trendd_ws_dropped_clients_total") < 1 && clock_mono_ms() < end) {
		for (int i = 0; i < 20; i++, seq++) {
			char tag[1100];
			memset(tag, 'x', 1000);
			snprintf(tag + 1000, 100, "%llu-", (unsigned long long)seq);
			server_publish(&sv, make_snapshot(seq, tag, NTTERMS));
			usleep(5000);
		}
		while ((j = ws_expect(fast, "trends", 50)) != NULL)
			json_decref(j);
	}
	ck_assert_int_eq(metric_value(&sv, "trendd_ws_dropped_clients_total"), 1);
	/* the fast client is still served, up to the newest snapshot */
	server_publish(&sv, make_snapshot(seq, "last-", NTTERMS));
	uint64_t got = 0;
	while ((j = ws_expect(fast, "trends", 1500)) != NULL) {
		got = (uint64_t)json_integer_value(json_object_get(j, "seq"));
		json_decref(j);
		if (got == seq)
			break;
	}
	ck_assert_uint_eq(got, seq);
	/* the slow one is closed: draining its socket ends in EOF (or a close frame) */
	char buf[65536];
	int64_t until = clock_mono_ms() + 15000;
	bool closed = false;
	while (!closed && clock_mono_ms() < until) {
		struct pollfd p = { .fd = slow, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		ssize_t n = recv(slow, buf, sizeof buf, 0);
		closed = n <= 0;
	}
	ck_assert(closed);
	ck_assert_int_eq(metric_value(&sv, "trendd_ws_clients"), 1);
	close(slow);
	close(fast);
	server_stop(&sv);
}
END_TEST

START_TEST(test_stop_closes_websocket_clients_with_1001)
{
	struct server sv;
	int fd, op;
	char *p = NULL;
	size_t n;

	server_start(&sv);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	web_stop(sv.web);
	pthread_join(sv.th, NULL);
	/* the close frame went out before web_run returned */
	op = ws_read(fd, &p, &n, 2000);
	ck_assert_int_eq(op, 8);
	ck_assert_uint_ge(n, 2);
	ck_assert_int_eq(((unsigned char)p[0] << 8) | (unsigned char)p[1], 1001);
	ck_assert_str_eq(p + 2, "shutting down");
	free(p);
	close(fd);
	web_free(sv.web);
	bus_destroy(&sv.bus);
	remove_static_dir(sv.static_dir);
}
END_TEST

START_TEST(test_stop_returns_promptly_with_clients_connected)
{
	struct server sv;
	int fd;

	server_start(&sv);
	ck_assert_int_eq(ws_open(sv.port, "/ws", "trendd.v1", NULL, 0, &fd), 101);
	int64_t t0 = clock_mono_ms();
	server_stop(&sv);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	close(fd);
}
END_TEST

/* ================= the stand-in server (test_web --demo) ================= */

static volatile sig_atomic_t demo_quit;

static void demo_signal(int sig) { demo_quit = 1; }

static const struct tterm demo_vocab[] = {
	{ "rust", TERM_WORD, 0, 0, 0, 0.3 },
	{ "#rustlang", TERM_HASHTAG, 0, 0, 0, 0.5 },
	{ "coffee", TERM_WORD, 0, 0, 0, 0.6 },
	{ "#climate", TERM_HASHTAG, 0, 0, 0, -0.4 },
	{ "@ada@example.org", TERM_MENTION, 0, 0, 0, 0.2 },
	{ "$tsla", TERM_CASHTAG, 0, 0, 0, -0.3 },
	{ "$btc", TERM_CASHTAG, 0, 0, 0, 0.1 },
	{ "github.com", TERM_DOMAIN, 0, 0, 0, 0.1 },
	{ "example.com", TERM_DOMAIN, 0, 0, 0, 0 },
	{ "\xF0\x9F\x9A\x80", TERM_EMOJI, 0, 0, 0, 0.7 },
	{ "\xE2\x9D\xA4\xEF\xB8\x8F", TERM_EMOJI, 0, 0, 0, 0.8 },
	{ "open source", TERM_BIGRAM, 0, 0, 0, 0.3 },
	{ "release notes", TERM_BIGRAM, 0, 0, 0, 0.2 },
	{ "weather", TERM_WORD, 0, 0, 0, -0.1 },
	{ "election", TERM_WORD, 0, 0, 0, -0.2 },
	{ "#fediverse", TERM_HASHTAG, 0, 0, 0, 0.4 },
	{ "@bob", TERM_MENTION, 0, 0, 0, 0 },
	{ "football", TERM_WORD, 0, 0, 0, 0.2 },
	{ "kernel", TERM_WORD, 0, 0, 0, 0.1 },
	{ "<img src=x onerror=alert(1)>", TERM_WORD, 0, 0, 0, -0.9 },
	{ "caf\xC3\xA9", TERM_WORD, 0, 0, 0, 0.5 },
	{ "#\xE6\x9D\xB1\xE4\xBA\xAC", TERM_HASHTAG, 0, 0, 0, 0.3 },
	{ "rain today", TERM_BIGRAM, 0, 0, 0, -0.3 },
	{ "storm", TERM_WORD, 0, 0, 0, -0.6 },
};
#define NDEMO (sizeof demo_vocab / sizeof demo_vocab[0])

static struct snapshot *demo_snapshot(uint64_t seq, double *level, uint32_t hist[][30])
{
	struct snapshot *s = snapshot_new();
	if (!s)
		return NULL;
	s->seq = seq;
	s->generated_ms = clock_now_ms();
	s->event_time_ms = s->generated_ms;
	s->watermark_ms = s->generated_ms - 60000;
	s->nviews = WINDOW_COUNT;
	s->views = snapshot_alloc(s, s->nviews * sizeof *s->views);
	uint64_t total = 0;
	for (size_t i = 0; i < NDEMO; i++) {
		/* a random walk with an occasional burst */
		level[i] += ((double)(rand() % 21) - 10.0) / 4.0;
		if (rand() % 40 == 0)
			level[i] += 40;
		if (level[i] < 1)
			level[i] = 1;
		if (level[i] > 200)
			level[i] = 200;
		memmove(hist[i], hist[i] + 1, 29 * sizeof hist[i][0]);
		hist[i][29] = (uint32_t)level[i];
		total += (uint64_t)level[i];
	}
	for (int w = 0; w < WINDOW_COUNT; w++) {
		struct snapshot_view *v = &s->views[w];
		uint32_t scale = w == 0 ? 1 : (w == 1 ? 12 : 288);
		v->window = w;
		v->ntrends = NDEMO;
		v->trends = snapshot_alloc(s, NDEMO * sizeof *v->trends);
		for (size_t i = 0; i < NDEMO; i++) {
			struct trend *t = &v->trends[i];
			t->term = demo_vocab[i].term;
			t->term_len = (uint32_t)strlen(t->term);
			t->kind = (uint8_t)demo_vocab[i].kind;
			t->count = (uint32_t)(level[i] * 5) * scale;
			t->authors = t->count / 3 + 1;
			double base = 20.0 * scale;
			double obs = t->authors;
			t->score = obs > base ? (obs - base) * (obs - base) / base : 0;
			t->sentiment = demo_vocab[i].sentiment;
			t->pos = t->count / 2;
			t->neu = t->count / 3;
			t->neg = t->count - t->pos - t->neu;
			t->series = snapshot_alloc(s, 30 * sizeof(uint32_t));
			memcpy(t->series, hist[i], 30 * sizeof(uint32_t));
		}
		for (int sort = 0; sort < SORT_COUNT_; sort++)
			for (int k = 0; k <= TERM_KIND_COUNT; k++) {
				struct trend_ranking *r = &v->rank[sort][k];
				r->idx = snapshot_alloc(s, NDEMO * sizeof *r->idx);
				for (size_t i = 0; i < NDEMO; i++)
					if ((k == TERM_KIND_ALL || v->trends[i].kind == k) &&
					    (sort == SORT_COUNT || v->trends[i].score > 0))
						r->idx[r->n++] = (uint32_t)i;
				sort_base = v->trends;
				sort_mode = sort;
				qsort(r->idx, r->n, sizeof *r->idx, cmp_idx);
			}
		v->posts = total * scale;
		v->sentiment = 0.05 + 0.1 * sin((double)seq / 10.0);
		v->pos = v->posts / 2;
		v->neu = v->posts / 3;
		v->neg = v->posts - v->pos - v->neu;
		v->volume_series = snapshot_alloc(s, 30 * sizeof(uint32_t));
		for (int p = 0; p < 30; p++)
			v->volume_series[p] = (uint32_t)(total / 2 + (uint64_t)(p * 3 + seq) % 17);
		v->series_points = 30;
		v->series_step_ms = window_span_ms(w) / 30;
	}
	s->stats.posts_total = seq * total / 4;
	s->stats.posts_per_s = (double)total / 4.0;
	s->stats.terms_tracked = 5000 + seq;
	return s;
}

static void *demo_web_main(void *w)
{
	web_run(w);
	return NULL;
}

static int demo_main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8080", *static_dir = STATIC_TOP;
	struct web_config cfg = { 0 };
	struct bus bus;
	struct web *w;
	pthread_t th;
	char err[256];
	double level[NDEMO];
	uint32_t hist[NDEMO][30];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--static-dir") == 0 && i + 1 < argc)
			static_dir = argv[++i];
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			i++; /* accepted for command-line compatibility with trendd */
	}
	signal(SIGTERM, demo_signal);
	signal(SIGINT, demo_signal);
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)time(NULL));
	memset(hist, 0, sizeof hist);
	for (size_t i = 0; i < NDEMO; i++)
		level[i] = 5 + rand() % 60;
	if (bus_init(&bus) < 0)
		return 1;
	cfg.listen = listen;
	cfg.static_dir = static_dir;
	cfg.chartjs_dir = CHARTJS_DIR;
	if (web_create(&w, &cfg, &bus, err, sizeof err) < 0) {
		fprintf(stderr, "test_web --demo: %s\n", err);
		return 1;
	}
	pthread_create(&th, NULL, demo_web_main, w);
	struct blob *b = blob_new(sources_json, strlen(sources_json));
	publish_set(&bus.sources, &b->ref);
	for (uint64_t seq = 1; !demo_quit; seq++) {
		struct snapshot *s = demo_snapshot(seq, level, hist);
		if (s)
			snapshot_publish(&bus.trends, s);
		bus_wake_web(&bus);
		for (int i = 0; i < 10 && !demo_quit; i++)
			usleep(100 * 1000);
	}
	web_stop(w);
	pthread_join(th, NULL);
	web_free(w);
	bus_destroy(&bus);
	return 0;
}

/* ---- POST /api/sources/preview, with a stand-in preview worker ---- */

#define TEST_TOKEN "0123456789abcdef"

/* Answers each job on a thread of its own, as the real worker does, from the job's URL. */
static atomic_int g_preview_stops;
static atomic_bool g_preview_full;

static void *fake_preview_main(void *arg)
{
	struct preview_job *j = arg;
	const char *url = j->cfg.url;

	if (strstr(url, "refused")) {
		j->result = PREVIEW_FAILED;
		snprintf(j->error, sizeof j->error, "connection refused");
	} else if (strstr(url, "stopping")) {
		j->result = PREVIEW_UNAVAILABLE;
		snprintf(j->error, sizeof j->error, "trendd is shutting down");
	} else {
		struct post_fields f = { .id = "p1", .author = "ada", .lang = "en",
					 .url = "http://example.org/p1",
					 .text = "<img src=x onerror=alert(1)> \"quoted\"",
					 .text_len = (size_t)-1, .created_at_ms = 1795608000000LL };
		j->result = PREVIEW_OK;
		snprintf(j->format, sizeof j->format, "rss");
		j->doc.title = strdup("<script>alert(1)</script> feed");
		feed_doc_add(&j->doc, post_new(&f));
		j->items = 1;
	}
	j->done(j, j->done_ctx);
	return NULL;
}

static int fake_preview_submit(void *ctx, struct preview_job *j)
{
	pthread_t th;

	if (atomic_load(&g_preview_full))
		return -EAGAIN;
	if (pthread_create(&th, NULL, fake_preview_main, j) != 0)
		return -EAGAIN;
	pthread_detach(th);
	return 0;
}

static void fake_preview_stop(void *ctx) { atomic_fetch_add(&g_preview_stops, 1); }

static void server_start_preview(struct server *sv, bool with_worker)
{
	char err[256];
	struct web_config cfg = { .listen = "127.0.0.1:0", .static_dir = sv->static_dir,
				  .chartjs_dir = CHARTJS_DIR, .token = TEST_TOKEN };

	if (with_worker)
		cfg.preview = (struct web_preview_ops){ .submit = fake_preview_submit,
							.stop = fake_preview_stop,
							.ctx = sv };
	ck_assert_int_eq(bus_init(&sv->bus), 0);
	make_static_dir(sv->static_dir, sizeof sv->static_dir);
	ck_assert_msg(web_create(&sv->web, &cfg, &sv->bus, err, sizeof err) == 0, "%s", err);
	sv->port = web_port(sv->web);
	ck_assert_int_eq(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

/* A request with extra headers ("Name: value" strings, NULL-terminated). */
static void http_hdrs(struct server *sv, const char *method, const char *path, const char *body,
		      const char *const *hdrs, struct resp *r)
{
	struct curl_slist *list = NULL;
	CURL *c = curl_easy_init();

	ck_assert_ptr_nonnull(c);
	for (size_t i = 0; hdrs && hdrs[i]; i++)
		list = curl_slist_append(list, hdrs[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	http_on(c, sv, method, path, body, r);
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
}

static const char *const auth_hdrs[] = { "Authorization: Bearer " TEST_TOKEN,
					  "Content-Type: application/json", NULL };

START_TEST(test_preview_needs_the_token_and_the_same_origin)
{
	static const char *const evil[] = { "Authorization: Bearer " TEST_TOKEN,
					    "Origin: http://evil.example", NULL };
	static const char *const wrong[] = { "Authorization: Bearer nope", NULL };
	const char *body = "{\"kind\":\"rss\",\"name\":\"x\",\"url\":\"http://127.0.0.1:9/f\"}";
	struct server sv;
	struct resp r;

	server_start_preview(&sv, true);
	http(&sv, "POST", "/api/sources/preview", body, &r);
	assert_json_error(&r, 401);
	resp_free(&r);
	http_hdrs(&sv, "POST", "/api/sources/preview", body, wrong, &r);
	assert_json_error(&r, 401);
	resp_free(&r);
	http_hdrs(&sv, "POST", "/api/sources/preview", body, evil, &r);
	assert_json_error(&r, 403);
	resp_free(&r);
	http(&sv, "GET", "/api/sources/preview", NULL, &r);
	assert_json_error(&r, 405);
	char allow[64];
	ck_assert(header(&r, "Allow", allow, sizeof allow));
	ck_assert_str_eq(allow, "POST");
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_preview_bad_body_is_400_like_post_sources)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "", "not JSON" },
		{ "[1]", "JSON object" },
		{ "{\"kind\":\"rss\"}", "required" },
		{ "{\"kind\":\"rss\",\"url\":\"http://x.example/f\",\"bogus\":1}", "unknown field" },
		{ "{\"kind\":\"rss\",\"url\":\"http://x.example/f\",\"interval_s\":0}", "interval_s" },
		{ "{\"kind\":\"push\",\"name\":\"p\"}", "nothing to fetch" },
	};
	struct server sv;
	struct resp r;

	server_start_preview(&sv, true);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		http_hdrs(&sv, "POST", "/api/sources/preview", cases[i].body, auth_hdrs, &r);
		assert_json_error(&r, 400);
		json_t *j = json_body(&r);
		ck_assert_msg(strstr(json_string_value(json_object_get(j, "error")), cases[i].want),
			      "%s: %s", cases[i].body, r.body);
		json_decref(j);
		resp_free(&r);
	}
	server_stop(&sv);
}
END_TEST

START_TEST(test_preview_answer_is_the_parsed_document_and_posts)
{
	struct server sv;
	struct resp r;

	atomic_store(&g_preview_full, false);
	server_start_preview(&sv, true);
	/* name is optional for a test fetch */
	http_hdrs(&sv, "POST", "/api/sources/preview",
		  "{\"kind\":\"rss\",\"url\":\"http://feed.example/rss\"}", auth_hdrs, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = json_body(&r), *d = json_object_get(j, "document"),
	       *posts = json_object_get(j, "posts"), *p;
	ck_assert_str_eq(json_string_value(json_object_get(d, "title")),
			 "<script>alert(1)</script> feed");
	ck_assert_str_eq(json_string_value(json_object_get(d, "format")), "rss");
	ck_assert(json_is_true(json_object_get(d, "wellformed")));
	ck_assert(json_is_null(json_object_get(d, "error")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "items")), 1);
	ck_assert_int_eq(json_array_size(posts), 1);
	p = json_array_get(posts, 0);
	ck_assert_str_eq(json_string_value(json_object_get(p, "id")), "p1");
	ck_assert_str_eq(json_string_value(json_object_get(p, "author")), "ada");
	ck_assert_str_eq(json_string_value(json_object_get(p, "text")),
			 "<img src=x onerror=alert(1)> \"quoted\"");
	ck_assert_str_eq(json_string_value(json_object_get(p, "created_at")),
			 "2026-11-25T12:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(p, "lang")), "en");
	ck_assert_str_eq(json_string_value(json_object_get(p, "url")), "http://example.org/p1");
	json_decref(j);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_preview_failures_are_422_and_busy_is_503)
{
	struct server sv;
	struct resp r;
	char v[32];

	atomic_store(&g_preview_full, false);
	server_start_preview(&sv, true);
	http_hdrs(&sv, "POST", "/api/sources/preview",
		  "{\"kind\":\"rss\",\"url\":\"http://refused.example/rss\"}", auth_hdrs, &r);
	assert_json_error(&r, 422);
	ck_assert_str_eq(r.body, "{\"error\":\"connection refused\"}");
	resp_free(&r);
	http_hdrs(&sv, "POST", "/api/sources/preview",
		  "{\"kind\":\"rss\",\"url\":\"http://stopping.example/rss\"}", auth_hdrs, &r);
	assert_json_error(&r, 503);
	ck_assert(header(&r, "Retry-After", v, sizeof v));
	resp_free(&r);
	atomic_store(&g_preview_full, true);
	http_hdrs(&sv, "POST", "/api/sources/preview",
		  "{\"kind\":\"rss\",\"url\":\"http://feed.example/rss\"}", auth_hdrs, &r);
	assert_json_error(&r, 503);
	ck_assert(header(&r, "Retry-After", v, sizeof v));
	ck_assert_str_eq(v, "1");
	ck_assert_ptr_nonnull(strstr(r.body, "too many test fetches"));
	resp_free(&r);
	atomic_store(&g_preview_full, false);
	int stops = atomic_load(&g_preview_stops);
	server_stop(&sv);
	/* web_free stops the worker it was given */
	ck_assert_int_eq(atomic_load(&g_preview_stops), stops + 1);
}
END_TEST

START_TEST(test_preview_without_a_worker_is_503)
{
	struct server sv;
	struct resp r;

	server_start_preview(&sv, false);
	http_hdrs(&sv, "POST", "/api/sources/preview",
		  "{\"kind\":\"rss\",\"url\":\"http://feed.example/rss\"}", auth_hdrs, &r);
	assert_json_error(&r, 503);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_preview_render_of_a_recovered_document_is_not_wellformed)
{
	struct source_config c = { .kind = "rss", .name = (char *)"n", .url = (char *)"http://x/",
				   .params_json = (char *)"{}", .cursor = (char *)"" };
	struct preview_job *j = preview_job_new(&c);
	struct strbuf sb = STRBUF_INIT;
	int retry;

	ck_assert_ptr_nonnull(j);
	j->result = PREVIEW_OK;
	snprintf(j->format, sizeof j->format, "atom");
	snprintf(j->doc.error, sizeof j->doc.error, "not well-formed XML at line 3");
	ck_assert_int_eq(web_preview_render(&sb, j, &retry), 200);
	ck_assert_int_eq(retry, 0);
	ck_assert_str_eq(sb.buf, "{\"document\":{\"title\":\"\",\"format\":\"atom\",\"wellformed\":false,"
				 "\"error\":\"not well-formed XML at line 3\"},\"items\":0,\"posts\":[]}");
	sb_free(&sb);
	preview_job_free(j);
}
END_TEST

/* ---- ETag and If-None-Match ---- */

/* GET path with If-None-Match: inm (NULL: none). */
static void http_inm(struct server *sv, const char *method, const char *path, const char *inm,
		     struct resp *r)
{
	char line[WEB_INM_BYTES + 32];
	const char *hdrs[] = { line, NULL };

	snprintf(line, sizeof line, "If-None-Match: %s", inm);
	http_hdrs(sv, method, path, NULL, inm ? hdrs : NULL, r);
}

START_TEST(test_etag_match_is_weak_and_takes_lists_and_star)
{
	ck_assert(web_etag_match("\"a\"", "\"a\""));
	ck_assert(web_etag_match("W/\"a\"", "\"a\""));
	ck_assert(web_etag_match("\"x\", W/\"a\"", "\"a\""));
	ck_assert(web_etag_match("*", "\"a\""));
	ck_assert(!web_etag_match("", "\"a\""));
	ck_assert(!web_etag_match("\"ab\"", "\"a\""));
	ck_assert(!web_etag_match("\"a", "\"a\""));
	ck_assert(!web_etag_match("a", "\"a\""));
	ck_assert(!web_etag_match("\"a\"", ""));
}
END_TEST

/* ---- read-your-writes: a source change is answered once ingest shows it ---- */

/* Stand-in ingest: takes the removal (numbering it, as ingest does) but applies nothing. */
static void fake_removed(void *ctx, int64_t id)
{
	struct bus *b = ctx;
	(void)id;
	atomic_fetch_add(&b->sources_cmds, 1);
}

/* Stand-in db writer: every message succeeds at once. */
static void *fake_db_main(void *arg)
{
	struct bus *b = arg;
	void *m;
	while (queue_pop_batch(&b->db, &m, 1, -1) == 1) {
		struct dbmsg *d = m;
		d->rc = 0;
		d->done(d, d->done_ctx);
	}
	return NULL;
}

struct applier {
	struct bus *bus;
	int after_ms;
};

/* Stand-in ingest publishing the change after a while. */
static void *fake_apply_main(void *arg)
{
	struct applier *a = arg;
	struct timespec ts = { a->after_ms / 1000, (long)(a->after_ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
	atomic_store(&a->bus->sources_applied, atomic_load(&a->bus->sources_cmds));
	bus_wake_web(a->bus);
	return NULL;
}

START_TEST(test_source_change_is_answered_once_ingest_shows_it)
{
	struct server sv;
	struct resp r;
	pthread_t db, ap;
	char err[256];
	struct web_config cfg = { .listen = "127.0.0.1:0", .chartjs_dir = CHARTJS_DIR,
				  .token = TEST_TOKEN };

	ck_assert_int_eq(bus_init(&sv.bus), 0);
	sv.bus.source_ops.removed = fake_removed;
	sv.bus.source_ops.ctx = &sv.bus;
	make_static_dir(sv.static_dir, sizeof sv.static_dir);
	cfg.static_dir = sv.static_dir;
	ck_assert_msg(web_create(&sv.web, &cfg, &sv.bus, err, sizeof err) == 0, "%s", err);
	sv.port = web_port(sv.web);
	ck_assert_int_eq(pthread_create(&sv.th, NULL, server_main, &sv), 0);
	ck_assert_int_eq(pthread_create(&db, NULL, fake_db_main, &sv.bus), 0);

	/* ingest shows the removal after 300 ms: the answer waits for it */
	struct applier a = { &sv.bus, 300 };
	ck_assert_int_eq(pthread_create(&ap, NULL, fake_apply_main, &a), 0);
	int64_t t0 = clock_mono_ms();
	http_hdrs(&sv, "DELETE", "/api/sources/5", NULL, auth_hdrs, &r);
	int64_t took = clock_mono_ms() - t0;
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"id\":5,\"deleted\":true}");
	ck_assert_msg(took >= 250, "answered after %lld ms, before ingest showed the change",
		      (long long)took);
	ck_assert_uint_eq(atomic_load(&sv.bus.sources_applied), 1);
	resp_free(&r);
	pthread_join(ap, NULL);

	/* a stalled ingest delays the answer by WEB_HELD_MAX_MS at most */
	t0 = clock_mono_ms();
	http_hdrs(&sv, "DELETE", "/api/sources/6", NULL, auth_hdrs, &r);
	took = clock_mono_ms() - t0;
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(took >= WEB_HELD_MAX_MS - 100 && took < WEB_HELD_MAX_MS + 3000,
		      "answered after %lld ms", (long long)took);
	resp_free(&r);

	queue_close(&sv.bus.db);
	pthread_join(db, NULL);
	server_stop(&sv);
}
END_TEST

/* ---- term detail: a stand-in analytics thread answers bus->live ---- */

struct fake_analytics {
	struct bus *bus;
	pthread_t th;
	atomic_bool stop;
	int kind;                 /* of the last question */
	size_t limit, examples;
	char term[256];
	int answered;
};

static void *fake_analytics_main(void *arg)
{
	struct fake_analytics *fa = arg;
	while (!atomic_load(&fa->stop)) {
		void *item;
		if (queue_pop_batch(&fa->bus->live, &item, 1, 50) == 0)
			continue;
		struct live_req *r = item;
		ck_assert_int_eq(r->op, LIVE_TERM_DETAIL);
		fa->kind = r->kind;
		fa->limit = r->limit;
		fa->examples = r->examples;
		snprintf(fa->term, sizeof fa->term, "%.*s", (int)r->term_len, r->term);
		r->scanned = 3;
		r->matched = 1;
		live_add_row(r, &(struct live_row){ .term = "#go", .term_len = 3,
						    .kind = TERM_HASHTAG, .count = 1 });
		live_add_post(r, &(struct live_post){ .source_id = 1, .time_ms = 1795608000000LL,
						      .id = "p1", .id_len = 2, .url = "", .author = "ann",
						      .author_len = 3, .text = "<b>#rust</b>",
						      .text_len = 12 });
		fa->answered++;
		live_answer(r);
	}
	return NULL;
}

START_TEST(test_term_related_asks_analytics_without_blocking_and_checks_input)
{
	struct server sv;
	struct resp r;
	struct fake_analytics fa = { 0 };
	char tag[WEB_ETAG_BYTES];

	server_start(&sv);
	fa.bus = &sv.bus;
	ck_assert_int_eq(pthread_create(&fa.th, NULL, fake_analytics_main, &fa), 0);
	http(&sv, "GET", "/api/terms/%23rust/related?limit=3&examples=1&_=1", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(fa.term, "#rust");
	ck_assert_int_eq(fa.kind, TERM_HASHTAG); /* from the sigil */
	ck_assert_uint_eq(fa.limit, 3);
	ck_assert_uint_eq(fa.examples, 1);
	json_t *doc = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "term")), "#rust");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "matched_posts")), 1);
	json_t *ex = json_array_get(json_object_get(doc, "examples"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ex, "text")), "<b>#rust</b>");
	json_decref(doc);
	ck_assert(header(&r, "ETag", tag, sizeof tag));
	resp_free(&r);
	http_inm(&sv, "GET", "/api/terms/%23rust/related?limit=3&examples=1", tag, &r);
	ck_assert_int_eq(r.status, 304);
	resp_free(&r);
	/* defaults, and a kind given */
	http(&sv, "GET", "/api/terms/rust/related?kind=bigram", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(fa.kind, TERM_BIGRAM);
	ck_assert_uint_eq(fa.limit, WEB_RELATED_TERMS);
	ck_assert_uint_eq(fa.examples, WEB_RELATED_POSTS);
	resp_free(&r);
	int asked = fa.answered;
	/* bad input never reaches analytics */
	static const char *const bad[] = {
		"/api/terms/rust/related?kind=all", "/api/terms/rust/related?kind=%3Cb%3E",
		"/api/terms/rust/related?limit=0", "/api/terms/rust/related?limit=51",
		"/api/terms/rust/related?examples=21", "/api/terms/rust/related?limit=-1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		http(&sv, "GET", bad[i], NULL, &r);
		ck_assert_msg(r.status == 400, "%s: %ld", bad[i], r.status);
		ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
		resp_free(&r);
	}
	char path[600] = "/api/terms/";
	memset(path + strlen(path), 'x', 300);
	strcpy(path + strlen("/api/terms/") + 300, "/related");
	http(&sv, "GET", path, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	ck_assert_int_eq(fa.answered, asked);
	/* analytics gone: 503, not a hang */
	atomic_store(&fa.stop, true);
	pthread_join(fa.th, NULL);
	queue_close(&sv.bus.live);
	http(&sv, "GET", "/api/terms/rust/related", NULL, &r);
	ck_assert_int_eq(r.status, 503);
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

START_TEST(test_trends_etag_gives_304_until_the_next_snapshot)
{
	struct server sv;
	struct resp r;
	char tag[WEB_ETAG_BYTES], tag2[WEB_ETAG_BYTES], v[64], weak[WEB_ETAG_BYTES + 4];

	server_start(&sv);
	server_publish(&sv, make_snapshot(5, "", NTTERMS));
	http(&sv, "GET", "/api/trends?kind=hashtag", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(header(&r, "ETag", tag, sizeof tag));
	ck_assert_int_eq(tag[0], '"');
	resp_free(&r);

	http_inm(&sv, "GET", "/api/trends?kind=hashtag", tag, &r);
	ck_assert_int_eq(r.status, 304);
	ck_assert_uint_eq(r.len, 0);
	ck_assert(header(&r, "ETag", v, sizeof v));
	ck_assert_str_eq(v, tag);
	resp_free(&r);
	snprintf(weak, sizeof weak, "W/%s", tag);
	http_inm(&sv, "HEAD", "/api/trends?kind=hashtag", weak, &r);
	ck_assert_int_eq(r.status, 304);
	resp_free(&r);
	/* another view of the same snapshot is another document */
	http_inm(&sv, "GET", "/api/trends?kind=word", tag, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(header(&r, "ETag", v, sizeof v));
	ck_assert_str_ne(v, tag);
	resp_free(&r);

	server_publish(&sv, make_snapshot(6, "", NTTERMS));
	http_inm(&sv, "GET", "/api/trends?kind=hashtag", tag, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_gt(r.len, 0);
	ck_assert(header(&r, "ETag", tag2, sizeof tag2));
	ck_assert_str_ne(tag2, tag);
	resp_free(&r);
	ck_assert_double_eq(metric_value(&sv, "trendd_http_not_modified_total"), 2);
	server_stop(&sv);
}
END_TEST

START_TEST(test_sources_and_static_files_have_etags)
{
	static const char *paths[] = { "/api/sources", "/app.js", "/", "/api/sources/1" };
	struct server sv;
	struct resp r;
	char tag[WEB_ETAG_BYTES], v[64];

	server_start(&sv);
	publish_blob(&sv.bus.sources, sources_json);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		http(&sv, "GET", paths[i], NULL, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(header(&r, "ETag", tag, sizeof tag), "%s has no ETag", paths[i]);
		resp_free(&r);
		http_inm(&sv, "GET", paths[i], tag, &r);
		ck_assert_msg(r.status == 304, "%s: %ld", paths[i], r.status);
		ck_assert_uint_eq(r.len, 0);
		ck_assert(header(&r, "Cache-Control", v, sizeof v));
		ck_assert_str_eq(v, "no-cache");
		resp_free(&r);
		http_inm(&sv, "GET", paths[i], "\"stale\"", &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_uint_gt(r.len, 0);
		resp_free(&r);
	}
	/* a changed list is a new document */
	http(&sv, "GET", "/api/sources", NULL, &r);
	ck_assert(header(&r, "ETag", tag, sizeof tag));
	resp_free(&r);
	publish_blob(&sv.bus.sources, "[]");
	http_inm(&sv, "GET", "/api/sources", tag, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "[]");
	resp_free(&r);
	/* errors carry no validator */
	http(&sv, "GET", "/api/trends", NULL, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert(!header(&r, "ETag", v, sizeof v));
	resp_free(&r);
	server_stop(&sv);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc;

	tc = tcase_create("static");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_static_index_skips_hidden_outside_and_unknown_files);
	tcase_add_test(tc, test_static_mime_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listen_parse_accepts_ipv4_ipv6_and_rejects_garbage);
	tcase_add_test(tc, test_create_reports_address_in_use);
	tcase_add_test(tc, test_serves_on_ipv6_loopback);
	tcase_add_test(tc, test_stop_returns_promptly_with_clients_connected);
	tcase_add_test(tc, test_stop_closes_websocket_clients_with_1001);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_trends_before_first_snapshot_is_503_json);
	tcase_add_test(tc, test_trends_default_document_shape);
	tcase_add_test(tc, test_trends_filters_kind_sort_limit_window_lang_source);
	tcase_add_test(tc, test_trends_bad_parameters_are_400_with_reason);
	tcase_add_test(tc, test_sources_is_empty_array_then_the_published_blob);
	tcase_add_test(tc, test_large_response_is_written_in_pieces);
	tcase_add_test(tc, test_keep_alive_connection_serves_every_kind_of_response);
	tcase_add_test(tc, test_healthz_reports_degraded_until_snapshot_and_db_ok);
	tcase_add_test(tc, test_metrics_are_prometheus_text);
	tcase_add_test(tc, test_metrics_per_source_and_db_commit_histogram);
	tcase_add_test(tc, test_metrics_without_sources_have_empty_families);
	tcase_add_test(tc, test_unknown_paths_are_404_json);
	tcase_add_test(tc, test_wrong_method_is_405_json_with_allow);
	tcase_add_test(tc, test_request_body_over_cap_is_413_and_closes);
	tcase_add_test(tc, test_static_files_with_types_and_security_headers);
	tcase_add_test(tc, test_path_traversal_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("ws");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_ws_subscribe_gets_trends_now_and_on_every_snapshot);
	tcase_add_test(tc, test_ws_subscribe_before_first_snapshot_waits_for_it);
	tcase_add_test(tc, test_ws_bad_messages_get_errors_and_the_connection_stays);
	tcase_add_test(tc, test_ws_message_over_cap_closes_with_1009);
	tcase_add_test(tc, test_ws_upgrade_refused_for_other_paths_protocols_and_origins);
	tcase_add_test(tc, test_ws_sends_sources_on_connect_and_change);
	tcase_add_test(tc, test_ws_same_view_is_rendered_once_per_snapshot);
	tcase_add_test(tc, test_ws_slow_client_is_dropped_not_queued);
	suite_add_tcase(s, tc);

	tc = tcase_create("etag");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_etag_match_is_weak_and_takes_lists_and_star);
	tcase_add_test(tc, test_trends_etag_gives_304_until_the_next_snapshot);
	tcase_add_test(tc, test_term_related_asks_analytics_without_blocking_and_checks_input);
	tcase_add_test(tc, test_source_change_is_answered_once_ingest_shows_it);
	tcase_add_test(tc, test_sources_and_static_files_have_etags);
	suite_add_tcase(s, tc);

	tc = tcase_create("preview");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_preview_needs_the_token_and_the_same_origin);
	tcase_add_test(tc, test_preview_bad_body_is_400_like_post_sources);
	tcase_add_test(tc, test_preview_answer_is_the_parsed_document_and_posts);
	tcase_add_test(tc, test_preview_failures_are_422_and_busy_is_503);
	tcase_add_test(tc, test_preview_without_a_worker_is_503);
	tcase_add_test(tc, test_preview_render_of_a_recovered_document_is_not_wellformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--demo") == 0)
		return demo_main(argc, argv);
	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = tu_run(suite());
	curl_global_cleanup();
	return rc;
}
