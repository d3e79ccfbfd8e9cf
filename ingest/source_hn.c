#include "ingest/source_hn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/feed_hn.h"
#include "ingest/json_util.h"

#define HN_ENDPOINT "/api/v1/search_by_date"
#define HN_TAGS_DEFAULT "(story,comment)"

struct hn_state {
	int hits_per_page;
	char *endpoint;   /* owned: the search URL, no query */
	char *query;      /* owned: the URL's own query parameters, or "" */
	char *tags;       /* owned: "" when the URL's own query sets them */
	char *text;       /* owned: params.query, or "" */
};

/* Query keys trendd sets itself: a URL's own values would fight them. */
static const char *const g_own_keys[] = { "hitsPerPage", "numericFilters", "page" };

static void release(void *state)
{
	struct hn_state *st = state;

	if (!st)
		return;
	free(st->endpoint);
	free(st->query);
	free(st->tags);
	free(st->text);
	free(st);
}

/* Appends the parameters of q except those trendd sets; notes whether tags= is one. */
static void query_filter(struct strbuf *out, const char *q, size_t len, bool *has_tags)
{
	size_t i = 0;

	while (i < len) {
		size_t n = 0, key = 0;
		bool ours = false;
		while (i + n < len && q[i + n] != '&')
			n++;
		while (key < n && q[i + key] != '=')
			key++;
		for (size_t k = 0; k < sizeof g_own_keys / sizeof g_own_keys[0]; k++)
			if (strlen(g_own_keys[k]) == key && !strncmp(q + i, g_own_keys[k], key))
				ours = true;
		if (key == 4 && !strncmp(q + i, "tags", 4))
			*has_tags = true;
		if (n > 0 && !ours) {
			if (out->len)
				sb_putc(out, '&');
			sb_append(out, q + i, n);
		}
		i += n + 1;
	}
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	return n >= t && !memcmp(s + n - t, tail, t);
}

/* Settings from params_json; returns 0, -EINVAL (err says why) or -ENOMEM. */
static int params_read(const char *params, struct hn_state *st, const char **tags,
		       const char **text, json_t **root, char *err, size_t cap)
{
	json_t *v;

	*root = NULL;
	if (!params || !params[0])
		return 0;
	*root = json_loads(params, 0, NULL);
	if (!json_is_object(*root)) {
		snprintf(err, cap, "params must be a JSON object");
		return -EINVAL;
	}
	if ((v = json_object_get(*root, "hits_per_page"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			snprintf(err, cap, "params.hits_per_page must be a number from 1 to %d",
				 HN_HITS_PER_PAGE_MAX);
			return -EINVAL;
		}
		json_int_t n = json_integer_value(v);
		st->hits_per_page = n > HN_HITS_PER_PAGE_MAX ? HN_HITS_PER_PAGE_MAX : (int)n;
	}
	if ((v = json_object_get(*root, "tags"))) {
		if (!json_is_string(v) || json_string_length(v) > HN_PARAM_MAX) {
			snprintf(err, cap, "params.tags must be text such as \"(story,comment)\" "
					   "(at most %d bytes)", HN_PARAM_MAX);
			return -EINVAL;
		}
		*tags = json_string_value(v);
	}
	if ((v = json_object_get(*root, "query"))) {
		if (!json_is_string(v) || json_string_length(v) > HN_PARAM_MAX) {
			snprintf(err, cap, "params.query must be text of at most %d bytes",
				 HN_PARAM_MAX);
			return -EINVAL;
		}
		*text = json_string_value(v);
	}
	return 0;
}

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	struct strbuf ep = STRBUF_INIT, q = STRBUF_INIT;
	const char *url = cfg->url, *tags = NULL, *text = "";
	struct hn_state *st;
	json_t *root = NULL;
	bool url_tags = false;
	int rc;

	*out = NULL;
	if (!url_is_fetchable(url) || strlen(url) > HN_URL_MAX) {
		snprintf(err, cap, "url must be the http:// or https:// address of the HN Search "
				   "API, such as https://hn.algolia.com");
		return -EINVAL;
	}
	if (!(st = calloc(1, sizeof *st)))
		return -ENOMEM;
	st->hits_per_page = HN_HITS_PER_PAGE_DEFAULT;
	if ((rc = params_read(cfg->params_json, st, &tags, &text, &root, err, cap)) < 0)
		goto fail;

	size_t n = strcspn(url, "?#");
	const char *host = strstr(url, "://") + 3;
	if (url[n] == '?')
		query_filter(&q, url + n + 1, strcspn(url + n + 1, "#"), &url_tags);
	while (n > (size_t)(host - url) && url[n - 1] == '/')
		n--;
	sb_append(&ep, url, n);
	if (ends_with(url, n, "/search_by_date") || ends_with(url, n, "/search"))
		;   /* the endpoint itself */
	else if (ends_with(url, n, "/api/v1"))
		sb_puts(&ep, "/search_by_date");
	else
		sb_puts(&ep, HN_ENDPOINT);
	if (!q.buf)
		sb_puts(&q, "");
	st->endpoint = sb_detach(&ep, NULL);
	st->query = sb_detach(&q, NULL);
	/* The URL's own tags= wins over the default, params.tags over both. */
	st->tags = strdup(tags ? tags : url_tags ? "" : HN_TAGS_DEFAULT);
	st->text = strdup(text);
	if (!st->endpoint || !st->query || !st->tags || !st->text) {
		rc = -ENOMEM;
		goto fail;
	}
	json_decref(root);
	*out = st;
	return 0;
fail:
	sb_free(&ep);
	sb_free(&q);
	json_decref(root);
	release(st);
	return rc;
}

/* The cursor's second (-1: none) and requested page (-1: none). */
static void cursor_read(const char *cursor, long long *secs, long *page)
{
	const char *at;
	char *end;

	*secs = -1;
	*page = -1;
	if (!cursor || cursor[0] < '0' || cursor[0] > '9')
		return;
	*secs = strtoll(cursor, &end, 10);
	/* feed_hn.c ignores such a cursor too. */
	if (*secs < 0 || *secs >= HN_TIME_MAX_S || (*end && *end != ':' && *end != '@')) {
		*secs = -1;
		return;
	}
	if ((at = strchr(cursor, '@'))) {
		long p = strtol(at + 1, &end, 10);
		if (end != at + 1 && !*end && p >= 0 && p < 1000)
			*page = p;
	}
}

static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	const struct hn_state *st = state;
	long long secs;
	long page;
	bool amp = false;

	(void)base_url;   /* setup() made the endpoint from it */
	cursor_read(cursor, &secs, &page);
	sb_puts(url, st->endpoint);
	sb_putc(url, '?');
	if (st->query[0]) {
		sb_puts(url, st->query);
		amp = true;
	}
	if (st->tags[0]) {
		sb_puts(url, amp ? "&tags=" : "tags=");
		url_put_escaped(url, st->tags, strlen(st->tags));
		amp = true;
	}
	if (st->text[0]) {
		sb_puts(url, amp ? "&query=" : "query=");
		url_put_escaped(url, st->text, strlen(st->text));
		amp = true;
	}
	sb_printf(url, "%shitsPerPage=%d", amp ? "&" : "", st->hits_per_page);
	if (secs >= 0)
		sb_printf(url, "&numericFilters=created_at_i%%3E%%3D%lld", secs);
	if (page > 0)
		sb_printf(url, "&page=%ld", page);
	return url->failed ? -ENOMEM : 0;
}

/* Replaces doc's cursor with in_cursor's "S:ids" part, plus "@page" when page >= 0. */
static int cursor_set(struct feed_doc *doc, const char *base, size_t base_len, long page)
{
	struct strbuf sb = STRBUF_INIT;

	sb_append(&sb, base, base_len);
	if (page >= 0)
		sb_printf(&sb, "@%ld", page);
	free(doc->cursor);
	doc->cursor = sb_detach(&sb, NULL);
	return doc->cursor ? 0 : -ENOMEM;
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	struct hn_page_info info;
	long long secs;
	long page;
	int rc;

	(void)state;
	*more = false;
	rc = feed_hn_parse_page(in, doc, &info);
	if (rc < 0 || !doc->wellformed)
		return rc;
	cursor_read(in->cursor, &secs, &page);
	if (secs < 0)
		return 0;   /* the first poll: the newest page is where the source starts */
	size_t base_len = strcspn(in->cursor, "@");
	if (page < 0 && info.page == 0 && info.nb_pages > 1) {
		/*
		 * More than a page is newer than the cursor and this is its newest
		 * part: read the oldest page first, so that nothing in between is
		 * skipped. These posts come again on a later page walk.
		 */
		for (size_t i = 0; i < doc->nposts; i++)
			post_free(doc->posts[i]);
		doc->nposts = 0;
		doc->items = doc->skipped = 0;
		*more = true;
		return cursor_set(doc, in->cursor, base_len,
				  info.nb_pages - 1 < 999 ? info.nb_pages - 1 : 999);
	}
	if (page >= 0) {
		/* A step of the walk: the newer pages come next, from the new cursor. */
		*more = true;
		if (!doc->cursor)
			return cursor_set(doc, in->cursor, base_len, -1);
	}
	return 0;
}

/* HN Search says what went wrong in the "message" member of its error answers. */
static void error_detail(const char *body, size_t len, char *buf, size_t cap)
{
	json_member_text(body, len, "message", buf, cap);
}

const struct source_kind source_kind_hn = {
	.name = "hn",
	.accept = "application/json",
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
	.error_detail = error_detail,
};
