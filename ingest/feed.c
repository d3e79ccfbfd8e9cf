#include "ingest/feed.h"

#include "ingest/feed_hn.h"
#include "ingest/feed_jetstream.h"
#include "ingest/feed_jsonfeed.h"
#include "ingest/feed_mastodon.h"
#include "ingest/feed_reddit.h"
#include "ingest/feed_xml.h"

/* Every document format trendd reads. Adding one is one line here. */
static const struct feed_format *const g_formats[] = {
	&feed_format_mastodon,
	&feed_format_jsonfeed,
	&feed_format_reddit,
	&feed_format_hn,
	&feed_format_rss,
	&feed_format_atom,
	&feed_format_jetstream,
};

#define NFORMATS (sizeof g_formats / sizeof g_formats[0])

const struct feed_format *feed_format_find(const char *name)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (!strcmp(g_formats[i]->name, name))
			return g_formats[i];
	return NULL;
}

const struct feed_format *feed_format_detect(const char *body, size_t len,
					     const char *content_type)
{
	const struct feed_format *best = NULL;
	int best_score = 0;

	for (size_t i = 0; i < NFORMATS; i++) {
		int s = g_formats[i]->detect(body, len, content_type);
		if (s > best_score) {
			best = g_formats[i];
			best_score = s;
		}
	}
	return best;
}

void feed_format_names(char *buf, size_t cap)
{
	size_t used = 0;

	if (cap == 0)
		return;
	buf[0] = 0;
	for (size_t i = 0; i < NFORMATS && used < cap; i++) {
		int n = snprintf(buf + used, cap - used, "%s%s", i ? "|" : "", g_formats[i]->name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
