/*
 * tokenize.h - turns a post's text into terms: words, hashtags, mentions,
 * cashtags, URL domains, emoji and bigrams, normalized with NFKC and case
 * folding (utf8proc), with an ASCII fast path that never calls utf8proc.
 *
 * A tokenizer is owned by one thread (the analytics thread, or a CLI tool);
 * the stopword tables it points to are immutable and may be shared (the
 * shipped lists take about 0.55 MB: one table, and a set per language).
 * tokenizer_run() returns terms that point into the tokenizer's buffers (a
 * lowercased copy of the text, and scratch space) and stay valid until the
 * next call. At most LIMIT_TOKENS_PER_POST terms come out of one text, and
 * each term is at most LIMIT_TERM_BYTES bytes, so time and memory per post
 * are bounded whatever the input. Only the first TOKENIZE_SCAN_BYTES bytes
 * of a text are looked at. All memory (about 190 KB) is allocated by
 * tokenizer_new(); tokenizer_run() allocates nothing.
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
#include <string.h>

#include "core/limits.h"

/* Bytes of a text one call looks at; the rest is ignored (cut at a UTF-8 boundary). */
#define TOKENIZE_SCAN_BYTES       LIMIT_POST_TEXT_BYTES
/* A word whose raw bytes exceed this is dropped without normalizing it. */
#define TOKENIZE_RAW_WORD_BYTES   (4 * LIMIT_TERM_BYTES)

/* Stopword lists: caps on what stopwords_load() accepts. */
#define STOPWORDS_MAX_LANGS       64          /* lists loaded; more files are skipped */
#define STOPWORDS_MAX_FILE_BYTES  (1024 * 1024)
#define STOPWORDS_MAX_WORDS       (256 * 1024) /* all lists together */

struct stopwords;     /* per-language stopword lists, immutable after load */
struct stopword_set;  /* the lists that apply to one language, for fast lookups */
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
/*
 * Whether the normalized word s[0..len) is in one of the lists in mask. No
 * list holds a word with a byte below 0x20.
 */
int stopwords_contains(const struct stopwords *sw, const char *s, size_t len, uint64_t mask);
/* The same, faster, for callers that guarantee 16 readable bytes at s. */
int stopwords_contains_padded(const struct stopwords *sw, const char *s, size_t len,
			      uint64_t mask);

/*
 * The lists of a mask stopwords_lang_mask() returned, as one set made for
 * fast lookups; NULL for other masks or a NULL sw. It lives as long as sw.
 */
const struct stopword_set *stopwords_set(const struct stopwords *sw, uint64_t mask);

/*
 * Inline probes of a stopword set. They are in this header so that the
 * tokenizer's word loop can inline them; stopwords.c builds the sets with
 * the same functions, and nothing else should touch the fields.
 *
 * A word of 1..16 bytes is keyed by its bytes, zero padded, as two 64-bit
 * halves, with its length in the top byte when the word leaves that byte
 * free (under 16 bytes). Keys hold no byte below 0x20 (no term has one, and
 * the loader skips such entries), so the length byte is never a word byte
 * and equal keys mean equal words. A set keeps the keys of its words of up
 * to 16 bytes in a table where each key has exactly one slot (hash and
 * displace): the key's hash picks a bucket, the hash times the bucket's
 * salt picks the slot, and the salts were chosen at load so that no two
 * keys share a slot. A word is in the set iff its key is in that slot, so
 * a probe compares one key and has no branch on the outcome (in English
 * text about every second word is a stopword: no branch predictor guesses
 * that). The table is nearly full, so a set takes about 19 bytes a word
 * and a probe reads one line of it and a salt (a two-choice table took 32
 * bytes and two lines). Longer words are rare in stopword lists; callers
 * look them up with stopwords_contains().
 *
 * In the tokenizer's word loop a probe costs about what it executes more
 * than its latency (the loop overlaps the probes of successive words), so
 * it is one multiply for the hash, one by the salt, and the high half of
 * one to scale to the slot count, with no folding, constants or xors
 * between them. Measured and slower: a bucketed two-choice table (no salt
 * to load, but four keys to compare), power-of-two tables (masks instead
 * of the scaling, at up to twice the size), and scaling the bucket the
 * same way as the slot.
 */
struct stopword_set {
	const struct stopwords *sw;  /* borrowed: the lists it was built from */
	uint64_t mask;               /* which of them */
	uint64_t mult;               /* odd multiplier of the hash that placed every key */
	uint64_t bucket_mask;        /* buckets - 1 (a power of two, at most 2^24) */
	uint64_t slot_mask;          /* slots - 1: the index of the last slot (any count) */
	uint64_t (*slots)[2];        /* owned by sw: keys, (0, 0) when empty */
	uint64_t *salt;              /* owned by sw: an odd multiplier per bucket (0 if empty) */
};

/* Key of a word of 1..16 bytes (see above); 16 bytes must be readable at s. */
static inline void stopword_key(const char *s, size_t len, uint64_t *a, uint64_t *b)
{
	/* Per length: the bytes kept of each half, and the length byte. */
	static const uint64_t keep[17][3] = {
		{ 0, 0, 0 },
		{ 0xff, 0, 1ull << 56 },
		{ 0xffff, 0, 2ull << 56 },
		{ 0xffffff, 0, 3ull << 56 },
		{ 0xffffffffull, 0, 4ull << 56 },
		{ 0xffffffffffull, 0, 5ull << 56 },
		{ 0xffffffffffffull, 0, 6ull << 56 },
		{ 0xffffffffffffffull, 0, 7ull << 56 },
		{ ~0ull, 0, 8ull << 56 },
		{ ~0ull, 0xff, 9ull << 56 },
		{ ~0ull, 0xffff, 10ull << 56 },
		{ ~0ull, 0xffffff, 11ull << 56 },
		{ ~0ull, 0xffffffffull, 12ull << 56 },
		{ ~0ull, 0xffffffffffull, 13ull << 56 },
		{ ~0ull, 0xffffffffffffull, 14ull << 56 },
		{ ~0ull, 0xffffffffffffffull, 15ull << 56 },
		{ ~0ull, ~0ull, 0 },
	};
	uint64_t x, y;
	memcpy(&x, s, 8);
	memcpy(&y, s + 8, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
	y = __builtin_bswap64(y);
#endif
	*a = x & keep[len][0];
	*b = (y & keep[len][1]) | keep[len][2];
}

/*
 * The hash of a key: a, xor b rotated so that its length byte (bits 56-59)
 * lands on bits 15-18 and its word bytes do not line up with a's, times an
 * odd multiplier. Only the top bits of a product are used (here and in
 * stopword_slot()): bit j of a product depends on bits 0..j of what was
 * multiplied, so the top bits depend on every key bit, and for two keys
 * they agree for few multipliers (multiply-shift hashing) - unless a ^
 * rotated b is the same for both, which no multiplier separates
 * (stopwords.c then gives up on the set after a bounded number of tries).
 */
static inline uint64_t stopword_hash(uint64_t mult, uint64_t a, uint64_t b)
{
	return (a ^ (b << 23 | b >> 41)) * mult;
}

/* The bucket of a hash: bits 40-63, so at most 2^24 buckets. */
static inline size_t stopword_bucket(uint64_t h, uint64_t bucket_mask)
{
	return (size_t)((h >> 40) & bucket_mask);
}

/*
 * The slot of a hash in a table of nslots slots, given its bucket's salt
 * (an odd multiplier): the hash times the salt, whose top bits for two
 * keys of a bucket differ under most salts (their hashes share the top
 * bits that chose the bucket, not the others), times the slot count, over
 * 2^64 - an index below the count without a division, which is the high
 * half of one 64 x 64-bit multiply (one instruction; scaling the top 32
 * bits instead took a shift, a multiply and a shift).
 */
static inline size_t stopword_slot(uint64_t h, uint64_t salt, uint64_t nslots)
{
	return (size_t)(((__uint128_t)(h * salt) * nslots) >> 64);
}

/*
 * Whether the key (a, b) is in the table of a set (its fields passed one
 * by one, so that a loop may keep them where it likes; nslots is
 * slot_mask + 1).
 */
static inline int stopword_probe(const uint64_t (*slots)[2], const uint64_t *salt,
				 uint64_t bucket_mask, uint64_t nslots, uint64_t mult,
				 uint64_t a, uint64_t b)
{
	uint64_t h = stopword_hash(mult, a, b);
	const uint64_t *p = slots[stopword_slot(h, salt[stopword_bucket(h, bucket_mask)],
						nslots)];
	return (p[0] == a) & (p[1] == b);
}

/* Whether the key (a, b) of a word of 1..16 bytes is in set. */
static inline int stopword_set_probe(const struct stopword_set *set, uint64_t a, uint64_t b)
{
	return stopword_probe((const uint64_t (*)[2])set->slots, set->salt, set->bucket_mask,
			      set->slot_mask + 1, set->mult, a, b);
}

/*
 * sw is borrowed and must outlive the tokenizer; NULL means no stopwords.
 * NULL when out of memory.
 */
struct tokenizer *tokenizer_new(const struct stopwords *sw);
void tokenizer_free(struct tokenizer *t);
/* The prescan tokenizer_new() picked: "avx512", "sse2" or "portable". */
const char *tokenizer_isa(const struct tokenizer *t);

/*
 * Tokenizes text[0..len). lang is the post's BCP-47 language or "" (it picks
 * the stopword list; NULL is the same as ""). Returns the number of terms and
 * sets *out to them. Invalid UTF-8 is read as U+FFFD and NUL as a space.
 */
size_t tokenizer_run(struct tokenizer *t, const char *text, size_t len, const char *lang,
		     const struct token **out);

#endif
