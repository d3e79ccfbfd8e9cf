/*
 * limits.h - every cap on a buffer or count that input can grow, in one place.
 *
 * Input from the network (feed bodies, post texts, API requests) never grows
 * memory or time without bound: each parser and queue checks its cap here and
 * reports a readable error when it is hit.
 */
#ifndef TRENDD_LIMITS_H
#define TRENDD_LIMITS_H

/* Posts */
#define LIMIT_POST_ID_BYTES       512        /* source-scoped id */
#define LIMIT_POST_URL_BYTES      2048
#define LIMIT_POST_AUTHOR_BYTES   512
#define LIMIT_POST_LANG_BYTES     16
#define LIMIT_POST_TITLE_BYTES    2048
#define LIMIT_POST_TEXT_BYTES     (64 * 1024) /* longer texts are cut at a UTF-8 boundary */

/* Analytics */
#define LIMIT_TOKENS_PER_POST     512        /* terms emitted per post, bigrams included */
#define LIMIT_TERM_BYTES          128        /* longer words are not terms */
#define LIMIT_SENTIMENT_TOKENS    1024       /* VADER scores at most this many tokens */

/* Queues */
#define LIMIT_POST_QUEUE          65536      /* posts between ingest and analytics */
#define LIMIT_DB_QUEUE            1024       /* messages between analytics/web and db */

/* Ingest */
#define LIMIT_FEED_BODY_BYTES     (16 * 1024 * 1024)
#define LIMIT_HTML_INPUT_BYTES    (1024 * 1024)
#define LIMIT_SOURCES             1024
#define LIMIT_REDIRECTS           5
#define LIMIT_POSTS_PER_PAGE      1000

/* Web */
#define LIMIT_REQUEST_BODY_BYTES  (8 * 1024 * 1024)
#define LIMIT_WS_MESSAGE_BYTES    4096       /* client -> server */
#define LIMIT_WS_CLIENTS          20000
#define LIMIT_TRENDS_PER_VIEW     200        /* limit= cap for /api/trends and ws views */

#endif
