/*
 * source_kind.h - what the ingest scheduler knows about a kind of polled
 * source: how to check a source's settings, how to build its next request from
 * its URL, settings and cursor, and how to turn a response into posts and a
 * new cursor. The scheduler (ingest.c) does everything else the same way for
 * every kind - timing, backoff, rate limits, conditional GET, dedup, status -
 * and knows nothing about formats.
 *
 * A kind is a constant table of functions without state of its own; the
 * per-source state is whatever setup() returns, owned by the ingest thread.
 */
#ifndef TRENDD_SOURCE_KIND_H
#define TRENDD_SOURCE_KIND_H

#include <stdbool.h>
#include <stddef.h>

#include "core/source.h"
#include "core/strbuf.h"
#include "ingest/feed.h"

struct stream_ops;

struct source_kind {
	const char *name;            /* source_config.kind */
	const char *accept;          /* Accept header of its requests, or NULL */

	/*
	 * Checks cfg (URL, params_json) and returns the kind's parsed settings in
	 * *state (owned by the caller, freed with release()). On a bad setting
	 * returns -EINVAL with a readable message in err.
	 */
	int (*setup)(const struct source_config *cfg, void **state, char *err, size_t cap);
	void (*release)(void *state);

	/* Appends the URL of the next request. cursor is "" at the start. */
	int (*request_url)(const void *state, const char *base_url, const char *cursor,
			   struct strbuf *url);

	/*
	 * Parses a 2xx response into doc (initialised by the caller). Sets *more
	 * when the source has more to give right now (a full page after the
	 * cursor): the scheduler then polls again at once, up to a cap.
	 */
	int (*parse)(const void *state, const struct feed_input *in, struct feed_doc *doc,
		     bool *more);

	/*
	 * Optional: writes the server's own explanation found in an error
	 * response body (e.g. Mastodon's {"error": "..."}), or "" when none.
	 */
	void (*error_detail)(const char *body, size_t len, char *buf, size_t cap);

	/* Optional: pages fetched back to back while catching up; NULL: INGEST_CATCHUP_PAGES. */
	int (*catchup_pages)(const void *state);

	/*
	 * Optional, for sources that keep a connection open instead of being
	 * polled (ingest/stream.h): a source streams when stream is set and
	 * streams() is NULL or says so for its settings. request_url() and
	 * parse() are then not used for it.
	 */
	const struct stream_ops *stream;
	bool (*streams)(const void *state);

	/* setup() checks the URL itself, and it need not be http(s) (ws://, wss://). */
	bool own_url_check;
};

/* The kind named name, or NULL when trendd does not poll such sources. */
const struct source_kind *source_kind_find(const char *name);

#endif
