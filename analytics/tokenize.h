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
 * so time and memory per post are bounded whatever the input. Only the first
 * TOKENIZE_SCAN_BYTES bytes of a text are looked at. All memory (about 95 KB)
 * is allocated by tokenizer_new(); tokenizer_run() allocates nothing.
 *
 * The rules, in short (docs at the top of tokenize.c):
 * - word: letters, marks and digits, with internal apostrophes and hyphens
 *   ("don't", "covid-19"); French/Italian elisions are split off ("l'état" ->
 *   "état") and a trailing "'s" is dropped ("trump's" -> "trump"). Numbers,
 *   one-letter words, stopwords and words over LIMIT_TERM_BYTES are not terms.
 *   Han, Hiragana, Katakana, Thai, Lao, Khmer and Myanmar runs become
 *   overlapping character bigrams ("東京都" -> "東京", "京都"); a run of one
 *   character is emitted as it is.
 * - hashtag "#rust", mention "@ada" / "@ada@example.org", cashtag "$tsla",
 *   domain "example.com" (host of a URL or a bare host), emoji (one extended
 *   grapheme cluster without U+FE0E/U+FE0F), bigram "word1 word2" (two
 *   adjacent emitted words; sentence punctuation, line breaks and every
 *   other term or dropped word in between break adjacency).
 * - Terms come out in text order; a bigram right after its second word.
 */
#ifndef TRENDD_TOKENIZE_H
#define TRENDD_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* Bytes of a text one call looks at; the rest is ignored (cut at a UTF-8 boundary). */
#define TOKENIZE_SCAN_BYTES       LIMIT_POST_TEXT_BYTES
/* A word whose raw bytes exceed this is dropped without normalizing it. */
#define TOKENIZE_RAW_WORD_BYTES   (4 * LIMIT_TERM_BYTES)

/* Stopword lists: caps on what stopwords_load() accepts. */
#define STOPWORDS_MAX_LANGS       64          /* lists loaded; more files are skipped */
#define STOPWORDS_MAX_FILE_BYTES  (1024 * 1024)
#define STOPWORDS_MAX_WORDS       (256 * 1024) /* all lists together */

struct stopwords;   /* per-language stopword sets, immutable after load */
struct tokenizer;

struct token {
	const char *s;     /* borrowed: normalized term text, not NUL-terminated */
	uint16_t len;
	uint8_t kind;      /* enum term_kind */
};

/*
 * Loads data_dir/stopwords/<lang>.txt for every file present (<lang> is two or
 * three lowercase ASCII letters). One word a line, UTF-8; blank lines and lines
 * starting with '#' are ignored; words are normalized like word terms, so the
 * files need not be case-folded. Returns -ENOENT (with a message in err) when
 * the directory cannot be read, -ENOMEM when out of memory; unreadable or
 * oversized files and malformed lines are skipped with a warning.
 */
int stopwords_load(struct stopwords **out, const char *data_dir, char *err, size_t errlen);
void stopwords_free(struct stopwords *sw);

/* Number of lists loaded and the language code of list i ("en"), in name order. */
size_t stopwords_lang_count(const struct stopwords *sw);
const char *stopwords_lang_name(const struct stopwords *sw, size_t i);

/*
 * The set of lists that applies to a post in language lang (BCP-47 or ""):
 * the list of its primary subtag ("pt-BR" -> pt) plus English when that list
 * is loaded, otherwise (lang empty or without a list) every list.
 */
uint64_t stopwords_lang_mask(const struct stopwords *sw, const char *lang);
/* Whether the normalized word s[0..len) is in one of the lists in mask. */
int stopwords_contains(const struct stopwords *sw, const char *s, size_t len, uint64_t mask);
/* The same, faster, for callers that guarantee 16 readable bytes at s. */
int stopwords_contains_padded(const struct stopwords *sw, const char *s, size_t len,
			      uint64_t mask);

/*
 * sw is borrowed and must outlive the tokenizer; NULL means no stopwords.
 * NULL when out of memory.
 */
struct tokenizer *tokenizer_new(const struct stopwords *sw);
void tokenizer_free(struct tokenizer *t);

/*
 * Tokenizes text[0..len). lang is the post's BCP-47 language or "" (it picks
 * the stopword list; NULL is the same as ""). Returns the number of terms and
 * sets *out to them. Invalid UTF-8 is read as U+FFFD and NUL as a space.
 */
size_t tokenizer_run(struct tokenizer *t, const char *text, size_t len, const char *lang,
		     const struct token **out);

#endif
