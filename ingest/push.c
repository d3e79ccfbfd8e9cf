/*
 * push.c - parsing the NDJSON body of POST /api/ingest into posts.
 */
#include "ingest/push.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/limits.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/feed_date.h"

/* Unix seconds accepted for created_at: 1970 up to the year 9999. */
#define PUSH_MAX_UNIX_S 253402300799.0

static int line_error(struct push_batch *b, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int line_error(struct push_batch *b, size_t line, const char *fmt, ...)
{
	if (b->nerrors < PUSH_MAX_ERRORS) {
		if (!b->errors && !(b->errors = calloc(PUSH_MAX_ERRORS, sizeof *b->errors)))
			return -ENOMEM;
		struct push_error *e = &b->errors[b->nerrors];
		va_list ap;
		e->line = line;
		va_start(ap, fmt);
		vsnprintf(e->error, sizeof e->error, fmt, ap);
		va_end(ap);
	}
	b->nerrors++;
	return 0;
}

/*
 * An optional string field: NULL when absent or null. Returns 0, or 1 with
 * *why set when present but not a string or longer than cap.
 */
static int opt_string(json_t *o, const char *key, size_t cap, const char **out, size_t *len,
		      const char **why)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (len)
		*len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		*why = "must be a string";
		return 1;
	}
	if (json_string_length(v) > cap) {
		*why = "is too long";
		return 1;
	}
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 0;
}

static int created_at(json_t *o, int64_t *ms, const char **why)
{
	json_t *v = json_object_get(o, "created_at");
	if (!v || json_is_null(v)) {
		*why = "\"created_at\" is required";
		return 1;
	}
	if (json_is_number(v)) {
		double s = json_number_value(v);
		if (!isfinite(s) || s < 0 || s > PUSH_MAX_UNIX_S) {
			*why = "\"created_at\" is not a time (unix seconds out of range)";
			return 1;
		}
		*ms = (int64_t)llround(s * 1000.0);
		return 0;
	}
	if (!json_is_string(v) ||
	    feed_date_parse(json_string_value(v), json_string_length(v), ms) < 0) {
		*why = "\"created_at\" is not a time (use RFC 3339, e.g. 2026-11-25T12:00:00Z)";
		return 1;
	}
	return 0;
}

/* An open-addressing set of the batch's id hashes, to drop repeats within it. */
struct idset {
	uint64_t *slot;
	size_t cap;
};

static bool idset_add(struct idset *s, uint64_t h)
{
	if (h == 0)
		h = 1;
	size_t mask = s->cap - 1, i = (size_t)(h ^ (h >> 29)) & mask;
	while (s->slot[i]) {
		if (s->slot[i] == h)
			return false;
		i = (i + 1) & mask;
	}
	s->slot[i] = h;
	return true;
}

/* Reads one line; 0 done (post added, duplicate or error recorded), -ENOMEM. */
static int parse_line(struct push_batch *b, struct idset *ids, const char *s, size_t len,
		      size_t lineno, int64_t source_id)
{
	json_error_t jerr;
	const char *why = NULL, *id, *text, *author, *lang, *url, *title;
	size_t id_len, text_len;
	int64_t ms = 0;
	int rc = 0;

	if (len > PUSH_MAX_LINE_BYTES)
		return line_error(b, lineno, "line is longer than %d bytes", PUSH_MAX_LINE_BYTES);
	if (b->lines > PUSH_MAX_LINES)
		return line_error(b, lineno, "more than %d posts in one request", PUSH_MAX_LINES);
	json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!o)
		return line_error(b, lineno, "not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		rc = line_error(b, lineno, "not a JSON object");
		goto out;
	}
	if (opt_string(o, "id", LIMIT_POST_ID_BYTES, &id, &id_len, &why) || !id || !id_len ||
	    strlen(id) != id_len) {
		rc = line_error(b, lineno, "\"id\" %s",
				why ? why : id && id_len ? "must not contain NUL" : "is required");
		goto out;
	}
	if (opt_string(o, "text", PUSH_MAX_LINE_BYTES, &text, &text_len, &why) || !text) {
		rc = line_error(b, lineno, "\"text\" %s", why ? why : "is required");
		goto out;
	}
	if (created_at(o, &ms, &why)) {
		rc = line_error(b, lineno, "%s", why);
		goto out;
	}
	static const struct {
		const char *key;
		size_t cap;
	} opt[] = {
		{ "author", LIMIT_POST_AUTHOR_BYTES }, { "lang", LIMIT_POST_LANG_BYTES },
		{ "url", LIMIT_POST_URL_BYTES },      { "title", LIMIT_POST_TITLE_BYTES },
	};
	const char **dst[] = { &author, &lang, &url, &title };
	for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
		if (opt_string(o, opt[i].key, opt[i].cap, dst[i], NULL, &why)) {
			rc = line_error(b, lineno, "\"%s\" %s", opt[i].key, why);
			goto out;
		}
	}
	if (!idset_add(ids, hash_bytes(id, id_len))) {
		b->duplicates++;
		goto out;
	}
	struct post_fields f = {
		.source_id = source_id, .created_at_ms = ms, .id = id, .url = url,
		/* Without an author every post counts as its own: one per id. */
		.author = author && *author ? author : id,
		.lang = lang, .title = title, .text = text, .text_len = text_len,
	};
	struct post *p = post_new(&f);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	b->posts[b->nposts++] = p;
out:
	json_decref(o);
	return rc;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int push_parse(const char *body, size_t len, int64_t source_id, struct push_batch *out)
{
	struct idset ids = { 0 };
	size_t nlines = 1, lineno = 0;
	int rc = 0;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < len; i++)
		nlines += body[i] == '\n';
	if (nlines > PUSH_MAX_LINES + 1)
		nlines = PUSH_MAX_LINES + 1;
	for (ids.cap = 16; ids.cap < nlines * 2; ids.cap *= 2)
		;
	ids.slot = calloc(ids.cap, sizeof *ids.slot);
	out->posts = calloc(nlines, sizeof *out->posts);
	if (!ids.slot || !out->posts) {
		rc = -ENOMEM;
		goto out;
	}
	for (const char *p = body, *end = body + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (!blank(p, n)) {
			out->lines++;
			if ((rc = parse_line(out, &ids, p, n, lineno, source_id)) < 0)
				goto out;
		}
		p += n + 1;
	}
out:
	free(ids.slot);
	if (rc < 0)
		push_batch_clear(out);
	return rc;
}

void push_batch_clear(struct push_batch *b)
{
	for (size_t i = 0; i < b->nposts; i++)
		post_free(b->posts[i]);
	free(b->posts);
	free(b->errors);
	memset(b, 0, sizeof *b);
}

void push_reply_json(struct strbuf *sb, size_t accepted, size_t duplicates,
		     const struct push_batch *b)
{
	sb_puts(sb, "{\"accepted\":");
	sb_put_u64(sb, accepted);
	sb_puts(sb, ",\"duplicates\":");
	sb_put_u64(sb, duplicates);
	push_errors_json(sb, b);
	sb_putc(sb, '}');
}

void push_errors_json(struct strbuf *sb, const struct push_batch *b)
{
	size_t shown = b->nerrors < PUSH_MAX_ERRORS ? b->nerrors : PUSH_MAX_ERRORS;

	sb_puts(sb, ",\"errors\":[");
	for (size_t i = 0; i < shown; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_puts(sb, "{\"line\":");
		sb_put_u64(sb, b->errors[i].line);
		sb_puts(sb, ",\"error\":");
		sb_json_cstr(sb, b->errors[i].error);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]");
	if (b->nerrors > shown) {
		sb_puts(sb, ",\"errors_not_shown\":");
		sb_put_u64(sb, b->nerrors - shown);
	}
}
