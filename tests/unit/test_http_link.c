/*
 * Unit tests for ingest/http_link.c: Link headers as Mastodon sends them
 * (taken from the captures in tests/fixtures/mastodon) and as RFC 8288 allows
 * them, the same-origin test and query lookups.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/http_link.h"
#include "tests/unit/testutil.h"

/* The value of the first "link:" header line of a capture (caller frees). */
static char *capture_link(const char *name)
{
	char rel[128], *raw, *out;
	size_t n;

	snprintf(rel, sizeof rel, "mastodon/%s", name);
	raw = tu_read_fixture(rel, &n);
	const char *p = strcasestr(raw, "\r\nlink: ");
	ck_assert_ptr_nonnull(p);
	p += 8;
	const char *e = strstr(p, "\r\n");
	out = strndup(p, (size_t)(e - p));
	free(raw);
	return out;
}

START_TEST(test_link_finds_prev_and_next_in_mastodon_headers)
{
	char url[512];
	char *h = capture_link("timeline_public.http");

	ck_assert_int_eq(http_link_find(h, "prev", url, sizeof url), 0);
	ck_assert_str_eq(url, "http://localhost:3000/api/v1/timelines/public?min_id=117020593378945190");
	ck_assert_int_eq(http_link_find(h, "next", url, sizeof url), 0);
	ck_assert_str_eq(url, "http://localhost:3000/api/v1/timelines/public?max_id=117020574694606796");
	ck_assert_int_eq(http_link_find(h, "last", url, sizeof url), -ENOENT);
	free(h);

	/* Older servers page newer items with since_id; the parser still reads the link. */
	h = capture_link("account_statuses_old_since_id_prev.http");
	ck_assert_int_eq(http_link_find(h, "prev", url, sizeof url), 0);
	ck_assert_ptr_nonnull(strstr(url, "since_id=100465729784759578"));
	free(h);

	/* Three query arguments, the link target kept byte for byte. */
	h = capture_link("timeline_public_local_remote.http");
	ck_assert_int_eq(http_link_find(h, "PREV", url, sizeof url), 0);
	ck_assert_str_eq(url, "http://localhost:3000/api/v1/timelines/public?local=1&min_id="
			      "117024258897469903&remote=1");
	free(h);
}
END_TEST

START_TEST(test_link_reads_the_rfc_forms)
{
	char url[64];

	/* Several relation types, unquoted values, other parameters with separators inside. */
	ck_assert_int_eq(http_link_find("<a>; title=\"x, y; rel=prev\"; rel=next, "
					"<b> ;rel=\"previous prev\"", "prev", url, sizeof url), 0);
	ck_assert_str_eq(url, "b");
	ck_assert_int_eq(http_link_find("<a>;rel=next,<b>;rel=prev", "next", url, sizeof url), 0);
	ck_assert_str_eq(url, "a");
	/* A comma inside the target does not end the link. */
	ck_assert_int_eq(http_link_find("<https://x/?a=1,2>; rel=\"prev\"", "prev", url,
					sizeof url), 0);
	ck_assert_str_eq(url, "https://x/?a=1,2");
	/* Escapes inside a quoted value. */
	ck_assert_int_eq(http_link_find("<c>; rel=\"pr\\ev\"", "prev", url, sizeof url), 0);
	ck_assert_str_eq(url, "c");
	/* rel=prevx is not prev. */
	ck_assert_int_eq(http_link_find("<c>; rel=prevx", "prev", url, sizeof url), -ENOENT);
}
END_TEST

START_TEST(test_link_rejects_what_it_cannot_read)
{
	char url[16];
	static const char *const bad[] = {
		"", "garbage", "<unterminated; rel=prev", "a <b>; rel=prev", "<a>; rel=", ";;;",
		"<a> junk <b>; rel=prev",
	};

	ck_assert_int_eq(http_link_find(NULL, "prev", url, sizeof url), -ENOENT);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(http_link_find(bad[i], "prev", url, sizeof url) == -ENOENT, "case %zu",
			      i);
	/* A target that does not fit is an error, never a cut URL. */
	ck_assert_int_eq(http_link_find("<https://example.com/very/long>; rel=prev", "prev", url,
					sizeof url), -E2BIG);
	ck_assert_int_eq(http_link_find("<0123456789abcde>; rel=prev", "prev", url, sizeof url), 0);
}
END_TEST

START_TEST(test_url_same_origin_compares_scheme_host_and_port)
{
	ck_assert(http_url_same_origin("https://M.Example/api", "https://m.example:443/x?y"));
	ck_assert(http_url_same_origin("http://m.example", "http://m.example:80/"));
	ck_assert(http_url_same_origin("http://127.0.0.1:3000/a", "http://127.0.0.1:3000?b"));
	ck_assert(http_url_same_origin("http://[::1]:8080/a", "http://[::1]:8080/b"));
	ck_assert(http_url_same_origin("https://user:pw@m.example/", "https://m.example/"));
	ck_assert(!http_url_same_origin("https://m.example", "http://m.example"));
	ck_assert(!http_url_same_origin("http://127.0.0.1:3000", "http://localhost:3000"));
	ck_assert(!http_url_same_origin("http://m.example:3000", "http://m.example:3001"));
	ck_assert(!http_url_same_origin("http://m.example", "http://m.example.evil"));
	ck_assert(!http_url_same_origin("http://m.example", "http://evil@other.example/"));
	ck_assert(!http_url_same_origin("http://m.example", "file:///etc/passwd"));
	ck_assert(!http_url_same_origin("http://m.example:99999", "http://m.example:99999"));
	ck_assert(!http_url_same_origin(NULL, "http://m.example"));
}
END_TEST

START_TEST(test_url_query_get_finds_whole_names_only)
{
	char v[32];

	ck_assert_int_eq(http_url_query_get("http://x/p?limit=5&min_id=117&y", "min_id", v,
					    sizeof v), 0);
	ck_assert_str_eq(v, "117");
	ck_assert_int_eq(http_url_query_get("http://x/p?xmin_id=1&min_id=2", "min_id", v, sizeof v),
			 0);
	ck_assert_str_eq(v, "2");
	ck_assert_int_eq(http_url_query_get("http://x/p?a=1#min_id=3", "min_id", v, sizeof v),
			 -ENOENT);
	ck_assert_int_eq(http_url_query_get("http://x/p", "min_id", v, sizeof v), -ENOENT);
	ck_assert_int_eq(http_url_query_get("http://x/?min_id=", "min_id", v, sizeof v), 0);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(http_url_query_get("http://x/?min_id=0123456789012345678901234567890123",
					    "min_id", v, sizeof v), -E2BIG);
}
END_TEST

static Suite *link_suite(void)
{
	Suite *s = suite_create("http_link");
	TCase *tc = tcase_create("link");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_link_finds_prev_and_next_in_mastodon_headers);
	tcase_add_test(tc, test_link_reads_the_rfc_forms);
	tcase_add_test(tc, test_link_rejects_what_it_cannot_read);
	tcase_add_test(tc, test_url_same_origin_compares_scheme_host_and_port);
	tcase_add_test(tc, test_url_query_get_finds_whole_names_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(link_suite());
}
