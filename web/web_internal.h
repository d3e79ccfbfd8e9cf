/*
 * web_internal.h - the server state shared by the web layer's files:
 * server.c (context, listening, service loop, housekeeping timer), http.c
 * (router, REST, static files, conditional GET; term detail asked of the
 * analytics thread), ws.c (WebSocket fan-out) and preview.c (the source preview's request and answer).
 *
 * Owned by the lws service thread once web_run() starts: everything below
 * `stop` is touched only from lws callbacks, so it needs no locks. Other
 * threads reach the server only through web_stop() and bus->wake_web, both
 * of which just flag and call lws_cancel_service().
 *
 * Fan-out invariants: `snap` is the newest snapshot the WebSocket clients are
 * served from (one reference held); `cache` holds rendered trends messages
 * for `snap` only, keyed by view, and is emptied whenever `snap` changes; a
 * session owes a trends message while its sent_gen differs from snap_gen, so
 * a slow client skips straight to the newest snapshot instead of queueing.
 */
#ifndef TRENDD_WEB_INTERNAL_H
#define TRENDD_WEB_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/snapshot.h"
#include "web/render.h"
#include "web/static.h"
#include "web/web.h"

#define WEB_IO_CHUNK          (16 * 1024) /* HTTP body bytes written per writeable callback */
#define WEB_RENDER_CACHE      64          /* distinct views cached per snapshot */
#define WEB_TIMER_MS          250         /* housekeeping period: slow clients, missed wakes */
#define WEB_WS_PONGS_OWED_MAX 8           /* pings beyond this, unanswered, are dropped */
#define WEB_WS_ERROR_BYTES    192         /* longest error message sent to a client */
#define WEB_ADDR_BYTES        64
#define WEB_HEADER_BYTES      4096        /* all request headers of one request (lws ah) */
#define WEB_QUERY_ARG_BYTES   256         /* one query argument, name=value, NUL included */
#define WEB_TOKEN_BYTES       128         /* longest admin token */
#define WEB_DEFERRED_MAX      256         /* requests waiting for the db at once */
#define WEB_ETAG_BYTES        64          /* one entity tag, quotes and NUL included */
#define WEB_INM_BYTES         256         /* If-None-Match kept; a longer one is ignored */
/* GET /api/terms/{term}/related: defaults and caps (analytics caps them again) */
#define WEB_RELATED_TERMS      10         /* co-occurring terms, limit= */
#define WEB_RELATED_TERMS_MAX  50
#define WEB_RELATED_POSTS      5          /* example posts, examples= */
#define WEB_RELATED_POSTS_MAX  20
#define WEB_RELATED_TERM_BYTES 255        /* longest term asked (live_req.term) */

/*
 * Longest an answer to a source change waits for ingest to show the change
 * (bus->sources_applied) before it is sent anyway: ingest applies changes
 * within a loop turn, so this only bounds a stalled ingest thread.
 */
#define WEB_HELD_MAX_MS 2000

struct ws_session;
struct dbmsg;
struct history_query;
struct preview_job;
struct live_req;

/* A request whose answer comes from another thread (the db writer or a reader). */
struct web_deferred {
	uint64_t id;              /* dbmsg.req_id or history_query.req_id */
	struct lws *wsi;          /* the connection waiting; gone when it closed */
};

/* An answer in the mailbox: exactly one of the four is set. */
struct web_mail {
	struct dbmsg *db;                 /* owned: a db writer request */
	struct history_query *history;    /* owned: a history query */
	struct preview_job *preview;      /* owned: a source preview */
	struct live_req *live;            /* owned: a term detail from analytics */
};

/* An answer ready but held until ingest's published sources show the change it made. */
struct web_held {
	struct lws *wsi;
	uint64_t seq;             /* bus->sources_cmds number of the change */
	int64_t until_ms;         /* monotonic: sent anyway then (WEB_HELD_MAX_MS) */
};

struct ws_cached {
	struct web_view view;
	unsigned char *buf;       /* owned: LWS_PRE bytes of headroom, then the message */
	size_t len;               /* message bytes after the headroom */
};

struct web {
	struct bus *bus;                  /* borrowed */
	struct lws_context *ctx;          /* owned */
	struct lws_vhost *vhost;
	struct lws_protocols protocols[3];
	struct static_files files;
	char listen[WEB_ADDR_BYTES + 8];  /* as given, for messages */
	int port;                         /* bound port */
	int64_t ws_slow_ms;
	int64_t started_mono_ms;
	atomic_bool stop;

	/* any thread */
	pthread_mutex_t mu;               /* guards token and mail */
	char token[WEB_TOKEN_BYTES];
	struct web_mail *mail;            /* owned: answered requests from other threads */
	size_t nmail, cap_mail;
	struct web_history_ops history;   /* set once by web_create */
	struct web_preview_ops preview;   /* set once by web_create */

	/* service thread only */
	lws_sorted_usec_list_t timer;
	struct snapshot *snap;            /* owned ref: what WebSocket clients get */
	uint64_t snap_gen;                /* trends slot version when snap was taken */
	struct ws_cached cache[WEB_RENDER_CACHE];
	size_t ncache, cache_next;
	struct blob *sources;             /* owned ref */
	uint64_t sources_gen;             /* slot version when taken, 0 = none yet */
	unsigned char *sources_msg;       /* owned: LWS_PRE + {"type":"sources",…} */
	size_t sources_msg_len;
	struct blob *db_status;           /* owned ref */
	uint64_t db_gen;
	int db_ok;                        /* render_db_ok() of db_status, -1 when none */
	struct ws_session *sessions;      /* every established WebSocket client */
	struct web_stats stats;
	struct web_deferred deferred[WEB_DEFERRED_MAX];
	size_t ndeferred;
	struct web_held held[WEB_DEFERRED_MAX];
	size_t nheld;
	uint64_t next_req_id;
	unsigned char io[LWS_PRE + WEB_IO_CHUNK]; /* scratch for one write */
};

static inline struct web *web_from_wsi(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* http.c */
/* Answers the requests the db thread has finished; on the service thread. */
void web_http_drain(struct web *w);
/* Sends the held answers whose change ingest now shows, or that waited too long. */
void web_http_release_held(struct web *w);
/* The db thread's completion for requests: queues m for the service thread. */
void web_mail_post(struct dbmsg *m, void *ctx);
/* A reader's completion for history queries: queues q for the service thread. */
void web_history_post(struct history_query *q, void *ctx);
/* The preview worker's completion: queues j for the service thread. */
void web_preview_post(struct preview_job *j, void *ctx);
/* The analytics thread's answer to a term detail (core/live.h done callback). */
void web_live_post(struct live_req *r, void *ctx);
/*
 * Fills c from a JSON request body shaped like POST /api/sources. For an
 * edit, c already holds the stored settings and only the fields present
 * change; *url_or_kind_changed says whether the URL or kind did. Returns 0
 * or -EINVAL with a readable message in err.
 */
struct source_config;
int web_source_from_json(const char *body, size_t len, struct source_config *c, bool edit,
			 bool *url_or_kind_changed, char *err, size_t cap);
/* A strong entity tag for a body: "b" + its hash and length, quoted. */
void web_etag_of(const char *data, size_t len, char *out, size_t cap);
/* Whether an If-None-Match value ("" = none) names etag (weak comparison, or "*"). */
bool web_etag_match(const char *inm, const char *etag);
/* Frees a mailbox entry that will not be answered. */
void web_mail_free(struct web_mail *m);
int web_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);
size_t web_http_session_size(void);

/* ws.c */
int web_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len);
size_t web_ws_session_size(void);
/* Takes the newest snapshot and sources from the bus; wakes clients that owe a message. */
void web_ws_refresh(struct web *w);
/* Closes clients whose unsent data has waited longer than ws_slow_ms. */
void web_ws_cull(struct web *w, int64_t now_mono_ms);
/* Closes every client with 1001 "shutting down"; the frames go out on the next services. */
void web_ws_close_all(struct web *w);
bool web_ws_any(const struct web *w);
/* Drops every reference and cached message; after the context is destroyed. */
void web_ws_release(struct web *w);

/* server.c */
/* Refreshes db_status/db_ok from the bus when it changed. */
void web_db_refresh(struct web *w);
void web_stats_fill(struct web *w, struct web_stats *out);

/*
 * Parses "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080", "localhost:8080",
 * "0.0.0.0:0"): a numeric address (or localhost) and a port 0..65535, 0 for
 * any free port. Returns 0 or -EINVAL with a readable message in err.
 */
int web_listen_parse(const char *s, char *addr, size_t addrlen, int *port, bool *ipv6,
		     char *err, size_t errlen);

#endif
