/*
 * ws.c - the WebSocket endpoint /ws (subprotocol trendd.v1): subscriptions
 * and the push of each new snapshot to every subscribed client.
 *
 * Fan-out without backlog: a client never has a queue. When a snapshot (or
 * the sources list) changes, every client that owes a message is asked to
 * become writeable; when it is, it gets the newest state rendered for its
 * view, so a slow client skips snapshots instead of piling them up. Rendered
 * trends messages are cached per (view, snapshot), so a thousand clients on
 * the default view cost one render per tick.
 *
 * A client whose previous message is still unsent (lws holds the rest while
 * the socket is choked) is not written to; if that lasts longer than
 * ws_slow_ms it is closed with 1008 "too slow" and counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "web/web_internal.h"

/* Per-connection state of the trendd.v1 protocol; zeroed by lws. */
struct ws_session {
	struct lws *wsi;             /* non-NULL while on web->sessions */
	struct ws_session *next, **pprev;
	bool subscribed;
	struct web_view view;
	uint64_t sent_gen;           /* snap_gen last sent for this view, 0 = none */
	uint64_t sources_sent_gen;   /* sources_gen last sent, 0 = none */
	unsigned pongs_owed;
	bool error_pending;
	char error[WEB_WS_ERROR_BYTES];
	int64_t waiting_since_ms;    /* mono: asked for writeable with data owed; 0 = not */
	bool dropping;
	bool closing;                /* the server stops: close with 1001 when writeable */
	char *rx;                    /* owned: a message arriving in fragments */
	size_t rx_len;
};

size_t web_ws_session_size(void) { return sizeof(struct ws_session); }

static bool trends_owed(const struct web *w, const struct ws_session *s)
{
	return s->subscribed && w->snap && s->sent_gen != w->snap_gen;
}

static bool owes(const struct web *w, const struct ws_session *s)
{
	return s->error_pending || s->pongs_owed || trends_owed(w, s) ||
	       (w->sources_msg && s->sources_sent_gen != w->sources_gen);
}

static void want_write(struct web *w, struct ws_session *s)
{
	if (s->dropping || !owes(w, s))
		return;
	if (!s->waiting_since_ms)
		s->waiting_since_ms = clock_mono_ms();
	lws_callback_on_writable(s->wsi);
}

/* ---- the render cache ---- */

static void cache_clear(struct web *w)
{
	for (size_t i = 0; i < w->ncache; i++)
		free(w->cache[i].buf);
	w->ncache = 0;
	w->cache_next = 0;
}

/* The trends message for v from the current snapshot; NULL when out of memory. */
static const struct ws_cached *trends_message(struct web *w, const struct web_view *v)
{
	struct strbuf sb = STRBUF_INIT;
	struct ws_cached *c;
	size_t len;
	char *buf;

	for (size_t i = 0; i < w->ncache; i++)
		if (render_view_eq(&w->cache[i].view, v)) {
			w->stats.ws_render_cache_hits++;
			return &w->cache[i];
		}
	/* render behind LWS_PRE bytes of headroom so lws_write can frame in place */
	if (!sb_reserve(&sb, LWS_PRE + 4096))
		return NULL;
	memset(sb.buf, 0, LWS_PRE);
	sb.len = LWS_PRE;
	if (render_trends(&sb, w->snap, v, true) < 0 || !(buf = sb_detach(&sb, &len))) {
		sb_free(&sb);
		return NULL;
	}
	w->stats.ws_renders++;
	if (w->ncache < WEB_RENDER_CACHE) {
		c = &w->cache[w->ncache++];
	} else {
		/* more distinct views than slots: replace round-robin */
		c = &w->cache[w->cache_next];
		w->cache_next = (w->cache_next + 1) % WEB_RENDER_CACHE;
		free(c->buf);
	}
	c->view = *v;
	c->buf = (unsigned char *)buf;
	c->len = len - LWS_PRE;
	return c;
}

/* ---- taking new state from the bus ---- */

static bool refresh_trends(struct web *w)
{
	uint64_t v = publish_version(&w->bus->trends);
	struct snapshot *s;

	if (v == w->snap_gen)
		return false;
	s = snapshot_acquire(&w->bus->trends);
	if (!s)
		return false;
	if (s == w->snap) {
		/* version read before a publish that we then acquired: same object */
		snapshot_put(s);
		return false;
	}
	snapshot_put(w->snap);
	w->snap = s;
	w->snap_gen = v;
	cache_clear(w);
	return true;
}

static bool refresh_sources(struct web *w)
{
	uint64_t v = publish_version(&w->bus->sources);
	struct strbuf sb = STRBUF_INIT;
	struct blob *b;
	size_t len;
	char *buf;

	if (v == w->sources_gen)
		return false;
	b = (struct blob *)publish_get(&w->bus->sources);
	if (!b || b == w->sources) {
		if (b)
			ref_put(&b->ref);
		return false;
	}
	if (!sb_reserve(&sb, LWS_PRE + b->len + 64)) {
		ref_put(&b->ref);
		return false;
	}
	memset(sb.buf, 0, LWS_PRE);
	sb.len = LWS_PRE;
	render_ws_sources(&sb, b->data, b->len);
	if (!(buf = sb_detach(&sb, &len))) {
		ref_put(&b->ref);
		return false;
	}
	if (w->sources)
		ref_put(&w->sources->ref);
	free(w->sources_msg);
	w->sources = b;
	w->sources_gen = v;
	w->sources_msg = (unsigned char *)buf;
	w->sources_msg_len = len - LWS_PRE;
	return true;
}

void web_ws_refresh(struct web *w)
{
	bool changed = refresh_trends(w);

	changed |= refresh_sources(w);
	if (!changed)
		return;
	for (struct ws_session *s = w->sessions; s; s = s->next)
		want_write(w, s);
}

void web_ws_cull(struct web *w, int64_t now_ms)
{
	static const char reason[] = "too slow";

	for (struct ws_session *s = w->sessions; s; s = s->next) {
		if (s->dropping || !s->waiting_since_ms || now_ms - s->waiting_since_ms <= w->ws_slow_ms)
			continue;
		/*
		 * The client has not taken its last message for ws_slow_ms. lws
		 * sends the close frame if the socket drains, and closes anyway
		 * after its own close timeout.
		 */
		s->dropping = true;
		w->stats.ws_dropped_slow++;
		log_warn("web", "dropping a WebSocket client: unsent data waited %lld ms",
			 (long long)(now_ms - s->waiting_since_ms));
		lws_close_reason(s->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)reason, sizeof reason - 1);
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

void web_ws_close_all(struct web *w)
{
	static const char reason[] = "shutting down";

	for (struct ws_session *s = w->sessions; s; s = s->next) {
		if (s->dropping)
			continue;
		s->dropping = true;
		s->closing = true;
		lws_close_reason(s->wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)reason,
				 sizeof reason - 1);
		/* returning -1 from the writeable callback sends the close frame */
		lws_callback_on_writable(s->wsi);
	}
}

bool web_ws_any(const struct web *w) { return w->sessions != NULL; }

void web_ws_release(struct web *w)
{
	cache_clear(w);
	snapshot_put(w->snap);
	w->snap = NULL;
	if (w->sources)
		ref_put(&w->sources->ref);
	w->sources = NULL;
	free(w->sources_msg);
	w->sources_msg = NULL;
}

/* ---- one connection ---- */

static void session_set_error(struct ws_session *s, const char *msg)
{
	snprintf(s->error, sizeof s->error, "%s", msg);
	s->error_pending = true;
}

static void session_message(struct web *w, struct ws_session *s, const char *data, size_t len)
{
	enum ws_msg_type type;
	struct web_view v;
	char err[WEB_WS_ERROR_BYTES];

	if (render_ws_parse(data, len, &type, &v, err, sizeof err) < 0) {
		session_set_error(s, err);
	} else if (type == WS_MSG_SUBSCRIBE) {
		s->subscribed = true;
		s->view = v;
		s->sent_gen = 0; /* a full message now, even for an unchanged snapshot */
		web_ws_refresh(w);
	} else if (type == WS_MSG_UNSUBSCRIBE) {
		s->subscribed = false;
	} else if (s->pongs_owed < WEB_WS_PONGS_OWED_MAX) {
		s->pongs_owed++;
	}
	want_write(w, s);
}

static int session_receive(struct web *w, struct lws *wsi, struct ws_session *s, const char *in,
			   size_t len)
{
	static const char too_big[] = "message too big";
	bool final = lws_is_final_fragment(wsi);

	if (s->rx_len + len > LIMIT_WS_MESSAGE_BYTES) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)too_big,
				 sizeof too_big - 1);
		return -1;
	}
	if (lws_frame_is_binary(wsi)) {
		/* drain it, then answer once */
		s->rx_len += len;
		if (final) {
			s->rx_len = 0;
			free(s->rx);
			s->rx = NULL;
			session_set_error(s, "messages must be JSON text frames");
			want_write(w, s);
		}
		return 0;
	}
	if (final && s->rx_len == 0) {
		session_message(w, s, in, len);
		return 0;
	}
	if (!s->rx && !(s->rx = malloc(LIMIT_WS_MESSAGE_BYTES)))
		return -1;
	memcpy(s->rx + s->rx_len, in, len);
	s->rx_len += len;
	if (final) {
		session_message(w, s, s->rx, s->rx_len);
		free(s->rx);
		s->rx = NULL;
		s->rx_len = 0;
	}
	return 0;
}

static int session_send(struct web *w, struct lws *wsi, unsigned char *msg, size_t len)
{
	if (lws_write(wsi, msg, len, LWS_WRITE_TEXT) < (int)len)
		return -1;
	w->stats.ws_messages_sent++;
	return 0;
}

/* One message per writeable callback, most urgent first. */
static int session_writeable(struct web *w, struct lws *wsi, struct ws_session *s)
{
	unsigned char *buf = w->io + LWS_PRE;
	int rc = 0;

	if (s->closing)
		return -1;
	if (s->dropping)
		return 0;
	s->waiting_since_ms = 0;
	if (s->error_pending) {
		struct strbuf sb = STRBUF_INIT;
		render_ws_error(&sb, s->error);
		s->error_pending = false;
		if (sb.failed || sb.len > WEB_IO_CHUNK) {
			sb_free(&sb);
			return -1;
		}
		memcpy(buf, sb.buf, sb.len);
		rc = session_send(w, wsi, buf, sb.len);
		sb_free(&sb);
	} else if (s->pongs_owed) {
		static const char pong[] = "{\"type\":\"pong\"}";
		s->pongs_owed--;
		memcpy(buf, pong, sizeof pong - 1);
		rc = session_send(w, wsi, buf, sizeof pong - 1);
	} else if (trends_owed(w, s)) {
		const struct ws_cached *c = trends_message(w, &s->view);
		if (!c)
			return -1;
		s->sent_gen = w->snap_gen;
		rc = session_send(w, wsi, c->buf + LWS_PRE, c->len);
	} else if (w->sources_msg && s->sources_sent_gen != w->sources_gen) {
		s->sources_sent_gen = w->sources_gen;
		rc = session_send(w, wsi, w->sources_msg + LWS_PRE, w->sources_msg_len);
	}
	if (rc < 0)
		return -1;
	want_write(w, s);
	return 0;
}

/* Origin, when a browser sends one, must name the host the request went to. */
static bool origin_ok(struct lws *wsi)
{
	char origin[256], host[256];
	const char *o;
	int n = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);

	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return true;
	if (n <= 0 || lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
		return false;
	if (strncasecmp(origin, "http://", 7) == 0)
		o = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		o = origin + 8;
	else
		return false;
	return strcasecmp(o, host) == 0;
}

static int session_filter(struct web *w, struct lws *wsi)
{
	char uri[16];
	const char *why = NULL;

	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
		why = "not /ws";
	else if (w->stats.ws_clients >= LIMIT_WS_CLIENTS)
		why = "too many clients";
	else if (!origin_ok(wsi))
		why = "cross-origin";
	if (!why)
		return 0;
	w->stats.ws_rejected++;
	log_info("web", "WebSocket upgrade refused: %s", why);
	return -1;
}

int web_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct ws_session *s = user;
	struct web *w = web_from_wsi(wsi);

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return session_filter(w, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		s->wsi = wsi;
		s->next = w->sessions;
		s->pprev = &w->sessions;
		if (w->sessions)
			w->sessions->pprev = &s->next;
		w->sessions = s;
		w->stats.ws_clients++;
		web_ws_refresh(w);
		want_write(w, s); /* the sources list, when there is one */
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (s && s->wsi) {
			*s->pprev = s->next;
			if (s->next)
				s->next->pprev = s->pprev;
			s->wsi = NULL;
			w->stats.ws_clients--;
		}
		if (s) {
			free(s->rx);
			s->rx = NULL;
		}
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return session_receive(w, wsi, s, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return session_writeable(w, wsi, s);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		web_ws_refresh(w);
		web_http_drain(w);
		return 0;
	default:
		return 0;
	}
}
