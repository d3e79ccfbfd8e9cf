/*
 * Unit tests for web/history.c: every rule of the history endpoints'
 * parameters (defaults, alignment, caps and their 400 messages), then the
 * endpoints end to end: a real web server and a real reader pool on a
 * database filled by the real writer, asked over HTTP with libcurl.
 */
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/snapshot.h"
#include "core/term.h"
#include "db/db.h"
#include "db/history.h"
#include "tests/unit/testutil.h"
#include "web/history.h"
#include "web/web.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

static const int64_t T0 = 1795608000000LL;      /* 2026-11-25T12:00:00Z */
static const int64_t NOW = 1795608000000LL + 37 * MIN_MS + 12345; /* 12:37:12.345 */

/* ---- parameters ---- */

/* Parses "a=1&b=2" (no decoding: tests give plain values) into args. */
static size_t split_args(char *qs, struct web_arg *args)
{
	size_t n = 0;
	char *save = NULL;
	for (char *p = strtok_r(qs, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		args[n].name = p;
		args[n].nlen = eq ? (size_t)(eq - p) : strlen(p);
		args[n].val = eq ? eq + 1 : "";
		args[n].vlen = eq ? strlen(eq + 1) : 0;
		n++;
	}
	return n;
}

static struct history_query *parse_ok(enum history_what what, bool csv, const char *term,
				      const char *qs)
{
	struct web_arg args[WEB_HISTORY_ARGS_MAX];
	char buf[1024], err[256] = "";
	struct history_query *q = NULL;
	snprintf(buf, sizeof buf, "%s", qs);
	size_t n = split_args(buf, args);
	int rc = web_history_parse(what, csv, term, term ? strlen(term) : 0, args, n, NOW, &q, err,
				   sizeof err);
	ck_assert_msg(rc == 0, "%s: %s", qs, err);
	ck_assert_ptr_nonnull(q);
	return q;
}

static void parse_bad(enum history_what what, bool csv, const char *term, const char *qs,
		      const char *want)
{
	struct web_arg args[WEB_HISTORY_ARGS_MAX];
	char buf[1024], err[256] = "";
	struct history_query *q = (struct history_query *)1;
	snprintf(buf, sizeof buf, "%s", qs);
	size_t n = split_args(buf, args);
	int rc = web_history_parse(what, csv, term, term ? strlen(term) : 0, args, n, NOW, &q, err,
				   sizeof err);
	ck_assert_msg(rc == -EINVAL, "%s: accepted", qs);
	ck_assert_ptr_null(q);
	ck_assert_msg(strstr(err, want) != NULL, "%s: error \"%s\" lacks \"%s\"", qs, err, want);
}

START_TEST(test_kind_follows_the_sigil)
{
	const struct {
		const char *term;
		int kind;
	} cases[] = {
		{ "#rust", TERM_HASHTAG },	{ "@ada@example.org", TERM_MENTION },
		{ "$tsla", TERM_CASHTAG },	{ "open source", TERM_BIGRAM },
		{ "example.com", TERM_DOMAIN }, { "rust", TERM_WORD },
		{ "#a b", TERM_HASHTAG },	{ "a.b c", TERM_BIGRAM },
		{ "\xF0\x9F\x9A\x80", TERM_WORD },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(web_history_term_kind(cases[i].term, strlen(cases[i].term)) ==
				      cases[i].kind, "%s", cases[i].term);
	/* kind= overrides the sigil */
	struct history_query *q = parse_ok(HISTORY_TERM, false, "#rust", "kind=word");
	ck_assert_int_eq(q->terms[0].kind, TERM_WORD);
	history_query_free(q);
	q = parse_ok(HISTORY_TERM, false, "#rust", "");
	ck_assert_int_eq(q->terms[0].kind, TERM_HASHTAG);
	ck_assert_uint_eq(q->terms[0].len, 5);
	history_query_free(q);
}
END_TEST

START_TEST(test_series_defaults_and_alignment)
{
	/* no parameters: the last 24 h at 1h, the open hour included */
	struct history_query *q = parse_ok(HISTORY_TERM, false, "x", "");
	ck_assert_int_eq(q->step_ms, HOUR_MS);
	ck_assert_int_eq(q->to_ms, T0 + HOUR_MS);
	ck_assert_int_eq(q->from_ms, T0 - 24 * HOUR_MS); /* 25 points: now - 24 h is in the first */
	ck_assert_int_eq(q->format, HISTORY_JSON);
	history_query_free(q);
	/* from/to in RFC 3339 and unix seconds, widened to whole steps */
	q = parse_ok(HISTORY_TERM, false, "x",
		     "from=2026-11-25T12:00:30Z&to=1795608190&step=1m");
	ck_assert_int_eq(q->from_ms, T0);
	ck_assert_int_eq(q->to_ms, T0 + 4 * MIN_MS);
	history_query_free(q);
	/* the step fits the range when not given */
	q = parse_ok(HISTORY_TERM, false, "x", "from=2026-11-25T10:00:00Z&to=2026-11-25T12:00:00Z");
	ck_assert_int_eq(q->step_ms, MIN_MS);
	history_query_free(q);
	q = parse_ok(HISTORY_TERM, false, "x", "from=2026-09-01&to=2026-11-25");
	ck_assert_int_eq(q->step_ms, DAY_MS);
	ck_assert_int_eq(q->from_ms % DAY_MS, 0);
	history_query_free(q);
	/* step=1d alone: the last 30 days */
	q = parse_ok(HISTORY_TERM, false, "x", "step=1d");
	ck_assert_int_eq(q->to_ms, T0 + 12 * HOUR_MS);
	ck_assert_int_eq(q->to_ms - q->from_ms, 31 * DAY_MS);
	history_query_free(q);
	/* offsets in RFC 3339 */
	q = parse_ok(HISTORY_TERM, false, "x",
		     "from=2026-11-25T13:00:00+01:00&to=2026-11-25T14:00:00+0100&step=1h");
	ck_assert_int_eq(q->from_ms, T0);
	ck_assert_int_eq(q->to_ms, T0 + HOUR_MS);
	history_query_free(q);
}
END_TEST

START_TEST(test_compare_takes_terms_lists_and_repeated_terms)
{
	struct history_query *q = parse_ok(HISTORY_COMPARE, false, NULL,
					   "terms=a,#b,$c&term=d e&step=1h");
	ck_assert_uint_eq(q->nterms, 4);
	ck_assert_str_eq(q->terms[1].s, "#b");
	ck_assert_int_eq(q->terms[1].kind, TERM_HASHTAG);
	ck_assert_int_eq(q->terms[2].kind, TERM_CASHTAG);
	ck_assert_str_eq(q->terms[3].s, "d e");
	ck_assert_int_eq(q->terms[3].kind, TERM_BIGRAM);
	history_query_free(q);
	q = parse_ok(HISTORY_COMPARE, false, NULL, "terms=a,b&kind=hashtag");
	ck_assert_int_eq(q->terms[0].kind, TERM_HASHTAG);
	ck_assert_int_eq(q->terms[1].kind, TERM_HASHTAG);
	history_query_free(q);
	parse_bad(HISTORY_COMPARE, false, NULL, "terms=a,b,c,d,e,f", "at most 5");
	parse_bad(HISTORY_COMPARE, false, NULL, "terms=a,b,c&term=d&term=e&term=f", "at most 5");
	parse_bad(HISTORY_COMPARE, false, NULL, "", "terms=");
	parse_bad(HISTORY_COMPARE, false, NULL, "terms=a,,b", "empty");
}
END_TEST

START_TEST(test_bad_parameters_get_a_clear_400)
{
	parse_bad(HISTORY_TERM, false, "x", "from=yesterday", "from is not a time");
	parse_bad(HISTORY_TERM, false, "x", "to=2026-13-01", "to is not a time");
	parse_bad(HISTORY_TERM, false, "x", "from=2026-11-25T12:00:00Z&to=2026-11-25T12:00:00Z",
		  "from must be before to");
	parse_bad(HISTORY_TERM, false, "x", "from=2026-11-26&to=2026-11-25", "before");
	parse_bad(HISTORY_TERM, false, "x", "step=5m", "step must be 1m, 1h or 1d");
	parse_bad(HISTORY_TERM, false, "x", "kind=all", "kind must be");
	parse_bad(HISTORY_TERM, false, "x", "kind=tag", "kind must be");
	parse_bad(HISTORY_TERM, false, "", "", "empty");
	parse_bad(HISTORY_TERM, false, "x", "from=99999-01-01", "not a time");
	parse_bad(HISTORY_TERM, false, "x", "to=999999999999", "out of range");
	/* ten years at minute step is refused, not attempted */
	parse_bad(HISTORY_TERM, false, "x", "from=2016-11-25&to=2026-11-25&step=1m",
		  "points; a series has at most 20000: use a larger step");
	parse_bad(HISTORY_TOP, false, NULL, "limit=0", "limit must be an integer from 1 to 1000");
	parse_bad(HISTORY_TOP, false, NULL, "limit=1001", "limit");
	parse_bad(HISTORY_TOP, false, NULL, "limit=ten", "limit");
	parse_bad(HISTORY_TOP, false, NULL, "kind=tags", "kind must be one of all");
	parse_bad(HISTORY_TOP, false, NULL, "from=1970-01-01&to=2026-01-01", "longer than 3660 days");
	parse_bad(HISTORY_SENTIMENT, false, NULL, "window=2h", "window must be 5m, 1h or 24h");
	parse_bad(HISTORY_SENTIMENT, false, NULL, "window=1h&from=2026-11-25", "not both");
	parse_bad(HISTORY_SNAPSHOT, false, NULL, "sort=hot", "sort must be score or count");
	parse_bad(HISTORY_SNAPSHOT, false, NULL, "window=7d", "window");
	parse_bad(HISTORY_SNAPSHOT, false, NULL, "at=noon", "at is not a time");
	parse_bad(HISTORY_TERM, true, NULL, "what=everything", "what must be one of");
	parse_bad(HISTORY_TERM, true, NULL, "term=a", "what must be");
	parse_bad(HISTORY_TERM, true, NULL, "what=term", "term= is required");
	parse_bad(HISTORY_TERM, true, NULL, "what=term&terms=a,b", "one term=");
}
END_TEST

START_TEST(test_top_sentiment_snapshot_and_export_parameters)
{
	struct history_query *q = parse_ok(HISTORY_TOP, false, NULL, "");
	ck_assert_int_eq(q->kind, TERM_KIND_ALL);
	ck_assert_uint_eq(q->limit, 20);
	ck_assert_int_eq(q->to_ms, T0 + 38 * MIN_MS);           /* the open minute included */
	ck_assert_int_eq(q->from_ms, T0 + 37 * MIN_MS - DAY_MS);
	history_query_free(q);
	q = parse_ok(HISTORY_TOP, false, NULL, "kind=hashtag&limit=1000&from=1795608000&to=1795611600");
	ck_assert_int_eq(q->kind, TERM_HASHTAG);
	ck_assert_uint_eq(q->limit, 1000);
	ck_assert_int_eq(q->from_ms, T0);
	ck_assert_int_eq(q->to_ms, T0 + HOUR_MS);
	history_query_free(q);

	q = parse_ok(HISTORY_SENTIMENT, false, NULL, "");
	ck_assert_int_eq(q->step_ms, HOUR_MS);
	ck_assert_int_eq(q->to_ms, T0 + HOUR_MS);
	ck_assert_int_eq(q->to_ms - q->from_ms, DAY_MS);
	history_query_free(q);
	q = parse_ok(HISTORY_SENTIMENT, false, NULL, "window=5m");
	ck_assert_int_eq(q->step_ms, MIN_MS);
	ck_assert_int_eq(q->to_ms, T0 + 38 * MIN_MS);
	ck_assert_int_eq(q->from_ms, T0 + 33 * MIN_MS);
	history_query_free(q);
	q = parse_ok(HISTORY_SENTIMENT, false, NULL, "from=2026-11-25T12:00:00Z&step=1m");
	ck_assert_int_eq(q->from_ms, T0);
	ck_assert_int_eq(q->to_ms, T0 + 38 * MIN_MS);
	history_query_free(q);

	q = parse_ok(HISTORY_SNAPSHOT, false, NULL, "");
	ck_assert_int_eq(q->at_ms, NOW);
	ck_assert_int_eq(q->window, WINDOW_5M);
	ck_assert_int_eq(q->sort, SORT_SCORE);
	history_query_free(q);
	q = parse_ok(HISTORY_SNAPSHOT, false, NULL, "at=2026-11-25T12:00:00Z&window=24h&sort=count");
	ck_assert_int_eq(q->at_ms, T0);
	ck_assert_int_eq(q->window, WINDOW_24H);
	ck_assert_int_eq(q->sort, SORT_COUNT);
	history_query_free(q);

	const struct {
		const char *qs;
		enum history_what what;
	} ex[] = {
		{ "what=term&term=x", HISTORY_TERM },
		{ "what=compare&terms=x,y", HISTORY_COMPARE },
		{ "what=top&limit=5", HISTORY_TOP },
		{ "what=sentiment&window=1h", HISTORY_SENTIMENT },
	};
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		q = parse_ok(HISTORY_TERM, true, NULL, ex[i].qs);
		ck_assert_int_eq(q->what, ex[i].what);
		ck_assert_int_eq(q->format, HISTORY_CSV);
		history_query_free(q);
	}
	/* unknown parameters are ignored; a repeated one: the last wins */
	q = parse_ok(HISTORY_TOP, false, NULL, "_=123&limit=3&limit=4&colour=red");
	ck_assert_uint_eq(q->limit, 4);
	history_query_free(q);
}
END_TEST

/* ---- end to end over HTTP ---- */

static char tmpdir[256];
static char dbpath[300];
static _Atomic int64_t fake_now_ms = 1795608000000LL + 37 * 60000LL + 12345;
static int64_t fake_clock(void) { return atomic_load(&fake_now_ms); }

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

struct server {
	struct bus bus;
	struct db *db;
	struct history_pool *pool;
	struct web *web;
	pthread_t th;
	int port;
	int64_t rows;
};

static void *server_main(void *arg)
{
	struct server *sv = arg;
	web_run(sv->web);
	return NULL;
}

static void server_start(struct server *sv, bool with_history)
{
	char err[512] = "";
	snprintf(tmpdir, sizeof tmpdir, "/tmp/trendd-test-webhist-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof dbpath, "%s/trendd.db", tmpdir);
	memset(sv, 0, sizeof *sv);
	ck_assert_int_eq(bus_init(&sv->bus), 0);
	struct db_options o = { .batch_ms = 2, .clock_ms = fake_clock };
	ck_assert_msg(db_open_with(&sv->db, dbpath, &o, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(db_writer_start(sv->db, &sv->bus), 0);
	/* no analytics thread: answers come from the database, quickly */
	struct history_options ho = { .live_timeout_ms = 50 };
	ck_assert_msg(history_pool_start(&sv->pool, sv->db, NULL, &ho, err, sizeof err) == 0, "%s",
		      err);
	struct web_config cfg = { .listen = "127.0.0.1:0", .static_dir = "/nonexistent" };
	if (with_history)
		cfg.history = (struct web_history_ops){ history_submit_ctx, sv->pool };
	ck_assert_msg(web_create(&sv->web, &cfg, &sv->bus, err, sizeof err) == 0, "%s", err);
	sv->port = web_port(sv->web);
	ck_assert_int_eq(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void server_stop(struct server *sv)
{
	web_stop(sv->web);
	pthread_join(sv->th, NULL);
	history_pool_stop(sv->pool);
	web_free(sv->web);
	db_close(sv->db);
	bus_destroy(&sv->bus);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_rows(struct server *sv, const char *const *terms, const int *kinds,
		       const int64_t *minutes, const uint32_t *counts, size_t n)
{
	struct dbmsg *m = dbmsg_new(DBMSG_TERM_MINUTES);
	size_t total = 1, off = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(terms[i]);
	m->u.minutes.pool = malloc(total);
	m->u.minutes.rows = calloc(n, sizeof *m->u.minutes.rows);
	m->u.minutes.n = n;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(terms[i]);
		memcpy(m->u.minutes.pool + off, terms[i], len);
		m->u.minutes.rows[i] = (struct term_minute_row){
			.term = m->u.minutes.pool + off, .term_len = (uint32_t)len,
			.kind = (uint8_t)kinds[i], .minute_ms = minutes[i], .count = counts[i],
			.authors = 1, .pos = counts[i], .neg = 0, .sent_sum = 0.5 * counts[i] };
		off += len;
	}
	ck_assert_int_eq(queue_push(&sv->bus.db, m, -1), 0);
	sv->rows += (int64_t)n;
	/* wait for the commit */
	int64_t end = clock_mono_ms() + 10000;
	for (;;) {
		struct blob *b = (struct blob *)publish_get(&sv->bus.db_status);
		int64_t got = -1;
		if (b) {
			json_t *j = json_loadb(b->data, b->len, 0, NULL);
			got = json_integer_value(json_object_get(j, "rows_written"));
			json_decref(j);
			ref_put(&b->ref);
		}
		if (got >= sv->rows)
			break;
		ck_assert(clock_mono_ms() < end);
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

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

static struct resp get(struct server *sv, const char *path, bool head)
{
	struct resp r = { 0 };
	char url[2048];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", sv->port, path);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (head)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	CURLcode cc = curl_easy_perform(c);
	ck_assert_msg(cc == CURLE_OK, "%s: %s", path, curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

static json_t *get_json(struct server *sv, const char *path, long status)
{
	struct resp r = get(sv, path, false);
	ck_assert_msg(r.status == status, "%s: %ld, want %ld: %s", path, r.status, status, r.body);
	ck_assert_msg(strstr(r.headers, "application/json") != NULL, "%s: %s", path, r.headers);
	json_error_t je;
	json_t *j = json_loads(r.body, 0, &je);
	ck_assert_msg(j != NULL, "%s: not JSON: %s", path, r.body);
	free(r.body);
	return j;
}

static void fill(struct server *sv)
{
	const char *terms[] = { "#rust", "#rust", "#rust", "rust", "it's \"x\", y", "#go" };
	const int kinds[] = { TERM_HASHTAG, TERM_HASHTAG, TERM_HASHTAG, TERM_WORD, TERM_WORD,
			      TERM_HASHTAG };
	const int64_t minutes[] = { T0, T0 + 5 * MIN_MS, T0 - HOUR_MS, T0, T0 + MIN_MS, T0 };
	const uint32_t counts[] = { 3, 4, 10, 2, 6, 1 };
	write_rows(sv, terms, kinds, minutes, counts, 6);
}

START_TEST(test_http_term_series_top_and_csv)
{
	struct server sv;
	server_start(&sv, true);
	fill(&sv);

	json_t *j = get_json(&sv, "/api/terms/%23rust?from=2026-11-25T11:00:00Z&to=2026-11-25T13:00:00Z&step=1h", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "term")), "#rust");
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "hashtag");
	json_t *pts = json_object_get(j, "points");
	ck_assert_uint_eq(json_array_size(pts), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(pts, 0), "count")), 10);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(pts, 1), "count")), 7);
	ck_assert(json_is_false(json_object_get(j, "live")));
	json_decref(j);

	/* minutes of the hour add up to the hour */
	j = get_json(&sv, "/api/terms/%23rust?from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z&step=1m", 200);
	pts = json_object_get(j, "points");
	ck_assert_uint_eq(json_array_size(pts), 60);
	int64_t sum = 0;
	for (size_t i = 0; i < 60; i++)
		sum += json_integer_value(json_object_get(json_array_get(pts, i), "count"));
	ck_assert_int_eq(sum, 7);
	json_decref(j);

	j = get_json(&sv, "/api/terms?terms=%23rust,rust,%23go&from=1795608000&to=1795611600", 200);
	json_t *series = json_object_get(j, "series");
	ck_assert_uint_eq(json_array_size(series), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(series, 1), "kind")), "word");
	json_decref(j);

	j = get_json(&sv, "/api/history/top?from=2026-11-25T11:00:00Z&to=2026-11-25T13:00:00Z&limit=2", 200);
	json_t *terms = json_object_get(j, "terms");
	ck_assert_uint_eq(json_array_size(terms), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(terms, 0), "term")), "#rust");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(terms, 0), "count")), 17);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(terms, 1), "term")),
			 "it's \"x\", y");
	json_decref(j);
	j = get_json(&sv, "/api/history/top?from=2026-11-25T11:00:00Z&to=2026-11-25T13:00:00Z&kind=word", 200);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "terms")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "word");
	json_decref(j);

	struct resp r = get(&sv, "/api/export.csv?what=top&from=2026-11-25T11:00:00Z&to=2026-11-25T13:00:00Z&kind=word", false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.headers, "text/csv"));
	ck_assert_ptr_nonnull(strstr(r.headers, "attachment; filename=\"trendd-top.csv\""));
	ck_assert_str_eq(r.body, "term,kind,count,authors,sentiment\r\n"
				 "\"it's \"\"x\"\", y\",word,6,1,0.5\r\n"
				 "rust,word,2,1,0.5\r\n");
	free(r.body);
	r = get(&sv, "/api/export.csv?what=term&term=%23rust&from=2026-11-25T11:00:00Z&to=2026-11-25T13:00:00Z&step=1h", false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "t,term,kind,count,authors,sentiment,pos,neg\r\n"
				 "2026-11-25T11:00:00Z,#rust,hashtag,10,1,0.5,10,0\r\n"
				 "2026-11-25T12:00:00Z,#rust,hashtag,7,1,0.5,7,0\r\n");
	free(r.body);
	/* HEAD: the headers of the answer, no body */
	r = get(&sv, "/api/history/top?limit=2", true);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_ptr_nonnull(strstr(r.headers, "content-length:"));
	free(r.body);
	server_stop(&sv);
}
END_TEST

START_TEST(test_http_bad_requests_are_400_and_the_server_keeps_serving)
{
	struct server sv;
	server_start(&sv, true);
	const char *bad[] = {
		"/api/terms/x?step=2m",
		"/api/terms/x?from=2026-11-26&to=2026-11-25",
		"/api/terms/x?from=2016-01-01&step=1m",
		"/api/terms/",
		"/api/terms?terms=a,b,c,d,e,f",
		"/api/terms",
		"/api/history/top?limit=5000",
		"/api/history/top?kind=everything",
		"/api/sentiment?window=3d",
		"/api/snapshots?sort=new",
		"/api/export.csv",
		"/api/export.csv?what=term",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = get_json(&sv, bad[i], 400);
		ck_assert_msg(json_is_string(json_object_get(j, "error")), "%s", bad[i]);
		json_decref(j);
	}
	/* a query argument longer than the cap */
	char path[600];
	int n = snprintf(path, sizeof path, "/api/terms?terms=");
	memset(path + n, 'a', 300);
	path[n + 300] = 0;
	json_t *j = get_json(&sv, path, 400);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "too long"));
	json_decref(j);
	j = get_json(&sv, "/api/snapshots", 404);
	json_decref(j);
	j = get_json(&sv, "/api/sentiment?window=5m", 200);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "points")), 5);
	json_decref(j);
	/* POST is not allowed */
	struct resp r = { 0 };
	CURL *c = curl_easy_init();
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api/history/top", sv.port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	ck_assert_int_eq(r.status, 405);
	free(r.body);
	server_stop(&sv);
}
END_TEST

struct burst {
	struct server *sv;
	int ok;
};

static void *burst_main(void *arg)
{
	struct burst *b = arg;
	for (int i = 0; i < 20; i++) {
		struct resp r = get(b->sv, "/api/terms/%23rust?step=1m&from=2026-11-25T00:00:00Z&to=2026-11-25T13:00:00Z", false);
		if (r.status == 200 && r.len > 40000)
			b->ok++;
		else
			ck_assert_msg(r.status == 503, "status %ld", r.status);
		free(r.body);
	}
	return NULL;
}

START_TEST(test_http_many_concurrent_queries_are_all_answered)
{
	struct server sv;
	server_start(&sv, true);
	fill(&sv);
	struct burst b[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		b[i] = (struct burst){ &sv, 0 };
		pthread_create(&th[i], NULL, burst_main, &b[i]);
	}
	int ok = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ok += b[i].ok;
	}
	ck_assert_int_ge(ok, 150);
	server_stop(&sv);
}
END_TEST

START_TEST(test_http_without_readers_answers_503)
{
	struct server sv;
	server_start(&sv, false);
	json_t *j = get_json(&sv, "/api/history/top", 503);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "not available"));
	json_decref(j);
	server_stop(&sv);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("web_history");
	TCase *tc = tcase_create("parameters");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_kind_follows_the_sigil);
	tcase_add_test(tc, test_series_defaults_and_alignment);
	tcase_add_test(tc, test_compare_takes_terms_lists_and_repeated_terms);
	tcase_add_test(tc, test_bad_parameters_get_a_clear_400);
	tcase_add_test(tc, test_top_sentiment_snapshot_and_export_parameters);
	suite_add_tcase(s, tc);
	TCase *http = tcase_create("http");
	tcase_set_timeout(http, 60);
	tcase_add_test(http, test_http_term_series_top_and_csv);
	tcase_add_test(http, test_http_bad_requests_are_400_and_the_server_keeps_serving);
	tcase_add_test(http, test_http_many_concurrent_queries_are_all_answered);
	tcase_add_test(http, test_http_without_readers_answers_503);
	suite_add_tcase(s, http);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = tu_run(suite());
	curl_global_cleanup();
	return rc;
}
