/*
 * Unit tests for ingest/feed_jsonfeed.c on real JSON Feed documents
 * (tests/fixtures/jsonfeed, see ORIGIN.md there): feed-rs's spec, Daring
 * Fireball and InfluxData (1.1) fixtures and feedparser's example.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/post.h"
#include "ingest/feed_jsonfeed.h"
#include "tests/unit/testutil.h"

/* A string literal and its length, as a pointer and length pair. */
#define LIT(s) s, sizeof s - 1

static void parse_body(const char *body, size_t len, const char *cursor, const char *base_url,
		       struct feed_doc *doc)
{
	struct feed_input in = { .body = body, .len = len, .cursor = cursor,
				 .base_url = base_url, .source_id = 5 };
	feed_doc_init(doc);
	ck_assert_int_eq(feed_jsonfeed_parse(&in, doc), 0);
}

static void parse_file(const char *name, const char *cursor, struct feed_doc *doc)
{
	char rel[256];
	size_t n;
	snprintf(rel, sizeof rel, "jsonfeed/%s", name);
	char *raw = tu_read_fixture(rel, &n);
	parse_body(raw, n, cursor, NULL, doc);
	free(raw);
}

static void parse_str(const char *s, const char *base_url, struct feed_doc *doc)
{
	parse_body(s, strlen(s), NULL, base_url, doc);
}

static void check_post(const struct post *p, const char *id, const char *url, const char *author,
		       const char *lang, int64_t created_ms, const char *title, const char *text)
{
	ck_assert_str_eq(p->id, id);
	ck_assert_str_eq(p->url, url);
	ck_assert_str_eq(p->author, author);
	ck_assert_str_eq(p->lang, lang);
	ck_assert_int_eq(p->created_at_ms, created_ms);
	ck_assert_str_eq(p->title, title);
	ck_assert_str_eq(p->text, text);
	ck_assert_uint_eq(p->text_len, strlen(text));
	ck_assert_int_eq(p->source_id, 5);
}

START_TEST(test_jsonfeed_parses_version_1_feed)
{
	struct feed_doc doc;
	parse_file("feed-rs_jsonfeed_example_1.json", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.error, "");
	ck_assert_str_eq(doc.title, "Daring Fireball");
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert_uint_eq(doc.items, 2);
	ck_assert_uint_eq(doc.skipped, 0);
	/* url is the permalink; external_url (the linked article) is only a fallback. */
	check_post(doc.posts[0], "https://daringfireball.net/linked/2020/01/24/bezos-iphone-x",
		   "https://daringfireball.net/linked/2020/01/24/bezos-iphone-x", "John Gruber", "",
		   1579909617000LL, "How Jeff Bezos\xE2\x80\x99s iPhone X Was Hacked",
		   "Good summary from The New York Times. Until this week\xE2\x80\x99s news, I "
		   "don\xE2\x80\x99t believe we knew what type of phone Bezos was using when he was "
		   "hacked. Now we know: an iPhone X.");
	/* date_published wins over a later date_modified. */
	check_post(doc.posts[1], "https://daringfireball.net/linked/2020/01/20/instagram-for-win95",
		   "https://daringfireball.net/linked/2020/01/20/instagram-for-win95",
		   "John Gruber", "", 1579568820000LL, "Instagram for Windows 95",
		   "Delightful work by Petrick Studio.");
	ck_assert_str_eq(doc.cursor, "2020-01-24T23:46:57.000Z");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_parses_spec_example_with_offset_dates)
{
	struct feed_doc doc;
	parse_file("feed-rs_jsonfeed_spec_1.json", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.title, "JSON Feed");
	ck_assert_uint_eq(doc.nposts, 1);
	const struct post *p = doc.posts[0];
	ck_assert_str_eq(p->id, "https://jsonfeed.org/2017/05/17/announcing_json_feed");
	/* 2017-05-17T08:02:12-07:00 */
	ck_assert_int_eq(p->created_at_ms, 1495033332000LL);
	/* No item author: the feed's. */
	ck_assert_str_eq(p->author, "Brent Simmons and Manton Reece");
	/* Paragraphs become blank lines; links keep their text. */
	ck_assert(!strncmp(p->text, "We \xE2\x80\x94 Manton Reece and Brent Simmons \xE2\x80\x94 "
				    "have noticed", 51));
	ck_assert(strstr(p->text, "less prone to bugs.\n\nSo we developed JSON Feed, a format "
				  "similar to RSS and Atom but in JSON.") != NULL);
	ck_assert(strstr(p->text, "<") == NULL);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_1_1_authors_language_and_rfc822_dates)
{
	struct feed_doc doc;
	int64_t before = clock_now_ms();
	parse_file("feed-rs_jsonfeed_elastic_1.1.json", NULL, &doc);
	int64_t after = clock_now_ms();
	ck_assert(doc.wellformed);
	/* "Blog &#8211; InfluxData": the reference is decoded. */
	ck_assert_str_eq(doc.title, "Blog \xE2\x80\x93 InfluxData");
	ck_assert_uint_eq(doc.nposts, 3);
	ck_assert_uint_eq(doc.skipped, 0);
	/* 1.1 authors[] wins over 1.0 author; no id: the url is the key; feed language. */
	check_post(doc.posts[0],
		   "https://www.influxdata.com/blog/influxdb-outperforms-graphite-in-time-series-"
		   "data-metrics-benchmark",
		   "https://www.influxdata.com/blog/influxdb-outperforms-graphite-in-time-series-"
		   "data-metrics-benchmark",
		   "Chris Churilo", "en-US", 1559330278000LL,
		   "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark",
		   "This blog post has been updated on September 10, 2020 with the latest "
		   "benchmark results for InfluxDB 1.8.0 and Graphite 1.1.7. This blog is regularly "
		   "updated with the latest benchmark figures. At InfluxData, one of the common "
		   "questions we regularly get...");
	/* A 1.0-style author in a 1.1 feed, and the item's own language. */
	ck_assert_str_eq(doc.posts[1]->author, "Chris Churilo");
	ck_assert_str_eq(doc.posts[1]->lang, "en-AU");
	ck_assert_int_eq(doc.posts[1]->created_at_ms, 1517924052000LL);   /* RFC 822, -0700 */
	/* No author anywhere on the item: the feed's first of authors[]. No date: now. */
	check_post(doc.posts[2], "https://example.com", "https://example.com", "Fake Author 3",
		   "en-US", doc.posts[2]->created_at_ms, "Fake item", "");
	ck_assert_int_ge(doc.posts[2]->created_at_ms, before);
	ck_assert_int_le(doc.posts[2]->created_at_ms, after);
	/* The cursor is the newest date, not the undated item's reading time. */
	ck_assert_str_eq(doc.cursor, "2019-05-31T19:17:58.000Z");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_drops_script_from_content_html)
{
	struct feed_doc doc;
	parse_file("feedparser_example.json", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.title, "My Example Feed");
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert_str_eq(doc.posts[0]->id, "2");
	ck_assert_str_eq(doc.posts[0]->title, "post 2");
	ck_assert_str_eq(doc.posts[0]->text, "This is a second item.");
	ck_assert_str_eq(doc.posts[0]->author, "me");
	ck_assert_str_eq(doc.posts[0]->url, "https://example.org/second-item");
	/* <p>Hello, world!</p> <script>alert();</script> */
	ck_assert_str_eq(doc.posts[1]->id, "1");
	ck_assert_str_eq(doc.posts[1]->text, "Hello, world!");
	ck_assert_str_eq(doc.posts[1]->author, "you");
	ck_assert_str_eq(doc.posts[1]->title, "");
	/* Nothing is dated: no cursor. */
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_skips_and_counts_malformed_items)
{
	static const char feed[] =
		"{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"t\", "
		"\"home_page_url\": \"https://example.org/blog/\", \"items\": ["
		"\"not an item\", "
		"{\"title\": \"no id and no url\", \"content_text\": \"x\"}, "
		"{\"id\": 42, \"url\": \"/posts/42\", \"content_text\": \"numeric id\"}, "
		"{\"id\": \"a\", \"url\": \"javascript:alert(1)\", \"content_text\": \"bad url\"}, "
		"{\"id\": \"b\", \"external_url\": \"//cdn.example.net/b\", "
		" \"content_text\": \"x\"}, "
		"{\"id\": \"c\", \"url\": \"c.html\", \"content_text\": \"x\", "
		" \"authors\": [{\"avatar\": \"x.png\"}, {\"url\": \"https://example.org/~c\"}]}, "
		"{\"id\": \"d\", \"date_published\": \"last tuesday\", \"content_text\": \"x\"}, "
		"{\"id\": \"%s\", \"content_text\": \"too long an id\"}, "
		"null]}";
	char longid[LIMIT_POST_ID_BYTES + 8];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	char *doc_text = malloc(sizeof feed + sizeof longid);
	snprintf(doc_text, sizeof feed + sizeof longid, feed, longid);

	struct feed_doc doc;
	parse_str(doc_text, "https://feeds.example.org/sub/feed.json", &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.items, 9);
	ck_assert_uint_eq(doc.skipped, 4);
	ck_assert_uint_eq(doc.nposts, 5);
	ck_assert_str_eq(doc.posts[0]->id, "42");
	/* Relative URLs resolve against where the document came from. */
	ck_assert_str_eq(doc.posts[0]->url, "https://feeds.example.org/posts/42");
	/* Only http(s) links are kept as links. */
	ck_assert_str_eq(doc.posts[1]->id, "a");
	ck_assert_str_eq(doc.posts[1]->url, "");
	ck_assert_str_eq(doc.posts[2]->url, "https://cdn.example.net/b");
	ck_assert_str_eq(doc.posts[3]->url, "https://feeds.example.org/sub/c.html");
	/* An author without a name is known by its URL. */
	ck_assert_str_eq(doc.posts[3]->author, "https://example.org/~c");
	ck_assert_str_eq(doc.posts[4]->id, "d");
	ck_assert_str_eq(doc.posts[4]->author, "");
	feed_doc_clear(&doc);

	/* Without the document's URL, feed_url and then home_page_url are the base. */
	parse_str(doc_text, NULL, &doc);
	ck_assert_str_eq(doc.posts[0]->url, "https://example.org/posts/42");
	ck_assert_str_eq(doc.posts[3]->url, "https://example.org/blog/c.html");
	feed_doc_clear(&doc);
	free(doc_text);
}
END_TEST

START_TEST(test_jsonfeed_text_falls_back_to_content_text_then_summary)
{
	struct feed_doc doc;
	parse_str("{\"version\": \"https://jsonfeed.org/version/1\", \"items\": ["
		  "{\"id\": \"1\", \"content_html\": \"<p>html &amp; <b>bold</b></p>\", "
		  " \"content_text\": \"plain\"}, "
		  "{\"id\": \"2\", \"content_html\": \"<img src=x>\", \"content_text\": \"plain\"}, "
		  "{\"id\": \"3\", \"summary\": \"only a summary\", \"language\": \"not a tag!\"}, "
		  "{\"id\": \"4\", \"title\": \"&lt;b&gt; &amp;amp; &#x1F680; &bogus; &#0;\"}]}",
		  NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 4);
	ck_assert_str_eq(doc.posts[0]->text, "html & bold");
	ck_assert_str_eq(doc.posts[1]->text, "plain");
	ck_assert_str_eq(doc.posts[2]->text, "only a summary");
	ck_assert_str_eq(doc.posts[2]->lang, "");
	/* Titles are text: references decoded once, unknown ones kept, markup not stripped. */
	ck_assert_str_eq(doc.posts[3]->title, "<b> &amp; \xF0\x9F\x9A\x80 &bogus; \xEF\xBF\xBD");
	ck_assert_str_eq(doc.title, "");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_wrong_documents_are_document_errors)
{
	struct feed_doc doc;

	parse_str("", NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a JSON Feed: empty body");
	feed_doc_clear(&doc);

	parse_str("{\"version\": \"https://jsonfeed.org/version/1\", \"items\": [", NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_msg(!strncmp(doc.error, "not a JSON Feed: invalid JSON at line 1", 39), "%s",
		      doc.error);
	feed_doc_clear(&doc);

	parse_str("[{\"id\": \"1\"}]", NULL, &doc);
	ck_assert_str_eq(doc.error, "not a JSON Feed: expected an object, got an array");
	feed_doc_clear(&doc);

	parse_str("{\"version\": \"2.0\", \"items\": []}", NULL, &doc);
	ck_assert_str_eq(doc.error, "not a JSON Feed: version is \"2.0\"");
	feed_doc_clear(&doc);

	parse_str("{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"x\"}", NULL,
		  &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a JSON Feed: no \"items\" array");
	ck_assert_uint_eq(doc.nposts, 0);
	feed_doc_clear(&doc);

	/* No items at all is a feed with nothing new. */
	parse_str("{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": []}", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 0);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_cursor_ignores_items_read_before)
{
	struct feed_doc doc;

	/* Between the two items: only the newer one. */
	parse_file("feed-rs_jsonfeed_example_1.json", "2020-01-22T00:00:00.000Z", &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title, "How Jeff Bezos\xE2\x80\x99s iPhone X Was Hacked");
	ck_assert_str_eq(doc.cursor, "2020-01-24T23:46:57.000Z");
	feed_doc_clear(&doc);

	/* At the newest item: it is read again (same second, maybe a new item), cursor stays. */
	parse_file("feed-rs_jsonfeed_example_1.json", "2020-01-24T23:46:57.000Z", &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* Undated items are always returned; the ingest dedup knows which it emitted. */
	parse_file("feed-rs_jsonfeed_elastic_1.1.json", "2025-01-01T00:00:00Z", &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title, "Fake item");
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* A date in the future does not become the cursor. */
	int64_t before = clock_now_ms();
	parse_str("{\"version\": \"https://jsonfeed.org/version/1\", \"items\": [{\"id\": \"f\", "
		  "\"date_published\": \"2999-01-01T00:00:00Z\"}]}", NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	int64_t cursor_ms;
	ck_assert_int_eq(clock_parse_rfc3339(doc.cursor, strlen(doc.cursor), &cursor_ms), 0);
	ck_assert_int_ge(cursor_ms, before);
	ck_assert_int_le(cursor_ms, clock_now_ms());
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jsonfeed_detects_feeds)
{
	char rel[] = "jsonfeed/feedparser_example.json";
	size_t n;
	char *raw = tu_read_fixture(rel, &n);
	/* The version is not the first key of this one. */
	ck_assert_int_eq(feed_jsonfeed_detect(raw, n, NULL), 100);
	free(raw);
	raw = tu_read_fixture("jsonfeed/feed-rs_jsonfeed_elastic_1.1.json", &n);
	ck_assert_int_eq(feed_jsonfeed_detect(raw, n, "application/json"), 100);
	free(raw);
	ck_assert_int_eq(feed_jsonfeed_detect(LIT("{}"), "application/feed+json; charset=utf-8"),
			 100);
	ck_assert_int_eq(feed_jsonfeed_detect(LIT("{\"kind\": \"Listing\"}"), "application/json"),
			 0);
	/* A link to the spec in some text is not a version. */
	const char *reddit = "{\"kind\": \"Listing\", \"data\": {\"children\": [{\"data\": "
			     "{\"selftext\": \"see https://jsonfeed.org/version/1.1\"}}]}}";
	ck_assert_int_eq(feed_jsonfeed_detect(reddit, strlen(reddit), "application/json"), 0);
	const char *escaped = "{\"version\" : \"https:\\/\\/jsonfeed.org\\/version\\/1\"}";
	ck_assert_int_eq(feed_jsonfeed_detect(escaped, strlen(escaped), NULL), 100);
	ck_assert_int_eq(feed_jsonfeed_detect(LIT("[]"), NULL), 0);
	ck_assert_int_eq(feed_jsonfeed_detect(LIT(""), NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("feed_jsonfeed");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_jsonfeed_parses_version_1_feed);
	tcase_add_test(tc, test_jsonfeed_parses_spec_example_with_offset_dates);
	tcase_add_test(tc, test_jsonfeed_1_1_authors_language_and_rfc822_dates);
	tcase_add_test(tc, test_jsonfeed_drops_script_from_content_html);
	tcase_add_test(tc, test_jsonfeed_skips_and_counts_malformed_items);
	tcase_add_test(tc, test_jsonfeed_text_falls_back_to_content_text_then_summary);
	tcase_add_test(tc, test_jsonfeed_wrong_documents_are_document_errors);
	tcase_add_test(tc, test_jsonfeed_cursor_ignores_items_read_before);
	tcase_add_test(tc, test_jsonfeed_detects_feeds);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
