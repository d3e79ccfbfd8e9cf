/*
 * http.h - HTTP GET on libcurl's multi interface, for one owning thread.
 *
 * An http_client holds a curl multi handle and runs any number of transfers
 * at once, one easy handle each. The owning thread (the ingest thread) starts
 * requests with http_client_get() and drives everything with
 * http_client_run(), which waits in curl_multi_poll() until there is network
 * activity, the timeout passes or another thread calls http_client_wakeup()
 * (the only function that may be called from another thread). Finished
 * transfers are reported through their callback, on the owning thread, from
 * inside http_client_run().
 *
 * Connections and DNS results are reused across transfers: easy handles in
 * one multi handle share its connection pool and DNS cache, and finished easy
 * handles are kept for the next request.
 *
 * Every transfer is bounded: a connect and a total timeout, at most
 * LIMIT_REDIRECTS redirects, http and https only, and a body cap that applies
 * to the decompressed body (gzip and deflate are accepted), so a small
 * compressed body cannot expand without bound. Errors come back as plain words
 * ("connection refused", "timed out after 30 s", "body larger than 16 MiB").
 */
#ifndef TRENDD_HTTP_H
#define TRENDD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#define HTTP_CONNECT_TIMEOUT_MS  10000
#define HTTP_TOTAL_TIMEOUT_MS    30000
/* Response headers kept per response; the rest are dropped (they are not needed). */
#define HTTP_HEADER_BYTES_MAX    (64 * 1024)

struct http_client;

/*
 * Streams: called on the owning thread with each piece of a 2xx body as it
 * arrives; a non-zero return aborts the transfer.
 */
typedef int (*http_data_fn)(void *user, const char *data, size_t len);

struct http_request {
	const char *url;
	const char *if_none_match;     /* NULL or the ETag of an earlier response */
	const char *if_modified_since; /* NULL or the Last-Modified of an earlier response */
	const char *accept;            /* NULL or an Accept header value */
	size_t max_body;               /* 0: LIMIT_FEED_BODY_BYTES */
	long connect_timeout_ms;       /* 0: HTTP_CONNECT_TIMEOUT_MS */
	long timeout_ms;               /* 0: HTTP_TOTAL_TIMEOUT_MS */
	const char *authorization;     /* NULL or an Authorization header value */
	/*
	 * NULL: the body is buffered. Else a stream: a 2xx body goes to on_data
	 * as it arrives, with no total timeout and no size cap, and the transfer
	 * fails with "no data for N s" once nothing arrived for idle_timeout_ms
	 * (0: never). An error body is buffered as usual.
	 */
	http_data_fn on_data;
	long idle_timeout_ms;
};

struct http_response {
	long status;                /* of the final response; 0 when none arrived */
	char error[192];            /* "" when a response arrived, else what went wrong */
	int curl_code;              /* CURLcode, for logs */
	struct strbuf body;         /* decompressed, at most max_body bytes */
	struct strbuf headers;      /* "name\0value\0" pairs of the final response */
	size_t nheaders;
	char *url;                  /* the URL the final response came from (after redirects);
				       NULL when unknown; owned by the transfer */
	int64_t elapsed_ms;
};

/* Called on the owning thread; resp is valid only during the call. */
typedef void (*http_done_fn)(void *user, struct http_response *resp);

/* user_agent is copied. Returns 0 or a negative errno. */
int http_client_new(struct http_client **out, const char *user_agent);
/* Aborts the transfers in flight without calling their callbacks. */
void http_client_free(struct http_client *c);

/* Starts a GET; done(user, resp) is called exactly once, unless the client is freed first. */
int http_client_get(struct http_client *c, const struct http_request *req, http_done_fn done,
		    void *user);
/*
 * Aborts every transfer started with this user pointer without calling its
 * callback (a stream whose source went away). Not from inside a callback of
 * a transfer it aborts.
 */
void http_client_cancel(struct http_client *c, void *user);

/*
 * Drives the transfers: waits up to timeout_ms (0: do not wait) for activity
 * or a wakeup, then reports finished transfers. Returns 0 or a negative errno.
 */
int http_client_run(struct http_client *c, int timeout_ms);

/* Makes a current or the next http_client_run() return early. Any thread. */
void http_client_wakeup(struct http_client *c);

size_t http_client_active(const struct http_client *c);

/* The last value of header name (case-insensitive) in resp, or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

/* "Service Unavailable" for 503; "" for codes it does not know. */
const char *http_status_text(long status);

/* Writes a size in plain words: "16 MiB", "64 KiB", "1500 bytes". */
void http_format_size(size_t bytes, char *buf, size_t cap);

#endif
