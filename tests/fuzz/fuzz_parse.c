/*
 * fuzz_parse.c - libFuzzer target: every feed parser on arbitrary bytes.
 *
 * Each input goes to the parser feed_format_detect() picks (as `trendd
 * parse --format auto` does) and then to every parser by name, with a base
 * URL so that relative links are resolved. Any outcome is fine - posts, an
 * ill-formed document with its error - except a crash, a sanitizer report,
 * a leak or a hang. Built with -DTRENDD_FUZZ=ON (see docs/ARCHITECTURE.md).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ingest/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const formats[] = { "rss", "atom", "jsonfeed", "mastodon",
				       "reddit", "hn", "jetstream" };

static void parse_with(const struct feed_format *f, const struct feed_input *in)
{
	struct feed_doc doc;
	feed_doc_init(&doc);
	f->parse(in, &doc);
	feed_doc_clear(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct feed_input in = {
		.body = (const char *)data,
		.len = size,
		.base_url = "https://example.org/feeds/",
		.source_id = 1,
	};
	const struct feed_format *f = feed_format_detect(in.body, in.len, NULL);
	if (f)
		parse_with(f, &in);
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		f = feed_format_find(formats[i]);
		if (!f)
			abort(); /* a format this target names is gone: update the list */
		parse_with(f, &in);
	}
	return 0;
}
