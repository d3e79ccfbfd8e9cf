/*
 * http.c - the HTTP side of the web layer: one router for every request,
 * the REST endpoints, /healthz, /metrics and the static files.
 *
 * Every request lands in web_http_callback (protocols[0]; there are no lws
 * mounts), which checks the body length, finds the route, checks the
 * method and calls the route's handler. A handler fills a response; small
 * responses go out in one write, larger ones in WEB_IO_CHUNK pieces from the
 * writeable callback. Routes that take a request body (none yet: mutating
 * endpoints come with token auth) set takes_body; their body is collected up
 * to LIMIT_REQUEST_BODY_BYTES and the handler runs when it is complete.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "web/web_internal.h"

#define JSON_TYPE  "application/json; charset=utf-8"
#define TEXT_TYPE  "text/plain; version=0.0.4; charset=utf-8"

/* Per-connection state of protocols[0]: one transaction at a time. */
struct web_http {
	const struct route *route; /* borrowed: the route awaiting its body */
	struct strbuf req;         /* owned: request body, capped */
	struct strbuf body;        /* owned: rendered response body */
	struct blob *blob;         /* owned ref: or a published blob as the body */
	size_t sent;
	bool writing;              /* body left for the writeable callback */
	bool close;                /* close the connection when the body is out */
};

/* What a handler decides; headers are written from it. */
struct http_resp {
	int status;
	const char *type;          /* Content-Type */
	const char *cache;         /* Cache-Control */
	const char *allow;         /* Allow (405) */
	int retry_after;           /* seconds, 0 = none */
	bool close;                /* close the connection after the response */
};

typedef void (*route_fn)(struct web *w, struct lws *wsi, struct web_http *h,
			 struct http_resp *r);

#define M(x) (1u << (x))
#define M_READ (M(LWSHUMETH_GET) | M(LWSHUMETH_HEAD))

struct route {
	const char *path;
	bool prefix;               /* path matches every path under it */
	unsigned methods;          /* M(LWSHUMETH_…) */
	route_fn fn;
	bool takes_body;
};

static void api_trends(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_sources(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_health(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_metrics(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void ws_plain(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void not_found(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);

/* First match wins; paths not listed fall through to the static files. */
static const struct route routes[] = {
	{ "/api/trends", false, M_READ, api_trends, false },
	{ "/api/sources", false, M_READ, api_sources, false },
	{ "/healthz", false, M_READ, api_health, false },
	{ "/metrics", false, M_READ, api_metrics, false },
	{ "/ws", false, M_READ, ws_plain, false },
	{ "/api/", true, ~0u, not_found, false },
};

size_t web_http_session_size(void) { return sizeof(struct web_http); }

static void http_release(struct web_http *h)
{
	sb_free(&h->req);
	sb_free(&h->body);
	if (h->blob)
		ref_put(&h->blob->ref);
	h->blob = NULL;
	h->route = NULL;
	h->sent = 0;
	h->writing = false;
	h->close = false;
}

static const char *body_data(const struct web_http *h, size_t *len)
{
	if (h->blob) {
		*len = h->blob->len;
		return h->blob->data;
	}
	*len = h->body.len;
	return h->body.buf ? h->body.buf : "";
}

static void json_response(struct http_resp *r, int status)
{
	memset(r, 0, sizeof *r);
	r->status = status;
	r->type = JSON_TYPE;
	r->cache = "no-store";
}

static void error_response(struct web_http *h, struct http_resp *r, int status, const char *msg)
{
	sb_reset(&h->body);
	if (h->blob) {
		ref_put(&h->blob->ref);
		h->blob = NULL;
	}
	json_response(r, status);
	render_error(&h->body, msg);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
		      unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value, (int)strlen(value), p, end);
}

/* Ends the transaction: keep-alive for the next request, or close. */
static int http_done(struct lws *wsi, struct web_http *h)
{
	bool close = h->close;

	http_release(h);
	if (close)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/*
 * Writes the headers and, when it fits, the whole body in one write; a
 * larger body continues from the writeable callback.
 */
static int http_respond(struct web *w, struct lws *wsi, struct web_http *h,
			const struct http_resp *r, bool head)
{
	unsigned char *start = w->io + LWS_PRE, *p = start, *end = w->io + sizeof w->io - 1;
	size_t len;
	const char *data = body_data(h, &len);
	char num[24];

	if (r->status >= 500)
		w->stats.http_responses_5xx++;
	else if (r->status >= 400)
		w->stats.http_responses_4xx++;
	h->close = r->close;
	if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->type, len, &p, end) ||
	    add_header(wsi, "cache-control:", r->cache ? r->cache : "no-store", &p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    add_header(wsi, "content-security-policy:", "default-src 'none'; "
			"frame-ancestors 'none'", &p, end))
		return -1;
	if (r->allow && add_header(wsi, "allow:", r->allow, &p, end))
		return -1;
	if (r->retry_after > 0) {
		snprintf(num, sizeof num, "%d", r->retry_after);
		if (add_header(wsi, "retry-after:", num, &p, end))
			return -1;
	}
	if (r->close && add_header(wsi, "connection:", "close", &p, end))
		return -1;
	if (lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (head)
		len = 0;
	if (len <= (size_t)(end - p)) {
		memcpy(p, data, len);
		p += len;
		if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) != p - start)
			return -1;
		return http_done(wsi, h);
	}
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != p - start)
		return -1;
	h->writing = true;
	h->sent = 0;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_write_more(struct web *w, struct lws *wsi, struct web_http *h)
{
	size_t len, n;
	const char *data = body_data(h, &len);
	bool final;

	if (!h->writing)
		return 0;
	n = len - h->sent < WEB_IO_CHUNK ? len - h->sent : WEB_IO_CHUNK;
	final = h->sent + n == len;
	memcpy(w->io + LWS_PRE, data + h->sent, n);
	if (lws_write(wsi, w->io + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
	    (int)n)
		return -1;
	h->sent += n;
	if (final)
		return http_done(wsi, h);
	lws_callback_on_writable(wsi);
	return 0;
}

static void allow_list(unsigned methods, char *buf, size_t cap)
{
	static const struct {
		int m;
		const char *name;
	} names[] = { { LWSHUMETH_GET, "GET" },	       { LWSHUMETH_HEAD, "HEAD" },
		      { LWSHUMETH_POST, "POST" },      { LWSHUMETH_PUT, "PUT" },
		      { LWSHUMETH_PATCH, "PATCH" },    { LWSHUMETH_DELETE, "DELETE" } };
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (methods & M(names[i].m))
			n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", names[i].name);
}

/* ---- handlers ---- */

/*
 * Applies every query argument to v. lws has already split the query at '&'
 * and URL-decoded each "name=value". Returns 0 or -EINVAL with err set.
 */
static int query_view(struct lws *wsi, struct web_view *v, char *err, size_t errlen)
{
	char arg[WEB_QUERY_ARG_BYTES];

	for (int i = 0;; i++) {
		int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0) {
			if (flen >= (int)sizeof arg) {
				snprintf(err, errlen, "query argument %d is too long (max %d bytes)",
					 i + 1, WEB_QUERY_ARG_BYTES - 1);
				return -EINVAL;
			}
			return 0;
		}
		if (n == 0)
			continue;
		const char *eq = memchr(arg, '=', (size_t)n);
		size_t nlen = eq ? (size_t)(eq - arg) : (size_t)n;
		const char *val = eq ? eq + 1 : "";
		size_t vlen = eq ? (size_t)n - nlen - 1 : 0;
		if (render_view_set(v, arg, nlen, val, vlen, err, errlen) < 0)
			return -EINVAL;
	}
}

static void api_trends(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	struct web_view v;
	struct snapshot *s;
	char err[256];

	render_view_default(&v);
	if (query_view(wsi, &v, err, sizeof err) < 0) {
		error_response(h, r, 400, err);
		return;
	}
	s = snapshot_acquire(&w->bus->trends);
	if (!s) {
		error_response(h, r, 503, "no snapshot yet");
		r->retry_after = 1;
		return;
	}
	json_response(r, 200);
	if (render_trends(&h->body, s, &v, false) < 0)
		error_response(h, r, 500, "out of memory");
	snapshot_put(s);
}

static void api_sources(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	json_response(r, 200);
	h->blob = (struct blob *)publish_get(&w->bus->sources);
	if (!h->blob)
		sb_puts(&h->body, "[]");
}

static void api_health(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	struct snapshot *s = snapshot_acquire(&w->bus->trends);
	struct web_stats st;

	web_db_refresh(w);
	web_stats_fill(w, &st);
	json_response(r, 200);
	render_health(&h->body, s, clock_now_ms(), &st, w->db_status ? w->db_status->data : NULL,
		      w->db_status ? w->db_status->len : 0, w->db_ok);
	snapshot_put(s);
}

static void api_metrics(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	struct snapshot *s = snapshot_acquire(&w->bus->trends);
	struct web_stats st;

	web_db_refresh(w);
	web_stats_fill(w, &st);
	json_response(r, 200);
	r->type = TEXT_TYPE;
	render_metrics(&h->body, s, clock_now_ms(), &st, w->db_ok);
	snapshot_put(s);
}

static void ws_plain(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	error_response(h, r, 426, "/ws is a WebSocket endpoint: connect with the subprotocol "
				  "trendd.v1");
}

static void not_found(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	error_response(h, r, 404, "not found");
}

/* ---- static files ---- */

/* Host header as a CSP source, or NULL when it has anything but host[:port] characters. */
static const char *csp_host(struct lws *wsi, char *buf, size_t cap)
{
	int n = lws_hdr_copy(wsi, buf, (int)cap, WSI_TOKEN_HOST);

	if (n <= 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		char c = buf[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return NULL;
	}
	return buf;
}

static int serve_file(struct web *w, struct lws *wsi, const struct static_file *f)
{
	unsigned char hdrs[1024], *p = hdrs, *end = hdrs + sizeof hdrs;
	char host[128], csp[512];
	const char *hp;
	int n;

	if (add_header(wsi, "cache-control:",
		       f->cache == STATIC_CACHE_LONG ? "public, max-age=86400" : "no-cache", &p,
		       end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end))
		return -1;
	if (f->html) {
		/*
		 * 'self' covers same-origin ws: in current browsers; naming the
		 * host keeps older ones working without allowing any other host.
		 */
		hp = csp_host(wsi, host, sizeof host);
		snprintf(csp, sizeof csp,
			 "default-src 'self'; script-src 'self'; style-src 'self'; "
			 "img-src 'self' data:; connect-src 'self'%s%s%s%s; object-src 'none'; "
			 "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
			 hp ? " ws://" : "", hp ? hp : "", hp ? " wss://" : "", hp ? hp : "");
		if (add_header(wsi, "content-security-policy:", csp, &p, end) ||
		    add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
		    add_header(wsi, "x-frame-options:", "DENY", &p, end))
			return -1;
	}
	n = lws_serve_http_file(wsi, f->path, f->mime, (const char *)hdrs, (int)(p - hdrs));
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* ---- the router ---- */

static const struct route *route_find(const char *path, size_t len)
{
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		size_t plen = strlen(routes[i].path);
		if (routes[i].prefix ? (len >= plen && memcmp(path, routes[i].path, plen) == 0)
				     : (len == plen && memcmp(path, routes[i].path, plen) == 0))
			return &routes[i];
	}
	return NULL;
}

/* Content-Length as a number; -1 when absent, -2 when malformed. */
static long long content_length(struct lws *wsi)
{
	char buf[32];
	long long v = 0;
	int n;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return -1;
	n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (n <= 0 || n > 18)
		return -2;
	for (int i = 0; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -2;
		v = v * 10 + (buf[i] - '0');
	}
	return v;
}

static int http_request(struct web *w, struct lws *wsi, struct web_http *h)
{
	struct http_resp r;
	char *uri = NULL, allow[64];
	int uri_len = 0, meth;
	const struct route *rt;
	long long clen;
	bool head, body_method;

	http_release(h);
	w->stats.http_requests++;
	meth = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (meth < 0 || !uri)
		return -1;
	if (meth == LWSHUMETH_COLON_PATH)
		meth = LWSHUMETH_GET; /* h2 pseudo-header: treated as GET */
	head = meth == LWSHUMETH_HEAD;
	body_method = meth == LWSHUMETH_POST || meth == LWSHUMETH_PUT || meth == LWSHUMETH_PATCH;

	clen = content_length(wsi);
	if (clen == -2) {
		error_response(h, &r, 400, "Content-Length is not a number");
		r.close = true;
		return http_respond(w, wsi, h, &r, head);
	}
	if (clen > LIMIT_REQUEST_BODY_BYTES) {
		char msg[96];
		snprintf(msg, sizeof msg, "request body is larger than %d bytes",
			 LIMIT_REQUEST_BODY_BYTES);
		error_response(h, &r, 413, msg);
		r.close = true;
		return http_respond(w, wsi, h, &r, head);
	}
	if (body_method && clen < 0) {
		error_response(h, &r, 411, "a request body needs a Content-Length");
		r.close = true;
		return http_respond(w, wsi, h, &r, head);
	}

	rt = route_find(uri, (size_t)uri_len);
	if (!rt) {
		const struct static_file *f = static_files_find(&w->files, uri, (size_t)uri_len);
		if (!f)
			not_found(w, wsi, h, &r);
		else if (meth != LWSHUMETH_GET && meth != LWSHUMETH_HEAD) {
			error_response(h, &r, 405, "method not allowed");
			r.allow = "GET, HEAD";
		} else if (clen > 0)
			error_response(h, &r, 400, "this endpoint takes no request body");
		else
			return serve_file(w, wsi, f);
		return http_respond(w, wsi, h, &r, head);
	}
	if (rt->fn == not_found) {
		not_found(w, wsi, h, &r);
		return http_respond(w, wsi, h, &r, head);
	}
	if (!(rt->methods & M(meth))) {
		allow_list(rt->methods, allow, sizeof allow);
		error_response(h, &r, 405, "method not allowed");
		r.allow = allow;
		return http_respond(w, wsi, h, &r, head);
	}
	if (clen > 0 && !rt->takes_body) {
		error_response(h, &r, 400, "this endpoint takes no request body");
		return http_respond(w, wsi, h, &r, head);
	}
	if (rt->takes_body && clen > 0) {
		h->route = rt; /* the handler runs at LWS_CALLBACK_HTTP_BODY_COMPLETION */
		return 0;
	}
	json_response(&r, 200);
	rt->fn(w, wsi, h, &r);
	return http_respond(w, wsi, h, &r, head);
}

static int http_body(struct web *w, struct lws *wsi, struct web_http *h, const void *in,
		     size_t len)
{
	struct http_resp r;

	if (!h->route)
		return 0; /* not collecting: lws discards it */
	if (h->req.len + len > LIMIT_REQUEST_BODY_BYTES) {
		/* Content-Length was checked; this is a peer sending more than it said */
		error_response(h, &r, 413, "request body too large");
		r.close = true;
		h->route = NULL;
		return http_respond(w, wsi, h, &r, false);
	}
	sb_append(&h->req, in, len);
	if (h->req.failed) {
		error_response(h, &r, 500, "out of memory");
		r.close = true;
		h->route = NULL;
		return http_respond(w, wsi, h, &r, false);
	}
	return 0;
}

static int http_body_complete(struct web *w, struct lws *wsi, struct web_http *h)
{
	const struct route *rt = h->route;
	struct http_resp r;

	if (!rt)
		return 0;
	h->route = NULL;
	json_response(&r, 200);
	rt->fn(w, wsi, h, &r);
	return http_respond(w, wsi, h, &r, false);
}

int web_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct web_http *h = user;
	struct web *w;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* a WebSocket upgrade without the trendd.v1 subprotocol */
		w = web_from_wsi(wsi);
		w->stats.ws_rejected++;
		return -1;
	case LWS_CALLBACK_HTTP:
		return http_request(web_from_wsi(wsi), wsi, h);
	case LWS_CALLBACK_HTTP_BODY:
		return h ? http_body(web_from_wsi(wsi), wsi, h, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return h ? http_body_complete(web_from_wsi(wsi), wsi, h) : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return h ? http_write_more(web_from_wsi(wsi), wsi, h) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (h)
			http_release(h);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return 0; /* handled once, by the WebSocket protocol */
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
