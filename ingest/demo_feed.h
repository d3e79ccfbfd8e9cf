/*
 * demo_feed.h - a built-in Mastodon-compatible HTTP endpoint for `trendd --demo`.
 *
 * Runs its own thread with a small HTTP/1.1 server on 127.0.0.1 (an ephemeral
 * port) that answers GET /api/v1/timelines/public?min_id=&max_id=&since_id=&limit=
 * with Mastodon status JSON (HTML content, accounts, tags, mentions, media-less)
 * generated from a realistic vocabulary: Zipf-distributed words in several
 * languages, hashtags, mentions, links and emoji, with scheduled bursts so that
 * trends visibly rise and fall within minutes. trendd polls it like any other
 * Mastodon instance, over real HTTP through libcurl.
 *
 * Statuses are generated lazily against the wall clock at cfg->posts_per_s and
 * kept in a ring of the most recent ones, so pagination with min_id works the
 * way it does on a real server.
 *
 * Also served: GET /api/v1/timelines/tag/{tag} (same paging), /api/v1/instance,
 * /api/v1/streaming/health ("OK") and /api/v1/streaming/public (server-sent
 * events: `update` with a status, `:thump` heartbeats). Every API reply carries
 * Mastodon's X-RateLimit-* headers; past cfg->rate_limit requests in a
 * five-minute window the server answers 429 like Mastodon does.
 *
 * Everything after demo_feed_start() happens on the feed's own thread; the two
 * functions below are the only entry points and must be called from one thread.
 */
#ifndef TRENDD_DEMO_FEED_H
#define TRENDD_DEMO_FEED_H

#include <stdint.h>

/* Caps on what clients can make the demo server hold. */
#define DEMO_FEED_MAX_CONNS      64                 /* concurrent connections */
#define DEMO_FEED_REQUEST_BYTES  (16 * 1024)        /* request line + headers */
#define DEMO_FEED_BODY_BYTES     (64 * 1024)        /* bodies are read and discarded */
#define DEMO_FEED_OUT_BYTES      (1024 * 1024)      /* unsent bytes per connection */
#define DEMO_FEED_RING_MAX       1000000            /* statuses kept, at most */

struct demo_feed;

struct demo_feed_config {
	uint64_t seed;        /* same seed, same stream */
	double posts_per_s;   /* default 40 */
	uint16_t port;        /* 0: ephemeral */
	/* Optional; 0 keeps the default. Mostly for tests. */
	double story_speed;   /* story schedule runs this many times faster; default 1 */
	int64_t prefill_ms;   /* history generated at start; default 120000, < 0: none */
	uint32_t ring_size;   /* statuses kept; default 20000 */
	uint32_t accounts;    /* account population; default 3000 */
	uint32_t rate_limit;  /* API requests per 5-minute window; default 3000 */
};

/*
 * Binds 127.0.0.1:cfg->port, generates the prefill history and starts the
 * thread. *port_out gets the bound port. Returns 0 or a negative errno.
 */
int demo_feed_start(struct demo_feed **out, const struct demo_feed_config *cfg,
		    uint16_t *port_out);
/* Wakes the thread, joins it, closes every connection and frees d. NULL is a no-op. */
void demo_feed_stop(struct demo_feed *d);

#endif
