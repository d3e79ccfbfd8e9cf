/*
 * jetstream.c - runs a `jetstream` source (source_jetstream.h): a
 * libwebsockets client on a thread of its own, one per source.
 *
 * Why a thread: the ingest thread waits in curl_multi_poll() and lws waits in
 * its own poll loop; neither can drive the other's sockets without giving up
 * its wake-up mechanism (curl_multi_wakeup, lws_cancel_service). A client
 * context per source keeps each connection's life simple, and a source is
 * one socket, so the cost is one small thread and a few file descriptors.
 *
 * Who owns what:
 * - the client thread owns the lws context and connection, the message being
 *   assembled and where the source resumes (struct jetstream_resume: the
 *   greatest time_us and the dedup ring of recent post ids). It parses events
 *   (feed_jetstream.c), drops post ids it emitted recently, and moves posts
 *   onto bus->posts itself, waiting for room as the ingest thread does (a
 *   full queue stops reading the socket; nothing is dropped).
 * - with cursor markers on (the daemon), it also puts a cursor marker behind
 *   each batch of posts it queued: the posts read in one turn of its service
 *   loop (one receive burst), the marker held back up to JETSTREAM_MARK_MS
 *   after the previous one so a fast stream costs at most one marker per
 *   JETSTREAM_MARK_MS, and no more than JETSTREAM_MARK_POSTS posts. The
 *   marker's cursor is the greatest time_us read before it, so a checkpoint
 *   never stores a cursor beyond the posts it counted; a cursor moved by
 *   events that are not posts gets a marker too. On stop the last batch gets
 *   its marker before the thread ends.
 * - the ingest thread owns the source's status. The client thread leaves
 *   what it learns (connected, counts, cursor, failure) in the mailbox under
 *   `mu`, at most every JETSTREAM_FLUSH_MS and at once for connections and
 *   failures, and wakes the ingest thread, which takes it in service() and
 *   reports it through the stream host.
 * - connect() and destroy() come from the ingest thread: a flag and
 *   lws_cancel_service() wake the client thread, which connects, or ends;
 *   destroy() then tears the context down itself.
 *
 * A failed or closed connection is not retried here: the failure goes to the
 * ingest thread, whose scheduler backs off (with jitter) and calls connect()
 * again - the same policy and status as every other source. The reconnect
 * asks for cursor = greatest time_us - rewind, and the dedup ring drops the
 * posts that come a second time.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/post.h"
#include "ingest/feed_jetstream.h"
#include "ingest/source_jetstream.h"
#include "ingest/stream.h"

#define JETSTREAM_FLUSH_MS  100    /* least time between two mailbox updates for counts */
#define JETSTREAM_PUSH_WAIT_MS 50  /* one wait for room on the post queue */
#define JETSTREAM_MARK_MS   10     /* least time between two cursor markers */
#define JETSTREAM_MARK_POSTS 256   /* most posts before a marker (analytics' catch-up is 2000) */
#define JETSTREAM_STOP_MARK_MS 1000 /* how long the last marker waits for room on stop */
#define JETSTREAM_CONNECT_TIMEOUT_S 20

/* What the client thread tells the ingest thread; under jetstream.mu. */
struct js_mail {
	bool connected;               /* a connection opened */
	bool healthy;                 /* events flow (or the connection held) */
	bool failed;                  /* the connection is gone: error says why */
	char error[200];
	uint64_t posts, skipped, events, ignored, duplicates;
	int64_t cursor_us;            /* greatest time_us seen, 0: none yet */
	int64_t resumed_us;           /* cursor= of the latest connection, 0: none */
};

struct jetstream {
	/* Set by create(), read-only afterwards. */
	struct stream_host host;
	char user_agent[160];                   /* the ingest thread's, cut to fit a header */
	const struct jetstream_settings *set;   /* borrowed: the source's kind state */
	struct lws_protocols protocols[2];
	lws_retry_bo_t policy;                  /* ping and hang-up of a silent connection */
	struct lws_context *ctx;
	bool markers;                           /* put cursor markers behind the posts */
	pthread_t thread;
	bool joined;                            /* the ingest thread has joined it */
	atomic_bool stop;
	atomic_bool connect_wanted;

	/* The client thread's. */
	struct lws *wsi;                        /* the connection once established, or NULL */
	struct lws *pending;                    /* the connection being made, or NULL */
	bool connecting;                        /* between connect and established/error */
	struct strbuf msg;                      /* the message being assembled */
	bool msg_skip;                          /* it is too large or binary: dropped */
	struct jetstream_resume res;            /* cursor and seen ids */
	uint64_t unmarked;                      /* posts queued since the last marker */
	bool moved;                             /* the cursor moved since the last marker */
	int64_t marked_ms;                      /* monotonic: the last marker */
	lws_sorted_usec_list_t mark_sul;
	int64_t established_ms;                 /* monotonic */
	int64_t flushed_ms;                     /* monotonic: the last mailbox update */
	int64_t healthy_ms;                     /* monotonic: events last reported as flowing */
	bool healthy_told;                      /* this connection delivered an event */
	char close_reason[96];
	struct js_mail pend;                    /* counts not handed over yet */
	lws_sorted_usec_list_t flush_sul;
	struct strbuf path;

	pthread_mutex_t mu;
	struct js_mail mail;

	/* The ingest thread's: what status.stream shows. */
	bool connected;
	uint64_t connects, events, ignored, duplicates;
	int64_t resumed_us;
	int64_t reported_us, reported_ms;
};

/* ---- client thread ---- */

/* Hands what is pending to the ingest thread; force: also counts younger than the flush time. */
static void mail_flush(struct jetstream *js, bool force)
{
	struct js_mail *m = &js->mail, *p = &js->pend;
	int64_t now = clock_mono_ms();

	if (!force && now - js->flushed_ms < JETSTREAM_FLUSH_MS)
		return;
	pthread_mutex_lock(&js->mu);
	m->connected |= p->connected;
	m->healthy |= p->healthy;
	if (p->failed && !m->failed) {
		m->failed = true;
		memcpy(m->error, p->error, sizeof m->error);
	}
	m->posts += p->posts;
	m->skipped += p->skipped;
	m->events += p->events;
	m->ignored += p->ignored;
	m->duplicates += p->duplicates;
	if (js->res.cursor_us > m->cursor_us)
		m->cursor_us = js->res.cursor_us;
	if (p->resumed_us)
		m->resumed_us = p->resumed_us;
	pthread_mutex_unlock(&js->mu);
	memset(p, 0, sizeof *p);
	js->flushed_ms = now;
	js->host.ops->wake(js->host.ctx);
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	struct jetstream *js = lws_container_of(sul, struct jetstream, flush_sul);
	mail_flush(js, true);
}

/* Counts arrived since the last flush: make sure they go out soon even if nothing follows. */
static void flush_soon(struct jetstream *js)
{
	mail_flush(js, false);
	if (js->pend.events && !js->flush_sul.list.owner)
		lws_sul_schedule(js->ctx, 0, &js->flush_sul, flush_cb,
				 JETSTREAM_FLUSH_MS * LWS_US_PER_MS);
}

static void conn_failed(struct jetstream *js, const char *msg)
{
	js->wsi = js->pending = NULL;
	js->connecting = false;
	if (atomic_load(&js->stop))
		return;
	/* A connection that held for long worked, however it ended. */
	if (js->established_ms && !js->healthy_told &&
	    clock_mono_ms() - js->established_ms >= STREAM_STABLE_MS)
		js->pend.healthy = true;
	js->established_ms = 0;
	js->pend.failed = true;
	snprintf(js->pend.error, sizeof js->pend.error, "%s", msg);
	mail_flush(js, true);
}

/* Waits for room on the post queue; false when trendd stops first (the post is freed). */
static bool post_push(struct jetstream *js, struct post *p)
{
	for (;;) {
		int rc = queue_push(&js->host.bus->posts, p, JETSTREAM_PUSH_WAIT_MS);
		if (rc == 0)
			return true;
		if (rc != -EAGAIN || atomic_load(&js->stop) || bus_stopping(js->host.bus)) {
			post_free(p);
			return false;
		}
	}
}

/*
 * Puts a cursor marker behind the posts queued so far, when anything moved
 * since the last one. Waits for room like a post; on stop, a little longer:
 * analytics is still draining, and without the marker its last checkpoint
 * cannot cover the posts already queued.
 */
static void mark_push(struct jetstream *js)
{
	struct post *m;

	if (!js->markers || (!js->unmarked && !js->moved) || js->res.cursor_us <= 0)
		return;
	lws_sul_cancel(&js->mark_sul);
	if (!(m = jetstream_resume_marker(&js->res, js->host.source_id, js->host.gen))) {
		log_warn("ingest", "source %lld: out of memory for a cursor marker",
			 (long long)js->host.source_id);
		return;   /* the next batch's marker covers these posts too */
	}
	for (;;) {
		int rc = queue_push(&js->host.bus->posts, m, JETSTREAM_PUSH_WAIT_MS);
		if (rc == 0)
			break;
		if (rc != -EAGAIN || atomic_load(&js->stop) || bus_stopping(js->host.bus)) {
			if (rc == -EAGAIN &&
			    queue_push(&js->host.bus->posts, m, JETSTREAM_STOP_MARK_MS) == 0)
				break;
			post_free(m);
			return;
		}
	}
	js->unmarked = 0;
	js->moved = false;
	js->marked_ms = clock_mono_ms();
}

static void mark_cb(lws_sorted_usec_list_t *sul)
{
	struct jetstream *js = lws_container_of(sul, struct jetstream, mark_sul);
	mark_push(js);
}

/*
 * The end of a batch: a marker now, or - when the last one is younger than
 * JETSTREAM_MARK_MS - once that much time has passed.
 */
static void mark_soon(struct jetstream *js)
{
	int64_t wait;

	if (!js->markers || (!js->unmarked && !js->moved))
		return;
	wait = js->marked_ms + JETSTREAM_MARK_MS - clock_mono_ms();
	if (wait <= 0 || js->unmarked >= JETSTREAM_MARK_POSTS)
		mark_push(js);
	else if (!js->mark_sul.list.owner)
		lws_sul_schedule(js->ctx, 0, &js->mark_sul, mark_cb,
				 (lws_usec_t)wait * LWS_US_PER_MS);
}

static void message_take(struct jetstream *js, const char *data, size_t len)
{
	struct jetstream_event ev;

	js->pend.events++;
	if (jetstream_event_parse(data, len, js->host.source_id, &ev) < 0) {
		log_warn("ingest", "source %lld: out of memory reading an event",
			 (long long)js->host.source_id);
		js->pend.skipped++;
		return;
	}
	/* Events flow: the first one clears the error count, later ones keep last_ok fresh. */
	int64_t now = clock_mono_ms();
	if (!js->healthy_told || now - js->healthy_ms >= STREAM_REPORT_MS) {
		js->healthy_told = true;
		js->healthy_ms = now;
		js->pend.healthy = true;
	}
	switch (ev.kind) {
	case JETSTREAM_MALFORMED:
		js->pend.skipped++;
		break;
	case JETSTREAM_OTHER:
		js->pend.ignored++;
		break;
	case JETSTREAM_POST: {
		char id[LIMIT_POST_ID_BYTES];
		if (jetstream_resume_has(&js->res, ev.post->id)) {
			js->pend.duplicates++;
			post_free(ev.post);
			break;
		}
		snprintf(id, sizeof id, "%s", ev.post->id);
		/* Stopping: the post is not queued, so the cursor must not pass it. */
		if (!post_push(js, ev.post))
			return;
		jetstream_resume_add(&js->res, id);
		js->pend.posts++;
		js->unmarked++;
		break;
	}
	}
	/* Only now: every post of the events up to the cursor is queued. */
	if (ev.time_us > js->res.cursor_us) {
		jetstream_resume_read(&js->res, ev.time_us);
		js->moved = true;
	}
	if (js->unmarked >= JETSTREAM_MARK_POSTS)
		mark_push(js);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct jetstream *js = lws_context_user(lws_get_context(wsi));
	char buf[128];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		const char *ua = js->user_agent;
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
						 (const unsigned char *)ua, (int)strlen(ua), p, end))
			return -1;
		break;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		js->wsi = wsi;
		js->pending = NULL;
		js->connecting = false;
		js->established_ms = clock_mono_ms();
		js->healthy_told = false;
		js->close_reason[0] = 0;
		sb_reset(&js->msg);
		js->msg_skip = false;
		js->pend.connected = true;
		mail_flush(js, true);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			sb_reset(&js->msg);
			/* Jetstream sends JSON text; binary is its zstd mode, not asked for. */
			js->msg_skip = lws_frame_is_binary(wsi);
		}
		if (!js->msg_skip) {
			if (js->msg.len + len > JETSTREAM_EVENT_MAX)
				js->msg_skip = true;
			else
				sb_append(&js->msg, in, len);
		}
		if (!lws_is_final_fragment(wsi))
			break;
		if (js->msg_skip || js->msg.failed) {
			js->pend.events++;
			js->pend.skipped++;
		} else {
			message_take(js, js->msg.buf, js->msg.len);
		}
		sb_reset(&js->msg);
		js->msg_skip = false;
		flush_soon(js);
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *c = in;
			snprintf(js->close_reason, sizeof js->close_reason, " (code %u%s%.*s)",
				 (unsigned)(c[0] << 8 | c[1]), len > 2 ? ": " : "",
				 (int)(len - 2 > 60 ? 60 : len - 2), (const char *)in + 2);
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* lws words TLS failures as OpenSSL does; say what kind of failure it is. */
		snprintf(buf, sizeof buf, "could not connect: %s%.*s",
			 in && strstr(in, "SSL") ? "TLS handshake failed: " : "",
			 in ? (int)(len ? len : strlen(in)) : 15, in ? (const char *)in
								: "no reason given");
		conn_failed(js, buf);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		snprintf(buf, sizeof buf, "the connection closed%s", js->close_reason);
		conn_failed(js, buf);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (wsi == js->wsi || wsi == js->pending) {
			snprintf(buf, sizeof buf, "the connection closed%s", js->close_reason);
			conn_failed(js, buf);
		}
		break;
	default:
		break;
	}
	return 0;
}

static void client_connect(struct jetstream *js)
{
	struct lws_client_connect_info ci;
	char hosthdr[JETSTREAM_HOST_MAX + 16];
	int64_t resume = js->res.cursor_us;

	sb_reset(&js->path);
	if (jetstream_subscribe_path(js->set, resume, &js->path) < 0) {
		js->pend.failed = true;
		snprintf(js->pend.error, sizeof js->pend.error, "out of memory");
		mail_flush(js, true);
		return;
	}
	snprintf(hosthdr, sizeof hosthdr, strchr(js->set->host, ':') ? "[%s]" : "%s",
		 js->set->host);
	if (js->set->port != (js->set->tls ? 443 : 80))
		snprintf(hosthdr + strlen(hosthdr), sizeof hosthdr - strlen(hosthdr), ":%d",
			 js->set->port);
	memset(&ci, 0, sizeof ci);
	ci.context = js->ctx;
	ci.address = js->set->host;
	ci.port = js->set->port;
	ci.path = js->path.buf;
	ci.host = hosthdr;
	ci.ssl_connection = js->set->tls ? LCCSCF_USE_SSL : 0;
	ci.protocol = NULL;
	ci.local_protocol_name = js->protocols[0].name;
	ci.retry_and_idle_policy = &js->policy;
	js->connecting = true;
	js->pend.resumed_us = resume > 0 ? (resume - js->set->rewind_us > 0
						    ? resume - js->set->rewind_us : 1) : 0;
	/* An error may be reported from inside the call, and the wsi already gone. */
	struct lws *w = lws_client_connect_via_info(&ci);
	if (!w && js->connecting)
		conn_failed(js, "could not start the connection");
	else if (w && js->connecting)
		js->pending = w;
}

static void *client_main(void *arg)
{
	struct jetstream *js = arg;

	while (!atomic_load(&js->stop)) {
		if (atomic_exchange(&js->connect_wanted, false) && !js->wsi && !js->connecting)
			client_connect(js);
		lws_service(js->ctx, 0);
		/* The events of one receive burst are one batch. */
		mark_soon(js);
	}
	mark_push(js);
	/* the last counts too: a handover carries them over to the next stream */
	mail_flush(js, true);
	return NULL;
}

/* ---- ingest thread ---- */

static const char *ca_bundle(void)
{
	static const char *const paths[] = {
		"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu */
		"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
		"/etc/ssl/cert.pem",                    /* Alpine, BSD */
	};
	const char *env = getenv("SSL_CERT_FILE");

	if (env && env[0] && access(env, R_OK) == 0)
		return env;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

/* Ends the client thread (its last marker queued); once, from the ingest thread. */
static void client_stop(struct jetstream *js)
{
	if (!js->ctx || js->joined)
		return;
	atomic_store(&js->stop, true);
	lws_cancel_service(js->ctx);
	pthread_join(js->thread, NULL);
	js->joined = true;
}

static void destroy(void *p)
{
	struct jetstream *js = p;

	if (!js)
		return;
	if (js->ctx) {
		client_stop(js);
		/*
		 * Here rather than on the client thread, which may see stop and
		 * end before lws_cancel_service() above is done with the context.
		 * Callbacks during the teardown see stop and report nothing.
		 */
		lws_sul_cancel(&js->flush_sul);
		lws_sul_cancel(&js->mark_sul);
		lws_context_destroy(js->ctx);
	}
	sb_free(&js->msg);
	sb_free(&js->path);
	pthread_mutex_destroy(&js->mu);
	free(js);
}

static int create(const void *kstate, const struct stream_host *host, void **out)
{
	const struct jetstream_settings *set = kstate;
	struct lws_context_creation_info info;
	struct jetstream *js = calloc(1, sizeof *js);
	int rc;

	if (!js)
		return -ENOMEM;
	js->host = *host;
	js->host.url = js->host.cursor = NULL;   /* not kept: the originals may change */
	js->host.user_agent = NULL;
	snprintf(js->user_agent, sizeof js->user_agent, "%s",
		 host->user_agent && host->user_agent[0] ? host->user_agent : "trendd");
	js->set = set;
	if (jetstream_resume_init(&js->res, host->cursor, host->seen, host->seen_len) < 0)
		log_warn("ingest", "source %lld: stored seen ids are damaged; "
				   "starting without them", (long long)host->source_id);
	js->host.seen = NULL;   /* borrowed during create only */
	js->host.seen_len = 0;
	js->markers = host->cursor_markers;
	js->reported_us = js->res.cursor_us;
	atomic_init(&js->stop, false);
	atomic_init(&js->connect_wanted, false);
	pthread_mutex_init(&js->mu, NULL);
	sb_init(&js->msg);
	sb_init(&js->path);
	js->protocols[0] = (struct lws_protocols){ .name = "trendd-jetstream",
						   .callback = callback };
	/* Silence past half the idle time draws a ping; no answer by the end closes it. */
	js->policy.secs_since_valid_ping = (uint16_t)(set->idle_timeout_s / 2);
	js->policy.secs_since_valid_hangup = (uint16_t)set->idle_timeout_s;

	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = js->protocols;
	info.user = js;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = JETSTREAM_CONNECT_TIMEOUT_S;
	info.connect_timeout_secs = JETSTREAM_CONNECT_TIMEOUT_S;
	info.fd_limit_per_thread = 16;   /* one connection, lws' own pipe, room for DNS */
	if (set->tls)
		info.client_ssl_ca_filepath = ca_bundle();
	if (!(js->ctx = lws_create_context(&info))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = -pthread_create(&js->thread, NULL, client_main, js)) < 0) {
		lws_context_destroy(js->ctx);
		js->ctx = NULL;   /* no thread to stop */
		goto fail;
	}
	pthread_setname_np(js->thread, "jetstream");
	*out = js;
	return 0;
fail:
	destroy(js);
	return rc;
}

static int connect_stream(void *p)
{
	struct jetstream *js = p;

	if (js->connected)
		return -EALREADY;
	atomic_store(&js->connect_wanted, true);
	lws_cancel_service(js->ctx);
	return 0;
}

static void service(void *p)
{
	struct jetstream *js = p;
	const struct stream_host_ops *ops = js->host.ops;
	struct js_mail m;
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&js->mu);
	m = js->mail;
	memset(&js->mail, 0, sizeof js->mail);
	js->mail.cursor_us = m.cursor_us;   /* a high-water mark, not a delta */
	pthread_mutex_unlock(&js->mu);

	if (m.connected) {
		js->connected = true;
		js->connects++;
		if (m.resumed_us)
			js->resumed_us = m.resumed_us;
		ops->connected(js->host.ctx);
	}
	js->events += m.events;
	js->ignored += m.ignored;
	js->duplicates += m.duplicates;
	if (m.posts || m.skipped)
		ops->counted(js->host.ctx, m.posts, m.skipped);
	if (m.healthy)
		ops->healthy(js->host.ctx);
	if (m.cursor_us > js->reported_us &&
	    (m.failed || now - js->reported_ms >= STREAM_REPORT_MS)) {
		char c[24];
		snprintf(c, sizeof c, "%" PRId64, m.cursor_us);
		js->reported_us = m.cursor_us;
		js->reported_ms = now;
		ops->cursor(js->host.ctx, c);
	}
	if (m.failed) {
		js->connected = false;
		ops->failed(js->host.ctx, m.error, 0);
	}
}

/* The client thread has ended: its resume state is the ingest thread's to read. */
static int handover(void *p, struct strbuf *cursor, uint8_t *seen, size_t *seen_len)
{
	struct jetstream *js = p;
	char cur[24];

	client_stop(js);
	if (js->res.cursor_us <= 0)
		return -ENODATA;
	*seen_len = jetstream_resume_encode(&js->res, cur, seen);
	sb_puts(cursor, cur);
	return cursor->failed ? -ENOMEM : 0;
}

static void status_json(const void *p, struct strbuf *sb)
{
	const struct jetstream *js = p;

	sb_puts(sb, "{\"connected\":");
	sb_puts(sb, js->connected ? "true" : "false");
	sb_puts(sb, ",\"connects\":");
	sb_put_u64(sb, js->connects);
	sb_puts(sb, ",\"events\":");
	sb_put_u64(sb, js->events);
	sb_puts(sb, ",\"ignored\":");
	sb_put_u64(sb, js->ignored);
	sb_puts(sb, ",\"duplicates\":");
	sb_put_u64(sb, js->duplicates);
	sb_puts(sb, ",\"resumed_from\":");
	if (js->resumed_us)
		sb_put_i64(sb, js->resumed_us);
	else
		sb_puts(sb, "null");
	sb_putc(sb, '}');
}

const struct stream_ops jetstream_stream_ops = {
	.create = create,
	.destroy = destroy,
	.connect = connect_stream,
	.service = service,
	.status_json = status_json,
	.handover = handover,
	.queues_markers = true,
};
