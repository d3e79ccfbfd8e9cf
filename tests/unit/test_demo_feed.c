/*
 * test_demo_feed.c - the demo feed as a client sees it: real HTTP over a TCP
 * socket to 127.0.0.1, Mastodon status JSON compared with a captured Mastodon
 * response, Mastodon paging semantics, HTTP/1.1 framing and error handling,
 * bursts in the generated content, and the generator on its own.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "ingest/demo_feed.h"
#include "ingest/demo_vocab.h"
#include "tests/unit/testutil.h"

/* ------------------------------------------------------------ tiny client */

struct client {
	int fd;
	char *buf;        /* received and not yet consumed */
	size_t len, cap;
};

struct resp {
	int status;
	char *head;       /* status line and headers, NUL-terminated */
	char *body;       /* NUL-terminated */
	size_t body_len;
};

static void client_open(struct client *c, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	memset(c, 0, sizeof *c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
		      strerror(errno));
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static void client_send(struct client *c, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		data += w;
		n -= (size_t)w;
	}
}

static void client_sends(struct client *c, const char *s)
{
	client_send(c, s, strlen(s));
}

/* Reads more bytes: > 0 read, 0 EOF, -1 timeout or error. */
static int client_fill(struct client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if (c->cap - c->len < 65536) {
		c->cap = c->cap ? c->cap * 2 : 131072;
		c->buf = realloc(c->buf, c->cap + 1);
		ck_assert_ptr_nonnull(c->buf);
	}
	ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -1;
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	return n > 0 ? (int)n : 0;
}

static const char *find_header(const char *head, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			const char *e = strstr(v, "\r\n");
			*len = e ? (size_t)(e - v) : strlen(v);
			return v;
		}
	}
	return NULL;
}

/* Header value as a new string, or NULL. */
static char *resp_header(const struct resp *r, const char *name)
{
	size_t len;
	const char *v = find_header(r->head, name, &len);
	return v ? strndup(v, len) : NULL;
}

/*
 * Reads one response. no_body: a reply to HEAD (headers only). Returns false
 * on EOF or timeout before a whole response arrived.
 */
static bool client_response(struct client *c, struct resp *r, int timeout_ms, bool no_body)
{
	char *end;
	memset(r, 0, sizeof *r);
	while (!c->buf || !(end = strstr(c->buf, "\r\n\r\n")))
		if (client_fill(c, timeout_ms) <= 0)
			return false;
	size_t hl = (size_t)(end - c->buf) + 4;
	r->head = strndup(c->buf, hl);
	ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
	size_t cl_len;
	const char *cl = find_header(r->head, "content-length", &cl_len);
	size_t blen = cl && !no_body && r->status != 304 ? strtoul(cl, NULL, 10) : 0;
	while (c->len < hl + blen)
		if (client_fill(c, timeout_ms) <= 0)
			return false;
	r->body = strndup(c->buf + hl, blen);
	r->body_len = blen;
	memmove(c->buf, c->buf + hl + blen, c->len - hl - blen);
	c->len -= hl + blen;
	c->buf[c->len] = 0;
	return true;
}

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* True when the server closes the connection within timeout_ms. */
static bool client_sees_eof(struct client *c, int timeout_ms)
{
	int64_t until = clock_mono_ms() + timeout_ms;
	for (;;) {
		int64_t left = until - clock_mono_ms();
		int n = client_fill(c, left > 0 ? (int)left : 0);
		if (n == 0)
			return true;
		if (n < 0)
			return false;
	}
}

static void request(struct client *c, const char *method, const char *target, uint16_t port)
{
	char req[2048];
	snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "User-Agent: trendd-test\r\nAccept: application/json\r\n\r\n", method, target,
		 port);
	client_sends(c, req);
}

static struct resp get_on(struct client *c, const char *target, uint16_t port)
{
	struct resp r;
	request(c, "GET", target, port);
	ck_assert_msg(client_response(c, &r, 5000, false), "no response to %s", target);
	return r;
}

static struct resp get(uint16_t port, const char *target)
{
	struct client c;
	client_open(&c, port);
	struct resp r = get_on(&c, target, port);
	client_close(&c);
	return r;
}

static json_t *json_of(const struct resp *r)
{
	json_error_t err;
	json_t *j = json_loadb(r->body, r->body_len, 0, &err);
	ck_assert_msg(j != NULL, "bad JSON (%s): %.200s", err.text, r->body);
	return j;
}

/* GET a public-timeline page on c; status must be 200 and the body an array. */
static json_t *page_on(struct client *c, uint16_t port, const char *query, struct resp *keep)
{
	char target[512];
	struct resp r;
	snprintf(target, sizeof target, "/api/v1/timelines/public%s%s", *query ? "?" : "", query);
	r = get_on(c, target, port);
	ck_assert_msg(r.status == 200, "%s -> %d %s", target, r.status, r.body);
	json_t *j = json_of(&r);
	ck_assert(json_is_array(j));
	if (keep)
		*keep = r;
	else
		resp_free(&r);
	return j;
}

static json_t *page(uint16_t port, const char *query)
{
	struct client c;
	client_open(&c, port);
	json_t *j = page_on(&c, port, query, NULL);
	client_close(&c);
	return j;
}

static uint64_t sid(json_t *status)
{
	const char *s = json_string_value(json_object_get(status, "id"));
	ck_assert_ptr_nonnull(s);
	return strtoull(s, NULL, 10);
}

static uint64_t nth_id(json_t *arr, size_t i)
{
	ck_assert_uint_lt(i, json_array_size(arr));
	return sid(json_array_get(arr, i));
}

static void assert_strictly_decreasing(json_t *arr)
{
	for (size_t i = 1; i < json_array_size(arr); i++)
		ck_assert_msg(nth_id(arr, i) < nth_id(arr, i - 1), "ids not decreasing at %zu", i);
}

static struct demo_feed *feed_up(struct demo_feed_config cfg, uint16_t *port)
{
	struct demo_feed *d = NULL;
	ck_assert_int_eq(demo_feed_start(&d, &cfg, port), 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_gt(*port, 0);
	return d;
}

static const struct demo_feed_config quick = { .seed = 11, .posts_per_s = 100,
					       .prefill_ms = 5000 };

/* ------------------------------------------------------------ status shape */

static bool same_kind(json_t *a, json_t *b)
{
	if (json_is_boolean(a) || json_is_boolean(b))
		return json_is_boolean(a) && json_is_boolean(b);
	if (json_is_number(a) || json_is_number(b))
		return json_is_integer(a) && json_is_integer(b);
	return json_typeof(a) == json_typeof(b);
}

/*
 * Every key of the captured Mastodon object is present in ours with the same
 * JSON type (either may be null where Mastodon allows null), recursively.
 */
static void assert_shape(json_t *ref, json_t *got, const char *where, bool remote)
{
	const char *key;
	json_t *rv;
	json_object_foreach(ref, key, rv) {
		json_t *gv = json_object_get(got, key);
		/* Mastodon shows the posting app only for its own users. */
		if (!gv && remote && strcmp(key, "application") == 0)
			continue;
		ck_assert_msg(gv != NULL, "%s: key \"%s\" missing", where, key);
		if (json_is_null(rv) || json_is_null(gv))
			continue;
		ck_assert_msg(same_kind(rv, gv), "%s.%s: type differs from Mastodon's", where, key);
		if (json_is_object(rv))
			assert_shape(rv, gv, key, remote);
	}
}

static bool lowercase_ascii(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

START_TEST(test_statuses_match_the_captured_mastodon_shape)
{
	size_t len, blen;
	char *raw = tu_read_fixture("mastodon/timeline_public_anonymous.http", &len);
	const char *body = tu_http_body(raw, len, &blen);
	json_t *captured = json_loadb(body, blen, 0, NULL);
	ck_assert(json_is_array(captured) && json_array_size(captured) > 0);
	json_t *ref = json_array_get(captured, 0);

	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	json_t *arr = page(port, "limit=40");
	ck_assert_uint_eq(json_array_size(arr), 40);
	int64_t now = clock_now_ms();
	size_t index;
	json_t *st;
	json_array_foreach(arr, index, st) {
		json_t *acc = json_object_get(st, "account");
		const char *acct = json_string_value(json_object_get(acc, "acct"));
		const char *aurl = json_string_value(json_object_get(acc, "url"));
		ck_assert_ptr_nonnull(acct);
		ck_assert_ptr_nonnull(aurl);
		bool remote = strchr(acct, '@') != NULL;
		assert_shape(ref, st, "status", remote);
		if (!remote)
			ck_assert(json_is_object(json_object_get(st, "application")));

		/* ids are decimal snowflakes whose top bits are the creation time */
		const char *id = json_string_value(json_object_get(st, "id"));
		ck_assert_uint_eq(strspn(id, "0123456789"), strlen(id));
		const char *ca = json_string_value(json_object_get(st, "created_at"));
		ck_assert_uint_eq(strlen(ca), 24);
		ck_assert(ca[19] == '.' && ca[23] == 'Z');
		int64_t t;
		ck_assert_int_eq(clock_parse_rfc3339(ca, strlen(ca), &t), 0);
		ck_assert_int_eq((int64_t)(strtoull(id, NULL, 10) >> 16), t);
		ck_assert(t <= now + 1000 && t > now - 60000);

		ck_assert_str_eq(json_string_value(json_object_get(st, "visibility")), "public");
		json_t *lang = json_object_get(st, "language");
		ck_assert(json_is_null(lang) || strlen(json_string_value(lang)) == 2);
		const char *content = json_string_value(json_object_get(st, "content"));
		ck_assert(strncmp(content, "<p>", 3) == 0);
		ck_assert(strcmp(content + strlen(content) - 4, "</p>") == 0);
		ck_assert_ptr_null(strchr(content, '\''));   /* Mastodon writes &#39; */
		ck_assert(json_is_null(json_object_get(st, "reblog")));
		ck_assert_uint_eq(json_array_size(json_object_get(st, "media_attachments")), 0);

		/* remote accounts have user@host and live on that host */
		const char *host = remote ? strchr(acct, '@') + 1 : DEMO_LOCAL_DOMAIN;
		char prefix[256];
		snprintf(prefix, sizeof prefix, "https://%s/@", host);
		ck_assert_msg(strncmp(aurl, prefix, strlen(prefix)) == 0, "%s vs %s", aurl, acct);
		const char *surl = json_string_value(json_object_get(st, "url"));
		ck_assert(strncmp(surl, aurl, strlen(aurl)) == 0 && strstr(surl, id));

		size_t k;
		json_t *tag;
		json_array_foreach(json_object_get(st, "tags"), k, tag) {
			const char *name = json_string_value(json_object_get(tag, "name"));
			const char *turl = json_string_value(json_object_get(tag, "url"));
			ck_assert(name && turl && lowercase_ascii(name));
			ck_assert(strncmp(turl, "https://" DEMO_LOCAL_DOMAIN "/tags/", 32) == 0);
			/* the hashtag is linked in the content, its case as written */
			char needle[160];
			snprintf(needle, sizeof needle, "\" class=\"mention hashtag\" rel=\"tag\">"
				 "#<span>%s</span></a>", name);
			ck_assert_msg(strcasestr(content, needle), "#%s not in %s", name, content);
		}
		json_t *m;
		json_array_foreach(json_object_get(st, "mentions"), k, m) {
			const char *user = json_string_value(json_object_get(m, "username"));
			const char *murl = json_string_value(json_object_get(m, "url"));
			ck_assert(json_is_string(json_object_get(m, "id")));
			ck_assert(json_is_string(json_object_get(m, "acct")));
			char needle[256];
			snprintf(needle, sizeof needle,
				 "<a href=\"%s\" class=\"u-url mention\">@<span>%s</span></a>",
				 murl, user);
			ck_assert_msg(strstr(content, needle), "@%s not in %s", user, content);
		}
	}
	json_decref(arr);
	json_decref(captured);
	free(raw);
	demo_feed_stop(d);
}
END_TEST

/* -------------------------------------------------------------- paging */

START_TEST(test_ids_strictly_decrease_within_pages)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	uint64_t max = 0;
	for (int i = 0; i < 5; i++) {
		char q[64];
		snprintf(q, sizeof q, max ? "limit=40&max_id=%llu" : "limit=40",
			 (unsigned long long)max);
		json_t *arr = page_on(&c, port, q, NULL);
		ck_assert_uint_eq(json_array_size(arr), 40);
		assert_strictly_decreasing(arr);
		if (max)
			ck_assert_uint_lt(nth_id(arr, 0), max);   /* max_id is exclusive */
		max = nth_id(arr, 39);
		json_decref(arr);
	}
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_min_id_paging_walks_forward_without_gaps)
{
	struct demo_feed_config cfg = { .seed = 5, .posts_per_s = 200, .prefill_ms = 1000 };
	uint16_t port;
	struct demo_feed *d = feed_up(cfg, &port);
	struct client c;
	client_open(&c, port);

	json_t *first = page_on(&c, port, "limit=1", NULL);
	uint64_t start = nth_id(first, 0), cursor = start;
	json_decref(first);

	size_t cap = 8192, n = 0, polls = 0;
	uint64_t *seen = malloc(cap * sizeof *seen);
	int64_t until = clock_mono_ms() + 2500;
	for (bool last = false; !last;) {
		last = clock_mono_ms() >= until;
		usleep(last ? 0 : 150000);
		/* Drain like a poller: pages of 40 from the cursor until a short page. */
		for (;;) {
			char q[64];
			snprintf(q, sizeof q, "limit=40&min_id=%llu", (unsigned long long)cursor);
			json_t *arr = page_on(&c, port, q, NULL);
			size_t m = json_array_size(arr);
			polls++;
			assert_strictly_decreasing(arr);
			for (size_t i = m; i-- > 0;) {
				uint64_t id = nth_id(arr, i);
				ck_assert_uint_gt(id, cursor);
				ck_assert_uint_lt(n, cap);
				seen[n++] = id;
				cursor = id;
			}
			json_decref(arr);
			if (m < 40)
				break;
		}
	}
	ck_assert_uint_gt(n, 250);   /* about 200/s for 2.5 s arrived */
	ck_assert_uint_gt(polls, 10);

	/* The server's own view, walked backwards with max_id, must match exactly. */
	size_t k = n;
	uint64_t max = cursor + 1;
	while (k > 0) {
		char q[64];
		snprintf(q, sizeof q, "limit=40&max_id=%llu&since_id=%llu", (unsigned long long)max,
			 (unsigned long long)start);
		json_t *arr = page_on(&c, port, q, NULL);
		size_t m = json_array_size(arr);
		ck_assert_uint_gt(m, 0);
		for (size_t i = 0; i < m; i++) {
			ck_assert_uint_gt(k, 0);
			ck_assert_msg(nth_id(arr, i) == seen[k - 1], "gap or duplicate at %zu", k);
			k--;
		}
		max = nth_id(arr, m - 1);
		json_decref(arr);
	}
	json_t *rest = page_on(&c, port, "limit=40&max_id=0", NULL);
	ck_assert_uint_eq(json_array_size(rest), 0);
	json_decref(rest);
	free(seen);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_max_id_since_id_and_min_id_follow_mastodon)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	char q[128];

	/* A page well in the past, so statuses arriving meanwhile do not matter. */
	json_t *top = page_on(&c, port, "limit=40", NULL);
	uint64_t anchor = nth_id(top, 39);
	json_decref(top);
	snprintf(q, sizeof q, "limit=40&max_id=%llu", (unsigned long long)anchor);
	json_t *a = page_on(&c, port, q, NULL);
	ck_assert_uint_eq(json_array_size(a), 40);

	/* max_id: the statuses just below it, exclusive */
	snprintf(q, sizeof q, "limit=5&max_id=%llu", (unsigned long long)nth_id(a, 20));
	json_t *r = page_on(&c, port, q, NULL);
	ck_assert_uint_eq(json_array_size(r), 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(nth_id(r, i), nth_id(a, 21 + i));
	json_decref(r);

	/* min_id: the page just above it, oldest five, still newest first */
	snprintf(q, sizeof q, "limit=5&min_id=%llu", (unsigned long long)nth_id(a, 30));
	r = page_on(&c, port, q, NULL);
	ck_assert_uint_eq(json_array_size(r), 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(nth_id(r, i), nth_id(a, 25 + i));
	json_decref(r);

	/* since_id: the newest above it, leaving a gap */
	snprintf(q, sizeof q, "limit=5&since_id=%llu", (unsigned long long)nth_id(a, 30));
	r = page_on(&c, port, q, NULL);
	ck_assert_uint_eq(json_array_size(r), 5);
	ck_assert_uint_gt(nth_id(r, 4), anchor);
	json_decref(r);

	/* since_id bounded by max_id, and min_id winning over since_id */
	snprintf(q, sizeof q, "limit=40&since_id=%llu&max_id=%llu",
		 (unsigned long long)nth_id(a, 30), (unsigned long long)nth_id(a, 27));
	r = page_on(&c, port, q, NULL);
	ck_assert_uint_eq(json_array_size(r), 2);
	ck_assert_uint_eq(nth_id(r, 0), nth_id(a, 28));
	ck_assert_uint_eq(nth_id(r, 1), nth_id(a, 29));
	json_decref(r);
	snprintf(q, sizeof q, "limit=3&min_id=%llu&since_id=%llu&max_id=%llu",
		 (unsigned long long)nth_id(a, 30), (unsigned long long)nth_id(a, 35),
		 (unsigned long long)nth_id(a, 10));
	r = page_on(&c, port, q, NULL);
	ck_assert_uint_eq(json_array_size(r), 3);
	ck_assert_uint_eq(nth_id(r, 0), nth_id(a, 27));
	ck_assert_uint_eq(nth_id(r, 2), nth_id(a, 29));
	json_decref(r);

	/* ids that are not numbers are refused with a JSON error */
	struct resp bad = get_on(&c, "/api/v1/timelines/public?max_id=12ab", port);
	ck_assert_int_eq(bad.status, 400);
	json_t *e = json_of(&bad);
	ck_assert(json_is_string(json_object_get(e, "error")));
	json_decref(e);
	resp_free(&bad);

	json_decref(a);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_limit_follows_mastodon_rules)
{
	static const struct { const char *q; size_t n; } cases[] = {
		{ "", 20 }, { "limit=5", 5 }, { "limit=40", 40 }, { "limit=100", 40 },
		{ "limit=-3", 3 }, { "limit=7abc", 7 }, { "limit=abc", 0 }, { "limit=0", 0 },
		{ "limit=10&only_media=true", 0 }, { "limit=10&local=true", 10 },
	};
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct resp r;
		json_t *arr = page_on(&c, port, cases[i].q, &r);
		ck_assert_msg(json_array_size(arr) == cases[i].n, "%s gave %zu", cases[i].q,
			      json_array_size(arr));
		/* an empty page has no Link header */
		char *link = resp_header(&r, "link");
		ck_assert(cases[i].n ? link != NULL : link == NULL);
		free(link);
		json_decref(arr);
		resp_free(&r);
	}
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

/* The URL inside <...> before `; rel="<rel>"`, as a new string. */
static char *link_target(const char *link, const char *rel)
{
	char want[32];
	snprintf(want, sizeof want, "; rel=\"%s\"", rel);
	const char *r = strstr(link, want);
	ck_assert_ptr_nonnull(r);
	const char *gt = r - 1, *lt = gt;
	ck_assert(*gt == '>');
	while (lt > link && *lt != '<')
		lt--;
	return strndup(lt + 1, (size_t)(gt - lt - 1));
}

START_TEST(test_link_and_rate_limit_headers_like_mastodon)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	char q[128], prefix[128];

	json_t *top = page_on(&c, port, "limit=40", NULL);
	uint64_t anchor = nth_id(top, 39);
	json_decref(top);
	snprintf(q, sizeof q, "limit=20&max_id=%llu", (unsigned long long)anchor);
	json_t *whole = page_on(&c, port, q, NULL);
	snprintf(q, sizeof q, "limit=10&max_id=%llu", (unsigned long long)anchor);
	struct resp r;
	json_t *half = page_on(&c, port, q, &r);

	char *link = resp_header(&r, "link");
	ck_assert_ptr_nonnull(link);
	char *next = link_target(link, "next"), *prev = link_target(link, "prev");
	snprintf(prefix, sizeof prefix, "http://127.0.0.1:%u/api/v1/timelines/public?limit=10&",
		 port);
	ck_assert_msg(strncmp(next, prefix, strlen(prefix)) == 0, "next: %s", next);
	snprintf(q, sizeof q, "max_id=%llu", (unsigned long long)nth_id(half, 9));
	ck_assert_str_eq(next + strlen(prefix), q);
	snprintf(q, sizeof q, "min_id=%llu", (unsigned long long)nth_id(half, 0));
	ck_assert_str_eq(prev + strlen(prefix), q);

	/* Following rel="next" continues exactly where the page ended. */
	struct resp r2 = get_on(&c, strchr(next + strlen("http://"), '/'), port);
	ck_assert_int_eq(r2.status, 200);
	json_t *rest = json_of(&r2);
	ck_assert_uint_eq(json_array_size(rest), 10);
	for (size_t i = 0; i < 10; i++) {
		ck_assert_uint_eq(nth_id(half, i), nth_id(whole, i));
		ck_assert_uint_eq(nth_id(rest, i), nth_id(whole, 10 + i));
	}

	/* X-RateLimit-*: a limit, what remains of it, and an ISO 8601 reset time */
	char *lim = resp_header(&r2, "x-ratelimit-limit");
	char *rem = resp_header(&r2, "x-ratelimit-remaining");
	char *reset = resp_header(&r2, "x-ratelimit-reset");
	ck_assert(lim && rem && reset);
	ck_assert_int_eq(atoi(lim), 3000);
	ck_assert_int_eq(atoi(rem), 3000 - 4);
	int64_t reset_ms;
	ck_assert_int_eq(clock_parse_rfc3339(reset, strlen(reset), &reset_ms), 0);
	ck_assert(reset_ms > clock_now_ms() && reset_ms <= clock_now_ms() + 301000);
	ck_assert_uint_eq(strlen(reset), 27);   /* 2026-08-01T14:00:00.497737Z */

	free(lim);
	free(rem);
	free(reset);
	free(next);
	free(prev);
	free(link);
	json_decref(rest);
	json_decref(half);
	json_decref(whole);
	resp_free(&r);
	resp_free(&r2);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_rate_limit_answers_429_when_spent)
{
	struct demo_feed_config cfg = quick;
	cfg.rate_limit = 3;
	uint16_t port;
	struct demo_feed *d = feed_up(cfg, &port);
	struct client c;
	client_open(&c, port);
	for (int i = 0; i < 3; i++) {
		struct resp r = get_on(&c, "/api/v1/timelines/public?limit=1", port);
		ck_assert_int_eq(r.status, 200);
		char *rem = resp_header(&r, "x-ratelimit-remaining");
		ck_assert_int_eq(atoi(rem), 2 - i);
		free(rem);
		resp_free(&r);
	}
	struct resp r = get_on(&c, "/api/v1/timelines/public?limit=1", port);
	ck_assert_int_eq(r.status, 429);
	json_t *e = json_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(e, "error")), "Too many requests");
	char *rem = resp_header(&r, "x-ratelimit-remaining");
	char *retry = resp_header(&r, "retry-after");
	ck_assert_str_eq(rem, "0");
	ck_assert(retry && atoi(retry) > 0 && atoi(retry) <= 300);
	free(rem);
	free(retry);
	json_decref(e);
	resp_free(&r);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_if_none_match_gives_304)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	struct resp r = get_on(&c, "/api/v1/timelines/public?max_id=1", port);
	ck_assert_int_eq(r.status, 200);
	char *etag = resp_header(&r, "etag");
	ck_assert(etag && strncmp(etag, "W/\"", 3) == 0);
	char req[512];
	snprintf(req, sizeof req, "GET /api/v1/timelines/public?max_id=1 HTTP/1.1\r\nHost: x\r\n"
		 "If-None-Match: \"other\", %s\r\n\r\n", etag);
	client_sends(&c, req);
	struct resp r2;
	ck_assert(client_response(&c, &r2, 5000, false));
	ck_assert_int_eq(r2.status, 304);
	ck_assert_uint_eq(r2.body_len, 0);
	/* the connection stays usable after a body-less 304 */
	struct resp r3 = get_on(&c, "/api/v1/streaming/health", port);
	ck_assert_int_eq(r3.status, 200);
	ck_assert_str_eq(r3.body, "OK");
	free(etag);
	resp_free(&r);
	resp_free(&r2);
	resp_free(&r3);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

/* ------------------------------------------------------------- HTTP layer */

START_TEST(test_unknown_path_is_404_json)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	static const char *paths[] = { "/api/v1/nope", "/", "/api/v1/timelines/home",
				       "/api/v1/timelines/public/extra", "/%00" };
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct resp r = get(port, paths[i]);
		ck_assert_msg(r.status == 404, "%s -> %d", paths[i], r.status);
		char *ct = resp_header(&r, "content-type");
		ck_assert(ct && strncmp(ct, "application/json", 16) == 0);
		json_t *e = json_of(&r);
		ck_assert(json_is_string(json_object_get(e, "error")));
		json_decref(e);
		free(ct);
		resp_free(&r);
	}
	/* the other endpoints */
	struct resp r = get(port, "/api/v1/instance");
	ck_assert_int_eq(r.status, 200);
	json_t *inst = json_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(inst, "uri")), DEMO_LOCAL_DOMAIN);
	json_decref(inst);
	resp_free(&r);
	r = get(port, "/api/v1/timelines/tag/NovaPhone?limit=3");
	ck_assert_int_eq(r.status, 200);
	json_decref(json_of(&r));
	resp_free(&r);
	demo_feed_stop(d);
}
END_TEST

/* Sends raw bytes on a new connection; expects `status`, a JSON error and a close. */
static void expect_refusal(uint16_t port, const char *raw, size_t len, int status)
{
	struct client c;
	struct resp r;
	client_open(&c, port);
	client_send(&c, raw, len);
	ck_assert_msg(client_response(&c, &r, 5000, false), "no reply to %.40s", raw);
	ck_assert_msg(r.status == status, "%.40s -> %d, want %d", raw, r.status, status);
	json_t *e = json_of(&r);
	ck_assert(json_is_string(json_object_get(e, "error")));
	json_decref(e);
	char *conn = resp_header(&r, "connection");
	ck_assert_str_eq(conn, "close");
	free(conn);
	ck_assert(client_sees_eof(&c, 3000));
	resp_free(&r);
	client_close(&c);
}

START_TEST(test_garbage_requests_are_refused_and_closed)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
#define REFUSE(s, st) expect_refusal(port, s, sizeof(s) - 1, st)
	REFUSE("GARBAGE\r\n\r\n", 400);
	REFUSE("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400);
	REFUSE("GET /api/v1/timelines/public HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400);
	REFUSE("GET /api/v1/timelines/public HTTP/1.1\r\n\r\n", 400);           /* no Host */
	REFUSE("GET /api/v1/timelines/public HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400);
	REFUSE("GET /api/v1/timelines/public\r\nHost: x\r\n\r\n", 400);          /* HTTP/0.9 */
	REFUSE("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	REFUSE("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	REFUSE("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
	REFUSE("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413);
	REFUSE("GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", 400);
#undef REFUSE
	/* a request head larger than the cap */
	size_t big = DEMO_FEED_REQUEST_BYTES + 1024;
	char *huge = malloc(big);
	memset(huge, 'a', big);
	memcpy(huge, "GET / HTTP/1.1\r\nX-Pad: ", 23);
	expect_refusal(port, huge, big, 431);
	free(huge);
	/* after all that the server still answers */
	struct resp r = get(port, "/api/v1/streaming/health");
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_keep_alive_and_pipelining_on_one_connection)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);

	struct resp a = get_on(&c, "/api/v1/timelines/public?limit=2", port);
	struct resp b = get_on(&c, "/api/v1/timelines/public?limit=3", port);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(b.status, 200);
	char *conn = resp_header(&b, "connection");
	ck_assert_str_eq(conn, "keep-alive");
	free(conn);
	resp_free(&a);
	resp_free(&b);

	/* Three requests in one write, one with a body to skip; replies in order. */
	client_sends(&c, "GET /api/v1/streaming/health HTTP/1.1\r\nHost: x\r\n\r\n"
			 "POST /api/v1/timelines/public HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			 "\r\nhello"
			 "HEAD /api/v1/timelines/public?limit=4 HTTP/1.1\r\nHost: x\r\n\r\n"
			 "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	struct resp r1, r2, r3, r4;
	ck_assert(client_response(&c, &r1, 5000, false));
	ck_assert(client_response(&c, &r2, 5000, false));
	ck_assert(client_response(&c, &r3, 5000, true));
	ck_assert(client_response(&c, &r4, 5000, false));
	ck_assert_int_eq(r1.status, 200);
	ck_assert_str_eq(r1.body, "OK");
	ck_assert_int_eq(r2.status, 405);
	ck_assert_int_eq(r3.status, 200);
	char *cl = resp_header(&r3, "content-length");
	ck_assert_int_gt(atoi(cl), 100);   /* HEAD: the length of the body it did not send */
	free(cl);
	ck_assert_int_eq(r4.status, 404);
	ck_assert(client_sees_eof(&c, 3000));   /* Connection: close honoured */
	resp_free(&r1);
	resp_free(&r2);
	resp_free(&r3);
	resp_free(&r4);
	client_close(&c);

	/* A body bigger than one read, with the next request right behind it. */
	client_open(&c, port);
	size_t blen = 40000;
	char *big = malloc(blen + 512);
	int hl = snprintf(big, 512, "POST /api/v1/timelines/public HTTP/1.1\r\nHost: x\r\n"
			  "Content-Length: %zu\r\n\r\n", blen);
	memset(big + hl, 'x', blen);
	strcpy(big + hl + blen, "GET /api/v1/streaming/health HTTP/1.1\r\nHost: x\r\n\r\n");
	client_send(&c, big, strlen(big));
	free(big);
	ck_assert(client_response(&c, &r1, 5000, false));
	ck_assert(client_response(&c, &r2, 5000, false));
	ck_assert_int_eq(r1.status, 405);
	ck_assert_int_eq(r2.status, 200);
	ck_assert_str_eq(r2.body, "OK");
	resp_free(&r1);
	resp_free(&r2);
	client_close(&c);

	/* HTTP/1.0 closes by default */
	client_open(&c, port);
	client_sends(&c, "GET /api/v1/streaming/health HTTP/1.0\r\n\r\n");
	ck_assert(client_response(&c, &r1, 5000, false));
	ck_assert_int_eq(r1.status, 200);
	ck_assert(client_sees_eof(&c, 3000));
	resp_free(&r1);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_request_split_into_tiny_reads_is_served)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	const char *req = "GET /api/v1/timelines/public?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n";
	for (const char *p = req; *p; p++) {
		client_send(&c, p, 1);
		if ((p - req) % 7 == 0)
			usleep(2000);
	}
	struct resp r;
	ck_assert(client_response(&c, &r, 5000, false));
	ck_assert_int_eq(r.status, 200);
	json_t *arr = json_of(&r);
	ck_assert_uint_eq(json_array_size(arr), 2);
	json_decref(arr);
	resp_free(&r);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_connections_are_bounded_and_idle_ones_make_room)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	enum { N = DEMO_FEED_MAX_CONNS + 16 };
	struct client cs[N];
	for (int i = 0; i < N; i++) {
		client_open(&cs[i], port);
		usleep(1000);
	}
	usleep(200000);
	/* Idle keep-alive connections were closed to admit newer ones; a new
	 * client is still served. */
	struct client c;
	client_open(&c, port);
	struct resp r = get_on(&c, "/api/v1/streaming/health", port);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	int closed = 0;
	for (int i = 0; i < N; i++) {
		if (client_sees_eof(&cs[i], 0))
			closed++;
		client_close(&cs[i]);
	}
	ck_assert_int_ge(closed, N - DEMO_FEED_MAX_CONNS);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_streaming_public_sends_update_events)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client c;
	client_open(&c, port);
	request(&c, "GET", "/api/v1/streaming/public", port);
	char *ev = NULL;
	int64_t until = clock_mono_ms() + 5000;
	while (!(c.buf && (ev = strstr(c.buf, "event: update\ndata: ")) && strstr(ev, "\n\n")) &&
	       clock_mono_ms() < until)
		client_fill(&c, 500);
	ck_assert_ptr_nonnull(ev);
	ck_assert(strstr(c.buf, "text/event-stream") && strstr(c.buf, "chunked"));
	char *data = ev + strlen("event: update\ndata: ");
	json_t *st = json_loadb(data, (size_t)(strstr(data, "\n\n") - data), 0, NULL);
	ck_assert(json_is_object(st));
	ck_assert(json_is_string(json_object_get(st, "content")));
	json_decref(st);
	client_close(&c);
	demo_feed_stop(d);
}
END_TEST

START_TEST(test_stop_returns_promptly_with_clients_connected)
{
	uint16_t port;
	struct demo_feed *d = feed_up(quick, &port);
	struct client idle, partial, stream;
	client_open(&idle, port);
	client_open(&partial, port);
	client_sends(&partial, "GET /api/v1/timelines/public HTTP/1.1\r\nHo");
	client_open(&stream, port);
	request(&stream, "GET", "/api/v1/streaming/public", port);
	ck_assert_int_gt(client_fill(&stream, 2000), 0);
	usleep(100000);

	int64_t t0 = clock_mono_ms();
	demo_feed_stop(d);
	int64_t took = clock_mono_ms() - t0;
	ck_assert_msg(took < 1000, "stop took %lld ms", (long long)took);
	ck_assert(client_sees_eof(&idle, 1000));
	ck_assert(client_sees_eof(&partial, 1000));
	ck_assert(client_sees_eof(&stream, 1000));
	client_close(&idle);
	client_close(&partial);
	client_close(&stream);
}
END_TEST

/* ---------------------------------------------------------------- content */

START_TEST(test_same_seed_gives_same_content)
{
	struct demo_feed_config cfg = { .seed = 7, .posts_per_s = 100, .prefill_ms = 2000 };
	uint16_t pa, pb, pc;
	struct demo_feed *a = feed_up(cfg, &pa);
	usleep(30000);
	struct demo_feed *b = feed_up(cfg, &pb);
	cfg.seed = 8;
	struct demo_feed *c = feed_up(cfg, &pc);

	/* min_id=0 asks for the oldest page: the first statuses each feed made. */
	json_t *ja = page(pa, "limit=40&min_id=0"), *jb = page(pb, "limit=40&min_id=0");
	json_t *jc = page(pc, "limit=40&min_id=0");
	ck_assert_uint_eq(json_array_size(ja), 40);
	ck_assert_uint_eq(json_array_size(jb), 40);
	int differ = 0;
	for (size_t i = 0; i < 40; i++) {
		json_t *sa = json_array_get(ja, i), *sb = json_array_get(jb, i);
		json_t *sc = json_array_get(jc, i);
		ck_assert_str_eq(json_string_value(json_object_get(sa, "content")),
				 json_string_value(json_object_get(sb, "content")));
		ck_assert(json_equal(json_object_get(sa, "tags"), json_object_get(sb, "tags")));
		ck_assert(json_equal(json_object_get(sa, "language"),
				     json_object_get(sb, "language")));
		ck_assert(json_equal(json_object_get(json_object_get(sa, "account"), "acct"),
				     json_object_get(json_object_get(sb, "account"), "acct")));
		differ += strcmp(json_string_value(json_object_get(sa, "content")),
				 json_string_value(json_object_get(sc, "content"))) != 0;
	}
	ck_assert_int_ge(differ, 35);   /* another seed, another stream */
	json_decref(ja);
	json_decref(jb);
	json_decref(jc);
	demo_feed_stop(a);
	demo_feed_stop(b);
	demo_feed_stop(c);
}
END_TEST

struct seen_status {
	int64_t t;
	uint64_t author;
	char tags[DEMO_MAX_TAGS][48];
	int ntags;
};

START_TEST(test_burst_hashtag_rises_and_falls_with_many_authors)
{
	/* Stories run 20x faster: each rises in ~3 s and fades in ~8 s. */
	struct demo_feed_config cfg = { .seed = 3, .posts_per_s = 150, .story_speed = 20,
					.prefill_ms = 40000 };
	uint16_t port;
	struct demo_feed *d = feed_up(cfg, &port);
	struct client c;
	client_open(&c, port);

	size_t n = 0, cap = 16384;
	struct seen_status *all = calloc(cap, sizeof *all);
	uint64_t max = 0;
	for (;;) {
		char q[64];
		snprintf(q, sizeof q, max ? "limit=40&max_id=%llu" : "limit=40",
			 (unsigned long long)max);
		json_t *arr = page_on(&c, port, q, NULL);
		size_t i;
		json_t *st;
		json_array_foreach(arr, i, st) {
			ck_assert_uint_lt(n, cap);
			struct seen_status *s = &all[n++];
			s->t = (int64_t)(sid(st) >> 16);
			const char *acct = json_string_value(
				json_object_get(json_object_get(st, "account"), "acct"));
			s->author = hash_bytes(acct, strlen(acct));
			size_t k;
			json_t *tag;
			json_array_foreach(json_object_get(st, "tags"), k, tag)
				if (s->ntags < DEMO_MAX_TAGS)
					snprintf(s->tags[s->ntags++], sizeof s->tags[0], "%s",
						 json_string_value(json_object_get(tag, "name")));
			max = sid(st);
		}
		size_t m = json_array_size(arr);
		json_decref(arr);
		if (m == 0)
			break;
	}
	client_close(&c);
	demo_feed_stop(d);
	ck_assert_uint_gt(n, 5000);

	int64_t t0 = all[n - 1].t;
	int nb = (int)((all[0].t - t0) / 1000) + 1;
	int *total = calloc((size_t)nb, sizeof *total), *cnt = calloc((size_t)nb, sizeof *cnt);
	for (size_t i = 0; i < n; i++)
		total[(all[i].t - t0) / 1000]++;

	int good = 0;
	for (size_t s = 0; s < demo_vocab_story_count(); s++) {
		char name[64];
		snprintf(name, sizeof name, "%s", demo_vocab_story_tag(s));
		for (char *p = name; *p; p++)
			*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
		memset(cnt, 0, (size_t)nb * sizeof *cnt);
		for (size_t i = 0; i < n; i++)
			for (int k = 0; k < all[i].ntags; k++)
				if (strcmp(all[i].tags[k], name) == 0)
					cnt[(all[i].t - t0) / 1000]++;
		int peak = 0;
		for (int b = 1; b < nb - 1; b++)
			if (cnt[b] > cnt[peak])
				peak = b;
		if (cnt[peak] < 10)
			continue;
		double share = (double)cnt[peak] / total[peak];
		/* Distinct authors of the tag within two seconds of the peak. */
		uint64_t authors[4096];
		int na = 0;
		for (size_t i = 0; i < n; i++) {
			int b = (int)((all[i].t - t0) / 1000);
			if (b < peak - 2 || b > peak + 2)
				continue;
			for (int k = 0; k < all[i].ntags; k++) {
				if (strcmp(all[i].tags[k], name) != 0)
					continue;
				bool dup = false;
				for (int j = 0; j < na && !dup; j++)
					dup = authors[j] == all[i].author;
				if (!dup && na < 4096)
					authors[na++] = all[i].author;
			}
		}
		bool rose = false, fell = false;
		for (int b = 0; b < peak - 2; b++)
			rose |= cnt[b] * 5 <= cnt[peak];
		for (int b = peak + 3; b < nb; b++)
			fell |= cnt[b] * 5 <= cnt[peak];
		if (share >= 0.08 && na >= 25 && rose && fell)
			good++;
	}
	/* 40 s at 20x is over 13 minutes of stories: several full bursts. */
	ck_assert_msg(good >= 3, "only %d stories rose and fell", good);
	free(total);
	free(cnt);
	free(all);
}
END_TEST

/* ----------------------------------------------------------- generator */

static struct demo_status gen_ring[6000];
static uint32_t gen_n;

static struct demo_status *gen_recent(void *ctx, uint32_t back)
{
	(void)ctx;
	return back < gen_n ? &gen_ring[gen_n - 1 - back] : NULL;
}

START_TEST(test_generator_writes_varied_realistic_text)
{
	struct demo_gen *g;
	ck_assert_int_eq(demo_gen_new(&g, 99, 3000, 10), 0);
	bool langs[8] = { 0 }, null_lang = false, zwj = false, skin = false, flag = false,
	     remote_mention = false, www = false, entity = false, reply = false, cw = false,
	     cashtag = false;
	uint32_t *per_author = calloc(3000, sizeof *per_author);
	for (gen_n = 0; gen_n < 6000; gen_n++) {
		struct demo_status *st = &gen_ring[gen_n];
		double t = demo_gen_next_time(g, 40);
		ck_assert_int_eq(demo_gen_status(g, t, gen_recent, NULL, st), 0);
		st->id = gen_n + 1;
		const char *h = st->content;
		if (!st->lang)
			null_lang = true;
		for (size_t l = 0; st->lang && l < demo_vocab_lang_count(); l++)
			langs[l] |= strcmp(st->lang, demo_vocab_lang_code(l)) == 0;
		zwj |= strstr(h, "\u200d") != NULL;
		skin |= strstr(h, "\U0001F3FD") != NULL || strstr(h, "\U0001F3FF") != NULL;
		flag |= strstr(h, "\U0001F1E9\U0001F1EA") != NULL;
		www |= strstr(h, "<span class=\"invisible\">https://www.</span>") != NULL;
		entity |= strstr(h, "&#39;") || strstr(h, "&amp;") || strstr(h, "&lt;");
		reply |= st->in_reply_to_id != 0;
		cashtag |= strstr(h, " $") != NULL;
		cw |= st->spoiler[0] != 0 && st->sensitive;
		for (int m = 0; m < st->nmentions; m++)
			remote_mention |= demo_gen_account(g, st->mentions[m])->domain != NULL;
		ck_assert_uint_lt(st->account, demo_gen_account_count(g));
		if (st->story < 0)
			per_author[st->account]++;
	}
	for (size_t l = 0; l < demo_vocab_lang_count(); l++)
		ck_assert_msg(langs[l], "no posts in %s", demo_vocab_lang_code(l));
	ck_assert(null_lang && zwj && skin && flag && www && entity && reply && cw);
	ck_assert(remote_mention && cashtag);

	/* Zipf activity: the busiest 1% of accounts write far more than 1%. */
	uint32_t total = 0, top = 0;
	for (int i = 0; i < 3000; i++)
		total += per_author[i];
	for (int k = 0; k < 30; k++) {
		uint32_t best = 0;
		int at = 0;
		for (int i = 0; i < 3000; i++)
			if (per_author[i] > best) {
				best = per_author[i];
				at = i;
			}
		top += best;
		per_author[at] = 0;
	}
	ck_assert_msg(top * 100 > total * 8, "top 1%% wrote %u of %u", top, total);

	/* ids, and usernames per instance, are unique (no ck_assert in the hot
	 * loop: in fork mode each one is a message to the parent) */
	int dups = 0;
	for (uint32_t i = 0; i < demo_gen_account_count(g); i++)
		for (uint32_t j = i + 1; j < demo_gen_account_count(g); j++) {
			const struct demo_account *x = demo_gen_account(g, i);
			const struct demo_account *y = demo_gen_account(g, j);
			dups += x->id == y->id ||
				(x->domain == y->domain && strcmp(x->username, y->username) == 0);
		}
	ck_assert_int_eq(dups, 0);
	for (uint32_t i = 0; i < gen_n; i++)
		demo_status_clear(&gen_ring[i]);
	free(per_author);
	demo_gen_free(g);
}
END_TEST

START_TEST(test_one_to_three_stories_overlap_and_all_take_turns)
{
	struct demo_gen *g;
	ck_assert_int_eq(demo_gen_new(&g, 1234, 100, 1), 0);
	size_t ns = demo_vocab_story_count();
	double peak[64] = { 0 };
	ck_assert_uint_le(ns, 64);
	/* two hours of feed time, one sample a second */
	for (double t = 0; t < 7200e3; t += 1000) {
		int running = 0;
		for (size_t s = 0; s < ns; s++) {
			double l = demo_gen_story_level(g, (int)s, t);
			running += l > 0;
			if (l > peak[s])
				peak[s] = l;
		}
		ck_assert_msg(running <= 3, "%d stories at %.0f s", running, t / 1000);
		if (t > 100e3)
			ck_assert_msg(running >= 1, "no story at %.0f s", t / 1000);
	}
	for (size_t s = 0; s < ns; s++)
		ck_assert_msg(peak[s] >= 0.7, "story %s never peaked", demo_vocab_story_tag(s));

	demo_gen_free(g);

	/*
	 * A story ramps up over about a minute and fades over two to three. The
	 * schedule only moves forward, so watch the first story on a new generator.
	 */
	ck_assert_int_eq(demo_gen_new(&g, 1234, 100, 1), 0);
	static double level[4000];
	int first = -1, nl = 0;
	for (double t = 0; nl < 4000; t += 500) {
		for (size_t s = 0; first < 0 && s < ns; s++)
			if (demo_gen_story_level(g, (int)s, t) > 0)
				first = (int)s;
		if (first < 0)
			continue;
		level[nl] = demo_gen_story_level(g, first, t);
		if (level[nl++] == 0)
			break;
	}
	double top = 0;
	int at_top = 0;
	for (int i = 0; i < nl; i++)
		if (level[i] > top * 1.0001) {
			top = level[i];
			at_top = i;
		}
	double rise_s = at_top * 0.5, fade_s = (nl - 1 - at_top) * 0.5;
	ck_assert_msg(rise_s >= 45 && rise_s <= 75, "rise %.1f s", rise_s);
	ck_assert_msg(fade_s >= 120 && fade_s <= 220, "fade %.1f s", fade_s);
	demo_gen_free(g);
}
END_TEST

static Suite *demo_feed_suite(void)
{
	Suite *s = suite_create("demo_feed");
	TCase *api = tcase_create("api");
	tcase_set_timeout(api, 30);
	tcase_add_test(api, test_statuses_match_the_captured_mastodon_shape);
	tcase_add_test(api, test_ids_strictly_decrease_within_pages);
	tcase_add_test(api, test_min_id_paging_walks_forward_without_gaps);
	tcase_add_test(api, test_max_id_since_id_and_min_id_follow_mastodon);
	tcase_add_test(api, test_limit_follows_mastodon_rules);
	tcase_add_test(api, test_link_and_rate_limit_headers_like_mastodon);
	tcase_add_test(api, test_rate_limit_answers_429_when_spent);
	tcase_add_test(api, test_if_none_match_gives_304);
	suite_add_tcase(s, api);

	TCase *http = tcase_create("http");
	tcase_set_timeout(http, 30);
	tcase_add_test(http, test_unknown_path_is_404_json);
	tcase_add_test(http, test_garbage_requests_are_refused_and_closed);
	tcase_add_test(http, test_keep_alive_and_pipelining_on_one_connection);
	tcase_add_test(http, test_request_split_into_tiny_reads_is_served);
	tcase_add_test(http, test_connections_are_bounded_and_idle_ones_make_room);
	tcase_add_test(http, test_streaming_public_sends_update_events);
	tcase_add_test(http, test_stop_returns_promptly_with_clients_connected);
	suite_add_tcase(s, http);

	TCase *content = tcase_create("content");
	tcase_set_timeout(content, 60);
	tcase_add_test(content, test_same_seed_gives_same_content);
	tcase_add_test(content, test_burst_hashtag_rises_and_falls_with_many_authors);
	tcase_add_test(content, test_generator_writes_varied_realistic_text);
	tcase_add_test(content, test_one_to_three_stories_overlap_and_all_take_turns);
	suite_add_tcase(s, content);
	return s;
}

int main(void)
{
	return tu_run(demo_feed_suite());
}
