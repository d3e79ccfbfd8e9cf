/*
 * Unit tests for ingest/sse.c: the captured Mastodon streams
 * (tests/fixtures/mastodon/stream_*.http) parsed whole and cut at every
 * possible place, line endings of every kind, multi-line data, comments,
 * fields, the byte order mark, and the caps on lines and events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "ingest/sse.h"
#include "tests/unit/testutil.h"

/* Records every event as "type|id|data" followed by "\n--\n". */
struct rec {
	struct strbuf out;
	int n;
	int stop_after;   /* 0: never stop */
};

static int on_event(void *user, const struct sse_event *ev)
{
	struct rec *r = user;
	ck_assert_uint_eq(strlen(ev->data) <= ev->len, 1);
	ck_assert_int_eq(ev->data[ev->len], 0);
	sb_printf(&r->out, "%s|%s|", ev->type, ev->id);
	sb_append(&r->out, ev->data, ev->len);
	sb_puts(&r->out, "\n--\n");
	r->n++;
	return r->stop_after && r->n >= r->stop_after ? 7 : 0;
}

/* Feeds buf in pieces of the sizes given (cycled), returning what was recorded. */
static char *parse_pieces(const char *buf, size_t len, const size_t *sizes, size_t nsizes,
			  size_t line_max, size_t event_max, struct sse_parser *out_state)
{
	struct sse_parser p;
	struct rec r = { .out = STRBUF_INIT };
	size_t off = 0, k = 0;

	sse_parser_init(&p, line_max, event_max);
	while (off < len) {
		size_t n = nsizes ? sizes[k++ % nsizes] : len;
		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(sse_parser_feed(&p, buf + off, n, on_event, &r), 0);
		off += n;
	}
	if (out_state) {
		*out_state = p;
		sb_init(&out_state->line);
		sb_init(&out_state->data);
	}
	sse_parser_free(&p);
	sb_putc(&r.out, 0);
	return sb_detach(&r.out, NULL);
}

static char *parse_whole(const char *buf, size_t len)
{
	return parse_pieces(buf, len, NULL, 0, 0, 0, NULL);
}

static char *load_stream(const char *name, size_t *len)
{
	char rel[128], *raw;
	size_t n, blen;
	snprintf(rel, sizeof rel, "mastodon/%s", name);
	raw = tu_read_fixture(rel, &n);
	const char *body = tu_http_body(raw, n, &blen);
	char *copy = malloc(blen + 1);
	memcpy(copy, body, blen);
	copy[blen] = 0;
	free(raw);
	*len = blen;
	return copy;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_sse_reads_captured_mastodon_user_stream)
{
	size_t len;
	char *body = load_stream("stream_user.http", &len);
	struct sse_parser st;
	char *got = parse_pieces(body, len, NULL, 0, 0, 0, &st);

	/* update, notification, update, notification, status.update, delete */
	ck_assert_int_eq(count(got, "\n--\n"), 6);
	ck_assert_int_eq(count(got, "\n--\nupdate||{\"id\":\"1170242"), 1);
	ck_assert_int_eq(count(got, "notification||{\"id\":\""), 2);
	ck_assert_int_eq(count(got, "status.update||{\"id\":\"117024236332527350\""), 1);
	ck_assert_ptr_nonnull(strstr(got, "delete||117024236332527350\n--\n"));
	ck_assert_ptr_eq(strstr(got, "update||{\"id\":\"117024236332527350\""), got);
	/* ":)" opens the stream; the final ":" has no line end yet. */
	ck_assert_uint_eq(st.comments, 1);
	ck_assert_uint_eq(st.events, 6);
	ck_assert_uint_eq(st.dropped, 0);
	free(got);
	free(body);
}
END_TEST

START_TEST(test_sse_same_events_wherever_the_stream_is_cut)
{
	static const char *const files[] = { "stream_user.http", "stream_direct_2.http" };

	for (size_t f = 0; f < 2; f++) {
		size_t len;
		char *body = load_stream(files[f], &len);
		char *want = parse_whole(body, len);
		ck_assert_int_ge(count(want, "\n--\n"), 2);

		/* Two pieces, cut at every byte. */
		for (size_t cut = 0; cut <= len; cut++) {
			size_t sizes[2] = { cut ? cut : len, len };
			char *got = parse_pieces(body, len, sizes, 2, 0, 0, NULL);
			ck_assert_msg(!strcmp(got, want), "%s cut at %zu", files[f], cut);
			free(got);
		}
		/* One byte at a time, and pieces of odd sizes. */
		static const size_t one[] = { 1 }, odd[] = { 3, 7, 1, 64, 2, 511, 5 };
		char *got = parse_pieces(body, len, one, 1, 0, 0, NULL);
		ck_assert_str_eq(got, want);
		free(got);
		got = parse_pieces(body, len, odd, sizeof odd / sizeof odd[0], 0, 0, NULL);
		ck_assert_str_eq(got, want);
		free(got);
		free(want);
		free(body);
	}
}
END_TEST

/* Replaces every "\n" of s with eol. */
static char *with_eol(const char *s, const char *eol)
{
	struct strbuf sb = STRBUF_INIT;
	for (; *s; s++) {
		if (*s == '\n')
			sb_puts(&sb, eol);
		else
			sb_putc(&sb, *s);
	}
	return sb_detach(&sb, NULL);
}

START_TEST(test_sse_accepts_crlf_cr_and_lf_line_ends)
{
	const char *src = ":hi\nevent: update\ndata: {\"a\":1}\n\n"
			  "data: x\ndata: y\n\nevent: delete\ndata: 42\n\n";
	const char *want = "update||{\"a\":1}\n--\nmessage||x\ny\n--\ndelete||42\n--\n";
	static const char *const eols[] = { "\n", "\r\n", "\r" };

	for (size_t e = 0; e < 3; e++) {
		char *s = with_eol(src, eols[e]);
		size_t len = strlen(s);
		for (size_t cut = 1; cut < len; cut++) {
			size_t sizes[2] = { cut, len };
			char *got = parse_pieces(s, len, sizes, 2, 0, 0, NULL);
			ck_assert_msg(!strcmp(got, want), "eol %zu cut %zu: %s", e, cut, got);
			free(got);
		}
		free(s);
	}
	/* CR at the end of one piece and LF at the start of the next are one line end. */
	static const size_t sizes[] = { 8, 100 };
	const char *s = "data: a\r\ndata: b\r\n\r\n";
	char *got = parse_pieces(s, strlen(s), sizes, 2, 0, 0, NULL);
	ck_assert_str_eq(got, "message||a\nb\n--\n");
	free(got);
	/* Mixed line ends in one stream. */
	s = "data: a\rdata: b\ndata: c\r\n\n";
	got = parse_whole(s, strlen(s));
	ck_assert_str_eq(got, "message||a\nb\nc\n--\n");
	free(got);
}
END_TEST

START_TEST(test_sse_joins_data_lines_and_reads_fields)
{
	const char *s =
		"data: one\ndata:two\ndata\ndata:  three\n\n"  /* no space, no colon, two spaces */
		"event: update\nid: 7\nretry: 2500\nfoo: bar\ndata: {}\n\n"
		"event: nothing\n\n"                           /* no data: not dispatched */
		"data:\n\n"                                    /* empty data: dispatched as "" */
		"retry: 12x\nid: 8\ndata: z\n\n";
	struct sse_parser st;
	char *got = parse_pieces(s, strlen(s), NULL, 0, 0, 0, &st);

	ck_assert_str_eq(got, "message||one\ntwo\n\n three\n--\n"
			      "update|7|{}\n--\n"
			      "message|7|\n--\n"
			      "message|8|z\n--\n");
	ck_assert_int_eq(st.retry_ms, 2500);   /* "12x" is not a number: ignored */
	ck_assert_uint_eq(st.events, 4);
	free(got);

	/* The event name does not leak into the next event. */
	s = "event: update\ndata: 1\n\ndata: 2\n\n";
	got = parse_whole(s, strlen(s));
	ck_assert_str_eq(got, "update||1\n--\nmessage||2\n--\n");
	free(got);

	/* NUL bytes in data are kept; the length says where the data ends. */
	const char nul[] = "data: a\0b\n\n";
	got = parse_pieces(nul, sizeof nul - 1, NULL, 0, 0, 0, NULL);
	ck_assert_int_eq(memcmp(got, "message||a\0b\n--\n", 16), 0);
	free(got);
}
END_TEST

START_TEST(test_sse_drops_oversize_lines_and_events_then_carries_on)
{
	struct strbuf s = STRBUF_INIT;
	struct sse_parser st;
	char big[200];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	sb_puts(&s, "data: ok1\n\n");
	sb_printf(&s, "event: update\ndata: %s\n\n", big);          /* line over 64 */
	sb_puts(&s, "data: ok2\n\n");
	sb_printf(&s, ":%s\ndata: ok3\n\n", big);                     /* long comment: harmless */
	sb_puts(&s, "data: 0123456789012345678901234567890123456789\n"
		    "data: 0123456789012345678901234567890123456789\n\n"); /* event over 64 */
	sb_puts(&s, "data: ok4\n\n");
	sb_printf(&s, "event: %.*s\ndata: 1\n\n", SSE_TYPE_MAX + 1, big); /* name too long */
	sb_puts(&s, "data: ok5\n\n");

	static const size_t pieces[][3] = { { 0 }, { 1 }, { 13, 2, 50 } };
	for (size_t k = 0; k < 3; k++) {
		char *got = parse_pieces(s.buf, s.len, pieces[k][0] ? pieces[k] : NULL,
					 pieces[k][0] ? (pieces[k][1] ? 3 : 1) : 0, 64, 64, &st);
		ck_assert_msg(!strcmp(got, "message||ok1\n--\nmessage||ok2\n--\nmessage||ok3\n--\n"
					   "message||ok4\n--\nmessage||ok5\n--\n"),
			      "pieces %zu: %s", k, got);
		ck_assert_uint_eq(st.dropped, 3);
		ck_assert_uint_eq(st.events, 5);
		ck_assert_uint_eq(st.comments, 1);
		free(got);
	}
	sb_free(&s);
}
END_TEST

START_TEST(test_sse_memory_stays_within_the_caps)
{
	struct sse_parser p;
	struct rec r = { .out = STRBUF_INIT };
	char chunk[4096];

	/* 16 MiB of one endless line never grows the parser past its cap. */
	memset(chunk, 'd', sizeof chunk);
	sse_parser_init(&p, 8192, 8192);
	ck_assert_int_eq(sse_parser_feed(&p, "data: ", 6, on_event, &r), 0);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(sse_parser_feed(&p, chunk, sizeof chunk, on_event, &r), 0);
	ck_assert_uint_le(p.line.cap, 16384);
	ck_assert_int_eq(sse_parser_feed(&p, "\n\ndata: after\n\n", 15, on_event, &r), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_uint_eq(p.dropped, 1);
	sb_putc(&r.out, 0);
	ck_assert_str_eq(r.out.buf, "message||after\n--\n");
	sse_parser_free(&p);
	sb_free(&r.out);
}
END_TEST

START_TEST(test_sse_skips_a_byte_order_mark_and_resets_between_connections)
{
	const char *s = "\xEF\xBB\xBF" "data: a\n\n";
	for (size_t cut = 1; cut < strlen(s); cut++) {
		size_t sizes[2] = { cut, 100 };
		char *got = parse_pieces(s, strlen(s), sizes, 2, 0, 0, NULL);
		ck_assert_msg(!strcmp(got, "message||a\n--\n"), "cut %zu: %s", cut, got);
		free(got);
	}
	/* Bytes that only start like a BOM are text. */
	s = "\xEF" "data: a\n\ndata: b\n\n";
	char *got = parse_whole(s, strlen(s));
	ck_assert_str_eq(got, "message||b\n--\n");   /* "\xEFdata" is an unknown field */
	free(got);

	/* A connection that drops mid-event loses that event, not the next one's start. */
	struct sse_parser p;
	struct rec r = { .out = STRBUF_INIT };
	sse_parser_init(&p, 0, 0);
	ck_assert_int_eq(sse_parser_feed(&p, "event: update\ndata: {\"id\":", 26, on_event, &r), 0);
	sse_parser_reset(&p);
	ck_assert_int_eq(sse_parser_feed(&p, ":)\ndata: fresh\n\n", 17, on_event, &r), 0);
	sb_putc(&r.out, 0);
	ck_assert_str_eq(r.out.buf, "message||fresh\n--\n");
	sse_parser_free(&p);
	sb_free(&r.out);
}
END_TEST

START_TEST(test_sse_callback_can_stop_the_feed)
{
	struct sse_parser p;
	struct rec r = { .out = STRBUF_INIT, .stop_after = 2 };
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

	sse_parser_init(&p, 0, 0);
	ck_assert_int_eq(sse_parser_feed(&p, s, strlen(s), on_event, &r), 7);
	ck_assert_int_eq(r.n, 2);
	sse_parser_free(&p);
	sb_free(&r.out);
}
END_TEST

static Suite *sse_suite(void)
{
	Suite *s = suite_create("sse");
	TCase *tc = tcase_create("parser");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sse_reads_captured_mastodon_user_stream);
	tcase_add_test(tc, test_sse_same_events_wherever_the_stream_is_cut);
	tcase_add_test(tc, test_sse_accepts_crlf_cr_and_lf_line_ends);
	tcase_add_test(tc, test_sse_joins_data_lines_and_reads_fields);
	tcase_add_test(tc, test_sse_drops_oversize_lines_and_events_then_carries_on);
	tcase_add_test(tc, test_sse_memory_stays_within_the_caps);
	tcase_add_test(tc, test_sse_skips_a_byte_order_mark_and_resets_between_connections);
	tcase_add_test(tc, test_sse_callback_can_stop_the_feed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(sse_suite());
}
