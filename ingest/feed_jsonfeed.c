#include "ingest/feed_jsonfeed.h"
#include "ingest/feed_date.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "ingest/html_text.h"
#include "ingest/json_util.h"

#define JSONFEED_VERSION_PREFIX "://jsonfeed.org/version/"

const struct feed_format feed_format_jsonfeed = {
	.name = "jsonfeed",
	.detect = feed_jsonfeed_detect,
	.parse = feed_jsonfeed_parse,
};

/* ---- dates ---- */

static bool date_get(json_t *item, const char *key, int64_t *ms)
{
	size_t len;
	const char *s = json_str_nonempty(item, key, &len);

	/* RFC 3339 as the spec says; real feeds also write RFC 822 */
	return s && (clock_parse_rfc3339(s, len, ms) == 0 || feed_date_parse(s, len, ms) == 0);
}

/* ---- text ---- */

static void put_utf8(struct strbuf *sb, unsigned cp)
{
	char b[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	sb_append(sb, b, n);
}

/*
 * The code point of the character reference at s[0] == '&' ("&#8211;",
 * "&#x2013;", "&ndash;"), with its length in *n; 0 when it is none.
 */
static unsigned charref(const char *s, size_t len, size_t *n)
{
	size_t i = 1;
	unsigned long v = 0;

	if (i < len && s[i] == '#') {
		bool hex = ++i < len && (s[i] == 'x' || s[i] == 'X');
		size_t start = hex ? ++i : i;
		while (i < len && i - start < 8 &&
		       (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
			unsigned char c = (unsigned char)s[i];
			int d = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
			v = v * (hex ? 16 : 10) + (unsigned long)d;
			i++;
		}
		if (i == start || i >= len || s[i] != ';')
			return 0;
		*n = i + 1;
		/* NUL and values beyond Unicode read as U+FFFD, as in HTML. */
		return v == 0 || v > 0x10FFFF ? 0xFFFD : (unsigned)v;
	}
	char name[16];
	size_t k = 0;
	while (i < len && k < sizeof name - 1 && isalnum((unsigned char)s[i]))
		name[k++] = s[i++];
	name[k] = 0;
	if (k == 0 || i >= len || s[i] != ';')
		return 0;
	/* libxml2's table of the HTML 4 entities; apos is XML's. */
	if (!strcmp(name, "apos")) {
		*n = i + 1;
		return '\'';
	}
	const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
	if (!e)
		return 0;
	*n = i + 1;
	return e->value;
}

/* Appends plain text s with its character references decoded; markup stays as it is. */
static void put_decoded(struct strbuf *sb, const char *s, size_t len)
{
	size_t i = 0, run = 0;

	while (i < len) {
		size_t n = 0;
		unsigned cp = s[i] == '&' ? charref(s + i, len - i, &n) : 0;
		if (!cp) {
			i++;
			run++;
			continue;
		}
		sb_append(sb, s + i - run, run);
		put_utf8(sb, cp);
		run = 0;
		i += n;
	}
	sb_append(sb, s + i - run, run);
}

/* ---- URLs ---- */

/* Whether u starts with an RFC 3986 scheme ("https:", "tag:", "mailto:"). */
static bool has_scheme(const char *u)
{
	if (!isalpha((unsigned char)u[0]))
		return false;
	for (size_t i = 1; u[i]; i++) {
		if (u[i] == ':')
			return true;
		if (!isalnum((unsigned char)u[i]) && u[i] != '+' && u[i] != '-' && u[i] != '.')
			return false;
	}
	return false;
}

/* Resolves u against base (an http(s) URL): absolute, //host/, /path and path forms. */
static void url_resolve(struct strbuf *out, const char *u, const char *base)
{
	sb_reset(out);
	if (has_scheme(u) || !url_is_http(base)) {
		sb_puts(out, u);
		return;
	}
	const char *host = strstr(base, "://") + 3;
	size_t origin = (size_t)(host - base) + strcspn(host, "/?#");
	if (u[0] == '/' && u[1] == '/') {
		sb_append(out, base, (size_t)(host - base) - 2);   /* "https:" */
		sb_puts(out, u);
	} else if (u[0] == '/') {
		sb_append(out, base, origin);
		sb_puts(out, u);
	} else {
		/* Relative to the base's directory. */
		size_t path_end = origin + strcspn(base + origin, "?#");
		size_t dir = path_end;
		while (dir > origin && base[dir - 1] != '/')
			dir--;
		if (dir == origin) {
			sb_append(out, base, origin);
			sb_putc(out, '/');
		} else {
			sb_append(out, base, dir);
		}
		sb_puts(out, u);
	}
}

/* ---- items ---- */

/* A BCP-47 tag's shape: letters, digits and hyphens, starting with a letter. */
static bool lang_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= LIMIT_POST_LANG_BYTES || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* An author object's key: its name, else its URL. */
static const char *author_key(json_t *a)
{
	const char *s;

	if (!json_is_object(a))
		return NULL;
	if ((s = json_str_nonempty(a, "name", NULL)))
		return s;
	return json_str_nonempty(a, "url", NULL);
}

/* 1.1's authors[] first, then 1.0's author. */
static const char *authors_get(json_t *obj)
{
	json_t *arr = json_object_get(obj, "authors");
	const char *s;

	for (size_t i = 0; i < json_array_size(arr); i++)
		if ((s = author_key(json_array_get(arr, i))))
			return s;
	return author_key(json_object_get(obj, "author"));
}

struct scratch {
	struct strbuf id, url, title, text;
	struct html_text *html;   /* borrowed */
	const char *base;         /* borrowed: what relative URLs resolve against, or NULL */
	const char *feed_author;  /* borrowed */
	const char *feed_lang;    /* borrowed */
	int64_t now_ms;
	bool has_cursor;
	int64_t cursor_ms;
	int64_t newest_ms;        /* INT64_MIN: no dated item */
};

/*
 * Reads one item into *out. Returns 0 (post made), 1 (malformed: skip it),
 * 2 (older than the cursor: ignore it) or -ENOMEM.
 */
static int item_read(json_t *item, const struct feed_input *in, struct scratch *sc,
		     struct post **out)
{
	json_t *idv = json_object_get(item, "id");
	const char *url, *s, *author, *lang;
	size_t len;
	int64_t created_ms;
	int rc;

	*out = NULL;
	url = json_str_nonempty(item, "url", NULL);
	if (!url)
		url = json_str_nonempty(item, "external_url", NULL);
	sb_reset(&sc->id);
	if (json_is_string(idv) && json_string_length(idv) > 0)
		sb_append(&sc->id, json_string_value(idv), json_string_length(idv));
	else if (json_is_integer(idv))
		sb_put_i64(&sc->id, (int64_t)json_integer_value(idv));
	else if (url)
		sb_puts(&sc->id, url);
	else
		return 1;
	/* An id cut to fit would no longer be unique. */
	if (sc->id.len >= LIMIT_POST_ID_BYTES || memchr(sc->id.buf, 0, sc->id.len))
		return 1;

	if (date_get(item, "date_published", &created_ms) ||
	    date_get(item, "date_modified", &created_ms)) {
		if (sc->has_cursor && created_ms < sc->cursor_ms)
			return 2;
		if (created_ms > sc->newest_ms)
			sc->newest_ms = created_ms;
	} else {
		created_ms = sc->now_ms;
	}

	sb_reset(&sc->url);
	if (url)
		url_resolve(&sc->url, url, sc->base);
	/* Only web links are links: a "javascript:" URL must not reach a dashboard's href. */
	if (!url_is_http(sc->url.buf))
		sb_reset(&sc->url);

	sb_reset(&sc->title);
	if ((s = json_str_nonempty(item, "title", &len)))
		put_decoded(&sc->title, s, len);

	sb_reset(&sc->text);
	if ((s = json_str_nonempty(item, "content_html", &len)) &&
	    (rc = html_text_convert(sc->html, s, len, &sc->text)) < 0)
		return rc;
	if (sc->text.len == 0 && (s = json_str_nonempty(item, "content_text", &len)))
		sb_append(&sc->text, s, len);
	if (sc->text.len == 0 && (s = json_str_nonempty(item, "summary", &len)))
		sb_append(&sc->text, s, len);

	author = authors_get(item);
	if (!author)
		author = sc->feed_author;
	lang = json_str_nonempty(item, "language", NULL);
	if (!lang || !lang_valid(lang))
		lang = sc->feed_lang;
	if (sc->id.failed || sc->url.failed || sc->title.failed || sc->text.failed)
		return -ENOMEM;

	struct post_fields f = {
		.source_id = in->source_id,
		.created_at_ms = created_ms,
		.id = sc->id.buf,
		.url = sc->url.buf ? sc->url.buf : "",
		.author = author,
		.lang = lang,
		.title = sc->title.buf ? sc->title.buf : "",
		.text = sc->text.buf ? sc->text.buf : "",
		.text_len = sc->text.len,
	};
	*out = post_new(&f);
	return *out ? 0 : -ENOMEM;
}

int feed_jsonfeed_parse(const struct feed_input *in, struct feed_doc *doc)
{
	struct scratch sc = {
		.id = STRBUF_INIT, .url = STRBUF_INIT, .title = STRBUF_INIT, .text = STRBUF_INIT,
		.html = in->html, .feed_author = "", .feed_lang = "", .now_ms = clock_now_ms(),
		.newest_ms = INT64_MIN,
	};
	struct html_text *own_html = NULL;
	struct strbuf title = STRBUF_INIT;
	json_t *root = NULL, *items;
	const char *s;
	size_t len;
	int rc = 0;

	free(doc->title);
	if (!(doc->title = strdup("")))
		return -ENOMEM;
	if (!(root = json_doc_load(in, doc, "not a JSON Feed")))
		return 0;
	if (!json_is_object(root)) {
		feed_doc_fail(doc, "not a JSON Feed: expected an object, got %s",
			      json_type_name(root));
		goto out;
	}
	if ((s = json_str_nonempty(root, "version", &len)) && !strstr(s, JSONFEED_VERSION_PREFIX)) {
		feed_doc_fail(doc, "not a JSON Feed: version is \"%.100s\"", s);
		goto out;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items)) {
		feed_doc_fail(doc, "not a JSON Feed: no \"items\" array");
		goto out;
	}
	if ((s = json_str_nonempty(root, "title", &len))) {
		put_decoded(&title, s, len);
		if (title.failed) {
			rc = -ENOMEM;
			goto out;
		}
		free(doc->title);
		doc->title = sb_detach(&title, NULL);
		if (!doc->title) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if ((s = authors_get(root)))
		sc.feed_author = s;
	if ((s = json_str_nonempty(root, "language", NULL)) && lang_valid(s))
		sc.feed_lang = s;
	sc.base = url_is_http(in->base_url) ? in->base_url : json_str_nonempty(root, "feed_url", NULL);
	if (!url_is_http(sc.base))
		sc.base = json_str_nonempty(root, "home_page_url", NULL);
	if (in->cursor && in->cursor[0] &&
	    clock_parse_rfc3339(in->cursor, strlen(in->cursor), &sc.cursor_ms) == 0)
		sc.has_cursor = true;
	if (!sc.html) {
		if ((rc = html_text_new(&own_html)) < 0)
			goto out;
		sc.html = own_html;
	}

	size_t n = json_array_size(items);
	doc->items = n;
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_array_get(items, i);
		struct post *p;

		if (!json_is_object(item) || doc->nposts >= LIMIT_POSTS_PER_PAGE) {
			doc->skipped++;
			continue;
		}
		rc = item_read(item, in, &sc, &p);
		if (rc < 0)
			goto out;
		if (rc == 1)
			doc->skipped++;
		if (rc != 0) {
			rc = 0;
			continue;
		}
		if ((rc = feed_doc_add(doc, p)) < 0)
			goto out;
	}
	/* A date in the future must not hide the items dated before it on later polls. */
	if (sc.newest_ms > sc.now_ms)
		sc.newest_ms = sc.now_ms;
	if (sc.newest_ms != INT64_MIN && (!sc.has_cursor || sc.newest_ms > sc.cursor_ms)) {
		char buf[32];
		clock_format_rfc3339_ms(sc.newest_ms, buf, sizeof buf);
		if (!(doc->cursor = strdup(buf)))
			rc = -ENOMEM;
	}
out:
	json_decref(root);
	html_text_free(own_html);
	sb_free(&title);
	sb_free(&sc.id);
	sb_free(&sc.url);
	sb_free(&sc.title);
	sb_free(&sc.text);
	return rc;
}

/* Whether some "version" key in b[0..len) has a JSON Feed version URL as its value. */
static bool version_in(const char *b, size_t len)
{
	const char *p = b, *end = b + len;

	while ((p = memmem(p, (size_t)(end - p), "\"version\"", 9))) {
		const char *q = p + 9;
		p = q;
		while (q < end && isspace((unsigned char)*q))
			q++;
		if (q >= end || *q++ != ':')
			continue;
		while (q < end && isspace((unsigned char)*q))
			q++;
		/* "https://jsonfeed.org/version/1.1", also with http:// and escaped slashes. */
		size_t n = (size_t)(end - q) < 48 ? (size_t)(end - q) : 48;
		if (n > 0 && *q == '"' && memmem(q, n, "jsonfeed.org", 12))
			return true;
	}
	return false;
}

int feed_jsonfeed_detect(const char *body, size_t len, const char *content_type)
{
	size_t i = 0, window;

	if (content_type && !strncasecmp(content_type, "application/feed+json", 21))
		return 100;
	if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len || body[i] != '{')
		return 0;
	/* "version" comes first in most feeds; look at the head and, failing that, the tail. */
	window = len - i < 4096 ? len - i : 4096;
	if (version_in(body + i, window))
		return 100;
	if (len - i > 4096 && version_in(body + len - 4096, 4096))
		return 100;
	return 0;
}
