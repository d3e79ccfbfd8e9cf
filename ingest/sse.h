/*
 * sse.h - an incremental parser for Server-Sent Events (text/event-stream, as
 * the WHATWG HTML standard defines it), fed whatever pieces the network hands
 * over: a line, an event or a CRLF pair may be cut anywhere.
 *
 * Lines end with CRLF, LF or CR. A line starting with ':' is a comment (the
 * heartbeats of Mastodon's streaming server are comments: ":)" at the start,
 * ":thump" later). "event:" names the event, "data:" lines are joined with
 * '\n', "id:" and "retry:" are kept, other fields are ignored, one space after
 * the colon is dropped, and a blank line dispatches the event. An event
 * without data is not dispatched; an event cut off by the end of the stream is
 * lost (sse_parser_reset()).
 *
 * Bounded: a line longer than line_max or an event whose data grows past
 * event_max is dropped whole - never delivered truncated - and counted in
 * `dropped`; the parser then carries on with the next event. Memory stays
 * within about line_max + event_max.
 *
 * A parser belongs to one stream on one thread (the ingest thread).
 */
#ifndef TRENDD_SSE_H
#define TRENDD_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#define SSE_LINE_MAX   (1024 * 1024)   /* default cap on one line */
#define SSE_EVENT_MAX  (1024 * 1024)   /* default cap on the data of one event */
#define SSE_TYPE_MAX   64              /* longer event names drop the event */
#define SSE_ID_MAX     256             /* longer ids are ignored */

struct sse_event {
	const char *type;   /* the event name, "message" when it gave none */
	const char *data;   /* data lines joined with '\n', NUL-terminated (may hold NULs) */
	size_t len;
	const char *id;     /* the last event id seen on the stream, "" when none */
};

/* Called for each complete event; a non-zero return stops sse_parser_feed(), which returns it. */
typedef int (*sse_event_fn)(void *user, const struct sse_event *ev);

struct sse_parser {
	size_t line_max, event_max;
	struct strbuf line;         /* the current line while it spans pieces */
	struct strbuf data;         /* data of the event being read */
	char type[SSE_TYPE_MAX + 1];
	char id[SSE_ID_MAX + 1];
	unsigned bom_seen;          /* bytes of a leading U+FEFF matched so far */
	bool started;               /* past the place where a BOM may be */
	bool skip_lf;               /* the last piece ended with CR: a LF next is its pair */
	bool line_long;             /* the current line passed line_max: skipped to its end */
	bool line_comment;          /* the current long line is a comment */
	bool event_bad;             /* the current event broke a cap: dropped when it ends */
	long retry_ms;              /* the last valid "retry:" value, -1 when none */

	uint64_t events;            /* events dispatched */
	uint64_t comments;          /* comment lines (heartbeats) */
	uint64_t dropped;           /* events dropped for a cap */
};

/* line_max / event_max: 0 for SSE_LINE_MAX / SSE_EVENT_MAX. */
void sse_parser_init(struct sse_parser *p, size_t line_max, size_t event_max);
void sse_parser_free(struct sse_parser *p);
/* A new connection: forgets the partial line and event; keeps id, retry and the counters. */
void sse_parser_reset(struct sse_parser *p);

/*
 * Parses the next len bytes of the stream, calling fn for every event they
 * complete. Returns 0, -ENOMEM, or fn's non-zero return value (the rest of
 * buf is then not parsed).
 */
int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn fn,
		    void *user);

#endif
