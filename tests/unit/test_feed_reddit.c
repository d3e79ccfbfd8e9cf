/*
 * Unit tests for ingest/feed_reddit.c on real Reddit API captures
 * (tests/fixtures/reddit, see ORIGIN.md there). Expected values were read
 * from the JSON of the captures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/post.h"
#include "ingest/feed_reddit.h"
#include "tests/unit/testutil.h"

/* A string literal and its length, as a pointer and length pair. */
#define LIT(s) s, sizeof s - 1

static struct tu_capture load(const char *name)
{
	return tu_load_capture("reddit", name);
}

static void parse_body(const char *body, size_t len, const char *cursor, enum reddit_text mode,
		       struct feed_doc *doc)
{
	struct feed_input in = { .body = body, .len = len, .cursor = cursor, .source_id = 3 };
	feed_doc_init(doc);
	ck_assert_int_eq(feed_reddit_parse_text(&in, mode, doc), 0);
}

static void parse_file(const char *name, const char *cursor, struct feed_doc *doc)
{
	struct tu_capture c = load(name);
	parse_body(c.body, c.len, cursor, REDDIT_TEXT_AUTO, doc);
	free(c.raw);
}

static void parse_json(json_t *v, enum reddit_text mode, struct feed_doc *doc)
{
	char *s = json_dumps(v, JSON_COMPACT);
	ck_assert_ptr_nonnull(s);
	parse_body(s, strlen(s), NULL, mode, doc);
	free(s);
}

static void parse_str(const char *s, struct feed_doc *doc)
{
	parse_body(s, strlen(s), NULL, REDDIT_TEXT_AUTO, doc);
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

/* The data object of child i of a Listing. */
static json_t *child_data(json_t *listing, size_t i)
{
	json_t *children = json_object_get(json_object_get(listing, "data"), "children");
	return json_object_get(json_array_get(children, i), "data");
}

static void check_post(const struct post *p, const char *id, const char *author,
		       int64_t created_ms, const char *title, const char *text, const char *url)
{
	ck_assert_str_eq(p->id, id);
	ck_assert_str_eq(p->author, author);
	ck_assert_int_eq(p->created_at_ms, created_ms);
	ck_assert_str_eq(p->title, title);
	ck_assert_str_eq(p->text, text);
	ck_assert_uint_eq(p->text_len, strlen(text));
	ck_assert_str_eq(p->url, url);
	ck_assert_str_eq(p->lang, "");
	ck_assert_int_eq(p->source_id, 3);
}

START_TEST(test_reddit_parses_subreddit_listing)
{
	struct feed_doc doc;
	parse_file("subreddit_popular_hot.http", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.error, "");
	ck_assert_str_eq(doc.title, "");
	ck_assert_uint_eq(doc.nposts, 100);
	ck_assert_uint_eq(doc.items, 100);
	ck_assert_uint_eq(doc.skipped, 0);
	check_post(doc.posts[1], "t3_1skl1i1", "PrinceFlynn", 1776108121000LL,
		   "A medium rare \"steak.\"", "",
		   "https://www.reddit.com/r/StupidFood/comments/1skl1i1/a_medium_rare_steak/");
	check_post(doc.posts[50], "t3_1skhqsv", "mxriverlynn", 1776101337000LL,
		   "tap dancing to Metallica",
		   "this is Ariel Hyatt, from what i read. and i love this! "
		   "\xF0\x9F\x98\x88\xF0\x9F\xA4\x98\xF0\x9F\x8F\xBC\xF0\x9F\x92\x83\xF0\x9F\x8F\xBC",
		   "https://www.reddit.com/r/justgalsbeingchicks/comments/1skhqsv/"
		   "tap_dancing_to_metallica/");
	ck_assert_str_eq(doc.posts[0]->id, "t3_1skjxta");
	ck_assert_str_eq(doc.posts[0]->text, "https://x.com/arielhelwani/status/2043757261882044451");
	ck_assert_int_eq(doc.posts[0]->created_at_ms, 1776105848000LL);
	ck_assert(!strncmp(doc.posts[0]->title, "Ulberg on Jiri showing mercy: \xE2\x80\x9C"
						"That\xE2\x80\x99s bullshit", 48));
	ck_assert_str_eq(doc.posts[99]->id, "t3_1skbyfv");
	ck_assert_str_eq(doc.posts[99]->author, "notanfan");
	ck_assert_int_eq(doc.posts[99]->created_at_ms, 1776089376000LL);
	/* Listing order: the first thing is the anchor for `before`. */
	ck_assert_str_eq(doc.cursor, "t3_1skjxta");
	feed_doc_clear(&doc);

	parse_file("multireddit_new.http", NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 100);
	check_post(doc.posts[0], "t3_4t9ut3", "dwarfy", 1468765992000LL, "Getting a list of votes",
		   "Hi Everyone, \n\nI've been playing with the APIs for a few hours but I couldn't "
		   "find any way to get the list of up and down votes on a post or a comment... "
		   "\n\nIs it possible to get this info somehow? ",
		   "https://www.reddit.com/r/redditdev/comments/4t9ut3/getting_a_list_of_votes/");
	check_post(doc.posts[99], "t3_4nu8x1", "thirdegree", 1465795971000LL,
		   "PRAW edit_wiki_page raising Forbidden when content is larger than 5120 chars",
		   "PRAW version is 3.5.0, I am 100% certain this is the issue. ",
		   "https://www.reddit.com/r/redditdev/comments/4nu8x1/"
		   "praw_edit_wiki_page_raising_forbidden_when/");
	ck_assert_str_eq(doc.cursor, "t3_4t9ut3");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_parses_comment_listing)
{
	struct feed_doc doc;
	parse_file("subreddit_comments.http", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 100);
	ck_assert_uint_eq(doc.skipped, 0);
	check_post(doc.posts[0], "t1_k3yrfii", "Acceptable-Bread-566", 1696754768000LL, "",
		   "Did it work?",
		   "https://www.reddit.com/r/<TEST_SUBREDDIT>/comments/agi5zf/<TEST_SUBREDDIT>/"
		   "k3yrfii/");
	check_post(doc.posts[95], "t1_k3v0jp3", "Decent_Work_4713", 1696691432000LL, "",
		   "<TEST_SUBREDDIT> reply from bot",
		   "https://www.reddit.com/r/<TEST_SUBREDDIT>/comments/172842m/great_view_31101/"
		   "k3v0jp3/");
	check_post(doc.posts[99], "t1_k3uzsxu", "awayNick692", 1696691133000LL, "",
		   "My new  wallpaper.",
		   "https://www.reddit.com/r/<TEST_SUBREDDIT>/comments/1728cmo/great_view_4/"
		   "k3uzsxu/");
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_reads_submission_and_its_comment_tree)
{
	static const char *const ids[] = { "t3_jlbw48",  "t1_gao5889", "t1_gao66g9", "t1_gao66wc",
					   "t1_gius5s0", "t1_gt00mip", "t1_gt032vq" };
	struct feed_doc doc;
	parse_file("submission_comments.http", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 7);
	ck_assert_uint_eq(doc.items, 7);
	/* The submission, then the comments depth first (replies nested three deep). */
	for (size_t i = 0; i < 7; i++)
		ck_assert_str_eq(doc.posts[i]->id, ids[i]);
	check_post(doc.posts[0], "t3_jlbw48", "Watchful1BotTest", 1604116789000LL,
		   "Test self post", "Test self post text",
		   "https://www.reddit.com/r/SubTestBot1/comments/jlbw48/test_self_post/");
	check_post(doc.posts[3], "t1_gao66wc", "Watchful1BotTest", doc.posts[3]->created_at_ms, "",
		   "test tree 2",
		   "https://www.reddit.com/r/SubTestBot1/comments/jlbw48/test_self_post/gao66wc/");
	ck_assert_int_eq(doc.posts[4]->created_at_ms, 1610351778000LL);
	ck_assert_str_eq(doc.posts[4]->author, "Watchful1");
	ck_assert(!strncmp(doc.posts[4]->text, "test\n\n[If a creature comes down your chimney", 44));
	ck_assert_str_eq(doc.posts[6]->author, "KJ_Bot");
	ck_assert_str_eq(doc.cursor, "t3_jlbw48");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_reads_mixed_comments_and_posts)
{
	struct feed_doc doc;
	size_t t1 = 0, t3 = 0;
	parse_file("user_overview_new.http", NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 100);
	for (size_t i = 0; i < doc.nposts; i++) {
		if (!strncmp(doc.posts[i]->id, "t1_", 3)) {
			t1++;
			ck_assert_str_eq(doc.posts[i]->title, "");
		} else {
			t3++;
			ck_assert_str_ne(doc.posts[i]->title, "");
		}
		ck_assert_str_eq(doc.posts[i]->author, "spez");
	}
	ck_assert_uint_eq(t1, 90);
	ck_assert_uint_eq(t3, 10);
	/* raw_json=1: "&" in text stays as typed. */
	ck_assert(strstr(doc.posts[0]->text, "?width=1260&format=pjpg&auto=webp") != NULL);
	ck_assert(strstr(doc.posts[0]->text, "Juuuust kidding.") != NULL);
	ck_assert_str_eq(doc.cursor, "t1_optfyql");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_empty_listing_is_wellformed_without_cursor)
{
	struct feed_doc doc;
	parse_file("empty_listing.http", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_uint_eq(doc.items, 0);
	ck_assert_uint_eq(doc.skipped, 0);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* Nothing new after the cursor: the cursor stays where it was. */
	parse_file("empty_listing.http", "t3_abc", &doc);
	ck_assert(doc.wellformed);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_error_bodies_are_document_errors_in_plain_words)
{
	struct feed_doc doc;
	char buf[160];

	parse_file("error_403.http", NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "Reddit error 403: access denied (the listing is private, or "
				    "Reddit blocks this client)");
	ck_assert_uint_eq(doc.nposts, 0);
	feed_doc_clear(&doc);

	parse_str("{\"reason\": \"private\", \"message\": \"Forbidden\", \"error\": 403}", &doc);
	ck_assert_str_eq(doc.error, "Reddit error 403: the subreddit is private");
	feed_doc_clear(&doc);

	parse_str("{\"message\": \"Not Found\", \"error\": 404}", &doc);
	ck_assert_str_eq(doc.error, "Reddit error 404: no such subreddit or listing");
	feed_doc_clear(&doc);

	const char *q = "{\"reason\": \"banned\", \"message\": \"Not Found\", \"error\": 404}";
	feed_reddit_error_text(q, strlen(q), buf, sizeof buf);
	ck_assert_str_eq(buf, "the subreddit is banned");
	q = "{\"reason\": \"quarantined\", \"error\": 403}";
	feed_reddit_error_text(q, strlen(q), buf, sizeof buf);
	ck_assert(!strncmp(buf, "the subreddit is quarantined", 28));
	feed_reddit_error_text(LIT("{\"error\": 429}"), buf, sizeof buf);
	ck_assert_str_eq(buf, "too many requests: Reddit is rate limiting this client");
	feed_reddit_error_text(LIT("<html>whoa there</html>"), buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	feed_reddit_error_text(LIT("{\"kind\": \"Listing\"}"), buf, sizeof buf);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_reddit_wrong_documents_are_document_errors)
{
	struct feed_doc doc;

	parse_str("", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Reddit listing: empty body");
	feed_doc_clear(&doc);

	parse_str("{\"kind\": \"Listing\", \"data\": {\"children\": [", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_msg(!strncmp(doc.error, "not a Reddit listing: invalid JSON at line 1", 44), "%s",
		      doc.error);
	feed_doc_clear(&doc);

	parse_str("[{\"id\": \"1\", \"created_at\": \"2026-01-01T00:00:00Z\"}]", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Reddit listing: element 0 of the array is not a Listing");
	feed_doc_clear(&doc);

	parse_str("{\"kind\": \"t3\", \"data\": {}}", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Reddit listing: expected {\"kind\": \"Listing\", ...}, "
				    "got an object");
	feed_doc_clear(&doc);

	parse_str("{\"kind\": \"Listing\", \"data\": {\"after\": null}}", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Reddit listing: the Listing has no data.children array");
	feed_doc_clear(&doc);

	/* What an unknown subreddit's listing redirects to: a search for subreddits. */
	parse_str("{\"kind\": \"Listing\", \"data\": {\"children\": [{\"kind\": \"t5\", \"data\": "
		  "{\"display_name\": \"rust\"}}]}}", &doc);
	ck_assert(!doc.wellformed);
	ck_assert(!strncmp(doc.error, "a listing of subreddits, not of posts", 37));
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_skips_and_counts_malformed_children)
{
	json_t *root = load_json("multireddit_new.http");
	json_t *children = json_object_get(json_object_get(root, "data"), "children");

	json_object_del(child_data(root, 1), "author");
	json_object_set_new(child_data(root, 2), "created_utc", json_string("1468670886"));
	json_object_del(child_data(root, 3), "name");
	json_object_del(child_data(root, 3), "id");
	json_object_set_new(child_data(root, 4), "name", json_string("t3_<script>"));
	/* A comment's fullname on a t3 child. */
	json_object_set_new(child_data(root, 5), "name", json_string("t1_4t0abc"));
	json_object_del(child_data(root, 6), "title");
	json_object_set_new(child_data(root, 7), "created_utc", json_real(-5.0));
	json_object_set_new(json_array_get(children, 8), "kind", json_string("t4"));
	json_object_set_new(json_array_get(children, 9), "data", json_string("oops"));
	json_array_append_new(children, json_string("not a child"));
	json_array_append_new(children, json_pack("{s:s,s:{s:i,s:[s]}}", "kind", "more", "data",
						  "count", 3, "children", "abc"));
	/* Older listings give only the bare id: the fullname is made from the kind. */
	json_object_del(child_data(root, 10), "name");

	struct feed_doc doc;
	parse_json(root, REDDIT_TEXT_AUTO, &doc);
	ck_assert(doc.wellformed);
	/* 100 children + 1 non-object; the "more" stub is neither an item nor an error. */
	ck_assert_uint_eq(doc.items, 101);
	ck_assert_uint_eq(doc.skipped, 10);
	ck_assert_uint_eq(doc.nposts, 91);
	ck_assert_str_eq(doc.posts[0]->id, "t3_4t9ut3");
	char want[32];
	snprintf(want, sizeof want, "t3_%s",
		 json_string_value(json_object_get(child_data(root, 10), "id")));
	ck_assert_str_eq(doc.posts[1]->id, want);
	feed_doc_clear(&doc);
	json_decref(root);
}
END_TEST

START_TEST(test_reddit_deleted_text_is_no_text)
{
	struct feed_doc doc;
	json_t *root = load_json("subreddit_comments.http");
	json_object_set_new(child_data(root, 1), "body", json_string("[deleted]"));
	json_object_set_new(child_data(root, 1), "author", json_string("[deleted]"));
	json_object_set_new(child_data(root, 2), "body", json_string("[removed]"));
	parse_json(root, REDDIT_TEXT_RAW, &doc);
	/* Nothing to read in them, and nothing wrong with them either. */
	ck_assert_uint_eq(doc.nposts, 98);
	ck_assert_uint_eq(doc.skipped, 0);
	ck_assert_str_eq(doc.posts[1]->id, "t1_k3yiw5z");
	feed_doc_clear(&doc);
	json_decref(root);

	root = load_json("multireddit_new.http");
	json_object_set_new(child_data(root, 0), "selftext", json_string("[removed]"));
	parse_json(root, REDDIT_TEXT_RAW, &doc);
	ck_assert_uint_eq(doc.nposts, 100);
	ck_assert_str_eq(doc.posts[0]->title, "Getting a list of votes");
	ck_assert_str_eq(doc.posts[0]->text, "");
	feed_doc_clear(&doc);
	json_decref(root);
}
END_TEST

START_TEST(test_reddit_decodes_escaped_text_without_raw_json)
{
	/* What Reddit sends without raw_json=1: &, < and > escaped in every text field. */
	static const char listing[] =
		"{\"kind\": \"Listing\", \"data\": {\"children\": ["
		"{\"kind\": \"t3\", \"data\": {\"name\": \"t3_abc1\", \"author\": \"a\", "
		"\"created_utc\": 1700000000.5, \"subreddit\": \"cpp\", \"title\": \"Q&amp;A: "
		"vector&lt;T&gt; &amp;lt;3\", \"selftext\": \"x &gt; y &amp;&amp; y &gt; z\", "
		"\"selftext_html\": \"&lt;div class=\\\"md\\\"&gt;&lt;p&gt;x&lt;/p&gt;\"}}]}}";
	struct feed_doc doc;

	parse_body(listing, strlen(listing), NULL, REDDIT_TEXT_AUTO, &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title, "Q&A: vector<T> &lt;3");
	ck_assert_str_eq(doc.posts[0]->text, "x > y && y > z");
	ck_assert_int_eq(doc.posts[0]->created_at_ms, 1700000000500LL);
	/* No permalink: the URL is made from the subreddit and the id. */
	ck_assert_str_eq(doc.posts[0]->url, "https://www.reddit.com/r/cpp/comments/abc1/");
	feed_doc_clear(&doc);

	/* Fetched with raw_json=1, "&amp;" is what the user typed. */
	parse_body(listing, strlen(listing), NULL, REDDIT_TEXT_RAW, &doc);
	ck_assert_str_eq(doc.posts[0]->title, "Q&amp;A: vector&lt;T&gt; &amp;lt;3");
	feed_doc_clear(&doc);

	/* A raw *_html field says the text is raw too. */
	json_t *root = load_json("multireddit_new.http");
	json_object_set_new(child_data(root, 0), "title", json_string("Tom &amp; Jerry"));
	parse_json(root, REDDIT_TEXT_AUTO, &doc);
	ck_assert_str_eq(doc.posts[0]->title, "Tom &amp; Jerry");
	feed_doc_clear(&doc);
	parse_json(root, REDDIT_TEXT_ESCAPED, &doc);
	ck_assert_str_eq(doc.posts[0]->title, "Tom & Jerry");
	feed_doc_clear(&doc);
	json_decref(root);
}
END_TEST

START_TEST(test_reddit_cursor_ignores_seen_things)
{
	struct feed_doc doc;

	/* The page that `before=t1_k3v0jp3` answered: everything above the anchor. */
	parse_file("subreddit_comments_before.http", "t1_k3v0jp3", &doc);
	ck_assert_uint_eq(doc.nposts, 95);
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii");
	feed_doc_clear(&doc);

	/* A server that ignores `before` sends things at and below it: they are dropped. */
	parse_file("subreddit_comments.http", "t1_k3v0jp3", &doc);
	ck_assert_uint_eq(doc.nposts, 95);
	ck_assert_uint_eq(doc.skipped, 0);
	ck_assert_str_eq(doc.posts[94]->id, "t1_k3v0jp6");
	ck_assert_str_eq(doc.cursor, "t1_k3yrfii");
	feed_doc_clear(&doc);

	/* The source's suffix on the cursor does not change what the anchor is. */
	parse_file("subreddit_comments.http", "t1_k3v0jp3~4", &doc);
	ck_assert_uint_eq(doc.nposts, 95);
	feed_doc_clear(&doc);

	/* Nothing newer: no posts, and the cursor does not move back. */
	parse_file("subreddit_comments.http", "t1_k3yrfii", &doc);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* A longer base36 id is newer, whatever strcmp says. */
	parse_file("subreddit_comments.http", "t1_zzzzzz", &doc);
	ck_assert_uint_eq(doc.nposts, 100);
	feed_doc_clear(&doc);

	/* A cursor of another kind does not filter (ids come from other sequences). */
	parse_file("subreddit_comments.http", "t3_zzzzzzzzz", &doc);
	ck_assert_uint_eq(doc.nposts, 100);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_reddit_fullname_compare_is_base36_order)
{
	ck_assert_int_lt(feed_reddit_fullname_cmp("t3_zz", 5, "t3_100", 6), 0);
	ck_assert_int_gt(feed_reddit_fullname_cmp("t3_1skl1i1", 10, "t3_1skjxta", 10), 0);
	ck_assert_int_eq(feed_reddit_fullname_cmp("t1_k3v0jp3", 10, "t1_k3v0jp3", 10), 0);
	ck_assert_int_lt(feed_reddit_fullname_cmp("t1_k3v0jp3", 10, "t1_k3v0jp6", 10), 0);
	ck_assert_int_gt(feed_reddit_fullname_cmp("t1_a", 4, "t1_9", 4), 0);
	ck_assert_int_eq(feed_reddit_fullname_cmp("t3_0abc", 7, "t3_abc", 6), 0);
	ck_assert_int_ne(feed_reddit_fullname_cmp("t1_abc", 6, "t3_abc", 6), 0);
}
END_TEST

START_TEST(test_reddit_deep_reply_chains_are_bounded)
{
	/* A comment chain deeper than REDDIT_REPLY_DEPTH_MAX: read to the cap, then one skip. */
	json_t *top = json_pack("{s:s,s:{s:[]}}", "kind", "Listing", "data", "children");
	json_t *cur = top;
	for (int i = 0; i < REDDIT_REPLY_DEPTH_MAX + 10; i++) {
		char name[32];
		snprintf(name, sizeof name, "t1_d%d", i);
		json_t *replies = json_pack("{s:s,s:{s:[]}}", "kind", "Listing", "data", "children");
		json_t *c = json_pack("{s:s,s:{s:s,s:s,s:f,s:s,s:o}}", "kind", "t1", "data", "name",
				      name, "author", "x", "created_utc", 1700000000.0 + i, "body",
				      "deep", "replies", replies);
		json_array_append_new(json_object_get(json_object_get(cur, "data"), "children"), c);
		cur = replies;
	}
	struct feed_doc doc;
	parse_json(top, REDDIT_TEXT_RAW, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, REDDIT_REPLY_DEPTH_MAX + 1);
	ck_assert_uint_eq(doc.skipped, 1);
	ck_assert_str_eq(doc.posts[REDDIT_REPLY_DEPTH_MAX]->id, "t1_d64");
	feed_doc_clear(&doc);
	json_decref(top);
}
END_TEST

START_TEST(test_reddit_detects_listings)
{
	struct tu_capture c = load("subreddit_popular_hot.http");
	ck_assert_int_eq(feed_reddit_detect(c.body, c.len, NULL), 95);
	free(c.raw);
	c = load("submission_comments.http");
	ck_assert_int_eq(feed_reddit_detect(c.body, c.len, NULL), 95);
	free(c.raw);
	c = load("empty_listing.http");
	ck_assert_int_eq(feed_reddit_detect(c.body, c.len, NULL), 95);
	free(c.raw);
	c = load("error_403.http");
	ck_assert_int_eq(feed_reddit_detect(c.body, c.len, NULL), 20);
	free(c.raw);

	ck_assert_int_eq(feed_reddit_detect(LIT("{\"kind\":\"Listing\",\"data\":{}}"), NULL), 95);
	ck_assert_int_eq(feed_reddit_detect(LIT("[{\"id\":\"1\",\"content\":\"x\"}]"), NULL), 0);
	ck_assert_int_eq(feed_reddit_detect(LIT("{\"error\": \"The access token is invalid\"}"),
					    NULL), 0);
	ck_assert_int_eq(feed_reddit_detect(LIT("<rss/>"), NULL), 0);
	ck_assert_int_eq(feed_reddit_detect(LIT(""), NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("feed_reddit");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reddit_parses_subreddit_listing);
	tcase_add_test(tc, test_reddit_parses_comment_listing);
	tcase_add_test(tc, test_reddit_reads_submission_and_its_comment_tree);
	tcase_add_test(tc, test_reddit_reads_mixed_comments_and_posts);
	tcase_add_test(tc, test_reddit_empty_listing_is_wellformed_without_cursor);
	tcase_add_test(tc, test_reddit_error_bodies_are_document_errors_in_plain_words);
	tcase_add_test(tc, test_reddit_wrong_documents_are_document_errors);
	tcase_add_test(tc, test_reddit_skips_and_counts_malformed_children);
	tcase_add_test(tc, test_reddit_deleted_text_is_no_text);
	tcase_add_test(tc, test_reddit_decodes_escaped_text_without_raw_json);
	tcase_add_test(tc, test_reddit_cursor_ignores_seen_things);
	tcase_add_test(tc, test_reddit_fullname_compare_is_base36_order);
	tcase_add_test(tc, test_reddit_deep_reply_chains_are_bounded);
	tcase_add_test(tc, test_reddit_detects_listings);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
