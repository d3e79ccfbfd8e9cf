/*
 * Unit tests for the base URL ingest/ingest.c hands to parsers: relative links
 * in a document resolve against the URL it was served from after redirects,
 * or against its Content-Location, never against a configured URL the feed
 * has moved away from. The real ingest thread (with http.c and the rss/atom
 * kinds) polls two small HTTP servers in the test on 127.0.0.1 - two ports,
 * so that "/blog/..." resolves differently on each - serving
 * tests/fixtures/feeds/real/atom/atom_relative.xml.
 *
 * The kind table is this file's own (source_kind_find below), so the test
 * builds from the feed sources alone.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/ingest.h"
#include "ingest/source_feed.h"
#include "tests/unit/fixture_http.h"
#include "tests/unit/testutil.h"

#define ATOM_RELATIVE "feeds/real/atom/atom_relative.xml"
#define ENTRY_PATH "/blog/2003/12/13/atom03"   /* the entry's link, relative to its host */

const struct source_kind *source_kind_find(const char *name)
{
	if (!strcmp(name, "rss"))
		return &source_kind_rss;
	if (!strcmp(name, "atom"))
		return &source_kind_atom;
	return NULL;
}

/* ---- two HTTP/1.1 listeners ("a" and "b") on one thread, one request per connection ---- */

struct servers {
	int fd[2];
	uint16_t port[2];
	pthread_t thread;
	atomic_bool stop;
	char *feed;   /* owned: the fixture */
	size_t feed_len;
};

static void respond(struct servers *s, int which, const char *target, struct strbuf *r)
{
	char loc[128];

	if (which == 0 && !strcmp(target, "/old/feed.xml")) {
		snprintf(loc, sizeof loc, "http://127.0.0.1:%u/new/feed.xml", s->port[1]);
		sb_printf(r, "HTTP/1.1 301 Moved Permanently\r\nLocation: %s\r\n"
			     "Content-Length: 0\r\nConnection: close\r\n\r\n", loc);
		return;
	}
	if (which == 0 && !strcmp(target, "/located.xml"))
		snprintf(loc, sizeof loc, "Content-Location: http://127.0.0.1:%u/elsewhere/feed.xml\r\n",
			 s->port[1]);
	else if (which == 0 && !strcmp(target, "/bad-location.xml"))
		snprintf(loc, sizeof loc, "Content-Location: javascript:alert(1)\r\n");
	else if (!strcmp(target, "/new/feed.xml") || !strcmp(target, "/plain.xml"))
		loc[0] = 0;
	else {
		sb_puts(r, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		return;
	}
	sb_printf(r, "HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\n%s"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n", loc, s->feed_len);
	sb_append(r, s->feed, s->feed_len);
}

static void serve_one(struct servers *s, int which, int c)
{
	char buf[4096], target[256] = "";
	struct strbuf reply = STRBUF_INIT;

	fx_read_head(c, buf, sizeof buf);
	sscanf(buf, "GET %255s ", target);
	respond(s, which, target, &reply);
	fx_reply_close(c, &reply);
}

static void *servers_main(void *arg)
{
	struct servers *s = arg;
	struct pollfd pfd[2] = { { .fd = s->fd[0], .events = POLLIN },
				 { .fd = s->fd[1], .events = POLLIN } };

	while (!atomic_load(&s->stop)) {
		if (poll(pfd, 2, 20) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			int c = accept(s->fd[i], NULL, NULL);
			if (c >= 0)
				serve_one(s, i, c);
		}
	}
	return NULL;
}

static void servers_start(struct servers *s)
{
	memset(s, 0, sizeof *s);
	s->feed = tu_read_fixture(ATOM_RELATIVE, &s->feed_len);
	for (int i = 0; i < 2; i++)
		s->fd[i] = fx_listen(16, &s->port[i]);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, servers_main, s), 0);
}

static void servers_stop(struct servers *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd[0]);
	close(s->fd[1]);
	free(s->feed);
}

/*
 * Polls the atom source at path on server "a" once and returns the URL of
 * the one post it yields (caller frees).
 */
static char *post_url_from(const char *path, struct servers *srv)
{
	struct bus bus;
	struct ingest *ig;
	struct ingest_config cfg = { .interval_ms = 60000 };
	struct source_config sc = { .id = 1, .enabled = true, .interval_s = 60 };
	char url[128];
	struct post *p = NULL;
	char *out;

	ck_assert_int_eq(bus_init(&bus), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", srv->port[0], path);
	snprintf(sc.kind, sizeof sc.kind, "atom");
	sc.name = (char *)"relative";
	sc.url = url;
	sc.params_json = (char *)"{}";
	sc.cursor = (char *)"";
	ck_assert_int_eq(ingest_start(&ig, &cfg, &bus, &sc, 1), 0);
	ck_assert_uint_eq(queue_pop_batch(&bus.posts, (void **)&p, 1, 5000), 1);
	ingest_stop(ig);
	out = strdup(p->url);
	ck_assert_ptr_nonnull(out);
	post_free(p);
	fx_drain_posts(&bus);
	bus_destroy(&bus);
	return out;
}

static void assert_on_port(const char *url, uint16_t port)
{
	char want[128];
	snprintf(want, sizeof want, "http://127.0.0.1:%u" ENTRY_PATH, port);
	ck_assert_str_eq(url, want);
}

START_TEST(test_ingest_resolves_links_against_the_url_after_redirects)
{
	struct servers srv;
	servers_start(&srv);
	char *url = post_url_from("/old/feed.xml", &srv);
	/* The configured URL is on "a"; the document came from "b". */
	assert_on_port(url, srv.port[1]);
	free(url);
	servers_stop(&srv);
}
END_TEST

START_TEST(test_ingest_resolves_links_against_content_location)
{
	struct servers srv;
	servers_start(&srv);
	char *url = post_url_from("/located.xml", &srv);
	assert_on_port(url, srv.port[1]);
	free(url);
	servers_stop(&srv);
}
END_TEST

START_TEST(test_ingest_ignores_a_content_location_that_is_not_http)
{
	struct servers srv;
	servers_start(&srv);
	char *url = post_url_from("/bad-location.xml", &srv);
	assert_on_port(url, srv.port[0]);
	free(url);
	url = post_url_from("/plain.xml", &srv);
	assert_on_port(url, srv.port[0]);
	free(url);
	servers_stop(&srv);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ingest_base_url");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ingest_resolves_links_against_the_url_after_redirects);
	tcase_add_test(tc, test_ingest_resolves_links_against_content_location);
	tcase_add_test(tc, test_ingest_ignores_a_content_location_that_is_not_http);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
