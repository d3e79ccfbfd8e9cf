/*
 * feed.h - what a feed parser produces from one document, and the table of
 * document formats (`trendd parse --format`, and the parsers source kinds use).
 *
 * A parser turns one response body into a feed_doc: the posts it could read,
 * a count of the items it had to skip, the document-level verdict (well
 * formed or not, with a readable error) and the source's new cursor. A
 * malformed item never spoils the rest of the document; a malformed document
 * gives no posts and an error - unless the format can recover from errors
 * (XML feeds): then wellformed is false, error says why and posts holds
 * what could be read (feed_doc_recovered()).
 *
 * A feed_doc is owned by whoever called the parser, on that thread. The
 * helpers here are inline so that a parser and its unit test need nothing
 * beyond the parser's own file.
 */
#ifndef TRENDD_FEED_H
#define TRENDD_FEED_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/post.h"

struct html_text;

/* One document to parse. Every pointer is borrowed for the call. */
struct feed_input {
	const char *body;
	size_t len;
	const char *content_type;   /* NULL or the response's Content-Type */
	const char *base_url;       /* NULL or the URL the document came from */
	const char *cursor;         /* NULL/"" or the source's cursor: older items are ignored */
	int64_t source_id;          /* copied into every post */
	struct html_text *html;     /* NULL or a converter to reuse (the caller's thread) */
	const char *link;           /* NULL or the response's Link header (pagination) */
};

struct feed_doc {
	struct post **posts;        /* owned array of owned posts, document order */
	size_t nposts, cap;
	size_t items;               /* items the document held, skipped ones included */
	size_t skipped;             /* malformed items left out */
	bool wellformed;            /* false: error says why; posts is empty unless recovered */
	char error[256];            /* "" when wellformed */
	char *title;                /* owned; the document's title or "" (NULL before parsing) */
	char *cursor;               /* owned; the newest position seen, NULL when none */
	char *next_url;             /* owned; where the next page is, when the response said */
};

static inline void feed_doc_init(struct feed_doc *d)
{
	memset(d, 0, sizeof *d);
	d->wellformed = true;
}

static inline void feed_doc_clear(struct feed_doc *d)
{
	for (size_t i = 0; i < d->nposts; i++)
		post_free(d->posts[i]);
	free(d->posts);
	free(d->title);
	free(d->cursor);
	free(d->next_url);
	feed_doc_init(d);
}

/* Takes over p (freed on failure). Returns 0 or -ENOMEM. */
static inline int feed_doc_add(struct feed_doc *d, struct post *p)
{
	if (d->nposts == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct post **np = realloc(d->posts, cap * sizeof *np);
		if (!np) {
			post_free(p);
			return -ENOMEM;
		}
		d->posts = np;
		d->cap = cap;
	}
	d->posts[d->nposts++] = p;
	return 0;
}

/* Marks the document ill-formed with a message; drops any posts already read. */
static inline void feed_doc_fail(struct feed_doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void feed_doc_fail(struct feed_doc *d, const char *fmt, ...)
{
	char tmp[sizeof d->error];
	va_list ap;

	for (size_t i = 0; i < d->nposts; i++)
		post_free(d->posts[i]);
	d->nposts = 0;
	d->wellformed = false;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	/* The message quotes input and may have been cut mid-character. */
	utf8_sanitize(d->error, sizeof d->error, tmp, strlen(tmp));
}

/*
 * Marks the document ill-formed but keeps the posts read from it (a format
 * that recovers from errors). The first reason given is the one kept.
 */
static inline void feed_doc_recovered(struct feed_doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void feed_doc_recovered(struct feed_doc *d, const char *fmt, ...)
{
	char tmp[sizeof d->error];
	va_list ap;

	if (!d->wellformed)
		return;
	d->wellformed = false;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	utf8_sanitize(d->error, sizeof d->error, tmp, strlen(tmp));
}

/*
 * A document format. detect() looks at the first bytes and the content type
 * and answers how sure it is (0 = not this format, 100 = certain); parse()
 * fills doc (initialised by the caller) and returns 0, or -ENOMEM. An
 * ill-formed document is not an error return: it is doc->wellformed = false.
 */
struct feed_format {
	const char *name;
	int (*detect)(const char *body, size_t len, const char *content_type);
	int (*parse)(const struct feed_input *in, struct feed_doc *doc);
};

/* The format named name, or NULL. */
const struct feed_format *feed_format_find(const char *name);
/* The most likely format of a document, or NULL when none claims it. */
const struct feed_format *feed_format_detect(const char *body, size_t len,
					     const char *content_type);
/* Writes the known format names separated by "|", for usage messages. */
void feed_format_names(char *buf, size_t cap);

#endif
