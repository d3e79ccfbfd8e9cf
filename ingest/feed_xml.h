/*
 * feed_xml.h - RSS 0.90/0.9x/1.0 (RDF)/2.0, Atom 0.3/1.0 and CDF documents
 * to posts, with libxml2. Used by the ingest thread for `rss` and `atom`
 * sources and by `trendd parse`; it keeps no state between calls, so any
 * thread may call it (with its own html_text converter).
 *
 * Reading a document takes three steps.
 *
 * 1. Bytes to UTF-8. The encoding is chosen as RFC 3023 and feedparser do:
 *    a charset in the Content-Type wins for application/xml, text/xml and
 *    their +xml relatives; text/... types without a charset mean us-ascii;
 *    otherwise the XML declaration, then UTF-8. BOMs and the UTF-16/32
 *    byte patterns of "<?" are recognised. When the bytes are not valid in
 *    that encoding the declared one, the BOM's, UTF-8, windows-1252 and
 *    iso-8859-2 are tried in turn and the document is reported ill-formed
 *    ("the bytes are not valid us-ascii ...; read as utf-8"). Any encoding the C
 *    library's iconv knows is read (libxml2 uses the same iconv).
 *
 * 2. Repair. Feeds are often almost XML: HTML entities (&nbsp;), bare '&'
 *    in URLs, "&#X41;", control characters, whitespace before the XML
 *    declaration. A scan outside comments, CDATA and the DOCTYPE rewrites
 *    these into what they obviously mean (HTML entities become character
 *    references, a stray '&' becomes "&#38;", an unknown entity stays as
 *    its text) and notes the first one as the reason the document is not
 *    well-formed. Entities declared in the internal subset are kept.
 *
 * 3. libxml2 builds the tree with XML_PARSE_RECOVER | XML_PARSE_NONET and
 *    without XML_PARSE_NOENT / DTDLOAD / HUGE: no network, no external
 *    entities or DTDs, libxml2's own limits on depth, names and entity
 *    amplification. Internal entities are expanded here, within
 *    FEED_XML_ENTITY_BUDGET. If libxml2 reports an error, the document is
 *    parsed again from a copy in which every entity reference is numeric,
 *    because libxml2's recovery drops named references after the first
 *    error.
 *
 * Mapping (names match case-insensitively; namespaces as feedparser knows
 * them, so RSS and Atom elements count in any of their namespaces):
 *   id          guid / atom:id (verbatim), else rdf:about, else the url,
 *               else "h" + a hash of title, date and text
 *   url         the last rel="alternate" HTML link (RSS <link>, Atom
 *               link@href or its text, CDF HREF), else the guid when it is
 *               a permalink URL; resolved against xml:base and the
 *               document URL; javascript:, data:, vbscript: and file: URLs
 *               are dropped
 *   title       the first non-empty title / dc:title, else media:title
 *   text        the first non-empty content:encoded / atom:content /
 *               xhtml:body / fullitem, else the last description / summary /
 *               dc:description / itunes:summary / abstract / media:description
 *   author      the name of the first author / dc:creator / dc:author /
 *               itunes:author (e-mail addresses removed); for Atom the
 *               feed's author when the entry names none
 *   lang        the item's language element, else xml:lang, else the
 *               channel's language
 *   created_at  the last published date (pubDate, published, issued,
 *               dcterms:issued), else the last updated one (updated,
 *               modified, dc:date, dcterms:modified, CDF LASTMOD); the
 *               time of parsing when the item has none
 * Text constructs follow their type: text is taken as is, html and xhtml
 * (and RSS text that looks like HTML) become plain text with html_text.
 * Titles have their whitespace collapsed. Windows-1252 characters sent as
 * C1 controls are mapped to what they meant, and in UTF-8 documents text
 * that was UTF-8 read as Latin-1 and encoded again is decoded once more.
 *
 * Every item becomes a post (up to LIMIT_POSTS_PER_PAGE; the rest are
 * counted as skipped), so post i is item i of the document. The cursor is
 * the newest item date seen (decimal milliseconds, never later than now);
 * items dated at or before the input cursor are left out.
 */
#ifndef TRENDD_FEED_XML_H
#define TRENDD_FEED_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/strbuf.h"
#include "ingest/feed.h"

/* Text produced by expanding internal entities, per document. */
#define FEED_XML_ENTITY_BUDGET    (1024 * 1024)
/* Entity references followed, per document (bounds nested expansions). */
#define FEED_XML_ENTITY_REFS_MAX  10000
/* Raw text gathered for one title or body before it becomes plain text. */
#define FEED_XML_TEXT_MAX         LIMIT_HTML_INPUT_BYTES
/* Distinct entity names remembered from one internal subset. */
#define FEED_XML_DECLARED_MAX     256

extern const struct feed_format feed_format_rss;
extern const struct feed_format feed_format_atom;

/* Scores for feed_format detection: by the root element, then the Content-Type. */
int feed_xml_detect_rss(const char *body, size_t len, const char *content_type);
int feed_xml_detect_atom(const char *body, size_t len, const char *content_type);

/*
 * Reads any of the formats above into doc (the root element decides which).
 * Returns 0 or -ENOMEM. A document that is not a feed at all (no root, an
 * HTML page, unreadable bytes) fails with no posts; a feed that is not
 * well-formed keeps what could be read, doc->wellformed is false and
 * doc->error says why, and *recovered (when not NULL) is set.
 */
int feed_xml_read(const struct feed_input *in, struct feed_doc *doc, bool *recovered);

/* feed_xml_read() without the out-parameter: the feed_format parse function. */
int feed_xml_parse(const struct feed_input *in, struct feed_doc *doc);

/*
 * Step 1 above on its own, for tests and tools: writes the UTF-8 text of
 * body to out (reset first, the BOM removed) and the encoding it was read as
 * ("utf-8", "windows-1252", ...) to used. Returns 0, 1 when the bytes were
 * not what the Content-Type / declaration said (err then explains), or
 * -ENOMEM.
 */
int feed_xml_to_utf8(const char *body, size_t len, const char *content_type, struct strbuf *out,
		     char *used, size_t used_cap, char *err, size_t err_cap);

#endif
