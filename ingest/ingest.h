/*
 * ingest.h - the ingest thread: polls every configured source over HTTP with
 * libcurl's multi interface (one easy handle per in-flight request, driven by
 * curl_multi_poll), parses responses into posts and moves them onto the post
 * queue.
 *
 * The thread owns the live source list, each source's schedule (interval,
 * exponential backoff with jitter) and status. After every change it
 * publishes the sources as a JSON array on bus->sources (the body of
 * GET /api/sources) and wakes the web thread; after every poll it sends the
 * source's cursor and status to the db thread (DBMSG_SOURCE_STATE, never
 * blocking: when the db queue is full the newest state is sent later).
 *
 * Scheduling, for every kind alike (ingest/source_kind.h):
 * - a source is polled every interval_s; a source that is behind (a full page
 *   after its cursor) is polled again at once, up to INGEST_CATCHUP_PAGES
 *   pages in a row (or the kind's own cap), at the URL the page named when
 *   the kind reads one (a Link header);
 * - a streamed source (ingest/stream.h) is connected instead of polled, and
 *   after a failure reconnected with the same backoff, from
 *   STREAM_RECONNECT_MS instead of interval_s;
 * - after a failure the wait grows: interval + uniform(0, window - interval)
 *   with window = min(interval * 2^errors, 15 min) - jittered so that sources
 *   failing together do not retry together, and never shorter than the
 *   interval, so a failing source is not polled more often than a healthy one;
 * - Retry-After (on 429 and 503) and X-RateLimit-Remaining/-Reset (when few
 *   requests are left) push the next poll later, up to INGEST_MAX_DELAY_MS;
 * - a full post queue pauses the thread (nothing is dropped);
 * - a post whose id the source emitted recently is not emitted again.
 *
 * The control functions below (ingest_source_set, ...) may be called from any
 * thread: they leave a command for the ingest thread and wake it.
 */
#ifndef TRENDD_INGEST_H
#define TRENDD_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/dbmsg.h"
#include "core/source.h"

#define INGEST_CATCHUP_PAGES   10                 /* pages polled back to back */
#define INGEST_BACKOFF_CAP_MS  (15 * 60 * 1000)
#define INGEST_MAX_DELAY_MS    (60 * 60 * 1000)   /* cap on Retry-After and rate-limit waits */
#define INGEST_SEEN_IDS        2048               /* recent post ids kept per source */
#define INGEST_RATELIMIT_LOW   3                  /* requests left that make it wait for reset */
#define INGEST_COMMANDS_MAX    1024               /* pending control commands */

struct ingest;

struct ingest_config {
	const char *user_agent;  /* NULL: "trendd/<version> (+https://github.com/trendd)" */

	/* Knobs for tests; 0 / false means the default. */
	int interval_ms;         /* overrides every source's interval_s */
	size_t max_body_bytes;   /* LIMIT_FEED_BODY_BYTES */
	long timeout_ms;         /* HTTP_TOTAL_TIMEOUT_MS */
	int64_t backoff_cap_ms;  /* INGEST_BACKOFF_CAP_MS */
	bool no_jitter;          /* a failed source waits its whole backoff window */

	/*
	 * Exactly-once (docs/STORAGE.md): after the posts of each poll or stream
	 * batch, put a cursor marker (core/dbmsg.h) on the post queue - the
	 * source's cursor and seen ids - and leave the cursor out of
	 * DBMSG_SOURCE_STATE: the analytics checkpoint stores it, matched with
	 * the posts it counted. Off, the state message carries the cursor.
	 */
	bool cursor_markers;
	/* Seen ids to start from, per source (a checkpoint's); borrowed during start. */
	const struct source_cursor *restore;
	size_t nrestore;
};

/*
 * The compact form of a source's seen ring in a marker and a checkpoint:
 * a 32-bit count, then that many 64-bit id hashes, oldest first. A push
 * source (cursor = its log sequence number) takes the same form.
 */
#define INGEST_SEEN_MAX_BYTES (4 + 8 * INGEST_SEEN_IDS)

/* Copies sources; starts the thread. Returns 0 or a negative errno. */
int ingest_start(struct ingest **out, const struct ingest_config *cfg, struct bus *bus,
		 const struct source_config *sources, size_t nsources);
/* Stops polling, aborts transfers in flight and joins the thread. */
void ingest_stop(struct ingest *ig);

/*
 * Adds the source, or replaces the one with the same id (its status and
 * cursor carry over unless cfg->cursor is set). Returns 0, -ENOMEM, or
 * -EAGAIN when too many commands are pending.
 */
int ingest_source_set(struct ingest *ig, const struct source_config *cfg);
/*
 * Replaces the source with the same id (or adds it) as a new feed: nothing
 * of the old one - cursor, status, seen ids - carries over. One step, so the
 * published list never lacks the source. Returns as ingest_source_set().
 */
int ingest_source_reset(struct ingest *ig, const struct source_config *cfg);
/* Removes the source with this id. Returns 0, -ENOMEM or -EAGAIN. */
int ingest_source_remove(struct ingest *ig, int64_t id);
/*
 * Checks a source's settings as ingest would: a kind trendd knows ("push"
 * included), an http(s) URL for polled kinds, and the kind's own parameter
 * checks. Safe from any thread. Returns 0, or -EINVAL with a readable err.
 */
int ingest_source_check(const struct source_config *cfg, char *err, size_t cap);
/* Polls the source now, backoff or not. Returns 0, -ENOMEM or -EAGAIN. */
int ingest_poll_now(struct ingest *ig, int64_t id);

#endif
