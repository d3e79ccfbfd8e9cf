/* Unit tests for web/render.c: request parameters, WebSocket messages, documents. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/live.h"
#include "core/snapshot.h"
#include "core/strbuf.h"
#include "core/term.h"
#include "tests/unit/testutil.h"
#include "web/render.h"

static int set(struct web_view *v, const char *name, const char *val, char *err)
{
	return render_view_set(v, name, strlen(name), val, strlen(val), err, 256);
}

/* A snapshot with one 5m view of three words; the count ranking only. */
static struct snapshot *small_snapshot(int64_t generated_ms)
{
	static const char *terms[] = { "alpha", "beta", "gamma" };
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v;

	ck_assert_ptr_nonnull(s);
	s->seq = 42;
	s->generated_ms = generated_ms;
	s->watermark_ms = generated_ms - 60000;
	s->stats.posts_total = 100;
	s->stats.posts_per_s = 2.5;
	s->stats.late_posts = 4;
	s->stats.terms_tracked = 77;
	s->stats.post_queue_depth = 9;
	s->stats.checkpoint_bytes = 56100000;
	s->stats.checkpoint_segments = 6037;
	s->stats.checkpoint_build_ms = 1940;
	s->stats.checkpoint_period_ms = 38800;
	s->nviews = 1;
	v = s->views = snapshot_alloc(s, sizeof *v);
	v->window = WINDOW_5M;
	v->ntrends = 3;
	v->trends = snapshot_alloc(s, 3 * sizeof *v->trends);
	v->series_points = 4;
	for (int i = 0; i < 3; i++) {
		v->trends[i].term = terms[i];
		v->trends[i].term_len = (uint32_t)strlen(terms[i]);
		v->trends[i].kind = TERM_WORD;
		v->trends[i].count = (uint32_t)(30 - i * 10);
		v->trends[i].authors = 5;
		v->trends[i].series = snapshot_alloc(s, 4 * sizeof(uint32_t));
		v->trends[i].series[3] = 7;
	}
	for (int k = 0; k <= TERM_KIND_COUNT; k++) {
		struct trend_ranking *r = &v->rank[SORT_COUNT][k];
		if (k != TERM_WORD && k != TERM_KIND_ALL)
			continue;
		r->n = 3;
		r->idx = snapshot_alloc(s, 3 * sizeof *r->idx);
		for (uint32_t i = 0; i < 3; i++)
			r->idx[i] = i;
	}
	v->posts = 60;
	return s;
}

static json_t *parse(const struct strbuf *sb)
{
	json_error_t e;
	json_t *j = json_loadb(sb->buf, sb->len, JSON_REJECT_DUPLICATES, &e);
	ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, sb->buf);
	return j;
}

START_TEST(test_view_defaults_and_every_parameter)
{
	struct web_view v;
	char err[256];

	render_view_default(&v);
	ck_assert_int_eq(v.window, WINDOW_5M);
	ck_assert_int_eq(v.kind, TERM_KIND_ALL);
	ck_assert_int_eq(v.sort, SORT_SCORE);
	ck_assert_uint_eq(v.limit, 20);
	ck_assert_str_eq(v.lang, "");
	ck_assert_int_eq(v.source_id, 0);

	ck_assert_int_eq(set(&v, "window", "24h", err), 0);
	ck_assert_int_eq(v.window, WINDOW_24H);
	ck_assert_int_eq(set(&v, "kind", "cashtag", err), 0);
	ck_assert_int_eq(v.kind, TERM_CASHTAG);
	ck_assert_int_eq(set(&v, "sort", "count", err), 0);
	ck_assert_int_eq(v.sort, SORT_COUNT);
	ck_assert_int_eq(set(&v, "limit", "1", err), 0);
	ck_assert_uint_eq(v.limit, 1);
	ck_assert_int_eq(set(&v, "limit", "200", err), 0);
	ck_assert_uint_eq(v.limit, LIMIT_TRENDS_PER_VIEW);
	ck_assert_int_eq(set(&v, "limit", "007", err), 0);
	ck_assert_uint_eq(v.limit, 7);
	ck_assert_int_eq(set(&v, "lang", "pt-BR", err), 0);
	ck_assert_str_eq(v.lang, "pt-BR");
	ck_assert_int_eq(set(&v, "lang", "abcdefghijklmno", err), 0); /* 15 bytes fit */
	ck_assert_int_eq(set(&v, "source", "9223372036854775807", err), 0);
	ck_assert_int_eq(v.source_id, INT64_MAX);
	ck_assert_int_eq(set(&v, "lang", "", err), 0);
	ck_assert_str_eq(v.lang, "");

	/* unknown names are left to the caller, values untouched */
	struct web_view before = v;
	ck_assert_int_eq(set(&v, "_", "123", err), 1);
	ck_assert_int_eq(set(&v, "Window", "1h", err), 1);
	ck_assert(render_view_eq(&before, &v));
}
END_TEST

START_TEST(test_view_rejects_bad_values_and_keeps_the_old_ones)
{
	static const struct {
		const char *name, *val, *says;
	} bad[] = {
		{ "window", "5M", "window must be one of 5m, 1h, 24h" },
		{ "window", "", "window" },
		{ "kind", "words", "kind must be one of" },
		{ "sort", "", "sort must be score or count" },
		{ "limit", "0", "limit must be an integer from 1 to 200" },
		{ "limit", "201", "limit" },
		{ "limit", "+5", "limit" },
		{ "limit", " 5", "limit" },
		{ "limit", "5.0", "limit" },
		{ "limit", "", "limit" },
		{ "limit", "18446744073709551616", "limit" },
		{ "source", "9223372036854775808", "source" },
		{ "source", "-1", "source" },
		{ "lang", "abcdefghijklmnop", "lang" },
		{ "lang", "en_US", "lang" },
		{ "lang", "\"", "lang" },
	};
	struct web_view v, orig;
	char err[256];

	render_view_default(&v);
	orig = v;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_msg(set(&v, bad[i].name, bad[i].val, err) == -EINVAL, "%s=%s accepted",
			      bad[i].name, bad[i].val);
		ck_assert_msg(strstr(err, bad[i].says) != NULL, "%s=%s: %s", bad[i].name, bad[i].val,
			      err);
		ck_assert(render_view_eq(&v, &orig));
	}
}
END_TEST

START_TEST(test_view_equality_and_query)
{
	struct web_view a, b;
	struct trends_query q;
	char err[256];

	render_view_default(&a);
	render_view_default(&b);
	ck_assert(render_view_eq(&a, &b));
	set(&b, "lang", "de", err);
	ck_assert(!render_view_eq(&a, &b));
	set(&a, "lang", "de", err);
	ck_assert(render_view_eq(&a, &b));
	set(&a, "limit", "21", err);
	ck_assert(!render_view_eq(&a, &b));
	render_view_query(&a, &q);
	ck_assert_int_eq(q.limit, 21);
	ck_assert_ptr_eq(q.lang, a.lang);
	ck_assert_int_eq(q.kind, TERM_KIND_ALL);
}
END_TEST

START_TEST(test_ws_parse_subscribe_with_fields_and_defaults)
{
	enum ws_msg_type t;
	struct web_view v;
	char err[256];
	const char *m = "{\"type\":\"subscribe\",\"window\":\"1h\",\"kind\":\"emoji\",\"limit\":50,"
			"\"sort\":\"count\",\"lang\":\"fr\",\"source\":12,\"extra\":[1]}";

	ck_assert_int_eq(render_ws_parse(m, strlen(m), &t, &v, err, sizeof err), 0);
	ck_assert_int_eq(t, WS_MSG_SUBSCRIBE);
	ck_assert_int_eq(v.window, WINDOW_1H);
	ck_assert_int_eq(v.kind, TERM_EMOJI);
	ck_assert_uint_eq(v.limit, 50);
	ck_assert_int_eq(v.sort, SORT_COUNT);
	ck_assert_str_eq(v.lang, "fr");
	ck_assert_int_eq(v.source_id, 12);

	m = "{\"type\":\"subscribe\"}";
	ck_assert_int_eq(render_ws_parse(m, strlen(m), &t, &v, err, sizeof err), 0);
	struct web_view d;
	render_view_default(&d);
	ck_assert(render_view_eq(&v, &d));

	m = "{\"type\":\"ping\"}";
	ck_assert_int_eq(render_ws_parse(m, strlen(m), &t, &v, err, sizeof err), 0);
	ck_assert_int_eq(t, WS_MSG_PING);
	m = " {\"type\" : \"unsubscribe\"} ";
	ck_assert_int_eq(render_ws_parse(m, strlen(m), &t, &v, err, sizeof err), 0);
	ck_assert_int_eq(t, WS_MSG_UNSUBSCRIBE);
}
END_TEST

START_TEST(test_ws_parse_errors_are_readable)
{
	static const struct {
		const char *msg, *says;
	} bad[] = {
		{ "", "not valid JSON" },
		{ "{\"type\":\"ping\"", "not valid JSON" },
		{ "\"subscribe\"", "must be a JSON object" },
		{ "{}", "\"type\"" },
		{ "{\"type\":1}", "\"type\"" },
		{ "{\"type\":\"sub\\\"scribe\"}", "unknown message type \"sub\\\"scribe\"" },
		{ "{\"type\":\"subscribe\",\"limit\":\"5\"}", "limit" },
		{ "{\"type\":\"subscribe\",\"limit\":5.5}", "limit" },
		{ "{\"type\":\"subscribe\",\"limit\":1000}", "limit" },
		{ "{\"type\":\"subscribe\",\"source\":-2}", "source" },
		{ "{\"type\":\"subscribe\",\"window\":null}", "window must be a string" },
		{ "{\"type\":\"subscribe\",\"kind\":\"nouns\"}", "kind" },
		{ "{\"type\":\"subscribe\",\"type\":\"ping\"}", "not valid JSON" }, /* duplicate key */
	};
	enum ws_msg_type t;
	struct web_view v;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_msg(render_ws_parse(bad[i].msg, strlen(bad[i].msg), &t, &v, err,
					      sizeof err) == -EINVAL, "accepted %s", bad[i].msg);
		ck_assert_msg(strstr(err, bad[i].says) != NULL, "%s: %s", bad[i].msg, err);
	}
	/* a huge type name is cut short in the message */
	char big[600];
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"type\":\"", 9);
	memcpy(big + sizeof big - 2, "\"}", 2);
	ck_assert_int_eq(render_ws_parse(big, sizeof big, &t, &v, err, sizeof err), -EINVAL);
	ck_assert_uint_lt(strlen(err), 200);
}
END_TEST

START_TEST(test_trends_document_rest_and_ws_wrappers)
{
	struct snapshot *s = small_snapshot(1795608000123LL);
	struct strbuf sb = STRBUF_INIT;
	struct web_view v;
	char err[256];
	json_t *j;

	render_view_default(&v);
	set(&v, "sort", "count", err);
	set(&v, "limit", "2", err);
	ck_assert_int_eq(render_trends(&sb, s, &v, false), 0);
	ck_assert(strncmp(sb.buf, "{\"window\":\"5m\",\"kind\":\"all\",\"sort\":\"count\"", 42) == 0);
	j = parse(&sb);
	ck_assert_str_eq(json_string_value(json_object_get(j, "generated_at")),
			 "2026-11-25T12:00:00.123Z");
	ck_assert_ptr_null(json_object_get(j, "type"));
	json_t *t = json_object_get(j, "trends");
	ck_assert_int_eq(json_array_size(t), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 1), "term")), "beta");
	ck_assert_int_eq(json_array_size(json_object_get(json_array_get(t, 0), "series")), 4);
	json_decref(j);

	sb_reset(&sb);
	ck_assert_int_eq(render_trends(&sb, s, &v, true), 0);
	ck_assert(strncmp(sb.buf, "{\"type\":\"trends\",\"window\":\"5m\"", 30) == 0);
	j = parse(&sb);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 42);
	json_decref(j);

	/* the score ranking is empty in this snapshot; so is an absent view */
	sb_reset(&sb);
	render_view_default(&v);
	ck_assert_int_eq(render_trends(&sb, s, &v, false), 0);
	j = parse(&sb);
	ck_assert_int_eq(json_array_size(json_object_get(j, "trends")), 0);
	json_decref(j);
	sb_reset(&sb);
	set(&v, "window", "1h", err);
	ck_assert_int_eq(render_trends(&sb, s, &v, false), 0);
	j = parse(&sb);
	ck_assert_int_eq(json_array_size(json_object_get(j, "trends")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "window")), "1h");
	json_decref(j);
	sb_free(&sb);
	snapshot_put(s);
}
END_TEST

START_TEST(test_error_and_sources_messages_are_valid_json)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *j;

	render_error(&sb, "bad \"x\"\n\x01 \xff");
	j = parse(&sb);
	ck_assert_str_eq(json_string_value(json_object_get(j, "error")),
			 "bad \"x\"\n\x01 \xEF\xBF\xBD");
	json_decref(j);
	sb_reset(&sb);
	render_ws_error(&sb, "nope");
	ck_assert_str_eq(sb.buf, "{\"type\":\"error\",\"error\":\"nope\"}");
	sb_reset(&sb);
	render_ws_sources(&sb, NULL, 0);
	ck_assert_str_eq(sb.buf, "{\"type\":\"sources\",\"sources\":[]}");
	sb_reset(&sb);
	render_ws_sources(&sb, "[{\"id\":1}]", 10);
	ck_assert_str_eq(sb.buf, "{\"type\":\"sources\",\"sources\":[{\"id\":1}]}");
	sb_free(&sb);
}
END_TEST

START_TEST(test_db_ok_reads_the_status_blob)
{
	ck_assert_int_eq(render_db_ok("{\"ok\":true}", 11), 1);
	ck_assert_int_eq(render_db_ok("{\"ok\":false,\"error\":\"disk full\"}", 32), 0);
	ck_assert_int_eq(render_db_ok("{\"ok\":1}", 8), 0);
	ck_assert_int_eq(render_db_ok("{}", 2), 0);
	ck_assert_int_eq(render_db_ok("[true]", 6), -1);
	ck_assert_int_eq(render_db_ok("{\"ok\":tr", 8), -1);
	ck_assert_int_eq(render_db_ok("", 0), -1);
}
END_TEST

START_TEST(test_health_status_and_problems)
{
	struct web_stats st = { .uptime_ms = 65432, .ws_clients = 3 };
	struct strbuf sb = STRBUF_INIT;
	int64_t now = 1795608000000LL;
	struct snapshot *s = small_snapshot(now - 1500);
	json_t *j;

	ck_assert(!render_health(&sb, NULL, now, &st, NULL, 0, -1));
	j = parse(&sb);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "degraded");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "problems"), 0)),
			 "no snapshot yet");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "uptime_s")), 65);
	ck_assert(json_is_null(json_object_get(j, "snapshot_age_ms")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "ws_clients")), 3);
	json_decref(j);

	sb_reset(&sb);
	ck_assert(render_health(&sb, s, now, &st, "{\"ok\":true,\"rows\":5}", 20, 1));
	j = parse(&sb);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "snapshot_age_ms")), 1500);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "snapshot_seq")), 42);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "posts_total")), 100);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "db"), "rows")), 5);
	json_decref(j);

	/* stale snapshot; db error; unreadable db status (not passed through) */
	sb_reset(&sb);
	ck_assert(!render_health(&sb, s, now + RENDER_HEALTH_MAX_SNAPSHOT_AGE_MS, &st,
				 "{\"ok\":false}", 12, 0));
	j = parse(&sb);
	ck_assert_int_eq(json_array_size(json_object_get(j, "problems")), 2);
	json_decref(j);
	sb_reset(&sb);
	ck_assert(!render_health(&sb, s, now, &st, "{\"ok\":", 6, -1));
	j = parse(&sb);
	ck_assert(json_is_null(json_object_get(j, "db")));
	json_decref(j);
	sb_free(&sb);
	snapshot_put(s);
}
END_TEST

START_TEST(test_metrics_exposition_format)
{
	struct web_stats st = { .uptime_ms = 1500, .ws_clients = 2, .ws_dropped_slow = 1,
				.http_requests = 10, .http_responses_4xx = 3 };
	struct strbuf sb = STRBUF_INIT;
	int64_t now = 1795608000000LL;
	struct snapshot *s = small_snapshot(now - 250);

	render_metrics(&sb, s, now, &st, 1);
	static const char *want[] = {
		"# HELP trendd_posts_total ", "# TYPE trendd_posts_total counter\n",
		"\ntrendd_posts_total 100\n", "\ntrendd_posts_per_second 2.5\n",
		"\ntrendd_late_posts_total 4\n", "\ntrendd_post_queue_depth 9\n",
		"\ntrendd_terms_tracked 77\n", "\ntrendd_snapshot_seq 42\n",
		"\ntrendd_snapshot_age_seconds 0.25\n", "\ntrendd_ws_clients 2\n",
		"\ntrendd_ws_dropped_clients_total 1\n", "\ntrendd_uptime_seconds 1.5\n",
		"\ntrendd_http_errors_total{class=\"4xx\"} 3\n", "\ntrendd_db_ok 1\n",
		"\ntrendd_checkpoint_state_bytes 56100000\n",
		"\ntrendd_checkpoint_segments 6037\n",
		"\ntrendd_checkpoint_build_seconds 1.94\n",
		"\ntrendd_checkpoint_period_seconds 38.8\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(sb.buf, want[i]) != NULL, "missing %s", want[i]);
	ck_assert_int_eq(sb.buf[sb.len - 1], '\n');
	/* every sample is preceded by its TYPE line */
	char *save = NULL, *copy = strdup(sb.buf), last_type[128] = "";
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			snprintf(last_type, sizeof last_type, "%.*s", (int)strcspn(line + 7, " "),
				 line + 7);
			continue;
		}
		if (line[0] == '#')
			continue;
		ck_assert_msg(strncmp(line, last_type, strlen(last_type)) == 0 && last_type[0],
			      "sample without TYPE: %s", line);
	}
	free(copy);

	sb_reset(&sb);
	render_metrics(&sb, NULL, now, &st, -1);
	ck_assert_ptr_nonnull(strstr(sb.buf, "\ntrendd_posts_total 0\n"));
	ck_assert_ptr_nonnull(strstr(sb.buf, "\ntrendd_snapshot_age_seconds -1\n"));
	ck_assert_ptr_nonnull(strstr(sb.buf, "\ntrendd_db_ok -1\n"));
	sb_free(&sb);
	snapshot_put(s);
}
END_TEST

START_TEST(test_term_detail_document_escapes_text_and_names_sources)
{
	struct live_req *r = live_req_new(LIVE_TERM_DETAIL);
	const char *evil = "<img src=x onerror=alert(1)> \"q\" \\ \n\xe2\x82\xac";
	const char *sources = "[{\"id\":1,\"name\":\"demo\"},{\"id\":2,\"name\":\"<b>feed</b>\"}]";
	struct strbuf sb = STRBUF_INIT;
	json_error_t jerr;

	ck_assert_ptr_nonnull(r);
	r->kind = TERM_HASHTAG;
	strcpy(r->term, "#rust");
	r->term_len = 5;
	r->scanned = 20000;
	r->matched = 12;
	ck_assert_int_eq(live_add_row(r, &(struct live_row){ .term = "#go", .term_len = 3,
							    .kind = TERM_HASHTAG, .count = 7 }), 0);
	ck_assert_int_eq(live_add_row(r, &(struct live_row){ .term = "open source", .term_len = 11,
							    .kind = TERM_BIGRAM, .count = 2 }), 0);
	ck_assert_int_eq(live_add_post(r, &(struct live_post){
		.source_id = 2, .time_ms = 1795608000123LL, .sentiment = -0.31824,
		.id = "p1", .id_len = 2, .url = "https://example.org/p/1", .url_len = 23,
		.author = "@ann", .author_len = 4, .text = evil, .text_len = strlen(evil),
		.truncated = true }), 0);
	ck_assert_int_eq(live_add_post(r, &(struct live_post){ .source_id = 9, .time_ms = 0,
							       .id = "", .url = "", .author = "",
							       .text = "x", .text_len = 1 }), 0);
	live_answer(r);
	ck_assert_int_eq(render_term_detail(&sb, r, sources, strlen(sources)), 0);
	json_t *doc = json_loadb(sb.buf, sb.len, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(doc != NULL, "%s: %.*s", jerr.text, (int)sb.len, sb.buf);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "term")), "#rust");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "hashtag");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "scanned_posts")), 20000);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "matched_posts")), 12);
	json_t *co = json_object_get(doc, "cooccurring");
	ck_assert_int_eq(json_array_size(co), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(co, 1), "term")),
			 "open source");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(co, 1), "kind")), "bigram");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(co, 0), "count")), 7);
	json_t *ex = json_object_get(doc, "examples");
	ck_assert_int_eq(json_array_size(ex), 2);
	json_t *p = json_array_get(ex, 0);
	ck_assert_str_eq(json_string_value(json_object_get(p, "text")), evil); /* verbatim */
	ck_assert_str_eq(json_string_value(json_object_get(p, "source")), "<b>feed</b>");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "source_id")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(p, "time")), "2026-11-25T12:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(p, "url")), "https://example.org/p/1");
	ck_assert_str_eq(json_string_value(json_object_get(p, "author")), "@ann");
	ck_assert(json_is_true(json_object_get(p, "truncated")));
	ck_assert(json_real_value(json_object_get(p, "sentiment")) == -0.3182);
	/* a source the list does not name, and empty strings stay strings */
	p = json_array_get(ex, 1);
	ck_assert_str_eq(json_string_value(json_object_get(p, "source")), "");
	ck_assert_str_eq(json_string_value(json_object_get(p, "url")), "");
	ck_assert(json_is_false(json_object_get(p, "truncated")));
	/* quote, backslash and line feed escaped as JSON */
	ck_assert_ptr_nonnull(strstr(sb.buf, "\\\"q\\\" \\\\ \\n"));
	json_decref(doc);

	/* no sources blob, nothing found */
	live_req_free(r);
	r = live_req_new(LIVE_TERM_DETAIL);
	r->kind = TERM_WORD;
	strcpy(r->term, "x");
	r->term_len = 1;
	live_answer(r);
	sb_reset(&sb);
	ck_assert_int_eq(render_term_detail(&sb, r, NULL, 0), 0);
	sb_putc(&sb, 0);
	ck_assert_str_eq(sb.buf, "{\"term\":\"x\",\"kind\":\"word\",\"scanned_posts\":0,"
				 "\"matched_posts\":0,\"cooccurring\":[],\"examples\":[]}");
	sb_free(&sb);
	live_req_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("render");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_view_defaults_and_every_parameter);
	tcase_add_test(tc, test_view_rejects_bad_values_and_keeps_the_old_ones);
	tcase_add_test(tc, test_view_equality_and_query);
	tcase_add_test(tc, test_ws_parse_subscribe_with_fields_and_defaults);
	tcase_add_test(tc, test_ws_parse_errors_are_readable);
	tcase_add_test(tc, test_trends_document_rest_and_ws_wrappers);
	tcase_add_test(tc, test_error_and_sources_messages_are_valid_json);
	tcase_add_test(tc, test_db_ok_reads_the_status_blob);
	tcase_add_test(tc, test_health_status_and_problems);
	tcase_add_test(tc, test_metrics_exposition_format);
	tcase_add_test(tc, test_term_detail_document_escapes_text_and_names_sources);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
