/*
 * test_push.c - the NDJSON body of POST /api/ingest: posts from good lines,
 * a numbered error for each bad line, repeats within a batch as duplicates.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/push.h"
#include "testutil.h"

static struct push_batch parse(const char *body)
{
	struct push_batch b;
	ck_assert_int_eq(push_parse(body, strlen(body), 7, &b), 0);
	return b;
}

static const char *reply(const struct push_batch *b, size_t accepted, size_t dups)
{
	static char out[8192];
	struct strbuf sb = STRBUF_INIT;
	push_reply_json(&sb, accepted, dups, b);
	ck_assert(!sb.failed);
	snprintf(out, sizeof out, "%s", sb.buf);
	sb_free(&sb);
	return out;
}

START_TEST(test_push_reads_every_field_of_a_post)
{
	struct push_batch b = parse(
		"{\"id\":\"a1\",\"author\":\"alice\",\"text\":\"Hello #world\","
		"\"created_at\":\"2026-11-25T12:00:00Z\",\"lang\":\"en\","
		"\"url\":\"https://example.com/a1\",\"title\":\"Greeting\"}\n");
	ck_assert_uint_eq(b.lines, 1);
	ck_assert_uint_eq(b.nposts, 1);
	ck_assert_uint_eq(b.nerrors, 0);
	const struct post *p = b.posts[0];
	ck_assert_int_eq(p->source_id, 7);
	ck_assert_str_eq(p->id, "a1");
	ck_assert_str_eq(p->author, "alice");
	ck_assert_str_eq(p->text, "Hello #world");
	ck_assert_uint_eq(p->text_len, 12);
	ck_assert_int_eq(p->created_at_ms, 1795608000000LL);
	ck_assert_str_eq(p->lang, "en");
	ck_assert_str_eq(p->url, "https://example.com/a1");
	ck_assert_str_eq(p->title, "Greeting");
	push_batch_clear(&b);
}
END_TEST

START_TEST(test_push_takes_unix_seconds_and_offsets_and_defaults_the_author)
{
	struct push_batch b = parse(
		"{\"id\":\"n\",\"text\":\"x\",\"created_at\":1795608000.25}\n"
		"{\"id\":\"o\",\"text\":\"\",\"created_at\":\"2026-11-25T13:00:00+01:00\",\"extra\":[1]}");
	ck_assert_uint_eq(b.nposts, 2);
	ck_assert_uint_eq(b.nerrors, 0);
	ck_assert_int_eq(b.posts[0]->created_at_ms, 1795608000250LL);
	ck_assert_int_eq(b.posts[1]->created_at_ms, 1795608000000LL);
	/* no author: each post is its own author, so one sender cannot look like many or one */
	ck_assert_str_eq(b.posts[0]->author, "n");
	ck_assert_str_eq(b.posts[1]->author, "o");
	ck_assert_str_eq(b.posts[1]->text, "");
	ck_assert_str_eq(b.posts[1]->lang, "");
	push_batch_clear(&b);
}
END_TEST

START_TEST(test_push_reports_each_bad_line_by_number_and_keeps_the_rest)
{
	struct push_batch b = parse(
		"{\"id\":\"1\",\"text\":\"ok\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		"{\"id\":\"2\",\"text\":\"no time\"}\n"
		"\n"
		"not json at all\n"
		"[1,2,3]\n"
		"{\"text\":\"no id\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		"{\"id\":5,\"text\":\"numeric id\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		"{\"id\":\"6\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		"{\"id\":\"7\",\"text\":\"t\",\"created_at\":\"yesterday-ish\"}\n"
		"{\"id\":\"8\",\"text\":\"t\",\"created_at\":\"2026-11-25T12:00:00Z\",\"lang\":42}\n"
		"{\"id\":\"9\",\"text\":\"t\",\"created_at\":-5}\n"
		"{\"id\":\"10\",\"text\":\"also ok\",\"created_at\":\"2026-11-25T12:00:01Z\"}\r\n");
	ck_assert_uint_eq(b.lines, 11);   /* the blank line 3 is not one */
	ck_assert_uint_eq(b.nposts, 2);
	ck_assert_str_eq(b.posts[0]->id, "1");
	ck_assert_str_eq(b.posts[1]->id, "10");
	ck_assert_uint_eq(b.nerrors, 9);
	static const struct {
		size_t line;
		const char *needle;
	} want[] = {
		{ 2, "\"created_at\" is required" }, { 4, "not JSON" },
		{ 5, "not a JSON object" },          { 6, "\"id\" is required" },
		{ 7, "\"id\" must be a string" },    { 8, "\"text\" is required" },
		{ 9, "not a time" },                 { 10, "\"lang\" must be a string" },
		{ 11, "out of range" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_uint_eq(b.errors[i].line, want[i].line);
		ck_assert_msg(strstr(b.errors[i].error, want[i].needle), "line %zu: %s",
			      want[i].line, b.errors[i].error);
	}
	push_batch_clear(&b);
}
END_TEST

START_TEST(test_push_counts_repeats_within_a_batch_as_duplicates)
{
	struct push_batch b = parse(
		"{\"id\":\"x\",\"text\":\"first\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		"{\"id\":\"y\",\"text\":\"other\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		"{\"id\":\"x\",\"text\":\"again\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n");
	ck_assert_uint_eq(b.nposts, 2);
	ck_assert_uint_eq(b.duplicates, 1);
	ck_assert_str_eq(b.posts[0]->text, "first");
	ck_assert_str_eq(reply(&b, 2, 1), "{\"accepted\":2,\"duplicates\":1,\"errors\":[]}");
	push_batch_clear(&b);
}
END_TEST

START_TEST(test_push_refuses_oversized_fields_and_hostile_strings_round_trip)
{
	char *big = malloc(700);
	memset(big, 'i', 600);
	big[600] = 0;
	char line[1024];
	snprintf(line, sizeof line,
		 "{\"id\":\"%s\",\"text\":\"t\",\"created_at\":\"2026-11-25T12:00:00Z\"}\n"
		 "{\"id\":\"q'\\\"; DROP TABLE x;--\",\"text\":\"a\\u0000b <img src=x onerror=1>\","
		 "\"created_at\":\"2026-11-25T12:00:00Z\"}\n", big);
	struct push_batch b = parse(line);
	ck_assert_uint_eq(b.nerrors, 1);
	ck_assert_uint_eq(b.errors[0].line, 1);
	ck_assert_ptr_nonnull(strstr(b.errors[0].error, "\"id\" is too long"));
	ck_assert_uint_eq(b.nposts, 1);
	ck_assert_str_eq(b.posts[0]->id, "q'\"; DROP TABLE x;--");
	/* the NUL is replaced (posts are NUL-terminated text), the rest kept as text */
	ck_assert_str_eq(b.posts[0]->text, "a\xEF\xBF\xBD" "b <img src=x onerror=1>");
	free(big);
	push_batch_clear(&b);
}
END_TEST

START_TEST(test_push_caps_lines_and_reported_errors)
{
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < PUSH_MAX_LINES + 5; i++)
		sb_printf(&sb, "{\"id\":\"%d\",\"text\":\"t\",\"created_at\":%d}\n", i,
			  1795608000 + i);
	for (int i = 0; i < 3; i++)
		sb_puts(&sb, "oops\n");
	struct push_batch b;
	ck_assert_int_eq(push_parse(sb.buf, sb.len, 1, &b), 0);
	ck_assert_uint_eq(b.nposts, PUSH_MAX_LINES);
	ck_assert_uint_eq(b.nerrors, 8);
	ck_assert_uint_eq(b.errors[0].line, PUSH_MAX_LINES + 1);
	ck_assert_ptr_nonnull(strstr(b.errors[0].error, "more than"));
	push_batch_clear(&b);

	sb_reset(&sb);
	for (int i = 0; i < PUSH_MAX_ERRORS + 20; i++)
		sb_puts(&sb, "{}\n");
	ck_assert_int_eq(push_parse(sb.buf, sb.len, 1, &b), 0);
	ck_assert_uint_eq(b.nerrors, PUSH_MAX_ERRORS + 20);
	const char *r = reply(&b, 0, 0);
	ck_assert_ptr_nonnull(strstr(r, ",\"errors_not_shown\":20}"));
	ck_assert_ptr_nonnull(strstr(r, "{\"line\":100,\"error\":\"\\\"id\\\" is required\"}]"));
	push_batch_clear(&b);
	sb_free(&sb);
}
END_TEST

START_TEST(test_push_handles_empty_and_unterminated_bodies)
{
	struct push_batch b = parse("");
	ck_assert_uint_eq(b.lines, 0);
	ck_assert_uint_eq(b.nposts, 0);
	ck_assert_str_eq(reply(&b, 0, 0), "{\"accepted\":0,\"duplicates\":0,\"errors\":[]}");
	push_batch_clear(&b);
	/* invalid UTF-8 is not JSON; a truncated last line is an error, not a crash */
	b = parse("{\"id\":\"u\",\"text\":\"\xff\xfe\",\"created_at\":1}\n{\"id\":\"v\",\"te");
	ck_assert_uint_eq(b.nposts, 0);
	ck_assert_uint_eq(b.nerrors, 2);
	ck_assert_uint_eq(b.errors[1].line, 2);
	push_batch_clear(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("push");
	TCase *tc = tcase_create("ndjson");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_push_reads_every_field_of_a_post);
	tcase_add_test(tc, test_push_takes_unix_seconds_and_offsets_and_defaults_the_author);
	tcase_add_test(tc, test_push_reports_each_bad_line_by_number_and_keeps_the_rest);
	tcase_add_test(tc, test_push_counts_repeats_within_a_batch_as_duplicates);
	tcase_add_test(tc, test_push_refuses_oversized_fields_and_hostile_strings_round_trip);
	tcase_add_test(tc, test_push_caps_lines_and_reported_errors);
	tcase_add_test(tc, test_push_handles_empty_and_unterminated_bodies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
