/*
 * Unit tests for ingest/source_reddit.c: settings, request URLs, the
 * `before` cursor with its empty-poll count, catching up, and error words.
 * Responses are the captures in tests/fixtures/reddit (see ORIGIN.md there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/source.h"
#include "core/strbuf.h"
#include "ingest/source_reddit.h"
#include "tests/unit/testutil.h"

static const struct source_kind *K = &source_kind_reddit;

static void *setup_ok(const char *url, const char *params)
{
	struct source_config cfg = { .id = 1, .kind = "reddit", .url = (char *)url,
				     .params_json = (char *)params };
	char err[200] = "";
	void *st = NULL;
	ck_assert_msg(K->setup(&cfg, &st, err, sizeof err) == 0, "%s: %s", url, err);
	ck_assert_ptr_nonnull(st);
	return st;
}

static void setup_fails(const char *url, const char *params, const char *want)
{
	struct source_config cfg = { .id = 1, .kind = "reddit", .url = (char *)url,
				     .params_json = (char *)params };
	char err[200] = "";
	void *st = NULL;
	ck_assert_int_eq(K->setup(&cfg, &st, err, sizeof err), -EINVAL);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
}

/* The request URL for url/params/cursor. */
static void check_url(const char *url, const char *params, const char *cursor, const char *want)
{
	void *st = setup_ok(url, params);
	struct strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(K->request_url(st, url, cursor, &sb), 0);
	ck_assert_str_eq(sb.buf, want);
	sb_free(&sb);
	K->release(st);
}

START_TEST(test_reddit_source_builds_listing_urls)
{
	check_url("https://www.reddit.com/r/rust", NULL, "",
		  "https://www.reddit.com/r/rust/new.json?limit=100&raw_json=1");
	check_url("https://www.reddit.com/r/rust/", "{}", "",
		  "https://www.reddit.com/r/rust/new.json?limit=100&raw_json=1");
	check_url("https://www.reddit.com/r/rust+golang", "{\"limit\": 25}", "",
		  "https://www.reddit.com/r/rust+golang/new.json?limit=25&raw_json=1");
	check_url("https://www.reddit.com/r/rust/comments", "{\"limit\": 500}", "",
		  "https://www.reddit.com/r/rust/comments.json?limit=100&raw_json=1");
	/* A listing's own parameters are kept, but not those trendd sets. */
	check_url("https://www.reddit.com/r/rust/top/?t=day&limit=5&raw_json=0#x", NULL, "",
		  "https://www.reddit.com/r/rust/top.json?t=day&limit=100&raw_json=1");
	check_url("https://www.reddit.com/user/spez/m/multi/new.json", NULL, "",
		  "https://www.reddit.com/user/spez/m/multi/new.json?limit=100&raw_json=1");
	check_url("https://www.reddit.com", NULL, "",
		  "https://www.reddit.com/new.json?limit=100&raw_json=1");
	check_url("http://127.0.0.1:8080/r/test", NULL, "t3_1skjxta",
		  "http://127.0.0.1:8080/r/test/new.json?limit=100&raw_json=1&before=t3_1skjxta");
	/* A cursor left by another kind of source is no anchor. */
	check_url("https://www.reddit.com/r/rust", NULL, "117020593378945190",
		  "https://www.reddit.com/r/rust/new.json?limit=100&raw_json=1");
	check_url("https://www.reddit.com/r/rust", NULL, "t3_A&b=1",
		  "https://www.reddit.com/r/rust/new.json?limit=100&raw_json=1");
}
END_TEST

START_TEST(test_reddit_source_asks_without_before_every_few_empty_polls)
{
	const char *base = "https://www.reddit.com/r/rust/new.json?limit=100&raw_json=1";
	char want[256];

	snprintf(want, sizeof want, "%s&before=t3_abc", base);
	check_url("https://www.reddit.com/r/rust", NULL, "t3_abc", want);
	for (int n = 1; n < REDDIT_STALE_POLLS; n++) {
		char cursor[32];
		snprintf(cursor, sizeof cursor, "t3_abc~%d", n);
		check_url("https://www.reddit.com/r/rust", NULL, cursor, want);
	}
	char stale[32];
	snprintf(stale, sizeof stale, "t3_abc~%d", REDDIT_STALE_POLLS);
	check_url("https://www.reddit.com/r/rust", NULL, stale, base);
}
END_TEST

START_TEST(test_reddit_source_rejects_bad_settings)
{
	setup_fails("ftp://www.reddit.com/r/rust", NULL, "url must be an http:// or https://");
	setup_fails("", NULL, "url must be");
	setup_fails("https://www.reddit.com/r/rust", "[1]", "params must be a JSON object");
	setup_fails("https://www.reddit.com/r/rust", "{\"limit\": 0}",
		    "params.limit must be a number from 1 to 100");
	setup_fails("https://www.reddit.com/r/rust", "{\"limit\": \"50\"}", "params.limit");
}
END_TEST

/* Runs the kind's parse on a capture with a cursor. */
static void kind_parse(void *st, const char *name, const char *cursor, struct feed_doc *doc,
		       bool *more, char **raw)
{
	char rel[128];
	size_t n, len;
	snprintf(rel, sizeof rel, "reddit/%s", name);
	*raw = tu_read_fixture(rel, &n);
	struct feed_input in = { .cursor = cursor, .source_id = 1 };
	in.body = tu_http_body(*raw, n, &len);
	in.len = len;
	feed_doc_init(doc);
	ck_assert_int_eq(K->parse(st, &in, doc, more), 0);
}

START_TEST(test_reddit_source_catches_up_on_full_pages)
{
	struct feed_doc doc;
	bool more;
	char *raw;

	/* 95 things after the anchor: a page of 95 is full, one of 100 is not. */
	void *st = setup_ok("https://www.reddit.com/r/test/comments", "{\"limit\": 95}");
	kind_parse(st, "subreddit_comments_before.http", "t1_k3v0jp3", &doc, &more, &raw);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 95);
	ck_assert(more);
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii");
	feed_doc_clear(&doc);
	free(raw);
	K->release(st);

	st = setup_ok("https://www.reddit.com/r/test/comments", NULL);
	kind_parse(st, "subreddit_comments_before.http", "t1_k3v0jp3", &doc, &more, &raw);
	ck_assert(!more);
	feed_doc_clear(&doc);
	free(raw);

	/* The first poll takes the newest page and starts from there. */
	kind_parse(st, "subreddit_comments.http", "", &doc, &more, &raw);
	ck_assert_uint_eq(doc.nposts, 100);
	ck_assert(!more);
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii");
	feed_doc_clear(&doc);
	free(raw);
	K->release(st);
}
END_TEST

START_TEST(test_reddit_source_counts_empty_polls_after_an_anchor)
{
	static const struct { const char *in, *out; } steps[] = {
		{ "t3_abc", "t3_abc~1" },
		{ "t3_abc~1", "t3_abc~2" },
		{ "t3_abc~4", "t3_abc~5" },
		{ "t3_abc~5", "t3_abc~1" },   /* the poll without `before` found nothing either */
	};
	void *st = setup_ok("https://www.reddit.com/r/rust", NULL);
	struct feed_doc doc;
	bool more;
	char *raw;

	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		kind_parse(st, "empty_listing.http", steps[i].in, &doc, &more, &raw);
		ck_assert(doc.wellformed);
		ck_assert(!more);
		ck_assert_str_eq(doc.cursor, steps[i].out);
		feed_doc_clear(&doc);
		free(raw);
	}

	/* No cursor and nothing there: still no cursor. */
	kind_parse(st, "empty_listing.http", "", &doc, &more, &raw);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);
	free(raw);

	/* The poll without `before` gets the newest page: what is above the anchor counts. */
	char stale[32];
	snprintf(stale, sizeof stale, "t1_k3v0jp3~%d", REDDIT_STALE_POLLS);
	kind_parse(st, "subreddit_comments.http", stale, &doc, &more, &raw);
	ck_assert_uint_eq(doc.nposts, 95);
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii");
	ck_assert(!more);
	feed_doc_clear(&doc);
	free(raw);

	/* A page of only seen things does not move the anchor, and counts as empty. */
	kind_parse(st, "subreddit_comments.http", "t1_k3yrfii~2", &doc, &more, &raw);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii~3");
	feed_doc_clear(&doc);
	free(raw);
	K->release(st);
}
END_TEST

START_TEST(test_reddit_source_keeps_raw_text_and_reports_document_errors)
{
	void *st = setup_ok("https://www.reddit.com/r/rust", NULL);
	const char *body = "{\"kind\": \"Listing\", \"data\": {\"children\": [{\"kind\": \"t3\", "
			   "\"data\": {\"name\": \"t3_x1\", \"author\": \"a\", \"created_utc\": 1, "
			   "\"title\": \"Tom &amp; Jerry\", "
			   "\"permalink\": \"/r/rust/comments/x1/\"}}]}}";
	struct feed_input in = { .body = body, .len = strlen(body) };
	struct feed_doc doc;
	bool more;

	feed_doc_init(&doc);
	ck_assert_int_eq(K->parse(st, &in, &doc, &more), 0);
	/* raw_json=1 was asked for: this is what the user typed. */
	ck_assert_str_eq(doc.posts[0]->title, "Tom &amp; Jerry");
	ck_assert_str_eq(doc.posts[0]->url, "https://www.reddit.com/r/rust/comments/x1/");
	feed_doc_clear(&doc);

	char *raw;
	kind_parse(st, "error_403.http", "t3_abc", &doc, &more, &raw);
	ck_assert(!doc.wellformed);
	ck_assert_ptr_null(doc.cursor);
	ck_assert(!strncmp(doc.error, "Reddit error 403: ", 18));
	feed_doc_clear(&doc);
	free(raw);
	K->release(st);
}
END_TEST

START_TEST(test_reddit_source_explains_error_responses)
{
	char buf[160];
	size_t n, len;
	char *raw = tu_read_fixture("reddit/error_403.http", &n);
	const char *body = tu_http_body(raw, n, &len);

	K->error_detail(body, len, buf, sizeof buf);
	ck_assert_str_eq(buf, "access denied (the listing is private, or Reddit blocks this "
			      "client)");
	free(raw);

	const char *nf = "{\"message\": \"Not Found\", \"error\": 404}";
	K->error_detail(nf, strlen(nf), buf, sizeof buf);
	ck_assert_str_eq(buf, "no such subreddit or listing");

	const char *html = "<!doctype html><html><title>Blocked</title></html>";
	K->error_detail(html, strlen(html), buf, sizeof buf);
	ck_assert(!strncmp(buf, "Reddit answered with an HTML page", 33));

	K->error_detail("", 0, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("source_reddit");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reddit_source_builds_listing_urls);
	tcase_add_test(tc, test_reddit_source_asks_without_before_every_few_empty_polls);
	tcase_add_test(tc, test_reddit_source_rejects_bad_settings);
	tcase_add_test(tc, test_reddit_source_catches_up_on_full_pages);
	tcase_add_test(tc, test_reddit_source_counts_empty_polls_after_an_anchor);
	tcase_add_test(tc, test_reddit_source_keeps_raw_text_and_reports_document_errors);
	tcase_add_test(tc, test_reddit_source_explains_error_responses);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
