/*
 * web.h - the HTTP and WebSocket server (libwebsockets), run on the thread
 * that calls web_run().
 *
 * One port serves the dashboard (static/), Chart.js, the REST API under /api/,
 * /healthz, /metrics and the WebSocket endpoint /ws (subprotocol trendd.v1).
 * The service loop never blocks: it reads published snapshots and blobs from
 * the bus and is woken through lws_cancel_service() when they change; history
 * queries, source changes and source previews are answered by other threads,
 * whose answers come back through a mailbox and the same wake-up.
 * docs/API.md describes every endpoint and the WebSocket protocol.
 *
 * Life cycle: web_create() on the main thread (binds the port, indexes the
 * static files, sets bus->wake_web), web_run() on the web thread, web_stop()
 * from anywhere, then web_free() once web_run() has returned and every thread
 * that may call bus_wake_web() has stopped (web_free clears bus->wake_web and
 * stops the preview worker it was given).
 */
#ifndef TRENDD_WEB_H
#define TRENDD_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

struct web;
struct history_query;
struct preview_job;

/*
 * How the history endpoints reach the db reader threads (db/history.h),
 * set by main so the web layer does not link the database. submit takes q
 * (moved on 0) and calls q->done on a reader thread once answered; it
 * returns -EAGAIN when the readers are busy and -EPIPE when they stopped.
 */
struct web_history_ops {
	int (*submit)(void *ctx, struct history_query *q);
	void *ctx;
};

/*
 * How POST /api/sources/preview reaches the preview worker (ingest/preview.h),
 * set by main. submit takes j (moved on 0) and calls j->done on the worker
 * thread once answered; -EAGAIN when the worker is full, -EPIPE when stopped.
 * The web server owns the worker from web_create() on (also when it fails):
 * web_free() calls stop(ctx) while answers can still be posted, so no answer
 * arrives after the server is gone. ctx NULL: previews answer 503.
 */
struct web_preview_ops {
	int (*submit)(void *ctx, struct preview_job *j);
	void (*stop)(void *ctx);
	void *ctx;
};

struct web_config {
	const char *listen;       /* "ADDR:PORT", e.g. "127.0.0.1:8080" */
	const char *static_dir;   /* dashboard files */
	const char *chartjs_dir;  /* Chart.js (libjs-chart.js), served under /vendor/chart.js/ */
	int64_t ws_slow_ms;       /* drop a WebSocket client whose unsent data waits longer;
				     0 = WEB_WS_SLOW_MS */
	const char *token;        /* admin bearer token for mutating endpoints; NULL or ""
				     refuses every mutation */
	struct web_history_ops history; /* submit NULL: the history endpoints answer 503 */
	struct web_preview_ops preview; /* submit NULL: POST /api/sources/preview answers 503 */
};

#define WEB_WS_SLOW_MS 15000

/*
 * Creates the lws context and binds the port; sets bus->wake_web. Returns 0,
 * or a negative errno with a readable message in err (e.g. "cannot listen on
 * 127.0.0.1:8080: address in use"). A missing static or Chart.js directory is
 * only logged: the API still works without the dashboard.
 */
int web_create(struct web **out, const struct web_config *cfg, struct bus *bus, char *err,
	       size_t errlen);
/* The port actually bound (useful with port 0). */
int web_port(const struct web *w);
/* Runs the service loop until web_stop(). */
int web_run(struct web *w);
/* Asks the loop to return; safe from any thread. */
void web_stop(struct web *w);
/* Replaces the admin token (token rotation); safe from any thread. */
void web_set_token(struct web *w, const char *token);
void web_free(struct web *w);

#endif
