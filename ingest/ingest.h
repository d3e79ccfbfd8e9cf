/*
 * ingest.h - the ingest thread: polls every configured source over HTTP with
 * libcurl's multi interface (one easy handle per in-flight request, driven by
 * curl_multi_poll), parses responses into posts and moves them onto the post
 * queue.
 *
 * The thread owns the live source list, each source's schedule (interval,
 * exponential backoff with jitter) and status. After every change it
 * publishes the sources as a JSON array on bus->sources (the body of
 * GET /api/sources) and wakes the web thread; after every successful poll it
 * sends the source's new cursor and status to the db thread.
 */
#ifndef TRENDD_INGEST_H
#define TRENDD_INGEST_H

#include <stddef.h>

#include "core/bus.h"
#include "core/source.h"

struct ingest;

struct ingest_config {
	const char *user_agent;  /* NULL: "trendd/<version>" */
};

/* Copies sources; starts the thread. Returns 0 or a negative errno. */
int ingest_start(struct ingest **out, const struct ingest_config *cfg, struct bus *bus,
		 const struct source_config *sources, size_t nsources);
/* Stops polling, aborts transfers in flight and joins the thread. */
void ingest_stop(struct ingest *ig);

#endif
