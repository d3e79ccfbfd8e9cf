/*
 * Unit tests for ingest/source_hn.c: settings, request URLs with the
 * created_at_i cursor, the oldest-page-first walk when behind, and error
 * words. Documents are the hand-written ones in tests/fixtures/hn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/source.h"
#include "core/strbuf.h"
#include "ingest/source_hn.h"
#include "tests/unit/testutil.h"

/* A string literal and its length, as a pointer and length pair. */
#define LIT(s) s, sizeof s - 1

static const struct source_kind *K = &source_kind_hn;

static void *setup_ok(const char *url, const char *params)
{
	struct source_config cfg = { .id = 1, .kind = "hn", .url = (char *)url,
				     .params_json = (char *)params };
	char err[200] = "";
	void *st = NULL;
	ck_assert_msg(K->setup(&cfg, &st, err, sizeof err) == 0, "%s: %s", url, err);
	ck_assert_ptr_nonnull(st);
	return st;
}

static void setup_fails(const char *url, const char *params, const char *want)
{
	struct source_config cfg = { .id = 1, .kind = "hn", .url = (char *)url,
				     .params_json = (char *)params };
	char err[200] = "";
	void *st = NULL;
	ck_assert_int_eq(K->setup(&cfg, &st, err, sizeof err), -EINVAL);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
}

static void check_url(const char *url, const char *params, const char *cursor, const char *want)
{
	void *st = setup_ok(url, params);
	struct strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(K->request_url(st, url, cursor, &sb), 0);
	ck_assert_str_eq(sb.buf, want);
	sb_free(&sb);
	K->release(st);
}

#define DEFAULT_Q "?tags=%28story%2Ccomment%29&hitsPerPage=100"

START_TEST(test_hn_source_builds_search_urls)
{
	check_url("https://hn.algolia.com", NULL, "",
		  "https://hn.algolia.com/api/v1/search_by_date" DEFAULT_Q);
	check_url("https://hn.algolia.com/api/v1/", "{}", "",
		  "https://hn.algolia.com/api/v1/search_by_date" DEFAULT_Q);
	check_url("http://127.0.0.1:9000/api/v1/search_by_date", NULL, "1767268805:46431207",
		  "http://127.0.0.1:9000/api/v1/search_by_date" DEFAULT_Q
		  "&numericFilters=created_at_i%3E%3D1767268805");
	check_url("https://hn.algolia.com", NULL, "1767268805:46431207,46431206@3",
		  "https://hn.algolia.com/api/v1/search_by_date" DEFAULT_Q
		  "&numericFilters=created_at_i%3E%3D1767268805&page=3");
	check_url("https://hn.algolia.com",
		  "{\"tags\": \"story\", \"query\": \"C programming\", \"hits_per_page\": 5000}", "",
		  "https://hn.algolia.com/api/v1/search_by_date?tags=story&query=C%20programming"
		  "&hitsPerPage=1000");
	/* The URL's own tags= replace the default; trendd's own keys are its own. */
	check_url("https://hn.algolia.com/api/v1/search?tags=show_hn&hitsPerPage=3&page=9", NULL,
		  "", "https://hn.algolia.com/api/v1/search?tags=show_hn&hitsPerPage=100");
}
END_TEST

START_TEST(test_hn_source_rejects_bad_settings)
{
	setup_fails("hn.algolia.com", NULL, "url must be the http:// or https:// address");
	setup_fails("https://hn.algolia.com", "[]", "params must be a JSON object");
	setup_fails("https://hn.algolia.com", "{\"hits_per_page\": 0}",
		    "params.hits_per_page must be a number from 1 to 1000");
	setup_fails("https://hn.algolia.com", "{\"tags\": 5}", "params.tags must be text");
	setup_fails("https://hn.algolia.com", "{\"query\": [\"x\"]}", "params.query must be text");
}
END_TEST

static void kind_parse_str(void *st, const char *body, const char *cursor, struct feed_doc *doc,
			   bool *more)
{
	struct feed_input in = { .body = body, .len = strlen(body), .cursor = cursor };
	feed_doc_init(doc);
	ck_assert_int_eq(K->parse(st, &in, doc, more), 0);
}

/* A result page of n comments, one second apart, newest first, from second top. */
static char *page_doc(int n, long top, int page, int nb_pages)
{
	json_t *hits = json_array();
	for (int i = 0; i < n; i++) {
		char id[24];
		snprintf(id, sizeof id, "%ld", 5000 + top - i);
		json_array_append_new(hits, json_pack("{s:s,s:I,s:s,s:s,s:[s]}", "objectID", id,
						      "created_at_i", (json_int_t)(top - i),
						      "author", "a", "comment_text", "<p>hi</p>",
						      "_tags", "comment"));
	}
	json_t *root = json_pack("{s:o,s:i,s:i,s:i,s:i}", "hits", hits, "page", page, "nbPages",
				 nb_pages, "nbHits", nb_pages * n, "hitsPerPage", n);
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

START_TEST(test_hn_source_first_poll_takes_the_newest_page)
{
	void *st = setup_ok("https://hn.algolia.com", NULL);
	struct feed_doc doc;
	bool more;
	size_t n;
	char *raw = tu_read_fixture("hn/search_by_date.json", &n);

	kind_parse_str(st, raw, "", &doc, &more);
	ck_assert_uint_eq(doc.nposts, 6);
	ck_assert(!more);
	ck_assert_str_eq(doc.cursor, "1767268805:46431207,46431206");
	feed_doc_clear(&doc);

	/* Even when older pages exist: the source starts from now. */
	char *p = page_doc(3, 2000, 0, 4);
	kind_parse_str(st, p, "", &doc, &more);
	ck_assert_uint_eq(doc.nposts, 3);
	ck_assert(!more);
	ck_assert_str_eq(doc.cursor, "2000:7000");
	feed_doc_clear(&doc);
	free(p);
	free(raw);
	K->release(st);
}
END_TEST

START_TEST(test_hn_source_reads_the_oldest_page_first_when_behind)
{
	void *st = setup_ok("https://hn.algolia.com", "{\"hits_per_page\": 3}");
	struct feed_doc doc;
	bool more;

	/* Page 0 of 4 after the cursor: dropped, the walk starts at page 3. */
	char *p = page_doc(3, 2000, 0, 4);
	kind_parse_str(st, p, "1000:6000", &doc, &more);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_uint_eq(doc.items, 0);
	ck_assert(more);
	ck_assert_str_eq(doc.cursor, "1000:6000@3");
	feed_doc_clear(&doc);
	free(p);

	/* Page 3 (the oldest): its posts count, and its newest second is the cursor. */
	p = page_doc(3, 1003, 3, 4);
	kind_parse_str(st, p, "1000:6000@3", &doc, &more);
	ck_assert_uint_eq(doc.nposts, 3);
	ck_assert_str_eq(doc.posts[2]->id, "6001");
	ck_assert(more);
	ck_assert_str_eq(doc.cursor, "1003:6003");
	feed_doc_clear(&doc);
	free(p);

	/* The requested page came back empty (fewer pages by now): back to page 0. */
	kind_parse_str(st, "{\"hits\": [], \"page\": 3, \"nbPages\": 2}", "1003:6003@3", &doc,
		       &more);
	ck_assert(more);
	ck_assert_str_eq(doc.cursor, "1003:6003");
	feed_doc_clear(&doc);

	/* One page holds everything newer: read it and rest. */
	p = page_doc(2, 1005, 0, 1);
	kind_parse_str(st, p, "1003:6003", &doc, &more);
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert(!more);
	ck_assert_str_eq(doc.cursor, "1005:6005");
	feed_doc_clear(&doc);
	free(p);
	K->release(st);
}
END_TEST

START_TEST(test_hn_source_explains_error_responses)
{
	char buf[160];
	size_t n;
	char *raw = tu_read_fixture("hn/error_400.json", &n);
	K->error_detail(raw, n, buf, sizeof buf);
	ck_assert_str_eq(buf, "invalid numericFilters: created_at_i>=x is not a number");
	free(raw);
	K->error_detail(LIT("<h1>502 Bad Gateway</h1>"), buf, sizeof buf);
	ck_assert_str_eq(buf, "");

	void *st = setup_ok("https://hn.algolia.com", NULL);
	struct feed_doc doc;
	bool more;
	kind_parse_str(st, "{\"message\": \"Too many requests\", \"status\": 429}", "5", &doc,
		       &more);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "HN Search error 429: Too many requests");
	ck_assert(!more);
	feed_doc_clear(&doc);
	K->release(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("source_hn");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hn_source_builds_search_urls);
	tcase_add_test(tc, test_hn_source_rejects_bad_settings);
	tcase_add_test(tc, test_hn_source_first_poll_takes_the_newest_page);
	tcase_add_test(tc, test_hn_source_reads_the_oldest_page_first_when_behind);
	tcase_add_test(tc, test_hn_source_explains_error_responses);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
