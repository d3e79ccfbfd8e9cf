#include "ingest/source_reddit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ingest/feed_reddit.h"
#include "ingest/json_util.h"

struct reddit_state {
	int limit;
	char *listing;   /* owned: the listing's URL up to ".json", no query */
	char *query;     /* owned: the URL's own query parameters, or "" */
};

/* Sort orders and listings that take ".json" as they are; anything else is a subreddit. */
static const char *const g_listings[] = {
	"new", "hot", "top", "rising", "controversial", "best", "comments",
	"overview", "submitted", "gilded",
};

/* Query keys trendd sets itself: a URL's own values would fight them. */
static const char *const g_own_keys[] = { "limit", "raw_json", "before", "after", "count" };

static void release(void *state)
{
	struct reddit_state *st = state;

	if (!st)
		return;
	free(st->listing);
	free(st->query);
	free(st);
}

/* Appends the parameters of q (without '?') except those trendd sets. */
static void query_filter(struct strbuf *out, const char *q, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = 0, key;
		bool ours = false;
		while (i + n < len && q[i + n] != '&')
			n++;
		key = 0;
		while (key < n && q[i + key] != '=')
			key++;
		for (size_t k = 0; k < sizeof g_own_keys / sizeof g_own_keys[0]; k++)
			if (strlen(g_own_keys[k]) == key && !strncmp(q + i, g_own_keys[k], key))
				ours = true;
		if (n > 0 && !ours) {
			if (out->len)
				sb_putc(out, '&');
			sb_append(out, q + i, n);
		}
		i += n + 1;
	}
}

/* Splits url into the listing's .json URL and its own query (see the header). */
static int listing_split(const char *url, struct reddit_state *st)
{
	struct strbuf path = STRBUF_INIT, query = STRBUF_INIT;
	size_t n = strcspn(url, "?#"), seg;
	const char *host = strstr(url, "://") + 3;
	bool sort = false;

	if (url[n] == '?')
		query_filter(&query, url + n + 1, strcspn(url + n + 1, "#"));
	while (n > (size_t)(host - url) && url[n - 1] == '/')
		n--;
	sb_append(&path, url, n);
	seg = n;
	while (seg > 0 && url[seg - 1] != '/')
		seg--;
	for (size_t k = 0; k < sizeof g_listings / sizeof g_listings[0]; k++)
		if (strlen(g_listings[k]) == n - seg && !strncmp(url + seg, g_listings[k], n - seg))
			sort = true;
	if (n >= 5 && !strncmp(url + n - 5, ".json", 5))
		;   /* already the JSON listing */
	else if (sort && seg > (size_t)(host - url))
		sb_puts(&path, ".json");
	else
		sb_puts(&path, "/new.json");
	if (!query.buf)
		sb_puts(&query, "");
	st->listing = sb_detach(&path, NULL);
	st->query = sb_detach(&query, NULL);
	return st->listing && st->query ? 0 : -ENOMEM;
}

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	struct reddit_state *st;
	json_t *root = NULL, *v;
	const char *params = cfg->params_json;
	int rc;

	*out = NULL;
	if (!url_is_fetchable(cfg->url) || strlen(cfg->url) > REDDIT_URL_MAX) {
		snprintf(err, cap, "url must be an http:// or https:// address of a subreddit or "
				   "listing, such as https://www.reddit.com/r/rust");
		return -EINVAL;
	}
	if (!(st = calloc(1, sizeof *st)))
		return -ENOMEM;
	st->limit = REDDIT_PAGE_MAX;
	if (params && params[0]) {
		root = json_loads(params, 0, NULL);
		if (!json_is_object(root)) {
			snprintf(err, cap, "params must be a JSON object");
			rc = -EINVAL;
			goto fail;
		}
		if ((v = json_object_get(root, "limit"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1) {
				snprintf(err, cap, "params.limit must be a number from 1 to %d",
					 REDDIT_PAGE_MAX);
				rc = -EINVAL;
				goto fail;
			}
			json_int_t l = json_integer_value(v);
			st->limit = l > REDDIT_PAGE_MAX ? REDDIT_PAGE_MAX : (int)l;
		}
	}
	if ((rc = listing_split(cfg->url, st)) < 0)
		goto fail;
	json_decref(root);
	*out = st;
	return 0;
fail:
	json_decref(root);
	release(st);
	return rc;
}

/* A fullname: "t<digit>_" and a base36 id. */
static bool anchor_valid(const char *s, size_t n)
{
	if (n < 4 || n >= LIMIT_POST_ID_BYTES || s[0] != 't' || s[1] < '0' || s[1] > '9' ||
	    s[2] != '_')
		return false;
	for (size_t i = 3; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && !(s[i] >= 'a' && s[i] <= 'z'))
			return false;
	return true;
}

/*
 * The cursor's anchor length and its count of empty polls ("t3_x~3": 4 and
 * 3). A cursor that is no fullname (left over from another kind) is none.
 */
static size_t cursor_split(const char *cursor, unsigned *empty)
{
	size_t n = cursor ? strcspn(cursor, "~") : 0;

	*empty = 0;
	if (!anchor_valid(cursor, n))
		return 0;
	if (cursor[n] == '~')
		*empty = (unsigned)strtoul(cursor + n + 1, NULL, 10) % (REDDIT_STALE_POLLS + 1);
	return n;
}

/* Whether this poll asks without `before`, to get past a deleted anchor; see the header. */
static bool stale_turn(unsigned empty)
{
	return empty > 0 && empty % REDDIT_STALE_POLLS == 0;
}

static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	const struct reddit_state *st = state;
	unsigned empty;
	size_t n = cursor_split(cursor, &empty);

	(void)base_url;   /* setup() made the listing URL from it */
	sb_puts(url, st->listing);
	sb_putc(url, '?');
	if (st->query[0]) {
		sb_puts(url, st->query);
		sb_putc(url, '&');
	}
	sb_printf(url, "limit=%d&raw_json=1", st->limit);
	if (n && !stale_turn(empty)) {
		sb_puts(url, "&before=");
		url_put_escaped(url, cursor, n);
	}
	return url->failed ? -ENOMEM : 0;
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	const struct reddit_state *st = state;
	unsigned empty;
	size_t n = cursor_split(in->cursor, &empty);
	bool used_before = n && !stale_turn(empty);
	int rc;

	*more = false;
	/* raw_json=1 was asked for: text is as typed, "&amp;" included. */
	rc = feed_reddit_parse_text(in, REDDIT_TEXT_RAW, doc);
	if (rc < 0 || !doc->wellformed)
		return rc;
	if (doc->cursor) {
		/* Behind when a page after the anchor came back full. */
		*more = used_before && doc->items >= (size_t)st->limit;
		return 0;
	}
	if (n) {
		/* Nothing newer: one more empty poll after this anchor (1..REDDIT_STALE_POLLS). */
		struct strbuf sb = STRBUF_INIT;
		sb_append(&sb, in->cursor, n);
		sb_printf(&sb, "~%u", empty % REDDIT_STALE_POLLS + 1);
		if (!(doc->cursor = sb_detach(&sb, NULL)))
			return -ENOMEM;
	}
	return 0;
}

static void error_detail(const char *body, size_t len, char *buf, size_t cap)
{
	feed_reddit_error_text(body, len, buf, cap);
	if (!buf[0] && len > 0 && (body[0] == '<' || memmem(body, len < 512 ? len : 512,
							    "<html", 5)))
		/* Reddit's blocking pages are HTML ("whoa there, pardner!"). */
		snprintf(buf, cap, "Reddit answered with an HTML page (it blocks some clients "
				   "and networks)");
}

const struct source_kind source_kind_reddit = {
	.name = "reddit",
	.accept = "application/json",
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
	.error_detail = error_detail,
};
