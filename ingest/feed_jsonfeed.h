/*
 * feed_jsonfeed.h - JSON Feed 1.0 and 1.1 documents to posts.
 *
 * Used by the ingest thread for `jsonfeed` sources and by `trendd parse`; it
 * keeps no state between calls, so any thread may call it.
 *
 * A document is an object with "version" https://jsonfeed.org/version/1 or
 * /1.1 and an "items" array; its "title" is the document's title. Mapping of
 * an item:
 *   id          `id` (a number is taken as its decimal text), else `url`,
 *               else `external_url`
 *   url         `url`, else `external_url`; a relative URL is resolved
 *               against the URL the document came from, else `feed_url`,
 *               else `home_page_url`; only http(s) URLs are kept
 *   title       `title`, with character references decoded (feeds made from
 *               HTML titles carry "&#8211;" and the like)
 *   text        the text of `content_html`, else `content_text`, else `summary`
 *   author      the first of 1.1's `authors[]`, else 1.0's `author`, of the
 *               item, else of the feed: its `name`, else its `url`
 *   lang        `language` (1.1) of the item, else of the feed, else ""
 *   created_at  `date_published`, else `date_modified`: RFC 3339, and RFC 822
 *               dates too since real feeds send them; an item without a
 *               usable date is stamped with the time it was read
 * An item that is not an object, has no id, url or external_url, or an id too
 * long to be a key (LIMIT_POST_ID_BYTES) is skipped and counted. A document
 * that is not JSON, not an object, has another "version" (none is accepted)
 * or no "items" array is a document error ("not a JSON Feed: ...").
 *
 * Cursor: the newest item date (RFC 3339 with milliseconds), no later than
 * the time of parsing. Dated items older than the input cursor were read by
 * an earlier poll and are ignored; undated items are always returned (the
 * ingest thread's dedup drops those it emitted already).
 */
#ifndef TRENDD_FEED_JSONFEED_H
#define TRENDD_FEED_JSONFEED_H

#include "ingest/feed.h"

extern const struct feed_format feed_format_jsonfeed;

int feed_jsonfeed_detect(const char *body, size_t len, const char *content_type);
int feed_jsonfeed_parse(const struct feed_input *in, struct feed_doc *doc);

#endif
