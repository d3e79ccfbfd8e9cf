#include "ingest/feed_mastodon.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "ingest/html_text.h"
#include "ingest/json_util.h"

const struct feed_format feed_format_mastodon = {
	.name = "mastodon",
	.detect = feed_mastodon_detect,
	.parse = feed_mastodon_parse,
};

static const char *skip_zeros(const char *s, size_t *len)
{
	while (*len > 1 && *s == '0') {
		s++;
		(*len)--;
	}
	return s;
}

int feed_mastodon_id_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	a = skip_zeros(a, &la);
	b = skip_zeros(b, &lb);
	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(a, b, la);
}

/* An id is 1..LIMIT_POST_ID_BYTES-1 visible ASCII characters: it goes into URLs and keys. */
static bool id_valid(const char *s, size_t len)
{
	if (len == 0 || len >= LIMIT_POST_ID_BYTES)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Appends the host[:port] of an http(s) URL; nothing when url is not one. */
static void put_host(struct strbuf *sb, const char *url)
{
	if (!url_is_http(url))
		return;
	const char *h = strstr(url, "://") + 3;
	size_t n = strcspn(h, "/?#");
	const char *at = memchr(h, '@', n);   /* user:password@ is not part of the host */
	if (at) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	sb_append(sb, h, n);
}

/* See the header for why the profile URL comes first. */
static bool author_get(json_t *account, const char *base_url, struct strbuf *out)
{
	const char *s;

	sb_reset(out);
	if ((s = json_str_nonempty(account, "url", NULL)) && url_is_http(s)) {
		sb_puts(out, s);
		return true;
	}
	if ((s = json_str_nonempty(account, "uri", NULL)) && url_is_http(s)) {
		sb_puts(out, s);
		return true;
	}
	if ((s = json_str_nonempty(account, "acct", NULL))) {
		sb_puts(out, s);
		if (!strchr(s, '@') && url_is_http(base_url)) {
			sb_putc(out, '@');
			put_host(out, base_url);
		}
		return true;
	}
	return false;
}

/* Scratch buffers reused across the statuses of one page. */
struct scratch {
	struct strbuf text, author;
	struct html_text *html;   /* borrowed */
};

/*
 * Reads one status into *out. Returns 0 (post made), 1 (malformed: skip it)
 * or -ENOMEM.
 */
static int status_read(json_t *st, const struct feed_input *in, struct scratch *sc,
		       struct post **out)
{
	json_t *reblog = json_object_get(st, "reblog");
	json_t *account, *content, *lang;
	const char *id, *created, *url, *spoiler;
	size_t id_len, created_len, spoiler_len = 0;
	int64_t created_ms;
	int rc;

	*out = NULL;
	if (reblog && !json_is_null(reblog)) {
		/* Count the original once, however often it is reblogged. */
		if (!json_is_object(reblog))
			return 1;
		st = reblog;
	}
	id = json_str_nonempty(st, "id", &id_len);
	if (!id || !id_valid(id, id_len))
		return 1;
	created = json_str_nonempty(st, "created_at", &created_len);
	if (!created || clock_parse_rfc3339(created, created_len, &created_ms) < 0)
		return 1;
	content = json_object_get(st, "content");
	if (!json_is_string(content))
		return 1;
	account = json_object_get(st, "account");
	if (!json_is_object(account) || !author_get(account, in->base_url, &sc->author))
		return 1;
	url = json_str_nonempty(st, "url", NULL);
	if (!url)
		url = json_str_nonempty(st, "uri", NULL);
	lang = json_object_get(st, "language");
	spoiler = json_str_nonempty(st, "spoiler_text", &spoiler_len);

	sb_reset(&sc->text);
	if (spoiler) {
		/* spoiler_text is plain text already; it is what readers see first. */
		sb_append(&sc->text, spoiler, spoiler_len);
	}
	size_t before = sc->text.len;
	if (spoiler)
		sb_puts(&sc->text, "\n\n");
	size_t body_at = sc->text.len;
	rc = html_text_convert(sc->html, json_string_value(content), json_string_length(content),
			       &sc->text);
	if (rc < 0)
		return rc;
	if (sc->text.len == body_at) {
		/* No body text: drop the separator. */
		sc->text.len = before;
		if (sc->text.buf)
			sc->text.buf[before] = 0;
	}
	if (sc->text.failed || sc->author.failed)
		return -ENOMEM;

	struct post_fields f = {
		.source_id = in->source_id,
		.created_at_ms = created_ms,
		.id = id,
		.url = url,
		.author = sc->author.buf,
		.lang = json_is_string(lang) ? json_string_value(lang) : "",
		.title = "",
		.text = sc->text.buf ? sc->text.buf : "",
		.text_len = sc->text.len,
	};
	*out = post_new(&f);
	return *out ? 0 : -ENOMEM;
}

static void doc_fail_not_array(struct feed_doc *doc, json_t *root)
{
	const char *msg;
	size_t len;

	if (json_is_object(root) && (msg = json_str_nonempty(root, "error", &len))) {
		/* What Mastodon answers on errors: {"error": "..."}. */
		feed_doc_fail(doc, "Mastodon error: %.*s", (int)(len > 200 ? 200 : len), msg);
		return;
	}
	feed_doc_fail(doc, "not a Mastodon timeline: expected a JSON array of statuses, got %s",
		      json_type_name(root));
}

int feed_mastodon_parse(const struct feed_input *in, struct feed_doc *doc)
{
	struct scratch sc = { .text = STRBUF_INIT, .author = STRBUF_INIT, .html = in->html };
	struct html_text *own_html = NULL;
	const char *newest = NULL;
	json_t *root = NULL;
	int rc = 0;

	free(doc->title);
	if (!(doc->title = strdup("")))
		return -ENOMEM;
	if (!(root = json_doc_load(in, doc, "not a Mastodon timeline")))
		return 0;
	if (!json_is_array(root)) {
		doc_fail_not_array(doc, root);
		goto out;
	}
	if (!sc.html) {
		if ((rc = html_text_new(&own_html)) < 0)
			goto out;
		sc.html = own_html;
	}

	size_t n = json_array_size(root);
	doc->items = n;
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array_get(root, i);
		const char *tid;
		size_t tid_len;
		struct post *p;

		if (!json_is_object(st)) {
			doc->skipped++;
			continue;
		}
		/* The timeline position is the status' own id, also for reblogs. */
		tid = json_str_nonempty(st, "id", &tid_len);
		if (tid && id_valid(tid, tid_len)) {
			if (in->cursor && in->cursor[0] && feed_mastodon_id_cmp(tid, in->cursor) <= 0)
				continue;
			if (!newest || feed_mastodon_id_cmp(tid, newest) > 0)
				newest = tid;
		}
		if (doc->nposts >= LIMIT_POSTS_PER_PAGE) {
			doc->skipped++;
			continue;
		}
		rc = status_read(st, in, &sc, &p);
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
	if (newest) {
		free(doc->cursor);
		if (!(doc->cursor = strdup(newest)))
			rc = -ENOMEM;
	}
out:
	json_decref(root);
	html_text_free(own_html);
	sb_free(&sc.text);
	sb_free(&sc.author);
	return rc;
}

int feed_mastodon_detect(const char *body, size_t len, const char *content_type)
{
	size_t i = 0;

	(void)content_type;
	if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len || body[i] != '[')
		return 0;
	for (i++; i < len && isspace((unsigned char)body[i]); i++)
		;
	if (i < len && body[i] == ']')
		return 50;   /* an empty page: a timeline as likely as anything */
	if (i == len || body[i] != '{')
		return 0;
	/* Statuses carry these keys near the start of the first object. */
	size_t window = len - i < 4096 ? len - i : 4096;
	if (memmem(body + i, window, "\"created_at\"", 12) &&
	    (memmem(body + i, window, "\"content\"", 9) ||
	     memmem(body + i, window, "\"account\"", 9)))
		return 90;
	return 30;
}
