/*
 * preview.h - a source's test fetch (POST /api/sources/preview): fetch its URL
 * once, parse the answer with the kind's own parser and hand back what came
 * out, storing nothing and touching no cursor.
 *
 * One worker thread owns an http_client (ingest/http.h: the ingest thread's
 * limits - http and https only, connect timeout, redirect limit, gzip, a body
 * cap after decoding) and runs one preview at a time, so a slow or hostile
 * URL never holds up the lws service thread or the ingest thread. At most
 * PREVIEW_PENDING_MAX previews are accepted and not yet answered; one more is
 * refused with -EAGAIN (the web layer answers 503 with Retry-After).
 *
 * A job is created by the caller (the web thread), moved to the worker by
 * preview_submit() and moved back through job->done(), called once on the
 * worker thread (or on the thread calling preview_worker_stop() for jobs that
 * never started). The job carries its settings in and its answer out; the
 * inline helpers below let the web layer build and free jobs without linking
 * the ingest layer.
 */
#ifndef TRENDD_INGEST_PREVIEW_H
#define TRENDD_INGEST_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/source.h"
#include "ingest/feed.h"

#define PREVIEW_PENDING_MAX 4        /* previews accepted and not yet answered */
#define PREVIEW_POSTS_MAX   20       /* posts kept in an answer */
#define PREVIEW_TIMEOUT_MS  10000    /* connect and total time of the one request */

/* How a preview ended. */
enum preview_result {
	PREVIEW_OK,           /* doc holds the document; 200 */
	PREVIEW_FAILED,       /* fetch or document error, in error; 422 */
	PREVIEW_UNAVAILABLE,  /* trendd is stopping or out of memory, in error; 503 */
};

struct preview_job {
	struct source_config cfg;      /* owned: the settings to fetch, as checked by the caller */

	/* the answer, set by the worker before done() */
	enum preview_result result;
	char error[256];               /* plain words when result != PREVIEW_OK */
	char format[16];               /* the document's format ("rss", "mastodon", ...) */
	struct feed_doc doc;           /* owned: at most PREVIEW_POSTS_MAX posts */
	size_t items;                  /* items in the document, before the cut to POSTS_MAX */

	/* completion */
	uint64_t req_id;               /* the caller's */
	void (*done)(struct preview_job *j, void *ctx);
	void *done_ctx;
	struct preview_job *next;      /* the worker's queue */
};

/* A job for cfg (copied). NULL when out of memory. */
static inline struct preview_job *preview_job_new(const struct source_config *cfg)
{
	struct preview_job *j = calloc(1, sizeof *j);

	if (!j)
		return NULL;
	feed_doc_init(&j->doc);
	if (source_config_copy(&j->cfg, cfg) < 0) {
		free(j);
		return NULL;
	}
	return j;
}

static inline void preview_job_free(struct preview_job *j)
{
	if (!j)
		return;
	source_config_clear(&j->cfg);
	feed_doc_clear(&j->doc);
	free(j);
}

struct preview_worker;

/*
 * Starts the worker thread. user_agent may be NULL (trendd's own). Returns 0,
 * or a negative errno with a readable message in err.
 */
int preview_worker_start(struct preview_worker **out, const char *user_agent, char *err,
			 size_t errlen);
/*
 * The worker for the web server's struct web_preview_ops (cmd/main.c):
 * preview_worker_new() starts one with trendd's user agent and returns it, or
 * logs why it could not and returns NULL (previews then answer 503);
 * preview_worker_stop_ctx() is preview_worker_stop() on a void pointer.
 */
void *preview_worker_new(void);
void preview_worker_stop_ctx(void *ctx);
/*
 * Queues j (moved on 0). Returns -EAGAIN when PREVIEW_PENDING_MAX previews
 * are pending and -EPIPE once the worker is stopping; j stays the caller's.
 * Any thread.
 */
int preview_submit(struct preview_worker *p, struct preview_job *j);
/* preview_submit() with the worker as a void pointer, for struct web_preview_ops. */
int preview_submit_ctx(void *ctx, struct preview_job *j);
/*
 * Stops the worker: a fetch in flight is abandoned and every job not answered
 * yet is answered PREVIEW_UNAVAILABLE ("trendd is shutting down") through its
 * done(). Frees p. NULL is a no-op.
 */
void preview_worker_stop(struct preview_worker *p);

#endif
