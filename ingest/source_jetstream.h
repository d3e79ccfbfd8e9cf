/*
 * source_jetstream.h - the `jetstream` source kind: Bluesky posts from a
 * Jetstream instance over WebSocket. This file holds the settings, the
 * subscribe URL and where a source resumes; jetstream.c runs the connection
 * (a libwebsockets client on a thread of its own, see there).
 *
 * Settings: url is the subscribe endpoint, ws:// or wss://
 * ("wss://jetstream2.us-east.bsky.network/subscribe"; a URL without a path
 * gets /subscribe). params_json is {"wantedCollections": [NSID, ...]
 * (default ["app.bsky.feed.post"]; [] for every collection),
 * "wantedDids": [DID, ...] (at most JETSTREAM_DIDS_MAX), "rewind_s": 0..3600
 * (default JETSTREAM_REWIND_S), "idle_timeout_s": 2..3600 (default
 * JETSTREAM_IDLE_TIMEOUT_S)}, all optional. interval_s is not used: a
 * dropped connection is retried after 1 s, doubling with jitter.
 *
 * The connection asks for
 *   {path}?{the url's own query&}wantedCollections=C&...&wantedDids=D&...[&cursor=T]
 * where T, on every connection after the first and after a restart, is the
 * greatest time_us seen minus rewind_s: time_us is not monotonic, so resuming
 * exactly at the greatest value could lose events that came just before it;
 * the rewound events come again and the source's dedup of recent post ids
 * drops them. The source's cursor is that greatest time_us (microseconds).
 *
 * Jetstream has no heartbeat of its own: the client pings, and a connection
 * that answers nothing for idle_timeout_s is dropped and reconnected.
 *
 * Exactly-once across crashes (docs/STORAGE.md): the client thread puts a
 * cursor marker behind each batch of posts it queues (struct
 * jetstream_resume below): cursor = the greatest time_us of the events read
 * up to that point, whose posts are all queued before the marker, and the ids
 * of the newest posts queued. A restart resumes from a checkpointed marker's
 * cursor minus rewind_s with its ids, so the replayed posts that were
 * counted are dropped and the others are counted - as long as the posts of
 * one rewind_s span of time_us fit in the INGEST_SEEN_IDS ids a marker
 * carries (2048: 409 posts/s with the default 5 s).
 */
#ifndef TRENDD_SOURCE_JETSTREAM_H
#define TRENDD_SOURCE_JETSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "ingest/source_kind.h"

#define JETSTREAM_COLLECTIONS_MAX 100     /* Jetstream's own limit */
#define JETSTREAM_DIDS_MAX        100     /* more would need the options_update message */
#define JETSTREAM_REWIND_S        5
#define JETSTREAM_IDLE_TIMEOUT_S  60
#define JETSTREAM_HOST_MAX        253
#define JETSTREAM_PATH_MAX        1024
#define JETSTREAM_SEEN_IDS        4096    /* post ids a connection remembers: the rewind at
					     ~800 posts/s; a marker carries the newest
					     INGEST_SEEN_IDS of them */

/* A source's parsed settings: the kind state of `jetstream` sources. Immutable once set up. */
struct jetstream_settings {
	bool tls;
	char host[JETSTREAM_HOST_MAX + 1];   /* without brackets for IPv6 */
	int port;
	char path[JETSTREAM_PATH_MAX + 1];   /* path and the url's own query */
	char *filter;                        /* owned: the encoded wanted* query arguments */
	int64_t rewind_us;
	int idle_timeout_s;
};

extern const struct source_kind source_kind_jetstream;
/* How a `jetstream` source runs (jetstream.c). */
extern const struct stream_ops jetstream_stream_ops;

/*
 * Appends the path and query of a connection resuming at cursor_us (the
 * greatest time_us seen; 0: from now on). Returns 0 or -ENOMEM.
 */
int jetstream_subscribe_path(const struct jetstream_settings *st, int64_t cursor_us,
			     struct strbuf *out);

/* The value of a stored cursor ("" or a decimal time_us); 0 when none or not one. */
int64_t jetstream_cursor_parse(const char *s);

/*
 * Where a `jetstream` source resumes, owned by its client thread: the
 * greatest time_us of the events read so far and the (hashed) ids of the
 * posts queued recently, a ring that drops the oldest. Invariant: cursor_us
 * takes an event's time_us only once its post is queued (or dropped as a
 * duplicate), so a marker made from it never runs ahead of the queue.
 */
struct jetstream_resume {
	int64_t cursor_us;                   /* 0: nothing read yet */
	uint64_t seen[JETSTREAM_SEEN_IDS];
	size_t nseen, next;
};

/*
 * Starts from a stored cursor ("" or NULL: none) and seen ids in ingest's
 * compact form (NULL: none). Returns 0, or -EINVAL when seen is damaged (the
 * ring then starts empty; the cursor is taken all the same).
 */
int jetstream_resume_init(struct jetstream_resume *r, const char *cursor, const void *seen,
			  size_t seen_len);
/* Whether the post with this id was queued recently. */
bool jetstream_resume_has(const struct jetstream_resume *r, const char *post_id);
/* Remembers a queued post's id. */
void jetstream_resume_add(struct jetstream_resume *r, const char *post_id);
/* An event was read: the cursor moves up to its time_us (never down). */
void jetstream_resume_read(struct jetstream_resume *r, int64_t time_us);
/*
 * A cursor marker (core/dbmsg.h) of source_id under settings generation gen
 * (0: not stamped, core/dbmsg.h): cursor_us in decimal and the
 * newest INGEST_SEEN_IDS ids, oldest first. r must have read an event
 * (cursor_us > 0): an empty cursor would reset the stored one. NULL when out
 * of memory.
 */
struct post *jetstream_resume_marker(const struct jetstream_resume *r, int64_t source_id,
				     uint64_t gen);
/*
 * What a marker of r carries: cursor_us in decimal into cursor (at least 24
 * bytes) and the newest INGEST_SEEN_IDS ids, oldest first, in ingest's compact
 * form into out (INGEST_SEEN_MAX_BYTES). Returns the length of out.
 */
size_t jetstream_resume_encode(const struct jetstream_resume *r, char *cursor, uint8_t *out);

#endif
