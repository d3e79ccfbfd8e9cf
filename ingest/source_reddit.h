/*
 * source_reddit.h - the `reddit` source kind: polls a subreddit's (or any
 * listing's) newest posts through Reddit's public JSON listings.
 *
 * Settings: url is a subreddit ("https://www.reddit.com/r/rust", also
 * "/r/a+b" and multireddits), which is polled at {url}/new.json, or a listing
 * ("https://www.reddit.com/r/rust/comments", ".../top", a ".json" URL), which
 * is polled as it is; its own query parameters (t=day, sort=new) are kept.
 * params_json is {"limit": 1..100}, optional. Requests are
 *   GET {listing}.json?[own&]limit=N&raw_json=1[&before=CURSOR]
 * raw_json=1 makes Reddit send text as typed rather than HTML-escaped.
 *
 * Cursor: the newest fullname seen ("t3_1skjxta"). `before` returns the
 * things just newer than it, newest first, so a full page means the source
 * is behind and the scheduler polls again at once. Reddit answers `before`
 * with nothing at all once the anchor has been deleted or removed by a
 * moderator - which happens to new posts all the time - so a source would
 * wait forever on a dead anchor. The cursor therefore counts the empty polls
 * after its anchor ("t3_1skjxta~3"), and every REDDIT_STALE_POLLS-th one asks
 * without `before`: the newest page, of which the parser keeps what is newer
 * than the anchor (and the ingest dedup drops what it emitted already).
 *
 * Rate limits: Reddit's x-ratelimit-remaining (a float such as "997.0") and
 * x-ratelimit-reset (seconds until the window resets) are read by the
 * ingest scheduler, which waits for the reset when few requests are left.
 * Error bodies ({"error": 403, "reason": "private"}) become plain words.
 */
#ifndef TRENDD_SOURCE_REDDIT_H
#define TRENDD_SOURCE_REDDIT_H

#include "ingest/source_kind.h"

/* Reddit answers at most 100 things per listing page. */
#define REDDIT_PAGE_MAX 100
/* Every this many empty polls after an anchor, one poll goes without `before`. */
#define REDDIT_STALE_POLLS 5
/* Longest source URL taken; Reddit listing URLs are short. */
#define REDDIT_URL_MAX 1024

extern const struct source_kind source_kind_reddit;

#endif
