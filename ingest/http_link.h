/*
 * http_link.h - the pagination links of an HTTP `Link` header (RFC 8288), as
 * Mastodon sends them:
 *
 *   Link: <https://m.example/api/v1/timelines/public?max_id=7>; rel="next",
 *         <https://m.example/api/v1/timelines/public?min_id=9>; rel="prev"
 *
 * and the same-origin test that decides whether such a link may be followed.
 * Pure functions of their arguments; any thread.
 */
#ifndef TRENDD_HTTP_LINK_H
#define TRENDD_HTTP_LINK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Copies the target of the first link whose rel includes `rel` (compared
 * case-insensitively; rel may list several types) into out. Returns 0,
 * -ENOENT when there is none (or the header is malformed before one is
 * found), or -E2BIG when the target does not fit in cap bytes.
 */
int http_link_find(const char *header, const char *rel, char *out, size_t cap);

/*
 * True when both are http(s) URLs with the same scheme, host (case-
 * insensitive) and port (80 / 443 when none is given).
 */
bool http_url_same_origin(const char *a, const char *b);

/*
 * Copies the value of query parameter name of url into out (not
 * percent-decoded). Returns 0, -ENOENT, or -E2BIG when it does not fit.
 */
int http_url_query_get(const char *url, const char *name, char *out, size_t cap);

#endif
