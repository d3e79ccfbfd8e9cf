/*
 * Unit tests for ingest/preview.c: the preview worker fetches from a small
 * HTTP server running in the test on 127.0.0.1, which replays captured feeds
 * and API responses (tests/fixtures/feeds, tests/fixtures/mastodon) or
 * answers what each test needs (an error status, HTML, silence).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "ingest/preview.h"
#include "tests/unit/fixture_http.h"
#include "tests/unit/testutil.h"

/* ---- a tiny HTTP/1.1 server: one request per connection ---- */

enum reply_kind { R_FILE, R_CAPTURE, R_STATUS, R_HTML, R_HANG, R_BIG, R_MANY_ITEMS };

struct server {
	struct fx_listener lis;
	uint16_t port;
	enum reply_kind kind;
	const char *arg;           /* fixture path, or a status line */
	atomic_int nreqs;
	char last_target[512];
	int hung[16];
	int nhung;
};

static void reply(int c, const char *status, const char *type, const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, len);
	fx_send_all(c, head, (size_t)n);
	fx_send_all(c, body, len);
}

/* A generated RSS 2.0 feed of n items; item 0's title is markup. */
static char *many_items(int n, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;

	sb_puts(&sb, "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>"
		     "<title>&lt;img src=x onerror=alert(1)&gt; feed</title>"
		     "<link>http://example.org/</link>");
	for (int i = 0; i < n; i++)
		sb_printf(&sb, "<item><title>%s item %d</title><guid>urn:item:%d</guid>"
			       "<link>http://example.org/%d</link>"
			       "<pubDate>Wed, 25 Nov 2026 12:%02d:00 GMT</pubDate></item>",
			  i == 0 ? "&lt;b&gt;bold&lt;/b&gt;" : "plain", i, i, i, i % 60);
	sb_puts(&sb, "</channel></rss>");
	return sb_detach(&sb, len);
}

static void serve_one(void *arg, int c)
{
	struct server *s = arg;
	char buf[8192];

	fx_read_head(c, buf, sizeof buf);
	char *sp1 = strchr(buf, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 && sp2)
		snprintf(s->last_target, sizeof s->last_target, "%.*s", (int)(sp2 - sp1 - 1),
			 sp1 + 1);
	atomic_fetch_add(&s->nreqs, 1);

	size_t len = 0;
	char *body = NULL;
	switch (s->kind) {
	case R_FILE:
		body = tu_read_fixture(s->arg, &len);
		reply(c, "200 OK", "application/rss+xml", body, len);
		break;
	case R_CAPTURE:
		/* a captured response, headers and all, replayed as it was */
		body = tu_read_fixture(s->arg, &len);
		{
			size_t blen;
			const char *b = tu_http_body(body, len, &blen);
			reply(c, "200 OK", "application/json; charset=utf-8", b, blen);
		}
		break;
	case R_STATUS:
		reply(c, s->arg, "application/json", "{\"error\":\"Record not found\"}", 28);
		break;
	case R_HTML:
		reply(c, "200 OK", "text/html", "<!doctype html><html><body>hi</body></html>", 43);
		break;
	case R_HANG:
		if (s->nhung < 16) {
			s->hung[s->nhung++] = c;
			return;
		}
		break;
	case R_BIG:
		body = malloc(64 * 1024);
		memset(body, ' ', 64 * 1024);
		reply(c, "200 OK", "application/rss+xml", body, 64 * 1024);
		break;
	case R_MANY_ITEMS:
		body = many_items(30, &len);
		reply(c, "200 OK", "application/rss+xml", body, len);
		break;
	}
	free(body);
	shutdown(c, SHUT_WR);
	close(c);
}

static void server_start(struct server *s, enum reply_kind kind, const char *arg)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->arg = arg;
	fx_listener_start(&s->lis, 64, &s->port, serve_one, s);
}

static void server_stop(struct server *s)
{
	fx_listener_stop(&s->lis);
	for (int i = 0; i < s->nhung; i++)
		close(s->hung[i]);
}

/* ---- running previews ---- */

struct answers {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct preview_job *done[16];
	int n;
	pthread_t thread[16];
};

static struct answers g_ans = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void on_done(struct preview_job *j, void *ctx)
{
	struct answers *a = ctx;

	pthread_mutex_lock(&a->mu);
	a->thread[a->n] = pthread_self();
	a->done[a->n++] = j;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

static struct preview_job *job_for(const char *kind, const char *url, const char *params)
{
	struct source_config c = { .enabled = true, .interval_s = 60 };
	struct preview_job *j;

	snprintf(c.kind, sizeof c.kind, "%s", kind);
	c.name = (char *)"preview";
	c.url = (char *)url;
	c.params_json = (char *)(params ? params : "{}");
	c.cursor = (char *)"";
	j = preview_job_new(&c);
	ck_assert_ptr_nonnull(j);
	j->done = on_done;
	j->done_ctx = &g_ans;
	return j;
}

/* Waits until n answers arrived; false after timeout_ms. */
static bool wait_answers(int n, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	bool ok = true;

	pthread_mutex_lock(&g_ans.mu);
	while (g_ans.n < n && ok) {
		struct timespec ts = { 0, 20 * 1000000L };
		pthread_mutex_unlock(&g_ans.mu);
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&g_ans.mu);
		ok = clock_mono_ms() < end;
	}
	ok = g_ans.n >= n;
	pthread_mutex_unlock(&g_ans.mu);
	return ok;
}

/* Runs one preview of kind/url through a fresh worker and returns its answer. */
static struct preview_job *preview_once(const char *kind, const char *url, const char *params)
{
	struct preview_worker *p;
	char err[256];

	g_ans.n = 0;
	ck_assert_int_eq(preview_worker_start(&p, NULL, err, sizeof err), 0);
	ck_assert_int_eq(preview_submit(p, job_for(kind, url, params)), 0);
	ck_assert_msg(wait_answers(1, 20000), "no answer");
	ck_assert_int_eq(g_ans.n, 1);
	ck_assert(!pthread_equal(g_ans.thread[0], pthread_self()));
	preview_worker_stop(p);
	return g_ans.done[0];
}

static void url_of(struct server *s, const char *path, char *buf, size_t cap)
{
	snprintf(buf, cap, "http://127.0.0.1:%u%s", s->port, path);
}

/* ---- tests ---- */

START_TEST(test_preview_reads_a_real_rss_feed_without_a_cursor)
{
	struct server s;
	char url[128];

	server_start(&s, R_FILE, "feeds/real/rss2/rss_2.0_bbc.xml");
	url_of(&s, "/podcast.rss", url, sizeof url);
	struct preview_job *j = preview_once("rss", url, NULL);
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_OK);
	ck_assert_str_eq(j->format, "rss");
	ck_assert(j->doc.wellformed);
	ck_assert_str_eq(j->doc.title, "In Our Time");
	ck_assert_uint_ge(j->doc.nposts, 1);
	ck_assert_str_eq(j->doc.posts[0]->id, "urn:bbc:podcast:m000sjxt");
	ck_assert_str_eq(j->doc.posts[0]->title, "Marcus Aurelius");
	ck_assert_str_eq(s.last_target, "/podcast.rss");
	ck_assert_int_eq(atomic_load(&s.nreqs), 1);
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_reads_a_mastodon_timeline_from_its_api_path)
{
	struct server s;
	char url[128];

	server_start(&s, R_CAPTURE, "mastodon/timeline_public.http");
	url_of(&s, "", url, sizeof url);
	struct preview_job *j = preview_once("mastodon", url, "{\"timeline\":\"public\"}");
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_OK);
	ck_assert_str_eq(j->format, "mastodon");
	ck_assert_uint_eq(j->doc.nposts, 8);
	ck_assert_ptr_nonnull(strstr(s.last_target, "/api/v1/timelines/public"));
	/* no cursor: the newest page, never a min_id from some earlier state */
	ck_assert_ptr_null(strstr(s.last_target, "min_id"));
	ck_assert_str_ne(j->doc.posts[0]->author, "");
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_keeps_at_most_twenty_posts_and_counts_all)
{
	struct server s;
	char url[128];

	server_start(&s, R_MANY_ITEMS, NULL);
	url_of(&s, "/feed", url, sizeof url);
	struct preview_job *j = preview_once("rss", url, NULL);
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_OK);
	ck_assert_uint_eq(j->doc.nposts, PREVIEW_POSTS_MAX);
	ck_assert_uint_eq(j->items, 30);
	ck_assert_str_eq(j->doc.title, "<img src=x onerror=alert(1)> feed");
	ck_assert_str_eq(j->doc.posts[0]->id, "urn:item:0");
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_http_error_status_is_a_failure_in_plain_words)
{
	struct server s;
	char url[128];

	server_start(&s, R_STATUS, "404 Not Found");
	url_of(&s, "", url, sizeof url);
	struct preview_job *j = preview_once("mastodon", url, NULL);
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_FAILED);
	/* the status and the server's own explanation */
	ck_assert_str_eq(j->error, "HTTP 404 Not Found: Record not found");
	ck_assert_uint_eq(j->doc.nposts, 0);
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_refused_connection_is_a_failure)
{
	struct server s;
	char url[128];

	/* a port that was just free: nothing listens there */
	server_start(&s, R_HTML, NULL);
	url_of(&s, "/feed", url, sizeof url);
	server_stop(&s);
	struct preview_job *j = preview_once("rss", url, NULL);

	ck_assert_int_eq(j->result, PREVIEW_FAILED);
	ck_assert_str_eq(j->error, "connection refused");
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_html_page_is_not_a_feed)
{
	struct server s;
	char url[128];

	server_start(&s, R_HTML, NULL);
	url_of(&s, "/", url, sizeof url);
	struct preview_job *j = preview_once("rss", url, NULL);
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_FAILED);
	ck_assert_msg(strncmp(j->error, "not a feed", 10) == 0, "error: %s", j->error);
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_cut_off_feed_shows_no_posts_and_the_flaw)
{
	struct server s;
	char url[128];

	server_start(&s, R_FILE, "feeds/real/rss2/rss_2.0_invalid_1.xml");
	url_of(&s, "/feed", url, sizeof url);
	struct preview_job *j = preview_once("rss", url, NULL);
	server_stop(&s);

	/* read as ingest reads it: recovered, nothing in it, and the reason kept */
	ck_assert_int_eq(j->result, PREVIEW_OK);
	ck_assert_uint_eq(j->doc.nposts, 0);
	ck_assert_str_eq(j->doc.title, "Reuters: Most Read Articles");
	ck_assert_msg(strstr(j->doc.error, "not well-formed") != NULL, "error: %s", j->doc.error);
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_times_out_within_the_source_timeout)
{
	struct server s;
	char url[128];
	int64_t t0 = clock_mono_ms();

	server_start(&s, R_HANG, NULL);
	url_of(&s, "/slow", url, sizeof url);
	struct preview_job *j = preview_once("rss", url, "{\"timeout_s\":1}");
	int64_t took = clock_mono_ms() - t0;
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_FAILED);
	ck_assert_msg(strstr(j->error, "timed out") != NULL, "error: %s", j->error);
	ck_assert_int_lt(took, 5000);
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_body_over_the_cap_is_refused)
{
	struct server s;
	char url[128];

	server_start(&s, R_BIG, NULL);
	url_of(&s, "/big", url, sizeof url);
	struct preview_job *j = preview_once("rss", url, "{\"max_body_bytes\":4096}");
	server_stop(&s);

	ck_assert_int_eq(j->result, PREVIEW_FAILED);
	ck_assert_msg(strstr(j->error, "larger than") != NULL, "error: %s", j->error);
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_of_a_streaming_kind_is_refused_without_a_fetch)
{
	struct preview_job *j = preview_once("jetstream",
					     "wss://jetstream.example/subscribe", NULL);

	ck_assert_int_eq(j->result, PREVIEW_FAILED);
	ck_assert_str_eq(j->error, "preview is not available for streaming sources");
	preview_job_free(j);
}
END_TEST

START_TEST(test_preview_queue_is_bounded_and_stop_answers_every_job)
{
	struct server s;
	struct preview_worker *p;
	char url[128], err[256];
	struct preview_job *extra;

	g_ans.n = 0;
	server_start(&s, R_HANG, NULL);
	url_of(&s, "/slow", url, sizeof url);
	ck_assert_int_eq(preview_worker_start(&p, NULL, err, sizeof err), 0);
	for (int i = 0; i < PREVIEW_PENDING_MAX; i++)
		ck_assert_int_eq(preview_submit(p, job_for("rss", url, NULL)), 0);
	extra = job_for("rss", url, NULL);
	ck_assert_int_eq(preview_submit(p, extra), -EAGAIN);
	/* the first is in flight at the silent server; stopping must not wait for it */
	for (int i = 0; i < 100 && atomic_load(&s.nreqs) == 0; i++)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&s.nreqs), 1);
	int64_t t0 = clock_mono_ms();
	preview_worker_stop(p);
	ck_assert_int_lt(clock_mono_ms() - t0, 2000);
	ck_assert_int_eq(g_ans.n, PREVIEW_PENDING_MAX);
	for (int i = 0; i < g_ans.n; i++) {
		ck_assert_int_eq(g_ans.done[i]->result, PREVIEW_UNAVAILABLE);
		ck_assert_str_eq(g_ans.done[i]->error, "trendd is shutting down");
		preview_job_free(g_ans.done[i]);
	}
	preview_job_free(extra);
	server_stop(&s);
}
END_TEST

START_TEST(test_preview_worker_free_pointer_answers_epipe)
{
	struct preview_job *j = job_for("rss", "http://127.0.0.1:1/", NULL);

	ck_assert_int_eq(preview_submit_ctx(NULL, j), -EPIPE);
	preview_job_free(j);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("preview");
	TCase *tc = tcase_create("preview");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_preview_reads_a_real_rss_feed_without_a_cursor);
	tcase_add_test(tc, test_preview_reads_a_mastodon_timeline_from_its_api_path);
	tcase_add_test(tc, test_preview_keeps_at_most_twenty_posts_and_counts_all);
	tcase_add_test(tc, test_preview_http_error_status_is_a_failure_in_plain_words);
	tcase_add_test(tc, test_preview_refused_connection_is_a_failure);
	tcase_add_test(tc, test_preview_html_page_is_not_a_feed);
	tcase_add_test(tc, test_preview_cut_off_feed_shows_no_posts_and_the_flaw);
	tcase_add_test(tc, test_preview_times_out_within_the_source_timeout);
	tcase_add_test(tc, test_preview_body_over_the_cap_is_refused);
	tcase_add_test(tc, test_preview_of_a_streaming_kind_is_refused_without_a_fetch);
	tcase_add_test(tc, test_preview_queue_is_bounded_and_stop_answers_every_job);
	tcase_add_test(tc, test_preview_worker_free_pointer_answers_epipe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
