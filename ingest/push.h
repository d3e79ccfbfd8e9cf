/*
 * push.h - posts sent to trendd: the NDJSON body of POST /api/ingest.
 *
 * One post per line, DESIGN §6:
 *   {"id":"…","author":"…","text":"…","created_at":"2026-11-25T12:00:00Z",
 *    "lang":"en","url":"…","title":"…"}
 * `id`, `text` and `created_at` are required; `created_at` is RFC 3339 (the
 * date forms feed_date_parse() reads are accepted too) or a number of unix
 * seconds. Other fields are optional; unknown fields are ignored, so tools
 * may send richer records. A line that is not a valid post is reported by
 * its 1-based number and skipped; the other lines are still used. Blank
 * lines are skipped silently. A second line with an id already in the batch
 * is a duplicate, not an error.
 *
 * push_parse() is pure: no state, any thread.
 */
#ifndef TRENDD_PUSH_H
#define TRENDD_PUSH_H

#include <stddef.h>
#include <stdint.h>

struct post;

#define PUSH_MAX_LINES       10000      /* posts per request; more lines are an error each */
#define PUSH_MAX_ERRORS      100        /* errors reported per request; the rest are counted */
#define PUSH_MAX_LINE_BYTES  (256 * 1024)

struct push_error {
	size_t line;                     /* 1-based */
	char error[160];
};

struct push_batch {
	struct post **posts;             /* owned; in line order, duplicates removed */
	size_t nposts;
	size_t duplicates;               /* lines whose id came earlier in the batch */
	size_t lines;                    /* non-blank lines read */
	struct push_error *errors;       /* owned; the first PUSH_MAX_ERRORS */
	size_t nerrors;                  /* all errors, even those not kept */
};

/*
 * Parses body[0..len) into posts of source source_id. Returns 0 (out filled;
 * free it with push_batch_clear()) or -ENOMEM (out is empty). Bad lines are
 * never a failure of the call.
 */
int push_parse(const char *body, size_t len, int64_t source_id, struct push_batch *out);
void push_batch_clear(struct push_batch *b);

/* Writes the reply {"accepted":N,"duplicates":N,"errors":[{"line":N,"error":"…"}]}. */
struct strbuf;
void push_reply_json(struct strbuf *sb, size_t accepted, size_t duplicates,
		     const struct push_batch *b);
/* The members after "duplicates": ,"errors":[…] (and ,"errors_not_shown":N). */
void push_errors_json(struct strbuf *sb, const struct push_batch *b);

#endif
