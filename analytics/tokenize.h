/*
 * tokenize.h - turns a post's text into terms: words, hashtags, mentions,
 * cashtags, URL domains, emoji and bigrams, normalized with NFKC and case
 * folding (utf8proc), with an ASCII fast path that never calls utf8proc.
 *
 * A tokenizer is owned by one thread (the analytics thread, or a CLI tool);
 * the stopword tables it points to are immutable and may be shared.
 * tokenizer_run() returns terms that point into the tokenizer's scratch
 * buffer and stay valid until the next call. At most LIMIT_TOKENS_PER_POST
 * terms come out of one text, and each term is at most LIMIT_TERM_BYTES bytes,
 * so time and memory per post are bounded whatever the input.
 */
#ifndef TRENDD_TOKENIZE_H
#define TRENDD_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

struct stopwords;   /* per-language stopword sets, immutable after load */
struct tokenizer;

struct token {
	const char *s;     /* borrowed: normalized term text, not NUL-terminated */
	uint16_t len;
	uint8_t kind;      /* enum term_kind */
};

/* Loads data_dir/stopwords/<lang>.txt for every file present. */
int stopwords_load(struct stopwords **out, const char *data_dir, char *err, size_t errlen);
void stopwords_free(struct stopwords *sw);

/* sw is borrowed and must outlive the tokenizer. NULL when out of memory. */
struct tokenizer *tokenizer_new(const struct stopwords *sw);
void tokenizer_free(struct tokenizer *t);

/*
 * Tokenizes text[0..len). lang is the post's BCP-47 language or "" (it picks
 * the stopword list). Returns the number of terms and sets *out to them.
 */
size_t tokenizer_run(struct tokenizer *t, const char *text, size_t len, const char *lang,
		     const struct token **out);

#endif
