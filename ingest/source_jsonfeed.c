#include "ingest/source_jsonfeed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ingest/feed_jsonfeed.h"
#include "ingest/json_util.h"

/* Nothing to keep per source but a non-NULL state: the URL is the whole setting. */
static char g_state;

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	*out = NULL;
	if (!url_is_fetchable(cfg->url)) {
		snprintf(err, cap, "url must be the feed's http:// or https:// address");
		return -EINVAL;
	}
	*out = &g_state;
	return 0;
}

static void release(void *state) { (void)state; }

static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	(void)state;
	(void)cursor;   /* a feed has no paging: the cursor only filters what comes back */
	sb_puts(url, base_url);
	return url->failed ? -ENOMEM : 0;
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	(void)state;
	*more = false;
	return feed_jsonfeed_parse(in, doc);
}

const struct source_kind source_kind_jsonfeed = {
	.name = "jsonfeed",
	/* Feeds are often served as plain application/json. */
	.accept = "application/feed+json, application/json;q=0.9, */*;q=0.1",
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
	.error_detail = NULL,
};
