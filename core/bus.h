/*
 * bus.h - the channels between trendd's threads, created once by main.
 *
 *   ingest thread --posts--> analytics thread --snapshot--> web thread
 *                                   |                  \--> db thread
 *                                   +--dbmsg--> db thread
 *
 * Data crosses threads only through these: the bounded post queue, the db
 * queue, and publish slots holding immutable reference-counted objects. After
 * publishing something the web thread shows, a producer calls bus_wake_web()
 * so the lws service loop wakes (lws_cancel_service) and pushes it out.
 */
#ifndef TRENDD_BUS_H
#define TRENDD_BUS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/publish.h"
#include "core/queue.h"

struct bus {
	struct queue posts;            /* struct post * (moved) -> analytics */
	struct queue db;               /* struct dbmsg * (moved) -> db writer */
	struct publish_slot trends;    /* struct snapshot, by analytics */
	struct publish_slot sources;   /* struct blob: JSON array, by ingest */
	struct publish_slot db_status; /* struct blob: JSON object, by db writer */
	void (*wake_web)(void *ctx);   /* set by the web layer before threads start */
	void *wake_web_ctx;
	atomic_bool stopping;
};

int bus_init(struct bus *b);
void bus_destroy(struct bus *b);     /* after every thread has stopped */
void bus_wake_web(struct bus *b);
static inline bool bus_stopping(struct bus *b) { return atomic_load(&b->stopping); }

#endif
