/*
 * source_hn.h - the `hn` source kind: polls new Hacker News stories and
 * comments through the HN Search API (Algolia), newest first.
 *
 * Settings: url is the API's address, "https://hn.algolia.com" (also with
 * "/api/v1", or the full ".../search_by_date" endpoint; query parameters of
 * its own are kept). params_json is {"tags": "(story,comment)",
 * "query": "...", "hits_per_page": 1..1000}, all optional. Requests are
 *   GET {url}/api/v1/search_by_date?tags=T[&query=Q]&hitsPerPage=N
 *       [&numericFilters=created_at_i>=S][&page=P]
 *
 * Cursor: "S:ids" (ingest/feed_hn.h): the newest second seen and the ids
 * seen in it. Asking for created_at_i >= S rather than > S lets an item that
 * the index got late in second S through; the ids keep the others from
 * coming twice. The first poll takes the newest page only.
 *
 * Catching up: results come newest first, so when more than a page is newer
 * than the cursor (nbPages > 1 on page 0) the page in hand is dropped and the
 * oldest page is read instead ("S:ids@P" asks for page P). Its newest second
 * becomes the cursor and the scheduler polls again at once, until one page
 * holds everything newer. The API serves at most 1000 hits per query, so
 * after a very long outage the oldest items beyond that are not reached.
 */
#ifndef TRENDD_SOURCE_HN_H
#define TRENDD_SOURCE_HN_H

#include "ingest/source_kind.h"

#define HN_HITS_PER_PAGE_DEFAULT 100
#define HN_HITS_PER_PAGE_MAX     1000   /* the API's own maximum */
#define HN_PARAM_MAX             256    /* bytes of params.tags and params.query */
#define HN_URL_MAX               1024

extern const struct source_kind source_kind_hn;

#endif
