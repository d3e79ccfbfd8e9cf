/*
 * sentiment.c - VADER scoring: rule tables built once at load, allocation-free scoring.
 *
 * One text is scored in these steps:
 *   1. an ASCII text, and a non-ASCII one without emoji keys or non-ASCII
 *      spaces (accented, Cyrillic, CJK words), is read in place; only a text
 *      with one of those is copied with emoji replaced by their descriptions;
 *   2. split: per 64-byte block, SIMD compares give bit masks (whitespace,
 *      punctuation, capitals, small letters, '!', '?' and the "rare" bytes:
 *      non-ASCII, NUL, apostrophe) and a lowercased copy of the block. Token
 *      starts and ends, and for every token at once whether it is ALL-CAPS or
 *      has a rare byte, follow from bit operations on the masks; per token, the
 *      punctuation strip is two bit scans and the key is hashed;
 *   3. probe: each key is looked up in a hash table whose tags answer most
 *      lookups (most tokens are in no list) from one 16-byte group. A token with
 *      a rare byte (2 to 3 in a hundred) goes byte by byte instead, which
 *      handles Unicode case (for code points below 0x10000 from a table built
 *      at load) and "n't". Each token ends up as one 64-bit word
 *      that answers everything the rules ask about it;
 *   4. the valence of each lexicon token with the modifier rules, which look at
 *      the three tokens before it and the two after it; a text without any
 *      lexicon word is neutral at once;
 *   5. the "but" rule, punctuation emphasis, normalization and proportions.
 * Loops avoid branches that depend on the text where the outcome is hard to
 * predict (a mispredicted branch costs about as much as the work for a token);
 * the comments say where that shapes the code.
 *
 * Instruction sets: x86-64 uses SSE2, and vader_load() picks an AVX2 build of
 * the split and probe loops when the CPU has AVX2 and BMI, and an AVX-512 one
 * when it also has AVX-512 F, BW, VL, VBMI, VBMI2 and CD: one register per 64-byte
 * block, the tokens of a block split 8 at a time in vector lanes (see
 * block_tokens_avx512()). Both have a lookup loop without a length test that
 * only probes (lookup_avx2(), lookup_avx512()). The
 * environment variable TRENDD_VADER_ISA=avx2 or =sse2 caps the choice at that
 * variant, so that the tests run every one of them on any machine that has it.
 * Built with VADER_NO_SIMD defined (or for another architecture), portable code
 * computes the same masks byte by byte; the unit tests build that variant too.
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
#if defined(__GNUC__) && !defined(VADER_NO_AVX2)
#define VADER_AVX2 1
#include <cpuid.h>
#include <immintrin.h>
#if !defined(VADER_NO_AVX512)
#define VADER_AVX512 1
#endif
#endif
#endif

#include "core/hash.h"
#include "core/limits.h"

/* Caps on the data files; the shipped ones are well below them. */
#define VADER_FILE_BYTES_MAX   (16 * 1024 * 1024)
#define VADER_KEY_BYTES_MAX    24    /* longest key: three machine words */
#define VADER_DESC_BYTES_MAX   1024  /* longest emoji description */
#define VADER_PHRASE_WORDS     3     /* the rules look at phrases of 2 or 3 words */

/*
 * The lowercased copy of the scored text is followed by this many bytes: a block
 * scan writes whole 64-byte blocks, and a key is read as 16 bytes from its first
 * byte, so up to 15 bytes past the token.
 */
#define VADER_LC_PAD           64
_Static_assert(LIMIT_SENTIMENT_TOKENS <= UINT16_MAX, "token indexes are stored in uint16_t");

/* Byte classes of ASCII characters, for the byte-by-byte path. */
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

/*
 * Packed word info: one 64-bit word per table entry and per scored token.
 *   bits 0-4    TI_LEX, TI_BOOST, TI_NEG, TI_BUT, TI_UPPER (flags below)
 *   bits 8-11   role (enum vader_role)
 *   bits 12-19  phrase word: 1-based id when the word occurs in a phrase, else 0
 *   bits 20-35  valence index into values[] (TI_LEX)
 *   bits 36-43  booster scalar index into values[boost_base..] (TI_BOOST)
 *   bits 48-52  key length (table entries only)
 * A token that is in no list is 0 apart from TI_UPPER and TI_NEG ("n't").
 */
enum {
	TI_LEX   = 1,   /* lexicon word */
	TI_BOOST = 2,   /* single-word booster or dampener */
	TI_NEG   = 4,   /* negation word; a token also gets it when it contains "n't" */
	TI_BUT   = 8,   /* the word "but" (so that one OR over a text tells if it has one) */
	TI_UPPER = 16,  /* token only: ALL-CAPS */
};
#define TI_UPPER_SHIFT 4
/* The bits of a token that a valence rule tests around a lexicon word, apart
 * from phrases: booster, negation and role (bits 8-11). */
#define TI_CONTEXT ((uint64_t)(TI_BOOST | TI_NEG) | 0xF00ull)

static inline unsigned info_role(uint64_t x) { return (unsigned)(x >> 8) & 15; }
static inline unsigned info_phrase_word(uint64_t x) { return (unsigned)(x >> 12) & 255; }
static inline unsigned info_lex(uint64_t x) { return (unsigned)(x >> 20) & 0xFFFF; }
static inline unsigned info_boost(uint64_t x) { return (unsigned)(x >> 36) & 0xFF; }
static inline unsigned info_len(uint64_t x) { return (unsigned)(x >> 48) & 31; }
/* Bit 20 when x is a phrase word (the id in bits 12-19 is not 0): the id plus
 * 0xFF carries into bit 20 exactly then. No other bit is set. */
static inline uint64_t phrase_bit(uint64_t x) { return ((x & 0xFF000) + 0xFF000) & 0x100000; }

/* One key of the word table while loading: everything the rules know about one word. */
struct vader_entry {
	uint64_t key[3];         /* key bytes, zero-padded to 24 */
	double lex;              /* valence, when TI_LEX */
	double boost;            /* scalar, when TI_BOOST */
	uint8_t key_len;
	uint8_t flags;           /* TI_LEX | TI_BOOST | TI_NEG */
	uint8_t role;            /* enum vader_role */
	uint8_t phrase_word;     /* 1-based id when the word occurs in a phrase, else 0 */
};

/*
 * A word table used for scoring, laid out like a "Swiss" hash table: the hash of a
 * key picks its group of 16 slots and a 7-bit tag. The 16 tags of a group are 16
 * consecutive bytes compared at once, and only a slot whose tag matches has its
 * entry (key and info) read. Most tokens are in no list, so most lookups read one
 * 16-byte tag group and nothing else: the tags of the shipped lexicon take 16 KiB,
 * which stays in the first-level cache next to the rest of the analytics thread's
 * work. Every key is in the group its hash picks: at load, the hash seed is
 * chosen (or the table grown) so that no group gets more than 16 keys, which
 * makes a lookup one group, never a probe sequence.
 *
 * There are two tables. "short" holds the keys of 1..16 bytes without a NUL byte:
 * zero-padded to two words such a key is told from every other one by those two
 * words alone, so the common lookup compares two words and no length. "odd" holds
 * the other keys (17..24 bytes, or with a NUL byte) and compares the length and
 * three words.
 */
#define GROUP_SLOTS 16
#define TAG_FREE    0x80

struct word_entry {
	uint64_t key[3];         /* key bytes, zero-padded to 24 */
	uint64_t info;           /* packed word info, key length included */
};

struct word_table {
	uint8_t *tags;                /* owned; GROUP_SLOTS per group, TAG_FREE = free slot */
	struct word_entry *entries;   /* owned; one per slot */
	uint64_t seed;
	size_t n_slots;
	unsigned shift;               /* group of hash h: h >> shift */
};

/* A multi-word special phrase or booster, as a sequence of phrase-word ids. */
struct vader_phrase {
	uint8_t word[VADER_PHRASE_WORDS];
	uint32_t n;
	uint32_t key;            /* phrase_key() of the words */
	double value;
};

/* The words (ids, 0 for none) and count of a phrase packed in one integer. */
static inline uint32_t phrase_key(unsigned a, unsigned b, unsigned c, unsigned n)
{
	return a | b << 8 | c << 16 | n << 24;
}

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

struct vader_scratch;
struct tok_stats;

/* Splits and classifies the tokens of p[0..len); one variant per instruction set. */
typedef void (*vader_tokenize_fn)(const struct vader *v, struct vader_scratch *s,
				  const unsigned char *p, size_t len, struct tok_stats *st);

struct vader {
	struct word_table short_words;    /* keys of 1..16 bytes without NUL */
	struct word_table odd_words;      /* all other keys */
	double *values;                   /* owned; valences and scalars, values[0] = 0 */
	size_t boost_base;                /* booster scalar i is values[boost_base + i] */
	struct vader_entry *entries;      /* owned; load time only */
	size_t n_entries, cap_entries;
	uint32_t *index;                  /* owned; load time only: entry + 1 by key hash */
	size_t index_mask;
	char *pool;                       /* owned; emoji descriptions */
	size_t pool_len, pool_cap;
	uint8_t n_phrase_words;
	uint64_t *phrase_pairs;           /* owned; bit a * (n_phrase_words + 1) + b: the
					   * words a b are adjacent in some phrase */
	struct vader_phrase *special;     /* owned; a match replaces the valence */
	size_t n_special, cap_special;
	struct vader_phrase *boost_phrase;/* owned; multi-word boosters ("kind of") */
	size_t n_boost_phrase, cap_boost_phrase;
	struct vader_emoji *emoji;        /* owned; sorted by cp, unique */
	size_t n_emoji, cap_emoji;
	uint64_t *emoji_bits;             /* owned; bit cp set when cp is an emoji key */
	uint32_t *emoji_rank;             /* owned; keys below code point 64 * k */
	uint32_t emoji_cp_max;
	struct vader_consts c;
	vader_tokenize_fn tokenize;       /* the variant this CPU runs */
	const char *isa;                  /* its name, for vader_isa() */
	uint8_t cls[256];                 /* C_* class of each byte < 0x80 */
	uint8_t xlat_lead[256];           /* 1: the byte may start an emoji key or a space */
	uint8_t key_high[256];            /* 1: a byte >= 0x80 that some table key has */
	uint8_t lower[256];               /* ASCII lowercase */
	uint8_t *bmp_case;                /* owned; 2 bits per code point below 0x10000:
					   * enum bmp_case (see bmp_case_build()) */
};

struct vader_scratch {
	unsigned char *text;              /* owned; VADER_TEXT_BYTES_MAX: emoji translated */
	uint64_t tok_mem[3 + LIMIT_SENTIMENT_TOKENS + 2];
	uint64_t *tok;                    /* tok_mem + 3: packed info of each token, with
					   * 3 zero entries before and 2 after the text's */
	uint32_t key[LIMIT_SENTIMENT_TOKENS + 8]; /* where each key lies: offset << 8 |
						 * length, length 0 for the byte path;
						 * 8 more, for whole 8-entry stores */
	uint32_t raw_len[LIMIT_SENTIMENT_TOKENS]; /* token length, for the byte path */
	uint64_t hash[LIMIT_SENTIMENT_TOKENS];  /* word_hash() of each short key */
	uint32_t special[LIMIT_SENTIMENT_TOKENS + 8]; /* AVX2, AVX-512: the tokens with
						 * no short key (byte path, long keys);
						 * 8 more, for whole 8-entry stores */
	_Alignas(16) unsigned char keys[LIMIT_SENTIMENT_TOKENS + 4][16]; /* each short
						 * key, zero-padded (key_hash16()); 4 more:
						 * the AVX-512 split's second store of 4
						 * keys starts up to 4 past the last token */
	uint16_t lex[LIMIT_SENTIMENT_TOKENS];   /* indexes of the lexicon tokens */
	double val[LIMIT_SENTIMENT_TOKENS];     /* valence of lex[k]; all other tokens are 0 */
	/* Zeroed once (the scratch is allocated zeroed), so that the bytes a key
	 * read takes past a token are never uninitialized (they are masked off):
	 * the ASCII-lowercased copy of the scored text. Inside the scratch, not
	 * allocated apart, so that the split loop finds it at a fixed offset from
	 * s instead of keeping one more pointer in a register. */
	unsigned char lc[VADER_TEXT_BYTES_MAX + VADER_LC_PAD];
};

/* What the tokenizer reports besides the tokens in the scratch. */
struct tok_stats {
	size_t n;         /* tokens */
	size_t n_lex;     /* lexicon tokens, listed in s->lex */
	uint64_t any;     /* OR of the infos of all tokens */
	uint64_t all;     /* AND of the infos of all tokens: with any, whether some
			   * but not all tokens are ALL-CAPS, without counting them */
	size_t n_bang;    /* '!' in the text */
	size_t n_ques;    /* '?' in the text */
	size_t end;       /* end of the last token when the token cap stopped the split */
	int capped;
};

/* What the lookup loops gather about the tokens, kept in registers until the end. */
struct tok_tally {
	size_t n_lex;
	uint64_t all, any;
};

#define TOK_TALLY_INIT { 0, ~0ull, 0 }

/* Stores the info of token k (its lookup ORed with what the split found) and counts it. */
static inline __attribute__((always_inline)) void
tally_add(struct tok_tally *a, struct vader_scratch *s, uint64_t *tok, size_t k, uint64_t info)
{
	tok[k] = info;
	s->lex[a->n_lex] = (uint16_t)k;
	a->n_lex += info & TI_LEX;
	a->all &= info;
	a->any |= info;
}

static inline __attribute__((always_inline)) void
tally_put(struct tok_stats *st, size_t n, const struct tok_tally *a)
{
	st->n = n;
	st->n_lex = a->n_lex;
	st->any = a->any;
	st->all = a->all;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Portable popcount: the builtin is a library call unless the target has POPCNT. */
static inline size_t popcount64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
	return (size_t)((x * 0x0101010101010101ull) >> 56);
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
static inline size_t utf8_decode(const unsigned char *p, size_t len, int32_t *cp)
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

/*
 * True when cp is in one of the sorted ranges r[0..n) (n >= 1). The search halves
 * a fixed number of times for a given n, choosing with a select, so it takes no
 * branch that depends on cp: CJK and other uncased scripts come here for every
 * character.
 */
static int cp_in(const struct cp_range *r, size_t n, int32_t cp)
{
	while (n > 1) {
		size_t half = n / 2;
		r = r[half].lo <= cp ? r + half : r;
		n -= half;
	}
	return (r->lo <= cp) & (cp <= r->hi);
}

/* C_UPPER, C_LOWER or 0 for the non-ASCII code point cp with properties pr. */
static unsigned cp_case(int32_t cp, const utf8proc_property_t *pr)
{
	switch (pr->category) {
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

/*
 * What the byte path needs to know of a code point below 0x10000, precomputed at
 * load for all of them from the same utf8proc properties and cp_case(), so that
 * the common letters of accented, Cyrillic, Greek or CJK words need no property
 * lookup: BMP_PLAIN and BMP_LOWER have no lowercase mapping (their bytes are
 * their key bytes) and are uncased or lowercase; anything else is BMP_OTHER and
 * takes the full route.
 */
enum bmp_case { BMP_PLAIN = 0, BMP_LOWER = 1, BMP_OTHER = 2 };

static inline unsigned bmp_case_of(const uint8_t *t, int32_t cp)
{
	return (unsigned)(t[(uint32_t)cp >> 2] >> ((cp & 3) * 2)) & 3;
}

/* Builds the 2-bit table of bmp_case_of(): 16 KiB. */
static uint8_t *bmp_case_build(void)
{
	uint8_t *t = calloc(0x10000 / 4, 1);

	if (!t)
		return NULL;
	for (int32_t cp = 0x80; cp < 0x10000; cp++) {
		const utf8proc_property_t *pr = utf8proc_get_property(cp);
		unsigned c = cp_case(cp, pr), x = BMP_OTHER;
		if (cp != 0x130 && pr->lowercase_seqindex == UINT16_MAX)
			x = c == 0 ? BMP_PLAIN : c == C_LOWER ? BMP_LOWER : BMP_OTHER;
		t[cp >> 2] |= (uint8_t)(x << ((cp & 3) * 2));
	}
	return t;
}

/* ---- the word tables ---- */

/* Load-time index hash of a key given as three zero-padded words and its length. */
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
/*
 * Scoring hash of a key read as two words: one 64x64->128-bit multiply, folded,
 * so that every output bit depends on every key bit (the group comes from the
 * top bits, the tag from the low byte). Both words take the seed (the second
 * added, so that swapping the words changes the hash), not a second constant:
 * the split loop has no register to spare for one.
 */
static inline uint64_t word_hash(uint64_t seed, uint64_t w0, uint64_t w1)
{
	return hash_mix(w0 ^ seed, w1 + seed);
}

/* The hash of a key of the odd table: all three words and the length. */
static inline uint64_t odd_hash(uint64_t seed, const uint64_t w[3], size_t len)
{
	return word_hash(seed, w[0] ^ w[2] * 0x9e3779b97f4a7c15ull, w[1] ^ len);
}

/* The tag of hash h: its low 7 bits (TAG_FREE, with the top bit, marks a free slot). */
static inline unsigned word_tag(uint64_t h)
{
	return (unsigned)h & 0x7F;
}

/* 1 when key w/len is a key of the short table (1..16 bytes, no NUL byte). */
static int key_is_short(const uint64_t w[3], size_t len)
{
	unsigned char b[VADER_KEY_BYTES_MAX];

	memcpy(b, w, sizeof b);
	return len <= 16 && !memchr(b, 0, len);
}

static inline uint64_t table_hash(const struct word_table *t, const uint64_t w[3], size_t len,
				  int odd)
{
	return odd ? odd_hash(t->seed, w, len) : word_hash(t->seed, w[0], w[1]);
}

static void table_free(struct word_table *t)
{
	free(t->tags);
	free(t->entries);
	t->tags = NULL;
	t->entries = NULL;
}

/*
 * Builds t from the load-time entries of the short (odd == 0) or odd table, with
 * their packed infos. Tries seeds until every key fits in the group its hash
 * picks, growing the table when many seeds fail; at most half the slots are used,
 * so a group of 16 rarely gets more than 16 keys and a few seeds suffice.
 */
static int table_build(struct word_table *t, const struct vader *v, const uint64_t *infos,
		       int odd)
{
	size_t n = 0, groups = 4;       /* 4: the tag array is whole 64-byte lines */

	for (size_t k = 0; k < v->n_entries; k++)
		n += key_is_short(v->entries[k].key, v->entries[k].key_len) == !odd;
	while (groups * GROUP_SLOTS < 2 * n)
		groups *= 2;
	for (;;) {
		t->n_slots = groups * GROUP_SLOTS;
		t->shift = 64 - (unsigned)__builtin_ctzll(groups);
		t->tags = aligned_alloc(64, t->n_slots);
		t->entries = aligned_alloc(64, t->n_slots * sizeof *t->entries);
		if (!t->tags || !t->entries)
			return -ENOMEM;
		for (uint64_t attempt = 1; attempt <= 64; attempt++) {
			size_t k;
			t->seed = hash_u64(attempt) | 1;
			memset(t->tags, TAG_FREE, t->n_slots);
			memset(t->entries, 0, t->n_slots * sizeof *t->entries);
			for (k = 0; k < v->n_entries; k++) {
				const struct vader_entry *e = &v->entries[k];
				uint64_t h;
				size_t g;
				unsigned slot;
				if (key_is_short(e->key, e->key_len) != !odd)
					continue;
				h = table_hash(t, e->key, e->key_len, odd);
				g = (size_t)(h >> t->shift) * GROUP_SLOTS;
				for (slot = 0; slot < GROUP_SLOTS && t->tags[g + slot] != TAG_FREE;
				     slot++)
					;
				if (slot == GROUP_SLOTS)
					break;          /* this seed overfills a group */
				t->tags[g + slot] = (uint8_t)word_tag(h);
				memcpy(t->entries[g + slot].key, e->key, sizeof e->key);
				t->entries[g + slot].info = infos[k];
			}
			if (k == v->n_entries)
				return 0;
		}
		table_free(t);
		groups *= 2;
	}
}

/* Bit k of the result: tag k of the group at tags equals tag. */
static inline __attribute__((always_inline)) unsigned group_match(const uint8_t *tags,
								  unsigned tag)
{
#ifdef VADER_SSE2
	__m128i g = _mm_load_si128((const __m128i *)(const void *)tags);

	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_set1_epi8((char)tag)));
#else
	unsigned c = 0;

	for (unsigned k = 0; k < GROUP_SLOTS; k++)
		c |= (unsigned)(tags[k] == tag) << k;
	return c;
#endif
}

/* The info of key w/len in t (hash h), or 0: every candidate of its group. */
static uint64_t table_find(const struct word_table *t, uint64_t h, const uint64_t w[3], size_t len)
{
	size_t g = (size_t)(h >> t->shift) * GROUP_SLOTS;

	for (unsigned cand = group_match(t->tags + g, word_tag(h)); cand; cand &= cand - 1) {
		const struct word_entry *e = &t->entries[g + (unsigned)__builtin_ctz(cand)];
		if (e->key[0] == w[0] && e->key[1] == w[1] && e->key[2] == w[2] &&
		    info_len(e->info) == len)
			return e->info;
	}
	return 0;
}

/* The info of any key w/len (1..VADER_KEY_BYTES_MAX bytes), or 0 when it is in no list. */
static uint64_t word_find(const struct vader *v, const uint64_t w[3], size_t len)
{
	if (key_is_short(w, len))
		return table_find(&v->short_words, table_hash(&v->short_words, w, len, 0), w, len);
	return table_find(&v->odd_words, table_hash(&v->odd_words, w, len, 1), w, len);
}

#ifdef VADER_SSE2
/* Byte masks of a key of k bytes (0..16): key_mask + 16 - k is k bytes of 0xFF, then zeros. */
static const unsigned char key_mask[32] __attribute__((aligned(16))) = {
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

/* The k-byte key at p (1 <= k <= 16, p[0..16) readable), zero-padded to 16 bytes. */
static inline __m128i key_load(const unsigned char *p, size_t k)
{
	return _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)p),
			     _mm_loadu_si128((const __m128i *)(const void *)(key_mask + 16 - k)));
}

/*
 * The hash of the k-byte key at p (1 <= k <= 16, p[0..16) readable); the key,
 * zero-padded, goes to out[0..16) (16-byte aligned), where the probe reads it.
 */
static inline uint64_t key_hash16(uint64_t seed, const unsigned char *p, size_t k,
				  unsigned char *out)
{
	__m128i key = key_load(p, k);

	_mm_store_si128((__m128i *)(void *)out, key);
	return word_hash(seed, (uint64_t)_mm_cvtsi128_si64(key),
			 (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(key, key)));
}
#else
static inline uint64_t key_hash16(uint64_t seed, const unsigned char *p, size_t k,
				  unsigned char *out)
{
	unsigned char b[16] = { 0 };

	memcpy(b, p, k);
	memcpy(out, b, sizeof b);
	return word_hash(seed, hash_read64(b), hash_read64(b + 8));
}
#endif

/*
 * The info of the k-byte key with hash h (1 <= k <= 16, no NUL byte; k 0 when the
 * caller does not know it, see below), or 0; key
 * is the key zero-padded to 16 bytes, 16-byte aligned (from key_hash16()). This
 * is the lookup of nearly every token: the group's tags are compared at once and
 * the entry of the first matching tag is compared; when a second tag matched
 * (about one lookup in thirty), every candidate is compared instead.
 * With no matching tag the entry read is the table's first slot (entries[0]),
 * which the key cannot equal: a key equal to the one in that slot would be in
 * group 0 with that slot's tag, so a tag would have matched (and an empty slot is
 * all zeros, which no key equals: a key has at least one byte and no NUL). So no
 * branch on the outcome is needed (a third of the tokens hit, so a branch would
 * often be mispredicted).
 *
 * That slot is picked with a mask rather than by reading whichever entry follows
 * the group: most tokens miss, and the one fixed entry stays in the first-level
 * cache, while entries picked at random from the whole table (512 KiB for the
 * shipped lexicon) would each miss it and evict the window's or the tokenizer's
 * data. In a cache simulation of the analytics thread's mix (tokenizer, scorer
 * and window per post) this cuts the scorer's first-level misses by 40% and its
 * second-level misses by two thirds; alone, with the table cached, it costs ~1%.
 *
 * q holds t's fields as values: the caller reads them once, before its loop.
 * Read through t, they would be read again for every token, because the
 * caller's stores of 64-bit token words may, as far as the compiler can tell,
 * change them. t itself is only used for the rare second candidate.
 */
struct probe_table {
	const uint8_t *tags;
	const struct word_entry *entries;
	unsigned shift;
};

static inline __attribute__((always_inline)) uint64_t
short_probe(const struct word_table *t, struct probe_table q, uint64_t h, const unsigned char *key,
	    size_t k)
{
	size_t g = (size_t)(h >> q.shift) * GROUP_SLOTS;
	unsigned cand = group_match(q.tags + g, word_tag(h));
	/* a 64-bit count, so that the result needs no sign extension */
	size_t c = (size_t)__builtin_ctzll((uint64_t)cand | 1ull << GROUP_SLOTS);
	/* (c >> 4) - 1 is all ones when a tag matched (c < 16), else 0 (c is then
	 * GROUP_SLOTS, 16), which picks slot 0; a mask because compilers turn
	 * "cand ? g + c : 0" into a branch. */
	const struct word_entry *e = &q.entries[(g + c) & ((c >> 4) - 1)];
	uint64_t info = e->info;
	int match;

	/* more than one matching tag: every candidate, whether or not the first
	 * is the key (tested first: it depends on the tags only, not on the
	 * entry's key, so the branch is decided early) */
	if (__builtin_expect((cand & (cand - 1)) != 0, 0)) {
		uint64_t w[3] = { 0, 0, 0 };
		memcpy(w, key, 16);
		/* k 0: not known to the caller; a short key has no NUL byte, so
		 * its length is where its zero padding begins */
		if (!k) {
			const unsigned char *z = memchr(key, 0, 16);
			k = z ? (size_t)(z - key) : 16;
		}
		return table_find(t, h, w, k);
	}
#ifdef VADER_SSE2
	match = _mm_movemask_epi8(_mm_cmpeq_epi8(
			_mm_load_si128((const __m128i *)(const void *)key),
			_mm_load_si128((const __m128i *)(const void *)e->key))) == 0xFFFF;
#else
	match = (int)(e->key[0] == hash_read64(key)) & (int)(e->key[1] == hash_read64(key + 8));
#endif
	return match ? info : 0;
}

/* Builds the scoring tables (values, short and odd words) from the load-time entries. */
static int words_compile(struct vader *v, char *err, size_t errlen)
{
	size_t n_values = 1, n_lex = 0, n_boost;
	uint64_t *infos;
	int rc;

	/* values: 0 first, then every distinct valence, then every distinct scalar */
	v->values = malloc((2 * v->n_entries + 1) * sizeof *v->values);
	if (!v->values)
		goto oom;
	v->values[0] = 0;
	for (size_t k = 0; k < v->n_entries; k++)
		if (v->entries[k].flags & TI_LEX)
			v->values[n_values++] = v->entries[k].lex;
	qsort(v->values + 1, n_values - 1, sizeof *v->values, double_cmp);
	for (size_t k = 1; k < n_values; k++)
		if (n_lex == 0 || v->values[n_lex] != v->values[k])
			v->values[++n_lex] = v->values[k];
	n_values = ++n_lex;
	for (size_t k = 0; k < v->n_entries; k++)
		if (v->entries[k].flags & TI_BOOST)
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
	v->values[n_boost] = 0;                 /* room reserved: 2 * n_entries + 1 */
	v->boost_base = n_lex;

	infos = malloc((v->n_entries + 1) * sizeof *infos);
	if (!infos)
		goto oom;
	for (size_t k = 0; k < v->n_entries; k++) {
		const struct vader_entry *e = &v->entries[k];
		unsigned char kb[VADER_KEY_BYTES_MAX];
		uint64_t x;

		memcpy(kb, e->key, sizeof kb);
		for (size_t i = 0; i < e->key_len; i++)
			v->key_high[kb[i]] |= kb[i] >= 0x80;

		x = (uint64_t)e->flags | (uint64_t)e->role << 8 | (uint64_t)e->phrase_word << 12 |
		    (uint64_t)e->key_len << 48;
		if (e->role == ROLE_BUT)
			x |= TI_BUT;
		if (e->flags & TI_LEX)
			x |= (uint64_t)value_index(v->values, n_lex, e->lex) << 20;
		if (e->flags & TI_BOOST)
			x |= (uint64_t)(value_index(v->values + n_lex - 1, n_boost - n_lex + 1,
						    e->boost) - 1) << 36;
		infos[k] = x;
	}
	rc = table_build(&v->short_words, v, infos, 0);
	if (!rc)
		rc = table_build(&v->odd_words, v, infos, 1);
	free(infos);
	if (rc)
		goto oom;
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
		e->flags |= TI_LEX;
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
	v->emoji_rank = calloc(v->emoji_cp_max / 64 + 1, sizeof *v->emoji_rank);
	if (!v->emoji_bits || !v->emoji_rank)
		goto oom;
	for (size_t k = 0; k < out; k++) {
		utf8proc_uint8_t enc[4];
		v->emoji_bits[v->emoji[k].cp / 64] |= 1ull << (v->emoji[k].cp % 64);
		utf8proc_encode_char((utf8proc_int32_t)v->emoji[k].cp, enc);
		v->xlat_lead[enc[0]] = 1;
	}
	for (size_t w = 1; w <= v->emoji_cp_max / 64; w++)
		v->emoji_rank[w] = v->emoji_rank[w - 1] +
				   (uint32_t)popcount64(v->emoji_bits[w - 1]);
	/* the non-ASCII whitespace of cp_is_space() */
	v->xlat_lead[0xC2] = v->xlat_lead[0xE1] = v->xlat_lead[0xE2] = v->xlat_lead[0xE3] = 1;
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
	ph.key = phrase_key(ph.word[0], ph.word[1], ph.n == 3 ? ph.word[2] : 0, ph.n);
	for (size_t k = 0; k < *count; k++) {
		if ((*list)[k].key == ph.key) {
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
			e->flags |= TI_NEG;
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
			e->flags |= TI_BOOST;
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

static void phrase_pairs_mark(struct vader *v, const struct vader_phrase *ph, size_t n)
{
	const size_t w = (size_t)v->n_phrase_words + 1;

	for (size_t k = 0; k < n; k++) {
		for (uint32_t j = 0; j + 1 < ph[k].n; j++) {
			size_t bit = ph[k].word[j] * w + ph[k].word[j + 1];
			v->phrase_pairs[bit / 64] |= 1ull << (bit % 64);
		}
	}
}

/* The bitmap of adjacent word pairs of all special and booster phrases. */
static int phrase_pairs_build(struct vader *v)
{
	const size_t w = (size_t)v->n_phrase_words + 1;

	v->phrase_pairs = calloc(w * w / 64 + 1, sizeof *v->phrase_pairs);
	if (!v->phrase_pairs)
		return -ENOMEM;
	phrase_pairs_mark(v, v->special, v->n_special);
	phrase_pairs_mark(v, v->boost_phrase, v->n_boost_phrase);
	return 0;
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

/* ---- scoring: text preparation ---- */

/* True when no byte of p[0..len) is >= 0x80. */
static int text_is_ascii(const unsigned char *p, size_t len)
{
	size_t i = 0;
	uint64_t acc = 0;

#ifdef VADER_SSE2
	/* 64 bytes per step, the top bits ORed in one register and tested once at
	 * the end: fewer instructions than the 64-bit words below */
	if (len >= 16) {
		/* the last 16 bytes first, so that no tail loop is needed (some bytes
		 * are read twice) */
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16));
		for (; len - i >= 64; i += 64) {
			const __m128i *q = (const __m128i *)(const void *)(p + i);
			x = _mm_or_si128(x, _mm_or_si128(_mm_or_si128(_mm_loadu_si128(q),
								      _mm_loadu_si128(q + 1)),
							 _mm_or_si128(_mm_loadu_si128(q + 2),
								      _mm_loadu_si128(q + 3))));
		}
		for (; len - i >= 16; i += 16)
			x = _mm_or_si128(x, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
		return !_mm_movemask_epi8(x);
	}
#endif
	for (; len - i >= 32; i += 32)
		acc |= hash_read64(p + i) | hash_read64(p + i + 8) | hash_read64(p + i + 16) |
		       hash_read64(p + i + 24);
	for (; len - i >= 8; i += 8)
		acc |= hash_read64(p + i);
	if (len >= 8)
		acc |= hash_read64(p + len - 8);        /* the last bytes, some read twice */
	else
		for (; i < len; i++)
			acc |= p[i];
	return !(acc & 0x8080808080808080ull);
}

/* Counts the '!' and '?' of p[0..len) (only when the token cap cut the text). */
static void text_count_marks(const unsigned char *p, size_t len, size_t *bang, size_t *ques)
{
	size_t nb = 0, nq = 0;

	for (size_t i = 0; i < len; i++) {
		nb += p[i] == '!';
		nq += p[i] == '?';
	}
	*bang = nb;
	*ques = nq;
}

static inline int emoji_is_key(const struct vader *v, int32_t cp)
{
	return cp >= 0 && (uint32_t)cp <= v->emoji_cp_max &&
	       (v->emoji_bits[(uint32_t)cp / 64] >> ((uint32_t)cp % 64) & 1);
}

/* The emoji key cp, or NULL: its index is the number of keys below it (no search). */
static const struct vader_emoji *emoji_find(const struct vader *v, int32_t cp)
{
	uint32_t w = (uint32_t)cp / 64, b = (uint32_t)cp % 64;

	if (!emoji_is_key(v, cp))
		return NULL;
	return &v->emoji[v->emoji_rank[w] + popcount64(v->emoji_bits[w] & ((1ull << b) - 1))];
}

/*
 * True when the non-ASCII text p[0..len) has a code point that the translation
 * changes: an emoji key or non-ASCII whitespace. Most non-ASCII posts have
 * neither (accented or CJK words) and are then scored in place.
 */
static int text_needs_translation(const struct vader *v, const unsigned char *p, size_t len)
{
	size_t i = 0;

#ifdef VADER_SSE2
	/* 16 bytes at a time: only bytes >= 0xC2 can start an emoji or a space */
	for (; len - i >= 16; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_and_si128(_mm_cmplt_epi8(x, _mm_setzero_si128()),
				      _mm_cmpgt_epi8(x, _mm_set1_epi8((char)0xC1))));
		for (; m; m &= m - 1) {
			size_t k = i + (unsigned)__builtin_ctz(m);
			int32_t cp;
			if (!v->xlat_lead[p[k]])
				continue;
			utf8_decode(p + k, len - k, &cp);
			if (emoji_is_key(v, cp) || cp_is_space(cp))
				return 1;
		}
	}
#endif
	for (; i < len; i++) {
		int32_t cp;
		if (!v->xlat_lead[p[i]])
			continue;
		utf8_decode(p + i, len - i, &cp);
		if (emoji_is_key(v, cp) || cp_is_space(cp))
			return 1;
	}
	return 0;
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
			while (len - j >= 8 && !(hash_read64(in + j) & 0x8080808080808080ull))
				j += 8;
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

/* ---- scoring: tokens ---- */

/* True when the token contains "n't" in any case. */
static int has_nt(const unsigned char *t, size_t len)
{
	for (size_t i = 1; i + 1 < len; i++)
		if (t[i] == '\'' && (t[i - 1] | 0x20) == 'n' && (t[i + 1] | 0x20) == 't')
			return 1;
	return 0;
}

/*
 * False when key[0..klen) has a byte >= 0x80 that no table key has: most
 * non-ASCII words (accented, Cyrillic, CJK ...) are then known to be in no list
 * without a lookup.
 */
static int key_may_exist(const struct vader *v, const unsigned char *key, size_t klen)
{
	for (size_t i = 0; i < klen; i++)
		if (key[i] >= 0x80 && !v->key_high[key[i]])
			return 0;
	return 1;
}

/*
 * The packed info of any token t[0..len), byte by byte: punctuation strip by code
 * points, Unicode case and lowercase, NUL bytes, "n't", any length. The block
 * path sends it the tokens it does not handle itself (a byte >= 0x80, NUL or an
 * apostrophe, or longer than 64 bytes).
 */
static __attribute__((noinline)) uint64_t token_classify_slow(const struct vader *v,
							       const unsigned char *t, size_t len)
{
	unsigned char key[VADER_KEY_BYTES_MAX + 4];
	size_t klen = 0, i = 0;
	unsigned fl = 0;
	uint64_t info = 0;

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
	/* One pass: case bits (stripped characters are uncased, so what is left
	 * decides) and the lowercase key, the way str.lower() maps it. A key longer
	 * than any table key is not built further, but the case still counts. */
	while (i < len) {
		unsigned char enc[8];
		size_t w = 1, k = 1;
		int32_t cp;
		unsigned c = t[i], bc;

		/* The common characters first, without the staging copy through enc
		 * below: ASCII, and the 2- and 3-byte characters that the table says
		 * have no lowercase mapping (accented, Cyrillic, Greek, CJK letters).
		 * Both write the key bytes at once; the cap test is the one below. */
		if (c < 0x80) {
			fl |= v->cls[c];
			if (klen < VADER_KEY_BYTES_MAX)
				key[klen] = v->lower[c];
			klen++;
			i++;
			continue;
		}
		if ((w = utf8_decode(t + i, len - i, &cp)) >= 2 && cp < 0x10000 &&
		    (bc = bmp_case_of(v->bmp_case, cp)) != BMP_OTHER) {
			/* what the general branch below finds, from the table: the
			 * case, and no lowercase mapping (the bytes as they are) */
			fl |= bc == BMP_LOWER ? C_LOWER : 0;
			/* w is 2 or 3: bytes 0, 1 and w - 1 (1 again when w is 2),
			 * without a loop and without reading past the character */
			if (klen + w <= VADER_KEY_BYTES_MAX) {
				key[klen] = t[i];
				key[klen + 1] = t[i + 1];
				key[klen + w - 1] = t[i + w - 1];
			}
			klen += w;
			i += w;
			continue;
		}
		memset(enc, 0, sizeof enc);
		if (w == 1) {
			enc[0] = t[i];          /* an invalid byte: uncased, kept as it is */
		} else {
			const utf8proc_property_t *pr = utf8proc_get_property(cp);
			/* once a small letter is seen the token cannot be ALL-CAPS */
			if (!(fl & C_LOWER))
				fl |= cp_case(cp, pr);
			if (cp == 0x130) {
				/* full case mapping: capital I with dot -> i + combining dot */
				memcpy(enc, "i\xCC\x87", 3);
				k = 3;
			} else if (pr->lowercase_seqindex == UINT16_MAX) {
				/* no lowercase mapping: the bytes as they are (w is 2..4) */
				for (k = 0; k < w; k++)
					enc[k] = t[i + k];
			} else {
				k = (size_t)utf8proc_encode_char(utf8proc_tolower(cp), enc);
			}
		}
		/* a fixed 4-byte copy (k <= 4; key has 4 bytes of room past the cap) */
		if (klen + k <= VADER_KEY_BYTES_MAX)
			memcpy(key + klen, enc, 4);
		klen += k;
		i += w;
	}
	if (klen <= VADER_KEY_BYTES_MAX && key_may_exist(v, key, klen)) {
		uint64_t kw[3];
		key_words(key, klen, kw);
		info = word_find(v, kw, klen);
	}
	if ((fl & (C_UPPER | C_LOWER)) == C_UPPER)
		info |= TI_UPPER;
	if ((fl & C_APOS) && has_nt(t, len))
		info |= TI_NEG;
	return info;
}

/*
 * Bit masks of one 64-byte block, bit k for byte k. "rare" bytes send their token
 * to token_classify_slow(): a byte >= 0x80 (Unicode case and lowercase, code point
 * counts), NUL (keys of the short table are told apart without their length,
 * which needs tokens without NUL) and the apostrophe ("n't").
 */
struct block_masks {
	uint64_t ws;       /* ASCII whitespace, as Python's str.split() sees it */
	uint64_t punct;    /* ASCII punctuation: stripped from token ends */
	uint64_t upper;    /* A-Z */
	uint64_t lower;    /* a-z */
	uint64_t rare;     /* >= 0x80, NUL and '\'' */
	uint64_t bang;     /* '!' */
	uint64_t ques;     /* '?' */
};

typedef void (*block_scan_fn)(const unsigned char *p, unsigned char *lc, struct block_masks *m);

#ifndef VADER_SSE2
/*
 * Scans p[0..64): writes the masks and lc[0..64), the bytes with A-Z lowercased
 * (the lookup key of an ASCII token is read from lc).
 */
static inline __attribute__((always_inline)) void
block_scan_portable(const unsigned char *p, unsigned char *lc, struct block_masks *m)
{
	memset(m, 0, sizeof *m);
	for (unsigned k = 0; k < 64; k++) {
		unsigned c = p[k];
		int up = c >= 'A' && c <= 'Z', lo = c >= 'a' && c <= 'z';
		int alnum = up || lo || (c >= '0' && c <= '9');
		int ws = (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
		m->ws |= (uint64_t)ws << k;
		m->punct |= (uint64_t)(c >= 0x21 && c <= 0x7E && !alnum) << k;
		m->upper |= (uint64_t)up << k;
		m->lower |= (uint64_t)lo << k;
		m->rare |= (uint64_t)(c >= 0x80 || c == 0 || c == '\'') << k;
		m->bang |= (uint64_t)(c == '!') << k;
		m->ques |= (uint64_t)(c == '?') << k;
		lc[k] = (unsigned char)(up ? c + 32 : c);
	}
}
#endif

#ifdef VADER_SSE2
/* Byte lanes of x within [lo, hi], as 0xFF. */
static inline __m128i sse_in_range(__m128i x, unsigned char lo, unsigned char hi)
{
	return _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - lo))),
			      _mm_set1_epi8((char)(-128 + (hi - lo + 1))));
}

static inline __attribute__((always_inline)) void
block_scan_sse2(const unsigned char *p, unsigned char *lc, struct block_masks *m)
{
	memset(m, 0, sizeof *m);
	for (unsigned k = 0; k < 4; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
		__m128i up = sse_in_range(x, 'A', 'Z'), lo = sse_in_range(x, 'a', 'z');
		__m128i alnum = _mm_or_si128(_mm_or_si128(up, lo), sse_in_range(x, '0', '9'));
		__m128i punct = _mm_andnot_si128(alnum, sse_in_range(x, 0x21, 0x7E));
		/* whitespace: 0x09-0x0D and 0x1C-0x20 */
		__m128i ws = _mm_or_si128(sse_in_range(x, 0x09, 0x0D), sse_in_range(x, 0x1C, 0x20));
		__m128i rare = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(1)),   /* >= 0x80, 0 */
					    _mm_cmpeq_epi8(x, _mm_set1_epi8('\'')));
		unsigned sh = 16 * k;

		_mm_storeu_si128((__m128i *)(void *)(lc + 16 * k),
				 _mm_add_epi8(x, _mm_and_si128(up, _mm_set1_epi8(0x20))));
		m->ws |= (uint64_t)(uint16_t)_mm_movemask_epi8(ws) << sh;
		m->punct |= (uint64_t)(uint16_t)_mm_movemask_epi8(punct) << sh;
		m->upper |= (uint64_t)(uint16_t)_mm_movemask_epi8(up) << sh;
		m->lower |= (uint64_t)(uint16_t)_mm_movemask_epi8(lo) << sh;
		m->rare |= (uint64_t)(uint16_t)_mm_movemask_epi8(rare) << sh;
		m->bang |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, _mm_set1_epi8('!'))) << sh;
		m->ques |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, _mm_set1_epi8('?'))) << sh;
	}
}
#endif

#ifdef VADER_AVX2
#define VADER_AVX2_TARGET __attribute__((target("avx2,bmi,bmi2,lzcnt,popcnt")))

/*
 * The constants of the scan, 32 copies of a byte each, read from memory: built
 * with _mm256_set1_epi8() (or read from a table the compiler can see into) each
 * is built anew for every block, two instructions each and a quarter of the
 * scan, because there are too few vector registers to keep them all, where a
 * memory operand costs nothing extra. The table's address goes through an empty
 * asm statement so that the compiler does not know its contents.
 */
#define AVX_X32(b) { b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, \
		     b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b }
enum {
	K_UP_ADD, K_LO_ADD, K_DIGIT_ADD, K_PRINT_ADD, K_WS1_ADD, K_WS2_ADD,
	K_LEN26, K_LEN10, K_LEN94, K_LEN5, K_ONE, K_APOS, K_BANG, K_QUES, K_CASE, K_COUNT
};
/* in range [lo, hi]: x + (0x80 - lo) < -128 + (hi - lo + 1), as signed bytes */
static const signed char avx_k[K_COUNT][32] __attribute__((aligned(32))) = {
	[K_UP_ADD] = AVX_X32(0x80 - 'A'), [K_LO_ADD] = AVX_X32(0x80 - 'a'),
	[K_DIGIT_ADD] = AVX_X32(0x80 - '0'), [K_PRINT_ADD] = AVX_X32(0x80 - 0x21),
	[K_WS1_ADD] = AVX_X32(0x80 - 0x09), [K_WS2_ADD] = AVX_X32(0x80 - 0x1C),
	[K_LEN26] = AVX_X32(-128 + 26), [K_LEN10] = AVX_X32(-128 + 10),
	[K_LEN94] = AVX_X32(-128 + 94), [K_LEN5] = AVX_X32(-128 + 5),
	[K_ONE] = AVX_X32(1), [K_APOS] = AVX_X32('\''), [K_BANG] = AVX_X32('!'),
	[K_QUES] = AVX_X32('?'), [K_CASE] = AVX_X32(0x20),
};

static inline VADER_AVX2_TARGET __m256i avx_k_get(const signed char (*k)[32], unsigned i)
{
	return _mm256_load_si256((const __m256i *)(const void *)k[i]);
}

/* Byte lanes of x within the range of constants add and len, as 0xFF. */
static inline VADER_AVX2_TARGET __m256i avx_in_range(const signed char (*k)[32], __m256i x,
						     unsigned add, unsigned len)
{
	return _mm256_cmpgt_epi8(avx_k_get(k, len), _mm256_add_epi8(x, avx_k_get(k, add)));
}

/* The masks of 32 bytes at p (bit k for byte k); writes lc[0..32). */
struct half_masks {
	uint32_t ws, punct, upper, lower, rare, bang, ques;
};

static inline __attribute__((always_inline)) VADER_AVX2_TARGET struct half_masks
half_scan_avx2(const unsigned char *p, unsigned char *lc, const signed char (*k)[32])
{
	__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
	__m256i up = avx_in_range(k, x, K_UP_ADD, K_LEN26);
	__m256i lo = avx_in_range(k, x, K_LO_ADD, K_LEN26);
	__m256i alnum = _mm256_or_si256(_mm256_or_si256(up, lo),
					avx_in_range(k, x, K_DIGIT_ADD, K_LEN10));
	__m256i punct = _mm256_andnot_si256(alnum, avx_in_range(k, x, K_PRINT_ADD, K_LEN94));
	__m256i ws = _mm256_or_si256(avx_in_range(k, x, K_WS1_ADD, K_LEN5),
				     avx_in_range(k, x, K_WS2_ADD, K_LEN5));
	/* >= 0x80 and NUL: below 1 as signed bytes */
	__m256i rare = _mm256_or_si256(_mm256_cmpgt_epi8(avx_k_get(k, K_ONE), x),
				       _mm256_cmpeq_epi8(x, avx_k_get(k, K_APOS)));
	struct half_masks h;

	_mm256_storeu_si256((__m256i *)(void *)lc,
			    _mm256_add_epi8(x, _mm256_and_si256(up, avx_k_get(k, K_CASE))));
	h.ws = (uint32_t)_mm256_movemask_epi8(ws);
	h.punct = (uint32_t)_mm256_movemask_epi8(punct);
	h.upper = (uint32_t)_mm256_movemask_epi8(up);
	h.lower = (uint32_t)_mm256_movemask_epi8(lo);
	h.rare = (uint32_t)_mm256_movemask_epi8(rare);
	h.bang = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, avx_k_get(k, K_BANG)));
	h.ques = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, avx_k_get(k, K_QUES)));
	return h;
}

/* The two halves written out, not a loop over them: the masks then stay in
 * registers instead of going through an array on the stack. */
static inline __attribute__((always_inline)) VADER_AVX2_TARGET void
block_scan_avx2(const unsigned char *p, unsigned char *lc, struct block_masks *m)
{
	const signed char (*k)[32] = avx_k;
	struct half_masks a, b;

	__asm__("" : "+r"(k));
	a = half_scan_avx2(p, lc, k);
	b = half_scan_avx2(p + 32, lc + 32, k);

	m->ws = a.ws | (uint64_t)b.ws << 32;
	m->punct = a.punct | (uint64_t)b.punct << 32;
	m->upper = a.upper | (uint64_t)b.upper << 32;
	m->lower = a.lower | (uint64_t)b.lower << 32;
	m->rare = a.rare | (uint64_t)b.rare << 32;
	m->bang = a.bang | (uint64_t)b.bang << 32;
	m->ques = a.ques | (uint64_t)b.ques << 32;
}

/* The rare second-candidate lookup, out of line: inlined, its registers would
 * push the lookup loop's values to the stack. */
static __attribute__((noinline)) uint64_t probe_others(const struct word_table *t,
						       struct probe_table q, uint64_t h,
						       const unsigned char *key)
{
	return short_probe(t, q, h, key, 0);
}

/*
 * short_probe() for the AVX2 and AVX-512 lookup loops, in fewer instructions (more
 * iterations, whose loads wait on misses, then fit in the processor's window):
 * the slot of the first matching tag or 0 is a conditional move (written in asm
 * because compilers make a branch of it, see short_probe()), the key compare is
 * one vptest, and the key's length is not needed (k 0 there).
 *
 * Neither compare goes through a mask register: GCC 12 at -O1 with
 * -fsanitize=alignment spilled a 16-bit compare mask with kmovw and read it
 * back as 32 bits, two bytes of stale stack included, so every word missed.
 * A movemask and a vptest leave their results in general registers and flags.
 */
static inline __attribute__((always_inline)) VADER_AVX2_TARGET uint64_t
short_probe_vex(const struct word_table *t, struct probe_table q, uint64_t h,
		const unsigned char *key)
{
	size_t g = (size_t)(h >> q.shift) * GROUP_SLOTS;
	unsigned cand = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_load_si128((const __m128i *)(const void *)(q.tags + g)),
		_mm_set1_epi8((char)word_tag(h))));
	size_t slot = g + (size_t)_tzcnt_u64(cand), zero = 0;
	const struct word_entry *e;
	uint64_t info;
	__m128i diff;

	__asm__("test %[c], %[c]\n\tcmovz %[z], %[s]"
		: [s] "+r"(slot) : [c] "r"(cand), [z] "r"(zero) : "cc");
	/* more than one matching tag (about one lookup in thirty): all of them
	 * out of line, whether or not the first is the key */
	if (__builtin_expect((cand & (cand - 1)) != 0, 0))
		return probe_others(t, q, h, key);
	e = &q.entries[slot];
	info = e->info;
	diff = _mm_xor_si128(_mm_load_si128((const __m128i *)(const void *)key),
			     _mm_load_si128((const __m128i *)(const void *)e->key));
	/* info, or 0 when the keys differ: vptest sets ZF when diff is all
	 * zeros, and the conditional move (in asm: compilers compute a mask from
	 * the flag, three instructions more on the path that waits for the
	 * entry) clears info otherwise */
	__asm__("vptest %[d], %[d]\n\tcmovnz %[z], %[i]"
		: [i] "+r"(info) : [d] "x"(diff), [z] "r"(zero) : "cc");
	return info;
}

#endif

#ifdef VADER_AVX512
#define VADER_AVX512_TARGET __attribute__((target( \
	"avx512f,avx512bw,avx512vl,avx512vbmi,avx512vbmi2,avx512cd,avx2,bmi,bmi2,lzcnt,popcnt")))

/*
 * The scan of one block with AVX-512BW: the 64 bytes are one register and every
 * compare writes its 64-bit mask directly (no movemask, no joining of halves).
 * A range test is a subtract and one unsigned compare; the lowercased copy is a
 * masked add of 0x20 under the capitals' mask. Each constant is one byte of a
 * 16-byte table, broadcast from memory (one instruction) and read through an
 * empty asm statement: from immediates the compiler rebuilds most of them for
 * every block (a move and a broadcast each), and 64-byte copies read as memory
 * operands (as the AVX2 scan reads 32-byte ones) take 14 cache lines, which in
 * the full pipeline (tokenizer, scorer, window) cost more than the broadcasts:
 * about 30 ns a post, measured.
 *
 * A block of fewer than 64 bytes (rem < 64, the last one of a text) is loaded
 * with a mask of its rem bytes: the processor does not read the masked-off bytes
 * (no fault, no access past the text), and they come in as zeros. A zero byte is
 * in no mask but "rare", and the caller marks every byte from rem on as
 * whitespace, which no token covers, so the masks are those that the other
 * variants get by shifting the scan of the text's last 64 bytes. lc[rem..64)
 * gets zeros, inside the copy's padding (VADER_LC_PAD).
 */
enum {
	Z_A, Z_LA, Z_0, Z_PRINT, Z_WS1, Z_WS2, Z_26, Z_10, Z_94, Z_5, Z_APOS, Z_BANG, Z_QUES,
	Z_CASE, Z_COUNT
};
/* in range [lo, hi]: (x - lo) mod 256 < hi - lo + 1, unsigned */
static const unsigned char avx512_k[16] __attribute__((aligned(16))) = {
	[Z_A] = 'A', [Z_LA] = 'a', [Z_0] = '0', [Z_PRINT] = 0x21, [Z_WS1] = 0x09,
	[Z_WS2] = 0x1C, [Z_26] = 26, [Z_10] = 10, [Z_94] = 94, [Z_5] = 5, [Z_APOS] = '\'',
	[Z_BANG] = '!', [Z_QUES] = '?', [Z_CASE] = 0x20,
};

static inline VADER_AVX512_TARGET __m512i z_get(const unsigned char *k, unsigned i)
{
	return _mm512_set1_epi8((char)k[i]);
}

/* Byte lanes of x within [lo, hi] given as constants lo and hi - lo + 1. */
static inline VADER_AVX512_TARGET __mmask64 z_in_range(const unsigned char *k, __m512i x,
						       unsigned lo, unsigned n)
{
	return _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, z_get(k, lo)), z_get(k, n));
}

static inline __attribute__((always_inline)) VADER_AVX512_TARGET void
block_scan_avx512_n(const unsigned char *p, unsigned char *lc, struct block_masks *m,
		    size_t rem)
{
	const unsigned char *k = avx512_k;
	__m512i x;
	__mmask64 up, lo, digit;

	__asm__("" : "+r"(k));
	x = rem >= 64 ? _mm512_loadu_si512((const void *)p) :
	    _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, (unsigned)rem), (const void *)p);
	up = z_in_range(k, x, Z_A, Z_26);
	lo = z_in_range(k, x, Z_LA, Z_26);
	digit = z_in_range(k, x, Z_0, Z_10);
	_mm512_storeu_si512((void *)lc, _mm512_mask_add_epi8(x, up, x, z_get(k, Z_CASE)));
	/* whitespace: 0x09-0x0D and 0x1C-0x20 */
	m->ws = z_in_range(k, x, Z_WS1, Z_5) | z_in_range(k, x, Z_WS2, Z_5);
	m->punct = z_in_range(k, x, Z_PRINT, Z_94) & ~(up | lo | digit);
	m->upper = up;
	m->lower = lo;
	/* >= 0x80 and NUL: at most 0 as signed bytes */
	m->rare = _mm512_cmple_epi8_mask(x, _mm512_setzero_si512()) |
		  _mm512_cmpeq_epi8_mask(x, z_get(k, Z_APOS));
	m->bang = _mm512_cmpeq_epi8_mask(x, z_get(k, Z_BANG));
	m->ques = _mm512_cmpeq_epi8_mask(x, z_get(k, Z_QUES));
}

static inline __attribute__((always_inline)) VADER_AVX512_TARGET void
block_scan_avx512(const unsigned char *p, unsigned char *lc, struct block_masks *m)
{
	block_scan_avx512_n(p, lc, m, 64);
}

/* 0, 1, ..., 63: compressed by a mask, the positions of its bits in order. */
static const unsigned char avx512_iota[64] __attribute__((aligned(64))) = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
	22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
	43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
};

/*
 * The tokens that start and end in the block at base, 8 at a time in the lanes of
 * vector registers instead of one after the other: what the scalar loop of
 * tokenize_blocks() does per token (pair the k-th start with the k-th end, the
 * caps and rare bits at the end, key_span()) is the same arithmetic per lane.
 * Compressing 0..63 by the starts and by the ends (VBMI2) gives their positions
 * in order, so no lane waits for the bit scans of the tokens before it. The
 * strip counts are lzcnt (AVX512CD): the count of trailing zeros of w is 63
 * minus the leading zeros of its lowest set bit (w & -w; w is not 0, see
 * key_span()), and every len is 1..63 here, so 64 - len is key_span()'s shift.
 *
 * Writes key[], raw_len[] (tokens for the byte path) and tok[] of tokens n ..
 * n + cnt - 1, where cnt is the number of tokens that end here (the smaller of
 * the counts of starts and ends; a start left over is the last one, and its
 * token goes on into the next block: *open_at gets its offset). key[] is
 * written 8 entries at a time without a mask (see struct vader_scratch). The
 * same pass builds keys[] and hash[] of the 8 lanes (also the byte path's and
 * long ones, without a branch: their hashes are never read): the keys with
 * byte permutes (VBMI) of the lowercased block, the hashes with 32-bit
 * multiplies: about 40 instructions for 8 tokens, where a scalar step per
 * token (masked load, two extracts, MULX, stores) took about 14. Lanes past
 * the block's tokens are masked off in the stores of keys[] and hash[]
 * (unmasked 64-byte stores there measured slower).
 */
static inline __attribute__((always_inline)) VADER_AVX512_TARGET size_t
block_tokens_avx512(struct vader_scratch *s, uint64_t *tok, size_t n, uint64_t starts,
		    uint64_t ends, uint64_t np_end, uint64_t caps_end, uint64_t rare_end,
		    size_t base, uint64_t seed, size_t *n_special, size_t *open_at)
{
	_Alignas(64) unsigned char sb[64], eb[64];
	const __m512i iota = _mm512_load_si512((const void *)avx512_iota);
	const __m512i one = _mm512_set1_epi64(1);
	const __m512i npv = _mm512_set1_epi64((long long)np_end);
	const __m512i capsv = _mm512_set1_epi64((long long)caps_end);
	const __m512i rarev = _mm512_set1_epi64((long long)rare_end);
	const __m512i basev = _mm512_set1_epi64((long long)base);
	const __m256i iota32 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	size_t cs = (size_t)_mm_popcnt_u64(starts), ce = (size_t)_mm_popcnt_u64(ends);
	size_t cnt = cs < ce ? cs : ce;
	/* for the keys: the lowercased block (every key lies in it, see below);
	 * per byte i of a register, i % 16 (the byte's place in a 16-byte key)
	 * and 8 * (i / 16) (the first byte of the 64-bit lane of the token whose
	 * key goes to 16-byte lane i / 16; the 16-bit shift's stray bit 7 is
	 * masked off); the low and high words of eight keys from two registers of
	 * four (lanes 0, 2, ..., 14 and 1, 3, ..., 15) */
	const __m512i blk = _mm512_loadu_si512((const void *)(s->lc + base));
	const __m512i pos16 = _mm512_and_si512(iota, _mm512_set1_epi8(15));
	const __m512i lk0 = _mm512_and_si512(_mm512_srli_epi16(iota, 1), _mm512_set1_epi8(0x38));
	const __m512i lo0 = _mm512_or_si512(lk0, _mm512_set1_epi8(1));
	const __m512i lk1 = _mm512_add_epi8(lk0, _mm512_set1_epi8(32));
	const __m512i lo1 = _mm512_add_epi8(lo0, _mm512_set1_epi8(32));
	const __m512i even =
		_mm512_slli_epi64(_mm512_cvtepu8_epi64(_mm512_castsi512_si128(iota)), 1);
	const __m512i odd = _mm512_or_si512(even, one);
	const __m512i seedv = _mm512_set1_epi64((long long)seed);
	const __m512i base8 = _mm512_set1_epi64((long long)(base << 8));
	const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);

	if (cs > cnt)
		*open_at = base + 63 - (size_t)_lzcnt_u64(starts);
	_mm512_store_si512((void *)sb, _mm512_maskz_compress_epi8(starts, iota));
	_mm512_store_si512((void *)eb, _mm512_maskz_compress_epi8(ends, iota));
	for (size_t j = 0; j < cnt; j += 8) {
		__mmask8 lanes = (__mmask8)_bzhi_u32(0xFF, (unsigned)(cnt - j));
		__m512i so = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(sb + j)));
		__m512i e = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(eb + j)));
		__m512i len = _mm512_sub_epi64(e, so);
		__m512i w = _mm512_srlv_epi64(npv, so);
		__m512i low = _mm512_and_si512(w, _mm512_sub_epi64(_mm512_setzero_si512(), w));
		__m512i first = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(low));
		__m512i trail = _mm512_lzcnt_epi64(_mm512_or_si512(
			_mm512_sllv_epi64(w, _mm512_sub_epi64(_mm512_set1_epi64(64), len)), one));
		__m512i klen = _mm512_sub_epi64(_mm512_sub_epi64(len, trail), first);
		__mmask8 strip = _mm512_cmpgt_epi64_mask(klen, _mm512_set1_epi64(2));
		__mmask8 rare = _mm512_test_epi64_mask(_mm512_srlv_epi64(rarev, e), one);
		__mmask8 caps = _mm512_test_epi64_mask(_mm512_srlv_epi64(capsv, e), one);
		__m512i span = _mm512_mask_blend_epi64(
			strip, len, _mm512_or_si512(_mm512_slli_epi64(first, 8), klen));

		/* the byte path's tokens: offset and length 0, as in the scalar loop */
		span = _mm512_maskz_mov_epi64((__mmask8)~rare, span);
		span = _mm512_add_epi64(span, _mm512_slli_epi64(_mm512_add_epi64(so, basev), 8));
		/* the tokens without a short key: length 0 or above 16 */
		__mmask8 sp = lanes & (rare | _mm512_cmpgt_epu64_mask(
			_mm512_and_si512(span, _mm512_set1_epi64(0xFF)), _mm512_set1_epi64(16)));
		_mm256_storeu_si256((__m256i *)(void *)(s->special + *n_special),
				    _mm256_maskz_compress_epi32(sp, _mm256_add_epi32(
					    _mm256_set1_epi32((int)(n + j)), iota32)));
		*n_special += (size_t)_mm_popcnt_u32(sp);
		_mm256_storeu_si256((__m256i *)(void *)(s->key + n + j),
				    _mm512_cvtepi64_epi32(span));
		_mm512_mask_cvtepi64_storeu_epi32(s->raw_len + n + j, lanes & rare, len);
		_mm512_mask_storeu_epi64(tok + n + j, lanes,
					 _mm512_maskz_mov_epi64(caps, _mm512_set1_epi64(TI_UPPER)));

		/* The keys, zero-padded to 16 bytes, from the block register: c has
		 * each token's key length in byte 0 and its offset in the block in
		 * byte 1 (span - base << 8). A key's bytes lie inside its token, which
		 * ends in this block, so offset + length <= 64; byte k of a key is
		 * block byte offset + k when k < length and 0 otherwise (the index's
		 * wrap past 63 only happens where the mask zeroes). The byte path's
		 * tokens (length 0) get zeros, long ones (17..63) their first 16
		 * bytes, as the scalar loop's key_load() makes them. */
		__m512i c = _mm512_sub_epi64(span, base8);
		__mmask64 m0 = _mm512_cmplt_epu8_mask(pos16, _mm512_permutexvar_epi8(lk0, c));
		__mmask64 m1 = _mm512_cmplt_epu8_mask(pos16, _mm512_permutexvar_epi8(lk1, c));
		__m512i k0 = _mm512_maskz_permutexvar_epi8(
			m0, _mm512_add_epi8(_mm512_permutexvar_epi8(lo0, c), pos16), blk);
		__m512i k1 = _mm512_maskz_permutexvar_epi8(
			m1, _mm512_add_epi8(_mm512_permutexvar_epi8(lo1, c), pos16), blk);
		/* the 16-byte keys of lanes j .. j + 3 and j + 4 .. j + 7, two
		 * 64-bit words each */
		size_t r = cnt - j;
		__mmask8 q0 = (__mmask8)_bzhi_u32(0xFF, (unsigned)(2 * r));
		__mmask8 q1 = (__mmask8)(r > 4 ? _bzhi_u32(0xFF, (unsigned)(2 * (r - 4))) : 0);
		_mm512_mask_storeu_epi64(s->keys[n + j], q0, k0);
		_mm512_mask_storeu_epi64(s->keys[n + j + 4], q1, k1);
		/* word_hash() of each key in its lane: hash_mix(a, b) = the low and
		 * high halves of the 128-bit product a * b XORed, the product from
		 * four 32 x 32-bit multiplies (AVX-512 has no 64 x 64 -> 128):
		 * with a = ah:al and b = bh:bl, mid = (al*bl >> 32) + low 32 bits
		 * of al*bh and of ah*bl (below 2^34: no overflow), low half =
		 * low 32 bits of al*bl | mid << 32, high half = ah*bh + (al*bh >> 32)
		 * + (ah*bl >> 32) + (mid >> 32). */
		__m512i a = _mm512_xor_si512(_mm512_permutex2var_epi64(k0, even, k1), seedv);
		__m512i b = _mm512_add_epi64(_mm512_permutex2var_epi64(k0, odd, k1), seedv);
		__m512i ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
		__m512i ll = _mm512_mul_epu32(a, b), lh = _mm512_mul_epu32(a, bh);
		__m512i hl = _mm512_mul_epu32(ah, b), hh = _mm512_mul_epu32(ah, bh);
		__m512i mid = _mm512_add_epi64(
			_mm512_add_epi64(_mm512_srli_epi64(ll, 32), _mm512_and_si512(lh, low32)),
			_mm512_and_si512(hl, low32));
		__m512i hi = _mm512_add_epi64(
			_mm512_add_epi64(hh, _mm512_srli_epi64(mid, 32)),
			_mm512_add_epi64(_mm512_srli_epi64(lh, 32), _mm512_srli_epi64(hl, 32)));
		__m512i lo = _mm512_or_si512(_mm512_and_si512(ll, low32),
					     _mm512_slli_epi64(mid, 32));
		_mm512_mask_storeu_epi64(s->hash + n + j, lanes, _mm512_xor_si512(lo, hi));
	}
	return cnt;
}
#endif

/* Looks up an ASCII key of 17..64 bytes (no NUL) read from the lowercased text. */
static __attribute__((noinline)) uint64_t token_long_key(const struct vader *v,
							  const unsigned char *lc, size_t klen)
{
	uint64_t w[3];

	if (klen > VADER_KEY_BYTES_MAX)
		return 0;
	key_words(lc, klen, w);
	return word_find(v, w, klen);
}

/*
 * a + b + *carry, with the carry out in *carry. Used as a bit-parallel "does this
 * token contain a byte of class X" for every token at once: with T the token
 * bytes (runs of ones) and X a subset of T, T + X carries out of each run that
 * holds an X byte into the byte after the run, which is the token's end bit.
 */
static inline uint64_t add_carry(uint64_t a, uint64_t b, uint64_t *carry)
{
	uint64_t r, r2;
	unsigned o1 = __builtin_add_overflow(a, b, &r);
	unsigned o2 = __builtin_add_overflow(r, *carry, &r2);

	*carry = o1 | o2;
	return r2;
}

/*
 * Where the key of an ASCII token without NUL lies, as offset << 8 | length. np
 * has its non-punctuation bytes (bit 0 = the token's first byte; bits from len
 * on belong to other tokens or none); np_first is np with at least one more bit
 * set at or above len, so that it is not 0.
 *
 * The strip needs no loop: the leading punctuation is the count of trailing zero
 * bits of np_first, the trailing punctuation the count of leading zero bits once
 * the token's last byte is shifted to bit 63 (the shift also drops the bits of
 * the tokens after it). The key length is then len minus both counts. When the
 * token has no non-punctuation byte, the two counts overlap and the length comes
 * out at most 1 (the "| 1" keeps the second count defined): then, as when 2
 * bytes or fewer would remain, the token stays whole (ASCII: bytes are code
 * points). The choice is a conditional move, not a branch: ":)", "ok." and "a"
 * are common enough to make a branch here unpredictable.
 */
static inline __attribute__((always_inline)) uint32_t key_span(uint64_t np_first, uint64_t np,
							       size_t len)
{
	int64_t first = __builtin_ctzll(np_first);
	/* len in 1..64; & 63 (64 - len for len < 64, and 0 for 64) is what the
	 * processor's shift does with the count anyway */
	int64_t trail = __builtin_clzll((np << ((0 - len) & 63)) | 1);
	int64_t klen = (int64_t)len - trail - first;

	return klen > 2 ? (uint32_t)first << 8 | (uint32_t)klen : (uint32_t)len;
}

#ifdef VADER_AVX512
/*
 * What tally_add() gathers, for the AVX-512 lookup loop: a pass over the
 * finished infos, 8 tokens at a time, instead of work in the loop. There, the
 * list of lexicon tokens made every iteration's store wait for the lookups
 * before it (its position is the count so far), and the tally's 6 instructions
 * a token were a sixth of the loop, whose iterations the processor overlaps
 * only as far as its scheduler holds them while they wait on the table. Here,
 * the positions of the lexicon tokens among 8 are compressed out of 0..7 by
 * their TI_LEX bits. The result is tally_add()'s: lex[0..n_lex) in token
 * order, the OR and AND of all infos (lanes past n take no part).
 */
static inline __attribute__((always_inline)) VADER_AVX512_TARGET void
tally_avx512(struct vader_scratch *s, const uint64_t *tok, size_t n, struct tok_stats *st)
{
	__m512i any = _mm512_setzero_si512(), all = _mm512_set1_epi64(-1);
	const __m512i lex_bit = _mm512_set1_epi64(TI_LEX);
	const __m128i iota16 = _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7);
	size_t n_lex = 0;

	for (size_t k = 0; k < n; k += 8) {
		/* bzhi takes its bit count mod 256: at most 8 here */
		__mmask8 lanes = (__mmask8)_bzhi_u32(0xFF, (unsigned)(n - k < 8 ? n - k : 8));
		/* a masked load: no lane past n is read */
		__m512i t = _mm512_maskz_loadu_epi64(lanes, (const void *)(tok + k));
		__mmask8 lx = _mm512_mask_test_epi64_mask(lanes, t, lex_bit);
		unsigned c = (unsigned)_mm_popcnt_u32(lx);
		__m128i at = _mm_maskz_compress_epi16(lx, _mm_add_epi16(
			iota16, _mm_set1_epi16((short)k)));

		any = _mm512_or_si512(any, t);
		all = _mm512_mask_and_epi64(all, lanes, all, t);
		_mm_mask_storeu_epi16((void *)(s->lex + n_lex), (__mmask8)_bzhi_u32(0xFF, c), at);
		n_lex += c;
	}
	st->n = n;
	st->n_lex = n_lex;
	st->any = (uint64_t)_mm512_reduce_or_epi64(any);
	st->all = (uint64_t)_mm512_reduce_and_epi64(all);
}
#endif

#ifdef VADER_AVX2
/*
 * The lookup loops of the AVX2 and AVX-512 variants, each in a function of its
 * own so that its values stay in registers. The split listed the tokens without
 * a short key (byte path, long keys), so the loop need not test every token's
 * key length: lookup_probes() looks those up first, their info goes to tok[]
 * (which the loop ORs in anyway), and their key in keys[] is made all zeros,
 * which the probe finds nowhere: an occupied slot holds a key of 1-16 bytes
 * without NUL, which is not all zeros, and an empty slot (all zeros) has info 0.
 * Their hash is whatever hash[] holds - the split writes none for a byte-path
 * token, so it may be left from an earlier text - and any group will do. The
 * loop then only probes: the counts over all tokens come after it (the tally),
 * so no iteration's stores wait for the lookups before it.
 */
static inline __attribute__((always_inline)) VADER_AVX2_TARGET void
lookup_probes(const struct vader *v, struct vader_scratch *s, const unsigned char *p, size_t n,
	      size_t n_special)
{
	const struct word_table *words = &v->short_words;
	const struct probe_table q = { words->tags, words->entries, words->shift };
	uint64_t *tok = s->tok_mem + 3;

	for (size_t i = 0; i < n_special; i++) {
		size_t k = s->special[i];
		uint32_t x = s->key[k];
		size_t kl = x & 0xFF, at = x >> 8;
		memset(s->keys[k], 0, sizeof s->keys[k]);
		tok[k] |= kl == 0 ? token_classify_slow(v, p + at, s->raw_len[k]) :
				    token_long_key(v, s->lc + at, kl);
	}
	for (size_t k = 0; k < n; k++)
		tok[k] |= short_probe_vex(words, q, s->hash[k], s->keys[k]);
}

#ifdef VADER_AVX512
static __attribute__((noinline)) VADER_AVX512_TARGET void
lookup_avx512(const struct vader *v, struct vader_scratch *s, const unsigned char *p, size_t n,
	      size_t n_special, struct tok_stats *st)
{
	lookup_probes(v, s, p, n, n_special);
	tally_avx512(s, s->tok_mem + 3, n, st);
}
#endif

/* The positions of the set bits of a 4-bit mask, 16 bits each, in order. */
static const uint64_t compress4[16] = {
	0x0000000000000000, 0x0000000000000000, 0x0000000000000001, 0x0000000000010000,
	0x0000000000000002, 0x0000000000020000, 0x0000000000020001, 0x0000000200010000,
	0x0000000000000003, 0x0000000000030000, 0x0000000000030001, 0x0000000300010000,
	0x0000000000030002, 0x0000000300020000, 0x0000000300020001, 0x0003000200010000,
};

/* The lookup loop of the AVX2 variant (see lookup_avx512()); the tally takes 4
 * tokens a step, their lexicon positions from compress4[]. */
static __attribute__((noinline)) VADER_AVX2_TARGET void
lookup_avx2(const struct vader *v, struct vader_scratch *s, const unsigned char *p, size_t n,
	    size_t n_special, struct tok_stats *st)
{
	uint64_t *tok = s->tok_mem + 3;
	__m256i any = _mm256_setzero_si256(), all = _mm256_set1_epi64x(-1);
	size_t n_lex = 0, k;

	lookup_probes(v, s, p, n, n_special);
	for (k = 0; k + 4 <= n; k += 4) {
		__m256i t = _mm256_loadu_si256((const void *)(tok + k));
		unsigned lx = (unsigned)_mm256_movemask_pd(
			_mm256_castsi256_pd(_mm256_slli_epi64(t, 63)));   /* TI_LEX is bit 0 */
		uint64_t at = compress4[lx] + 0x0001000100010001ull * k;

		any = _mm256_or_si256(any, t);
		all = _mm256_and_si256(all, t);
		memcpy(s->lex + n_lex, &at, sizeof at);
		n_lex += (size_t)_mm_popcnt_u32(lx);
	}
	{
		/* the lanes folded, then the last tokens one by one */
		struct tok_tally a = { n_lex, ~0ull, 0 };
		uint64_t all4[4], any4[4];
		_mm256_storeu_si256((void *)all4, all);
		_mm256_storeu_si256((void *)any4, any);
		for (size_t j = 0; j < 4; j++) {
			a.all &= all4[j];
			a.any |= any4[j];
		}
		for (; k < n; k++)
			tally_add(&a, s, tok, k, tok[k]);
		tally_put(st, n, &a);
	}
}
#endif

/*
 * The AVX-512 variant's parts of tokenize_blocks(): the scan of a last block of
 * fewer than 64 bytes (a masked load), the split of the tokens inside a block and
 * the lookup loop; the AVX2 variant has a lookup loop of its own too. The others
 * pass NULL: tokenize_blocks() is inlined into each variant, so the tests of
 * these pointers are constants and fold away. With a lookup loop, the split lists
 * the tokens without a short key in s->special (see lookup_probes()).
 */
typedef void (*block_scan_n_fn)(const unsigned char *p, unsigned char *lc, struct block_masks *m,
				size_t rem);
typedef size_t (*block_tokens_fn)(struct vader_scratch *s, uint64_t *tok, size_t n,
				  uint64_t starts, uint64_t ends, uint64_t np_end,
				  uint64_t caps_end, uint64_t rare_end, size_t base, uint64_t seed,
				  size_t *n_special, size_t *open_at);

typedef void (*block_lookup_fn)(const struct vader *v, struct vader_scratch *s,
				const unsigned char *p, size_t n, size_t n_special,
				struct tok_stats *st);

/*
 * Splits p[0..len) on whitespace into at most LIMIT_SENTIMENT_TOKENS tokens and
 * stores the info of each in s->tok; st gets the counts of the text.
 *
 * Split: per 64-byte block, the scan gives the masks; token starts and ends, and
 * for every token whether it is ALL-CAPS and whether it has a rare byte, come
 * from bit operations on the whole block (see add_carry()), so the loop over the
 * tokens of a block only records where each key lies (key_span()) and hashes it.
 * A token that began in the previous block takes its masks from both blocks; one
 * longer than 64 bytes, or with a rare byte, is marked for the byte path. p is
 * read only within [0, len): the last partial block is scanned as the 64 bytes
 * that end the text (masks shifted down), or from a zero-padded copy when the
 * whole text is shorter than that. (The AVX-512 variant reads the last partial
 * block with a masked load instead; see block_scan_avx512_n().)
 *
 * Probe: a second loop looks each key up. A probe is a chain of dependent loads
 * (tags, then entry); with the hashes computed beforehand, its iterations are
 * short and independent of each other, so the processor overlaps the probes of
 * many tokens instead of waiting for one chain after the other. The variants
 * with a lookup loop of their own (AVX2, AVX-512) also leave the counts of the
 * tokens until after the probes.
 */
static inline __attribute__((always_inline)) void
tokenize_blocks(const struct vader *v, struct vader_scratch *s, const unsigned char *p,
		size_t len, struct tok_stats *st, block_scan_fn scan, block_scan_n_fn scan_n,
		block_tokens_fn tokens, block_lookup_fn lookup)
{
	const struct word_table *words = &v->short_words;
	/* the table's fields as values, read once (see short_probe()) */
	const struct probe_table q = { words->tags, words->entries, words->shift };
	const uint64_t seed = words->seed;
	/* s->tok as an offset from s, like the other arrays (one register less) */
	uint64_t *tok = s->tok_mem + 3, *hash = s->hash;
	uint32_t *key = s->key;
	const unsigned char *lc = s->lc;
	uint64_t np_prev = 0;
	struct tok_tally a = TOK_TALLY_INIT;
	uint64_t c_ws = 1;      /* the byte before the text counts as whitespace */
	uint64_t c_up = 0, c_lo = 0, c_rare = 0;
	size_t n = 0, start = 0, base, n_bang = 0, n_ques = 0, n_special = 0;
	int open = 0;           /* a token started and has not ended yet */

	for (base = 0; base < len; base += 64) {
		struct block_masks m;
		size_t rem = len - base;
		uint64_t before, starts, ends, tokb, np, np_end, caps_end, rare_end;

		if (rem >= 64) {
			scan(p + base, s->lc + base, &m);
		} else if (scan_n) {
			scan_n(p + base, s->lc + base, &m, rem);  /* a masked load */
		} else if (len >= 64) {
			unsigned sh = (unsigned)(64 - rem);
			scan(p + len - 64, s->lc + len - 64, &m);
			m.ws >>= sh;
			m.punct >>= sh;
			m.upper >>= sh;
			m.lower >>= sh;
			m.rare >>= sh;
			m.bang >>= sh;
			m.ques >>= sh;
		} else {
			unsigned char buf[64] = { 0 };
			memcpy(buf, p, len);
			scan(buf, s->lc, &m);
		}
		if (rem < 64)
			m.ws |= ~0ull << rem;     /* past the end: whitespace */
		tokb = ~m.ws;
		before = (m.ws << 1) | c_ws;
		starts = tokb & before;
		ends = m.ws & ~before;
		c_ws = m.ws >> 63;
		np = tokb & ~m.punct;
		/* For the tokens that end in this block (their last byte is at bit 62
		 * or before): bit 63 is past their end, so it can be the bit that
		 * key_span() needs in np_first. */
		np_end = np | 1ull << 63;
		caps_end = add_carry(tokb, m.upper, &c_up) & ~add_carry(tokb, m.lower, &c_lo) &
			   ends;
		rare_end = add_carry(tokb, m.rare & tokb, &c_rare) & ends;
		if (m.bang | m.ques) {
			n_bang += popcount64(m.bang);
			n_ques += popcount64(m.ques);
		}

		if (open) {
			size_t e, tl;
			if (!ends) {
				np_prev = np;   /* the token goes on through this block */
				continue;
			}
			e = (size_t)__builtin_ctzll(ends);
			ends &= ends - 1;
			open = 0;
			tl = base + e - start;
			if (tl > 64 || (rare_end >> e & 1)) {
				key[n] = (uint32_t)start << 8;
				s->raw_len[n] = (uint32_t)tl;
				tok[n] = 0;
				if (lookup)
					s->special[n_special++] = (uint32_t)n;
			} else {
				/* o in [0, 63]: the token starts in the previous block; the
				 * two-step left shift is 0 for o == 0 (no shift by 64) */
				size_t o = start - (base - 64);
				uint64_t w = (np_prev >> o) | ((np << 1) << (63 - o));
				/* bit 63 goes to np_first only: w may be 0, and
				 * when tl is 64, bit 63 is the token's last byte,
				 * which the trailing count must see as it is */
				uint32_t span = key_span(w | 1ull << 63, w, tl) +
						((uint32_t)start << 8);
				size_t kl = span & 0xFF;
				key[n] = span;
				if (kl <= 16)
					hash[n] = key_hash16(seed, lc + (span >> 8), kl,
							     s->keys[n]);
				else if (lookup)
					s->special[n_special++] = (uint32_t)n;
				tok[n] = (caps_end >> e & 1) << TI_UPPER_SHIFT;
			}
			if (++n == LIMIT_SENTIMENT_TOKENS) {
				st->capped = 1;
				st->end = base + e;
				goto lookup;
			}
		}
		/* The token cap is checked once per block, not per token. When the
		 * block's starts reach it, the starts past the cap are dropped, and
		 * when the token at the cap ends in this block (the block has as
		 * many ends left as tokens kept), the text is cut there, as a check
		 * per token would have cut it; a token at the cap that goes on into
		 * the next block is counted there, by the check above. A block has
		 * at most 32 starts, so below that distance there is nothing to count. */
		if (__builtin_expect(n + 32 >= LIMIT_SENTIMENT_TOKENS, 0) &&
		    n + popcount64(starts) >= LIMIT_SENTIMENT_TOKENS) {
			size_t keep = LIMIT_SENTIMENT_TOKENS - n;       /* >= 1 */
			uint64_t kept = 0, last_end = ends;
			for (size_t k = 0; k < keep; k++) {
				kept |= starts & (0 - starts);
				starts &= starts - 1;
			}
			starts = kept;
			if (popcount64(ends) >= keep) {
				for (size_t k = 1; k < keep; k++)
					last_end &= last_end - 1;
				st->capped = 1;
				st->end = base + (size_t)__builtin_ctzll(last_end);
			}
		}
		/* A token with a rare byte gets its case from the byte path, so its
		 * ASCII-only caps bit is dropped here, once per block: then every
		 * token's word can be stored as soon as its end is known, and the end
		 * need not be kept (in a register the loop is short of) until after
		 * the key is hashed. The ctz results go through unsigned so that they
		 * are not sign-extended. */
		caps_end &= ~rare_end;
		if (tokens) {
			size_t at = SIZE_MAX;
			n += tokens(s, tok, n, starts, ends, np_end, caps_end, rare_end, base, seed,
				    &n_special, &at);
			if (at != SIZE_MAX) {
				open = 1;
				start = at;
			}
			starts = 0;
		}
		while (starts) {
			size_t so = (unsigned)__builtin_ctzll(starts), e;
			starts &= starts - 1;
			if (!ends) {
				open = 1;       /* it ends in a later block */
				start = base + so;
				break;
			}
			e = (unsigned)__builtin_ctzll(ends);
			ends &= ends - 1;
			tok[n] = (caps_end >> e & 1) << TI_UPPER_SHIFT;
			if (__builtin_expect(rare_end >> e & 1, 0)) {
				key[n] = (uint32_t)(base + so) << 8;
				s->raw_len[n] = (uint32_t)(e - so);
				if (lookup)
					s->special[n_special++] = (uint32_t)n;
			} else {
				uint64_t w = np_end >> so;
				uint32_t span = key_span(w, w, e - so) +
						((uint32_t)(base + so) << 8);
				size_t kl = span & 0xFF;
				key[n] = span;
				if (__builtin_expect(kl <= 16, 1))
					hash[n] = key_hash16(seed, lc + (span >> 8), kl,
							     s->keys[n]);
				else if (lookup)
					s->special[n_special++] = (uint32_t)n;
			}
			n++;
		}
		if (st->capped)
			goto lookup;
		np_prev = np;
	}
	/* only when len is a multiple of 64 and the text ends inside a token */
	if (open) {
		key[n] = (uint32_t)start << 8;
		s->raw_len[n] = (uint32_t)(len - start);
		if (lookup)
			s->special[n_special++] = (uint32_t)n;
		tok[n++] = 0;
	}
lookup:
	st->n_bang = n_bang;
	st->n_ques = n_ques;
	if (lookup) {
		lookup(v, s, p, n, n_special, st);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t x = key[k];
		size_t kl = x & 0xFF, at = x >> 8;
		uint64_t info;

		if (__builtin_expect(kl - 1 < 16, 1))
			info = short_probe(words, q, hash[k], s->keys[k], kl);
		else if (kl == 0)
			info = token_classify_slow(v, p + at, s->raw_len[k]);
		else
			info = token_long_key(v, lc + at, kl);
		tally_add(&a, s, tok, k, info | tok[k]);
	}
	tally_put(st, n, &a);
}

static void tokenize_default(const struct vader *v, struct vader_scratch *s,
			     const unsigned char *p, size_t len, struct tok_stats *st)
{
#ifdef VADER_SSE2
	tokenize_blocks(v, s, p, len, st, block_scan_sse2, NULL, NULL, NULL);
#else
	tokenize_blocks(v, s, p, len, st, block_scan_portable, NULL, NULL, NULL);
#endif
}

#ifdef VADER_AVX2
/* The same loops built for AVX2 (and BMI for their bit operations). */
static VADER_AVX2_TARGET void tokenize_avx2(const struct vader *v, struct vader_scratch *s,
					    const unsigned char *p, size_t len,
					    struct tok_stats *st)
{
	tokenize_blocks(v, s, p, len, st, block_scan_avx2, NULL, NULL, lookup_avx2);
}
#endif

#ifdef VADER_AVX512
/* The same loops with the AVX-512 scan, split and lookup (block_scan_avx512_n(),
 * block_tokens_avx512(), lookup_avx512()). */
static VADER_AVX512_TARGET void tokenize_avx512(const struct vader *v, struct vader_scratch *s,
						const unsigned char *p, size_t len,
						struct tok_stats *st)
{
	tokenize_blocks(v, s, p, len, st, block_scan_avx512, block_scan_avx512_n,
			block_tokens_avx512, lookup_avx512);
}
#endif

/* ---- scoring: the rules ---- */

/*
 * The rules read the tokens around a lexicon word through t[i - 3] .. t[i + 2]:
 * the scratch keeps three zero entries before the first token and two after the
 * last, and 0 is the info of a word in no list, so "no such token" needs no test
 * except where the reference counts positions (a modifier d tokens back needs
 * i >= d).
 */

static inline unsigned role_of(uint64_t t)
{
	return info_role(t);
}

/* 1 when token t is the word of role r. The rules combine these with bitwise
 * operators, not && and ||: see token_valence(). */
static inline unsigned is_role(uint64_t t, unsigned r)
{
	return role_of(t) == r;
}

static inline unsigned role_is(uint64_t t, unsigned a, unsigned b)
{
	return is_role(t, a) | is_role(t, b);
}

/* The value of the phrase with key key in a list, in *x; 0 when it is not there. */
static int phrase_find(const struct vader_phrase *ph, size_t n, uint32_t key, double *x)
{
	for (size_t k = 0; k < n; k++) {
		if (ph[k].key == key) {
			*x = ph[k].value;
			return 1;
		}
	}
	return 0;
}

/* 1 when the phrase words a b (ids, 0 for none) are adjacent in some phrase. */
static inline unsigned phrase_pair(const struct vader *v, unsigned a, unsigned b)
{
	size_t bit = a * ((size_t)v->n_phrase_words + 1) + b;

	return (unsigned)(v->phrase_pairs[bit / 64] >> (bit % 64)) & 1;
}

/* Special phrases around token i (i >= 3) and multi-word boosters before it. */
static double special_check(const struct vader *v, const uint64_t *t, size_t i, double val)
{
	const unsigned w3 = info_phrase_word(t[i - 3]), w2 = info_phrase_word(t[i - 2]),
		       w1 = info_phrase_word(t[i - 1]), w0 = info_phrase_word(t[i]),
		       f1 = info_phrase_word(t[i + 1]), f2 = info_phrase_word(t[i + 2]);
	/* candidates in the reference's order: "w[i-1] w[i]", "w[i-2] w[i-1] w[i]",
	 * "w[i-2] w[i-1]", "w[i-3] w[i-2] w[i-1]", "w[i-3] w[i-2]" */
	const uint32_t before[] = {
		phrase_key(w1, w0, 0, 2), phrase_key(w2, w1, w0, 3), phrase_key(w2, w1, 0, 2),
		phrase_key(w3, w2, w1, 3), phrase_key(w3, w2, 0, 2),
	};
	double x;

	/* Every candidate has two words that are adjacent in some phrase; near most
	 * lexicon words there are none ("of the" is no such pair). A candidate with
	 * a missing word (id 0) matches no phrase. */
	if (!(phrase_pair(v, w3, w2) | phrase_pair(v, w2, w1) | phrase_pair(v, w1, w0) |
	      phrase_pair(v, w0, f1)))
		return val;
	for (size_t k = 0; k < sizeof before / sizeof before[0]; k++) {
		if (phrase_find(v->special, v->n_special, before[k], &x)) {
			val = x;
			break;
		}
	}
	/* the words after i are 0 past the end of the text */
	if (phrase_find(v->special, v->n_special, phrase_key(w0, f1, 0, 2), &x))
		val = x;
	if (phrase_find(v->special, v->n_special, phrase_key(w0, f1, f2, 3), &x))
		val = x;
	if (phrase_find(v->boost_phrase, v->n_boost_phrase, phrase_key(w3, w2, w1, 3), &x))
		val = val + x;
	if (phrase_find(v->boost_phrase, v->n_boost_phrase, phrase_key(w3, w2, 0, 2), &x))
		val = val + x;
	if (phrase_find(v->boost_phrase, v->n_boost_phrase, phrase_key(w2, w1, 0, 2), &x))
		val = val + x;
	return val;
}

/* The booster or dampener tj, d tokens before the word, applied to val. */
static inline double boost_apply(const struct vader *v, uint64_t tj, size_t d, double val,
				 int cap_diff)
{
	double s;

	if (!(tj & TI_BOOST))
		return val;
	s = v->values[v->boost_base + info_boost(tj)];
	if (val < 0)
		s = -s;
	if ((tj & TI_UPPER) && cap_diff) {
		if (val > 0)
			s += v->c.c_incr;
		else
			s -= v->c.c_incr;
	}
	if (d > 1)
		s = s * v->c.decay[d];
	return val + s;
}

/*
 * The valence of lexicon token i before the "but" rule: the reference's steps in
 * its order, the modifiers at distance 1, 2, 3 unrolled. Each step's condition is
 * computed without short-circuit branches: the words it tests ("so", "this",
 * "the", ...) are common, so such branches would often be mispredicted.
 */
static double token_valence(const struct vader *v, const uint64_t *t, size_t i, int cap_diff)
{
	/* p[-3] .. p[-1] are the zero entries before the text for i < 3; t[i - 1]
	 * would first wrap the unsigned index, an overflow of the pointer sum */
	const uint64_t *p = t + i;
	const uint64_t ti = p[0], t1 = p[-1], t2 = p[-2], t3 = p[-3], n1 = p[1];
	const double lex = v->values[info_lex(ti)], ns = v->c.n_scalar, nst = v->c.never_so_this;
	double val = lex;

	if (ti & TI_BOOST)
		return 0;
	if (role_of(ti) == ROLE_KIND && role_of(n1) == ROLE_OF)
		return 0;

	/* "no" as a determiner carries no valence of its own ... */
	if (is_role(ti, ROLE_NO) & (unsigned)(n1 & TI_LEX))
		val = 0.0;
	/* ... and negates the word after it (recomputed from the lexicon value). */
	if (is_role(t1, ROLE_NO) | is_role(t2, ROLE_NO) |
	    (is_role(t3, ROLE_NO) & role_is(t1, ROLE_OR, ROLE_NOR)))
		val = lex * ns;
	/* ALL-CAPS in mixed-case text; the else branch also takes val == 0 ("NO good"). */
	if ((ti & TI_UPPER) && cap_diff) {
		if (val > 0)
			val += v->c.c_incr;
		else
			val -= v->c.c_incr;
	}
	/* modifiers; a lexicon word is never one */
	if (i >= 1 && !(t1 & TI_LEX)) {
		val = boost_apply(v, t1, 1, val, cap_diff);
		if (t1 & TI_NEG)
			val = val * ns;
	}
	if (i >= 2 && !(t2 & TI_LEX)) {
		val = boost_apply(v, t2, 2, val, cap_diff);
		if (is_role(t2, ROLE_NEVER) & role_is(t1, ROLE_SO, ROLE_THIS))
			val = val * nst;
		else if (is_role(t2, ROLE_WITHOUT) & is_role(t1, ROLE_DOUBT))
			;
		else if (t2 & TI_NEG)
			val = val * ns;
	}
	if (i >= 3 && !(t3 & TI_LEX)) {
		val = boost_apply(v, t3, 3, val, cap_diff);
		/* Reference precedence quirk: "so"/"this" right before the word gets
		 * the "never so" factor without any "never". */
		if ((is_role(t3, ROLE_NEVER) & role_is(t2, ROLE_SO, ROLE_THIS)) |
		    role_is(t1, ROLE_SO, ROLE_THIS))
			val = val * nst;
		else if (is_role(t3, ROLE_WITHOUT) &
			 (is_role(t2, ROLE_DOUBT) | is_role(t1, ROLE_DOUBT)))
			;
		else if (t3 & TI_NEG)
			val = val * ns;
		val = special_check(v, t, i, val);
	}
	/* "least": t[-1] is 0, so i == 1 needs no case of its own */
	if (is_role(t1, ROLE_LEAST) & (role_is(t2, ROLE_AT, ROLE_VERY) ^ 1))
		val = val * ns;
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
	v->bmp_case = bmp_case_build();
	if (!v->bmp_case) {
		set_err(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
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
	rc = phrase_pairs_build(v);
	if (rc) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	v->tokenize = tokenize_default;
#ifndef VADER_SSE2
	v->isa = "portable";
#else
	v->isa = "sse2";
#endif
#ifdef VADER_AVX2
	{
		const char *isa = getenv("TRENDD_VADER_ISA");
		unsigned a, b, c, d;
		/* LZCNT: CPUID 0x80000001, ECX bit 5 (__builtin_cpu_supports does not
		 * know it everywhere) */
		int lzcnt = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5));
		int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
			   __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt") &&
			   lzcnt;
		if (avx2 && !(isa && !strcmp(isa, "sse2"))) {
			v->tokenize = tokenize_avx2;
			v->isa = "avx2";
		}
#ifdef VADER_AVX512
		/* __builtin_cpu_supports() also checks that the OS saves the AVX-512
		 * registers (XCR0) */
		if (avx2 && __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		    __builtin_cpu_supports("avx512vbmi") &&
		    __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("avx512cd") &&
		    !(isa && (!strcmp(isa, "sse2") || !strcmp(isa, "avx2")))) {
			v->tokenize = tokenize_avx512;
			v->isa = "avx512";
		}
#endif
	}
#endif
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
	table_free(&v->short_words);
	table_free(&v->odd_words);
	free(v->values);
	free(v->index);
	free(v->entries);
	free(v->pool);
	free(v->special);
	free(v->boost_phrase);
	free(v->phrase_pairs);
	free(v->emoji);
	free(v->emoji_bits);
	free(v->emoji_rank);
	free(v->bmp_case);
	free(v);
}

const char *vader_isa(const struct vader *v) { return v->isa; }

struct vader_scratch *vader_scratch_new(void)
{
	struct vader_scratch *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->tok = s->tok_mem + 3;
	s->text = malloc(VADER_TEXT_BYTES_MAX);
	if (!s->text) {
		vader_scratch_free(s);
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

void vader_score(const struct vader *v, struct vader_scratch *s, const char *text, size_t len,
		 struct sentiment *out)
{
	const unsigned char *p = (const unsigned char *)text;
	struct tok_stats st = { 0, 0, 0, 0, 0, 0, 0, 0 };
	size_t n, m, bi = SIZE_MAX, n_bang, n_ques, zeros = 0;
	double sum = 0, amp, ep, qm = 0, pos_sum = 0, neg_sum = 0, neu = 0, total;
	uint64_t plain0;
	int cap_diff;

	memset(out, 0, sizeof *out);
	if (!text)
		len = 0;
	if (len > VADER_TEXT_BYTES_MAX)
		len = VADER_TEXT_BYTES_MAX;
	/* Only a text with an emoji key or a non-ASCII space changes when emoji are
	 * translated; any other text is scored in place. */
	if (!text_is_ascii(p, len) && text_needs_translation(v, p, len)) {
		len = vader_translate(v, p, len, s->text);
		p = s->text;
	}
	v->tokenize(v, s, p, len, &st);
	n = st.n;
	s->tok[n] = s->tok[n + 1] = 0;
	if (n == 0)
		return;
	n_bang = st.n_bang;
	n_ques = st.n_ques;
	m = st.n_lex;
	if (m == 0) {
		/* every valence is 0: sum 0, so no emphasis; all tokens neutral */
		out->neu = 1.0;
		return;
	}
	/* '!' and '?' after the last scored token do not count */
	if (st.capped)
		text_count_marks(p, st.end, &n_bang, &n_ques);
	if (st.any & TI_BUT)
		for (bi = 0; !(s->tok[bi] & TI_BUT); bi++)
			;
	/* some tokens ALL-CAPS and some not (n > 0 here) */
	cap_diff = (st.any & TI_UPPER) && !(st.all & TI_UPPER);
	/* Most lexicon words stand among plain words: when neither the word nor
	 * the three tokens before it is a booster, a negation or a role word, the
	 * word is not ALL-CAPS in mixed-case text, and no two adjacent tokens of
	 * the pairs special_check() tests (t[i-3] t[i-2] .. t[i] t[i+1]) are both
	 * phrase words, no step of token_valence() changes the valence: every
	 * step tests one of these, and a phrase pair needs two word ids. The
	 * value is then the lexicon's. */
	plain0 = TI_CONTEXT | (cap_diff ? (uint64_t)TI_UPPER : 0);
	for (size_t k = 0; k < m; k++) {
		const uint64_t *t = s->tok + s->lex[k];
		const uint64_t p3 = phrase_bit(t[-3]), p2 = phrase_bit(t[-2]),
			       p1 = phrase_bit(t[-1]), p0 = phrase_bit(t[0]), pn = phrase_bit(t[1]);
		if (!((t[0] & plain0) | ((t[-1] | t[-2] | t[-3]) & TI_CONTEXT) |
		      (p2 & (p3 | p1)) | (p0 & (p1 | pn))))
			s->val[k] = v->values[info_lex(t[0])];
		else
			s->val[k] = token_valence(v, s->tok, s->lex[k], cap_diff);
	}
	if (bi != SIZE_MAX)
		but_rule(v, s->val, s->lex, m, bi);

	/* Sums in text order; the zeros of the other tokens would add nothing. The
	 * signs of the valences are data, so each sum takes its term or 0 without a
	 * branch; adding a zero changes neither sum (pos_sum starts at +0 and only
	 * grows, neg_sum starts at +0 and only falls, so neither is ever -0), so the
	 * results are the reference's. */
	for (size_t k = 0; k < m; k++) {
		double x = s->val[k];
		sum += x;
		/* (x + 1) * 0.0 is +0 or -0, and pos_sum + -0 == pos_sum as well */
		pos_sum += (x + 1) * (double)(x > 0);
		neg_sum += (x - 1) * (double)(x < 0);
		zeros += x == 0;
	}
	neu = (double)(n - m + zeros);
	ep = (double)(n_bang < v->c.ep_max ? n_bang : v->c.ep_max) * v->c.ep_incr;
	if (n_ques > 1)
		qm = n_ques <= v->c.qm_max ? (double)n_ques * v->c.qm_incr : v->c.qm_cap;
	amp = ep + qm;
	sum = sum > 0 ? sum + amp : sum < 0 ? sum - amp : sum;
	out->compound = sum / sqrt(sum * sum + v->c.alpha);
	if (out->compound < -1.0)
		out->compound = -1.0;
	else if (out->compound > 1.0)
		out->compound = 1.0;

	pos_sum = pos_sum > fabs(neg_sum) ? pos_sum + amp : pos_sum;
	neg_sum = pos_sum < fabs(neg_sum) ? neg_sum - amp : neg_sum;
	total = pos_sum + fabs(neg_sum) + neu;
	out->pos = fabs(pos_sum / total);
	out->neg = fabs(neg_sum / total);
	out->neu = fabs(neu / total);
}
