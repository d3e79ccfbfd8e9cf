/*
 * Unit tests for ingest/feed_mastodon.c on real Mastodon API captures
 * (tests/fixtures/mastodon, see ORIGIN.md there). Expected values were read
 * from the JSON of the captures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/post.h"
#include "ingest/feed_mastodon.h"
#include "tests/unit/testutil.h"

static struct tu_capture load(const char *name)
{
	return tu_load_capture("mastodon", name);
}

/* Parses body with the given cursor and base URL into doc (initialised here). */
static void parse_body(const char *body, size_t len, const char *cursor, const char *base_url,
		       struct feed_doc *doc)
{
	struct feed_input in = { .body = body, .len = len, .cursor = cursor,
				 .base_url = base_url, .source_id = 7 };
	feed_doc_init(doc);
	ck_assert_int_eq(feed_mastodon_parse(&in, doc), 0);
}

static void parse_file(const char *name, struct feed_doc *doc)
{
	struct tu_capture c = load(name);
	parse_body(c.body, c.len, NULL, "http://localhost:3000", doc);
	free(c.raw);
}

/* Parses a JSON value built by a test. */
static void parse_json(json_t *v, const char *cursor, const char *base_url, struct feed_doc *doc)
{
	char *s = json_dumps(v, JSON_COMPACT);
	ck_assert_ptr_nonnull(s);
	parse_body(s, strlen(s), cursor, base_url, doc);
	free(s);
}

static json_t *load_json(const char *name)
{
	struct tu_capture c = load(name);
	json_error_t err;
	json_t *v = json_loadb(c.body, c.len, 0, &err);
	ck_assert_msg(v != NULL, "%s: %s", name, err.text);
	free(c.raw);
	return v;
}

static void check_post(const struct post *p, const char *id, const char *url, const char *author,
		       const char *lang, int64_t created_ms, const char *text)
{
	ck_assert_str_eq(p->id, id);
	ck_assert_str_eq(p->url, url);
	ck_assert_str_eq(p->author, author);
	ck_assert_str_eq(p->lang, lang);
	ck_assert_int_eq(p->created_at_ms, created_ms);
	ck_assert_str_eq(p->title, "");
	ck_assert_str_eq(p->text, text);
	ck_assert_uint_eq(p->text_len, strlen(text));
	ck_assert_int_eq(p->source_id, 7);
}

START_TEST(test_mastodon_parses_public_timeline)
{
	struct feed_doc doc;
	parse_file("timeline_public.http", &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.error, "");
	ck_assert_str_eq(doc.title, "");
	ck_assert_uint_eq(doc.nposts, 8);
	ck_assert_uint_eq(doc.items, 8);
	ck_assert_uint_eq(doc.skipped, 0);
	check_post(doc.posts[0], "117020593378945190",
		   "http://localhost:3000/@mastodonpy_test_2/117020593378945190",
		   "http://localhost:3000/@mastodonpy_test_2", "ja", 1785592550338LL,
		   "Toot, finally!");
	check_post(doc.posts[4], "117020588169351887",
		   "http://localhost:3000/@admin/117020588169351887", "http://localhost:3000/@admin",
		   "en", 1785592470847LL, "@mastodonpy_test beep beep I'm a jeep");
	check_post(doc.posts[7], "117020574694606796",
		   "http://localhost:3000/@admin/117020574694606796", "http://localhost:3000/@admin",
		   "en", 1785592265238LL, "I have never stolen a ham in my life.");
	ck_assert_str_eq(doc.posts[1]->text, "you can't say that on television");
	ck_assert_str_eq(doc.cursor, "117020593378945190");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_mastodon_parses_local_remote_and_tag_timelines)
{
	struct feed_doc doc;
	parse_file("timeline_public_local_remote.http", &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 20);
	check_post(doc.posts[0], "117024258897469903",
		   "http://localhost:3000/@admin/117024258897469903", "http://localhost:3000/@admin",
		   "en", 1785648481712LL, "you can't say that on television");
	check_post(doc.posts[19], "117024218475038112",
		   "http://localhost:3000/@admin/117024218475038112", "http://localhost:3000/@admin",
		   "en", 1785647864915LL, "it's cool guy too");
	ck_assert_str_eq(doc.cursor, "117024258897469903");
	feed_doc_clear(&doc);

	parse_file("timeline_tag_page1.http", &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 10);
	check_post(doc.posts[0], "117020582251615632",
		   "http://localhost:3000/@mastodonpy_test_2/117020582251615632",
		   "http://localhost:3000/@mastodonpy_test_2", "ja", 1785592380550LL,
		   "Toot number 29! #fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp");
	ck_assert_str_eq(doc.posts[9]->text,
			 "Toot number 20! #fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp");
	ck_assert_int_eq(doc.posts[9]->created_at_ms, 1785592379413LL);
	ck_assert_str_eq(doc.cursor, "117020582251615632");
	feed_doc_clear(&doc);

	parse_file("timeline_tag.http", &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->text, "#hoot (hashtag toot)");
	ck_assert_int_eq(doc.posts[0]->created_at_ms, 1785592555867LL);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_mastodon_parses_account_status_pages)
{
	static const char *const ids[] = { "117020580518794573", "117020580511453871",
					   "117020580503743669", "117020580496489811",
					   "117020580489281910" };
	struct feed_doc doc;
	parse_file("account_statuses_limit5.http", &doc);
	ck_assert_uint_eq(doc.nposts, 5);
	for (int i = 0; i < 5; i++) {
		char text[32];
		snprintf(text, sizeof text, "Toot number %d!", 9 - i);
		ck_assert_str_eq(doc.posts[i]->id, ids[i]);
		ck_assert_str_eq(doc.posts[i]->text, text);
		ck_assert_str_eq(doc.posts[i]->author, "http://localhost:3000/@mastodonpy_test");
	}
	ck_assert_str_eq(doc.cursor, "117020580518794573");
	feed_doc_clear(&doc);

	parse_file("account_statuses_limit5_max_id.http", &doc);
	ck_assert_uint_eq(doc.nposts, 5);
	ck_assert_str_eq(doc.posts[4]->id, "117020580452511285");
	ck_assert_str_eq(doc.posts[4]->text, "Toot number 0!");
	ck_assert_str_eq(doc.cursor, "117020580481736214");
	feed_doc_clear(&doc);

	/* An older server (2018): same shape, older ids. */
	parse_file("account_statuses_old_since_id_next.http", &doc);
	ck_assert_uint_eq(doc.nposts, 5);
	check_post(doc.posts[0], "100465729713829041",
		   "http://localhost:3000/@mastodonpy_test/100465729713829041",
		   "http://localhost:3000/@mastodonpy_test", "en", 1532985377738LL,
		   "Toot number 4!");
	feed_doc_clear(&doc);

	parse_file("account_statuses_old_since_id_prev.http", &doc);
	ck_assert_uint_eq(doc.nposts, 5);
	ck_assert_str_eq(doc.posts[0]->text, "Toot number 9!");
	ck_assert_str_eq(doc.cursor, "100465729784759578");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_mastodon_empty_pages_are_wellformed_without_cursor)
{
	static const char *const files[] = { "timeline_tag_page4_empty.http",
					     "timeline_tag_prev_empty.http",
					     "timeline_home_empty.http" };
	for (size_t i = 0; i < 3; i++) {
		struct feed_doc doc;
		parse_file(files[i], &doc);
		ck_assert_msg(doc.wellformed, "%s", files[i]);
		ck_assert_uint_eq(doc.nposts, 0);
		ck_assert_uint_eq(doc.skipped, 0);
		ck_assert_ptr_null(doc.cursor);
		feed_doc_clear(&doc);
	}
}
END_TEST

START_TEST(test_mastodon_error_body_is_document_error)
{
	struct feed_doc doc;
	parse_file("error_401_home_unauthenticated.http", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "Mastodon error: The access token is invalid");
	ck_assert_uint_eq(doc.nposts, 0);
	feed_doc_clear(&doc);

	/* An instance document is JSON but not a timeline. */
	parse_file("instance_v2.http", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Mastodon timeline: expected a JSON array of statuses, "
				    "got an object");
	feed_doc_clear(&doc);

	parse_body("[{\"id\":", 7, NULL, NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_msg(!strncmp(doc.error, "not a Mastodon timeline: invalid JSON at line 1", 47),
		      "%s", doc.error);
	feed_doc_clear(&doc);

	parse_body("<html>Bad gateway</html>", 24, NULL, NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_msg(strstr(doc.error, "invalid JSON") != NULL, "%s", doc.error);
	feed_doc_clear(&doc);

	parse_body("", 0, NULL, NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Mastodon timeline: empty body");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_mastodon_skips_malformed_status_and_keeps_the_rest)
{
	static const char *const breakers[] = { "id", "created_at", "content", "account" };
	for (size_t k = 0; k < 4; k++) {
		json_t *arr = load_json("timeline_public.http");
		json_t *st = json_array_get(arr, 2);
		json_object_del(st, breakers[k]);
		struct feed_doc doc;
		parse_json(arr, NULL, NULL, &doc);
		ck_assert(doc.wellformed);
		ck_assert_msg(doc.skipped == 1, "without %s: skipped %zu", breakers[k], doc.skipped);
		ck_assert_uint_eq(doc.nposts, 7);
		ck_assert_str_eq(doc.posts[1]->id, "117020592137523525");
		ck_assert_str_eq(doc.posts[2]->id, "117020588242324937");
		feed_doc_clear(&doc);
		json_decref(arr);
	}

	/* Mistyped fields, one status each. */
	json_t *arr = load_json("timeline_public.http");
	json_object_set_new(json_array_get(arr, 0), "id", json_integer(117020593378945190LL));
	json_object_set_new(json_array_get(arr, 1), "created_at", json_string("yesterday"));
	json_object_set_new(json_array_get(arr, 2), "content", json_null());
	json_object_set_new(json_array_get(arr, 3), "account", json_string("admin"));
	json_object_set_new(json_array_get(arr, 4), "reblog", json_integer(1));
	json_object_set_new(json_array_get(arr, 5), "id", json_string("1 OR 1=1"));
	json_array_append_new(arr, json_string("not a status"));
	struct feed_doc doc;
	parse_json(arr, NULL, NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.skipped, 7);
	ck_assert_uint_eq(doc.items, 9);
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert_str_eq(doc.posts[0]->id, "117020582721532745");
	ck_assert_str_eq(doc.posts[1]->id, "117020574694606796");
	feed_doc_clear(&doc);
	json_decref(arr);
}
END_TEST

START_TEST(test_mastodon_reblog_counts_the_original)
{
	json_t *arr = load_json("timeline_public.http");
	json_t *orig = json_deep_copy(json_array_get(arr, 1));
	json_t *wrapper = json_deep_copy(json_array_get(arr, 0));
	/* A boost: its own id and booster, the original inside, content empty. */
	json_object_set_new(wrapper, "id", json_string("117020600000000000"));
	json_object_set_new(wrapper, "content", json_string(""));
	json_object_set_new(wrapper, "reblog", orig);
	json_array_insert_new(arr, 0, wrapper);

	struct feed_doc doc;
	parse_json(arr, NULL, NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 9);
	check_post(doc.posts[0], "117020592137523525",
		   "http://localhost:3000/@admin/117020592137523525", "http://localhost:3000/@admin",
		   "en", 1785592531396LL, "you can't say that on television");
	/* The timeline position is the boost's own id. */
	ck_assert_str_eq(doc.cursor, "117020600000000000");
	feed_doc_clear(&doc);
	json_decref(arr);
}
END_TEST

START_TEST(test_mastodon_author_is_qualified_across_instances)
{
	json_t *arr = load_json("timeline_public.http");
	json_t *a0 = json_object_get(json_array_get(arr, 0), "account");
	json_t *a1 = json_object_get(json_array_get(arr, 1), "account");
	json_t *a2 = json_object_get(json_array_get(arr, 2), "account");
	/* No profile URL or actor URI: the acct qualified with the instance host. */
	json_object_del(a0, "url");
	json_object_del(a0, "uri");
	/* A remote account's acct already names its server. */
	json_object_del(a1, "url");
	json_object_del(a1, "uri");
	json_object_set_new(a1, "acct", json_string("bob@other.example"));
	/* Without url, the ActivityPub actor URI. */
	json_object_set_new(a2, "url", json_null());

	struct feed_doc doc;
	parse_json(arr, NULL, "http://localhost:3000/", &doc);
	ck_assert_uint_eq(doc.nposts, 8);
	ck_assert_str_eq(doc.posts[0]->author, "mastodonpy_test_2@localhost:3000");
	ck_assert_str_eq(doc.posts[1]->author, "bob@other.example");
	ck_assert_str_eq(doc.posts[2]->author, "http://localhost:3000/ap/users/117020565693913441");
	feed_doc_clear(&doc);
	json_decref(arr);
}
END_TEST

START_TEST(test_mastodon_spoiler_and_null_language)
{
	json_t *arr = load_json("timeline_public.http");
	json_object_set_new(json_array_get(arr, 1), "spoiler_text", json_string("CW: TV"));
	json_object_set_new(json_array_get(arr, 1), "language", json_null());
	json_object_set_new(json_array_get(arr, 2), "spoiler_text", json_string("only a CW"));
	json_object_set_new(json_array_get(arr, 2), "content", json_string(""));
	json_object_set_new(json_array_get(arr, 3), "url", json_null());

	struct feed_doc doc;
	parse_json(arr, NULL, NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 8);
	ck_assert_str_eq(doc.posts[1]->text, "CW: TV\n\nyou can't say that on television");
	ck_assert_str_eq(doc.posts[1]->lang, "");
	ck_assert_str_eq(doc.posts[2]->text, "only a CW");
	/* No url: the status URI. */
	ck_assert_str_eq(doc.posts[3]->url,
			 "http://localhost:3000/ap/users/117020565693913441/statuses/"
			 "117020588242324937");
	feed_doc_clear(&doc);
	json_decref(arr);
}
END_TEST

START_TEST(test_mastodon_cursor_ignores_seen_statuses)
{
	struct tu_capture c = load("timeline_public.http");
	struct feed_doc doc;

	/* Statuses at or below the cursor were emitted before. */
	parse_body(c.body, c.len, "117020588242324937", NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 3);
	ck_assert_uint_eq(doc.skipped, 0);
	ck_assert_str_eq(doc.posts[0]->id, "117020593378945190");
	ck_assert_str_eq(doc.posts[2]->id, "117020590477318485");
	ck_assert_str_eq(doc.cursor, "117020593378945190");
	feed_doc_clear(&doc);

	/* Nothing newer: no new cursor. */
	parse_body(c.body, c.len, "117020593378945190", NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* A shorter cursor is smaller, whatever strcmp says ("9" > "1..."). */
	parse_body(c.body, c.len, "9", NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 8);
	feed_doc_clear(&doc);
	free(c.raw);

	/* The cursor is the greatest id, whatever the order of the page. */
	json_t *arr = load_json("timeline_public.http");
	json_t *rev = json_array();
	for (size_t i = json_array_size(arr); i-- > 0;)
		json_array_append(rev, json_array_get(arr, i));
	parse_json(rev, NULL, NULL, &doc);
	ck_assert_str_eq(doc.cursor, "117020593378945190");
	feed_doc_clear(&doc);
	json_decref(rev);
	json_decref(arr);
}
END_TEST

START_TEST(test_mastodon_id_compare_is_numeric)
{
	ck_assert_int_lt(feed_mastodon_id_cmp("9", "10"), 0);
	ck_assert_int_gt(feed_mastodon_id_cmp("100", "99"), 0);
	ck_assert_int_eq(feed_mastodon_id_cmp("117020593378945190", "117020593378945190"), 0);
	ck_assert_int_gt(feed_mastodon_id_cmp("117020593378945190", "117020588169351887"), 0);
	ck_assert_int_lt(feed_mastodon_id_cmp("100465729784759578", "117020580452511285"), 0);
	ck_assert_int_eq(feed_mastodon_id_cmp("0099", "99"), 0);
	ck_assert_int_eq(feed_mastodon_id_cmp("0", "0"), 0);
}
END_TEST

START_TEST(test_mastodon_caps_posts_per_page)
{
	json_t *arr = load_json("timeline_public.http");
	json_t *proto = json_array_get(arr, 0), *big = json_array();
	for (int i = 0; i < LIMIT_POSTS_PER_PAGE + 5; i++) {
		json_t *st = json_deep_copy(proto);
		char id[32];
		snprintf(id, sizeof id, "%d", 100000 + i);
		json_object_set_new(st, "id", json_string(id));
		json_array_append_new(big, st);
	}
	struct feed_doc doc;
	parse_json(big, NULL, NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, LIMIT_POSTS_PER_PAGE);
	ck_assert_uint_eq(doc.skipped, 5);
	/* The cursor still covers the whole page, so it is not fetched again. */
	ck_assert_str_eq(doc.cursor, "101004");
	feed_doc_clear(&doc);
	json_decref(big);
	json_decref(arr);
}
END_TEST

START_TEST(test_mastodon_detects_timelines_only)
{
	struct tu_capture c = load("timeline_public.http");
	ck_assert_int_ge(feed_mastodon_detect(c.body, c.len, NULL), 80);
	free(c.raw);
	c = load("timeline_home_empty.http");
	ck_assert_int_gt(feed_mastodon_detect(c.body, c.len, NULL), 0);
	free(c.raw);
	c = load("instance_v1.http");
	ck_assert_int_eq(feed_mastodon_detect(c.body, c.len, NULL), 0);
	free(c.raw);
	ck_assert_int_eq(feed_mastodon_detect("<?xml version=\"1.0\"?><rss/>", 27, NULL), 0);
	ck_assert_int_eq(feed_mastodon_detect("[1,2]", 5, NULL), 0);
	ck_assert_int_eq(feed_mastodon_detect("", 0, NULL), 0);
	ck_assert_str_eq(feed_format_mastodon.name, "mastodon");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("feed_mastodon");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mastodon_parses_public_timeline);
	tcase_add_test(tc, test_mastodon_parses_local_remote_and_tag_timelines);
	tcase_add_test(tc, test_mastodon_parses_account_status_pages);
	tcase_add_test(tc, test_mastodon_empty_pages_are_wellformed_without_cursor);
	tcase_add_test(tc, test_mastodon_error_body_is_document_error);
	tcase_add_test(tc, test_mastodon_skips_malformed_status_and_keeps_the_rest);
	tcase_add_test(tc, test_mastodon_reblog_counts_the_original);
	tcase_add_test(tc, test_mastodon_author_is_qualified_across_instances);
	tcase_add_test(tc, test_mastodon_spoiler_and_null_language);
	tcase_add_test(tc, test_mastodon_cursor_ignores_seen_statuses);
	tcase_add_test(tc, test_mastodon_id_compare_is_numeric);
	tcase_add_test(tc, test_mastodon_caps_posts_per_page);
	tcase_add_test(tc, test_mastodon_detects_timelines_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
