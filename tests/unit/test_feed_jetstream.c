/*
 * Unit tests for ingest/feed_jetstream.c on events captured from production
 * Jetstream (tests/fixtures/jetstream, see ORIGIN.md there). Expected values
 * were read from the JSON of the captures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/post.h"
#include "ingest/feed_jetstream.h"
#include "tests/unit/testutil.h"

static void parse_text(const char *body, size_t len, struct feed_doc *doc)
{
	struct feed_input in = { .body = body, .len = len, .source_id = 42 };
	feed_doc_init(doc);
	ck_assert_int_eq(feed_jetstream_parse(&in, doc), 0);
}

static void parse_fixture(const char *name, struct feed_doc *doc)
{
	char rel[128];
	size_t len;
	snprintf(rel, sizeof rel, "jetstream/%s", name);
	char *body = tu_read_fixture(rel, &len);
	parse_text(body, len, doc);
	free(body);
}

START_TEST(test_jetstream_corpus_gives_every_post_create_and_nothing_else)
{
	struct feed_doc doc;

	parse_fixture("corpus_expected_v1.jsonl", &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.items, 152);
	ck_assert_uint_eq(doc.skipped, 0);
	/* 17 creates of app.bsky.feed.post; likes, reposts, follows, the post delete: none. */
	ck_assert_uint_eq(doc.nposts, 17);

	const struct post *p = doc.posts[0];
	ck_assert_str_eq(p->id, "at://did:plc:dclwtltrt2ggsryagfzk7dp4/app.bsky.feed.post/3mptbyoeyc22k");
	ck_assert_str_eq(p->url, "https://bsky.app/profile/did:plc:dclwtltrt2ggsryagfzk7dp4/post/"
				 "3mptbyoeyc22k");
	ck_assert_str_eq(p->author, "did:plc:dclwtltrt2ggsryagfzk7dp4");
	ck_assert_str_eq(p->lang, "en");
	ck_assert_str_eq(p->title, "");
	ck_assert_str_eq(p->text, "www.youtube.com/watch?v=V5lD...");
	ck_assert_int_eq(p->created_at_ms, 1783175886240);   /* 2026-07-04T14:38:06.240Z */
	ck_assert_int_eq(p->source_id, 42);

	/* Text as written: hashtags, blank lines, emoji. */
	ck_assert_str_eq(doc.posts[4]->text,
			 "#HowToTellAiToShutUp!  \n\nThese days I was googling something about a "
			 "band and weirdly ended up to read Radio TFSC started an #IndieRebellion "
			 "\xF0\x9F\x98\x82 As if I would have that power... But hey so lets keep going "
			 "with the rebellion! \n\xF0\x9F\x91\x87");
	ck_assert_str_eq(doc.posts[4]->lang, "de");
	/* createdAt with a numeric offset; a region subtag in langs. */
	ck_assert_int_eq(doc.posts[9]->created_at_ms, 1783175882000);
	ck_assert_str_eq(doc.posts[9]->lang, "en-US");
	/* An image-only post has empty text and is still a post. */
	ck_assert_str_eq(doc.posts[12]->text, "");
	ck_assert_str_eq(doc.posts[12]->author, "did:plc:ajg5c7huhiibhwandhdscpdq");
	/* No langs: no language. */
	ck_assert_str_eq(doc.posts[13]->lang, "");
	ck_assert_str_eq(doc.posts[15]->lang, "ru");
	ck_assert_int_eq(doc.posts[15]->created_at_ms, 1783175856557);
	ck_assert_ptr_nonnull(strstr(doc.posts[15]->text, "\xD0\x92\xD0\xB5\xD1\x87\xD0\xB5\xD1\x80"));
	/* Three posts of one author keep their own ids. */
	ck_assert_str_eq(doc.posts[5]->author, doc.posts[7]->author);
	ck_assert_str_ne(doc.posts[5]->id, doc.posts[6]->id);
	ck_assert_str_ne(doc.posts[6]->id, doc.posts[7]->id);

	/* The cursor is the greatest time_us, not the last one (time_us steps back). */
	ck_assert_str_eq(doc.cursor, "1783175888403568");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jetstream_golden_events_are_sorted_into_posts_and_others)
{
	char *body;
	size_t len, n = 0, posts = 0, others = 0;

	body = tu_read_fixture("jetstream/subscribe_golden_v1.jsonl", &len);
	for (char *line = body, *nl; line < body + len; line = nl + 1) {
		struct jetstream_event ev;
		nl = memchr(line, '\n', (size_t)(body + len - line));
		if (!nl)
			nl = body + len;
		ck_assert_int_eq(jetstream_event_parse(line, (size_t)(nl - line), 1, &ev), 0);
		ck_assert_int_gt(ev.time_us, 1779719000000000);
		n++;
		if (ev.kind == JETSTREAM_POST) {
			posts++;
			/* The post with reply refs: the reply does not change what it says. */
			ck_assert_str_eq(ev.post->id, "at://did:plc:q235v55g5unth4zjjdpacfdr/"
						      "app.bsky.feed.post/3mmoojp4cd223");
			ck_assert_str_eq(ev.post->text, "Try RSV for a good time !!");
			ck_assert_int_eq(ev.time_us, 1779719009157119);
			post_free(ev.post);
		} else {
			/* Likes, reposts, follows, a profile update, a delete without record,
			 * other collections, identity and account: not posts, not errors. */
			ck_assert_int_eq(ev.kind, JETSTREAM_OTHER);
			ck_assert_ptr_null(ev.post);
			others++;
		}
	}
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(posts, 1);
	ck_assert_uint_eq(others, 9);
	free(body);
}
END_TEST

#define POST_EVENT(did, time, rkey, record)                                                   \
	"{\"did\":\"" did "\",\"time_us\":" time ",\"kind\":\"commit\",\"commit\":{\"rev\":\"x\"," \
	"\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"" rkey "\","   \
	"\"record\":" record "}}"

static int kind_of(const char *json, struct jetstream_event *ev)
{
	ck_assert_int_eq(jetstream_event_parse(json, strlen(json), 1, ev), 0);
	return ev->kind;
}

START_TEST(test_jetstream_skips_malformed_events_with_a_reason)
{
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"time_us\":1,\"kind\":\"commit\"}",                            /* no did */
		"{\"did\":\"did:plc:a\",\"kind\":\"commit\"}",                    /* no time_us */
		"{\"did\":\"did:plc:a\",\"time_us\":-5,\"kind\":\"commit\"}",
		"{\"did\":\"did:plc:a\",\"time_us\":1783175888085434}",          /* no kind */
		"{\"did\":\"plc:a\",\"time_us\":1,\"kind\":\"identity\"}",       /* not a DID */
		"{\"did\":\"did:plc:a/../b\",\"time_us\":1,\"kind\":\"identity\"}",
		"{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\"}",     /* no commit */
		"{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{}}",
		POST_EVENT("did:plc:a", "1", "../etc", "{\"text\":\"x\"}"),
		POST_EVENT("did:plc:a", "1", "", "{\"text\":\"x\"}"),
		POST_EVENT("did:plc:a", "1", "3k", "{\"langs\":[\"en\"]}"),       /* no text */
		POST_EVENT("did:plc:a", "1", "3k", "{\"text\":7}"),
		POST_EVENT("did:plc:a", "1", "3k", "\"a string\""),
	};
	struct jetstream_event ev;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(kind_of(bad[i], &ev) == JETSTREAM_MALFORMED, "case %zu", i);
		ck_assert_ptr_null(ev.post);
		ck_assert_msg(strlen(ev.error) > 5, "case %zu has no reason", i);
	}

	/* A record without a usable createdAt takes the time Jetstream saw it. */
	ck_assert_int_eq(kind_of(POST_EVENT("did:plc:a", "1783175888085434", "3k",
					    "{\"text\":\"hi\",\"createdAt\":\"yesterday\","
					    "\"langs\":\"en\"}"), &ev), JETSTREAM_POST);
	ck_assert_int_eq(ev.post->created_at_ms, 1783175888085);
	ck_assert_str_eq(ev.post->lang, "");   /* langs not an array */
	post_free(ev.post);
	/* A language tag longer than any real one is left out, the post kept. */
	ck_assert_int_eq(kind_of(POST_EVENT("did:web:example.com", "5", "self.x~y",
					    "{\"text\":\"a\\u0000b\",\"langs\":[\"abcdefghijklmnopq\"]}"),
			 &ev), JETSTREAM_POST);
	ck_assert_str_eq(ev.post->lang, "");
	ck_assert_str_eq(ev.post->text, "a\xEF\xBF\xBD" "b");   /* NUL replaced, text kept */
	ck_assert_str_eq(ev.post->id, "at://did:web:example.com/app.bsky.feed.post/self.x~y");
	post_free(ev.post);
	/* An edit or a delete of a post, and kinds not known yet, are not posts and not errors. */
	ck_assert_int_eq(kind_of("{\"did\":\"did:plc:a\",\"time_us\":9,\"kind\":\"commit\","
				 "\"commit\":{\"operation\":\"update\",\"collection\":"
				 "\"app.bsky.feed.post\",\"rkey\":\"3k\",\"record\":{\"text\":\"x\"}}}",
				 &ev), JETSTREAM_OTHER);
	ck_assert_int_eq(ev.time_us, 9);
	ck_assert_int_eq(kind_of("{\"did\":\"did:plc:a\",\"time_us\":9,\"kind\":\"labels\"}", &ev),
			 JETSTREAM_OTHER);

	/* An event over the cap is not parsed at all. */
	size_t big = JETSTREAM_EVENT_MAX + 10;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	ck_assert_int_eq(jetstream_event_parse(huge, big, 1, &ev), 0);
	ck_assert_int_eq(ev.kind, JETSTREAM_MALFORMED);
	free(huge);
}
END_TEST

START_TEST(test_jetstream_document_counts_bad_lines_and_fails_without_events)
{
	struct feed_doc doc;
	const char *mixed = "\n" POST_EVENT("did:plc:a", "20", "3a", "{\"text\":\"one\"}") "\r\n"
			    "{broken\n"
			    "   \n"
			    POST_EVENT("did:plc:b", "10", "3b", "{\"text\":\"two\"}") "\n"
			    "{\"did\":\"did:plc:c\",\"time_us\":30,\"kind\":\"account\"}";

	parse_text(mixed, strlen(mixed), &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.items, 4);
	ck_assert_uint_eq(doc.skipped, 1);
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert_str_eq(doc.posts[0]->text, "one");
	ck_assert_str_eq(doc.posts[1]->text, "two");
	ck_assert_str_eq(doc.cursor, "30");
	feed_doc_clear(&doc);

	parse_text("", 0, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_ptr_nonnull(strstr(doc.error, "no events"));
	feed_doc_clear(&doc);

	const char *junk = "\nhello\nworld\n";
	parse_text(junk, strlen(junk), &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not a Jetstream event stream: line 2: invalid JSON");
	ck_assert_uint_eq(doc.nposts, 0);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_jetstream_detects_event_lines_only)
{
	char *body;
	size_t len;

	body = tu_read_fixture("jetstream/corpus_expected_v1.jsonl", &len);
	ck_assert_int_eq(feed_jetstream_detect(body, len, NULL), 95);
	free(body);
	const char *others[] = {
		"[{\"id\":\"1\",\"created_at\":\"x\",\"content\":\"\"}]",
		"{\"version\":\"https://jsonfeed.org/version/1\",\"items\":[]}",
		"{\"kind\":\"Listing\",\"data\":{\"children\":[]}}",
		"<rss/>",
		"",
	};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		ck_assert_int_eq(feed_jetstream_detect(others[i], strlen(others[i]), NULL), 0);
}
END_TEST

static Suite *jetstream_suite(void)
{
	Suite *s = suite_create("feed_jetstream");
	TCase *tc = tcase_create("parse");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_jetstream_corpus_gives_every_post_create_and_nothing_else);
	tcase_add_test(tc, test_jetstream_golden_events_are_sorted_into_posts_and_others);
	tcase_add_test(tc, test_jetstream_skips_malformed_events_with_a_reason);
	tcase_add_test(tc, test_jetstream_document_counts_bad_lines_and_fails_without_events);
	tcase_add_test(tc, test_jetstream_detects_event_lines_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(jetstream_suite());
}
