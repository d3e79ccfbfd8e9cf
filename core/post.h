/*
 * post.h - the one record every source produces (DESIGN §2).
 *
 * A post is immutable after post_new() and is a single allocation: the struct
 * followed by its NUL-terminated strings. It is created on the ingest (or web)
 * thread, moved through the post queue and freed by the analytics thread.
 *
 * Invariants: every string field is non-NULL, valid UTF-8 and NUL-terminated;
 * lengths are within the caps of limits.h (longer input is cut at a UTF-8
 * character boundary); created_at_ms is UTC milliseconds.
 */
#ifndef TRENDD_POST_H
#define TRENDD_POST_H

#include <stddef.h>
#include <stdint.h>

struct post {
	int64_t source_id;
	int64_t created_at_ms;   /* event time */
	int64_t received_ms;     /* wall time when ingest produced it */
	const char *id;          /* source-scoped unique id, dedup key */
	const char *url;
	const char *author;      /* stable author key */
	const char *lang;        /* BCP-47 or "" */
	const char *title;
	const char *text;        /* plain text */
	size_t text_len;
};

/*
 * A post whose received_ms is POST_MARKER_MS is a cursor marker, not a post
 * (core/dbmsg.h, dbmsg_marker_new()): post_new() never makes one, and every
 * consumer of the post queue that counts posts skips it.
 */
#define POST_MARKER_MS INT64_MIN

static inline int post_is_marker(const struct post *p) { return p->received_ms == POST_MARKER_MS; }

/* The fields post_new() copies; NULL strings become "". */
struct post_fields {
	int64_t source_id;
	int64_t created_at_ms;
	const char *id;
	const char *url;
	const char *author;
	const char *lang;
	const char *title;
	const char *text;
	size_t text_len;         /* (size_t)-1: strlen(text) */
};

/* Returns a new post (owned by the caller) or NULL when out of memory. */
struct post *post_new(const struct post_fields *f);
void post_free(struct post *p);

/*
 * Copies at most cap-1 bytes of s[0..len) into dst, cutting at a UTF-8
 * character boundary and replacing invalid sequences and NUL bytes with
 * U+FFFD. Returns the number of bytes written (dst is NUL-terminated).
 * dst may need up to 3 bytes per input byte, bounded by cap.
 */
size_t utf8_sanitize(char *dst, size_t cap, const char *s, size_t len);

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 if invalid. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

#endif
