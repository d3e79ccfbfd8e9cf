/*
 * history.h (web) - the history endpoints' parameters: from a request's
 * query arguments to a struct history_query (db/history.h) that a db reader
 * thread answers.
 *
 * Pure functions on the web thread: no SQLite, no libwebsockets, so every
 * rule is tested directly (tests/unit/test_web_history.c). http.c routes
 * the requests, hands the query on through web_config.history and writes the
 * answer when web_history_done() has brought it back through the mailbox.
 * docs/API.md describes each endpoint.
 */
#ifndef TRENDD_WEB_HISTORY_H
#define TRENDD_WEB_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/history.h"

#define WEB_HISTORY_ARGS_MAX 32   /* query arguments read from one request */

/* One query argument, already URL-decoded (borrowed). */
struct web_arg {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
};

/*
 * The kind a term's sigil implies: '#' hashtag, '@' mention, '$' cashtag, a
 * space bigram, a dot (and no space) domain, anything else word.
 */
int web_history_term_kind(const char *s, size_t len);

/*
 * Builds the query for one request. `what` is the endpoint's, or for
 * GET /api/export.csv (export_csv) taken from its what= argument. path_term
 * is the URL-decoded {term} of /api/terms/{term} (NULL otherwise). now_ms
 * is the wall clock, for the default ranges. Returns 0 and *out (the
 * caller's), or -EINVAL with a readable message for a 400, or -ENOMEM.
 */
int web_history_parse(enum history_what what, bool export_csv, const char *path_term,
		      size_t path_len, const struct web_arg *args, size_t nargs, int64_t now_ms,
		      struct history_query **out, char *err, size_t errlen);

#endif
