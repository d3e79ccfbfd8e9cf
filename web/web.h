/*
 * web.h - the HTTP and WebSocket server (libwebsockets), run on the thread
 * that calls web_run().
 *
 * One port serves the dashboard (static/), Chart.js, the REST API under /api/,
 * /healthz, /metrics and the WebSocket endpoint /ws (subprotocol trendd.v1).
 * The service loop never blocks: it reads published snapshots and blobs from
 * the bus and is woken through lws_cancel_service() when they change.
 */
#ifndef TRENDD_WEB_H
#define TRENDD_WEB_H

#include <stddef.h>

#include "core/bus.h"

struct web;

struct web_config {
	const char *listen;       /* "ADDR:PORT", e.g. "127.0.0.1:8080" */
	const char *static_dir;   /* dashboard files */
	const char *chartjs_dir;  /* Chart.js (libjs-chart.js), served under /vendor/chart.js/ */
};

/* Creates the lws context and binds the port; sets bus->wake_web. */
int web_create(struct web **out, const struct web_config *cfg, struct bus *bus, char *err,
	       size_t errlen);
/* Runs the service loop until web_stop(). */
int web_run(struct web *w);
/* Asks the loop to return; safe from any thread. */
void web_stop(struct web *w);
void web_free(struct web *w);

#endif
