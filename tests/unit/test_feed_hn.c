/*
 * Unit tests for ingest/feed_hn.c. There are no public captures of the HN
 * Search API, so tests/fixtures/hn holds documents written by hand from the
 * API's documented response format (see ORIGIN.md there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/post.h"
#include "ingest/feed_hn.h"
#include "tests/unit/testutil.h"

/* A string literal and its length, as a pointer and length pair. */
#define LIT(s) s, sizeof s - 1

static void parse_body(const char *body, size_t len, const char *cursor, struct feed_doc *doc,
		       struct hn_page_info *info)
{
	struct feed_input in = { .body = body, .len = len, .cursor = cursor, .source_id = 9 };
	feed_doc_init(doc);
	ck_assert_int_eq(feed_hn_parse_page(&in, doc, info), 0);
}

static void parse_file(const char *name, const char *cursor, struct feed_doc *doc)
{
	char rel[256];
	size_t n;
	snprintf(rel, sizeof rel, "hn/%s", name);
	char *raw = tu_read_fixture(rel, &n);
	parse_body(raw, n, cursor, doc, NULL);
	free(raw);
}

static void parse_str(const char *s, struct feed_doc *doc)
{
	parse_body(s, strlen(s), NULL, doc, NULL);
}

static void check_post(const struct post *p, const char *id, const char *url, const char *author,
		       int64_t created_ms, const char *title, const char *text)
{
	ck_assert_str_eq(p->id, id);
	ck_assert_str_eq(p->url, url);
	ck_assert_str_eq(p->author, author);
	ck_assert_int_eq(p->created_at_ms, created_ms);
	ck_assert_str_eq(p->title, title);
	ck_assert_str_eq(p->text, text);
	ck_assert_uint_eq(p->text_len, strlen(text));
	ck_assert_str_eq(p->lang, "");
	ck_assert_int_eq(p->source_id, 9);
}

START_TEST(test_hn_parses_stories_and_comments)
{
	struct feed_doc doc;
	parse_file("search_by_date.json", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.error, "");
	ck_assert_str_eq(doc.title, "");
	ck_assert_uint_eq(doc.nposts, 6);
	ck_assert_uint_eq(doc.items, 6);
	ck_assert_uint_eq(doc.skipped, 0);
	/* A comment: HTML to text, entities decoded, the item page as its URL. */
	check_post(doc.posts[0], "46431207", "https://news.ycombinator.com/item?id=46431207",
		   "kestrel_dev", 1767268805000LL, "",
		   "I've been running this in production for a year. The trick is <100ms p99 & no "
		   "GC pauses.\n\nSee https://example.com/blog/gc");
	/* A link story: its link as the URL, the title as the title, no text. */
	check_post(doc.posts[1], "46431206", "https://example.org/trendd", "mvance",
		   1767268805000LL, "Show HN: Trendd \xE2\x80\x93 real-time trends from public feeds",
		   "");
	check_post(doc.posts[2], "46431190", "https://news.ycombinator.com/item?id=46431190",
		   "quietloop", 1767268790000LL, "",
		   "Nice. Does it handle Unicode hashtags like #caf\xC3\xA9 and emoji "
		   "\xF0\x9F\x9A\x80?");
	/* An Ask HN story: no link, its story_text as the text (HN's unclosed <p>). */
	check_post(doc.posts[3], "46431180", "https://news.ycombinator.com/item?id=46431180",
		   "tmpfs_fan", 1767268770000LL, "Ask HN: How do you detect trending topics?",
		   "We ingest ~2k posts/min from a few feeds.\n\nWhat works for you: z-scores, "
		   "Space-Saving, something else?");
	check_post(doc.posts[4], "46431101", "https://example.net/sqlite-wal", "newsbot",
		   1767268700000LL, "Why SQLite's WAL mode is fast", "");
	/* <pre> keeps its spacing. */
	ck_assert_str_eq(doc.posts[5]->text, "Agreed. See also PRAGMA journal_mode=WAL and\n\n"
					     "  PRAGMA synchronous=NORMAL;");
	/* The newest second and both items created in it. */
	ck_assert_str_eq(doc.cursor, "1767268805:46431207,46431206");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_hn_cursor_dedups_the_boundary_second)
{
	struct feed_doc doc;

	/* One of the two items of the newest second was seen: the other is new. */
	parse_file("search_by_date.json", "1767268805:46431206", &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->id, "46431207");
	ck_assert_str_eq(doc.cursor, "1767268805:46431206,46431207");
	feed_doc_clear(&doc);

	/* Both seen: nothing new, and the cursor stays. */
	parse_file("search_by_date.json", "1767268805:46431207,46431206", &doc);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_uint_eq(doc.skipped, 0);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* Older seconds are behind the cursor; the cursor's own second is not. */
	parse_file("search_by_date.json", "1767268790", &doc);
	ck_assert_uint_eq(doc.nposts, 3);
	ck_assert_str_eq(doc.posts[2]->id, "46431190");
	ck_assert_str_eq(doc.cursor, "1767268805:46431207,46431206");
	feed_doc_clear(&doc);

	parse_file("search_by_date.json", "1767268806", &doc);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* The source's page suffix is not the parser's business. */
	parse_file("search_by_date.json", "1767268805:46431206@3", &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	feed_doc_clear(&doc);

	/* A cursor that does not read as one is no cursor. */
	parse_file("search_by_date.json", "t3_abc", &doc);
	ck_assert_uint_eq(doc.nposts, 6);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_hn_boundary_ids_are_bounded)
{
	json_t *hits = json_array();
	for (int i = 0; i < HN_CURSOR_IDS_MAX + 6; i++) {
		char id[16];
		snprintf(id, sizeof id, "%d", 1000 + i);
		json_array_append_new(hits, json_pack("{s:s,s:i,s:s,s:s,s:[s]}", "objectID", id,
						      "created_at_i", 1767268805, "author", "a",
						      "comment_text", "same second", "_tags",
						      "comment"));
	}
	json_t *root = json_pack("{s:o,s:i}", "hits", hits, "nbHits", HN_CURSOR_IDS_MAX + 6);
	char *s = json_dumps(root, JSON_COMPACT);
	struct feed_doc doc;
	parse_str(s, &doc);
	ck_assert_uint_eq(doc.nposts, HN_CURSOR_IDS_MAX + 6);
	/* "1767268805:" and 64 four-digit ids with commas between. */
	ck_assert_uint_eq(strlen(doc.cursor), 11 + HN_CURSOR_IDS_MAX * 5 - 1);
	ck_assert(!strncmp(doc.cursor, "1767268805:1000,1001,", 21));
	feed_doc_clear(&doc);
	free(s);
	json_decref(root);
}
END_TEST

START_TEST(test_hn_skips_and_counts_malformed_hits)
{
	struct feed_doc doc;
	parse_file("search_by_date_malformed.json", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.items, 8);
	ck_assert_uint_eq(doc.skipped, 6);
	ck_assert_uint_eq(doc.nposts, 2);
	check_post(doc.posts[0], "46432001", "https://example.com/fine", "okuser", 1767268860000LL,
		   "A fine story", "");
	/* No created_at_i: the RFC 3339 created_at. */
	check_post(doc.posts[1], "46432008", "https://news.ycombinator.com/item?id=46432008",
		   "lateuser", 1767268854000LL, "", "Only an ISO time here.");
	ck_assert_str_eq(doc.cursor, "1767268860:46432001");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_hn_empty_result_is_wellformed)
{
	struct feed_doc doc;
	struct hn_page_info info;
	size_t n;
	char *raw = tu_read_fixture("hn/search_by_date_empty.json", &n);

	parse_body(raw, n, "1767268805:46431207", &doc, &info);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_uint_eq(doc.items, 0);
	ck_assert_ptr_null(doc.cursor);
	ck_assert_int_eq(info.page, 0);
	ck_assert_int_eq(info.nb_pages, 0);
	ck_assert_int_eq(info.nb_hits, 0);
	ck_assert_int_eq(info.hits_per_page, 100);
	feed_doc_clear(&doc);
	free(raw);
}
END_TEST

START_TEST(test_hn_reports_paging_numbers)
{
	struct feed_doc doc;
	struct hn_page_info info;

	const char *a = "{\"hits\": [], \"page\": 2, \"nbPages\": 7, \"nbHits\": 650, "
			"\"hitsPerPage\": 100}";
	parse_body(a, strlen(a), NULL, &doc, &info);
	ck_assert_int_eq(info.page, 2);
	ck_assert_int_eq(info.nb_pages, 7);
	ck_assert_int_eq(info.nb_hits, 650);
	ck_assert_int_eq(info.hits_per_page, 100);
	feed_doc_clear(&doc);

	const char *b = "{\"hits\": [], \"page\": \"x\", \"nbPages\": -1}";
	parse_body(b, strlen(b), NULL, &doc, &info);
	ck_assert_int_eq(info.page, -1);
	ck_assert_int_eq(info.nb_pages, -1);
	ck_assert_int_eq(info.nb_hits, -1);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_hn_wrong_documents_are_document_errors)
{
	struct feed_doc doc;

	parse_file("error_400.json", NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "HN Search error 400: invalid numericFilters: created_at_i>=x "
				    "is not a number");
	feed_doc_clear(&doc);

	parse_str("", &doc);
	ck_assert_str_eq(doc.error, "not an HN Search result: empty body");
	feed_doc_clear(&doc);

	parse_str("{\"hits\": [{\"objectID\": \"1\"", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_msg(!strncmp(doc.error, "not an HN Search result: invalid JSON at line 1", 47),
		      "%s", doc.error);
	feed_doc_clear(&doc);

	parse_str("{\"hits\": 5}", &doc);
	ck_assert_str_eq(doc.error, "not an HN Search result: no \"hits\" array");
	feed_doc_clear(&doc);

	parse_str("[]", &doc);
	ck_assert_str_eq(doc.error, "not an HN Search result: expected an object, got an array");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_hn_detects_search_results)
{
	size_t n;
	char *raw = tu_read_fixture("hn/search_by_date.json", &n);
	ck_assert_int_eq(feed_hn_detect(raw, n, NULL), 95);
	free(raw);
	raw = tu_read_fixture("hn/search_by_date_empty.json", &n);
	ck_assert_int_eq(feed_hn_detect(raw, n, NULL), 90);
	free(raw);
	ck_assert_int_eq(feed_hn_detect(LIT("{\"kind\": \"Listing\"}"), NULL), 0);
	ck_assert_int_eq(feed_hn_detect(LIT("[{\"hits\": []}]"), NULL), 0);
	/* The word in some text is not the key. */
	const char *text = "{\"kind\": \"Listing\", \"body\": \"\\\"hits\\\": [\\\"objectID\\\"\"}";
	ck_assert_int_eq(feed_hn_detect(text, strlen(text), NULL), 0);
	ck_assert_int_eq(feed_hn_detect(LIT("{\"hits\": 3, \"objectID\": 1}"), NULL), 0);
	ck_assert_int_eq(feed_hn_detect(LIT(""), NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("feed_hn");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hn_parses_stories_and_comments);
	tcase_add_test(tc, test_hn_cursor_dedups_the_boundary_second);
	tcase_add_test(tc, test_hn_boundary_ids_are_bounded);
	tcase_add_test(tc, test_hn_skips_and_counts_malformed_hits);
	tcase_add_test(tc, test_hn_empty_result_is_wellformed);
	tcase_add_test(tc, test_hn_reports_paging_numbers);
	tcase_add_test(tc, test_hn_wrong_documents_are_document_errors);
	tcase_add_test(tc, test_hn_detects_search_results);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
