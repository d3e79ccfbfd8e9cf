/*
 * server.c - the web layer's life cycle: listen address, lws context and
 * vhost, the service loop, the housekeeping timer and lws log routing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/limits.h"
#include "core/log.h"
#include "web/web_internal.h"

/* Idle WebSocket clients get a ping after 30 s and are dropped after 75 s. */
static const lws_retry_bo_t ws_idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 75,
};

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* lws reports misbehaving peers as errors; to trendd they are warnings */
	log_msg(level == LLL_ERR ? LOG_WARN : LOG_INFO, "lws", "%.*s", (int)n, line);
}

int web_listen_parse(const char *s, char *addr, size_t addrlen, int *port, bool *ipv6,
		     char *err, size_t errlen)
{
	const char *host, *colon, *p;
	size_t hlen;
	long v = 0;
	unsigned char tmp[sizeof(struct in6_addr)];

	if (!s || !*s)
		goto bad;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
		*ipv6 = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			goto bad; /* IPv6 addresses need brackets */
		host = s;
		hlen = (size_t)(colon - s);
		*ipv6 = false;
	}
	if (hlen == 0 || hlen >= addrlen)
		goto bad;
	if (!colon[1] || strlen(colon + 1) > 5)
		goto bad;
	for (p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		goto bad;
	memcpy(addr, host, hlen);
	addr[hlen] = 0;
	if (!*ipv6 && strcmp(addr, "localhost") == 0)
		snprintf(addr, addrlen, "127.0.0.1");
	if (inet_pton(*ipv6 ? AF_INET6 : AF_INET, addr, tmp) != 1) {
		snprintf(err, errlen, "listen address \"%s\" is not an IP address (use e.g. "
				      "127.0.0.1:8080 or [::1]:8080)", s);
		return -EINVAL;
	}
	*port = (int)v;
	return 0;
bad:
	snprintf(err, errlen, "listen address \"%s\" is not ADDR:PORT (e.g. 127.0.0.1:8080 or "
			      "[::1]:8080, port 0-65535)", s ? s : "");
	return -EINVAL;
}

/*
 * lws does not say why a bind failed (it logs an errno and, for some errors,
 * retries later in the background), so the address is tried once here with
 * the same socket options to report a readable reason before lws binds it.
 */
static int probe_bind(const char *addr, int port, bool ipv6, const char *listen, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, rc = 0;

	memset(&ss, 0, sizeof ss);
	if (ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		sl = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		sl = sizeof *a;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(errno));
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		const char *why;
		rc = -errno;
		switch (errno) {
		case EADDRINUSE:
			why = "address in use";
			break;
		case EADDRNOTAVAIL:
			why = "address not available on this machine";
			break;
		case EACCES:
			why = "permission denied (ports below 1024 need privileges)";
			break;
		default:
			why = strerror(errno);
		}
		snprintf(err, errlen, "cannot listen on %s: %s", listen, why);
	}
	close(fd);
	return rc;
}

static void web_timer_cb(lws_sorted_usec_list_t *sul)
{
	struct web *w = lws_container_of(sul, struct web, timer);

	/* a producer that forgot bus_wake_web() costs at most one period of latency */
	web_ws_refresh(w);
	web_ws_cull(w, clock_mono_ms());
	web_http_release_held(w);
	lws_sul_schedule(w->ctx, 0, &w->timer, web_timer_cb, WEB_TIMER_MS * LWS_US_PER_MS);
}

static void web_wake(void *ctx) { lws_cancel_service(ctx); }

static void index_static(struct web *w, const struct web_config *cfg)
{
	char err[512];
	int rc;

	rc = static_files_add_dir(&w->files, cfg->static_dir, "", true, STATIC_CACHE_REVALIDATE,
				  err, sizeof err);
	if (rc < 0)
		log_warn("web", "dashboard not served: %s", err);
	if (cfg->chartjs_dir && *cfg->chartjs_dir) {
		/* Debian's package links files across /usr/share: not confined */
		rc = static_files_add_dir(&w->files, cfg->chartjs_dir, "/vendor/chart.js", false,
					  STATIC_CACHE_LONG, err, sizeof err);
		if (rc < 0)
			log_warn("web", "Chart.js not served (install libjs-chart.js): %s", err);
	}
	static_files_finish(&w->files);
	log_info("web", "serving %zu static files", w->files.n);
}

int web_create(struct web **out, const struct web_config *cfg, struct bus *bus, char *err,
	       size_t errlen)
{
	struct lws_context_creation_info info;
	char addr[WEB_ADDR_BYTES];
	struct web *w = NULL;
	bool ipv6 = false;
	int port = 0, rc;
	uint64_t opts;

	*out = NULL;
	rc = web_listen_parse(cfg->listen, addr, sizeof addr, &port, &ipv6, err, errlen);
	if (rc == 0)
		rc = probe_bind(addr, port, ipv6, cfg->listen, err, errlen);
	if (rc == 0 && !(w = calloc(1, sizeof *w))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	if (rc < 0) {
		if (cfg->preview.stop)
			cfg->preview.stop(cfg->preview.ctx);
		return rc;
	}
	w->bus = bus;
	w->ws_slow_ms = cfg->ws_slow_ms > 0 ? cfg->ws_slow_ms : WEB_WS_SLOW_MS;
	w->db_ok = -1;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->mu, NULL);
	snprintf(w->token, sizeof w->token, "%s", cfg->token ? cfg->token : "");
	w->history = cfg->history;
	w->preview = cfg->preview;
	w->next_req_id = 1;
	snprintf(w->listen, sizeof w->listen, "%s", cfg->listen);
	static_files_init(&w->files);
	index_static(w, cfg);

	w->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = web_http_callback,
		.per_session_data_size = web_http_session_size(),
	};
	w->protocols[1] = (struct lws_protocols){
		.name = "trendd.v1",
		.callback = web_ws_callback,
		.per_session_data_size = web_ws_session_size(),
		.rx_buffer_size = LIMIT_WS_MESSAGE_BYTES,
	};

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	opts = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!ipv6)
		opts |= LWS_SERVER_OPTION_DISABLE_IPV6;
	memset(&info, 0, sizeof info);
	info.options = opts;
	info.user = w;
	info.server_string = "trendd";
	info.max_http_header_data = WEB_HEADER_BYTES;
	info.count_threads = 1;
	w->ctx = lws_create_context(&info);
	if (!w->ctx) {
		snprintf(err, errlen, "cannot create the web server context");
		rc = -ENOMEM;
		goto fail;
	}

	memset(&info, 0, sizeof info);
	info.options = opts;
	info.user = w;
	info.port = port;
	info.iface = addr;
	info.protocols = w->protocols;
	info.vhost_name = "trendd";
	info.keepalive_timeout = 30;
	info.timeout_secs = 20;
	info.retry_and_idle_policy = &ws_idle_policy;
	w->vhost = lws_create_vhost(w->ctx, &info);
	if (!w->vhost || lws_get_vhost_listen_port(w->vhost) <= 0) {
		snprintf(err, errlen, "cannot listen on %s", cfg->listen);
		rc = -EADDRNOTAVAIL;
		goto fail;
	}
	w->port = lws_get_vhost_listen_port(w->vhost);
	w->started_mono_ms = clock_mono_ms();
	lws_sul_schedule(w->ctx, 0, &w->timer, web_timer_cb, WEB_TIMER_MS * LWS_US_PER_MS);

	bus->wake_web_ctx = w->ctx;
	bus->wake_web = web_wake;
	log_info("web", "listening on http://%s%s%s:%d/", ipv6 ? "[" : "", addr, ipv6 ? "]" : "",
		 w->port);
	*out = w;
	return 0;
fail:
	if (cfg->preview.stop)
		cfg->preview.stop(cfg->preview.ctx);
	if (w->ctx)
		lws_context_destroy(w->ctx);
	static_files_free(&w->files);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return rc;
}

void web_set_token(struct web *w, const char *token)
{
	pthread_mutex_lock(&w->mu);
	snprintf(w->token, sizeof w->token, "%s", token ? token : "");
	pthread_mutex_unlock(&w->mu);
}

int web_port(const struct web *w) { return w->port; }

/* How long stopping waits for WebSocket clients to get their close frame. */
#define WEB_CLOSE_GRACE_MS 250

int web_run(struct web *w)
{
	while (!atomic_load(&w->stop)) {
		if (lws_service(w->ctx, 0) < 0) {
			log_error("web", "service loop failed");
			return -EIO;
		}
	}
	/* Clients learn why (1001) instead of seeing the connection vanish. */
	web_ws_close_all(w);
	for (int64_t end = clock_mono_ms() + WEB_CLOSE_GRACE_MS;
	     web_ws_any(w) && clock_mono_ms() < end;)
		if (lws_service(w->ctx, 0) < 0)
			break;
	return 0;
}

void web_stop(struct web *w)
{
	atomic_store(&w->stop, true);
	lws_cancel_service(w->ctx);
}

void web_free(struct web *w)
{
	if (!w)
		return;
	if (w->bus->wake_web == web_wake && w->bus->wake_web_ctx == w->ctx) {
		w->bus->wake_web = NULL;
		w->bus->wake_web_ctx = NULL;
	}
	/* answers it still posts need the context: stop it first */
	if (w->preview.stop)
		w->preview.stop(w->preview.ctx);
	w->preview.stop = NULL;
	lws_sul_cancel(&w->timer);
	lws_context_destroy(w->ctx);
	web_ws_release(w);
	ref_put(w->db_status ? &w->db_status->ref : NULL);
	static_files_free(&w->files);
	/* answers that arrived after the loop stopped */
	for (size_t i = 0; i < w->nmail; i++)
		web_mail_free(&w->mail[i]);
	free(w->mail);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void web_db_refresh(struct web *w)
{
	uint64_t v = publish_version(&w->bus->db_status);
	struct blob *b;

	if (v == w->db_gen)
		return;
	b = (struct blob *)publish_get(&w->bus->db_status);
	if (w->db_status)
		ref_put(&w->db_status->ref);
	w->db_status = b;
	w->db_gen = v;
	w->db_ok = b ? render_db_ok(b->data, b->len) : -1;
}

void web_stats_fill(struct web *w, struct web_stats *out)
{
	*out = w->stats;
	out->uptime_ms = clock_mono_ms() - w->started_mono_ms;
}
