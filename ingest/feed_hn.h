/*
 * feed_hn.h - Hacker News items from the HN Search API (Algolia,
 * /api/v1/search and /api/v1/search_by_date) to posts.
 *
 * Used by the ingest thread for `hn` sources and by `trendd parse`; it keeps
 * no state between calls, so any thread may call it.
 *
 * A document is {"hits": [...], "nbHits", "page", "nbPages", "hitsPerPage",
 * ...}. Mapping of a hit (a story or a comment, by its `_tags`):
 *   id          `objectID` (the HN item id)
 *   url         `url` (a story's link), else
 *               https://news.ycombinator.com/item?id=<objectID>
 *   author      `author` (HN usernames never change)
 *   created_at  `created_at_i` (epoch seconds), else `created_at` (RFC 3339)
 *   title       a story's `title`; "" for comments
 *   text        the text of the HTML `story_text` / `comment_text`, or ""
 *               for a link story: the analytics read title and text
 *               together, so repeating the title there would count its
 *               words twice
 *   lang        "" (HN does not say)
 * A hit without an objectID, time or author, or a comment without text, is
 * skipped and counted. A body without a "hits" array is a document error:
 * "HN Search error 400: <message>" for the API's {"message", "status"}
 * bodies, else "not an HN Search result: ...".
 *
 * Cursor: "<S>" or "<S>:<id>,<id>,...": S is the greatest created_at_i seen
 * and the ids are those of the items created in that very second, so that a
 * request for created_at_i >= S (which an item indexed late in that second
 * needs) does not return them twice. Hits before S, and hits in S listed in
 * the cursor, are ignored. Anything after a '@' in the cursor is the source
 * kind's and is ignored here.
 */
#ifndef TRENDD_FEED_HN_H
#define TRENDD_FEED_HN_H

#include "ingest/feed.h"

/* Ids of the cursor's second kept in the cursor; more are left to the ingest dedup. */
#define HN_CURSOR_IDS_MAX 64
/* Latest created_at_i taken as a time (year 5138): beyond is garbage, not a post. */
#define HN_TIME_MAX_S 100000000000LL

/* The paging numbers of a result, -1 where the document does not give them. */
struct hn_page_info {
	long page, nb_pages, nb_hits, hits_per_page;
};

extern const struct feed_format feed_format_hn;

int feed_hn_detect(const char *body, size_t len, const char *content_type);
int feed_hn_parse(const struct feed_input *in, struct feed_doc *doc);
/* feed_hn_parse() that also reports the paging numbers (info may be NULL). */
int feed_hn_parse_page(const struct feed_input *in, struct feed_doc *doc,
		       struct hn_page_info *info);

#endif
