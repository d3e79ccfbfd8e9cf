/*
 * fuzz_text.c - libFuzzer target: a post's text through the tokenizer,
 * VADER and one long-lived window, as the analytics thread counts posts.
 *
 * The first byte picks the post's language (so every stopword list is
 * used); event time moves on by 7 ms a post and authors change, so minutes
 * and seconds close and author sets grow into columns over a run. Checked
 * besides the sanitizers: the compound score stays in [-1, 1], and the
 * window's invariants hold (window_check every 512 posts). Built with
 * -DTRENDD_FUZZ=ON (see docs/ARCHITECTURE.md).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "analytics/sentiment.h"
#include "analytics/tokenize.h"
#include "analytics/window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vader *vader;
static struct vader_scratch *scratch;
static struct stopwords *stopwords;
static struct tokenizer *tokenizer;
static struct window *window;
static uint64_t posts;

static void setup(void)
{
	char err[512];
	struct window_config wc;
	if (vader_load(&vader, TRENDD_FUZZ_DATA_DIR, err, sizeof err) < 0 ||
	    stopwords_load(&stopwords, TRENDD_FUZZ_DATA_DIR, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_text: %s\n", err);
		abort();
	}
	window_config_defaults(&wc);
	scratch = vader_scratch_new();
	tokenizer = tokenizer_new(stopwords);
	window = window_new(&wc);
	if (!scratch || !tokenizer || !window)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const langs[] = { "", "en", "de", "fr", "es", "pt", "ja", "x-unknown" };
	const char *text = (const char *)data;
	const struct token *tokens;
	struct sentiment s;
	char err[512];

	if (!window)
		setup();
	size_t n = tokenizer_run(tokenizer, text, size, langs[size ? data[0] % 8 : 0], &tokens);
	vader_score(vader, scratch, text, size, &s);
	if (!(s.compound >= -1.0 && s.compound <= 1.0))
		abort();
	posts++;
	struct window_post p = {
		.event_ms = 1700000000000LL + (int64_t)posts * 7,
		.author_hash = (uint32_t)(posts * 2654435761u),
		.compound = (float)s.compound,
		.tokens = tokens,
		.ntokens = n,
	};
	window_add_post(window, &p);
	if (posts % 512 == 0 && window_check(window, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_text: %s\n", err);
		abort();
	}
	return 0;
}
