#include "ingest/source_feed.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/hash.h"
#include "core/log.h"
#include "ingest/feed_xml.h"
#include "ingest/json_util.h"

/* What servers answer feed readers with; anything else is still read. */
#define FEED_ACCEPT                                                                         \
	"application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "           \
	"application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"

/* What a source remembers between polls besides its cursor. */
struct feed_memory {
	uint64_t warned;   /* hash of the last recovery problem logged; 0: none */
	bool read_once;    /* a document was read since setup */
};

/*
 * The settings are fixed after setup(); the memory is changed by parse(),
 * which the kind table hands only a const state: it lives behind a pointer.
 */
struct feed_state {
	struct feed_memory *mem;   /* owned */
};

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	struct feed_state *st;
	const char *params = cfg->params_json;

	*out = NULL;
	if (!url_is_fetchable(cfg->url)) {
		snprintf(err, cap, "url must be the feed's http:// or https:// address");
		return -EINVAL;
	}
	if (params && params[0]) {
		json_t *root = json_loads(params, 0, NULL);
		bool ok = json_is_object(root);
		json_decref(root);
		if (!ok) {
			snprintf(err, cap, "params must be a JSON object");
			return -EINVAL;
		}
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->mem = calloc(1, sizeof *st->mem);
	if (!st->mem) {
		free(st);
		return -ENOMEM;
	}
	*out = st;
	return 0;
}

static void release(void *state)
{
	struct feed_state *st = state;

	if (!st)
		return;
	free(st->mem);
	free(st);
}

static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	(void)state;
	(void)cursor;   /* feeds have no paging: the cursor only filters what comes back */
	sb_puts(url, base_url);
	return url->failed ? -ENOMEM : 0;
}

static int64_t cursor_ms(const char *c)
{
	char *end;
	long long v = c && c[0] ? strtoll(c, &end, 10) : 0;
	return v > 0 && *end == 0 ? v : 0;
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	const struct feed_state *st = state;
	struct feed_input now = *in;
	bool recovered;
	int rc;

	*more = false;
	/*
	 * The cursor only guards the first read after a start (or an edit of
	 * the source), when the scheduler has forgotten which ids it emitted.
	 * Later reads rely on those ids, so that an item dated before the
	 * newest one - published late, or backdated - is not lost.
	 */
	if (st->mem->read_once)
		now.cursor = NULL;
	rc = feed_xml_read(&now, doc, &recovered);
	if (rc < 0)
		return rc;
	if (doc->cursor && cursor_ms(doc->cursor) <= cursor_ms(in->cursor)) {
		free(doc->cursor);   /* never move the cursor back */
		doc->cursor = NULL;
	}
	if (doc->wellformed || recovered)
		st->mem->read_once = true;
	if (!recovered)
		return 0;
	/*
	 * Readable but not well-formed: deliver the posts. The document counts
	 * as read and its error stays as a warning, which the scheduler shows
	 * in the source's status; the log gets it once per message rather
	 * than once per poll.
	 */
	uint64_t h = hash_bytes(doc->error, strlen(doc->error)) | 1;
	if (st->mem->warned != h) {
		st->mem->warned = h;
		log_warn("ingest", "source %lld: %s (read what could be recovered: %zu items)",
			 (long long)in->source_id, doc->error, doc->items);
	}
	doc->wellformed = true;
	return 0;
}

const struct source_kind source_kind_rss = {
	.name = "rss",
	.accept = FEED_ACCEPT,
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
};

const struct source_kind source_kind_atom = {
	.name = "atom",
	.accept = FEED_ACCEPT,
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
};
