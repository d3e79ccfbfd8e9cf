/*
 * stream.h - sources that keep a connection open instead of being polled:
 * Mastodon streaming over Server-Sent Events (source_mastodon_stream.c) and
 * Bluesky Jetstream over WebSocket (jetstream.c).
 *
 * The ingest thread owns a streamed source and its status as it owns a
 * polled one; the stream owns its connection. The scheduler calls connect()
 * when the source is due - at start, and after a failure once the backoff
 * has passed (exponential with jitter, starting at STREAM_RECONNECT_MS, capped
 * like polls) - and the stream reports back through its host: connected,
 * healthy (data flows), posts, a new cursor, a warning, and failure, after
 * which the scheduler backs off and calls connect() again. In the source's
 * status that reads: state "idle" until the first connection, "ok" while
 * connected, "backoff" while waiting to reconnect; next_poll null while
 * connected; polls counts connection attempts; cursor is where a reconnect
 * resumes; status.stream holds the stream's own counters.
 *
 * Threads: every stream_ops function and every host callback but wake() runs
 * on the ingest thread. A stream that works on a thread of its own
 * (Jetstream) keeps what it learns in a mailbox, calls wake() (safe from any
 * thread) and hands the news over in service(), which the ingest thread calls
 * on every turn of its loop.
 *
 * Exactly-once (docs/STORAGE.md): a stream that hands its posts to emit()
 * gets a cursor marker behind them from the host. A stream that queues posts
 * from its own thread (queues_markers) must put its own marker - cursor and
 * seen ids of the posts queued before it - behind each batch when
 * host->cursor_markers is set; the host's cursor() then only records where a
 * reconnect resumes.
 */
#ifndef TRENDD_STREAM_H
#define TRENDD_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

struct bus;
struct feed_doc;
struct html_text;
struct http_client;

#define STREAM_RECONNECT_MS 1000    /* first reconnect delay; doubles with each failure */
#define STREAM_STABLE_MS    30000   /* a connection up this long counts as a success */
#define STREAM_REPORT_MS    1000    /* least time between two cursor reports to the db */

/* What the ingest thread does for a stream; ctx is the source. */
struct stream_host_ops {
	/*
	 * Moves doc's posts onto the post queue as after a poll: oldest last in
	 * doc, ids the source emitted recently dropped, posts_seen and
	 * items_skipped counted. Waits for room. Returns 0, or -ECANCELED when
	 * trendd stops.
	 */
	int (*emit)(void *ctx, struct feed_doc *doc);
	/* Counts posts the stream queued itself, and items it skipped. */
	void (*counted)(void *ctx, uint64_t posts, uint64_t skipped);
	/* The connection is open. */
	void (*connected)(void *ctx);
	/* The stream works (an event arrived, or it stayed up): clears the error count. */
	void (*healthy)(void *ctx);
	/* Where a reconnect resumes; stored with the source. */
	void (*cursor)(void *ctx, const char *cursor);
	/* A problem that leaves the stream running (a failed catch-up): shown as last_error. */
	void (*warn)(void *ctx, const char *msg);
	/* The connection is gone: back off (at least at_least_ms), then connect() again. */
	void (*failed)(void *ctx, const char *msg, int64_t at_least_ms);
	/* Any thread: the ingest thread calls service() soon. */
	void (*wake)(void *ctx);
};

/* Everything here is borrowed and outlives the stream; strings are copied if kept. */
struct stream_host {
	const struct stream_host_ops *ops;
	void *ctx;
	int64_t source_id;
	const char *url;                /* the source's url */
	const char *cursor;             /* where to resume at start, "" for from now on */
	const uint8_t *seen;            /* the ids it emitted last (a checkpoint's, in ingest's
					 * compact form, INGEST_SEEN_MAX_BYTES), or NULL */
	size_t seen_len;
	bool cursor_markers;            /* ingest_config.cursor_markers */
	uint64_t gen;                   /* the source's settings generation: a stream's own
					 * markers carry it (dbmsg_marker_new_gen) */
	struct bus *bus;
	struct http_client *http;       /* the ingest thread's */
	struct html_text *html;         /* the ingest thread's */
	const char *user_agent;
	size_t max_body;                /* for plain requests; 0: the default */
	long timeout_ms;                /* for plain requests; 0: the default */
};

struct stream_ops {
	/*
	 * Makes the stream of a source, not yet connected. kstate is the kind's
	 * state of the source (its settings), valid as long as the stream.
	 * Returns 0 or a negative errno.
	 */
	int (*create)(const void *kstate, const struct stream_host *host, void **out);
	/* Closes the connection and stops its work; no callback comes after it returns. */
	void (*destroy)(void *st);
	/* Opens the connection. Returns 0 (the outcome is reported later), or -EALREADY. */
	int (*connect)(void *st);
	/* Optional: hands over what another thread learnt. */
	void (*service)(void *st);
	/* Optional: appends a JSON object with the stream's own counters. */
	void (*status_json)(const void *st, struct strbuf *sb);
	/*
	 * Optional, for a stream that queues its own markers: stops the stream's
	 * work (nothing more is queued once it returns; its last marker is
	 * queued) and gives where a new stream of the same source resumes
	 * exactly - the cursor into *cursor, the seen ids in ingest's compact
	 * form into seen (INGEST_SEEN_MAX_BYTES) and their length into
	 * *seen_len. The ingest thread calls it when a source's settings change
	 * but its feed does not: the host's own cursor is only reported now and
	 * then and its ids are not the stream's, so resuming from them would
	 * count the posts since the last report again. Returns 0, or -ENODATA
	 * when the stream read nothing (the host's cursor and ids stand).
	 * destroy() still follows.
	 */
	int (*handover)(void *st, struct strbuf *cursor, uint8_t *seen, size_t *seen_len);
	/*
	 * The stream queues its posts on bus->posts itself and puts its own
	 * cursor markers behind them: the host queues none for it.
	 */
	bool queues_markers;
};

#endif
