#include "ingest/source_kind.h"

#include <string.h>

#include "ingest/source_feed.h"
#include "ingest/source_hn.h"
#include "ingest/source_jetstream.h"
#include "ingest/source_jsonfeed.h"
#include "ingest/source_mastodon.h"
#include "ingest/source_reddit.h"

/* Every kind the ingest thread polls. Adding one is one line here. */
static const struct source_kind *const g_kinds[] = {
	&source_kind_mastodon,
	&source_kind_jsonfeed,
	&source_kind_reddit,
	&source_kind_hn,
	&source_kind_rss,
	&source_kind_atom,
	&source_kind_jetstream,
};

const struct source_kind *source_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof g_kinds / sizeof g_kinds[0]; i++)
		if (!strcmp(g_kinds[i]->name, name))
			return g_kinds[i];
	return NULL;
}
