/*
 * html_text.h - HTML fragments (post bodies, feed summaries) to plain text.
 *
 * The fragment is parsed with libxml2's HTML parser, which recovers from any
 * input the way a browser would and decodes every entity, and the tree is
 * walked to collect the text: <br> becomes a newline, block elements (p, div,
 * li, h1-h6, blockquote, pre, tr, ...) are separated by newlines or blank
 * lines, runs of ASCII whitespace collapse to one space (kept verbatim inside
 * <pre>), and script, style, template and head content is dropped. Markup is
 * never stripped with patterns.
 *
 * A converter belongs to one thread (the ingest thread keeps one; the CLI
 * tools make their own). It keeps a libxml2 parser context between calls and
 * replaces it when its name dictionary has grown, so a long run over hostile
 * input does not grow memory.
 *
 * Invariants of the output: valid UTF-8 without NUL bytes, no leading or
 * trailing whitespace, at most HTML_TEXT_MAX_OUTPUT bytes (cut at a character
 * boundary). Input beyond LIMIT_HTML_INPUT_BYTES is ignored; invalid UTF-8 and
 * NUL bytes in the input become U+FFFD before parsing.
 */
#ifndef TRENDD_HTML_TEXT_H
#define TRENDD_HTML_TEXT_H

#include <stddef.h>

#include "core/limits.h"
#include "core/strbuf.h"

/* Text longer than a post can hold is of no use to anyone downstream. */
#define HTML_TEXT_MAX_OUTPUT LIMIT_POST_TEXT_BYTES

struct html_text;

/*
 * Initialises libxml2 once per process (xmlInitParser). Safe to call from any
 * thread any number of times; html_text_new() calls it.
 */
void html_text_global_init(void);

/* Returns 0 or -ENOMEM. */
int html_text_new(struct html_text **out);
void html_text_free(struct html_text *h);

/*
 * Appends the text of html[0..len) to out. Returns 0, or -ENOMEM (out may
 * then hold a partial result). Any input, however broken, gives 0 and some
 * text, possibly empty.
 */
int html_text_convert(struct html_text *h, const char *html, size_t len, struct strbuf *out);

/* One-shot form of html_text_convert() with a temporary converter. */
int html_to_text(const char *html, size_t len, struct strbuf *out);

#endif
