/*
 * fixture_http.h - pieces shared by the unit tests that run the real ingest
 * thread (or the preview worker) against a small server on 127.0.0.1: a
 * listener with its own accept thread, reading a request head, writing a
 * whole reply; and on the bus side, taking posts off the queue and reading
 * the published status of a source.
 *
 * A listener's serve function runs on the listener's thread, one connection
 * at a time (fx_read_head, fx_send_all and fx_reply_close belong there); the
 * start/stop, wait and bus functions run on the test's thread. Each test
 * server keeps its own state and answers; nothing here is global. Every wait
 * is bounded: a request head by 2 s of silence, the others by a timeout.
 */
#ifndef TRENDD_FIXTURE_HTTP_H
#define TRENDD_FIXTURE_HTTP_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/bus.h"
#include "core/post.h"
#include "core/strbuf.h"

/* Serves one accepted connection c; owns c from then on (closes it or keeps it). */
typedef void (*fx_serve_fn)(void *ctx, int c);

void fx_sleep_ms(int ms);
/* Writes all n bytes, or stops at the first error (the peer went away). */
void fx_send_all(int fd, const void *p, size_t n);
/*
 * Reads a request head into buf until the blank line, cap - 1 bytes, or 2 s
 * of silence; buf is always NUL-terminated. Returns the bytes read.
 */
size_t fx_read_head(int c, char *buf, size_t cap);
/*
 * fx_read_head, then splits the head in place: *target is the request target
 * (NUL-terminated), *headers the lines after the request line. -EINVAL when
 * the head is not a request line.
 */
int fx_read_request(int c, char *buf, size_t cap, char **target, char **headers);
/* Sends reply, frees it, then ends and closes the connection. */
void fx_reply_close(int c, struct strbuf *reply);
/* A socket listening on an ephemeral port of 127.0.0.1; the test fails if it cannot. */
int fx_listen(int backlog, uint16_t *port);
/* A port of 127.0.0.1 that nothing listens on (bound once, then closed). */
uint16_t fx_closed_port(void);
/* One listening socket and the thread that serves it, one connection at a time. */
struct fx_listener {
	int fd;
	pthread_t thread;
	atomic_bool stop;
	fx_serve_fn serve;
	void *ctx;
};

/* Listens on 127.0.0.1 (the port goes to *port) and starts the thread. */
void fx_listener_start(struct fx_listener *l, int backlog, uint16_t *port, fx_serve_fn serve,
		       void *ctx);
/* Stops and joins the thread, then closes the socket; connections kept by serve stay open. */
void fx_listener_stop(struct fx_listener *l);

/* *v read under mu: a counter the server thread bumps. */
int fx_locked_int(pthread_mutex_t *mu, const int *v);
/* Waits until *v (read under mu) reaches n; false after timeout_ms. Polls every 5 ms. */
bool fx_wait_locked_int(pthread_mutex_t *mu, const int *v, int n, int timeout_ms);

/* Collects up to n posts, waiting at most timeout_ms in all. Returns the count. */
size_t fx_take_posts(struct bus *b, struct post **out, size_t n, int timeout_ms);
void fx_free_posts(struct post **p, size_t n);
/* Frees whatever posts are still queued. */
void fx_drain_posts(struct bus *b);

/* The first source's element of the published sources JSON (caller decrefs), or NULL. */
json_t *fx_source_now(struct bus *b);
/* The source's status object (borrowed), or NULL. */
json_t *fx_status_of(json_t *src);
json_int_t fx_status_int(json_t *src, const char *key);
const char *fx_status_str(json_t *src, const char *key);
/* status.stream.key of a streaming source. */
json_int_t fx_stream_int(json_t *src, const char *key);
/* Waits until status.key (an integer) reaches at least want; returns the source JSON. */
json_t *fx_wait_status_int(struct bus *b, const char *key, json_int_t want, int timeout_ms);
/* Waits until status.key holds want (a substring); returns the source JSON. */
json_t *fx_wait_status_str(struct bus *b, const char *key, const char *want, int timeout_ms);

#endif
