/*
 * feed_reddit.h - Reddit listing JSON to posts.
 *
 * Used by the ingest thread for `reddit` sources and by `trendd parse`; it
 * keeps no state between calls, so any thread may call it.
 *
 * A document is one Listing, {"kind": "Listing", "data": {"after", "before",
 * "children": [{"kind", "data"}, ...]}}, or an array of Listings (what
 * /comments/<id> answers: the submission, then its comment tree). Children:
 *   t3 (submission) id      the fullname, "t3_<base36 id>"
 *                   title   `title`
 *                   text    `selftext` ("" for link posts)
 *   t1 (comment)    id      the fullname, "t1_<base36 id>"
 *                   title   ""
 *                   text    `body`; the `replies` Listing is read too, depth first
 *   both            url     "https://www.reddit.com" + `permalink`, else built
 *                           from `subreddit` and the id
 *                   author  `author` (Reddit usernames never change; deleted
 *                           accounts all read "[deleted]")
 *                   created_utc, epoch seconds as a float
 *                   lang    "" (Reddit does not say)
 * Text that is only "[deleted]" or "[removed]" is no text: such a comment is
 * left out (it says nothing), such a submission keeps its title.
 * "more" stubs (comments not loaded) are neither items nor errors. Children of
 * any other kind, and t1/t3 children without a fullname, time, author or text,
 * are skipped and counted.
 *
 * Escaping: without raw_json=1 Reddit HTML-escapes &, < and > in every text
 * field. The source kind always asks for raw_json=1; for other documents
 * (REDDIT_TEXT_AUTO) the *_html fields tell: they start with "<" when raw and
 * with "&lt;" when escaped. With no *_html field to look at the text is
 * unescaped, since a literal "&amp;" typed by a user is much rarer than an
 * "&" in an escaped title.
 *
 * Document errors: "Reddit error 403: forbidden ..." for Reddit's
 * {"error": N} bodies, "not a Reddit listing: ..." for anything else that is
 * not a Listing, and a Listing made only of subreddits (t5), which is what
 * Reddit redirects an unknown subreddit's listing to.
 *
 * Cursor: the first t1/t3 fullname of the page (listing order is newest first,
 * so this is the `before` anchor for the next poll). Children of the cursor's
 * kind whose id is at or below the cursor's (base36: longer is greater, then
 * bytewise) were seen before and are ignored. A cursor may carry a suffix
 * "~N" (see source_reddit.h); only the fullname before it counts here.
 */
#ifndef TRENDD_FEED_REDDIT_H
#define TRENDD_FEED_REDDIT_H

#include "ingest/feed.h"

/* Nesting of comment replies read; deeper replies are skipped and counted once. */
#define REDDIT_REPLY_DEPTH_MAX 64

enum reddit_text {
	REDDIT_TEXT_AUTO,     /* decide from the *_html fields, see above */
	REDDIT_TEXT_RAW,      /* fetched with raw_json=1: text is as typed */
	REDDIT_TEXT_ESCAPED,  /* fetched without: &amp; &lt; &gt; are decoded */
};

extern const struct feed_format feed_format_reddit;

int feed_reddit_detect(const char *body, size_t len, const char *content_type);
/* feed_reddit_parse_text() with REDDIT_TEXT_AUTO. */
int feed_reddit_parse(const struct feed_input *in, struct feed_doc *doc);
int feed_reddit_parse_text(const struct feed_input *in, enum reddit_text mode,
			   struct feed_doc *doc);

/*
 * Orders the base36 ids of two fullnames of one kind ("t3_abc" vs "t3_zz"):
 * a longer id is greater, ids of equal length compare bytewise. Returns <0,
 * 0, >0; fullnames of different kinds compare by kind.
 */
int feed_reddit_fullname_cmp(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Writes the plain-words reason of a Reddit error body ({"error": 403,
 * "reason": "private", ...}) into buf; "" when body is no such thing.
 */
void feed_reddit_error_text(const char *body, size_t len, char *buf, size_t cap);

#endif
