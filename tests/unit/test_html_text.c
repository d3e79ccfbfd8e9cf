/* Unit tests for ingest/html_text.c: HTML fragments to plain text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/html_text.h"
#include "tests/unit/testutil.h"

static char g_out[1 << 17];

/* Converts html (len bytes) and returns the text in a static buffer. */
static const char *conv_n(const char *html, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(html_to_text(html, len, &sb), 0);
	ck_assert_uint_lt(sb.len, sizeof g_out);
	memcpy(g_out, sb.buf ? sb.buf : "", sb.len + 1);
	sb_free(&sb);
	return g_out;
}

static const char *conv(const char *html) { return conv_n(html, strlen(html)); }

static bool valid_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = s[i] ? utf8_seq_len((const unsigned char *)s + i, len - i) : 0;
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

START_TEST(test_html_text_decodes_entities)
{
	/* Real Mastodon content from tests/fixtures/mastodon/timeline_public.http */
	ck_assert_str_eq(conv("<p>you can&#39;t say that on television</p>"),
			 "you can't say that on television");
	ck_assert_str_eq(conv("a &amp; b &lt;c&gt; &quot;d&quot; &eacute;t&#xE9; &#8364;"),
			 "a & b <c> \"d\" \xC3\xA9t\xC3\xA9 \xE2\x82\xAC");
	/* NBSP is data, not whitespace to collapse. */
	ck_assert_str_eq(conv("x&nbsp;&nbsp;y"), "x\xC2\xA0\xC2\xA0y");
}
END_TEST

START_TEST(test_html_text_breaks_lines_and_paragraphs)
{
	ck_assert_str_eq(conv("<p>line1<br>line2</p><p>para2</p>"), "line1\nline2\n\npara2");
	ck_assert_str_eq(conv("<p>a</p>\n\n  <p>b</p>"), "a\n\nb");
	ck_assert_str_eq(conv("<ul><li>one</li><li>two</li></ul>after"), "one\ntwo\n\nafter");
	ck_assert_str_eq(conv("<div>a</div><div>b</div>"), "a\nb");
	ck_assert_str_eq(conv("<h1>Title</h1>text<br><br><br><br>more"), "Title\n\ntext\n\nmore");
	ck_assert_str_eq(conv("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"),
			 "a b\nc");
	ck_assert_str_eq(conv("<blockquote>q</blockquote>r"), "q\n\nr");
	/* Empty blocks leave no stray blank lines at either end. */
	ck_assert_str_eq(conv("<p></p><p> </p><p>x</p><p></p>"), "x");
}
END_TEST

START_TEST(test_html_text_collapses_whitespace)
{
	ck_assert_str_eq(conv("  a \t\n b  \r\n c  "), "a b c");
	ck_assert_str_eq(conv("<p>  a  <b> b </b>  c </p>"), "a b c");
	/* Inline elements join without spaces: Mastodon splits links into spans. */
	ck_assert_str_eq(conv("<a href=\"https://example.com/long\"><span class=\"invisible\">"
			      "https://</span><span class=\"ellipsis\">example.com/lo</span>"
			      "<span class=\"invisible\">ng</span></a> x"),
			 "https://example.com/long x");
	ck_assert_str_eq(conv("<p><span class=\"h-card\" translate=\"no\"><a href=\"http://"
			      "localhost:3000/@mastodonpy_test\" class=\"u-url mention\">@<span>"
			      "mastodonpy_test</span></a></span> beep beep I&#39;m a jeep</p>"),
			 "@mastodonpy_test beep beep I'm a jeep");
}
END_TEST

START_TEST(test_html_text_keeps_pre_whitespace)
{
	ck_assert_str_eq(conv("<p>a</p><pre>  code\n    indented\n\nx</pre>tail"),
			 "a\n\n  code\n    indented\n\nx\n\ntail");
	/* The text as a whole is trimmed, <pre> or not. */
	ck_assert_str_eq(conv("<pre>\n  x  \n\n</pre>"), "x");
}
END_TEST

START_TEST(test_html_text_drops_script_style_and_head)
{
	ck_assert_str_eq(conv("hello <script>alert('x')</script>world<style>p{color:red}</style>!"),
			 "hello world!");
	ck_assert_str_eq(conv("<html><head><title>T</title><style>x</style></head>"
			      "<body>b<template><p>t</p></template><noscript>n</noscript></body></html>"),
			 "b");
	/* An unclosed script swallows the rest, as in a browser; nothing of it shows. */
	ck_assert_str_eq(conv("before<script>var a = '</p>'; document.write(a)"), "before");
	ck_assert_str_eq(conv("<!-- a comment -->x<!-- another -->"), "x");
}
END_TEST

START_TEST(test_html_text_recovers_from_unclosed_tags)
{
	ck_assert_str_eq(conv("<b>unclosed <i>tags <p>para"), "unclosed tags\n\npara");
	ck_assert_str_eq(conv("<p>a</div></span></p>b"), "a\n\nb");
	ck_assert_str_eq(conv("a < b > c"), "a < b > c");
	ck_assert_str_eq(conv("&unknown; &amp"), "&unknown; &amp");
	ck_assert_str_eq(conv("<p>x<"), "x<");
}
END_TEST

START_TEST(test_html_text_survives_deep_nesting)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	for (int i = 0; i < 10000; i++)
		sb_puts(&in, "<div><b>");
	sb_puts(&in, "deep");
	ck_assert_int_eq(html_to_text(in.buf, in.len, &out), 0);
	/* libxml2 stops at its depth limit (256): bounded output, no crash, valid text. */
	ck_assert(valid_utf8(out.buf ? out.buf : "", out.len));
	sb_reset(&in);
	sb_reset(&out);
	for (int i = 0; i < 10000; i++)
		sb_puts(&in, "<span>x");
	ck_assert_int_eq(html_to_text(in.buf, in.len, &out), 0);
	ck_assert_uint_ge(out.len, 200);
	for (size_t i = 0; i < out.len; i++)
		ck_assert_int_eq(out.buf[i], 'x');
	sb_free(&in);
	sb_free(&out);
}
END_TEST

START_TEST(test_html_text_handles_huge_attributes)
{
	struct strbuf in = STRBUF_INIT;
	sb_puts(&in, "<a href=\"");
	for (int i = 0; i < 500000; i++)
		sb_putc(&in, 'x');
	sb_puts(&in, "\" title='");
	for (int i = 0; i < 100000; i++)
		sb_puts(&in, "&amp;");
	sb_puts(&in, "'>link</a> after");
	ck_assert_str_eq(conv_n(in.buf, in.len), "link after");
	sb_free(&in);
}
END_TEST

START_TEST(test_html_text_replaces_invalid_utf8_and_nul)
{
	static const char nul[] = "a\0b<p>c</p>";
	ck_assert_str_eq(conv_n(nul, sizeof nul - 1), "a\xEF\xBF\xBD" "b\n\nc");
	ck_assert_str_eq(conv("bad \xFF\xFE utf8"), "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8");
	/* A truncated sequence at the end, an overlong form, a surrogate */
	const char *t = conv("x\xC0\xAF y\xED\xA0\x80 z\xE2\x82");
	ck_assert(valid_utf8(t, strlen(t)));
	ck_assert_ptr_nonnull(strstr(t, "x\xEF\xBF\xBD"));
	/* Numeric references to NUL or surrogates never produce invalid bytes. */
	t = conv("a&#0;b&#xD800;c&#x110000;d");
	ck_assert(valid_utf8(t, strlen(t)));
	ck_assert_ptr_nonnull(strchr(t, 'a'));
	ck_assert_ptr_nonnull(strchr(t, 'd'));
	/* A meta charset cannot switch the input away from UTF-8. */
	ck_assert_str_eq(conv("<meta charset=\"iso-8859-1\">\xC3\xA9t\xC3\xA9"),
			 "\xC3\xA9t\xC3\xA9");
}
END_TEST

START_TEST(test_html_text_caps_input_and_output)
{
	size_t n = LIMIT_HTML_INPUT_BYTES + 4096;
	char *big = malloc(n);
	ck_assert_ptr_nonnull(big);
	/* "word " repeated: the output is cut at the cap, on a character boundary. */
	for (size_t i = 0; i < n; i++)
		big[i] = "word "[i % 5];
	struct strbuf out = STRBUF_INIT;
	ck_assert_int_eq(html_to_text(big, n, &out), 0);
	ck_assert_uint_le(out.len, HTML_TEXT_MAX_OUTPUT);
	ck_assert_uint_gt(out.len, HTML_TEXT_MAX_OUTPUT - 16);
	ck_assert_int_ne(out.buf[out.len - 1], ' ');
	sb_free(&out);

	/* Text past LIMIT_HTML_INPUT_BYTES is not read at all. */
	memset(big, ' ', n);
	memcpy(big + LIMIT_HTML_INPUT_BYTES + 10, "hidden", 6);
	memcpy(big + 10, "seen", 4);
	sb_init(&out);
	ck_assert_int_eq(html_to_text(big, n, &out), 0);
	ck_assert_str_eq(out.buf, "seen");
	sb_free(&out);

	/* Multi-byte text is cut between characters. */
	for (size_t i = 0; i + 2 <= n; i += 2)
		memcpy(big + i, "\xC3\xA9", 2);
	sb_init(&out);
	ck_assert_int_eq(html_to_text(big, n & ~(size_t)1, &out), 0);
	ck_assert_uint_le(out.len, HTML_TEXT_MAX_OUTPUT);
	ck_assert(valid_utf8(out.buf, out.len));
	sb_free(&out);
	free(big);
}
END_TEST

START_TEST(test_html_text_appends_and_handles_empty_input)
{
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "prefix:");
	ck_assert_int_eq(html_to_text("<p> x </p>", 10, &sb), 0);
	ck_assert_str_eq(sb.buf, "prefix:x");
	ck_assert_int_eq(html_to_text("", 0, &sb), 0);
	ck_assert_int_eq(html_to_text("   <p>\n</p>", 11, &sb), 0);
	ck_assert_str_eq(sb.buf, "prefix:x");
	sb_free(&sb);
}
END_TEST

START_TEST(test_html_text_reuses_converter_across_many_inputs)
{
	struct html_text *h;
	struct strbuf sb = STRBUF_INIT;
	char html[64];

	ck_assert_int_eq(html_text_new(&h), 0);
	/* Many distinct element names: the converter renews its parser context. */
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(html, sizeof html, "<x%d a%d=1>t%d</x%d>", i, i, i, i);
		sb_reset(&sb);
		ck_assert_int_eq(html_text_convert(h, html, (size_t)n, &sb), 0);
		char want[16];
		snprintf(want, sizeof want, "t%d", i);
		ck_assert_str_eq(sb.buf, want);
	}
	sb_free(&sb);
	html_text_free(h);
}
END_TEST

START_TEST(test_html_text_writes_nothing_to_stderr)
{
	/* libxml2 reports parse errors on stderr unless told otherwise. */
	char path[] = "/tmp/trendd-html-stderr-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	int saved = dup(2);
	dup2(fd, 2);
	conv("<p>a</div></span>&#xffffffff;<!-- <x");
	conv("<b <i>>\xFF</html></html><html><body><body>&#;&#x;</q>");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t size = lseek(fd, 0, SEEK_END);
	close(fd);
	unlink(path);
	ck_assert_int_eq(size, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("html_text");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_html_text_decodes_entities);
	tcase_add_test(tc, test_html_text_breaks_lines_and_paragraphs);
	tcase_add_test(tc, test_html_text_collapses_whitespace);
	tcase_add_test(tc, test_html_text_keeps_pre_whitespace);
	tcase_add_test(tc, test_html_text_drops_script_style_and_head);
	tcase_add_test(tc, test_html_text_recovers_from_unclosed_tags);
	tcase_add_test(tc, test_html_text_survives_deep_nesting);
	tcase_add_test(tc, test_html_text_handles_huge_attributes);
	tcase_add_test(tc, test_html_text_replaces_invalid_utf8_and_nul);
	tcase_add_test(tc, test_html_text_caps_input_and_output);
	tcase_add_test(tc, test_html_text_appends_and_handles_empty_input);
	tcase_add_test(tc, test_html_text_reuses_converter_across_many_inputs);
	tcase_add_test(tc, test_html_text_writes_nothing_to_stderr);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
