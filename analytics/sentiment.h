/*
 * sentiment.h - VADER sentiment scoring of a post's original text.
 *
 * Implements the complete VADER rule set (lexicon, boosters, ALL-CAPS
 * emphasis, negation, "but", "least", special phrases, punctuation emphasis,
 * emoji descriptions) so that scores match the reference implementation to
 * the printed precision. The lexicon is loaded once (vader_load) and is then
 * read-only: any number of threads may score with it at the same time, each
 * with its own struct vader_scratch.
 *
 * Scoring allocates nothing after the scratch has grown to the largest text
 * seen; texts longer than LIMIT_SENTIMENT_TOKENS tokens are scored on their
 * first LIMIT_SENTIMENT_TOKENS tokens.
 */
#ifndef TRENDD_SENTIMENT_H
#define TRENDD_SENTIMENT_H

#include <stddef.h>

struct vader;          /* lexicon and rule tables, immutable after load */
struct vader_scratch;  /* per-thread working memory */

struct sentiment {
	double compound;   /* [-1, 1] */
	double pos, neu, neg;
};

/*
 * Loads data_dir/vader/{vader_lexicon.txt,emoji_utf8_lexicon.txt,vader_rules.txt}.
 * Returns 0 and *out, or a negative errno with a readable message in err.
 */
int vader_load(struct vader **out, const char *data_dir, char *err, size_t errlen);
void vader_free(struct vader *v);

struct vader_scratch *vader_scratch_new(void);
void vader_scratch_free(struct vader_scratch *s);

/* Scores text[0..len) (UTF-8; invalid bytes are tolerated). Never fails. */
void vader_score(const struct vader *v, struct vader_scratch *s, const char *text, size_t len,
		 struct sentiment *out);

#endif
