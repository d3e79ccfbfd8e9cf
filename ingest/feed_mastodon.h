/*
 * feed_mastodon.h - Mastodon REST timelines (a JSON array of statuses) to posts.
 *
 * Used by the ingest thread for `mastodon` sources and by `trendd parse`; it
 * keeps no state between calls, so any thread may call it.
 *
 * Mapping of a status (for a reblog, of the original status in `reblog`):
 *   id          the status id (a reblog is keyed by the original, so one post
 *               reblogged many times counts once)
 *   url         `url`, else `uri`
 *   author      `account.url`, the account's profile URL on its home server.
 *               `account.acct` is not used as is: it is relative to the server
 *               answering ("bob" there is "bob@example.social" elsewhere), so
 *               the same person would have different keys on different
 *               instances. Without a URL: `account.uri`, else `acct` qualified
 *               with the host of the base URL ("bob@host").
 *   lang        `language`, or "" when null
 *   created_at  `created_at` (RFC 3339, milliseconds)
 *   title       ""
 *   text        `spoiler_text`, a blank line, then the text of the HTML `content`
 *
 * A status without a usable id, created_at, content or account is skipped and
 * counted. A body that is not an array is a document error: "Mastodon error:
 * <msg>" for the server's {"error": ...} objects, else "not a Mastodon
 * timeline: ...". The cursor is the greatest timeline id on the page (of the
 * statuses themselves, reblogs included, since that is what min_id pages by);
 * statuses at or below the input cursor are ignored.
 */
#ifndef TRENDD_FEED_MASTODON_H
#define TRENDD_FEED_MASTODON_H

#include "ingest/feed.h"

extern const struct feed_format feed_format_mastodon;

int feed_mastodon_detect(const char *body, size_t len, const char *content_type);
int feed_mastodon_parse(const struct feed_input *in, struct feed_doc *doc);

/*
 * Orders two status ids as the server does: ids are integers (or, on some
 * servers, fixed-width sortable strings), so a longer id is greater and ids of
 * equal length compare bytewise. Leading zeros are ignored. Returns <0, 0, >0.
 */
int feed_mastodon_id_cmp(const char *a, const char *b);

#endif
