#include "ingest/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/clock.h"
#include "core/limits.h"

/* Finished easy handles kept for reuse; more are cleaned up. */
#define HTTP_EASY_POOL 8

struct http_xfer {
	struct http_client *client;   /* borrowed */
	CURL *easy;                   /* owned */
	struct curl_slist *req_headers; /* owned */
	struct http_response resp;
	size_t max_body;
	long connect_timeout_ms, timeout_ms;
	bool too_big;                 /* the body cap was hit */
	bool header_full;             /* the header cap was hit */
	http_data_fn on_data;         /* NULL, or the reader of a stream */
	long idle_timeout_ms;         /* streams: fail after this long without data (0: never) */
	int64_t data_ms;              /* streams: monotonic time data last arrived */
	bool idle_expired;            /* streams: failed for silence */
	bool reader_stopped;          /* streams: on_data asked to stop */
	int64_t started_ms;
	http_done_fn done;
	void *user;
	char errbuf[CURL_ERROR_SIZE];
	struct http_xfer *prev, *next;
};

struct http_client {
	CURLM *multi;                 /* owned */
	char *user_agent;             /* owned */
	struct http_xfer *active;     /* owned list */
	size_t nactive;
	CURL *pool[HTTP_EASY_POOL];   /* owned idle easy handles */
	size_t npool;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

static void curl_init_once(void) { g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int http_client_new(struct http_client **out, const char *user_agent)
{
	struct http_client *c;

	pthread_once(&g_curl_once, curl_init_once);
	if (g_curl_init_rc != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->user_agent = strdup(user_agent ? user_agent : "trendd");
	c->multi = curl_multi_init();
	if (!c->user_agent || !c->multi) {
		free(c->user_agent);
		if (c->multi)
			curl_multi_cleanup(c->multi);
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

static void xfer_free(struct http_xfer *x)
{
	curl_slist_free_all(x->req_headers);
	sb_free(&x->resp.body);
	sb_free(&x->resp.headers);
	free(x->resp.url);
	free(x);
}

static void easy_release(struct http_client *c, CURL *e)
{
	if (c->npool < HTTP_EASY_POOL) {
		/* Reset drops options but keeps the handle's connection and session caches. */
		curl_easy_reset(e);
		c->pool[c->npool++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	while (c->active) {
		struct http_xfer *x = c->active;
		c->active = x->next;
		curl_multi_remove_handle(c->multi, x->easy);
		curl_easy_cleanup(x->easy);
		xfer_free(x);
	}
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_multi_cleanup(c->multi);
	free(c->user_agent);
	free(c);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	size_t n = size * nmemb;

	if (x->on_data) {
		long code = 0;
		x->data_ms = clock_mono_ms();
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300) {
			if (x->on_data(x->user, ptr, n) == 0)
				return n;
			x->reader_stopped = true;
			return CURL_WRITEFUNC_ERROR;
		}
	}
	/* curl hands over decompressed data, so this caps what gzip expands to. */
	if (n > x->max_body - x->resp.body.len) {
		x->too_big = true;
		return CURL_WRITEFUNC_ERROR;
	}
	sb_append(&x->resp.body, ptr, n);
	return x->resp.body.failed ? CURL_WRITEFUNC_ERROR : n;
}

/* Streams: called about once a second even while nothing arrives. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct http_xfer *x = ud;

	if (x->idle_timeout_ms > 0 && clock_mono_ms() - x->data_ms > x->idle_timeout_ms) {
		x->idle_expired = true;
		return 1;
	}
	return 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct http_xfer *x = ud;
	size_t n = size * nitems, len = n;

	while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
		len--;
	if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100 Continue): forget the last one's. */
		sb_reset(&x->resp.headers);
		x->resp.nheaders = 0;
		x->header_full = false;
		return n;
	}
	const char *colon = memchr(buf, ':', len);
	if (!colon || colon == buf || buf[0] == ' ' || buf[0] == '\t')
		return n;   /* blank line, folded continuation or garbage */
	size_t nlen = (size_t)(colon - buf);
	const char *v = colon + 1;
	size_t vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (x->header_full || x->resp.headers.len + nlen + vlen + 2 > HTTP_HEADER_BYTES_MAX) {
		x->header_full = true;
		return n;
	}
	/* Names and values must not contain NUL: lookups treat them as C strings. */
	if (memchr(buf, 0, nlen) || memchr(v, 0, vlen))
		return n;
	sb_append(&x->resp.headers, buf, nlen);
	sb_putc(&x->resp.headers, 0);
	sb_append(&x->resp.headers, v, vlen);
	sb_putc(&x->resp.headers, 0);
	x->resp.nheaders++;
	return n;
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
	const char *p = resp->headers.buf, *found = NULL;

	if (!p || resp->headers.failed)
		return NULL;
	for (size_t i = 0; i < resp->nheaders; i++) {
		const char *v = p + strlen(p) + 1;
		if (!strcasecmp(p, name))
			found = v;
		p = v + strlen(v) + 1;
	}
	return found;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	char line[1024];
	struct curl_slist *n;

	if (!value || !value[0])
		return 0;
	/* A value with a line break would inject headers; such values are not sent. */
	if (strpbrk(value, "\r\n"))
		return 0;
	if (snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line)
		return 0;
	n = curl_slist_append(*list, line);
	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

int http_client_get(struct http_client *c, const struct http_request *req, http_done_fn done,
		    void *user)
{
	struct http_xfer *x;
	CURL *e;
	int rc = -ENOMEM;

	x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->client = c;
	x->done = done;
	x->user = user;
	x->max_body = req->max_body ? req->max_body : LIMIT_FEED_BODY_BYTES;
	x->connect_timeout_ms = req->connect_timeout_ms ? req->connect_timeout_ms
							: HTTP_CONNECT_TIMEOUT_MS;
	x->timeout_ms = req->timeout_ms ? req->timeout_ms : HTTP_TOTAL_TIMEOUT_MS;
	x->on_data = req->on_data;
	x->idle_timeout_ms = req->on_data ? req->idle_timeout_ms : 0;
	sb_init(&x->resp.body);
	sb_init(&x->resp.headers);

	if (add_header(&x->req_headers, "Accept", req->accept) < 0 ||
	    add_header(&x->req_headers, "If-None-Match", req->if_none_match) < 0 ||
	    add_header(&x->req_headers, "If-Modified-Since", req->if_modified_since) < 0 ||
	    add_header(&x->req_headers, "Authorization", req->authorization) < 0)
		goto fail;

	e = c->npool > 0 ? c->pool[--c->npool] : curl_easy_init();
	if (!e)
		goto fail;
	x->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)LIMIT_REDIRECTS);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");   /* every encoding curl decodes */
	/* Refuses early when Content-Length already says too much; on_body checks the rest. */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	if (x->on_data) {
		/* A stream has no end: no total time or size, but silence is a failure. */
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
		x->data_ms = clock_mono_ms();
	}
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		rc = -EIO;
		goto fail;
	}
	x->started_ms = clock_mono_ms();
	x->next = c->active;
	if (c->active)
		c->active->prev = x;
	c->active = x;
	c->nactive++;
	return 0;
fail:
	if (x->easy)
		easy_release(c, x->easy);
	xfer_free(x);
	return rc;
}

void http_format_size(size_t bytes, char *buf, size_t cap)
{
	if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
		snprintf(buf, cap, "%zu MiB", bytes / (1024 * 1024));
	else if (bytes >= 1024 && bytes % 1024 == 0)
		snprintf(buf, cap, "%zu KiB", bytes / 1024);
	else
		snprintf(buf, cap, "%zu bytes", bytes);
}

static void format_duration(long ms, char *buf, size_t cap)
{
	if (ms % 1000 == 0)
		snprintf(buf, cap, "%ld s", ms / 1000);
	else
		snprintf(buf, cap, "%ld ms", ms);
}

/* Copies curl's own message for cases without a plainer wording. */
static void copy_curl_msg(struct http_xfer *x, CURLcode cc, const char *prefix)
{
	const char *m = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
	size_t n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '.'))
		n--;
	snprintf(x->resp.error, sizeof x->resp.error, "%s%.*s", prefix, (int)n, m);
}

/* A body that ended early: the connection closed before Content-Length or the last chunk. */
static void describe_cut_short(struct http_xfer *x, char *err, size_t cap)
{
	curl_off_t expected = -1, got = 0;

	curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
	curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
	if (expected > 0 && got < expected)
		snprintf(err, cap, "body cut short: the connection closed after %lld of %lld bytes",
			 (long long)got, (long long)expected);
	else
		snprintf(err, cap, "body cut short: the connection closed before its end");
}

/* Turns a failed transfer into plain words. */
static void describe_error(struct http_xfer *x, CURLcode cc)
{
	char *err = x->resp.error, what[48];
	size_t cap = sizeof x->resp.error;
	long os_errno = 0, request_bytes = 0;
	curl_off_t connect_us = 0;

	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	if (x->idle_expired) {
		format_duration(x->idle_timeout_ms, what, sizeof what);
		snprintf(err, cap, "no data for %s", what);
		return;
	}
	if (x->reader_stopped) {
		snprintf(err, cap, "stream closed by its reader");
		return;
	}
	if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		http_format_size(x->max_body, what, sizeof what);
		snprintf(err, cap, "body larger than %s", what);
		return;
	}
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			snprintf(err, cap, "connection refused");
		else if (os_errno == ENETUNREACH || os_errno == EHOSTUNREACH)
			snprintf(err, cap, "host unreachable");
		else if (os_errno)
			snprintf(err, cap, "could not connect: %s", strerror((int)os_errno));
		else
			copy_curl_msg(x, cc, "could not connect: ");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		/* A reused connection has no connect time: the request went out on it. */
		curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &request_bytes);
		if (connect_us == 0 && request_bytes == 0) {
			format_duration(x->connect_timeout_ms < x->timeout_ms ? x->connect_timeout_ms
									: x->timeout_ms,
					what, sizeof what);
			snprintf(err, cap, "connection timed out after %s", what);
		} else {
			format_duration(x->timeout_ms, what, sizeof what);
			snprintf(err, cap, "timed out after %s", what);
		}
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		copy_curl_msg(x, cc, "");
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(err, cap, "too many redirects (more than %d)", LIMIT_REDIRECTS);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(err, cap, "unsupported protocol (only http and https are fetched)");
		break;
	case CURLE_URL_MALFORMAT:
		snprintf(err, cap, "malformed URL");
		break;
	case CURLE_GOT_NOTHING:
		snprintf(err, cap, "server closed the connection without a response");
		break;
	case CURLE_PARTIAL_FILE:
		describe_cut_short(x, err, cap);
		break;
	case CURLE_BAD_CONTENT_ENCODING:
		copy_curl_msg(x, cc, "bad compressed body: ");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		copy_curl_msg(x, cc, "TLS error: ");
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		if (os_errno == ECONNRESET)
			snprintf(err, cap, "connection reset by the server");
		else
			copy_curl_msg(x, cc, "");
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, cap, "out of memory");
		break;
	default:
		copy_curl_msg(x, cc, "");
		break;
	}
}

static void finish(struct http_client *c, struct http_xfer *x, CURLcode cc)
{
	char *eff = NULL;

	curl_multi_remove_handle(c->multi, x->easy);
	if (x->prev)
		x->prev->next = x->next;
	else
		c->active = x->next;
	if (x->next)
		x->next->prev = x->prev;
	c->nactive--;

	x->resp.curl_code = (int)cc;
	x->resp.elapsed_ms = clock_mono_ms() - x->started_ms;
	/* Before the handle is reset: parsers resolve relative links against this URL. */
	if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
		x->resp.url = strdup(eff);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->resp.status);
		x->resp.error[0] = 0;
	} else {
		x->resp.status = 0;
		describe_error(x, cc);
	}
	if (x->resp.body.failed || x->resp.headers.failed) {
		x->resp.status = 0;
		snprintf(x->resp.error, sizeof x->resp.error, "out of memory");
	}
	easy_release(c, x->easy);
	x->easy = NULL;
	x->done(x->user, &x->resp);
	xfer_free(x);
}

static void reap(struct http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		char *priv = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv)
			finish(c, (struct http_xfer *)(void *)priv, m->data.result);
	}
}

int http_client_run(struct http_client *c, int timeout_ms)
{
	int running = 0;

	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -EIO;
	reap(c);
	if (timeout_ms > 0 && curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
		return -EIO;
	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -EIO;
	reap(c);
	return 0;
}

void http_client_cancel(struct http_client *c, void *user)
{
	struct http_xfer *x = c->active, *next;

	for (; x; x = next) {
		next = x->next;
		if (x->user != user)
			continue;
		curl_multi_remove_handle(c->multi, x->easy);
		if (x->prev)
			x->prev->next = x->next;
		else
			c->active = x->next;
		if (x->next)
			x->next->prev = x->prev;
		c->nactive--;
		easy_release(c, x->easy);
		xfer_free(x);
	}
}

void http_client_wakeup(struct http_client *c) { curl_multi_wakeup(c->multi); }

size_t http_client_active(const struct http_client *c) { return c->nactive; }

const char *http_status_text(long s)
{
	switch (s) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 520: return "Unknown Error";
	case 521: return "Web Server Is Down";
	case 522: return "Connection Timed Out";
	case 523: return "Origin Is Unreachable";
	case 524: return "A Timeout Occurred";
	default: return "";
	}
}
