/*
 * json_util.h - small helpers the JSON document parsers share (Mastodon,
 * Reddit, Hacker News, JSON Feed, Jetstream), and the URL scheme checks and
 * query escaping of the parsers and source kinds. Header-only; stateless;
 * any thread.
 */
#ifndef TRENDD_JSON_UTIL_H
#define TRENDD_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>

#include "core/strbuf.h"
#include "ingest/feed.h"

/* Whether s starts with an http or https scheme (schemes are case-insensitive). */
static inline bool url_is_http(const char *s)
{
	return s && (!strncasecmp(s, "https://", 8) || !strncasecmp(s, "http://", 7));
}

/* An http(s) URL with something after the scheme: one a source can fetch. */
static inline bool url_is_fetchable(const char *s)
{
	if (!url_is_http(s))
		return false;
	return s[4] == ':' ? s[7] != 0 : s[8] != 0;
}

/* Appends s[0..len) percent-encoded: all but RFC 3986 unreserved characters. */
static inline void url_put_escaped(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			sb_putc(sb, (char)c);
		} else {
			sb_putc(sb, '%');
			sb_putc(sb, hex[c >> 4]);
			sb_putc(sb, hex[c & 15]);
		}
	}
}

/* The string value of obj[key] when it is a non-empty string, else NULL. */
static inline const char *json_str_nonempty(json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}

/*
 * Copies the string member key of the JSON object in body[0..len) into buf
 * (empty when the body is no such object): the message an API's error
 * answer carries.
 */
static inline void json_member_text(const char *body, size_t len, const char *key, char *buf,
				    size_t cap)
{
	json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(root, key));

	buf[0] = 0;
	if (msg)
		snprintf(buf, cap, "%s", msg);
	json_decref(root);
}

/* "an object", "a number", ...: for errors that say what a document held instead. */
static inline const char *json_type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

/*
 * Parses the body of in as JSON, keeping NULs inside strings (they are
 * replaced later) rather than failing the page. On an empty or invalid body
 * it fails doc with "<what>: empty body" or "<what>: invalid JSON at line L
 * column C: ..." and returns NULL.
 */
static inline json_t *json_doc_load(const struct feed_input *in, struct feed_doc *doc,
				    const char *what)
{
	json_error_t jerr;
	json_t *root;

	if (in->len == 0) {
		feed_doc_fail(doc, "%s: empty body", what);
		return NULL;
	}
	if (!(root = json_loadb(in->body, in->len, JSON_ALLOW_NUL, &jerr)))
		feed_doc_fail(doc, "%s: invalid JSON at line %d column %d: %s", what, jerr.line,
			      jerr.column, jerr.text);
	return root;
}

#endif
