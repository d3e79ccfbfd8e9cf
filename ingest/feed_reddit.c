#include "ingest/feed_reddit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/strbuf.h"
#include "ingest/json_util.h"

#define REDDIT_HOST "https://www.reddit.com"
/* Latest created_utc taken as a time (year 5138): beyond is garbage, not a post. */
#define REDDIT_TIME_MAX_S 1e11

const struct feed_format feed_format_reddit = {
	.name = "reddit",
	.detect = feed_reddit_detect,
	.parse = feed_reddit_parse,
};

/* A fullname is "t<digit>_" and a base36 id: it goes into URLs and keys. */
static bool fullname_valid(const char *s, size_t len)
{
	if (len < 4 || len >= LIMIT_POST_ID_BYTES || s[0] != 't' || !isdigit((unsigned char)s[1]) ||
	    s[2] != '_')
		return false;
	for (size_t i = 3; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'z'))
			return false;
	return true;
}

int feed_reddit_fullname_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ua = memchr(a, '_', alen), *ub = memchr(b, '_', blen);
	size_t ka = ua ? (size_t)(ua - a) : 0, kb = ub ? (size_t)(ub - b) : 0;
	int c;

	/* Ids of different kinds come from different sequences: order by kind. */
	if (ka != kb || (c = memcmp(a, b, ka)) != 0)
		return ka != kb ? (ka < kb ? -1 : 1) : c;
	/* The ids after the underscores (a missing underscore leaves the whole string). */
	if (ua) {
		a += ka + 1;
		alen -= ka + 1;
	}
	if (ub) {
		b += kb + 1;
		blen -= kb + 1;
	}
	/* Base36 digits 0-9a-z sort bytewise in that order, so no decoding is needed. */
	while (alen > 1 && a[0] == '0') {
		a++;
		alen--;
	}
	while (blen > 1 && b[0] == '0') {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* Appends s, decoding the three escapes Reddit adds without raw_json=1. */
static void put_text(struct strbuf *sb, const char *s, size_t len, bool escaped)
{
	size_t i = 0, run = 0;

	if (!escaped) {
		sb_append(sb, s, len);
		return;
	}
	while (i < len) {
		if (s[i] != '&') {
			i++;
			run++;
			continue;
		}
		char c = 0;
		size_t n = 0;
		if (len - i >= 5 && !memcmp(s + i, "&amp;", 5))
			c = '&', n = 5;
		else if (len - i >= 4 && !memcmp(s + i, "&lt;", 4))
			c = '<', n = 4;
		else if (len - i >= 4 && !memcmp(s + i, "&gt;", 4))
			c = '>', n = 4;
		if (!n) {
			i++;
			run++;
			continue;
		}
		sb_append(sb, s + i - run, run);
		sb_putc(sb, c);
		run = 0;
		i += n;
	}
	sb_append(sb, s + i - run, run);
}

/*
 * What Reddit leaves in place of deleted or removed text. Read as text, it
 * would make "deleted" and "removed" trend on every busy thread.
 */
static bool text_is_gone(const char *s, size_t len)
{
	return (len == 9 && !memcmp(s, "[deleted]", 9)) || (len == 9 && !memcmp(s, "[removed]", 9));
}

/* Scratch buffers reused across the children of one document. */
struct scratch {
	struct strbuf title, text, url;
	bool escaped;
	const char *cursor;   /* borrowed: the input cursor's fullname, or NULL */
	size_t cursor_len;
	char newest[LIMIT_POST_ID_BYTES];   /* the first fullname of the page, or "" */
};

static bool time_get(json_t *data, int64_t *ms)
{
	json_t *v = json_object_get(data, "created_utc");
	double s;

	if (!json_is_number(v))
		return false;
	s = json_number_value(v);
	if (!(s >= 0 && s < REDDIT_TIME_MAX_S))   /* NaN too */
		return false;
	*ms = (int64_t)llround(s * 1000.0);
	return true;
}

/* https://www.reddit.com + permalink, else the URL the thing would have. */
static void url_build(json_t *data, const char *fullname, bool comment, struct strbuf *out)
{
	const char *p = json_str_nonempty(data, "permalink", NULL);
	const char *sub = json_str_nonempty(data, "subreddit", NULL);
	const char *link = json_str_nonempty(data, "link_id", NULL);

	sb_reset(out);
	if (p && p[0] == '/' && p[1] != '/') {
		sb_puts(out, REDDIT_HOST);
		sb_puts(out, p);
		return;
	}
	if (p && (!strncmp(p, "https://", 8) || !strncmp(p, "http://", 7))) {
		sb_puts(out, p);
		return;
	}
	if (!sub || strpbrk(sub, "/?#% "))
		return;
	if (!comment) {
		sb_printf(out, REDDIT_HOST "/r/%s/comments/%s/", sub, fullname + 3);
	} else if (link && !strncmp(link, "t3_", 3) && fullname_valid(link, strlen(link))) {
		/* Reddit ignores the slug: "_" stands for the title. */
		sb_printf(out, REDDIT_HOST "/r/%s/comments/%s/_/%s/", sub, link + 3, fullname + 3);
	}
}

/*
 * Reads one t1/t3 child into *out. Returns 0 (post made), 1 (malformed: skip
 * it), 2 (seen before: ignore it) or -ENOMEM.
 */
static int thing_read(json_t *data, bool comment, const struct feed_input *in,
		      struct scratch *sc, struct post **out)
{
	char idbuf[LIMIT_POST_ID_BYTES];
	const char *name, *author, *title = NULL, *text;
	size_t name_len, title_len = 0, text_len = 0;
	int64_t created_ms;

	*out = NULL;
	name = json_str_nonempty(data, "name", &name_len);
	if (!name) {
		/* Older listings have only the bare id. */
		const char *id = json_str_nonempty(data, "id", &name_len);
		if (!id || name_len + 3 >= sizeof idbuf)
			return 1;
		snprintf(idbuf, sizeof idbuf, "%s_%s", comment ? "t1" : "t3", id);
		name = idbuf;
		name_len += 3;
	}
	if (!fullname_valid(name, name_len) || strncmp(name, comment ? "t1_" : "t3_", 3))
		return 1;
	if (!time_get(data, &created_ms))
		return 1;
	if (!(author = json_str_nonempty(data, "author", NULL)))
		return 1;
	if (comment) {
		json_t *b = json_object_get(data, "body");
		if (!json_is_string(b))
			return 1;
		text = json_string_value(b);
		text_len = json_string_length(b);
	} else {
		json_t *s = json_object_get(data, "selftext");
		if (!(title = json_str_nonempty(data, "title", &title_len)))
			return 1;
		text = json_is_string(s) ? json_string_value(s) : "";
		text_len = json_is_string(s) ? json_string_length(s) : 0;
	}

	if (!sc->newest[0])
		memcpy(sc->newest, name, name_len + 1);
	if (sc->cursor && feed_reddit_fullname_cmp(name, name_len, sc->cursor,
						   sc->cursor_len) <= 0 &&
	    !strncmp(name, sc->cursor, 3))
		return 2;
	if (text_is_gone(text, text_len)) {
		/* A deleted comment says nothing; a deleted post still has its title. */
		if (comment)
			return 2;
		text_len = 0;
	}

	sb_reset(&sc->title);
	sb_reset(&sc->text);
	if (title)
		put_text(&sc->title, title, title_len, sc->escaped);
	put_text(&sc->text, text, text_len, sc->escaped);
	url_build(data, name, comment, &sc->url);
	if (sc->title.failed || sc->text.failed || sc->url.failed)
		return -ENOMEM;

	struct post_fields f = {
		.source_id = in->source_id,
		.created_at_ms = created_ms,
		.id = name,
		.url = sc->url.buf ? sc->url.buf : "",
		.author = author,
		.lang = "",
		.title = sc->title.buf ? sc->title.buf : "",
		.text = sc->text.buf ? sc->text.buf : "",
		.text_len = sc->text.len,
	};
	*out = post_new(&f);
	return *out ? 0 : -ENOMEM;
}

static bool is_listing(json_t *v)
{
	const char *k = json_string_value(json_object_get(v, "kind"));
	return json_is_object(v) && k && !strcmp(k, "Listing");
}

/* Counts of the kinds of one document, to tell a listing of posts from other listings. */
struct kinds {
	size_t posts, subreddits;
};

static int listing_read(json_t *listing, int depth, const struct feed_input *in,
			struct scratch *sc, struct feed_doc *doc, struct kinds *kinds);

static int child_read(json_t *child, int depth, const struct feed_input *in, struct scratch *sc,
		      struct feed_doc *doc, struct kinds *kinds)
{
	const char *kind = json_string_value(json_object_get(child, "kind"));
	json_t *data = json_object_get(child, "data");
	struct post *p;
	bool comment;
	int rc;

	if (kind && !strcmp(kind, "more"))
		return 0;   /* comments Reddit did not load: nothing to read, nothing wrong */
	doc->items++;
	if (kind && !strcmp(kind, "t5"))
		kinds->subreddits++;
	if (!kind || !json_is_object(data) || (strcmp(kind, "t1") && strcmp(kind, "t3"))) {
		doc->skipped++;
		return 0;
	}
	comment = kind[1] == '1';
	kinds->posts++;
	if (doc->nposts >= LIMIT_POSTS_PER_PAGE) {
		doc->skipped++;
		return 0;
	}
	rc = thing_read(data, comment, in, sc, &p);
	if (rc < 0)
		return rc;
	if (rc == 1)
		doc->skipped++;
	if (rc == 0 && (rc = feed_doc_add(doc, p)) < 0)
		return rc;
	if (comment) {
		json_t *replies = json_object_get(data, "replies");
		/* No replies is "" rather than an empty Listing. */
		if (is_listing(replies)) {
			if (depth >= REDDIT_REPLY_DEPTH_MAX) {
				doc->skipped++;
				return 0;
			}
			return listing_read(replies, depth + 1, in, sc, doc, kinds);
		}
	}
	return 0;
}

/* Returns 0, 1 (not a listing with children: a document error) or -ENOMEM. */
static int listing_read(json_t *listing, int depth, const struct feed_input *in,
			struct scratch *sc, struct feed_doc *doc, struct kinds *kinds)
{
	json_t *children = json_object_get(json_object_get(listing, "data"), "children");
	size_t n;

	if (!json_is_array(children))
		return 1;
	n = json_array_size(children);
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(children, i);
		int rc;
		if (!json_is_object(c)) {
			doc->items++;
			doc->skipped++;
			continue;
		}
		if ((rc = child_read(c, depth, in, sc, doc, kinds)) < 0)
			return rc;
	}
	return 0;
}

/* The first *_html field of the document decides; see the header. */
static bool html_escaped(json_t *listing)
{
	json_t *children = json_object_get(json_object_get(listing, "data"), "children");
	size_t n = json_array_size(children);

	for (size_t i = 0; i < n; i++) {
		json_t *data = json_object_get(json_array_get(children, i), "data");
		const char *h = json_str_nonempty(data, "selftext_html", NULL);
		if (!h)
			h = json_str_nonempty(data, "body_html", NULL);
		if (h)
			return h[0] != '<';
	}
	return true;
}

static void reason_text(long code, const char *reason, const char *message, char *buf,
			size_t cap)
{
	if (reason && !strcmp(reason, "private"))
		snprintf(buf, cap, "the subreddit is private");
	else if (reason && !strcmp(reason, "banned"))
		snprintf(buf, cap, "the subreddit is banned");
	else if (reason && !strcmp(reason, "quarantined"))
		snprintf(buf, cap, "the subreddit is quarantined (only logged-in users who opt "
				   "in may read it)");
	else if (reason && (!strcmp(reason, "gold_only") || !strcmp(reason, "premium_only")))
		snprintf(buf, cap, "the subreddit is for Reddit Premium members only");
	else if (code == 403)
		snprintf(buf, cap, "access denied (the listing is private, or Reddit blocks "
				   "this client)");
	else if (code == 404)
		snprintf(buf, cap, "no such subreddit or listing");
	else if (code == 401)
		snprintf(buf, cap, "Reddit wants a logged-in client for this listing");
	else if (code == 429)
		snprintf(buf, cap, "too many requests: Reddit is rate limiting this client");
	else if (code >= 500)
		snprintf(buf, cap, "Reddit is having trouble (try again later)");
	else if (message)
		snprintf(buf, cap, "%.150s", message);
	else
		snprintf(buf, cap, "Reddit refused the request");
}

/* Reddit's error bodies: {"error": 403} or {"message": "...", "error": 404, "reason": "..."}. */
static bool error_body(json_t *root, long *code, char *buf, size_t cap)
{
	json_t *e = json_object_get(root, "error");
	const char *reason = json_str_nonempty(root, "reason", NULL);
	const char *message = json_str_nonempty(root, "message", NULL);

	if (!json_is_integer(e) && !json_is_string(e))
		return false;
	*code = json_is_integer(e) ? (long)json_integer_value(e) : 0;
	if (json_is_string(e) && !message)
		message = json_string_value(e);
	reason_text(*code, reason, message, buf, cap);
	return true;
}

void feed_reddit_error_text(const char *body, size_t len, char *buf, size_t cap)
{
	json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
	long code;

	buf[0] = 0;
	if (json_is_object(root) && !error_body(root, &code, buf, cap))
		buf[0] = 0;
	json_decref(root);
}

static void doc_fail_not_listing(struct feed_doc *doc, json_t *root)
{
	char why[160];
	long code = 0;

	if (json_is_object(root) && error_body(root, &code, why, sizeof why)) {
		if (code)
			feed_doc_fail(doc, "Reddit error %ld: %s", code, why);
		else
			feed_doc_fail(doc, "Reddit error: %s", why);
		return;
	}
	feed_doc_fail(doc, "not a Reddit listing: expected {\"kind\": \"Listing\", ...}, got %s",
		      json_type_name(root));
}

int feed_reddit_parse_text(const struct feed_input *in, enum reddit_text mode,
			   struct feed_doc *doc)
{
	struct scratch sc = { .title = STRBUF_INIT, .text = STRBUF_INIT, .url = STRBUF_INIT,
			      .newest = "" };
	struct kinds kinds = { 0, 0 };
	json_t *root = NULL, *listings[2];
	size_t nlistings = 0;
	int rc = 0;

	free(doc->title);
	if (!(doc->title = strdup("")))
		return -ENOMEM;
	if (!(root = json_doc_load(in, doc, "not a Reddit listing")))
		return 0;
	if (is_listing(root)) {
		listings[nlistings++] = root;
	} else if (json_is_array(root) && json_array_size(root) >= 1 &&
		   json_array_size(root) <= 2) {
		/* /comments/<id>: the submission's Listing, then the comments'. */
		for (size_t i = 0; i < json_array_size(root); i++) {
			if (!is_listing(json_array_get(root, i))) {
				feed_doc_fail(doc, "not a Reddit listing: element %zu of the array "
						   "is not a Listing", i);
				goto out;
			}
			listings[nlistings++] = json_array_get(root, i);
		}
	} else {
		doc_fail_not_listing(doc, root);
		goto out;
	}

	if (in->cursor && in->cursor[0]) {
		size_t n = strcspn(in->cursor, "~");
		if (fullname_valid(in->cursor, n)) {
			sc.cursor = in->cursor;
			sc.cursor_len = n;
		}
	}
	sc.escaped = mode == REDDIT_TEXT_ESCAPED ||
		     (mode == REDDIT_TEXT_AUTO && html_escaped(listings[nlistings - 1]) &&
		      html_escaped(listings[0]));
	for (size_t i = 0; i < nlistings; i++) {
		rc = listing_read(listings[i], 0, in, &sc, doc, &kinds);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			rc = 0;
			feed_doc_fail(doc, "not a Reddit listing: the Listing has no data.children "
					   "array");
			goto out;
		}
	}
	if (kinds.posts == 0 && kinds.subreddits > 0) {
		feed_doc_fail(doc, "a listing of subreddits, not of posts (Reddit answers an "
				   "unknown subreddit's listing with a search for it)");
		goto out;
	}
	/* The cursor never moves back (a page that ignored `before` starts at or below it). */
	if (sc.newest[0] && (!sc.cursor || strncmp(sc.newest, sc.cursor, 3) ||
			     feed_reddit_fullname_cmp(sc.newest, strlen(sc.newest), sc.cursor,
						      sc.cursor_len) > 0) &&
	    !(doc->cursor = strdup(sc.newest)))
		rc = -ENOMEM;
out:
	json_decref(root);
	sb_free(&sc.title);
	sb_free(&sc.text);
	sb_free(&sc.url);
	return rc;
}

int feed_reddit_parse(const struct feed_input *in, struct feed_doc *doc)
{
	return feed_reddit_parse_text(in, REDDIT_TEXT_AUTO, doc);
}

/* Skips whitespace (and a BOM at the start); returns the new index. */
static size_t skip_ws(const char *b, size_t len, size_t i)
{
	if (i == 0 && len >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && isspace((unsigned char)b[i]))
		i++;
	return i;
}

/* Whether b[i..] is `"kind"`, a colon and `"Listing"`, whitespace allowed between. */
static bool kind_listing_at(const char *b, size_t len, size_t i)
{
	if (len - i < 6 || memcmp(b + i, "\"kind\"", 6))
		return false;
	i = skip_ws(b, len, i + 6);
	if (i >= len || b[i] != ':')
		return false;
	i = skip_ws(b, len, i + 1);
	return len - i >= 9 && !memcmp(b + i, "\"Listing\"", 9);
}

int feed_reddit_detect(const char *body, size_t len, const char *content_type)
{
	size_t i = skip_ws(body, len, 0);
	size_t window;

	(void)content_type;
	if (i < len && body[i] == '[')
		i = skip_ws(body, len, i + 1);
	if (i >= len || body[i] != '{')
		return 0;
	/* "kind" comes first in what Reddit sends; allow a few keys before it. */
	window = len - i < 256 ? len - i : 256;
	for (size_t j = i; j < i + window; j++)
		if (body[j] == '"' && kind_listing_at(body, len, j))
			return 95;
	/* {"error": 403}: Reddit's error body (Mastodon's carries a string). */
	i = skip_ws(body, len, i + 1);
	if (len - i > 8 && !memcmp(body + i, "\"error\"", 7)) {
		i = skip_ws(body, len, i + 7);
		if (i < len && body[i] == ':') {
			i = skip_ws(body, len, i + 1);
			if (i < len && isdigit((unsigned char)body[i]))
				return 20;
		}
	}
	return 0;
}
