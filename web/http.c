/*
 * http.c - the HTTP side of the web layer: one router for every request,
 * the REST endpoints, /healthz, /metrics and the static files.
 *
 * Every request lands in web_http_callback (protocols[0]; there are no lws
 * mounts), which checks the body length, finds the route, checks the
 * method and calls the route's handler. A handler fills a response; small
 * responses go out in one write, larger ones in WEB_IO_CHUNK pieces from the
 * writeable callback. Routes that take a request body set takes_body; their
 * body is collected up to LIMIT_REQUEST_BODY_BYTES and the handler runs when
 * it is complete.
 *
 * Some answers come from other threads: source changes from the db writer
 * (a struct dbmsg with a done callback), history queries from the db
 * readers (web/history.h builds the query), source previews from the
 * preview worker (web/preview.h) and term details from the analytics
 * thread (core/live.h, LIVE_TERM_DETAIL). Such a request is deferred: it is
 * remembered by id, the other thread posts the answer to the mailbox and
 * wakes the loop (lws_cancel_service), and web_http_drain writes it.
 *
 * Cacheable answers (trends, sources, history, static files) carry an ETag;
 * the request's If-None-Match is kept with the connection, so a deferred
 * answer that matches it still becomes a 304 without a body.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/live.h"
#include "core/log.h"
#include "core/term.h"
#include "db/history.h"
#include "web/history.h"
#include "web/preview.h"
#include "web/web_internal.h"

#define JSON_TYPE  "application/json; charset=utf-8"
#define TEXT_TYPE  "text/plain; version=0.0.4; charset=utf-8"
#define CSV_TYPE   "text/csv; charset=utf-8"

/* What a handler decides; headers are written from it. */
struct http_resp {
	int status;
	const char *type;          /* Content-Type */
	const char *cache;         /* Cache-Control */
	const char *allow;         /* Allow (405) */
	const char *disposition;   /* Content-Disposition, NULL = none */
	int retry_after;           /* seconds, 0 = none */
	bool close;                /* close the connection after the response */
	char etag[WEB_ETAG_BYTES]; /* a 200's validator, quoted; "" = none */
	bool etag_of_body;         /* a 200: the validator is a hash of the body */
};

/* Per-connection state of protocols[0]: one transaction at a time. */
struct web_http {
	const struct route *route; /* borrowed: the route awaiting its body */
	struct strbuf req;         /* owned: request body, capped */
	struct strbuf body;        /* owned: rendered response body */
	struct blob *blob;         /* owned ref: or a published blob as the body */
	size_t sent;
	bool writing;              /* body left for the writeable callback */
	bool close;                /* close the connection when the body is out */
	bool deferred;             /* the answer comes later, from web_http_drain */
	bool ready;                /* the deferred answer is in body/resp: write it */
	bool head;                 /* the deferred request was a HEAD: headers only */
	char inm[WEB_INM_BYTES];   /* the request's If-None-Match, "" when none or too long */
	uint64_t req_id;           /* while deferred */
	struct http_resp resp;     /* the deferred answer's status and headers */
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
static void api_source(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void ws_plain(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void not_found(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_term(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_compare(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_history_top(struct web *w, struct lws *wsi, struct web_http *h,
			    struct http_resp *r);
static void api_sentiment(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_snapshots(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_export(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_preview(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);
static void api_ingest(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r);

#define M_SOURCE (M_READ | M(LWSHUMETH_POST) | M(LWSHUMETH_PATCH) | M(LWSHUMETH_DELETE))

/* First match wins; paths not listed fall through to the static files. */
static const struct route routes[] = {
	{ "/api/trends", false, M_READ, api_trends, false },
	{ "/api/ingest", false, M(LWSHUMETH_POST), api_ingest, true },
	{ "/api/sources", false, M_READ | M(LWSHUMETH_POST), api_sources, true },
	{ "/api/sources/preview", false, M(LWSHUMETH_POST), api_preview, true },
	{ "/api/sources/", true, M_SOURCE, api_source, true },
	{ "/api/terms", false, M_READ, api_compare, false },
	{ "/api/terms/", true, M_READ, api_term, false },
	{ "/api/history/top", false, M_READ, api_history_top, false },
	{ "/api/sentiment", false, M_READ, api_sentiment, false },
	{ "/api/snapshots", false, M_READ, api_snapshots, false },
	{ "/api/export.csv", false, M_READ, api_export, false },
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
	h->deferred = false;
	h->ready = false;
	h->head = false;
	h->inm[0] = 0;
	h->req_id = 0;
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

void web_etag_of(const char *data, size_t len, char *out, size_t cap)
{
	snprintf(out, cap, "\"b%016llx%08zx\"", (unsigned long long)hash_bytes(data, len), len);
}

/*
 * If-None-Match: "*" or a list of entity tags, compared weakly (a W/ prefix
 * on either side is ignored, RFC 9110 13.1.2).
 */
bool web_etag_match(const char *inm, const char *etag)
{
	const char *p = inm, *e = etag;
	size_t elen;

	if (!inm[0] || !etag[0])
		return false;
	if (!strncmp(e, "W/", 2))
		e += 2;
	elen = strlen(e);
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (*p != '"')
			return false;
		const char *q = strchr(p + 1, '"');
		if (!q)
			return false;
		if ((size_t)(q + 1 - p) == elen && !memcmp(p, e, elen))
			return true;
		p = q + 1;
	}
	return false;
}

/* 304: the validators and caching headers of the 200 it stands for, no body. */
static int http_not_modified(struct web *w, struct lws *wsi, struct web_http *h,
			     const struct http_resp *r, const char *etag, const char *cache)
{
	unsigned char *start = w->io + LWS_PRE, *p = start, *end = w->io + sizeof w->io - 1;

	w->stats.http_not_modified++;
	h->close = r->close;
	if (lws_add_http_header_status(wsi, 304, &p, end) ||
	    add_header(wsi, "etag:", etag, &p, end) ||
	    add_header(wsi, "cache-control:", cache, &p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    (r->close && add_header(wsi, "connection:", "close", &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) != p - start)
		return -1;
	return http_done(wsi, h);
}

/*
 * Writes the headers and, when it fits, the whole body in one write; a
 * larger body continues from the writeable callback. A 200 with a validator
 * the request's If-None-Match names becomes a 304 without a body.
 */
static int http_respond(struct web *w, struct lws *wsi, struct web_http *h,
			const struct http_resp *r, bool head)
{
	unsigned char *start = w->io + LWS_PRE, *p = start, *end = w->io + sizeof w->io - 1;
	size_t len;
	const char *data = body_data(h, &len);
	char num[24], etag[WEB_ETAG_BYTES];

	etag[0] = 0;
	if (r->status == 200 && r->etag_of_body)
		web_etag_of(data, len, etag, sizeof etag);
	else if (r->status == 200)
		snprintf(etag, sizeof etag, "%s", r->etag);
	if (etag[0] && web_etag_match(h->inm, etag))
		return http_not_modified(w, wsi, h, r, etag, "no-cache");
	if (r->status >= 500)
		w->stats.http_responses_5xx++;
	else if (r->status >= 400)
		w->stats.http_responses_4xx++;
	h->close = r->close;
	if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->type, len, &p, end) ||
	    add_header(wsi, "cache-control:", etag[0] ? "no-cache" : r->cache ? r->cache : "no-store",
		       &p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    add_header(wsi, "content-security-policy:", "default-src 'none'; "
			"frame-ancestors 'none'", &p, end))
		return -1;
	if (r->allow && add_header(wsi, "allow:", r->allow, &p, end))
		return -1;
	if (etag[0] && add_header(wsi, "etag:", etag, &p, end))
		return -1;
	if (r->disposition && add_header(wsi, "content-disposition:", r->disposition, &p, end))
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
	/* one snapshot and view make one document: no need to render it to name it */
	snprintf(r->etag, sizeof r->etag, "\"t%llx.%llx.%016llx\"", (unsigned long long)s->seq,
		 (unsigned long long)s->generated_ms, (unsigned long long)render_view_hash(&v));
	if (web_etag_match(h->inm, r->etag)) {
		snapshot_put(s);
		return;
	}
	if (render_trends(&h->body, s, &v, false) < 0)
		error_response(h, r, 500, "out of memory");
	snapshot_put(s);
}

/* ---- sources: list, create, read, edit, delete, poll now ---- */

static int method_of(struct lws *wsi)
{
	char *uri;
	int len;
	return lws_http_get_uri_and_method(wsi, &uri, &len);
}

/* Constant time: how long a wrong token takes tells nothing about the right one. */
static bool token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = (unsigned char)(alen != blen);
	for (size_t i = 0; i < alen; i++)
		diff |= (unsigned char)(a[i] ^ (i < blen ? b[i] : 0));
	return diff == 0;
}

/*
 * Mutations need the admin token (Authorization: Bearer ...) and, when a
 * browser says where the request comes from, the same origin as the page.
 * Answers 401/403 itself and returns false when the request may not go on.
 */
static bool may_mutate(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	char auth[WEB_TOKEN_BYTES + 16], origin[256], host[256];
	int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
	int on = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);

	if (on > 0) {
		/* Origin is scheme://host[:port]; it must name this server's Host */
		int hn = lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST);
		const char *o = strstr(origin, "://");
		if (hn <= 0 || !o || strcmp(o + 3, host) != 0) {
			error_response(h, r, 403, "cross-origin request refused");
			return false;
		}
	}
	pthread_mutex_lock(&w->mu);
	bool ok = w->token[0] && n > 7 && strncasecmp(auth, "Bearer ", 7) == 0 &&
		  token_equal(auth + 7, (size_t)n - 7, w->token, strlen(w->token));
	pthread_mutex_unlock(&w->mu);
	if (!ok) {
		error_response(h, r, 401, n > 0 ? "wrong admin token"
						: "this endpoint needs Authorization: Bearer <admin "
						  "token> (see trendd token)");
		return false;
	}
	return true;
}

/*
 * The published source with this id, or with this name when name is not
 * NULL (a new JSON reference), or NULL.
 */
static json_t *source_find(struct web *w, int64_t id, const char *name)
{
	struct blob *b = (struct blob *)publish_get(&w->bus->sources);
	json_t *arr, *it, *found = NULL;
	size_t i;

	if (!b)
		return NULL;
	arr = json_loadb(b->data, b->len, 0, NULL);
	ref_put(&b->ref);
	json_array_foreach(arr, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));
		if (name ? n && !strcmp(n, name) : json_integer_value(json_object_get(it, "id")) == id) {
			found = json_incref(it);
			break;
		}
	}
	json_decref(arr);
	return found;
}

static json_t *source_lookup(struct web *w, int64_t id) { return source_find(w, id, NULL); }

static bool source_lookup_exists(struct web *w, int64_t id)
{
	json_t *s = source_lookup(w, id);
	json_decref(s);
	return s != NULL;
}

static void json_body(struct web_http *h, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text) {
		sb_puts(&h->body, text);
		free(text);
	}
}

/*
 * Fills c from a JSON request body. For an edit, c already holds the stored
 * settings and only the fields present change. Returns 0 or -EINVAL with err.
 */
int web_source_from_json(const char *body, size_t len, struct source_config *c, bool edit,
			 bool *url_or_kind_changed, char *err, size_t cap)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *key;
	int rc = -EINVAL;

	*url_or_kind_changed = false;
	if (!o || !json_is_object(o)) {
		snprintf(err, cap, o ? "the body must be a JSON object"
				     : "the body is not JSON: %s", jerr.text);
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (!strcmp(key, "kind")) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) >= sizeof c->kind) {
				snprintf(err, cap, "kind must be a source kind such as \"mastodon\"");
				goto out;
			}
			if (strcmp(c->kind, json_string_value(v)) != 0)
				*url_or_kind_changed = true;
			snprintf(c->kind, sizeof c->kind, "%s", json_string_value(v));
		} else if (!strcmp(key, "name")) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 200) {
				snprintf(err, cap, "name must be a string of 1 to 200 bytes");
				goto out;
			}
			free(c->name);
			c->name = strdup(json_string_value(v));
		} else if (!strcmp(key, "url")) {
			if (!json_is_string(v) || json_string_length(v) > LIMIT_POST_URL_BYTES) {
				snprintf(err, cap, "url must be a string");
				goto out;
			}
			if (!c->url || strcmp(c->url, json_string_value(v)) != 0)
				*url_or_kind_changed = true;
			free(c->url);
			c->url = strdup(json_string_value(v));
		} else if (!strcmp(key, "enabled")) {
			if (!json_is_boolean(v)) {
				snprintf(err, cap, "enabled must be true or false");
				goto out;
			}
			c->enabled = json_is_true(v);
		} else if (!strcmp(key, "interval_s")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 86400) {
				snprintf(err, cap, "interval_s must be an integer from 1 to 86400");
				goto out;
			}
			c->interval_s = (int)json_integer_value(v);
		} else if (!strcmp(key, "params")) {
			if (!json_is_object(v)) {
				snprintf(err, cap, "params must be a JSON object");
				goto out;
			}
			free(c->params_json);
			c->params_json = json_dumps(v, JSON_COMPACT);
		} else if (!strcmp(key, "id") || !strcmp(key, "status")) {
			/* read-only fields a client may send back unchanged */
		} else {
			snprintf(err, cap, "unknown field \"%.64s\"", key);
			goto out;
		}
	}
	if (!c->name || !c->url || !c->params_json) {
		snprintf(err, cap, edit ? "out of memory" : "kind, name and url are required");
		if (!edit && c->name && c->params_json && !c->url && !strcmp(c->kind, "push"))
			goto ok; /* push sources have no URL */
		goto out;
	}
	if (!c->kind[0]) {
		snprintf(err, cap, "kind is required");
		goto out;
	}
ok:
	if (!c->url && !(c->url = strdup("")))
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static void source_config_from_json(json_t *s, struct source_config *c)
{
	json_t *params = json_object_get(s, "params");
	memset(c, 0, sizeof *c);
	c->id = json_integer_value(json_object_get(s, "id"));
	snprintf(c->kind, sizeof c->kind, "%s", json_string_value(json_object_get(s, "kind")) ?: "");
	c->name = strdup(json_string_value(json_object_get(s, "name")) ?: "");
	c->url = strdup(json_string_value(json_object_get(s, "url")) ?: "");
	c->enabled = json_is_true(json_object_get(s, "enabled"));
	c->interval_s = (int)json_integer_value(json_object_get(s, "interval_s"));
	c->params_json = params ? json_dumps(params, JSON_COMPACT) : strdup("{}");
	c->cursor = strdup("");
}

/*
 * Whether one more request may wait for an answer from another thread; when
 * not, answers 503 and returns false.
 */
static bool deferred_room(const struct web *w, struct web_http *h, struct http_resp *r)
{
	if (w->ndeferred < WEB_DEFERRED_MAX)
		return true;
	error_response(h, r, 503, "too many requests in flight; try again");
	r->retry_after = 1;
	return false;
}

/* Records that the request on wsi waits for the answer tagged req_id. */
static void deferred_wait(struct web *w, struct lws *wsi, struct web_http *h, uint64_t req_id)
{
	w->deferred[w->ndeferred++] = (struct web_deferred){ req_id, wsi };
	h->deferred = true;
	h->req_id = req_id;
}

/* Sends a save or delete to the db thread; the answer arrives in web_http_drain. */
static void defer_to_db(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r,
			struct dbmsg *m)
{
	if (!deferred_room(w, h, r)) {
		dbmsg_free(m);
		return;
	}
	m->req_id = w->next_req_id++;
	m->done = web_mail_post;
	m->done_ctx = w;
	if (queue_push(&w->bus->db, m, 0) < 0) {
		dbmsg_free(m);
		error_response(h, r, 503, "the database is busy; try again");
		r->retry_after = 1;
		return;
	}
	deferred_wait(w, wsi, h, m->req_id);
}

static void source_save(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r,
			struct source_config *c, bool reset_cursor)
{
	char err[256];
	struct dbmsg *m;

	if (w->bus->source_ops.check &&
	    w->bus->source_ops.check(w->bus->source_ops.ctx, c, err, sizeof err) < 0) {
		error_response(h, r, 400, err);
		source_config_clear(c);
		return;
	}
	if (!(m = dbmsg_new(DBMSG_SOURCE_SAVE))) {
		source_config_clear(c);
		error_response(h, r, 500, "out of memory");
		return;
	}
	m->u.save.cfg = *c; /* moved */
	m->u.save.reset_cursor = reset_cursor;
	defer_to_db(w, wsi, h, r, m);
}

/*
 * POST /api/ingest?source=NAME: NDJSON posts for a push source. Parsed here,
 * logged durably by the db writer, answered once that commits (DESIGN §6).
 */
static void api_ingest(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	char arg[WEB_QUERY_ARG_BYTES], name[WEB_QUERY_ARG_BYTES] = "";

	if (!may_mutate(w, wsi, h, r))
		return;
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		if (n > 7 && !strncmp(arg, "source=", 7))
			snprintf(name, sizeof name, "%s", arg + 7);
	}
	if (!name[0]) {
		error_response(h, r, 400, "name the push source: POST /api/ingest?source=NAME");
		return;
	}
	json_t *src = source_find(w, 0, name);
	if (!src) {
		error_response(h, r, 404, "no such source");
		return;
	}
	const char *kind = json_string_value(json_object_get(src, "kind"));
	bool push = kind && !strcmp(kind, "push");
	bool enabled = json_is_true(json_object_get(src, "enabled"));
	int64_t id = json_integer_value(json_object_get(src, "id"));
	json_decref(src);
	if (!push) {
		error_response(h, r, 409, "this source is not a push source (its kind is not \"push\")");
		return;
	}
	if (!enabled) {
		error_response(h, r, 409, "this push source is disabled");
		return;
	}
	struct dbmsg *m = dbmsg_new(DBMSG_PUSH);
	if (!m || !w->bus->source_ops.push_parse ||
	    w->bus->source_ops.push_parse(h->req.buf ? h->req.buf : "", h->req.len, id, m) < 0) {
		dbmsg_free(m);
		error_response(h, r, 500, "out of memory");
		return;
	}
	defer_to_db(w, wsi, h, r, m);
}

static void api_sources(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	char err[256];
	bool changed;

	if (method_of(wsi) != LWSHUMETH_POST) {
		json_response(r, 200);
		r->etag_of_body = true;
		h->blob = (struct blob *)publish_get(&w->bus->sources);
		if (!h->blob)
			sb_puts(&h->body, "[]");
		return;
	}
	if (!may_mutate(w, wsi, h, r))
		return;
	struct source_config c = { .enabled = true, .interval_s = 60 };
	c.params_json = strdup("{}");
	c.cursor = strdup("");
	if (web_source_from_json(h->req.buf ? h->req.buf : "", h->req.len, &c, false, &changed, err,
			     sizeof err) < 0) {
		source_config_clear(&c);
		error_response(h, r, 400, err);
		return;
	}
	source_save(w, wsi, h, r, &c, false);
}

/* Sends a preview to the worker; the answer arrives in web_http_drain. */
static void api_preview(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	struct preview_job *j;
	char err[256];
	int rc;

	if (!may_mutate(w, wsi, h, r))
		return;
	rc = web_preview_parse(h->req.buf ? h->req.buf : "", h->req.len, &w->bus->source_ops, &j,
			       err, sizeof err);
	if (rc < 0) {
		error_response(h, r, rc == -ENOMEM ? 500 : 400, err);
		return;
	}
	if (!w->preview.submit) {
		preview_job_free(j);
		error_response(h, r, 503, "source previews are not available");
		return;
	}
	if (!deferred_room(w, h, r)) {
		preview_job_free(j);
		return;
	}
	j->req_id = w->next_req_id++;
	j->done = web_preview_post;
	j->done_ctx = w;
	if ((rc = w->preview.submit(w->preview.ctx, j)) < 0) {
		preview_job_free(j);
		error_response(h, r, 503, rc == -EAGAIN ? "too many test fetches running; try again"
							: "source previews are not available");
		r->retry_after = 1;
		return;
	}
	deferred_wait(w, wsi, h, j->req_id);
}

/* /api/sources/{id} and /api/sources/{id}/poll */
static void api_source(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	char *uri;
	int ulen, meth = lws_http_get_uri_and_method(wsi, &uri, &ulen);
	const char *p = uri + strlen("/api/sources/"), *end = uri + ulen;
	int64_t id = 0;
	bool poll = false;
	char err[256];

	if (p == end || *p == '0') {
		not_found(w, wsi, h, r);
		return;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (id > (INT64_MAX - 9) / 10) {
			not_found(w, wsi, h, r);
			return;
		}
		id = id * 10 + (*p - '0');
	}
	if (p < end) {
		if ((size_t)(end - p) == 5 && memcmp(p, "/poll", 5) == 0)
			poll = true;
		else {
			not_found(w, wsi, h, r);
			return;
		}
	}
	if (poll != (meth == LWSHUMETH_POST)) {
		error_response(h, r, 405, "method not allowed");
		r->allow = poll ? "POST" : "GET, HEAD, PATCH, DELETE";
		return;
	}
	if (meth == LWSHUMETH_GET || meth == LWSHUMETH_HEAD) {
		json_t *s = source_lookup(w, id);
		if (!s) {
			error_response(h, r, 404, "no such source");
			return;
		}
		json_response(r, 200);
		r->etag_of_body = true;
		json_body(h, s);
		json_decref(s);
		return;
	}
	if (!may_mutate(w, wsi, h, r))
		return;
	if (poll) {
		int rc = w->bus->source_ops.poll_now
				 ? w->bus->source_ops.poll_now(w->bus->source_ops.ctx, id)
				 : -ENOSYS;
		if (rc == -ENOENT || !source_lookup_exists(w, id)) {
			error_response(h, r, 404, "no such source");
			return;
		}
		if (rc < 0) {
			error_response(h, r, 503, "cannot poll now; try again");
			r->retry_after = 1;
			return;
		}
		json_response(r, 202);
		sb_printf(&h->body, "{\"id\":%lld,\"polling\":true}", (long long)id);
		return;
	}
	if (meth == LWSHUMETH_DELETE) {
		struct dbmsg *m = dbmsg_new(DBMSG_SOURCE_DELETE);
		if (!m) {
			error_response(h, r, 500, "out of memory");
			return;
		}
		m->u.delete_id = id;
		defer_to_db(w, wsi, h, r, m);
		return;
	}
	/* PATCH: the stored settings, changed by the fields given */
	json_t *cur = source_lookup(w, id);
	if (!cur) {
		error_response(h, r, 404, "no such source");
		return;
	}
	struct source_config c;
	bool changed;
	source_config_from_json(cur, &c);
	json_decref(cur);
	if (web_source_from_json(h->req.buf ? h->req.buf : "{}", h->req.buf ? h->req.len : 2, &c,
			     true, &changed, err, sizeof err) < 0) {
		source_config_clear(&c);
		error_response(h, r, 400, err);
		return;
	}
	source_save(w, wsi, h, r, &c, changed);
}

/* ---- history: answered by a db reader thread ---- */

/* The query arguments of a request, URL-decoded by lws. */
struct query_args {
	char text[WEB_HISTORY_ARGS_MAX][WEB_QUERY_ARG_BYTES];
	struct web_arg args[WEB_HISTORY_ARGS_MAX];
	size_t n;
};

static int query_args_read(struct lws *wsi, struct query_args *qa, char *err, size_t errlen)
{
	qa->n = 0;
	for (int i = 0;; i++) {
		char *arg = qa->text[qa->n < WEB_HISTORY_ARGS_MAX ? qa->n : 0];
		int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		int n = lws_hdr_copy_fragment(wsi, arg, WEB_QUERY_ARG_BYTES, WSI_TOKEN_HTTP_URI_ARGS,
					      i);
		if (n < 0) {
			if (flen >= WEB_QUERY_ARG_BYTES) {
				snprintf(err, errlen, "query argument %d is too long (max %d bytes)",
					 i + 1, WEB_QUERY_ARG_BYTES - 1);
				return -EINVAL;
			}
			return 0;
		}
		if (n == 0)
			continue;
		if (qa->n == WEB_HISTORY_ARGS_MAX) {
			snprintf(err, errlen, "too many query arguments (max %d)",
				 WEB_HISTORY_ARGS_MAX);
			return -EINVAL;
		}
		const char *eq = memchr(arg, '=', (size_t)n);
		struct web_arg *a = &qa->args[qa->n++];
		a->name = arg;
		a->nlen = eq ? (size_t)(eq - arg) : (size_t)n;
		a->val = eq ? eq + 1 : "";
		a->vlen = eq ? (size_t)n - a->nlen - 1 : 0;
	}
}

/* Sends q to a reader; the answer arrives in web_http_drain. */
static void defer_to_history(struct web *w, struct lws *wsi, struct web_http *h,
			     struct http_resp *r, struct history_query *q)
{
	int rc;

	if (!w->history.submit) {
		history_query_free(q);
		error_response(h, r, 503, "history queries are not available");
		return;
	}
	if (!deferred_room(w, h, r)) {
		history_query_free(q);
		return;
	}
	q->req_id = w->next_req_id++;
	q->done = web_history_post;
	q->done_ctx = w;
	if ((rc = w->history.submit(w->history.ctx, q)) < 0) {
		history_query_free(q);
		error_response(h, r, 503,
			       rc == -EAGAIN ? "too many history queries waiting; try again"
					     : "history queries are not available");
		r->retry_after = 1;
		return;
	}
	deferred_wait(w, wsi, h, q->req_id);
	h->head = method_of(wsi) == LWSHUMETH_HEAD;
}

static void history_route(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r,
			  enum history_what what, bool export_csv)
{
	struct query_args qa;
	struct history_query *q;
	const char *term = NULL;
	size_t term_len = 0;
	char err[256];
	int rc;

	if (query_args_read(wsi, &qa, err, sizeof err) < 0) {
		error_response(h, r, 400, err);
		return;
	}
	if (what == HISTORY_TERM && !export_csv) {
		char *uri = NULL;
		int ulen = 0;
		if (lws_http_get_uri_and_method(wsi, &uri, &ulen) < 0 || !uri ||
		    (size_t)ulen < strlen("/api/terms/")) {
			not_found(w, wsi, h, r);
			return;
		}
		term = uri + strlen("/api/terms/");
		term_len = (size_t)ulen - strlen("/api/terms/");
	}
	rc = web_history_parse(what, export_csv, term, term_len, qa.args, qa.n, clock_now_ms(), &q,
			       err, sizeof err);
	if (rc < 0) {
		error_response(h, r, rc == -ENOMEM ? 500 : 400, err);
		return;
	}
	defer_to_history(w, wsi, h, r, q);
}

/* ---- term detail: answered by the analytics thread ---- */

#define RELATED_SUFFIX "/related"

static struct lws *deferred_take(struct web *w, uint64_t id);

/* A whole number from 0 to max in val[0..vlen); -1 when it is not one. */
static long arg_uint(const char *val, size_t vlen, long max)
{
	long v = 0;
	if (vlen == 0 || vlen > 6)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		if (val[i] < '0' || val[i] > '9')
			return -1;
		v = v * 10 + (val[i] - '0');
	}
	return v <= max ? v : -1;
}

/*
 * GET /api/terms/{term}/related?kind=&limit=&examples=: the terms most
 * often in the same recent posts as the term, and the newest of those
 * posts. The question goes to the analytics thread (live_submit); its
 * answer comes back through the mailbox.
 */
static void term_related(struct web *w, struct lws *wsi, struct web_http *h,
			 struct http_resp *r, const char *term, size_t term_len)
{
	struct query_args qa;
	struct live_req *q;
	char err[256];
	int kind = -1, rc;
	long limit = WEB_RELATED_TERMS, examples = WEB_RELATED_POSTS;

	if (query_args_read(wsi, &qa, err, sizeof err) < 0) {
		error_response(h, r, 400, err);
		return;
	}
	if (term_len == 0) {
		error_response(h, r, 400, "the term is empty");
		return;
	}
	if (term_len > WEB_RELATED_TERM_BYTES) {
		snprintf(err, sizeof err, "the term is longer than %d bytes", WEB_RELATED_TERM_BYTES);
		error_response(h, r, 400, err);
		return;
	}
	for (size_t i = 0; i < qa.n; i++) {
		const struct web_arg *a = &qa.args[i];
		if (a->nlen == 4 && !memcmp(a->name, "kind", 4)) {
			kind = term_kind_parse(a->val, a->vlen);
			if (kind < 0 || kind >= TERM_KIND_COUNT) {
				error_response(h, r, 400, "kind must be word, hashtag, mention, cashtag, "
							  "domain, emoji or bigram");
				return;
			}
		} else if (a->nlen == 5 && !memcmp(a->name, "limit", 5)) {
			if ((limit = arg_uint(a->val, a->vlen, WEB_RELATED_TERMS_MAX)) < 1) {
				snprintf(err, sizeof err, "limit must be an integer from 1 to %d",
					 WEB_RELATED_TERMS_MAX);
				error_response(h, r, 400, err);
				return;
			}
		} else if (a->nlen == 8 && !memcmp(a->name, "examples", 8)) {
			if ((examples = arg_uint(a->val, a->vlen, WEB_RELATED_POSTS_MAX)) < 0) {
				snprintf(err, sizeof err, "examples must be an integer from 0 to %d",
					 WEB_RELATED_POSTS_MAX);
				error_response(h, r, 400, err);
				return;
			}
		}
		/* anything else is ignored: cache-busting arguments stay harmless */
	}
	if (kind < 0)
		kind = web_history_term_kind(term, term_len);
	if (!deferred_room(w, h, r))
		return;
	if (!(q = live_req_new(LIVE_TERM_DETAIL))) {
		error_response(h, r, 500, "out of memory");
		return;
	}
	q->kind = kind;
	memcpy(q->term, term, term_len);
	q->term_len = term_len;
	q->limit = (size_t)limit;
	q->examples = (size_t)examples;
	q->req_id = w->next_req_id++;
	q->done = web_live_post;
	q->done_ctx = w;
	if ((rc = live_submit(w->bus, q)) < 0) {
		live_req_free(q);
		error_response(h, r, 503, rc == -EAGAIN ? "too many questions for analytics waiting; "
							  "try again"
							: "analytics is not running");
		r->retry_after = 1;
		return;
	}
	deferred_wait(w, wsi, h, q->req_id);
	h->head = method_of(wsi) == LWSHUMETH_HEAD;
}

/* Writes a term detail to its connection, if the client still waits. */
static void term_related_answer(struct web *w, struct live_req *q)
{
	struct lws *wsi = deferred_take(w, q->req_id);
	struct web_http *h = wsi ? lws_wsi_user(wsi) : NULL;

	if (!h || !h->deferred || h->req_id != q->req_id)
		return;
	sb_reset(&h->body);
	if (q->rc < 0) {
		error_response(h, &h->resp, q->rc == -EINVAL ? 400 : 503,
			       q->rc == -EINVAL ? "not a term" : "analytics could not answer");
	} else {
		struct blob *b = (struct blob *)publish_get(&w->bus->sources);
		json_response(&h->resp, 200);
		h->resp.etag_of_body = true;
		if (render_term_detail(&h->body, q, b ? b->data : NULL, b ? b->len : 0) < 0)
			error_response(h, &h->resp, 500, "out of memory");
		if (b)
			ref_put(&b->ref);
	}
	h->ready = true;
	lws_callback_on_writable(wsi);
}

static void api_term(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	char *uri = NULL;
	int ulen = 0;
	size_t plen = strlen("/api/terms/"), slen = strlen(RELATED_SUFFIX);

	/* no stored term has a '/': a path ending in /related asks for the detail */
	if (lws_http_get_uri_and_method(wsi, &uri, &ulen) >= 0 && uri && (size_t)ulen >= plen + slen &&
	    !memcmp(uri + ulen - slen, RELATED_SUFFIX, slen)) {
		term_related(w, wsi, h, r, uri + plen, (size_t)ulen - plen - slen);
		return;
	}
	history_route(w, wsi, h, r, HISTORY_TERM, false);
}

static void api_compare(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	history_route(w, wsi, h, r, HISTORY_COMPARE, false);
}

static void api_history_top(struct web *w, struct lws *wsi, struct web_http *h,
			    struct http_resp *r)
{
	history_route(w, wsi, h, r, HISTORY_TOP, false);
}

static void api_sentiment(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	history_route(w, wsi, h, r, HISTORY_SENTIMENT, false);
}

static void api_snapshots(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	history_route(w, wsi, h, r, HISTORY_SNAPSHOT, false);
}

static void api_export(struct web *w, struct lws *wsi, struct web_http *h, struct http_resp *r)
{
	history_route(w, wsi, h, r, HISTORY_TERM, true);
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
	struct blob *src = (struct blob *)publish_get(&w->bus->sources);
	struct dbstats_view db;

	json_response(r, 200);
	r->type = TEXT_TYPE;
	render_metrics(&h->body, s, clock_now_ms(), &st, w->db_ok);
	render_metrics_sources(&h->body, src ? src->data : NULL, src ? src->len : 0);
	dbstats_read(&w->bus->dbstats, &db);
	render_metrics_db(&h->body, &db);
	if (src)
		ref_put(&src->ref);
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

static int serve_file(struct web *w, struct lws *wsi, struct web_http *h,
		      const struct static_file *f)
{
	unsigned char hdrs[1024], *p = hdrs, *end = hdrs + sizeof hdrs;
	char host[128], csp[512], etag[WEB_ETAG_BYTES] = "";
	const char *hp, *cache = f->cache == STATIC_CACHE_LONG ? "public, max-age=86400" : "no-cache";
	struct stat st;
	int n;

	/* size and modification time name a version: an edited file gets a new tag */
	if (stat(f->path, &st) == 0)
		snprintf(etag, sizeof etag, "\"f%llx-%llx.%lx\"", (unsigned long long)st.st_size,
			 (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
	if (etag[0] && web_etag_match(h->inm, etag)) {
		struct http_resp r = { .status = 304 };
		return http_not_modified(w, wsi, h, &r, etag, cache);
	}
	if (add_header(wsi, "cache-control:", cache, &p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    (etag[0] && add_header(wsi, "etag:", etag, &p, end)))
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

/* ---- answers from the db thread ---- */

void web_mail_free(struct web_mail *m)
{
	dbmsg_free(m->db);
	history_query_free(m->history);
	preview_job_free(m->preview);
	live_req_free(m->live);
	m->db = NULL;
	m->history = NULL;
	m->preview = NULL;
	m->live = NULL;
}

/* Any thread: queues an answer for the service thread and wakes it. */
static void mail_post(struct web *w, struct web_mail m)
{
	bool ok = true;

	pthread_mutex_lock(&w->mu);
	if (w->nmail == w->cap_mail) {
		size_t cap = w->cap_mail ? w->cap_mail * 2 : 16;
		struct web_mail *nm = realloc(w->mail, cap * sizeof *nm);
		if (nm) {
			w->mail = nm;
			w->cap_mail = cap;
		} else {
			ok = false;
		}
	}
	if (ok)
		w->mail[w->nmail++] = m;
	pthread_mutex_unlock(&w->mu);
	if (!ok) {
		/* no memory to hand it over: a change stands, the client times out */
		web_mail_free(&m);
		return;
	}
	lws_cancel_service(w->ctx);
}

void web_mail_post(struct dbmsg *m, void *ctx)
{
	mail_post(ctx, (struct web_mail){ .db = m });
}

void web_history_post(struct history_query *q, void *ctx)
{
	mail_post(ctx, (struct web_mail){ .history = q });
}

void web_preview_post(struct preview_job *j, void *ctx)
{
	mail_post(ctx, (struct web_mail){ .preview = j });
}

void web_live_post(struct live_req *r, void *ctx)
{
	mail_post(ctx, (struct web_mail){ .live = r });
}

static void deferred_forget(struct web *w, struct lws *wsi)
{
	for (size_t i = 0; i < w->nheld; i++)
		if (w->held[i].wsi == wsi) {
			w->held[i] = w->held[--w->nheld];
			break;
		}
	for (size_t i = 0; i < w->ndeferred; i++)
		if (w->deferred[i].wsi == wsi) {
			w->deferred[i] = w->deferred[--w->ndeferred];
			return;
		}
}

/* The answer in h is complete: send it. */
static void answer_ready(struct lws *wsi, struct web_http *h)
{
	h->ready = true;
	lws_callback_on_writable(wsi);
}

static struct lws *deferred_take(struct web *w, uint64_t id)
{
	for (size_t i = 0; i < w->ndeferred; i++)
		if (w->deferred[i].id == id) {
			struct lws *wsi = w->deferred[i].wsi;
			w->deferred[i] = w->deferred[--w->ndeferred];
			return wsi;
		}
	return NULL;
}

static int status_for(int rc)
{
	switch (rc) {
	case -ENOENT: return 404;
	case -EEXIST: return 409;
	case -EINVAL: return 400;
	case -ENOSPC: return 409;
	default: return 503;
	}
}

/* A stored source as the API shows it; the live status comes from ingest later. */
static void render_saved_source(struct strbuf *sb, const struct source_config *c,
				json_t *status)
{
	json_t *o = json_object(), *params = json_loads(c->params_json, 0, NULL);
	json_object_set_new(o, "id", json_integer(c->id));
	json_object_set_new(o, "kind", json_string(c->kind));
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "url", json_string(c->url ? c->url : ""));
	json_object_set_new(o, "enabled", json_boolean(c->enabled));
	json_object_set_new(o, "interval_s", json_integer(c->interval_s));
	json_object_set_new(o, "params", params ? params : json_object());
	if (!status) {
		status = json_pack("{s:s,s:n,s:n,s:n,s:i,s:i,s:i,s:i,s:n,s:s}", "state",
				   c->enabled ? "idle" : "disabled", "last_ok", "last_error",
				   "last_error_at", "consecutive_errors", 0, "posts_seen", 0,
				   "items_skipped", 0, "polls", 0, "next_poll", "cursor", "");
	} else {
		json_incref(status);
	}
	json_object_set_new(o, "status", status ? status : json_object());
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text)
		sb_puts(sb, text);
	free(text);
	json_decref(o);
}

/* Writes a history answer to its connection, if the client still waits. */
static void history_answer(struct web *w, struct history_query *q)
{
	static const char *const names[] = {
		[HISTORY_TERM] = "attachment; filename=\"trendd-term.csv\"",
		[HISTORY_COMPARE] = "attachment; filename=\"trendd-compare.csv\"",
		[HISTORY_TOP] = "attachment; filename=\"trendd-top.csv\"",
		[HISTORY_SENTIMENT] = "attachment; filename=\"trendd-sentiment.csv\"",
		[HISTORY_SNAPSHOT] = "attachment; filename=\"trendd-snapshot.csv\"",
	};
	struct lws *wsi = deferred_take(w, q->req_id);
	struct web_http *h = wsi ? lws_wsi_user(wsi) : NULL;

	if (!h || !h->deferred || h->req_id != q->req_id)
		return;
	sb_free(&h->body);
	h->body = q->body; /* moved */
	sb_init(&q->body);
	json_response(&h->resp, q->status);
	h->resp.etag_of_body = true;
	if (q->csv && q->status == 200) {
		h->resp.type = CSV_TYPE;
		h->resp.disposition = names[q->what];
	}
	h->ready = true;
	lws_callback_on_writable(wsi);
}

/* Writes a preview answer to its connection, if the client still waits. */
static void preview_answer(struct web *w, struct preview_job *j)
{
	struct lws *wsi = deferred_take(w, j->req_id);
	struct web_http *h = wsi ? lws_wsi_user(wsi) : NULL;
	int status, retry_after;

	if (!h || !h->deferred || h->req_id != j->req_id)
		return;
	sb_reset(&h->body);
	status = web_preview_render(&h->body, j, &retry_after);
	json_response(&h->resp, h->body.failed ? 500 : status);
	h->resp.retry_after = retry_after;
	h->ready = true;
	lws_callback_on_writable(wsi);
}

/*
 * Takes the requests other threads answered: applies what a db request
 * changed to ingest (whether or not the client is still there) and writes
 * each answer to its connection.
 */
void web_http_drain(struct web *w)
{
	struct web_mail *mail;
	size_t n;

	pthread_mutex_lock(&w->mu);
	mail = w->mail;
	n = w->nmail;
	w->mail = NULL;
	w->nmail = w->cap_mail = 0;
	pthread_mutex_unlock(&w->mu);

	const struct bus_source_ops *ops = &w->bus->source_ops;
	for (size_t i = 0; i < n; i++) {
		struct dbmsg *m = mail[i].db;
		if (mail[i].history) {
			history_answer(w, mail[i].history);
			web_mail_free(&mail[i]);
			continue;
		}
		if (mail[i].preview) {
			preview_answer(w, mail[i].preview);
			web_mail_free(&mail[i]);
			continue;
		}
		if (mail[i].live) {
			term_related_answer(w, mail[i].live);
			web_mail_free(&mail[i]);
			continue;
		}
		struct lws *wsi = deferred_take(w, m->req_id);
		struct web_http *h = wsi ? lws_wsi_user(wsi) : NULL;
		json_t *prev = NULL;

		if (m->rc == 0 && m->kind == DBMSG_SOURCE_SAVE) {
			prev = source_lookup(w, m->u.save.cfg.id);
			/* a new URL or kind is a new feed: start it afresh, cursor and status */
			if (ops->changed)
				ops->changed(ops->ctx, &m->u.save.cfg,
					     m->u.save.reset_cursor && prev);
		} else if (m->rc == 0 && m->kind == DBMSG_SOURCE_DELETE && ops->removed) {
			ops->removed(ops->ctx, m->u.delete_id);
		}
		/* the change just handed to ingest, when this answer made one */
		uint64_t seq = 0;
		if (m->rc == 0 && (m->kind == DBMSG_SOURCE_SAVE || m->kind == DBMSG_SOURCE_DELETE))
			seq = atomic_load(&w->bus->sources_cmds);
		if (h && h->deferred && h->req_id == m->req_id) {
			sb_reset(&h->body);
			if (m->rc < 0) {
				error_response(h, &h->resp, status_for(m->rc), m->error);
			} else if (m->kind == DBMSG_PUSH) {
				json_response(&h->resp, 200);
				sb_printf(&h->body, "{\"accepted\":%zu,\"duplicates\":%zu",
					  m->u.push.accepted, m->u.push.duplicates);
				sb_puts(&h->body, m->u.push.errors_json ? m->u.push.errors_json
									 : ",\"errors\":[]");
				sb_putc(&h->body, '}');
			} else if (m->kind == DBMSG_SOURCE_SAVE) {
				bool created = !prev;
				json_response(&h->resp, created ? 201 : 200);
				render_saved_source(&h->body, &m->u.save.cfg,
						    prev ? json_object_get(prev, "status") : NULL);
			} else {
				json_response(&h->resp, 200);
				sb_printf(&h->body, "{\"id\":%lld,\"deleted\":true}",
					  (long long)m->u.delete_id);
			}
			if (seq > atomic_load(&w->bus->sources_applied) && w->nheld < WEB_DEFERRED_MAX)
				w->held[w->nheld++] = (struct web_held){
					wsi, seq, clock_mono_ms() + WEB_HELD_MAX_MS };
			else
				answer_ready(wsi, h);
		}
		json_decref(prev);
		dbmsg_free(m);
	}
	free(mail);
	web_http_release_held(w);
}

/*
 * Read-your-writes: an answer to a source change goes out once ingest's
 * published list shows the change, so a GET /api/sources right after a
 * DELETE no longer finds the source, nor one after a POST misses it.
 */
void web_http_release_held(struct web *w)
{
	uint64_t applied = atomic_load(&w->bus->sources_applied);
	int64_t now = clock_mono_ms();

	for (size_t i = 0; i < w->nheld;) {
		struct web_held *x = &w->held[i];
		if (x->seq > applied && now < x->until_ms) {
			i++;
			continue;
		}
		answer_ready(x->wsi, lws_wsi_user(x->wsi));
		*x = w->held[--w->nheld];
	}
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
	/* kept now: a deferred answer is written after the request headers are gone */
	if ((meth == LWSHUMETH_GET || head) &&
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH) < (int)sizeof h->inm &&
	    lws_hdr_copy(wsi, h->inm, sizeof h->inm, WSI_TOKEN_HTTP_IF_NONE_MATCH) < 0)
		h->inm[0] = 0;

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
			return serve_file(w, wsi, h, f);
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
	if (h->deferred)
		return 0;
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
	if (h->deferred)
		return 0;
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
		if (h && h->ready) {
			struct http_resp r = h->resp;
			h->ready = false;
			h->deferred = false;
			return http_respond(web_from_wsi(wsi), wsi, h, &r, h->head);
		}
		return h ? http_write_more(web_from_wsi(wsi), wsi, h) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (h) {
			if (h->deferred)
				deferred_forget(web_from_wsi(wsi), wsi);
			http_release(h);
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return 0; /* handled once, by the WebSocket protocol */
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
