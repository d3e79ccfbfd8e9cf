/*
 * fuzz_api.c - libFuzzer target: the parsers of what API clients send.
 *
 * Each input is read as every kind of request data the web thread parses
 * before anything else sees it: a WebSocket client message
 * (render_ws_parse), a POST/PUT /api/sources body, new and as an edit of a
 * stored source (web_source_from_json), a query string split at '&' and
 * '=' into the arguments of every history endpoint (web_history_parse,
 * with the first value also as /api/terms/{term}) and of the trends view
 * (render_view_set), an If-None-Match header and a --listen address. Any
 * answer is fine - a parsed request or a readable error - except a crash,
 * a sanitizer report, a leak or a hang. Built with -DTRENDD_FUZZ=ON (see
 * docs/ARCHITECTURE.md).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/source.h"
#include "web/history.h"
#include "web/render.h"
#include "web/web_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum history_what whats[] = { HISTORY_TERM, HISTORY_COMPARE, HISTORY_TOP,
					    HISTORY_SENTIMENT, HISTORY_SNAPSHOT };

/* Splits s[0..len) at '&' into name=value arguments (borrowed); returns how many. */
static size_t query_args(const char *s, size_t len, struct web_arg *args, size_t max)
{
	size_t n = 0;
	for (size_t at = 0; at < len && n < max;) {
		const char *amp = memchr(s + at, '&', len - at);
		size_t end = amp ? (size_t)(amp - s) : len;
		const char *eq = memchr(s + at, '=', end - at);
		struct web_arg *a = &args[n++];
		a->name = s + at;
		a->nlen = eq ? (size_t)(eq - (s + at)) : end - at;
		a->val = eq ? eq + 1 : s + end;
		a->vlen = eq ? end - (size_t)(eq + 1 - s) : 0;
		at = end + 1;
	}
	return n;
}

static void source_body(const char *s, size_t len)
{
	char err[256];
	bool changed;
	struct source_config c = { 0 };
	web_source_from_json(s, len, &c, false, &changed, err, sizeof err);
	source_config_clear(&c);
	struct source_config stored = {
		.id = 7, .kind = "rss", .enabled = true, .interval_s = 300,
		.name = strdup("news"), .url = strdup("https://example.org/feed.xml"),
		.params_json = strdup("{}"), .cursor = strdup(""),
	};
	if (stored.name && stored.url && stored.params_json && stored.cursor)
		web_source_from_json(s, len, &stored, true, &changed, err, sizeof err);
	source_config_clear(&stored);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char err[256];
	enum ws_msg_type type;
	struct web_view v;
	struct web_arg args[WEB_HISTORY_ARGS_MAX];

	render_view_default(&v);
	render_ws_parse(s, size, &type, &v, err, sizeof err);
	source_body(s, size);

	size_t nargs = query_args(s, size, args, WEB_HISTORY_ARGS_MAX);
	for (size_t i = 0; i < sizeof whats / sizeof *whats; i++)
		for (int csv = 0; csv < 2; csv++) {
			struct history_query *q = NULL;
			const char *term = nargs ? args[0].val : "";
			size_t tlen = nargs ? args[0].vlen : 0;
			if (web_history_parse(whats[i], csv, whats[i] == HISTORY_TERM ? term : NULL,
					      tlen, args, nargs, 1767225600000LL, &q, err,
					      sizeof err) == 0)
				history_query_free(q);
		}
	render_view_default(&v);
	for (size_t i = 0; i < nargs; i++)
		render_view_set(&v, args[i].name, args[i].nlen, args[i].val, args[i].vlen, err,
				sizeof err);

	/* the header and the address are C strings */
	char *z = malloc(size + 1);
	if (!z)
		return 0;
	memcpy(z, s, size);
	z[size] = 0;
	char addr[64];
	int port;
	bool ipv6;
	web_etag_match(z, "\"b0123456789abcdef-42\"");
	web_listen_parse(z, addr, sizeof addr, &port, &ipv6, err, sizeof err);
	free(z);
	return 0;
}
