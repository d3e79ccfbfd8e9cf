/*
 * sentiment.c - VADER scoring: rule tables built once at load, allocation-free scoring.
 *
 * One text is scored in four passes:
 *   1. the text is copied into the scratch, with emoji replaced by their
 *      descriptions when it is not pure ASCII;
 *   2. tokenization: whitespace split and punctuation strip, then one lookup per
 *      token that yields everything the rules ask about it (lexicon valence,
 *      booster scalar, negation, its role as a word the rules name, its id as a
 *      word of a multi-word phrase) packed in one 64-bit word;
 *   3. the valence of each lexicon token with the modifier rules;
 *   4. the "but" rule, punctuation emphasis, normalization and proportions.
 * Speed comes from doing little per byte and taking few branches that depend on
 * the text: whitespace, '!' and '?' are found 64 bytes at a time as bit masks; a
 * token of up to 16 ASCII bytes is lowercased and classified in one SIMD register
 * that is also its lookup key; the word table answers a word of up to 8 bytes
 * from one cache line. Without SSE2 the same steps run byte by byte.
 *
 * Rule order and arithmetic follow the reference scorer operation by operation,
 * quirks included, because scores must match it to the printed precision. The
 * rules are written down in data/vader/README.md; comments here point out where
 * a quirk is reproduced on purpose.
 *
 * struct vader is written only by vader_load() and is read-only afterwards;
 * struct vader_scratch belongs to the thread that scores with it.
 */
#include "analytics/sentiment.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#if defined(__SSE2__) && defined(__x86_64__) && !defined(VADER_NO_SIMD)
#define VADER_SSE2 1
#include <emmintrin.h>
#endif

#include "core/hash.h"
#include "core/limits.h"

/* Caps on the data files; the shipped ones are well below them. */
#define VADER_FILE_BYTES_MAX   (16 * 1024 * 1024)
#define VADER_KEY_BYTES_MAX    24    /* longest key: three machine words */
#define VADER_DESC_BYTES_MAX   1024  /* longest emoji description */
#define VADER_PHRASE_WORDS     3     /* the rules look at phrases of 2 or 3 words */

/* The text buffer has room for 64-byte block reads past the end of the text. */
#define VADER_TEXT_PAD         64
_Static_assert(LIMIT_SENTIMENT_TOKENS <= UINT16_MAX, "token indexes are stored in uint16_t");

/* Byte classes of ASCII characters (and summary bits of a token). */
enum {
	C_SPACE = 1,    /* whitespace: splits tokens */
	C_UPPER = 2,    /* uppercase letter */
	C_LOWER = 4,    /* lowercase or titlecase letter */
	C_PUNCT = 8,    /* ASCII punctuation: stripped from token ends */
	C_APOS  = 16,   /* apostrophe: the token may contain "n't" */
	C_HIGH  = 64,   /* byte >= 0x80 */
};

/* Words the rules test by name. */
enum vader_role {
	ROLE_NONE, ROLE_NO, ROLE_OR, ROLE_NOR, ROLE_NEVER, ROLE_SO, ROLE_THIS, ROLE_WITHOUT,
	ROLE_DOUBT, ROLE_LEAST, ROLE_AT, ROLE_VERY, ROLE_KIND, ROLE_OF, ROLE_BUT, ROLE_COUNT
};

static const char *const role_words[ROLE_COUNT] = {
	[ROLE_NO] = "no", [ROLE_OR] = "or", [ROLE_NOR] = "nor", [ROLE_NEVER] = "never",
	[ROLE_SO] = "so", [ROLE_THIS] = "this", [ROLE_WITHOUT] = "without",
	[ROLE_DOUBT] = "doubt", [ROLE_LEAST] = "least", [ROLE_AT] = "at", [ROLE_VERY] = "very",
	[ROLE_KIND] = "kind", [ROLE_OF] = "of", [ROLE_BUT] = "but",
};

/* Flags of a table entry and of a scored token. */
enum {
	VF_LEX   = 1,   /* lexicon word */
	VF_BOOST = 2,   /* single-word booster or dampener */
	VF_NEG   = 4,   /* negation word; a token also gets it when it contains "n't" */
	VF_UPPER = 8,   /* token only: ALL-CAPS */
};

/* One key of the word table while loading: everything the rules know about one word. */
struct vader_entry {
	uint64_t key[3];         /* key bytes, zero-padded to 24 */
	double lex;              /* valence, when VF_LEX */
	double boost;            /* scalar, when VF_BOOST */
	uint8_t key_len;
	uint8_t flags;           /* VF_LEX | VF_BOOST | VF_NEG */
	uint8_t role;            /* enum vader_role */
	uint8_t phrase_word;     /* 1-based id when the word occurs in a phrase, else 0 */
};

/*
 * The word table used for scoring: the entries compiled into buckets of one
 * cache line. A slot keeps the first 8 key bytes and the word's packed info
 * (info_* below), so a word of up to 8 bytes is found, or known to be absent,
 * with one cache line read and no branch on the outcome. Bytes 8..23 of longer
 * keys live in tails[]. A key goes to the first bucket with a free slot from its
 * home bucket on; when that is not its home, the home bucket is marked
 * INFO_SPILLED (in the info of its last slot, which is then in use) and a miss
 * there is not final.
 */
#define WORD_SLOTS 4

struct word_bucket {
	uint64_t key0[WORD_SLOTS];
	uint64_t info[WORD_SLOTS];   /* 0 = empty slot */
};

/* Packed word info: bits 0-4 key length (never 0 in a used slot), 5-7 VF_LEX |
 * VF_BOOST | VF_NEG, 8-11 role, 12-19 phrase word, 20-35 valence index and 36-43
 * booster scalar index into values[], 44-59 tails[] index, 63 INFO_SPILLED. */
#define INFO_SPILLED (1ull << 63)

static inline unsigned info_len(uint64_t x) { return (unsigned)x & 31; }
static inline unsigned info_flags(uint64_t x) { return (unsigned)(x >> 5) & 7; }
static inline unsigned info_role(uint64_t x) { return (unsigned)(x >> 8) & 15; }
static inline unsigned info_phrase_word(uint64_t x) { return (unsigned)(x >> 12) & 255; }
static inline unsigned info_lex(uint64_t x) { return (unsigned)(x >> 20) & 0xFFFF; }
static inline unsigned info_boost(uint64_t x) { return (unsigned)(x >> 36) & 0xFF; }
static inline unsigned info_tail(uint64_t x) { return (unsigned)(x >> 44) & 0xFFFF; }

/* A multi-word special phrase or booster, as a sequence of phrase-word ids. */
struct vader_phrase {
	uint8_t word[VADER_PHRASE_WORDS];
	uint32_t n;
	double value;
};

struct vader_emoji {
	uint32_t cp;
	uint32_t desc_off;       /* description bytes in pool */
	uint32_t desc_len;
	uint32_t line;           /* file order, so that a later duplicate wins */
};

struct vader_consts {
	double c_incr, n_scalar, alpha, decay[4], never_so_this, but_before, but_after;
	double ep_incr, ep_max, qm_incr, qm_max, qm_cap;
};

struct vader {
	struct word_bucket *words;        /* owned; power-of-two count */
	size_t word_mask;
	unsigned word_shift;              /* bucket of hash h: h >> word_shift */
	uint64_t (*tails)[2];             /* owned; bytes 8..23 of keys longer than 8 */
	double *values;                   /* owned; valences and scalars, values[0] = 0 */
	size_t boost_base;                /* booster scalar i is values[boost_base + i] */
	struct vader_entry *entries;      /* owned; load time only */
	size_t n_entries, cap_entries;
	uint32_t *index;                  /* owned; load time only: entry + 1 by key hash */
	size_t index_mask;
	char *pool;                       /* owned; emoji descriptions */
	size_t pool_len, pool_cap;
	uint8_t n_phrase_words;
	struct vader_phrase *special;     /* owned; a match replaces the valence */
	size_t n_special, cap_special;
	struct vader_phrase *boost_phrase;/* owned; multi-word boosters ("kind of") */
	size_t n_boost_phrase, cap_boost_phrase;
	struct vader_emoji *emoji;        /* owned; sorted by cp, unique */
	size_t n_emoji, cap_emoji;
	uint64_t *emoji_bits;             /* owned; bit cp set when cp is an emoji key */
	uint32_t emoji_cp_max;
	struct vader_consts c;
	uint8_t cls[256];                 /* C_* class of each byte < 0x80 */
	uint8_t lower[256];               /* ASCII lowercase */
};

struct vader_tok {
	uint64_t info;                    /* the word's info, 0 when it is in no list */
	unsigned flags;                   /* VF_*: the word's, plus ALL-CAPS and "n't" */
};

struct vader_scratch {
	unsigned char *text;              /* owned; VADER_TEXT_BYTES_MAX + VADER_TEXT_PAD */
	struct vader_tok tok[LIMIT_SENTIMENT_TOKENS];
	uint16_t lex[LIMIT_SENTIMENT_TOKENS];   /* indexes of the lexicon tokens */
	double val[LIMIT_SENTIMENT_TOKENS];     /* valence of lex[k]; all other tokens are 0 */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- UTF-8 and Unicode classes ---- */

static inline int utf8_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/*
 * Decodes one code point. An invalid or truncated sequence yields cp -1 and width 1,
 * so every invalid byte counts as one uncased character, the way a decoder that
 * escapes each bad byte sees it.
 */
static size_t utf8_decode(const unsigned char *p, size_t len, int32_t *cp)
{
	unsigned c = p[0];
	uint32_t x;

	if (c < 0x80) {
		*cp = (int32_t)c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		if (len >= 2 && utf8_cont(p[1])) {
			*cp = (int32_t)(((c & 0x1Fu) << 6) | (p[1] & 0x3Fu));
			return 2;
		}
	} else if (c >= 0xE0 && c <= 0xEF) {
		if (len >= 3 && utf8_cont(p[1]) && utf8_cont(p[2])) {
			x = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
			if (x >= 0x800 && (x < 0xD800 || x > 0xDFFF)) {
				*cp = (int32_t)x;
				return 3;
			}
		}
	} else if (c >= 0xF0 && c <= 0xF4) {
		if (len >= 4 && utf8_cont(p[1]) && utf8_cont(p[2]) && utf8_cont(p[3])) {
			x = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
			    (p[3] & 0x3Fu);
			if (x >= 0x10000 && x <= 0x10FFFF) {
				*cp = (int32_t)x;
				return 4;
			}
		}
	}
	*cp = -1;
	return 1;
}

/* True when p[0..len) has more than max code points. */
static int utf8_longer_than(const unsigned char *p, size_t len, size_t max)
{
	size_t i = 0, k = 0;
	int32_t cp;

	if (len <= max)
		return 0;
	while (i < len) {
		if (++k > max)
			return 1;
		i += utf8_decode(p + i, len - i, &cp);
	}
	return 0;
}

/* Non-ASCII whitespace that splits words (Python's str.split()). */
static int cp_is_space(int32_t cp)
{
	return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

struct cp_range {
	int32_t lo, hi;
};

/*
 * Characters outside Ll/Lu that Unicode still counts as lowercase or uppercase
 * (PropList.txt Other_Lowercase / Other_Uppercase): "ª" or "ⓐ" makes a word not
 * ALL-CAPS, "Ⅻ" or "Ⓐ" counts as a capital.
 */
static const struct cp_range other_lower[] = {
	{ 0xAA, 0xAA }, { 0xBA, 0xBA }, { 0x2B0, 0x2B8 }, { 0x2C0, 0x2C1 }, { 0x2E0, 0x2E4 },
	{ 0x345, 0x345 }, { 0x37A, 0x37A }, { 0x10FC, 0x10FC }, { 0x1D2C, 0x1D6A },
	{ 0x1D78, 0x1D78 }, { 0x1D9B, 0x1DBF }, { 0x2071, 0x2071 }, { 0x207F, 0x207F },
	{ 0x2090, 0x209C }, { 0x2170, 0x217F }, { 0x24D0, 0x24E9 }, { 0x2C7C, 0x2C7D },
	{ 0xA69C, 0xA69D }, { 0xA770, 0xA770 }, { 0xA7F2, 0xA7F4 }, { 0xA7F8, 0xA7F9 },
	{ 0xAB5C, 0xAB5F }, { 0xAB69, 0xAB69 }, { 0x10780, 0x10780 }, { 0x10783, 0x10785 },
	{ 0x10787, 0x107B0 }, { 0x107B2, 0x107BA }, { 0x1E030, 0x1E06D },
};

static const struct cp_range other_upper[] = {
	{ 0x2160, 0x216F }, { 0x24B6, 0x24CF }, { 0x1F130, 0x1F149 }, { 0x1F150, 0x1F169 },
	{ 0x1F170, 0x1F189 },
};

static int cp_in(const struct cp_range *r, size_t n, int32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* C_SPACE, C_UPPER, C_LOWER or 0 for a non-ASCII code point (-1: invalid byte). */
static unsigned cp_class(int32_t cp)
{
	if (cp < 0)
		return 0;
	if (cp_is_space(cp))
		return C_SPACE;
	switch (utf8proc_get_property(cp)->category) {
	case UTF8PROC_CATEGORY_LU:
		return C_UPPER;
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
		return C_LOWER;
	default:
		break;
	}
	if (cp_in(other_lower, sizeof other_lower / sizeof other_lower[0], cp))
		return C_LOWER;
	if (cp_in(other_upper, sizeof other_upper / sizeof other_upper[0], cp))
		return C_UPPER;
	return 0;
}

/* ---- the word table ---- */

/*
 * Hash of a key given as three zero-padded words (the lookup key of a token). It
 * is multiplicative, so only the high bits are well mixed: the word table takes
 * its bucket from h >> word_shift, the load-time index mixes h once more.
 */
static inline uint64_t key_hash(const uint64_t w[3], size_t len)
{
	return (w[0] + len) * 0x9e3779b97f4a7c15ull ^ w[1] * 0xc2b2ae3d27d4eb4full ^
	       w[2] * 0x165667b19e3779f9ull;
}

static void key_words(const void *key, size_t len, uint64_t w[3])
{
	unsigned char b[VADER_KEY_BYTES_MAX] = { 0 };

	assert(len <= VADER_KEY_BYTES_MAX);
	memcpy(b, key, len);
	memcpy(w, b, sizeof b);
}

/* Load time: the entry of key w/len, or NULL. */
static struct vader_entry *entry_find(const struct vader *v, const uint64_t w[3], size_t len)
{
	size_t i = (size_t)hash_u64(key_hash(w, len)) & v->index_mask;

	for (; v->index[i]; i = (i + 1) & v->index_mask) {
		struct vader_entry *e = &v->entries[v->index[i] - 1];
		if (e->key_len == len && !memcmp(e->key, w, sizeof e->key))
			return e;
	}
	return NULL;
}

static void index_insert(uint32_t *index, size_t mask, uint64_t h, uint32_t entry)
{
	size_t i = (size_t)h & mask;

	while (index[i])
		i = (i + 1) & mask;
	index[i] = entry;
}

/* The info of key w/len, or 0: every slot of every bucket that may hold it. */
static uint64_t word_find_slow(const struct vader *v, const uint64_t w[3], size_t len, uint64_t h)
{
	size_t bi = (size_t)(h >> v->word_shift);

	for (;;) {
		const struct word_bucket *b = &v->words[bi];
		for (unsigned k = 0; k < WORD_SLOTS; k++) {
			uint64_t x = b->info[k];
			if (b->key0[k] != w[0] || info_len(x) != len)
				continue;
			if (len <= 8 || (v->tails[info_tail(x)][0] == w[1] &&
					 v->tails[info_tail(x)][1] == w[2]))
				return x & ~INFO_SPILLED;
		}
		if (!b->info[WORD_SLOTS - 1])
			return 0;       /* a bucket with a free slot ends every probe */
		bi = (bi + 1) & v->word_mask;
	}
}

/*
 * The info of key w/len (1..VADER_KEY_BYTES_MAX bytes), or 0 when the word is in
 * no list. A key of up to 8 bytes is unique by its first word and length, so one
 * bucket settles it (unless the bucket spilled) with no branch on the outcome;
 * longer keys, and spilled buckets, take word_find_slow().
 */
static inline __attribute__((always_inline)) uint64_t
word_find(const struct vader *v, const uint64_t w[3], size_t len)
{
	uint64_t h = key_hash(w, len);
	const struct word_bucket *b = &v->words[h >> v->word_shift];
	unsigned m;

	_Static_assert(WORD_SLOTS == 4, "word_find compares four slots");
	if (__builtin_expect(len > 8, 0))
		return word_find_slow(v, w, len, h);
#ifdef VADER_SSE2
	{
		const __m128i key = _mm_set1_epi64x((long long)w[0]);
		const __m128i klen = _mm_set1_epi64x((long long)len);
		const __m128i lmask = _mm_set1_epi64x(31);
		const __m128i *k0 = (const __m128i *)(const void *)b->key0;
		const __m128i *in = (const __m128i *)(const void *)b->info;
		__m128i l01 = _mm_and_si128(_mm_load_si128(in), lmask);
		__m128i l23 = _mm_and_si128(_mm_load_si128(in + 1), lmask);
		__m128i e01 = _mm_and_si128(_mm_cmpeq_epi32(_mm_load_si128(k0), key),
					    _mm_cmpeq_epi32(l01, klen));
		__m128i e23 = _mm_and_si128(_mm_cmpeq_epi32(_mm_load_si128(k0 + 1), key),
					    _mm_cmpeq_epi32(l23, klen));
		/* two bits per slot (its two 32-bit halves): slot k matched when bits
		 * 2k and 2k+1 are both set */
		unsigned d = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(e01)) |
			     (unsigned)_mm_movemask_ps(_mm_castsi128_ps(e23)) << 4;
		m = d & d >> 1 & 0x55;
		m = (unsigned)__builtin_ctz(m | 0x100) >> 1;    /* slot, 4 when none */
	}
#else
	/* bitwise, not logical, operators: the outcome must not become a branch */
	m = (unsigned)((b->key0[0] == w[0]) & (info_len(b->info[0]) == len)) |
	    (unsigned)((b->key0[1] == w[0]) & (info_len(b->info[1]) == len)) << 1 |
	    (unsigned)((b->key0[2] == w[0]) & (info_len(b->info[2]) == len)) << 2 |
	    (unsigned)((b->key0[3] == w[0]) & (info_len(b->info[3]) == len)) << 3;
	m = (unsigned)__builtin_ctz(m | 16);
#endif
	if (__builtin_expect((m == WORD_SLOTS) & (unsigned)(b->info[WORD_SLOTS - 1] >> 63), 0))
		return word_find_slow(v, w, len, h);
	return b->info[m & 3] & -(uint64_t)(m < WORD_SLOTS) & ~INFO_SPILLED;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int pool_add(struct vader *v, const char *s, size_t len, uint32_t *off)
{
	if (v->pool_len + len > UINT32_MAX)
		return -E2BIG;
	if (grow((void **)&v->pool, &v->pool_cap, v->pool_len + len, 1))
		return -ENOMEM;
	memcpy(v->pool + v->pool_len, s, len);
	*off = (uint32_t)v->pool_len;
	v->pool_len += len;
	return 0;
}

static int index_rehash(struct vader *v, size_t nslots)
{
	uint32_t *index = calloc(nslots, sizeof *index);

	if (!index)
		return -ENOMEM;
	for (size_t k = 0; k < v->n_entries; k++) {
		const struct vader_entry *e = &v->entries[k];
		index_insert(index, nslots - 1, hash_u64(key_hash(e->key, e->key_len)),
			     (uint32_t)k + 1);
	}
	free(v->index);
	v->index = index;
	v->index_mask = nslots - 1;
	return 0;
}

/* Finds or adds the entry for key (at most VADER_KEY_BYTES_MAX bytes); NULL when out of memory. */
static struct vader_entry *table_get(struct vader *v, const char *key, size_t len)
{
	uint64_t w[3];
	struct vader_entry *e;

	key_words(key, len, w);
	e = entry_find(v, w, len);
	if (e)
		return e;
	if ((v->n_entries + 1) * 2 > v->index_mask + 1 &&
	    index_rehash(v, (v->index_mask + 1) * 2))
		return NULL;
	if (grow((void **)&v->entries, &v->cap_entries, v->n_entries + 1, sizeof *v->entries))
		return NULL;
	e = &v->entries[v->n_entries++];
	memset(e, 0, sizeof *e);
	memcpy(e->key, w, sizeof w);
	e->key_len = (uint8_t)len;
	index_insert(v->index, v->index_mask, hash_u64(key_hash(w, len)), (uint32_t)v->n_entries);
	return e;
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Index of x in the sorted values[1..n). */
static size_t value_index(const double *values, size_t n, double x)
{
	size_t lo = 1, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (values[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Builds the scoring table (words, tails, values) from the load-time entries. */
static int words_compile(struct vader *v, char *err, size_t errlen)
{
	size_t nb = 64, n_values = 1, n_tails = 0, n_lex = 0, n_boost;

	/* values: 0 first, then every distinct valence, then every distinct scalar */
	v->values = malloc((2 * v->n_entries + 1) * sizeof *v->values);
	v->tails = malloc((v->n_entries + 1) * sizeof *v->tails);
	if (!v->values || !v->tails)
		goto oom;
	v->values[0] = 0;
	for (size_t k = 0; k < v->n_entries; k++)
		if (v->entries[k].flags & VF_LEX)
			v->values[n_values++] = v->entries[k].lex;
	qsort(v->values + 1, n_values - 1, sizeof *v->values, double_cmp);
	for (size_t k = 1; k < n_values; k++)
		if (n_lex == 0 || v->values[n_lex] != v->values[k])
			v->values[++n_lex] = v->values[k];
	n_values = ++n_lex;
	for (size_t k = 0; k < v->n_entries; k++)
		if (v->entries[k].flags & VF_BOOST)
			v->values[n_values++] = v->entries[k].boost;
	qsort(v->values + n_lex, n_values - n_lex, sizeof *v->values, double_cmp);
	n_boost = n_lex;
	for (size_t k = n_lex; k < n_values; k++)
		if (n_boost == n_lex || v->values[n_boost - 1] != v->values[k])
			v->values[n_boost++] = v->values[k];
	if (n_lex > 0xFFFF || n_boost - n_lex > 0xFF) {
		set_err(err, errlen, "too many distinct valences or booster values");
		return -E2BIG;
	}

	/* two keys per bucket on average: a spilled bucket is rare */
	while (nb * 2 < v->n_entries)
		nb *= 2;
	v->words = aligned_alloc(64, nb * sizeof *v->words);
	if (!v->words)
		goto oom;
	memset(v->words, 0, nb * sizeof *v->words);
	v->word_mask = nb - 1;
	v->word_shift = 64 - (unsigned)__builtin_ctzll(nb);
	for (size_t k = 0; k < v->n_entries; k++) {
		const struct vader_entry *e = &v->entries[k];
		uint64_t h = key_hash(e->key, e->key_len), x;
		size_t home = (size_t)(h >> v->word_shift), bi = home;
		unsigned slot;

		x = (uint64_t)e->key_len | (uint64_t)e->flags << 5 | (uint64_t)e->role << 8 |
		    (uint64_t)e->phrase_word << 12;
		if (e->flags & VF_LEX)
			x |= (uint64_t)value_index(v->values, n_lex, e->lex) << 20;
		if (e->flags & VF_BOOST)
			x |= (uint64_t)(value_index(v->values + n_lex - 1, n_boost - n_lex + 1,
						    e->boost) - 1) << 36;
		if (e->key_len > 8) {
			if (n_tails > 0xFFFF) {
				set_err(err, errlen, "too many words longer than 8 bytes");
				return -E2BIG;
			}
			v->tails[n_tails][0] = e->key[1];
			v->tails[n_tails][1] = e->key[2];
			x |= (uint64_t)n_tails++ << 44;
		}
		for (;;) {
			for (slot = 0; slot < WORD_SLOTS && v->words[bi].info[slot]; slot++)
				;
			if (slot < WORD_SLOTS)
				break;
			bi = (bi + 1) & v->word_mask;
		}
		v->words[bi].key0[slot] = e->key[0];
		v->words[bi].info[slot] = x;
		if (bi != home)
			v->words[home].info[WORD_SLOTS - 1] |= INFO_SPILLED;
	}
	v->values[n_boost] = 0;                 /* room reserved: 2 * n_entries + 1 */
	v->boost_base = n_lex;
	return 0;
oom:
	set_err(err, errlen, "out of memory");
	return -ENOMEM;
}

/* ---- loading ---- */

static int read_data_file(const char *path, char **out, size_t *out_len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!f) {
		rc = -errno;
		set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= VADER_FILE_BYTES_MAX) {
				set_err(err, errlen, "%s: larger than %d bytes", path,
					VADER_FILE_BYTES_MAX);
				rc = -EFBIG;
				goto fail;
			}
			if (grow((void **)&buf, &cap, cap + 65536, 1)) {
				set_err(err, errlen, "%s: out of memory", path);
				rc = -ENOMEM;
				goto fail;
			}
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		set_err(err, errlen, "cannot read %s", path);
		rc = -EIO;
		goto fail;
	}
	fclose(f);
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	fclose(f);
	return rc;
}

/* Iterates LF-terminated lines (a final line may lack the LF); drops a trailing CR. */
struct line_iter {
	const char *p, *end;
	size_t lineno;
};

static int line_next(struct line_iter *it, const char **line, size_t *len)
{
	const char *nl;
	size_t n;

	if (it->p >= it->end)
		return 0;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	n = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
	*line = it->p;
	it->p += n + (nl != NULL);
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	*len = n;
	it->lineno++;
	return 1;
}

/* Splits off the next TAB-separated field of line[*pos..len). */
static int field_next(const char *line, size_t len, size_t *pos, const char **f, size_t *flen)
{
	size_t s = *pos, e;

	if (s > len)
		return 0;
	for (e = s; e < len && line[e] != '\t'; e++)
		;
	*f = line + s;
	*flen = e - s;
	*pos = e + 1;
	return 1;
}

/*
 * Parses a plain decimal ("-0.74", "3", "+1.25") to the nearest double without
 * depending on the locale's decimal point. With at most 15 digits the mantissa
 * and the power of ten are exact doubles, so one division is correctly rounded,
 * which gives the same double as strtod().
 */
static int parse_decimal(const char *s, size_t len, double *out)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
				      1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	size_t i = 0;
	uint64_t m = 0;
	int neg = 0, digits = 0, frac = 0, dot = 0;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (s[i] == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || digits >= 15)
			return -EINVAL;
		m = m * 10 + (uint64_t)(s[i] - '0');
		digits++;
		frac += dot;
	}
	if (!digits)
		return -EINVAL;
	*out = (double)m / p10[frac];
	if (neg)
		*out = -*out;
	return 0;
}

static int load_lexicon(struct vader *v, const char *path, const char *buf, size_t len,
			char *err, size_t errlen)
{
	struct line_iter it = { buf, buf + len, 0 };
	const char *line, *key, *val;
	size_t n, klen, vlen;

	while (line_next(&it, &line, &n)) {
		size_t pos = 0;
		double x;
		struct vader_entry *e;

		if (n == 0)
			continue;
		field_next(line, n, &pos, &key, &klen);
		if (!field_next(line, n, &pos, &val, &vlen) || parse_decimal(val, vlen, &x)) {
			set_err(err, errlen, "%s:%zu: expected TOKEN<TAB>VALENCE", path, it.lineno);
			return -EINVAL;
		}
		/* Tokens never contain whitespace, so keys with a space ("fed up")
		 * can never match. */
		if (memchr(key, ' ', klen))
			continue;
		if (klen == 0 || klen > VADER_KEY_BYTES_MAX) {
			set_err(err, errlen, "%s:%zu: empty token or longer than %d bytes", path,
				it.lineno, VADER_KEY_BYTES_MAX);
			return -EINVAL;
		}
		/* Keys as written; a later duplicate overwrites the earlier value. */
		e = table_get(v, key, klen);
		if (!e)
			goto oom;
		e->flags |= VF_LEX;
		e->lex = x;
	}
	return 0;
oom:
	set_err(err, errlen, "%s: out of memory", path);
	return -ENOMEM;
}

static int emoji_cmp(const void *a, const void *b)
{
	const struct vader_emoji *x = a, *y = b;

	if (x->cp != y->cp)
		return x->cp < y->cp ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int load_emoji(struct vader *v, const char *path, const char *buf, size_t len,
		      char *err, size_t errlen)
{
	struct line_iter it = { buf, buf + len, 0 };
	const char *line;
	size_t n, out = 0;

	while (line_next(&it, &line, &n)) {
		const char *tab;
		int32_t cp;
		struct vader_emoji *em;

		if (n == 0)
			continue;
		tab = memchr(line, '\t', n);
		if (!tab || tab == line) {
			set_err(err, errlen, "%s:%zu: expected EMOJI<TAB>DESCRIPTION", path,
				it.lineno);
			return -EINVAL;
		}
		if ((size_t)(line + n - tab - 1) > VADER_DESC_BYTES_MAX) {
			set_err(err, errlen, "%s:%zu: description longer than %d bytes", path,
				it.lineno, VADER_DESC_BYTES_MAX);
			return -EINVAL;
		}
		/* Text is translated one code point at a time, so only keys that are a
		 * single code point can ever match; sequences are left out. ASCII keys
		 * are left out too (the table has none), so ASCII text needs no pass. */
		if (utf8_decode((const unsigned char *)line, (size_t)(tab - line), &cp) !=
			    (size_t)(tab - line) || cp < 0x80)
			continue;
		if (grow((void **)&v->emoji, &v->cap_emoji, v->n_emoji + 1, sizeof *v->emoji))
			goto oom;
		em = &v->emoji[v->n_emoji++];
		em->cp = (uint32_t)cp;
		em->line = (uint32_t)it.lineno;
		em->desc_len = (uint32_t)(line + n - tab - 1);
		if (pool_add(v, tab + 1, em->desc_len, &em->desc_off))
			goto oom;
	}
	/* Sort by code point, file order within one; keep the last of duplicates. */
	if (v->n_emoji)
		qsort(v->emoji, v->n_emoji, sizeof *v->emoji, emoji_cmp);
	for (size_t k = 0; k < v->n_emoji; k++) {
		if (k + 1 < v->n_emoji && v->emoji[k + 1].cp == v->emoji[k].cp)
			continue;
		v->emoji[out++] = v->emoji[k];
	}
	v->n_emoji = out;
	v->emoji_cp_max = out ? v->emoji[out - 1].cp : 0;
	v->emoji_bits = calloc(v->emoji_cp_max / 64 + 1, sizeof *v->emoji_bits);
	if (!v->emoji_bits)
		goto oom;
	for (size_t k = 0; k < out; k++)
		v->emoji_bits[v->emoji[k].cp / 64] |= 1ull << (v->emoji[k].cp % 64);
	return 0;
oom:
	set_err(err, errlen, "%s: out of memory", path);
	return -ENOMEM;
}

/* Adds a 2- or 3-word phrase to list (a later duplicate replaces the value). */
static int phrase_add(struct vader *v, struct vader_phrase **list, size_t *count, size_t *cap,
		      const char *key, size_t klen, double value)
{
	struct vader_phrase ph = { .n = 0, .value = value };
	size_t s = 0;

	while (s <= klen) {
		size_t e = s;
		struct vader_entry *w;

		while (e < klen && key[e] != ' ')
			e++;
		if (e == s || e - s > VADER_KEY_BYTES_MAX)
			return -EINVAL;
		/* Candidates the rules build have 2 or 3 words: longer phrases never match. */
		if (ph.n == VADER_PHRASE_WORDS)
			return 0;
		w = table_get(v, key + s, e - s);
		if (!w)
			return -ENOMEM;
		if (!w->phrase_word) {
			if (v->n_phrase_words == UINT8_MAX)
				return -E2BIG;
			w->phrase_word = ++v->n_phrase_words;
		}
		ph.word[ph.n++] = w->phrase_word;
		s = e + 1;
	}
	for (size_t k = 0; k < *count; k++) {
		if ((*list)[k].n == ph.n &&
		    !memcmp((*list)[k].word, ph.word, ph.n * sizeof ph.word[0])) {
			(*list)[k].value = value;
			return 0;
		}
	}
	if (grow((void **)list, cap, *count + 1, sizeof **list))
		return -ENOMEM;
	(*list)[(*count)++] = ph;
	return 0;
}

struct const_def {
	const char *name;
	size_t off;          /* into struct vader_consts; SIZE_MAX: accepted, not used */
};

#define CONST_AT(field) offsetof(struct vader_consts, field)

static const struct const_def const_defs[] = {
	{ "C_INCR", CONST_AT(c_incr) },
	{ "N_SCALAR", CONST_AT(n_scalar) },
	{ "NORM_ALPHA", CONST_AT(alpha) },
	{ "BOOST_DECAY_1", CONST_AT(decay[1]) },
	{ "BOOST_DECAY_2", CONST_AT(decay[2]) },
	{ "BOOST_DECAY_3", CONST_AT(decay[3]) },
	{ "NEVER_SO_THIS", CONST_AT(never_so_this) },
	{ "BUT_BEFORE", CONST_AT(but_before) },
	{ "BUT_AFTER", CONST_AT(but_after) },
	{ "EP_INCR", CONST_AT(ep_incr) },
	{ "EP_MAX", CONST_AT(ep_max) },
	{ "QM_INCR", CONST_AT(qm_incr) },
	{ "QM_MAX", CONST_AT(qm_max) },
	{ "QM_CAP", CONST_AT(qm_cap) },
	/* booster values come with each booster record; the label threshold is vader_label's */
	{ "B_INCR", SIZE_MAX },
	{ "B_DECR", SIZE_MAX },
	{ "CLASS_THRESHOLD", SIZE_MAX },
};

#define N_CONSTS (sizeof const_defs / sizeof const_defs[0])

static int field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(f, word, len) == 0;
}

static int load_rules(struct vader *v, const char *path, const char *buf, size_t len,
		      char *err, size_t errlen)
{
	struct line_iter it = { buf, buf + len, 0 };
	const char *line, *type, *key, *val;
	size_t n, tlen, klen, vlen;
	int seen[N_CONSTS] = { 0 };
	int rc;

	while (line_next(&it, &line, &n)) {
		size_t pos = 0;
		double x = 0;
		int has_val, phrase;
		struct vader_entry *e;

		if (n == 0 || line[0] == '#')
			continue;
		field_next(line, n, &pos, &type, &tlen);
		if (!field_next(line, n, &pos, &key, &klen) || klen == 0) {
			set_err(err, errlen, "%s:%zu: expected TYPE<TAB>KEY[<TAB>VALUE]", path,
				it.lineno);
			return -EINVAL;
		}
		/* A key with a space is a phrase for "booster" and "special"; for any
		 * other type it could never match a token. */
		phrase = memchr(key, ' ', klen) != NULL;
		if (!phrase && klen > VADER_KEY_BYTES_MAX) {
			set_err(err, errlen, "%s:%zu: key longer than %d bytes", path, it.lineno,
				VADER_KEY_BYTES_MAX);
			return -EINVAL;
		}
		has_val = field_next(line, n, &pos, &val, &vlen);
		if (has_val && parse_decimal(val, vlen, &x)) {
			set_err(err, errlen, "%s:%zu: bad number '%.*s'", path, it.lineno,
				(int)(vlen > 40 ? 40 : vlen), val);
			return -EINVAL;
		}
		if (field_is(type, tlen, "negate")) {
			if (phrase)
				continue;
			if (!(e = table_get(v, key, klen)))
				goto oom;
			e->flags |= VF_NEG;
			continue;
		}
		if (field_is(type, tlen, "idiom"))
			continue;       /* listed upstream but not applied by the reference */
		if (!has_val) {
			set_err(err, errlen, "%s:%zu: missing VALUE", path, it.lineno);
			return -EINVAL;
		}
		if (field_is(type, tlen, "const")) {
			size_t k;
			for (k = 0; k < N_CONSTS; k++)
				if (field_is(key, klen, const_defs[k].name))
					break;
			if (k == N_CONSTS) {
				set_err(err, errlen, "%s:%zu: unknown constant '%.*s'", path,
					it.lineno, (int)(klen > 40 ? 40 : klen), key);
				return -EINVAL;
			}
			seen[k] = 1;
			if (const_defs[k].off != SIZE_MAX)
				memcpy((char *)&v->c + const_defs[k].off, &x, sizeof x);
		} else if (field_is(type, tlen, "booster")) {
			if (phrase) {
				rc = phrase_add(v, &v->boost_phrase, &v->n_boost_phrase,
						&v->cap_boost_phrase, key, klen, x);
				if (rc)
					goto phrase_fail;
				continue;
			}
			if (!(e = table_get(v, key, klen)))
				goto oom;
			e->flags |= VF_BOOST;
			e->boost = x;
		} else if (field_is(type, tlen, "special")) {
			/* Candidates are always 2 or 3 joined words: a one-word key
			 * ("badass") can never match and is left out. */
			if (!phrase)
				continue;
			rc = phrase_add(v, &v->special, &v->n_special, &v->cap_special, key, klen,
					x);
			if (rc)
				goto phrase_fail;
		} else {
			set_err(err, errlen, "%s:%zu: unknown record type '%.*s'", path, it.lineno,
				(int)(tlen > 40 ? 40 : tlen), type);
			return -EINVAL;
		}
	}
	for (size_t k = 0; k < N_CONSTS; k++) {
		if (!seen[k] && const_defs[k].off != SIZE_MAX) {
			set_err(err, errlen, "%s: constant %s is missing", path,
				const_defs[k].name);
			return -EINVAL;
		}
	}
	return 0;
phrase_fail:
	if (rc == -ENOMEM)
		goto oom;
	set_err(err, errlen, "%s:%zu: bad phrase '%.*s'", path, it.lineno,
		(int)(klen > 60 ? 60 : klen), key);
	return rc;
oom:
	set_err(err, errlen, "%s: out of memory", path);
	return -ENOMEM;
}

static void vader_init_classes(struct vader *v)
{
	const char *punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

	for (int c = 0; c < 256; c++) {
		v->lower[c] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		v->cls[c] = 0;
	}
	for (int c = 'A'; c <= 'Z'; c++)
		v->cls[c] = C_UPPER;
	for (int c = 'a'; c <= 'z'; c++)
		v->cls[c] = C_LOWER;
	for (const char *p = punct; *p; p++)
		v->cls[(unsigned char)*p] = C_PUNCT;
	for (int c = 0x80; c < 256; c++)
		v->cls[c] = C_HIGH;
	v->cls['\''] |= C_APOS;
	/* Python's str.split() whitespace in ASCII, including the separators 0x1C-0x1F */
	for (int c = '\t'; c <= '\r'; c++)
		v->cls[c] = C_SPACE;
	for (int c = 0x1C; c <= 0x20; c++)
		v->cls[c] = C_SPACE;
}

int vader_load(struct vader **out, const char *data_dir, char *err, size_t errlen)
{
	static const char *const files[] = { "vader_lexicon.txt", "emoji_utf8_lexicon.txt",
					     "vader_rules.txt" };
	struct vader *v = calloc(1, sizeof *v);
	char path[4096];
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!data_dir) {
		free(v);
		set_err(err, errlen, "no data directory given");
		return -EINVAL;
	}
	if (!v) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vader_init_classes(v);
	rc = index_rehash(v, 16384);
	if (rc) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t k = 0; k < 3; k++) {
		if ((size_t)snprintf(path, sizeof path, "%s/vader/%s", data_dir, files[k]) >=
		    sizeof path) {
			set_err(err, errlen, "data directory path too long");
			rc = -ENAMETOOLONG;
			goto fail;
		}
		rc = read_data_file(path, &buf, &len, err, errlen);
		if (rc)
			goto fail;
		if (k == 0)
			rc = load_lexicon(v, path, buf, len, err, errlen);
		else if (k == 1)
			rc = load_emoji(v, path, buf, len, err, errlen);
		else
			rc = load_rules(v, path, buf, len, err, errlen);
		free(buf);
		buf = NULL;
		if (rc)
			goto fail;
	}
	for (int r = ROLE_NONE + 1; r < ROLE_COUNT; r++) {
		struct vader_entry *e = table_get(v, role_words[r], strlen(role_words[r]));
		if (!e) {
			set_err(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		e->role = (uint8_t)r;
	}
	rc = words_compile(v, err, errlen);
	if (rc)
		goto fail;
	free(v->entries);
	free(v->index);
	v->entries = NULL;
	v->index = NULL;
	*out = v;
	return 0;
fail:
	vader_free(v);
	return rc;
}

void vader_free(struct vader *v)
{
	if (!v)
		return;
	free(v->words);
	free(v->tails);
	free(v->values);
	free(v->index);
	free(v->entries);
	free(v->pool);
	free(v->special);
	free(v->boost_phrase);
	free(v->emoji);
	free(v->emoji_bits);
	free(v);
}

struct vader_scratch *vader_scratch_new(void)
{
	struct vader_scratch *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->text = malloc(VADER_TEXT_BYTES_MAX + VADER_TEXT_PAD);
	if (!s->text) {
		free(s);
		return NULL;
	}
	return s;
}

void vader_scratch_free(struct vader_scratch *s)
{
	if (!s)
		return;
	free(s->text);
	free(s);
}

int vader_label(double compound)
{
	if (compound >= 0.05)
		return 1;
	if (compound <= -0.05)
		return -1;
	return 0;
}

/* ---- scoring ---- */

static int text_is_ascii(const unsigned char *p, size_t len)
{
	size_t i = 0;
	uint64_t acc = 0;

	for (; i + 8 <= len; i += 8)
		acc |= hash_read64(p + i);
	for (; i < len; i++)
		acc |= p[i];
	return !(acc & 0x8080808080808080ull);
}

static const struct vader_emoji *emoji_find(const struct vader *v, int32_t cp)
{
	size_t lo = 0, hi = v->n_emoji;

	if (cp < 0 || (uint32_t)cp > v->emoji_cp_max ||
	    !(v->emoji_bits[(uint32_t)cp / 64] >> ((uint32_t)cp % 64) & 1))
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->emoji[mid].cp < (uint32_t)cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &v->emoji[lo];
}

/*
 * Copies non-ASCII text into out, replacing each emoji code point by its
 * description, preceded by one space unless the previous character was U+0020
 * and followed by nothing (so "great😁day" becomes "great beaming face with
 * smiling eyesday", as in the reference). Unicode whitespace becomes one ASCII
 * space: it only separates tokens, so the splitter need not know it. Writes at
 * most VADER_TEXT_BYTES_MAX bytes and stops at a code point boundary.
 */
static size_t vader_translate(const struct vader *v, const unsigned char *in, size_t len,
			      unsigned char *out)
{
	const size_t cap = VADER_TEXT_BYTES_MAX;
	size_t i = 0, o = 0;
	int prev_space = 1;

	while (i < len) {
		if (in[i] < 0x80) {
			size_t j = i + 1, k;
			while (j < len && in[j] < 0x80)
				j++;
			k = j - i < cap - o ? j - i : cap - o;
			memcpy(out + o, in + i, k);
			o += k;
			if (k < j - i)
				break;
			prev_space = in[j - 1] == ' ';
			i = j;
			continue;
		}
		int32_t cp;
		size_t w = utf8_decode(in + i, len - i, &cp);
		const struct vader_emoji *e = emoji_find(v, cp);
		if (e) {
			if (e->desc_len + !prev_space > cap - o)
				break;
			if (!prev_space)
				out[o++] = ' ';
			memcpy(out + o, v->pool + e->desc_off, e->desc_len);
			o += e->desc_len;
		} else if (cp_is_space(cp)) {
			if (o == cap)
				break;
			out[o++] = ' ';
		} else {
			if (w > cap - o)
				break;
			memcpy(out + o, in + i, w);
			o += w;
		}
		prev_space = 0;
		i += w;
	}
	return o;
}

/* Bit masks of one 64-byte block: ASCII whitespace, '!' and '?'. */
struct block_masks {
	uint64_t space, bang, ques;
};

static inline void block_scan(const struct vader *v, const unsigned char *p, struct block_masks *m)
{
#ifdef VADER_SSE2
	const __m128i c20 = _mm_set1_epi8(0x20), c08 = _mm_set1_epi8(0x08);
	const __m128i c0e = _mm_set1_epi8(0x0E), c1b = _mm_set1_epi8(0x1B);
	const __m128i bang = _mm_set1_epi8('!'), ques = _mm_set1_epi8('?');

	(void)v;
	m->space = m->bang = m->ques = 0;
	for (int k = 0; k < 4; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
		/* whitespace = bytes <= 0x20 except 0x00-0x08 and 0x0E-0x1B */
		__m128i le20 = _mm_cmpeq_epi8(_mm_min_epu8(x, c20), x);
		__m128i le08 = _mm_cmpeq_epi8(_mm_min_epu8(x, c08), x);
		__m128i ctl = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, c0e), x),
					    _mm_cmpeq_epi8(_mm_min_epu8(x, c1b), x));
		__m128i ws = _mm_andnot_si128(_mm_or_si128(le08, ctl), le20);
		m->space |= (uint64_t)(uint16_t)_mm_movemask_epi8(ws) << (16 * k);
		m->bang |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, bang))
			   << (16 * k);
		m->ques |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, ques))
			   << (16 * k);
	}
#else
	m->space = m->bang = m->ques = 0;
	for (int k = 0; k < 64; k++) {
		m->space |= (uint64_t)(v->cls[p[k]] & C_SPACE) << k;
		m->bang |= (uint64_t)(p[k] == '!') << k;
		m->ques |= (uint64_t)(p[k] == '?') << k;
	}
#endif
}

/* Portable popcount: the builtin is a library call unless the target has POPCNT. */
static inline size_t popcount64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
	return (size_t)((x * 0x0101010101010101ull) >> 56);
}

/* Lowercases a non-ASCII token the way str.lower() does; (size_t)-1 if over max bytes. */
static size_t lower_utf8(const struct vader *v, const unsigned char *t, size_t len,
			 unsigned char *out, size_t max)
{
	size_t i = 0, o = 0;

	while (i < len) {
		int32_t cp;
		size_t w = utf8_decode(t + i, len - i, &cp);
		utf8proc_uint8_t enc[8];
		size_t k;

		if (cp < 0x80) {
			enc[0] = cp < 0 ? t[i] : v->lower[cp];
			k = 1;
		} else if (cp == 0x130) {
			/* full case mapping: capital I with dot -> i + combining dot above */
			memcpy(enc, "i\xCC\x87", 3);
			k = 3;
		} else {
			k = (size_t)utf8proc_encode_char(utf8proc_tolower(cp), enc);
		}
		if (o + k > max)
			return (size_t)-1;
		memcpy(out + o, enc, k);
		o += k;
		i += w;
	}
	return o;
}

/* C_UPPER / C_LOWER bits of a non-ASCII token, by Unicode case. */
static unsigned case_utf8(const struct vader *v, const unsigned char *t, size_t len)
{
	size_t i = 0;
	unsigned fl = 0;

	while (i < len) {
		int32_t cp;
		i += utf8_decode(t + i, len - i, &cp);
		fl |= cp >= 0 && cp < 0x80 ? v->cls[cp] : cp_class(cp);
	}
	return fl & (C_UPPER | C_LOWER);
}

/* True when the token contains "n't" in any case. */
static int has_nt(const unsigned char *t, size_t len)
{
	for (size_t i = 1; i + 1 < len; i++)
		if (t[i] == '\'' && (t[i - 1] | 0x20) == 'n' && (t[i + 1] | 0x20) == 't')
			return 1;
	return 0;
}

/*
 * Returns the C_UPPER, C_LOWER, C_APOS and C_HIGH bits of t[0..len) and, when the
 * token is ASCII and at most VADER_KEY_BYTES_MAX bytes, its lowercase form as
 * zero-padded key words.
 */
static unsigned token_scan(const struct vader *v, const unsigned char *t, size_t len,
			   uint64_t w[3])
{
	unsigned char b[VADER_KEY_BYTES_MAX] = { 0 };
	unsigned fl = 0;

	for (size_t i = 0; i < len; i++) {
		fl |= v->cls[t[i]];
		if (i < VADER_KEY_BYTES_MAX)
			b[i] = v->lower[t[i]];
	}
	memcpy(w, b, sizeof b);
	return fl & (C_UPPER | C_LOWER | C_APOS | C_HIGH);
}

/* Stores what the rules need to know about one token. */
static inline void token_set(struct vader_tok *tok, uint64_t info, unsigned fl, int nt)
{
	tok->info = info;
	/* Stripped characters are uncased, so the case bits of what is left decide. */
	tok->flags = info_flags(info) | ((fl & (C_UPPER | C_LOWER)) == C_UPPER ? VF_UPPER : 0) |
		     (nt ? VF_NEG : 0);
}

/* token_classify() for any token: punctuation strip, non-ASCII, long, "n't". */
static __attribute__((noinline)) void token_classify_slow(const struct vader *v,
							   const unsigned char *t, size_t len,
							   struct vader_tok *tok)
{
	uint64_t w[3], info = 0;
	unsigned fl;

	/* Strip ASCII punctuation from both ends, unless 2 code points or fewer would
	 * remain: then the token stays whole (":)" and "ok." are kept as they are). */
	if ((v->cls[t[0]] | v->cls[t[len - 1]]) & C_PUNCT) {
		size_t a = 0, b = len;
		while (a < b && (v->cls[t[a]] & C_PUNCT))
			a++;
		while (b > a && (v->cls[t[b - 1]] & C_PUNCT))
			b--;
		if (utf8_longer_than(t + a, b - a, 2)) {
			t += a;
			len = b - a;
		}
	}
	fl = token_scan(v, t, len, w);
	if (fl & C_HIGH) {
		/* non-ASCII: Unicode case for ALL-CAPS, full lowercase mapping for the key */
		unsigned char key[VADER_KEY_BYTES_MAX];
		size_t klen = (size_t)-1;
		fl = (fl & C_APOS) | case_utf8(v, t, len);
		if (len <= 4 * VADER_KEY_BYTES_MAX)
			klen = lower_utf8(v, t, len, key, sizeof key);
		if (klen != (size_t)-1) {
			key_words(key, klen, w);
			info = word_find(v, w, klen);
		}
	} else if (len <= VADER_KEY_BYTES_MAX) {
		info = word_find(v, w, len);
	}
	token_set(tok, info, fl, (fl & C_APOS) && has_nt(t, len));
}

#ifdef VADER_SSE2
/* Byte lanes of x within [lo, hi], as 0xFF. */
static inline __m128i sse_in_range(__m128i x, unsigned char lo, unsigned char hi)
{
	return _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - lo))),
			      _mm_set1_epi8((char)(-128 + (hi - lo + 1))));
}

static inline unsigned sse_bits(__m128i x)
{
	return (unsigned)_mm_movemask_epi8(x);
}

/*
 * Classifies the already stripped ASCII token t[0..len), len <= 16: case, "n't"
 * and the lowercase key come from one SIMD register. Returns 0 (and does
 * nothing) when the token has a non-ASCII byte.
 */
static inline __attribute__((always_inline)) int
token_classify_ascii16(const struct vader *v, const unsigned char *t, size_t len,
		       struct vader_tok *tok)
{
	static const unsigned char len_mask[32] = {
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};
	__m128i x, up, lower;
	unsigned fl;
	uint64_t w[3];

	x = _mm_loadu_si128((const __m128i *)(const void *)t);
	x = _mm_and_si128(x, _mm_loadu_si128((const __m128i *)(const void *)(len_mask + 16 - len)));
	if (sse_bits(x))
		return 0;
	up = sse_in_range(x, 'A', 'Z');
	lower = _mm_add_epi8(x, _mm_and_si128(up, _mm_set1_epi8(0x20)));
	fl = (sse_bits(up) ? C_UPPER : 0) | (sse_bits(sse_in_range(x, 'a', 'z')) ? C_LOWER : 0);
	/* lanes through registers: a 16-byte store read back as two 8-byte loads can
	 * miss store forwarding */
	w[0] = (uint64_t)_mm_cvtsi128_si64(lower);
	w[1] = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(lower, lower));
	w[2] = 0;
	token_set(tok, word_find(v, w, len), fl,
		  sse_bits(_mm_cmpeq_epi8(x, _mm_set1_epi8('\''))) && has_nt(t, len));
	return 1;
}
#endif

/*
 * Fills tok for the token t[0..len). Tokens of at most 16 bytes are stripped here
 * and classified inline when ASCII; the rest go out of line.
 */
static inline void token_classify(const struct vader *v, const unsigned char *t, size_t len,
				  struct vader_tok *tok)
{
#ifdef VADER_SSE2
	if (len <= 16) {
		const unsigned char *st = t;
		size_t sl = len;
		/* Strip ASCII punctuation from both ends, unless 2 characters or fewer
		 * would remain (":)" and "ok." stay whole). Stripped bytes are ASCII, so
		 * if the rest is not, token_classify_slow() starts over anyway. */
		if ((v->cls[t[0]] | v->cls[t[len - 1]]) & C_PUNCT) {
			size_t a = 0, b = len;
			while (a < b && (v->cls[t[a]] & C_PUNCT))
				a++;
			while (b > a && (v->cls[t[b - 1]] & C_PUNCT))
				b--;
			if (b - a > 2) {
				st = t + a;
				sl = b - a;
			}
		}
		if (token_classify_ascii16(v, st, sl, tok))
			return;
	}
#endif
	token_classify_slow(v, t, len, tok);
}

struct text_stats {
	size_t n_upper;   /* ALL-CAPS tokens */
	size_t n_bang;    /* '!' in the scored text */
	size_t n_ques;    /* '?' in the scored text */
	size_t n_lex;     /* lexicon tokens, listed in s->lex */
	size_t but;       /* index of the first "but", or SIZE_MAX */
};

/* Classifies token n, text t[0..len), and notes what the later passes need. */
static inline void token_add(const struct vader *v, struct vader_scratch *s,
			     struct text_stats *st, const unsigned char *t, size_t len, size_t n)
{
	const struct vader_tok *tok = &s->tok[n];

	token_classify(v, t, len, &s->tok[n]);
	st->n_upper += (tok->flags & VF_UPPER) != 0;
	/* the list of lexicon tokens, grown without a branch per token */
	s->lex[st->n_lex] = (uint16_t)n;
	st->n_lex += (tok->flags & VF_LEX) != 0;
	st->but = info_role(tok->info) == ROLE_BUT && st->but == SIZE_MAX ? n : st->but;
}

/*
 * Splits s->text[0..len) on whitespace into at most LIMIT_SENTIMENT_TOKENS tokens,
 * classifying each as it is found, and counts '!' and '?' up to the end of the
 * last one. Token starts and ends come from the whitespace bit mask of each
 * 64-byte block, so no branch depends on single bytes.
 */
static size_t vader_tokenize(const struct vader *v, struct vader_scratch *s, size_t len,
			     struct text_stats *st)
{
	const unsigned char *p = s->text;
	struct block_masks m = { 0, 0, 0 };
	size_t n = 0, start = 0, base;
	uint64_t carry = 1;     /* the byte before the text counts as whitespace */
	int open = 0;           /* a token started and has not ended yet */

	for (base = 0; base < len; base += 64) {
		uint64_t before, starts, ends;

		block_scan(v, p + base, &m);
		if (len - base < 64)
			m.space |= ~0ull << (len - base);
		before = (m.space << 1) | carry;
		starts = ~m.space & before;
		ends = m.space & ~before;
		carry = m.space >> 63;
		st->n_bang += popcount64(m.bang);
		st->n_ques += popcount64(m.ques);
		for (;;) {
			size_t end;
			if (!open) {
				if (!starts)
					break;
				start = base + (size_t)__builtin_ctzll(starts);
				starts &= starts - 1;
				open = 1;
			}
			if (!ends)
				break;  /* the token goes on into the next block */
			end = base + (size_t)__builtin_ctzll(ends);
			ends &= ends - 1;
			open = 0;
			token_add(v, s, st, p + start, end - start, n);
			if (++n == LIMIT_SENTIMENT_TOKENS) {
				/* '!' and '?' after the last scored token do not count */
				uint64_t past = ~0ull << (end - base);
				st->n_bang -= popcount64(m.bang & past);
				st->n_ques -= popcount64(m.ques & past);
				return n;
			}
		}
	}
	if (open)
		token_add(v, s, st, p + start, len - start, n++);
	return n;
}

/* Matches t[first..first+count) against a phrase list; *value on a match. */
static int phrase_match(const struct vader_phrase *ph, size_t nph, const struct vader_tok *t,
			size_t first, uint32_t count, double *value)
{
	for (uint32_t k = 0; k < count; k++)
		if (!info_phrase_word(t[first + k].info))
			return 0;
	for (size_t p = 0; p < nph; p++) {
		uint32_t k;
		if (ph[p].n != count)
			continue;
		for (k = 0; k < count && ph[p].word[k] == info_phrase_word(t[first + k].info); k++)
			;
		if (k == count) {
			*value = ph[p].value;
			return 1;
		}
	}
	return 0;
}

/* Special phrases around token i (i >= 3) and multi-word boosters before it. */
static double special_check(const struct vader *v, const struct vader_tok *t, size_t n, size_t i,
			    double val)
{
	/* (tokens back from i, words), in the reference's order: "w[i-1] w[i]",
	 * "w[i-2] w[i-1] w[i]", "w[i-2] w[i-1]", "w[i-3] w[i-2] w[i-1]", "w[i-3] w[i-2]" */
	static const struct { uint8_t back, words; } before[] = {
		{ 1, 2 }, { 2, 3 }, { 2, 2 }, { 3, 3 }, { 3, 2 },
	};
	static const struct { uint8_t back, words; } boosters[] = { { 3, 3 }, { 3, 2 }, { 2, 2 } };
	double x;
	unsigned pair = 0;

	/* Every candidate has two adjacent phrase words in t[i-3..i+2]; most texts
	 * have none near a lexicon word. */
	for (size_t k = i - 3; k < i + 2 && k + 1 < n; k++)
		pair |= info_phrase_word(t[k].info) && info_phrase_word(t[k + 1].info);
	if (!pair)
		return val;
	for (size_t k = 0; k < sizeof before / sizeof before[0]; k++) {
		if (phrase_match(v->special, v->n_special, t, i - before[k].back, before[k].words,
				 &x)) {
			val = x;
			break;
		}
	}
	if (i + 1 < n && phrase_match(v->special, v->n_special, t, i, 2, &x))
		val = x;
	if (i + 2 < n && phrase_match(v->special, v->n_special, t, i, 3, &x))
		val = x;
	for (size_t k = 0; k < sizeof boosters / sizeof boosters[0]; k++)
		if (phrase_match(v->boost_phrase, v->n_boost_phrase, t, i - boosters[k].back,
				 boosters[k].words, &x))
			val = val + x;
	return val;
}

static inline unsigned role_of(const struct vader_tok *t)
{
	return info_role(t->info);
}

static int role_is(const struct vader_tok *t, unsigned a, unsigned b)
{
	return role_of(t) == a || role_of(t) == b;
}

/* Negation (and "never so", "without doubt") for the modifier d tokens before i. */
static double negation_check(const struct vader *v, const struct vader_tok *t, size_t i, size_t d,
			     double val)
{
	if (d == 1) {
		if (t[i - 1].flags & VF_NEG)
			val = val * v->c.n_scalar;
	} else if (d == 2) {
		if (role_of(&t[i - 2]) == ROLE_NEVER && role_is(&t[i - 1], ROLE_SO, ROLE_THIS))
			val = val * v->c.never_so_this;
		else if (role_of(&t[i - 2]) == ROLE_WITHOUT && role_of(&t[i - 1]) == ROLE_DOUBT)
			;
		else if (t[i - 2].flags & VF_NEG)
			val = val * v->c.n_scalar;
	} else {
		/* Reference precedence quirk: "so"/"this" right before the word gets
		 * the "never so" factor without any "never". */
		if ((role_of(&t[i - 3]) == ROLE_NEVER && role_is(&t[i - 2], ROLE_SO, ROLE_THIS)) ||
		    role_is(&t[i - 1], ROLE_SO, ROLE_THIS))
			val = val * v->c.never_so_this;
		else if (role_of(&t[i - 3]) == ROLE_WITHOUT &&
			 (role_of(&t[i - 2]) == ROLE_DOUBT || role_of(&t[i - 1]) == ROLE_DOUBT))
			;
		else if (t[i - 3].flags & VF_NEG)
			val = val * v->c.n_scalar;
	}
	return val;
}

/* The valence of token i before the "but" rule. */
static double token_valence(const struct vader *v, const struct vader_tok *t, size_t n, size_t i,
			    int cap_diff)
{
	const struct vader_tok *ti = &t[i];
	const double c_incr = v->c.c_incr, lex = v->values[info_lex(ti->info)];
	double val;

	if (ti->flags & VF_BOOST)
		return 0;
	if (role_of(ti) == ROLE_KIND && i + 1 < n && role_of(&t[i + 1]) == ROLE_OF)
		return 0;
	if (!(ti->flags & VF_LEX))
		return 0;
	val = lex;

	/* "no" as a determiner carries no valence of its own ... */
	if (role_of(ti) == ROLE_NO && i + 1 < n && (t[i + 1].flags & VF_LEX))
		val = 0.0;
	/* ... and negates the word after it (recomputed from the lexicon value). */
	if ((i >= 1 && role_of(&t[i - 1]) == ROLE_NO) ||
	    (i >= 2 && role_of(&t[i - 2]) == ROLE_NO) ||
	    (i >= 3 && role_of(&t[i - 3]) == ROLE_NO && role_is(&t[i - 1], ROLE_OR, ROLE_NOR)))
		val = lex * v->c.n_scalar;
	/* ALL-CAPS in mixed-case text; the else branch also takes val == 0 ("NO good"). */
	if ((ti->flags & VF_UPPER) && cap_diff) {
		if (val > 0)
			val += c_incr;
		else
			val -= c_incr;
	}
	for (size_t d = 1; d <= 3 && d <= i; d++) {
		const struct vader_tok *tj = &t[i - d];
		if (tj->flags & VF_LEX)
			continue;       /* a lexicon word is never a modifier */
		if (tj->flags & VF_BOOST) {
			double s = v->values[v->boost_base + info_boost(tj->info)];
			if (val < 0)
				s = -s;
			if ((tj->flags & VF_UPPER) && cap_diff) {
				if (val > 0)
					s += c_incr;
				else
					s -= c_incr;
			}
			if (d > 1)
				s = s * v->c.decay[d];
			val = val + s;
		}
		val = negation_check(v, t, i, d, val);
		if (d == 3)
			val = special_check(v, t, n, i, val);
	}
	if (i >= 2 && role_of(&t[i - 1]) == ROLE_LEAST) {
		if (!role_is(&t[i - 2], ROLE_AT, ROLE_VERY))
			val = val * v->c.n_scalar;
	} else if (i == 1 && role_of(&t[0]) == ROLE_LEAST) {
		val = val * v->c.n_scalar;
	}
	return val;
}

/*
 * The "but" rule as the reference runs it: for each position k it looks up the
 * FIRST index holding a value equal to the current val[k] and scales that entry,
 * so equal values can be scaled twice or not at all ("nice but okay"). Zeros
 * stay zero whichever entry is picked, so only the lexicon tokens (val, at token
 * indexes idx, in text order) take part; every other token is 0.
 */
static void but_rule(const struct vader *v, double *val, const uint16_t *idx, size_t m,
		     size_t bi)
{
	for (size_t a = 0; a < m; a++) {
		double x = val[a];
		size_t b = 0;
		if (x == 0)
			continue;
		while (val[b] != x)
			b++;
		if (idx[b] < bi)
			val[b] = x * v->c.but_before;
		else if (idx[b] > bi)
			val[b] = x * v->c.but_after;
	}
}

void vader_score(const struct vader *v, struct vader_scratch *s, const char *text, size_t len,
		 struct sentiment *out)
{
	const unsigned char *p = (const unsigned char *)text;
	struct text_stats st = { 0, 0, 0, 0, SIZE_MAX };
	size_t n, bi, m = 0;
	double sum = 0, amp, ep, qm = 0, pos_sum = 0, neg_sum = 0, neu = 0, total;
	int cap_diff;

	memset(out, 0, sizeof *out);
	if (!text)
		len = 0;
	if (len > VADER_TEXT_BYTES_MAX)
		len = VADER_TEXT_BYTES_MAX;
	if (text_is_ascii(p, len)) {
		if (len)
			memcpy(s->text, p, len);
	} else {
		len = vader_translate(v, p, len, s->text);
	}
	/* block and token reads past the end see zeros */
	memset(s->text + len, 0, VADER_TEXT_PAD);
	n = vader_tokenize(v, s, len, &st);
	if (n == 0)
		return;
	m = st.n_lex;
	bi = st.but;
	cap_diff = st.n_upper > 0 && st.n_upper < n;
	for (size_t k = 0; k < m; k++)
		s->val[k] = token_valence(v, s->tok, n, s->lex[k], cap_diff);
	if (bi != SIZE_MAX)
		but_rule(v, s->val, s->lex, m, bi);

	/* Sums in text order; the zeros of the other tokens would add nothing. */
	neu = (double)(n - m);
	for (size_t k = 0; k < m; k++) {
		double x = s->val[k];
		sum += x;
		if (x > 0)
			pos_sum += x + 1;
		if (x < 0)
			neg_sum += x - 1;
		if (x == 0)
			neu += 1;
	}
	ep = (double)(st.n_bang < v->c.ep_max ? st.n_bang : v->c.ep_max) * v->c.ep_incr;
	if (st.n_ques > 1)
		qm = st.n_ques <= v->c.qm_max ? (double)st.n_ques * v->c.qm_incr : v->c.qm_cap;
	amp = ep + qm;
	if (sum > 0)
		sum += amp;
	else if (sum < 0)
		sum -= amp;
	out->compound = sum / sqrt(sum * sum + v->c.alpha);
	if (out->compound < -1.0)
		out->compound = -1.0;
	else if (out->compound > 1.0)
		out->compound = 1.0;

	if (pos_sum > fabs(neg_sum))
		pos_sum += amp;
	else if (pos_sum < fabs(neg_sum))
		neg_sum -= amp;
	total = pos_sum + fabs(neg_sum) + neu;
	out->pos = fabs(pos_sum / total);
	out->neg = fabs(neg_sum / total);
	out->neu = fabs(neu / total);
}
