/*
 * source_mastodon.h - the `mastodon` source kind: polls a public or hashtag
 * timeline of a Mastodon-compatible server over its REST API.
 *
 * Settings: url is the instance base URL ("https://mastodon.social");
 * params_json is {"timeline": "public"|"local"|"tag", "tag": "...",
 * "limit": 1..40, "local": true|false}, all optional except "tag" for the tag
 * timeline. Requests are
 *   GET {url}/api/v1/timelines/public?limit=N[&local=true][&min_id=CURSOR]
 *   GET {url}/api/v1/timelines/tag/{tag}?limit=N[&local=true][&min_id=CURSOR]
 * min_id returns the statuses just after the cursor, oldest page first, so a
 * source that fell behind catches up page by page: a full page (N statuses)
 * asks the scheduler to poll again at once. The first poll (no cursor) takes
 * the newest page only. The cursor is the greatest status id seen.
 */
#ifndef TRENDD_SOURCE_MASTODON_H
#define TRENDD_SOURCE_MASTODON_H

#include "ingest/source_kind.h"

/* Mastodon answers at most 40 statuses per page, whatever limit asks for. */
#define MASTODON_PAGE_MAX 40

extern const struct source_kind source_kind_mastodon;

#endif
