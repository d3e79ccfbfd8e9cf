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
 */
#ifndef TRENDD_DEMO_FEED_H
#define TRENDD_DEMO_FEED_H

#include <stdint.h>

struct demo_feed;

struct demo_feed_config {
	uint64_t seed;        /* same seed, same stream */
	double posts_per_s;   /* default 40 */
	uint16_t port;        /* 0: ephemeral */
};

int demo_feed_start(struct demo_feed **out, const struct demo_feed_config *cfg,
		    uint16_t *port_out);
void demo_feed_stop(struct demo_feed *d);

#endif
