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
 * Scoring allocates nothing: vader_scratch_new() allocates the scratch once,
 * with room for the largest text one call scores. A text is scored on its first
 * VADER_TEXT_BYTES_MAX bytes after emoji translation and on at most
 * LIMIT_SENTIMENT_TOKENS tokens; the '!' and '?' emphasis counts cover the
 * same prefix. A post text (at most LIMIT_POST_TEXT_BYTES) reaches the byte cap
 * before the token cap only if its tokens average more than 64 bytes.
 *
 * On x86-64, vader_load() picks AVX-512 code when the CPU has it (F, BW, VL,
 * VBMI2, CD), else AVX2, else SSE2; the environment variable TRENDD_VADER_ISA=avx2
 * or =sse2 caps the choice at that variant (the tests compare all of them).
 * Every variant gives the same scores, bit for bit.
 */
#ifndef TRENDD_SENTIMENT_H
#define TRENDD_SENTIMENT_H

#include <stddef.h>

#include "core/limits.h"

/* Bytes of (emoji-translated) text one call scores at most; bounds the scratch. */
#define VADER_TEXT_BYTES_MAX      LIMIT_POST_TEXT_BYTES

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
/* The variant vader_load() picked: "avx512", "avx2", "sse2" or "portable". */
const char *vader_isa(const struct vader *v);

struct vader_scratch *vader_scratch_new(void);
void vader_scratch_free(struct vader_scratch *s);

/*
 * Scores text[0..len) (UTF-8). Invalid UTF-8 bytes and NUL bytes are scored as
 * ordinary characters that have no case and no sentiment. Never fails.
 */
void vader_score(const struct vader *v, struct vader_scratch *s, const char *text, size_t len,
		 struct sentiment *out);

/* Conventional label: 1 positive (compound >= 0.05), -1 negative (<= -0.05), else 0. */
int vader_label(double compound);

#endif
