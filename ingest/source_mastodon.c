#include "ingest/source_mastodon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/feed_mastodon.h"

#define MASTODON_TAG_MAX 100   /* bytes; Mastodon's own limit on tag names is lower */

enum timeline { TL_PUBLIC, TL_TAG };

struct mastodon_state {
	enum timeline timeline;
	bool local;
	int limit;
	char tag[MASTODON_TAG_MAX + 1];
};

static bool is_http_url(const char *s)
{
	return s && ((!strncmp(s, "https://", 8) && s[8]) || (!strncmp(s, "http://", 7) && s[7]));
}

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	struct mastodon_state *st;
	json_t *root = NULL, *v;
	json_error_t jerr;
	const char *params = cfg->params_json;

	*out = NULL;
	if (!is_http_url(cfg->url)) {
		snprintf(err, cap, "url must be the instance's http:// or https:// address");
		return -EINVAL;
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->timeline = TL_PUBLIC;
	st->limit = MASTODON_PAGE_MAX;
	if (!params || !params[0])
		goto done;
	root = json_loads(params, 0, &jerr);
	if (!json_is_object(root)) {
		snprintf(err, cap, "params must be a JSON object");
		goto fail;
	}
	if ((v = json_object_get(root, "timeline"))) {
		const char *t = json_string_value(v);
		if (t && !strcmp(t, "public")) {
			st->timeline = TL_PUBLIC;
		} else if (t && !strcmp(t, "local")) {
			st->timeline = TL_PUBLIC;
			st->local = true;
		} else if (t && !strcmp(t, "tag")) {
			st->timeline = TL_TAG;
		} else {
			snprintf(err, cap, "params.timeline must be \"public\", \"local\" or \"tag\"");
			goto fail;
		}
	}
	if ((v = json_object_get(root, "local"))) {
		if (!json_is_boolean(v)) {
			snprintf(err, cap, "params.local must be true or false");
			goto fail;
		}
		st->local = st->local || json_is_true(v);
	}
	if ((v = json_object_get(root, "limit"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			snprintf(err, cap, "params.limit must be a number from 1 to %d",
				 MASTODON_PAGE_MAX);
			goto fail;
		}
		json_int_t l = json_integer_value(v);
		st->limit = l > MASTODON_PAGE_MAX ? MASTODON_PAGE_MAX : (int)l;
	}
	if (st->timeline == TL_TAG) {
		const char *t = json_string_value(json_object_get(root, "tag"));
		if (t && t[0] == '#')
			t++;
		if (!t || !t[0] || strlen(t) > MASTODON_TAG_MAX) {
			snprintf(err, cap, "params.tag must name the hashtag (1 to %d bytes)",
				 MASTODON_TAG_MAX);
			goto fail;
		}
		memcpy(st->tag, t, strlen(t) + 1);
	}
done:
	json_decref(root);
	*out = st;
	return 0;
fail:
	json_decref(root);
	free(st);
	return -EINVAL;
}

static void release(void *state) { free(state); }

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void put_escaped(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			sb_putc(sb, (char)*p);
		} else {
			sb_putc(sb, '%');
			sb_putc(sb, hex[*p >> 4]);
			sb_putc(sb, hex[*p & 15]);
		}
	}
}

static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	const struct mastodon_state *st = state;
	size_t n = strlen(base_url);

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	sb_append(url, base_url, n);
	if (st->timeline == TL_TAG) {
		sb_puts(url, "/api/v1/timelines/tag/");
		put_escaped(url, st->tag);
	} else {
		sb_puts(url, "/api/v1/timelines/public");
	}
	sb_printf(url, "?limit=%d", st->limit);
	if (st->local)
		sb_puts(url, "&local=true");
	if (cursor && cursor[0]) {
		sb_puts(url, "&min_id=");
		put_escaped(url, cursor);
	}
	return url->failed ? -ENOMEM : 0;
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	const struct mastodon_state *st = state;
	int rc = feed_mastodon_parse(in, doc);

	/*
	 * Behind only when paging after a cursor and the page came back full
	 * and moved the cursor on; the first, cursor-less poll takes the newest
	 * page and starts from there.
	 */
	*more = rc == 0 && doc->wellformed && in->cursor && in->cursor[0] && doc->cursor &&
		doc->items >= (size_t)st->limit;
	return rc;
}

static void error_detail(const char *body, size_t len, char *buf, size_t cap)
{
	json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(root, "error"));

	buf[0] = 0;
	if (msg)
		snprintf(buf, cap, "%s", msg);
	json_decref(root);
}

const struct source_kind source_kind_mastodon = {
	.name = "mastodon",
	.accept = "application/json",
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
	.error_detail = error_detail,
};
