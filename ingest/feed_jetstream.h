/*
 * feed_jetstream.h - Bluesky Jetstream events (the JSON messages of
 * /subscribe, v1) to posts: one event at a time for the `jetstream` source,
 * and a JSONL file of events as the document format "jetstream" for
 * `trendd parse`. No state between calls: any thread (the Jetstream client
 * thread parses on its own).
 *
 * An event is {did, time_us, kind: "commit"|"identity"|"account", ...}. Only
 * a commit that creates an app.bsky.feed.post record is a post:
 *   id          at://<did>/app.bsky.feed.post/<rkey>
 *   url         https://bsky.app/profile/<did>/post/<rkey>
 *   author      the did
 *   lang        the first of record.langs, "" when none
 *   created_at  record.createdAt; when it is missing or not a time, time_us
 *   title       ""
 *   text        record.text (plain text already; facets are not needed)
 * Every other event - likes, reposts, follows, edits and deletions of posts,
 * identity and account events, kinds not known yet - is OTHER: not a post,
 * not an error. An event without did, time_us or kind, or a post create
 * without a usable rkey, text or record, is MALFORMED (skipped and counted).
 *
 * time_us is when Jetstream saw the event: the resume cursor. It is not
 * monotonic across DIDs (the captured corpus steps back by up to 33 ms), so
 * a reader keeps the greatest value seen and rewinds a little on reconnect.
 */
#ifndef TRENDD_FEED_JETSTREAM_H
#define TRENDD_FEED_JETSTREAM_H

#include <stdint.h>

#include "ingest/feed.h"

#define JETSTREAM_EVENT_MAX (1024 * 1024)   /* bytes; longer events are skipped */
#define JETSTREAM_POST_COLLECTION "app.bsky.feed.post"

enum jetstream_event_kind { JETSTREAM_POST, JETSTREAM_OTHER, JETSTREAM_MALFORMED };

struct jetstream_event {
	enum jetstream_event_kind kind;
	int64_t time_us;      /* 0 when the event had none */
	struct post *post;    /* owned; JETSTREAM_POST only */
	char error[96];       /* why, for JETSTREAM_MALFORMED */
};

extern const struct feed_format feed_format_jetstream;

/*
 * Reads one event. Fills *ev (its post owned by the caller). Returns 0, or
 * -ENOMEM.
 */
int jetstream_event_parse(const char *json, size_t len, int64_t source_id,
			  struct jetstream_event *ev);

int feed_jetstream_detect(const char *body, size_t len, const char *content_type);
/*
 * A JSONL file of events, one a line: items counts the events (blank lines
 * aside), skipped the malformed ones, and the cursor is the greatest time_us.
 * A document with lines but no readable event is ill-formed.
 */
int feed_jetstream_parse(const struct feed_input *in, struct feed_doc *doc);

#endif
