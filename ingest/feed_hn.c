#include "ingest/feed_hn.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "ingest/html_text.h"
#include "ingest/json_util.h"

#define HN_ITEM_URL "https://news.ycombinator.com/item?id="

const struct feed_format feed_format_hn = {
	.name = "hn",
	.detect = feed_hn_detect,
	.parse = feed_hn_parse,
};

/* HN item ids are decimal; anything else in objectID is not an HN item. */
static bool id_valid(const char *s, size_t len)
{
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* An id of the cursor's boundary second, borrowed from the input cursor or the document. */
struct idref {
	const char *s;
	size_t len;
};

/* The boundary second and its ids, read from the input cursor and grown by the page. */
struct boundary {
	bool set;
	int64_t secs;
	struct idref ids[HN_CURSOR_IDS_MAX];
	size_t nids;
	bool changed;         /* differs from the input cursor */
};

static bool boundary_has(const struct boundary *b, const char *id, size_t len)
{
	for (size_t i = 0; i < b->nids; i++)
		if (b->ids[i].len == len && !memcmp(b->ids[i].s, id, len))
			return true;
	return false;
}

static void boundary_add(struct boundary *b, const char *id, size_t len)
{
	if (boundary_has(b, id, len))
		return;
	b->changed = true;
	if (b->nids < HN_CURSOR_IDS_MAX)
		b->ids[b->nids++] = (struct idref){ id, len };
}

/* Reads "S[:id,id,...][@...]"; a cursor that does not read so is ignored. */
static void boundary_read(struct boundary *b, const char *cursor)
{
	const char *p = cursor;
	char *end;
	long long s;

	memset(b, 0, sizeof *b);
	if (!p || !isdigit((unsigned char)p[0]))
		return;
	s = strtoll(p, &end, 10);
	if (s < 0 || s >= HN_TIME_MAX_S || (*end && *end != ':' && *end != '@'))
		return;
	b->set = true;
	b->secs = s;
	p = end;
	if (*p != ':')
		return;
	p++;
	while (*p && *p != '@') {
		size_t n = strcspn(p, ",@");
		if (id_valid(p, n) && b->nids < HN_CURSOR_IDS_MAX)
			b->ids[b->nids++] = (struct idref){ p, n };
		p += n;
		if (*p == ',')
			p++;
	}
}

static int boundary_write(const struct boundary *b, char **out)
{
	struct strbuf sb = STRBUF_INIT;

	sb_put_i64(&sb, b->secs);
	for (size_t i = 0; i < b->nids; i++) {
		sb_putc(&sb, i ? ',' : ':');
		sb_append(&sb, b->ids[i].s, b->ids[i].len);
	}
	*out = sb_detach(&sb, NULL);
	return *out ? 0 : -ENOMEM;
}

struct scratch {
	struct strbuf text, url;
	struct html_text *html;   /* borrowed */
};

static bool tags_have(json_t *hit, const char *tag)
{
	json_t *tags = json_object_get(hit, "_tags");

	for (size_t i = 0; i < json_array_size(tags); i++) {
		const char *t = json_string_value(json_array_get(tags, i));
		if (t && !strcmp(t, tag))
			return true;
	}
	return false;
}

static bool time_get(json_t *hit, int64_t *ms)
{
	json_t *v = json_object_get(hit, "created_at_i");
	const char *s;
	size_t len;

	if (json_is_integer(v)) {
		json_int_t t = json_integer_value(v);
		if (t < 0 || t >= HN_TIME_MAX_S)
			return false;
		*ms = (int64_t)t * 1000;
		return true;
	}
	s = json_str_nonempty(hit, "created_at", &len);
	return s && clock_parse_rfc3339(s, len, ms) == 0 && *ms >= 0;
}

/* Reads the content of one hit into *out. Returns 0 (post made), 1 (malformed) or -ENOMEM. */
static int hit_read(json_t *hit, const char *id, int64_t created_ms, const struct feed_input *in,
		    struct scratch *sc, struct post **out)
{
	const char *author, *title = NULL, *html, *url;
	bool comment;
	size_t html_len = 0;
	int rc;

	*out = NULL;
	if (!(author = json_str_nonempty(hit, "author", NULL)))
		return 1;
	/* _tags say what a hit is; without them, a comment_text makes a comment. */
	comment = tags_have(hit, "comment") ||
		  (!tags_have(hit, "story") &&
		   json_is_string(json_object_get(hit, "comment_text")));
	if (comment) {
		json_t *t = json_object_get(hit, "comment_text");
		if (!json_is_string(t))
			return 1;
		html = json_string_value(t);
		html_len = json_string_length(t);
	} else {
		title = json_str_nonempty(hit, "title", NULL);
		html = json_str_nonempty(hit, "story_text", &html_len);
		if (!title && !html)
			return 1;
	}

	sb_reset(&sc->text);
	if (html && (rc = html_text_convert(sc->html, html, html_len, &sc->text)) < 0)
		return rc;
	sb_reset(&sc->url);
	url = comment ? NULL : json_str_nonempty(hit, "url", NULL);
	if (url_is_http(url)) {
		sb_puts(&sc->url, url);
	} else {
		sb_puts(&sc->url, HN_ITEM_URL);
		sb_puts(&sc->url, id);
	}
	if (sc->text.failed || sc->url.failed)
		return -ENOMEM;

	struct post_fields f = {
		.source_id = in->source_id,
		.created_at_ms = created_ms,
		.id = id,
		.url = sc->url.buf,
		.author = author,
		.lang = "",
		.title = title ? title : "",
		.text = sc->text.buf ? sc->text.buf : "",
		.text_len = sc->text.len,
	};
	*out = post_new(&f);
	return *out ? 0 : -ENOMEM;
}

static long long_get(json_t *root, const char *key)
{
	json_t *v = json_object_get(root, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
		return -1;
	return (long)json_integer_value(v);
}

static void doc_fail_no_hits(struct feed_doc *doc, json_t *root)
{
	const char *msg;
	size_t len;

	if (json_is_object(root) && (msg = json_str_nonempty(root, "message", &len))) {
		/* What the API answers on errors: {"message": "...", "status": 400}. */
		long status = long_get(root, "status");
		if (status > 0)
			feed_doc_fail(doc, "HN Search error %ld: %.*s", status,
				      (int)(len > 200 ? 200 : len), msg);
		else
			feed_doc_fail(doc, "HN Search error: %.*s", (int)(len > 200 ? 200 : len),
				      msg);
		return;
	}
	if (json_is_object(root))
		feed_doc_fail(doc, "not an HN Search result: no \"hits\" array");
	else
		feed_doc_fail(doc, "not an HN Search result: expected an object, got %s",
			      json_type_name(root));
}

int feed_hn_parse_page(const struct feed_input *in, struct feed_doc *doc,
		       struct hn_page_info *info)
{
	struct scratch sc = { .text = STRBUF_INIT, .url = STRBUF_INIT, .html = in->html };
	struct html_text *own_html = NULL;
	struct boundary seen, b;
	json_t *root = NULL, *hits;
	int rc = 0;

	if (info)
		*info = (struct hn_page_info){ -1, -1, -1, -1 };
	free(doc->title);
	if (!(doc->title = strdup("")))
		return -ENOMEM;
	if (!(root = json_doc_load(in, doc, "not an HN Search result")))
		return 0;
	hits = json_object_get(root, "hits");
	if (!json_is_array(hits)) {
		doc_fail_no_hits(doc, root);
		goto out;
	}
	if (info) {
		info->page = long_get(root, "page");
		info->nb_pages = long_get(root, "nbPages");
		info->nb_hits = long_get(root, "nbHits");
		info->hits_per_page = long_get(root, "hitsPerPage");
	}
	if (!sc.html) {
		if ((rc = html_text_new(&own_html)) < 0)
			goto out;
		sc.html = own_html;
	}
	/* seen: what the input cursor says was read; b: the boundary as this page moves it. */
	boundary_read(&seen, in->cursor);
	b = seen;

	size_t n = json_array_size(hits);
	doc->items = n;
	for (size_t i = 0; i < n; i++) {
		json_t *hit = json_array_get(hits, i);
		const char *id;
		size_t id_len;
		int64_t ms, secs;
		struct post *p;

		if (!json_is_object(hit) || !(id = json_str_nonempty(hit, "objectID", &id_len)) ||
		    !id_valid(id, id_len) || !time_get(hit, &ms)) {
			doc->skipped++;
			continue;
		}
		secs = ms / 1000;
		if (seen.set && (secs < seen.secs ||
				 (secs == seen.secs && boundary_has(&seen, id, id_len))))
			continue;   /* an earlier poll had it */
		/* The boundary moves with the newest second; its ids are kept for the next poll. */
		if (!b.set || secs > b.secs) {
			b.set = true;
			b.secs = secs;
			b.nids = 0;
			b.changed = true;
		}
		if (secs == b.secs)
			boundary_add(&b, id, id_len);
		if (doc->nposts >= LIMIT_POSTS_PER_PAGE) {
			doc->skipped++;
			continue;
		}
		rc = hit_read(hit, id, ms, in, &sc, &p);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			doc->skipped++;
			rc = 0;
			continue;
		}
		if ((rc = feed_doc_add(doc, p)) < 0)
			goto out;
	}
	if (b.set && b.changed)
		rc = boundary_write(&b, &doc->cursor);
out:
	json_decref(root);
	html_text_free(own_html);
	sb_free(&sc.text);
	sb_free(&sc.url);
	return rc;
}

int feed_hn_parse(const struct feed_input *in, struct feed_doc *doc)
{
	return feed_hn_parse_page(in, doc, NULL);
}

/* Whether b[0..len) has a "hits" key whose value is an array. */
static bool hits_in(const char *b, size_t len)
{
	const char *p = b, *end = b + len;

	while ((p = memmem(p, (size_t)(end - p), "\"hits\"", 6))) {
		const char *q = p + 6;
		p = q;
		while (q < end && isspace((unsigned char)*q))
			q++;
		if (q >= end || *q++ != ':')
			continue;
		while (q < end && isspace((unsigned char)*q))
			q++;
		if (q < end && *q == '[')
			return true;
	}
	return false;
}

int feed_hn_detect(const char *body, size_t len, const char *content_type)
{
	size_t i = 0, window, tail;

	(void)content_type;
	if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len || body[i] != '{')
		return 0;
	window = len - i < 4096 ? len - i : 4096;
	if (!hits_in(body + i, window))
		return 0;
	/* Algolia hits carry these; the paging keys follow the hits, at the end. */
	if (memmem(body + i, window, "\"objectID\"", 10) ||
	    memmem(body + i, window, "\"created_at_i\"", 14))
		return 95;
	tail = len - i < 4096 ? len - i : 4096;
	if (memmem(body + len - tail, tail, "\"nbHits\"", 8) ||
	    memmem(body + len - tail, tail, "\"hitsPerPage\"", 13))
		return 90;
	return 0;
}
