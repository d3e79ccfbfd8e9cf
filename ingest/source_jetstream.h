/*
 * source_jetstream.h - the `jetstream` source kind: Bluesky posts from a
 * Jetstream instance over WebSocket. This file holds the settings and the
 * subscribe URL; jetstream.c runs the connection (a libwebsockets client on a
 * thread of its own, see there).
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

#endif
