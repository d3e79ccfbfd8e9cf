/*
 * source_mastodon.h - the `mastodon` source kind: a public or hashtag
 * timeline of a Mastodon-compatible server, polled over its REST API or
 * followed live over its streaming API (Server-Sent Events).
 *
 * Settings: url is the instance base URL ("https://mastodon.social");
 * params_json is {"timeline": "public"|"local"|"tag", "tag": "...",
 * "limit": 1..40, "local": true|false, "max_catchup_pages": 1..100}, all
 * optional except "tag" for the tag timeline. Requests are
 *   GET {url}/api/v1/timelines/public?limit=N[&local=true][&min_id=CURSOR]
 *   GET {url}/api/v1/timelines/tag/{tag}?limit=N[&local=true][&min_id=CURSOR]
 * min_id returns the statuses just after the cursor, oldest page first, so a
 * source that fell behind catches up page by page: a full page (N statuses)
 * asks the scheduler to fetch the next one at once, up to max_catchup_pages
 * pages in a row (default MASTODON_CATCHUP_PAGES). The next page is the
 * response's `Link: <…>; rel="prev"` when that link stays on the same origin
 * and pages with min_id (servers of old put since_id there, which can leave a
 * gap); otherwise it is built from the cursor. The first poll (no cursor)
 * takes the newest page only. The cursor is the greatest status id seen,
 * ids compared as integers.
 *
 * With "stream" set ("public", "public:local", "public:remote", "hashtag",
 * "hashtag:local" - Mastodon's stream names, which say the timeline: "timeline"
 * and "local" are then ignored), the source is not polled but streamed: see
 * source_mastodon_stream.c. Its REST catch-up after a gap pages through the
 * matching timeline exactly as above. "access_token_env" names an environment
 * variable holding an access token, sent as `Authorization: Bearer` (since
 * Mastodon 4.2 the public streams require one); the token itself never
 * appears in the settings. "idle_timeout_s" (default MASTODON_IDLE_TIMEOUT_S)
 * is how long a stream may stay silent - heartbeats included - before it is
 * reconnected.
 */
#ifndef TRENDD_SOURCE_MASTODON_H
#define TRENDD_SOURCE_MASTODON_H

#include <stdbool.h>

#include "ingest/source_kind.h"

/* Mastodon answers at most 40 statuses per page, whatever limit asks for. */
#define MASTODON_PAGE_MAX          40
#define MASTODON_TAG_MAX           100   /* bytes; Mastodon's own limit on tag names is lower */
#define MASTODON_CATCHUP_PAGES     10    /* default pages fetched back to back */
#define MASTODON_CATCHUP_PAGES_MAX 100
/* Mastodon's streaming server sends a heartbeat every 15 s; four missed ones end a stream. */
#define MASTODON_IDLE_TIMEOUT_S    60
#define MASTODON_TOKEN_MAX         512

enum mastodon_timeline { MASTODON_TL_PUBLIC, MASTODON_TL_TAG };

/* A source's parsed settings: the kind state of `mastodon` sources. Immutable once set up. */
struct mastodon_settings {
	enum mastodon_timeline timeline;
	bool local, remote;
	int limit;                          /* statuses per page */
	int max_catchup_pages;
	char stream[16];                    /* "" when polled, else the stream name */
	int idle_timeout_s;
	char token[MASTODON_TOKEN_MAX + 1]; /* "" or the access token */
	char tag[MASTODON_TAG_MAX + 1];
};

extern const struct source_kind source_kind_mastodon;
/* How a streamed `mastodon` source runs (source_mastodon_stream.c). */
extern const struct stream_ops mastodon_stream_ops;

/* Appends the timeline page URL after min_id (none when min_id is NULL or ""). */
int mastodon_timeline_url(const struct mastodon_settings *st, const char *base_url,
			  const char *min_id, struct strbuf *url);
/* Appends the streaming URL of a streamed source. */
int mastodon_stream_url(const struct mastodon_settings *st, const char *base_url,
			struct strbuf *url);
/*
 * The URL of the newer page named by a Link header, when it is safe to
 * follow (see above): *out is a new string (caller frees) or NULL. Returns 0
 * or -ENOMEM.
 */
int mastodon_prev_link(const char *base_url, const char *link, char **out);

#endif
