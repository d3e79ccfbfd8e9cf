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

#include "core/dbstats.h"
#include "core/publish.h"
#include "core/queue.h"
#include "core/source.h"

struct dbmsg;

/*
 * What the web layer may ask of the ingest thread, set by main (the web
 * layer does not include ingest/). Every function is safe from any thread.
 */
struct bus_source_ops {
	/* Checks a source's settings for its kind; -EINVAL and a readable err. */
	int (*check)(void *ctx, const struct source_config *c, char *err, size_t cap);
	/*
	 * The stored settings changed (or the source is new): apply them. With
	 * fresh, the source starts afresh (a new URL or kind is a new feed: no
	 * cursor, status or seen ids carry over), replaced in one step so it
	 * never goes missing from the published list.
	 */
	void (*changed)(void *ctx, const struct source_config *c, bool fresh);
	void (*removed)(void *ctx, int64_t id);
	/* Polls now; -ENOENT when ingest has no such source. */
	int (*poll_now)(void *ctx, int64_t id);
	/*
	 * Parses the NDJSON body of POST /api/ingest into m->u.push (posts of
	 * source_id, and the per-line errors as JSON members). 0 or -ENOMEM.
	 */
	int (*push_parse)(const char *body, size_t len, int64_t source_id, struct dbmsg *m);
	void *ctx;
};

struct bus {
	struct queue posts;            /* struct post * (moved) -> analytics */
	struct queue db;               /* struct dbmsg * (moved) -> db writer */
	struct queue live;             /* struct live_req * (borrowed) -> analytics (core/live.h) */
	struct publish_slot trends;    /* struct snapshot, by analytics */
	struct publish_slot sources;   /* struct blob: JSON array, by ingest */
	/*
	 * Read-your-writes for source changes: every add, edit or removal handed
	 * to ingest takes the next number of sources_cmds (ingest counts them
	 * as they are queued); sources_applied is the last number whose effect
	 * the published list shows. A request that changed a source is answered
	 * once sources_applied reaches its number (web/http.c).
	 */
	_Atomic uint64_t sources_cmds, sources_applied;
	struct publish_slot db_status; /* struct blob: JSON object, by db writer */
	void (*wake_web)(void *ctx);   /* set by the web layer before threads start */
	void *wake_web_ctx;
	struct bus_source_ops source_ops;  /* set by main before threads start */
	struct dbstats dbstats;        /* commit times, by the db writer (dbstats_commit) */
	atomic_bool stopping;
};

int bus_init(struct bus *b);
void bus_destroy(struct bus *b);     /* after every thread has stopped */
void bus_wake_web(struct bus *b);
static inline bool bus_stopping(struct bus *b) { return atomic_load(&b->stopping); }

#endif
