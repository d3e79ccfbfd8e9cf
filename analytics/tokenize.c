/*
 * tokenize.c - post text to terms.
 *
 * One left-to-right pass over at most TOKENIZE_SCAN_BYTES bytes. At each
 * position the first byte (or the decoded code point) picks a recognizer:
 *
 * - URL "http://" / "https://" (any case): the host becomes a `domain` term
 *   (lowercased, port and "user@" dropped, "www." stripped when a dot
 *   remains); the rest of the URL, up to white space, is skipped.
 * - Bare host: a word followed by ".label" is re-read as a dotted host. It is
 *   a `domain` when a path or port follows ("example.com/x"), when it starts
 *   with "www.", or when its last label is in a short list of common TLDs
 *   written all lower or all upper case ("example.com", "github.io"), which
 *   keeps "e.g.", "file.txt", "Mr.Smith", "node.js" and "Hello.It" words.
 * - E-mail addresses ("a.b@example.com") produce no term at all.
 * - `hashtag`: '#' not preceded by a word character, then letters, marks,
 *   digits and '_' (ZWJ/ZWNJ/U+00B7 inside); at least one non-digit. The
 *   body is normalized like a word: "#Rust" -> "#rust".
 * - `mention`: '@' not preceded by a word character, then [A-Za-z0-9_] with
 *   inner '.' and '-', optionally "@host": "@ada", "@ada@example.org",
 *   "@alice.bsky.social". Lowercased.
 * - `cashtag`: '$' then 1-6 ASCII letters and an optional ".X" class suffix,
 *   not followed by a word character: "$tsla", "$brk.b"; "$5" is not one.
 * - `emoji`: an Extended_Pictographic or regional indicator code point starts
 *   one extended grapheme cluster (utf8proc's UAX #29 rules: ZWJ sequences,
 *   skin tones, flags, tag sequences); keycaps are [0-9#*] + U+20E3. U+FE0E
 *   and U+FE0F are left out of the term, so "❤️" and "❤" are one term. A few
 *   symbols that are text by default (© ® ™ ‼ ⁉ ℹ arrows Ⓜ) count only when
 *   U+FE0F follows them.
 * - `word`: letters, marks and digits; an apostrophe (' or U+2019), hyphen
 *   ('-', U+2010, U+2011), joiner (ZWJ, ZWNJ, soft hyphen, ...) or U+00B7
 *   stays inside a word when word characters are on both sides, so
 *   "don't", "covid-19", "e-mail" and "col·lecció" are one word each (a
 *   hyphenated compound names one thing, which is what a trend is about).
 *   U+2019 becomes "'" and U+2010 "-". Elisions "l' d' j' m' n' s' t' c' qu'
 *   jusqu' lorsqu' puisqu' dell' all' nell' dall' sull' un'" ... are cut
 *   off the front ("l'état" -> "état") and a final "'s" off the end
 *   ("Trump's" -> "trump") unless the whole word is a stopword. A word
 *   with no letter is a number ("2026", "3.14", "1,000": '.' and ',' between
 *   digits stay inside) and is not a term; nor are one-character words,
 *   stopwords, and words longer than LIMIT_TERM_BYTES after normalization.
 * - Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao,
 *   Khmer, Myanmar): a run becomes overlapping bigrams of grapheme clusters,
 *   each a `word` ("東京都" -> "東京" "京都"); a one-character run is emitted
 *   alone, as CJK search engines do. Runs end at any other character.
 * - `bigram`: "w1 w2" for two words emitted one after the other with nothing
 *   between them but spaces and symbols that are not sentence punctuation.
 *   Adjacency is broken by . ! ? ; : , and every other Unicode Po, by line
 *   breaks, and by every other term or dropped word (stopword, number,
 *   one-letter word, URL, e-mail, hashtag, emoji, CJK run).
 *
 * Normalization: ASCII runs are lowercased with a table. Other words go
 * through a per-tokenizer table for U+0080..U+052F (Latin, Greek, Cyrillic)
 * built with utf8proc at tokenizer_new(), valid for code points whose fold
 * has no combining mark; anything else (marks, other scripts) goes through
 * utf8proc_decompose_custom() into the tokenizer's own buffer and
 * utf8proc_reencode() with COMPAT|COMPOSE|CASEFOLD|STABLE|IGNORE, i.e.
 * NFKC_Casefold: "ｆｕｌｌ" -> "full", "ﬁ" -> "fi", "Straße" -> "strasse",
 * soft hyphens and ZWJ/ZWNJ removed. A word whose normalized form contains
 * ASCII other than letters, digits, ' and - ("ﷺ" expands to four words) is
 * dropped.
 *
 * Bounds: TOKENIZE_SCAN_BYTES of input, LIMIT_TOKENS_PER_POST terms (the
 * scan stops when they are reached), every scan step consumes input, and the
 * only look-backs (e-mail local parts, at most 64 bytes) and re-reads (a
 * failed bare-host parse, remembered so it is not repeated) are bounded, so
 * time is linear in the scanned bytes.
 *
 * Speed. Most posts are mostly ASCII words between single spaces, and the
 * code is laid out for that; the general recognizers above stay the
 * definition, and every shortcut must give exactly their result (the unit
 * test compares them on generated and real text).
 * - prescan() makes one AVX-512BW or SSE2 pass over the text (chosen at
 *   tokenizer_new() by what the CPU has; a portable loop with
 *   TOKENIZE_PORTABLE or elsewhere): it copies it to t->low with ASCII
 *   letters lowercased and sets bitmaps of ASCII letters, ASCII letters or
 *   digits, and lead bytes 0xC2..0xD4. The length of a word is then one
 *   count of trailing zeros. When the text has such bytes, prescan_latin() also
 *   folds there the Latin, Greek and Cyrillic letters whose fold keeps
 *   their length, and marks them as word bytes.
 * - Such words are not copied: their terms point into t->low, and so do
 *   the bigram of two of them one space apart ("w1 w2" is there already)
 *   and ASCII hashtags, mentions and hosts. Other terms go to t->scratch.
 * - do_words() takes runs of such words (and " #tag" hashtags, out of
 *   line) in one loop with no call per word and no branch on whether a
 *   word is a stopword (nor on where bitmap words split): it probes the
 *   language's stopword set inline (struct stopword_set in tokenize.h: one
 *   slot, one compare) and advances the term count by the outcome. About
 *   every second English word is a stopword, so a branch there would be
 *   mispredicted half of the time.
 * - URLs, mentions, hashtags and hosts have ASCII fast paths (table-driven
 *   scans, bitmaps) in front of their general code.
 * - Other non-ASCII words are decoded; only code points above U+052F,
 *   marks and CJK runs with other than plain kana and ideographs call
 *   utf8proc.
 */
#include "analytics/tokenize.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/term.h"

#define LATIN_END      0x530 /* the fold table covers U+0080..U+052F */
#define U32_CAP        2048  /* code points of one utf8proc call */
/*
 * Terms that do not point into the text copy: each owns at most
 * LIMIT_TERM_BYTES + 1 bytes here (a word and the space emit_word() puts
 * after it, or a copied bigram), so LIMIT_TOKENS_PER_POST of them fit.
 */
#define SCRATCH_BYTES  (LIMIT_TOKENS_PER_POST * (LIMIT_TERM_BYTES + 1) + SCRATCH_SLACK)
/* Bytes past any term that may be read (stopword keys) or scribbled on (word scan). */
#define SCRATCH_SLACK  16
/*
 * The text copy t->low has one zero byte before the text (do_words() looks
 * at the byte before a word without checking for the start) and LOW_PAD
 * zero bytes after it: stopword keys read 16 bytes from a word's start and
 * look-aheads a few bytes past a word's end, without bounds checks.
 */
#define LOW_LEAD       1
#define LOW_PAD        64
#define BITMAP_WORDS   (TOKENIZE_SCAN_BYTES / 64 + 2) /* + the tail block and a zero word */
#define CJK_CHUNK      64    /* characters of a CJK run normalized in one call */
#define CJK_CHUNK_RAW  384   /* ... or this many raw bytes, whichever comes first */
#define EMAIL_LOCAL_MAX 64   /* RFC 5321 local-part limit */
#define HOST_MAX       253
#define LANG_MEMO      4     /* languages whose stopword mask is remembered */
#define FOLD_OPTS (UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STABLE | \
		   UTF8PROC_IGNORE)
#define FOLD_NONE      0xFF  /* latin table: no fast fold, use utf8proc */
/* src[] holds a term's text offset; this bit says its bytes are its own, in scratch. */
#define SRC_OWNS       0x80000000u
#define SRC_OFF        0x7FFFFFFFu

/*
 * Compile-time switches, for the unit test (which builds this file a second
 * time with both and compares the terms): TOKENIZE_PORTABLE leaves SSE2
 * out, TOKENIZE_REFERENCE every shortcut (the word loop, the ASCII fast
 * paths of the recognizers, views for hashtags and mentions, the compact
 * stopword sets), leaving the general recognizers alone.
 */
#if defined(__SSE2__) && !defined(TOKENIZE_PORTABLE)
#include <emmintrin.h>
#define PRESCAN_SSE2 1
#else
#define PRESCAN_SSE2 0
#endif
/*
 * An AVX-512BW prescan, chosen at tokenizer_new() when the CPU has it and
 * TRENDD_TOKENIZE_ISA is not "sse2" (which keeps the SSE2 one, so that
 * the unit test compares the two on a machine with both). GCC and clang
 * compile it for that ISA alone with a target attribute; the rest of the
 * file stays baseline x86-64.
 */
#if PRESCAN_SSE2 && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PRESCAN_AVX512 1
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw")))
#else
#define PRESCAN_AVX512 0
#endif
#ifdef TOKENIZE_REFERENCE
#define FAST 0
#else
#define FAST 1
#endif

typedef unsigned char uchar;

/* Character classes the scanner dispatches on. */
enum cc {
	CC_SPACE,      /* white space, NUL, controls, ZWSP: separates */
	CC_BREAK,      /* sentence punctuation, line breaks: separates, breaks adjacency */
	CC_OTHER,      /* other symbols and punctuation, U+FFFD: separates */
	CC_LETTER,
	CC_DIGIT,      /* any Unicode number */
	CC_MARK,
	CC_SPACELESS,  /* letter of a script written without spaces */
	CC_JOINER,     /* default-ignorable format character: inside words only */
	CC_APOS,
	CC_HYPHEN,
	CC_MIDDOT,
	CC_EMOJI,      /* Extended_Pictographic or Regional_Indicator */
	CC_HASH,
	CC_AT,
	CC_DOLLAR,
	CC_UNDERSCORE,
};

/* Which ASCII non-alphanumerics may survive normalization of a term body. */
enum allow { ALLOW_WORD, ALLOW_TAG, ALLOW_HOST, ALLOW_ANY };

struct latin_fold {
	uint8_t cls;
	uint8_t len;      /* bytes in s, or FOLD_NONE */
	char s[6];
};

/* A word candidate found by scan_word(). */
struct run {
	const uchar *s, *e;
	bool letter;      /* contains a letter: not a number */
	bool nonascii;
	bool apos;        /* contains an inner apostrophe */
	bool label;       /* only [A-Za-z0-9-]: may start a bare host */
};

/* Byte classes of the URL and host scanners (t->bytef). */
enum {
	BF_HOST = 1,      /* ASCII letter, digit, '-', '.', '_': a plain host byte */
	BF_URL_END = 2,   /* ends a URL's authority: '/', '?', '#', white space, '<', '>', '"' */
	BF_URL_REST = 4,  /* ASCII that continues a URL's path */
};

/* t->term[]: what the byte after an ASCII word means to do_words(). */
enum {
	T_END = 1,        /* ends the word outright (no ' - . , @, letter or digit) */
	T_DOT = 2,        /* '.' or ',': ends it unless a t->word byte follows (a letter or
			   * digit, or a Latin letter the prescan marked) */
	T_SEP = 4,        /* with a space after, the main loop would merely step over it */
	T_BREAK = 8,      /* ... and it ends adjacency (sentence punctuation, line breaks) */
};
_Static_assert(T_DOT == 2, "do_words() reads bit n + 1 of a bitmap run as T_DOT");

struct lang_memo {
	char lang[LIMIT_POST_LANG_BYTES + 1];
	uint64_t mask;
	const struct stopword_set *set;
	bool used;                    /* hit since set_lang()'s clock hand last passed */
};

struct tokenizer {
	const struct stopwords *sw;   /* borrowed */
	uint64_t mask;                /* stopword lists for the current text */
	const struct stopword_set *set; /* borrowed: the same lists, for do_words() */
	/* do_words()' probe of set (no_stopwords without one): its fields. */
	const uint64_t (*sw_slots)[2];
	const uint64_t *sw_salt;
	uint64_t sw_bucket_mask, sw_nslots, sw_mult;
	bool words;                   /* do_words() may run: FAST, and a set or no stopwords */
	bool avx512;                  /* prescan() uses AVX-512BW (see PRESCAN_AVX512) */
	struct lang_memo memo[LANG_MEMO];
	size_t nmemo, memo_next;      /* entries in memo[]; the clock hand (see set_lang()) */

	/* Per-call state. */
	const uchar *base;            /* start of the text */
	const uchar *host_stop;       /* bare-host parse already failed before here */
	const char *prev;             /* last word, while a bigram may follow it */
	size_t prev_len;
	size_t ntok, pos;             /* terms emitted, scratch bytes used */
	size_t ncopy;                 /* do_words(): bigrams noted in copy[] */
	uint16_t copy[LIMIT_TOKENS_PER_POST / 2 + 1]; /* ... to copy; one per two terms */
	char *low;                    /* = lowbuf + LOW_LEAD */

	uint8_t ascii[128];
	uint8_t lower[256];           /* ASCII letter/digit -> lowercase, else 0 */
	uint8_t term[256];            /* T_*, by byte */
	uint8_t bytef[256];           /* BF_*, by byte */
	struct token tok[LIMIT_TOKENS_PER_POST];
	uint32_t src[LIMIT_TOKENS_PER_POST];  /* text offset each term came from | SRC_OWNS */
	uint64_t alnum[BITMAP_WORDS];  /* bit i: text byte i is an ASCII letter or digit */
	uint64_t letter[BITMAP_WORDS]; /* bit i: ... an ASCII letter */
	uint64_t high[BITMAP_WORDS];   /* bit i: ... a byte 0xC2..0xD4 (see prescan_latin()) */
	uint64_t word[BITMAP_WORDS];   /* bit i: ... in a letter do_words() takes (see prescan()) */
	struct latin_fold latin[LATIN_END - 0x80];
	utf8proc_int32_t u32[U32_CAP];
	char lowbuf[LOW_LEAD + TOKENIZE_SCAN_BYTES + LOW_PAD]; /* the text, ASCII lowercased */
	char scratch[SCRATCH_BYTES];
};

/* ---- UTF-8 and character classes ---- */

/* Decodes one code point; returns its length, or -1 for an invalid sequence. */
static inline int utf8_decode(const uchar *p, const uchar *end, int32_t *cp)
{
	uchar c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t left = (size_t)(end - p);
	if (c >= 0xC2 && c <= 0xDF) {
		if (left < 2 || (p[1] & 0xC0) != 0x80)
			return -1;
		*cp = ((c & 0x1F) << 6) | (p[1] & 0x3F);
		return 2;
	}
	if (c >= 0xE0 && c <= 0xEF) {
		if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return -1;
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
			return -1; /* overlong, surrogate */
		*cp = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return -1;
		if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
			return -1; /* overlong, above U+10FFFF */
		*cp = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) |
		      (p[3] & 0x3F);
		return 4;
	}
	return -1;
}

static bool is_spaceless(int32_t cp)
{
	return (cp >= 0x0E00 && cp <= 0x0EFF) ||   /* Thai, Lao */
	       (cp >= 0x1000 && cp <= 0x109F) ||   /* Myanmar */
	       (cp >= 0x1780 && cp <= 0x17FF) ||   /* Khmer */
	       (cp >= 0x2E80 && cp <= 0x2FDF) ||   /* CJK and Kangxi radicals */
	       (cp >= 0x3005 && cp <= 0x3007) ||   /* 々 〆 〇 */
	       (cp >= 0x3021 && cp <= 0x3029) || (cp >= 0x3031 && cp <= 0x3035) ||
	       (cp >= 0x3038 && cp <= 0x303C) ||
	       (cp >= 0x3040 && cp <= 0x30FF) ||   /* Hiragana, Katakana */
	       (cp >= 0x31F0 && cp <= 0x31FF) ||
	       (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
	       (cp >= 0xF900 && cp <= 0xFAFF) ||
	       (cp >= 0xFF66 && cp <= 0xFF9F) ||   /* halfwidth Katakana */
	       (cp >= 0x1B000 && cp <= 0x1B16F) ||
	       (cp >= 0x20000 && cp <= 0x3134F);
}

static uint8_t cp_class_slow(int32_t cp)
{
	switch (cp) {
	case 0x2019: case 0xFF07:
		return CC_APOS;
	case 0x2010: case 0x2011:
		return CC_HYPHEN;
	case 0xFF03: case 0xFE5F:
		return CC_HASH;
	case 0xFF20: case 0xFE6B:
		return CC_AT;
	case 0x00B7:
		return CC_MIDDOT;
	case 0x200B:
		return CC_SPACE;
	case 0x0085: case 0x2028: case 0x2029:
		return CC_BREAK;
	}
	const utf8proc_property_t *pr = utf8proc_get_property(cp);
	if (pr->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC ||
	    pr->boundclass == UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR)
		return CC_EMOJI;
	switch (pr->category) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
		return is_spaceless(cp) ? CC_SPACELESS : CC_LETTER;
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
		return CC_MARK;
	case UTF8PROC_CATEGORY_ND:
		return CC_DIGIT; /* Thai and Myanmar digits too: numbers, not letters */
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		return is_spaceless(cp) ? CC_SPACELESS : CC_DIGIT; /* 〇 is a Han character */
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_CC:
		return CC_SPACE;
	case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
		return CC_BREAK;
	case UTF8PROC_CATEGORY_CF:
		return pr->ignorable ? CC_JOINER : CC_OTHER;
	default:
		return CC_OTHER;
	}
}

static inline uint8_t cp_class(const struct tokenizer *t, int32_t cp)
{
	if (cp < 0x80)
		return t->ascii[cp];
	if (cp < LATIN_END)
		return t->latin[cp - 0x80].cls;
	return cp_class_slow(cp);
}

/* Class of the character at p; *n gets its length. Invalid UTF-8 reads as U+FFFD. */
static inline uint8_t class_at(const struct tokenizer *t, const uchar *p, const uchar *end, int *n)
{
	if (*p < 0x80) {
		*n = 1;
		return t->ascii[*p];
	}
	int32_t cp;
	int k = utf8_decode(p, end, &cp);
	if (k < 0) {
		*n = 1;
		return CC_OTHER;
	}
	*n = k;
	return cp_class(t, cp);
}

/* Letter, digit or mark at p (a character that continues a word). */
static inline bool word_char_at(const struct tokenizer *t, const uchar *p, const uchar *end)
{
	if (p >= end)
		return false;
	int n;
	uint8_t k = class_at(t, p, end, &n);
	return k == CC_LETTER || k == CC_DIGIT || k == CC_MARK;
}

static inline bool ascii_alpha(uchar c)
{
	return (uchar)((c | 0x20) - 'a') < 26;
}

static inline bool ascii_digit(uchar c)
{
	return (uchar)(c - '0') < 10;
}

static inline bool ascii_alnum(uchar c)
{
	return ascii_alpha(c) || ascii_digit(c);
}

static inline char ascii_lower(uchar c)
{
	return (char)((uchar)(c - 'A') < 26 ? c + 32 : c);
}

/* ---- the text copy and its bitmaps ---- */

/* Trailing zero bits of x; x != 0. */
static inline unsigned ctz64(uint64_t x)
{
	assert(x != 0);
#if defined(__GNUC__)
	return (unsigned)__builtin_ctzll(x);
#else
	unsigned n = 0;
	while (!(x & 1)) {
		x >>= 1;
		n++;
	}
	return n;
#endif
}

#if PRESCAN_SSE2
/*
 * 16 bytes: stores them lowercased at out and returns the masks of their
 * ASCII letters, ASCII letters or digits, and bytes 0xC2..0xD4 (lead bytes
 * of U+0080..U+052F, the only ones prescan_latin() looks at), one bit a
 * byte.
 */
static inline void prescan16(const uchar *in, char *out, uint64_t *let_bits,
			     uint64_t *alnum_bits, uint64_t *high_bits)
{
	/*
	 * x - 'A' < 26 unsigned is, after adding 0x80 - 'A', x < -128 + 26
	 * signed: one compare per class, and bytes >= 0x80 never pass.
	 */
	const __m128i upper_bias = _mm_set1_epi8((char)(0x80 - 'A'));
	const __m128i lower_bias = _mm_set1_epi8((char)(0x80 - 'a'));
	const __m128i digit_bias = _mm_set1_epi8((char)(0x80 - '0'));
	const __m128i lead_bias = _mm_set1_epi8((char)(0x80 - 0xC2));
	const __m128i below26 = _mm_set1_epi8(-128 + 26), below10 = _mm_set1_epi8(-128 + 10);
	const __m128i below19 = _mm_set1_epi8(-128 + 0xD5 - 0xC2);
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)in);
	__m128i up = _mm_cmplt_epi8(_mm_add_epi8(x, upper_bias), below26);
	__m128i lo = _mm_or_si128(x, _mm_and_si128(up, _mm_set1_epi8(0x20)));
	__m128i let = _mm_cmplt_epi8(_mm_add_epi8(lo, lower_bias), below26);
	__m128i dig = _mm_cmplt_epi8(_mm_add_epi8(x, digit_bias), below10);
	_mm_storeu_si128((__m128i *)(void *)out, lo);
	*let_bits = (uint32_t)_mm_movemask_epi8(let);
	*alnum_bits = (uint32_t)_mm_movemask_epi8(_mm_or_si128(let, dig));
	*high_bits = (uint32_t)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(x, lead_bias),
								 below19));
}
#endif

/* Byte by byte: a text under 16 bytes, or everything with TOKENIZE_PORTABLE. */
static void prescan_bytes(const uchar *in, char *out, size_t n, uint64_t *alnum,
			  uint64_t *letter, uint64_t *high)
{
	uint64_t an = 0, le = 0, hi = 0;
	for (size_t k = 0; k < n; k++) {
		uchar c = in[k];
		out[k] = ascii_lower(c);
		le |= (uint64_t)ascii_alpha(c) << k;
		an |= (uint64_t)ascii_alnum(c) << k;
		hi |= (uint64_t)((uchar)(c - 0xC2) < 0xD5 - 0xC2) << k;
	}
	*alnum = an;
	*letter = le;
	*high = hi;
}

/*
 * Two-byte letters (U+0080..U+052F) whose fold is a two-byte letter too
 * (É -> é, Ж -> ж, ά; not ß -> ss): folded in place in t->low and marked
 * in t->word, so that words of them and ASCII letters and digits are views
 * of t->low like ASCII words. The latin table folds a word character by
 * character when it has no mark (see tokenizer_new()), and a mark is not
 * marked here: it ends such a word and leaves it to the general path.
 * Their lead bytes are 0xC2..0xD4, the bytes t->high marks: so a text in
 * other scripts (CJK, emoji: three and four byte sequences) costs nothing
 * here.
 */
static void prescan_latin(struct tokenizer *t, const uchar *text, size_t len, size_t nb)
{
	for (size_t b = 0; b <= nb; b++) {
		for (uint64_t h = t->high[b]; h; h &= h - 1) {
			size_t p = 64 * b + ctz64(h);
			uchar c = text[p];
			assert(c >= 0xC2 && c <= 0xD4);
			if (p + 1 >= len || (text[p + 1] & 0xC0) != 0x80)
				continue;
			int32_t cp = ((c & 0x1F) << 6) | (text[p + 1] & 0x3F);
			if (cp >= LATIN_END)
				continue;
			const struct latin_fold *f = &t->latin[cp - 0x80];
			/* Two bytes >= 0x80 still: t->low is ASCII exactly where the text is. */
			if (f->cls != CC_LETTER || f->len != 2 || (uchar)f->s[0] < 0xC2)
				continue;
			t->low[p] = f->s[0];
			t->low[p + 1] = f->s[1];
			t->word[p / 64] |= 1ull << (p % 64);
			t->word[(p + 1) / 64] |= 1ull << ((p + 1) % 64);
		}
	}
}

/*
 * prescan() with SSE2 (or byte by byte): fills t->low and the bitmap words
 * 0..len / 64 and returns the OR of the t->high words. The text is not
 * padded, so no load may go past its end: the last partial 16 bytes are
 * loaded as the 16 bytes that end the text, and the bits of the bytes
 * already done are shifted out. (Copying the tail to a padded buffer
 * instead costs more: loads of 16 bytes that a byte-wise copy has just
 * stored wait for the stores to reach the cache.)
 */
static uint64_t prescan_blocks(struct tokenizer *t, const uchar *text, size_t len)
{
	char *low = t->low;
	size_t nb = len / 64, q = 64 * nb;
	uint64_t any_high = 0;
#if PRESCAN_SSE2
	/*
	 * Each class's four 16-bit masks go straight into its 64-bit word
	 * (rather than packing the three masks of 16 bytes into one word and
	 * unpacking them again). The lead bytes prescan_latin() wants take
	 * one compare more than all bytes >= 0x80 would (one movemask), and
	 * spare it the bytes of other scripts: in CJK text, every byte.
	 */
	for (size_t b = 0; b < nb; b++) {
		uint64_t an = 0, le = 0, hi = 0;
		for (size_t k = 0; k < 64; k += 16) {
			uint64_t l16, a16, h16;
			prescan16(text + 64 * b + k, low + 64 * b + k, &l16, &a16, &h16);
			le |= l16 << k;
			an |= a16 << k;
			hi |= h16 << k;
		}
		t->alnum[b] = t->word[b] = an;
		t->letter[b] = le;
		t->high[b] = hi;
		any_high |= hi;
	}
	uint64_t an = 0, le = 0, hi = 0;
	size_t r = len - q, k = 0;
	for (; k + 16 <= r; k += 16) {
		uint64_t l16, a16, h16;
		prescan16(text + q + k, low + q + k, &l16, &a16, &h16);
		le |= l16 << k;
		an |= a16 << k;
		hi |= h16 << k;
	}
	if (k < r && len >= 16) {
		size_t rem = r - k; /* 1..15: the 16 bytes end at len, 16 - rem done */
		uint64_t l16, a16, h16;
		prescan16(text + len - 16, low + len - 16, &l16, &a16, &h16);
		le |= (l16 >> (16 - rem)) << k;
		an |= (a16 >> (16 - rem)) << k;
		hi |= (h16 >> (16 - rem)) << k;
		k = r;
	}
	if (k < r) {
		assert(len < 16 && k == 0); /* a text shorter than one load */
		prescan_bytes(text, low, len, &an, &le, &hi);
	}
	t->alnum[nb] = t->word[nb] = an;
	t->letter[nb] = le;
	t->high[nb] = hi;
	any_high |= hi;
#else
	for (size_t b = 0; b <= nb; b++) {
		prescan_bytes(text + 64 * b, low + 64 * b, b < nb ? 64 : len - q, &t->alnum[b],
			      &t->letter[b], &t->high[b]);
		t->word[b] = t->alnum[b];
		any_high |= t->high[b];
	}
#endif
	memset(low + len, 0, LOW_PAD);
	return any_high;
}

#if PRESCAN_AVX512
/*
 * prescan_blocks() with AVX-512BW. A 64-byte block is one load, and each
 * class one compare into a mask register, which is the block's bitmap word
 * as it is (SSE2 takes four loads, and per class four movemasks, shifts and
 * ORs). A range test c - lo < n is a byte subtraction and an unsigned
 * compare; ASCII uppercase letters are lowercased by adding 0x20 under
 * their mask. The last, partial block is a masked load: masked-out bytes
 * are not read (an AVX-512 masked load does not fault on them) and come
 * out as zero, which no class matches. Every block is stored whole to
 * t->low: the partial one ends at most 64 bytes past the text, inside the
 * LOW_PAD bytes, and its bytes past the text are zero, as the pad must be;
 * one more store of 64 zero bytes at the text's end makes all of the pad.
 */
_Static_assert(LOW_PAD == 64, "prescan_avx512() zeroes exactly 64 bytes from the end of the "
			      "text: a larger pad would keep bytes of an earlier text");
static AVX512_TARGET uint64_t prescan_avx512(struct tokenizer *t, const uchar *text,
					     size_t len)
{
	const __m512i upper = _mm512_set1_epi8('A'), lower = _mm512_set1_epi8('a');
	const __m512i digit = _mm512_set1_epi8('0'), lead = _mm512_set1_epi8((char)0xC2);
	const __m512i n26 = _mm512_set1_epi8(26), n10 = _mm512_set1_epi8(10);
	const __m512i nlead = _mm512_set1_epi8(0xD5 - 0xC2), bit5 = _mm512_set1_epi8(0x20);
	char *low = t->low;
	size_t nb = len / 64;
	uint64_t any_high = 0;
	for (size_t b = 0; b <= nb; b++) {
		__mmask64 in = b < nb ? ~(__mmask64)0 : ((__mmask64)1 << (len % 64)) - 1;
		__m512i x = _mm512_maskz_loadu_epi8(in, text + 64 * b);
		__mmask64 up = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, upper), n26);
		__m512i lo = _mm512_mask_add_epi8(x, up, x, bit5);
		__mmask64 let = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(lo, lower), n26);
		__mmask64 dig = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, digit), n10);
		__mmask64 hi = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, lead), nlead);
		_mm512_storeu_si512((void *)(low + 64 * b), lo);
		t->alnum[b] = t->word[b] = let | dig;
		t->letter[b] = let;
		t->high[b] = hi;
		any_high |= hi;
	}
	_mm512_storeu_si512((void *)(low + len), _mm512_setzero_si512());
	return any_high;
}
#endif

/*
 * Fills t->low (the text with ASCII letters lowercased, then LOW_PAD zero
 * bytes) and the bitmaps t->alnum, t->letter, t->high and t->word for
 * text[0..len), plus a zero word after them, so bits_at() may read one word
 * past the text's last one; then prescan_latin() when the text has lead
 * bytes 0xC2..0xD4.
 */
static void prescan(struct tokenizer *t, const uchar *text, size_t len)
{
	size_t nb = len / 64;
	uint64_t any_high;
#if PRESCAN_AVX512
	if (t->avx512)
		any_high = prescan_avx512(t, text, len);
	else
#endif
		any_high = prescan_blocks(t, text, len);
	t->alnum[nb + 1] = t->letter[nb + 1] = t->high[nb + 1] = t->word[nb + 1] = 0;
	if (any_high && t->words)
		prescan_latin(t, text, len, nb);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BITMAP_BYTE_LOADS 1 /* bits_from() loads the bitmap's bytes directly */
#else
/* Bits i..i+63 of a text bitmap (bit 0 = byte i); i <= the text length. */
static inline uint64_t bits_at(const uint64_t *m, size_t i)
{
	size_t w = i / 64, s = i % 64;
	/* (x << 1) << (63 - s) is x << (64 - s) without the undefined shift by 64 when s == 0. */
	return (m[w] >> s) | ((m[w + 1] << 1) << (63 - s));
}
#endif

/*
 * Bits i, i+1, ... of a text bitmap in bits 0, 1, ...: at least 57 of them
 * are right, the ones above may read as zero. i <= the text length.
 */
static inline uint64_t bits_from(const uint64_t *m, size_t i)
{
#ifdef BITMAP_BYTE_LOADS
	/*
	 * Little-endian: bit i of the bitmap is bit i % 8 of its byte i / 8,
	 * so one unaligned load there, shifted, has bits i..i+56 at the
	 * bottom, with no branch on where the 64-bit words split. The 8 bytes
	 * lie within the words prescan() filled: i / 8 + 8 <= 8 * (len / 64 + 2).
	 */
	uint64_t x;
	memcpy(&x, (const char *)m + i / 8, sizeof(x));
	return x >> (i % 8);
#else
	return bits_at(m, i);
#endif
}

/*
 * do_words()' word gaps at byte i: bits i, i + 1, ... of NOT t->word (a set
 * bit is a byte that is no word byte), at least the first 57 right, with a
 * stop bit at bit 50 that keeps them nonzero for a count of zeros after
 * shifts by at most 18 (see do_words()).
 */
#define WORD_GAP_STOP (1ull << 50)

static inline uint64_t word_gaps(const struct tokenizer *t, size_t i)
{
	return ~bits_from(t->word, i) | WORD_GAP_STOP;
}

static inline bool low_alnum(char c)
{
	/* t->low is lowercased: one range for letters, one for digits. */
	return (uchar)(c - 'a') < 26 || (uchar)(c - '0') < 10;
}

/*
 * Whether do_words() may go on with a word at byte j: an ASCII letter that
 * does not start "http" (try_url() decides those), a digit followed by
 * ASCII (a keycap has U+20E3 or U+FE0F after its digit), or a letter that
 * prescan_latin() marked.
 */
static inline bool fast_start(const struct tokenizer *t, size_t j)
{
	uchar c = (uchar)t->low[j];
	if ((uchar)(c - 'a') < 26)
		return memcmp(t->low + j, "http", 4) != 0;
	if (c >= 0x80)
		return (t->word[j / 64] >> (j % 64)) & 1;
	return (uchar)(c - '0') < 10 && (uchar)t->low[j + 1] < 0x80;
}

/* ---- normalization ---- */

/*
 * NFKC_Casefold of raw[0..n) (valid UTF-8) into the tokenizer's u32 buffer,
 * reencoded there as UTF-8. Returns the byte length, or -1.
 */
static int nfkc_cf(struct tokenizer *t, const uchar *raw, size_t n)
{
	utf8proc_ssize_t k = utf8proc_decompose_custom(raw, (utf8proc_ssize_t)n, t->u32,
						       U32_CAP - 1, FOLD_OPTS, NULL, NULL);
	if (k < 0 || k > U32_CAP - 1)
		return -1;
	utf8proc_ssize_t b = utf8proc_reencode(t->u32, k, FOLD_OPTS);
	return b < 0 ? -1 : (int)b;
}

static inline bool ascii_allowed(uchar c, enum allow allow)
{
	if (ascii_alnum(c))
		return true;
	switch (allow) {
	case ALLOW_WORD:
		return c == '\'' || c == '-';
	case ALLOW_TAG:
		return c == '_';
	case ALLOW_HOST:
		return c == '.' || c == '-' || c == '_';
	default:
		return true;
	}
}

/*
 * Normalizes raw[0..n) into out (at most cap bytes): the latin table when it
 * covers every character, utf8proc otherwise. U+2019 becomes "'" and U+2010
 * "-". Returns the length, or -1 when the result is empty, longer than cap,
 * or has an ASCII character that allow rejects.
 */
static int fold_text(struct tokenizer *t, const uchar *raw, size_t n, char *out, size_t cap,
		     enum allow allow)
{
	size_t o = 0;
	const uchar *p = raw, *end = raw + n;
	while (p < end) {
		uchar c = *p;
		if (c < 0x80) {
			if (o >= cap)
				return -1;
			out[o++] = ascii_lower(c);
			p++;
			continue;
		}
		int32_t cp;
		int k = utf8_decode(p, end, &cp);
		if (k < 0)
			return -1;
		if (cp < LATIN_END && t->latin[cp - 0x80].len != FOLD_NONE) {
			const struct latin_fold *f = &t->latin[cp - 0x80];
			if (o + f->len > cap)
				return -1;
			/*
			 * A fixed-size copy (no call); out has slack past cap
			 * (SCRATCH_SLACK, at least 6 bytes) for the bytes of f->s
			 * beyond f->len, which the next character overwrites.
			 */
			memcpy(out + o, f->s, sizeof(f->s));
			o += f->len;
		} else if (cp == 0x2019 || cp == 0x2010 || cp == 0x2011) {
			if (o >= cap)
				return -1;
			out[o++] = cp == 0x2019 ? '\'' : '-';
		} else {
			goto slow;
		}
		p += k;
	}
	goto check;
slow:
	{
		int b = nfkc_cf(t, raw, n);
		if (b < 0)
			return -1;
		const uchar *m = (const uchar *)t->u32;
		o = 0;
		for (int i = 0; i < b;) {
			uchar c = m[i];
			if (c == 0xE2 && i + 2 < b && m[i + 1] == 0x80 &&
			    (m[i + 2] == 0x99 || m[i + 2] == 0x90)) {
				c = m[i + 2] == 0x99 ? '\'' : '-';
				i += 2;
			}
			if (o >= cap)
				return -1;
			out[o++] = (char)c;
			i++;
		}
	}
check:
	if (o == 0)
		return -1;
	for (size_t i = 0; i < o; i++)
		if ((uchar)out[i] < 0x80 && !ascii_allowed((uchar)out[i], allow))
			return -1;
	return (int)o;
}

/* ---- emitting ---- */

static inline bool full(const struct tokenizer *t)
{
	return t->ntok >= LIMIT_TOKENS_PER_POST;
}

static inline void push(struct tokenizer *t, const char *s, size_t len, int kind, uint32_t src)
{
	struct token *k = &t->tok[t->ntok];
	k->s = s;
	k->len = (uint16_t)len;
	k->kind = (uint8_t)kind;
	t->src[t->ntok] = src;
	t->ntok++;
}

/* Emits the len bytes already written at scratch + pos. */
static inline void emit_here(struct tokenizer *t, int kind, size_t len, const uchar *src)
{
	push(t, t->scratch + t->pos, len, kind, (uint32_t)(src - t->base) | SRC_OWNS);
	t->pos += len;
}

/* Emits the len bytes at t->low + (s - base): the text itself, lowercased. */
static inline void emit_view(struct tokenizer *t, int kind, const uchar *s, size_t len,
			     const uchar *src)
{
	push(t, t->low + (s - t->base), len, kind, (uint32_t)(src - t->base));
}

static inline bool is_stopword(const struct tokenizer *t, const char *s, size_t len)
{
	/* Terms lie in t->low or scratch, which both have slack after every term. */
	if (!t->sw)
		return false;
	if (FAST && len - 1 < 16 && t->set) {
		uint64_t a, b;
		stopword_key(s, len, &a, &b);
		return stopword_set_probe(t->set, a, b);
	}
	return stopwords_contains_padded(t->sw, s, len, t->mask);
}

/* Copies "a b" into scratch for a bigram whose words are not one space apart. */
static const char *bigram_copy(struct tokenizer *t, const char *a, size_t an, const char *b,
			       size_t bn)
{
	char *o = t->scratch + t->pos;
	memcpy(o, a, an);
	o[an] = ' ';
	memcpy(o + an + 1, b, bn);
	t->pos += an + 1 + bn;
	return o;
}

/* Whether s is one character and combining marks (a one-letter word). */
static bool one_base_char(const struct tokenizer *t, const char *s, size_t len)
{
	/*
	 * Two ASCII letters or digits, or characters below U+0300 (lead bytes
	 * up to 0xCB; no combining mark there), already make two: most words
	 * need no decoding.
	 */
	size_t plain = 0;
	for (size_t i = 0; i < len && plain < 2; i++) {
		uchar c = (uchar)s[i];
		plain += ascii_alnum(c) || (c >= 0xC2 && c <= 0xCB);
	}
	if (FAST && plain >= 2)
		return false;
	const uchar *p = (const uchar *)s, *end = p + len;
	size_t n = 0;
	while (p < end) {
		int k;
		uint8_t c = class_at(t, p, end, &k);
		if (c != CC_MARK)
			n++;
		p += k;
	}
	return n == 1;
}

/* French and Italian elided articles and pronouns, cut off the front of a word. */
static const struct {
	const char s[7];
	uint8_t n;
} elisions[] = {
	{ "l", 1 },     { "d", 1 },      { "j", 1 },      { "m", 1 },      { "n", 1 },
	{ "s", 1 },     { "t", 1 },      { "c", 1 },      { "qu", 2 },     { "un", 2 },
	{ "all", 3 },   { "dell", 4 },   { "dall", 4 },   { "nell", 4 },   { "sull", 4 },
	{ "coll", 4 },  { "anch", 4 },   { "quest", 5 },  { "quell", 5 },  { "jusqu", 5 },
	{ "lorsqu", 6 }, { "puisqu", 6 }, { "quoiqu", 6 },
};

#define ELISION_MAX 6
/*
 * elisions[] is sorted by length: those of length n are elisions[from[n]]
 * up to elisions[from[n + 1]] (tokenizer_new() asserts it). Most words
 * with an apostrophe are no elision ("don't", "it's"), and are then
 * compared with the few of their length, byte by byte (no memcmp() call).
 */
static const uint8_t elision_from[ELISION_MAX + 2] = { 0, 0, 8, 10, 11, 17, 20, 23 };

static bool is_elision(const char *s, size_t n)
{
	if (n > ELISION_MAX)
		return false;
	for (size_t i = elision_from[n]; i < elision_from[n + 1]; i++) {
		size_t k = 0;
		while (k < n && elisions[i].s[k] == s[k])
			k++;
		if (k == n)
			return true;
	}
	return false;
}

/*
 * Emits the word w (n bytes) and the bigram it closes, if any. w is either
 * in t->low (owned false) or at scratch + pos (owned true); an owned word is
 * followed by a space, so the next owned word, when adjacent, lands right
 * after it and their bigram is a view of "prev word" with nothing copied.
 */
static void emit_word(struct tokenizer *t, char *w, size_t n, const uchar *src, bool owned)
{
	if (is_stopword(t, w, n)) {
		t->prev = NULL;
		return;
	}
	uint32_t off = (uint32_t)(src - t->base);
	push(t, w, n, TERM_WORD, off | (owned ? SRC_OWNS : 0));
	if (owned) {
		assert(w == t->scratch + t->pos);
		w[n] = ' ';
		t->pos += n + 1;
	}
	if (t->prev && !full(t) && t->prev_len + 1 + n <= LIMIT_TERM_BYTES) {
		size_t bl = t->prev_len + 1 + n;
		if (t->prev + t->prev_len + 1 == w && t->prev[t->prev_len] == ' ')
			push(t, t->prev, bl, TERM_BIGRAM, off);
		else
			push(t, bigram_copy(t, t->prev, t->prev_len, w, n), bl, TERM_BIGRAM,
			     off | SRC_OWNS);
	}
	t->prev = w;
	t->prev_len = n;
}

static void word_from_run(struct tokenizer *t, const struct run *r)
{
	size_t raw = (size_t)(r->e - r->s);
	char *o;
	int n;
	if (!r->letter || raw > TOKENIZE_RAW_WORD_BYTES)
		goto drop;
	if (!r->nonascii) {
		/* Already lowercased in the text copy. */
		if (raw > LIMIT_TERM_BYTES)
			goto drop;
		o = t->low + (r->s - t->base);
		n = (int)raw;
	} else {
		o = t->scratch + t->pos;
		n = fold_text(t, r->s, raw, o, LIMIT_TERM_BYTES, ALLOW_WORD);
		if (n < 0)
			goto drop;
	}
	if (r->apos) {
		char *a = memchr(o, '\'', (size_t)n);
		if (a && a > o && a + 1 < o + n && is_elision(o, (size_t)(a - o))) {
			size_t cut = (size_t)(a - o) + 1;
			if (r->nonascii)
				memmove(o, a + 1, (size_t)n - cut); /* an owned word starts at pos */
			else
				o = a + 1;
			n -= (int)cut;
		}
		if (n >= 3 && o[n - 2] == '\'' && o[n - 1] == 's') {
			if (is_stopword(t, o, (size_t)n))
				goto drop;
			n -= 2;
		}
		bool letter = false;
		for (int i = 0; i < n && !letter; i++)
			letter = !ascii_digit((uchar)o[i]) && o[i] != '\'' && o[i] != '-';
		if (!letter)
			goto drop;
	}
	if (n == 1 || (r->nonascii && n <= 16 && one_base_char(t, o, (size_t)n)))
		goto drop;
	emit_word(t, o, (size_t)n, r->s, r->nonascii);
	return;
drop:
	t->prev = NULL;
}

/* ---- recognizers ---- */

/*
 * Scans a word starting at the word character p: letters, marks, digits and
 * the inner joiners described at the top. Returns the end.
 */
static const uchar *scan_word(const struct tokenizer *t, const uchar *p, const uchar *end,
			      struct run *r)
{
	bool digits_only = true;
	*r = (struct run){ .s = p, .label = true };
	while (p < end) {
		uchar c = *p;
		if (c < 0x80) {
			uint8_t k = t->ascii[c];
			if (k == CC_LETTER) {
				r->letter = true;
				digits_only = false;
			} else if (k == CC_DIGIT) {
				/* part of the word */
			} else if (k == CC_APOS || k == CC_HYPHEN) {
				if (!word_char_at(t, p + 1, end))
					break;
				if (k == CC_APOS) {
					r->apos = true;
					r->label = false;
				}
			} else if ((c == '.' || c == ',') && digits_only && p + 1 < end &&
				   ascii_digit(p[1])) {
				r->label = false; /* "3.14", "1,000" */
			} else {
				break;
			}
			p++;
			continue;
		}
		int32_t cp;
		int n = utf8_decode(p, end, &cp);
		if (n < 0)
			break;
		switch (cp_class(t, cp)) {
		case CC_LETTER:
			r->letter = true;
			digits_only = false;
			break;
		case CC_DIGIT:
		case CC_MARK:
			break;
		case CC_APOS:
			if (!word_char_at(t, p + n, end))
				goto done;
			r->apos = true;
			break;
		case CC_HYPHEN:
		case CC_JOINER:
		case CC_MIDDOT:
			if (!word_char_at(t, p + n, end))
				goto done;
			break;
		default:
			goto done;
		}
		r->nonascii = true;
		r->label = false;
		p += n;
	}
done:
	r->e = p;
	return p;
}

struct host {
	const uchar *end;      /* after the last label */
	size_t nlabels;
	const uchar *tld;      /* last label */
	size_t tld_len;
	bool tld_alpha;        /* last label is all letters */
};

/*
 * Parses dotted labels [A-Za-z0-9-]+ from p; a dot belongs to the host only
 * when a label character follows. False when the host is longer than
 * HOST_MAX; h->end is where parsing stopped either way.
 */
static bool parse_labels_bytes(const uchar *p, const uchar *end, struct host *h)
{
	const uchar *s = p;
	*h = (struct host){ .end = p };
	for (;;) {
		const uchar *l = p;
		bool alpha = true;
		while (p < end && (ascii_alnum(*p) || *p == '-')) {
			alpha = alpha && ascii_alpha(*p);
			p++;
			if (p - s > HOST_MAX) {
				h->end = p;
				return false;
			}
		}
		if (p == l)
			break;
		h->nlabels++;
		h->tld = l;
		h->tld_len = (size_t)(p - l);
		h->tld_alpha = alpha;
		h->end = p;
		if (p + 1 < end && *p == '.' && (ascii_alnum(p[1])))
			p++;
		else
			break;
	}
	return h->nlabels > 0;
}

/*
 * parse_labels_bytes() for p in the current text. Labels of ASCII letters
 * and digits come off the bitmaps a label at a time; a hyphen, a label of
 * 56 bytes or more, or a host longer than HOST_MAX go byte by byte.
 */
static bool parse_labels(const struct tokenizer *t, const uchar *p, const uchar *end,
			 struct host *h)
{
	const char *low = t->low;
	size_t s = (size_t)(p - t->base), off = s;
	if (!FAST)
		return parse_labels_bytes(p, end, h);
	*h = (struct host){ .end = p };
	for (;;) {
		/* bits_from() is sure of 57 bits: a run of 56 or more goes byte by byte. */
		size_t run = ctz64(~bits_from(t->alnum, off) | (1ull << 56));
		if (run == 56 || low[off + run] == '-' || off + run - s > HOST_MAX)
			return parse_labels_bytes(p, end, h);
		if (run == 0)
			break;
		uint64_t in = (1ull << run) - 1;
		h->nlabels++;
		h->tld = t->base + off;
		h->tld_len = run;
		h->tld_alpha = (bits_from(t->letter, off) & in) == in;
		h->end = t->base + off + run;
		off += run;
		if (low[off] == '.' && low_alnum(low[off + 1]))
			off++;
		else
			break;
	}
	return h->nlabels > 0;
}

/*
 * Top-level domains accepted for a bare host without path, port or "www.":
 * common generic ones and the country codes most seen in posts, leaving out
 * those that are also file extensions (.md .py .rs .sh .pl .so ...) or
 * English words that follow a missing space ("nice.it was", "go.me", .at .be
 * .in .it .me .my .no .us); such hosts still count with a path or "www.".
 */
static const char *const bare_tlds[] = {
	"ai",    "app",   "ar",    "art",  "au",   "bg",     "biz",  "blog", "br",   "ca",
	"ch",    "cl",    "cloud", "club", "cn",   "co",     "com",  "cz",   "de",   "dev",
	"dk",    "edu",   "ee",    "eg",   "es",   "eu",     "fi",   "fm",   "fr",   "gg",
	"gov",   "gr",    "hk",    "hr",   "hu",   "ie",     "il",   "info", "int",  "io",
	"ir",    "jp",    "ke",    "kr",   "lt",   "lu",     "lv",   "ly",   "mil",  "mx",
	"net",   "news",  "ng",    "nl",   "nz",   "online", "org",  "pe",   "ph",   "pk",
	"pt",    "ro",    "ru",    "se",   "sg",   "shop",   "si",   "site", "sk",   "social",
	"store", "tech",  "th",    "tr",   "tv",   "tw",     "ua",   "uk",   "vn",   "wiki",
	"xyz",   "za",    NULL
};

static bool bare_tld_ok(const uchar *s, size_t n)
{
	char low[8];
	bool upper = false, lower = false;
	if (n > sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a')
			lower = true;
		else
			upper = true;
		low[i] = ascii_lower(s[i]);
	}
	if (upper && lower)
		return false; /* "Hello.It", "Mr.Smith": a missing space, not a host */
	for (const char *const *d = bare_tlds; *d; d++)
		if (strlen(*d) == n && memcmp(*d, low, n) == 0)
			return true;
	return false;
}

/*
 * The offset of the first byte from offset i of the text whose t->bytef
 * class has none of the bits f, where every ASCII letter and digit has one
 * of them (BF_HOST, BF_URL_REST). Runs of letters and digits are skipped
 * a run at a time off t->alnum, so "example.com" or "/status/12345" take a
 * step per label or path segment rather than one per byte. The scan reads
 * t->low, whose ASCII bytes have the class of the text's (lowercasing keeps
 * it), whose other bytes stay >= 0x80 (class 0, as in the text), and which
 * has a zero byte (class BF_URL_END only) at the text's end: so it stops at
 * the end at the latest, and i never passes it, as bits_from() wants. A
 * run of 56 bytes or more is cut there (bits_from() is sure of 57 bits);
 * its next byte is then a letter or digit, and the loop goes on.
 */
static inline size_t scan_bytef(const struct tokenizer *t, size_t i, unsigned f)
{
	const uchar *low = (const uchar *)t->low;
	for (;;) {
		i += ctz64(~bits_from(t->alnum, i) | (1ull << 56));
		if (!(t->bytef[low[i]] & f))
			return i;
		i++;
	}
}

/* Skips the rest of a URL: everything up to white space or a delimiter. */
static const uchar *skip_url_rest(const struct tokenizer *t, const uchar *p, const uchar *end)
{
	for (;;) {
		if (FAST)
			p = t->base + scan_bytef(t, (size_t)(p - t->base), BF_URL_REST);
		while (p < end && (t->bytef[*p] & BF_URL_REST))
			p++;
		if (p == end || *p < 0x80)
			return p;
		int n;
		uint8_t k = class_at(t, p, end, &n);
		if (k == CC_SPACE || k == CC_BREAK || k == CC_OTHER || k == CC_EMOJI)
			return p;
		p += n;
	}
}

/*
 * Writes host (lowercased, "www." stripped when a dot remains) as a domain
 * term. plain: the caller knows every byte of it is BF_HOST.
 */
static void emit_domain(struct tokenizer *t, const uchar *s, size_t n, const uchar *src,
			bool plain)
{
	if (n > 4 && (s[0] | 0x20) == 'w' && (s[1] | 0x20) == 'w' && (s[2] | 0x20) == 'w' &&
	    s[3] == '.' && memchr(s + 4, '.', n - 4)) {
		s += 4;
		n -= 4;
	}
	/* A plain ASCII host is already lowercased in the text copy. */
	size_t i = plain ? n : 0;
	while (i < n && (t->bytef[s[i]] & BF_HOST))
		i++;
	if (FAST && i == n) {
		if (n > 0 && n <= LIMIT_TERM_BYTES)
			emit_view(t, TERM_DOMAIN, s, n, src);
		return;
	}
	int len = fold_text(t, s, n, t->scratch + t->pos, LIMIT_TERM_BYTES, ALLOW_HOST);
	if (len > 0)
		emit_here(t, TERM_DOMAIN, (size_t)len, src);
}

/* At "http://" or "https://" (any case): emits the host, returns the end of the URL. */
static const uchar *try_url(struct tokenizer *t, const uchar *p, const uchar *end)
{
	static const char scheme[] = "http";
	if (end - p < 8)
		return NULL;
	for (int i = 0; i < 4; i++)
		if ((p[i] | 0x20) != scheme[i])
			return NULL;
	const uchar *q = p + 4;
	if ((*q | 0x20) == 's')
		q++;
	if (end - q < 3 || memcmp(q, "://", 3) != 0)
		return NULL;
	q += 3;
	/*
	 * Usually the host is plain (ASCII letters, digits, '-', '.', '_') up to
	 * '/', '?', '#', white space or the end of the text: then it needs none
	 * of the checks below, only the trailing dots of "https://host." off.
	 */
	const uchar *a = q;
	if (FAST)
		a = t->base + scan_bytef(t, (size_t)(q - t->base), BF_HOST);
	while (a < end && (t->bytef[*a] & BF_HOST))
		a++;
	if (FAST && (a == end || (t->bytef[*a] & BF_URL_END))) {
		const uchar *he = a;
		while (he > q && he[-1] == '.')
			he--;
		if (he > q && (size_t)(he - q) <= HOST_MAX)
			emit_domain(t, q, (size_t)(he - q), p, true);
		t->prev = NULL;
		if (a < end && (*a == '/' || *a == '?' || *a == '#'))
			return skip_url_rest(t, a, end);
		return a;
	}
	/* Authority: up to '/', '?', '#' or the end of the URL. */
	a = q;
	while (a < end && *a != '/' && *a != '?' && *a != '#') {
		if (*a < 0x80) {
			if (*a <= 0x20 || *a == 0x7F || *a == '<' || *a == '>' || *a == '"')
				break;
			a++;
			continue;
		}
		/*
		 * IDN hosts in scripts with spaces pass; a CJK character more often
		 * starts the sentence that follows a URL than continues its host.
		 */
		int n;
		uint8_t k = class_at(t, a, end, &n);
		if (k != CC_LETTER && k != CC_DIGIT && k != CC_MARK)
			break;
		a += n;
	}
	const uchar *hs = q, *he = a;
	for (const uchar *x = q; x < a; x++)
		if (*x == '@')
			hs = x + 1; /* drop "user:password@" */
	if (hs < he && *hs == '[') {
		const uchar *rb = memchr(hs, ']', (size_t)(he - hs));
		he = rb ? rb + 1 : hs;
	} else {
		for (const uchar *x = hs; x < he; x++)
			if (*x == ':') {
				he = x; /* port */
				break;
			}
	}
	/* Sentence punctuation after a bare "https://host" is not part of it. */
	while (he > hs && he[-1] && strchr(".,;:!?)'*", he[-1]))
		he--;
	bool ok = he > hs && (size_t)(he - hs) <= HOST_MAX;
	if (ok && *hs == '[') {
		/* IPv6 literal: kept as written, lowercased. */
		size_t n = (size_t)(he - hs);
		for (size_t i = 0; ok && i < n; i++)
			ok = ascii_alnum(hs[i]) || hs[i] == ':' || hs[i] == '.' || hs[i] == '[' ||
			     hs[i] == ']';
		if (ok && n <= LIMIT_TERM_BYTES) {
			for (size_t i = 0; i < n; i++)
				t->scratch[t->pos + i] = ascii_lower(hs[i]);
			emit_here(t, TERM_DOMAIN, n, p);
		}
	} else if (ok) {
		for (const uchar *x = hs; ok && x < he; x++)
			ok = *x >= 0x80 || ascii_alnum(*x) || *x == '-' || *x == '.' || *x == '_';
		if (ok)
			emit_domain(t, hs, (size_t)(he - hs), p, false);
	}
	t->prev = NULL;
	/* A path, query or fragment goes on to white space; otherwise the URL ends here. */
	if (a < end && (*a == '/' || *a == '?' || *a == '#'))
		return skip_url_rest(t, a, end);
	return a;
}

/*
 * The word at s ended at '.' followed by a label character: tries to read a
 * bare host there ("example.com", "www.example.org/x", "github.io:443").
 */
static const uchar *try_bare_host(struct tokenizer *t, const uchar *s, const uchar *end)
{
	struct host h;
	bool ok = parse_labels(t, s, end, &h);
	const uchar *q = h.end;
	if (!ok || h.nlabels < 2 || !h.tld_alpha || h.tld_len < 2)
		goto fail;
	if (q < end) {
		if (*q == '@' || *q == '_' || *q == '-')
			goto fail;
		if (*q >= 0x80 && word_char_at(t, q, end))
			goto fail;
	}
	bool www = (size_t)(h.end - s) > 4 && (s[0] | 0x20) == 'w' && (s[1] | 0x20) == 'w' &&
		   (s[2] | 0x20) == 'w' && s[3] == '.';
	const uchar *r = q;
	bool port = false;
	if (r + 1 < end && *r == ':' && ascii_digit(r[1])) {
		r++;
		while (r < end && ascii_digit(*r))
			r++;
		port = true;
	}
	bool path = r < end && *r == '/';
	if (!path && !port && !www && !bare_tld_ok(h.tld, h.tld_len))
		goto fail;
	emit_domain(t, s, (size_t)(h.end - s), s, true); /* labels and dots */
	t->prev = NULL;
	return path ? skip_url_rest(t, r, end) : r;
fail:
	/* Later words inside the same dotted run need not try again. */
	t->host_stop = h.end;
	return NULL;
}

/*
 * The word at s ended at '@' and a label character follows: if this is an
 * e-mail address, drops the terms already taken from its local part and
 * returns the end of the address.
 */
static const uchar *try_email(struct tokenizer *t, const uchar *at, const uchar *end)
{
	struct host h;
	if (!parse_labels(t, at + 1, end, &h) || h.nlabels < 2 || !h.tld_alpha || h.tld_len < 2)
		return NULL;
	const uchar *ls = at;
	while (ls > t->base && at - ls < EMAIL_LOCAL_MAX) {
		uchar c = ls[-1];
		if (!ascii_alnum(c) && c != '.' && c != '_' && c != '%' && c != '+' && c != '-')
			break;
		ls--;
	}
	while (ls < at && !ascii_alnum(*ls))
		ls++;
	uint32_t off = (uint32_t)(ls - t->base);
	while (t->ntok > 0 && (t->src[t->ntok - 1] & SRC_OFF) >= off) {
		t->ntok--;
		/*
		 * Scratch bytes go back only when the term owned them: a bigram
		 * view starts at its first word, which may lie before the address.
		 */
		if (t->src[t->ntok] & SRC_OWNS)
			t->pos = (size_t)(t->tok[t->ntok].s - t->scratch);
	}
	t->prev = NULL;
	return h.end;
}

/* ---- the word loop ---- */

/* The general word recognizer at the word character p. */
static const uchar *do_word(struct tokenizer *t, const uchar *p, const uchar *end)
{
	struct run r;
	const uchar *q = scan_word(t, p, end, &r);
	if (q + 1 < end && r.label && ascii_alnum(q[1])) {
		const uchar *x = NULL;
		if (*q == '@')
			x = try_email(t, q, end);
		else if (*q == '.' && q >= t->host_stop)
			x = try_bare_host(t, r.s, end);
		if (x)
			return x;
	}
	word_from_run(t, &r);
	return q;
}

/* "http" read as a little- or big-endian 32-bit word: (uint32_t)"http" of fast_start(). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WORD_HTTP 0x68747470u
#else
#define WORD_HTTP 0x70747468u
#endif

/* A set without words, for a tokenizer without stopwords: no key is (0, 0). */
static uint64_t no_slot[1][2];
static uint64_t no_salt[1];
static const struct stopword_set no_stopwords = { .slots = no_slot, .salt = no_salt };

/* Copies the bigrams do_words() noted: each follows its second word, which follows the first. */
static void bigrams_copy(struct tokenizer *t, const uint16_t *copy, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct token *bg = &t->tok[copy[i]], *w2 = bg - 1;
		bg->s = bigram_copy(t, bg->s, (size_t)(bg->len - 1 - w2->len), w2->s, w2->len);
		t->src[copy[i]] |= SRC_OWNS;
	}
}

/*
 * do_words(): " #tag" hashtags from the '#' at w, after a word and a space.
 * A simple body (ASCII letters and digits with a letter) ends at ASCII that
 * is not '_' (the body would go on) nor a sigil (the main loop would read
 * that as after a word, where try_hashtag() leaves it as after a hashtag);
 * other hashtags and keycaps ('#' and a byte >= 0x80) are the main loop's,
 * and so are bodies of 56 bytes or more (bits_from() is sure of 57).
 * Emits the simple ones that follow one another one space apart and returns
 * the end of the last, or NULL when the first is not simple; t->ntok counts
 * them. Out of line: hashtags come a few times a post, words many times.
 */
static __attribute__((noinline)) const char *words_hashtags(struct tokenizer *t, const char *w)
{
	const char *low = t->low, *e = NULL;
	size_t k = t->ntok;
	while (*w == '#') {
		size_t h = (size_t)(w - low) + 1;
		size_t hn = ctz64(~bits_from(t->alnum, h) | (1ull << 56));
		uchar hc = (uchar)low[h + hn];
		if (hn == 0 || hn == 56 || hc >= 0x80 || hc == '_' || hc == '#' || hc == '@' ||
		    hc == '$' || !(bits_from(t->letter, h) & ((1ull << hn) - 1)) ||
		    k >= LIMIT_TOKENS_PER_POST)
			break;
		t->tok[k].s = w;
		t->tok[k].len = (uint16_t)(hn + 1);
		t->tok[k].kind = TERM_HASHTAG;
		t->src[k] = (uint32_t)(h - 1);
		k++;
		e = low + h + hn;
		if (hc != ' ')
			break;
		w = e + 1;
	}
	t->ntok = k;
	return e;
}

/*
 * Words from p, which the caller has checked like fast_start(): runs of
 * t->word bits (ASCII letters and digits, and the letters prescan_latin()
 * folded). A word is taken here when it is 1..16 bytes long (a stopword
 * key) and ends at a byte that needs no further look: T_END (space, most
 * punctuation, the end of the text), or T_DOT not followed by a t->word
 * byte. Anything else is left to do_word(). After a word the
 * loop goes on when a space, or a T_SEP byte and a space, lead to a
 * fast_start() word, or to simple hashtags (words_hashtags()) and then
 * such a word; otherwise it returns the end of the last word or hashtag to the
 * main loop, which carries on as it would have after do_word().
 *
 * Terms are views of t->low, and nothing branches on whether a word is a
 * stopword: the word and its bigram candidate are stored in the next free
 * entries of t->tok while the count moves by the outcome, so the probe of
 * one word overlaps the scan of the next. Those entries exist: the loop
 * runs while two terms fit. Words one space apart make a bigram that is
 * already in t->low; the others (rare) are noted and copied to scratch
 * after the loop, which thus calls nothing for words.
 */
static const uchar *do_words(struct tokenizer *t, const uchar *p, const uchar *end)
{
	/*
	 * What makes this loop fast or slow, as measured:
	 * - Mispredicted branches, some 15 cycles each. A word's length comes
	 *   from one unaligned load of the bitmap (bits_from()), with no
	 *   branch on where its 64-bit words split (one per block, taken in no
	 *   order a predictor learns); the byte after a word is checked in one
	 *   branch, and so is whether a letter that does not start "http"
	 *   follows; nothing on entry branches on the last probe's outcome.
	 * - Latency: the offset of the next word comes from the current one,
	 *   so what follows a word (a space, nearly always: predicted) is
	 *   branched on rather than computed (an advance computed from the
	 *   byte after the word put two more loads in that chain, and cost
	 *   15% of the tokenizer's time), and a word's bits come from the load
	 *   made at the word before (see gaps below).
	 * - Registers: x86-64 has 15 for what the loop keeps, and each
	 *   variable the compiler spills costs a store and a load per word;
	 *   so the end of the last word or hashtag is also the end of the word
	 *   a bigram would start with (e; the bigram is e - prev + 1 + n
	 *   bytes), the probe's constants and the rare list of bigrams to copy
	 *   are reached from t, the terms are stored before the probe, and
	 *   hashtags are out of line.
	 */
	size_t i = (size_t)(p - t->base), e = i, k = t->ntok;
	/* The word before; adj: A_PAIR a bigram may follow it, A_GAP not one space. */
	enum { A_PAIR = 1, A_GAP = 2 };
	const char *prev = t->prev;
	t->ncopy = 0;
	/*
	 * No branch on whether prev is NULL: it is NULL when the last word was
	 * a stopword, a number or one letter, which the last word's probe
	 * decided, often just before the previous call returned. A branch on
	 * it is mispredicted often, and is resolved only when that probe ends.
	 * (t->prev_len is stale but defined when prev is NULL: t is calloc'ed.)
	 */
	size_t plen = t->prev_len;
	unsigned has = prev != NULL;
	/*
	 * Words here have at most 16 bytes, so a bigram of two of them always
	 * fits a term; only a long word before the first (from do_word()) may
	 * make one too long, and do_word() then takes the first word. Rarely
	 * true, so predicted whatever prev is.
	 */
	if (has & (plen + 1 + 16 > LIMIT_TERM_BYTES))
		return do_word(t, p, end);
	/*
	 * prev is in t->low or in scratch, and e is an offset in t->low:
	 * integer arithmetic, where low + e is prev's end. Without prev, e = i
	 * (nothing reads it before the first word sets it). The byte before
	 * the word exists (LOW_LEAD), and is indexed from lowbuf: low + (i - 1)
	 * with i = 0 would add SIZE_MAX to a pointer.
	 */
	uintptr_t pend = (uintptr_t)prev + plen;
	e = has ? pend - (uintptr_t)t->low : i;
	unsigned apart = !((pend + 1 == (uintptr_t)(t->low + i)) &
			   (t->lowbuf[LOW_LEAD - 1 + i] == ' '));
	unsigned adj = has * A_PAIR | (has & apart) * A_GAP;
	/*
	 * gaps: bits i, i + 1, ... of NOT t->word (a set bit: not a word
	 * byte), of which at least the first 39 are right; never zero.
	 *
	 * The chain from one word's length to the next one's limits this
	 * loop: one more load in it (about 6 cycles) cost 40 ns a post. So a
	 * word's bits are not loaded at its start, which put a load and two
	 * shifts in that chain, but shifted out of the 57 right bits loaded
	 * at the word before (ahead), of which that word, a separator and a
	 * space take at most 18. Each word's own load waits only for its
	 * start and is ready long before the next word needs it. The bits are
	 * kept inverted, with a stop bit (bit 50: after shifts by at most 18
	 * it is still above bit 17, and it keeps gaps nonzero for the count of
	 * zeros), and shifted by the one or two bytes after the word before
	 * the shift by the length, all off the chain: what remains in it is
	 * one shift and one count of zeros per word.
	 */
	uint64_t gaps = word_gaps(t, i);
	for (;;) {
		/* Two terms may follow: the word and its bigram. Near the cap, do_word() checks. */
		if (k > LIMIT_TOKENS_PER_POST - 2) /* not k + 2 > ...: one instruction less */
			goto general;
		/*
		 * A run of 17 word bytes or more is too long: n > 16 needs only
		 * bits 0..16 of gaps right, and the T_DOT test below bit n + 1
		 * <= 17.
		 */
		size_t n = ctz64(gaps);
		if (n > 16)
			goto general;
		uint64_t ahead = word_gaps(t, i); /* for the next word's gaps */
		const char *w = t->lowbuf + LOW_LEAD + i;
		/*
		 * One branch, which is rarely taken, rather than one on T_END
		 * and one on what follows a T_DOT byte: after a word both come
		 * often, in an order no predictor knows. Whether no word byte
		 * follows the T_DOT byte is bit n + 1 of the bitmap bits at
		 * hand (T_DOT is 2: bit 1 of gaps >> n), not a load of the
		 * byte and of its class: fewer instructions, and w[n + 1] is
		 * only read on the rare T_SEP path below. A Latin letter there
		 * (a word byte, though not ASCII) sends the word to do_word()
		 * too, which is the definition the fast path must agree with.
		 * A space (T_END), which ends nearly nine words in ten, skips
		 * the class test: the branch on it further down then follows
		 * this one, so it costs no misprediction of its own, and the
		 * test's instructions run for one word in ten (-70
		 * instructions a post).
		 */
		unsigned c = (uchar)w[n], tc = t->term[c];
		if (c != ' ' && !(tc & (T_END | ((unsigned)(gaps >> n) & T_DOT))))
			goto general;
		uint64_t ka, kb;
		stopword_key(w, n, &ka, &kb);
		/*
		 * Nothing branches on whether a word is a stopword: the word
		 * goes to tok[k] and its bigram to tok[k + 1], both before the
		 * probe, and the count moves by what was emitted: 0 (both are
		 * written again by the next term), 1 (the word), or 2 (the word
		 * and the bigram). About every second English word is a
		 * stopword; a branch there would be mispredicted half of the
		 * time. (With no word before, prev is NULL and is not used.)
		 */
		t->tok[k].s = w;
		t->tok[k].len = (uint16_t)n;
		t->tok[k].kind = TERM_WORD;
		t->src[k] = (uint32_t)i;
		t->tok[k + 1].s = prev;
		t->tok[k + 1].len = (uint16_t)((uintptr_t)t->low + e - (uintptr_t)prev + 1 + n);
		t->tok[k + 1].kind = TERM_BIGRAM;
		t->src[k + 1] = (uint32_t)i;
		unsigned stop = (unsigned)stopword_probe(t->sw_slots, t->sw_salt, t->sw_bucket_mask,
							 t->sw_nslots, t->sw_mult, ka, kb);
		/*
		 * A number (no letter) or a single letter is dropped. The key
		 * holds the word's lowercase letters and digits and two-byte
		 * letters, and only letters and lead bytes have bit 0x40 (the
		 * length byte is under 0x10, continuation bytes are 10xxxxxx).
		 * (Worked out after the probe, from the key it compared: before
		 * it, the outcome was one more value kept across the probe, on
		 * the stack.)
		 */
		unsigned drop = (((ka | kb) & 0x4040404040404040ull) == 0) |
				(n == 1u + ((uchar)ka >= 0xC0)); /* the key's low byte is w[0] */
		unsigned out = !(stop | drop);
		unsigned pair = out & adj;
		if (pair & (adj >> 1))
			t->copy[t->ncopy++] = (uint16_t)(k + 1); /* rare, so a branch */
		k += out + pair;
		prev = w;
		e = i + n;
		if (c == ' ') {
			adj = out;
			i = e + 1;
			gaps = (ahead >> 1) >> n;
		} else if ((tc & T_SEP) && w[n + 1] == ' ') {
			adj = (out & !(tc & T_BREAK)) | A_GAP;
			i = e + 2;
			gaps = (ahead >> 2) >> n;
		} else {
			adj = out;
			break;
		}
		/*
		 * The common case: a letter that does not start "http" (see
		 * fast_start()), in one branch: words starting with 'h' are not
		 * rare, and a branch on them would be mispredicted.
		 */
		uint32_t head;
		memcpy(&head, t->low + i, sizeof(head));
		uchar next = (uchar)t->low[i];
		if (((uchar)(next - 'a') < 26) & (head != WORD_HTTP))
			continue;
		if (next == '#') {
			t->ntok = k;
			const char *x = words_hashtags(t, t->low + i);
			k = t->ntok;
			if (!x)
				break;
			adj = 0;
			e = (size_t)(x - t->low);
			if (*x != ' ' || x[1] == '#')
				break; /* the main loop goes on after the hashtag */
			i = e + 1;
		}
		if (!fast_start(t, i))
			break;
		/* Not the common path: load them here (i <= the text length). */
		gaps = word_gaps(t, i);
	}
	t->ntok = k;
	t->prev = (adj & A_PAIR) ? prev : NULL;
	t->prev_len = (uintptr_t)t->low + e - (uintptr_t)prev;
	if (t->ncopy) /* rarely: not a call on every way out */
		bigrams_copy(t, t->copy, t->ncopy);
	return t->base + e; /* the end of the last word or hashtag */
general:
	t->ntok = k;
	t->prev = (adj & A_PAIR) ? prev : NULL;
	t->prev_len = (uintptr_t)t->low + e - (uintptr_t)prev;
	if (t->ncopy)
		bigrams_copy(t, t->copy, t->ncopy);
	if (full(t))
		return t->base + i;
	return do_word(t, t->base + i, end);
}

/* Length of a keycap sequence ([0-9#*] U+FE0F? U+20E3) at p, or 0. */
static size_t keycap_len(const uchar *p, const uchar *end)
{
	size_t left = (size_t)(end - p);
	if (left >= 4 && memcmp(p + 1, "\xE2\x83\xA3", 3) == 0)
		return 4;
	if (left >= 7 && memcmp(p + 1, "\xEF\xB8\x8F\xE2\x83\xA3", 6) == 0)
		return 7;
	return 0;
}

static const uchar *do_keycap(struct tokenizer *t, const uchar *p, size_t n)
{
	assert(n == 4 || n == 7);
	char *o = t->scratch + t->pos;
	o[0] = (char)p[0];
	memcpy(o + 1, "\xE2\x83\xA3", 3);
	emit_here(t, TERM_EMOJI, 4, p);
	t->prev = NULL;
	return p + n;
}

/* At '#' (sigil bytes long): a hashtag, or NULL. */
static const uchar *try_hashtag(struct tokenizer *t, const uchar *p, size_t sigil,
				const uchar *end)
{
	const uchar *b = p + sigil, *q = b;
	bool nondigit = false, ascii = true;
	/*
	 * Usually the body is ASCII letters and digits up to a byte that is
	 * neither '_' nor >= 0x80: the bitmaps give it at once. Otherwise the
	 * loop below reads it character by character.
	 */
	size_t off = (size_t)(b - t->base);
	/* At most 56: bits_from() is sure of 57 bits; a run that long goes to the loop. */
	size_t run = ctz64(~bits_from(t->alnum, off) | (1ull << 56));
	uchar stop = (uchar)t->low[off + run];
	if (FAST && stop != '_' && stop < 0x80 && run < 56) {
		q = b + run;
		nondigit = (bits_from(t->letter, off) & ((1ull << run) - 1)) != 0;
		goto scanned;
	}
	while (q < end) {
		uchar c = *q;
		if (c < 0x80) {
			if (ascii_alpha(c) || c == '_')
				nondigit = true;
			else if (!ascii_digit(c))
				break;
			q++;
			continue;
		}
		int n;
		uint8_t k = class_at(t, q, end, &n);
		if (k == CC_LETTER || k == CC_SPACELESS || k == CC_MARK) {
			nondigit = true;
		} else if (k == CC_JOINER || k == CC_MIDDOT) {
			if (q == b || !word_char_at(t, q + n, end))
				break;
		} else if (k != CC_DIGIT) {
			break;
		}
		ascii = false;
		q += n;
	}
scanned:
	if (q == b || !nondigit)
		return NULL;
	size_t raw = (size_t)(q - b);
	char *o = t->scratch + t->pos;
	int n = -1;
	if (FAST && ascii && raw < LIMIT_TERM_BYTES && sigil == 1) {
		/* "#" and the lowercased body are in the text copy already. */
		emit_view(t, TERM_HASHTAG, p, raw + 1, p);
	} else if (ascii && raw < LIMIT_TERM_BYTES) {
		for (size_t i = 0; i < raw; i++)
			o[1 + i] = ascii_lower(b[i]);
		n = (int)raw;
	} else if (!ascii && raw <= TOKENIZE_RAW_WORD_BYTES) {
		n = fold_text(t, b, raw, o + 1, LIMIT_TERM_BYTES - 1, ALLOW_TAG);
	}
	if (n > 0) {
		o[0] = '#';
		emit_here(t, TERM_HASHTAG, (size_t)n + 1, p);
	}
	t->prev = NULL;
	return q;
}

/* At '@' (sigil bytes long): a mention, or NULL. */
static const uchar *try_mention(struct tokenizer *t, const uchar *p, size_t sigil,
				const uchar *end)
{
	const uchar *u = p + sigil, *q = u;
	/* The user name usually ends at a byte that is not '_', '.' or '-'. */
	size_t off = (size_t)(u - t->base);
	size_t run = ctz64(~bits_from(t->alnum, off) | (1ull << 56)); /* 56: see try_hashtag() */
	uchar stop = (uchar)t->low[off + run];
	if (FAST && run < 56 && stop != '_' && stop != '.' && stop != '-') {
		q = u + run;
	} else {
		while (q < end) {
			if (ascii_alnum(*q) || *q == '_')
				q++;
			else if ((*q == '.' || *q == '-') && q > u && q + 1 < end &&
				 (ascii_alnum(q[1]) || q[1] == '_'))
				q++;
			else
				break;
		}
	}
	if (q == u)
		return NULL;
	if (q + 1 < end && *q == '@' && ascii_alnum(q[1])) {
		struct host h;
		if (parse_labels(t, q + 1, end, &h) && h.end[-1] != '-')
			q = h.end;
	}
	/* "@josé": a name that goes on in letters this syntax does not allow. */
	if (q < end && *q >= 0x80 && word_char_at(t, q, end))
		return NULL;
	size_t n = (size_t)(q - u) + 1;
	if (FAST && n <= LIMIT_TERM_BYTES && sigil == 1) {
		emit_view(t, TERM_MENTION, p, n, p); /* "@" and the name, lowercased, are in t->low */
	} else if (n <= LIMIT_TERM_BYTES) {
		char *o = t->scratch + t->pos;
		o[0] = '@';
		for (size_t i = 1; i < n; i++)
			o[i] = ascii_lower(u[i - 1]);
		emit_here(t, TERM_MENTION, n, p);
	}
	t->prev = NULL;
	return q;
}

/* At '$': a cashtag ("$TSLA", "$BRK.B"), or NULL. */
static const uchar *try_cashtag(struct tokenizer *t, const uchar *p, const uchar *end)
{
	const uchar *s = p + 1, *q = s;
	while (q < end && ascii_alpha(*q) && q - s <= 6)
		q++;
	size_t n = (size_t)(q - s);
	if (n == 0 || n > 6)
		return NULL;
	if (q + 1 < end && *q == '.' && ascii_alpha(q[1])) {
		const uchar *x = q + 1;
		while (x < end && ascii_alpha(*x) && x - q <= 3)
			x++;
		bool ends = x == end || (!ascii_alnum(*x) && *x != '_' && !word_char_at(t, x, end));
		if (x - q - 1 <= 2 && ends)
			q = x;
	}
	if (q < end && (ascii_alnum(*q) || *q == '_' || (*q >= 0x80 && word_char_at(t, q, end))))
		return NULL;
	char *o = t->scratch + t->pos;
	o[0] = '$';
	for (size_t i = 0; i < (size_t)(q - s); i++)
		o[1 + i] = ascii_lower(s[i]);
	emit_here(t, TERM_CASHTAG, (size_t)(q - s) + 1, p);
	t->prev = NULL;
	return q;
}

/* After '$' and a digit: skips an amount ("$5", "$5.00", "$10B"), which is no term. */
static const uchar *skip_amount(struct tokenizer *t, const uchar *p, const uchar *end)
{
	while (p < end && (ascii_alnum(*p) ||
			   ((*p == '.' || *p == ',') && p + 1 < end && ascii_alnum(p[1]))))
		p++;
	t->prev = NULL;
	return p;
}

/* Extended_Pictographic symbols that are text unless U+FE0F follows. */
static bool text_default(int32_t cp)
{
	return cp == 0x00A9 || cp == 0x00AE || cp == 0x203C || cp == 0x2049 || cp == 0x2122 ||
	       cp == 0x2139 || (cp >= 0x2194 && cp <= 0x2199) || cp == 0x21A9 || cp == 0x21AA ||
	       cp == 0x24C2;
}

/* At an emoji code point cp (n bytes): one grapheme cluster as an emoji term. */
static const uchar *do_emoji(struct tokenizer *t, const uchar *p, int32_t cp, int n,
			     const uchar *end)
{
	const uchar *q = p + n;
	t->prev = NULL;
	if (text_default(cp) && !(end - q >= 3 && memcmp(q, "\xEF\xB8\x8F", 3) == 0))
		return q;
	utf8proc_int32_t state = 0, last = cp;
	while (q < end) {
		int32_t nx;
		int k = utf8_decode(q, end, &nx);
		if (k < 0 || utf8proc_grapheme_break_stateful(last, nx, &state))
			break;
		last = nx;
		q += k;
	}
	char *o = t->scratch + t->pos;
	size_t len = 0;
	for (const uchar *x = p; x < q;) {
		if (end - x >= 3 && x[0] == 0xEF && x[1] == 0xB8 &&
		    (x[2] == 0x8E || x[2] == 0x8F)) {
			x += 3;
			continue;
		}
		if (len == LIMIT_TERM_BYTES)
			return q; /* longer than a term may be */
		o[len++] = (char)*x++;
	}
	if (len)
		emit_here(t, TERM_EMOJI, len, p);
	return q;
}

/*
 * Kana and CJK unified ideographs that NFKC_Casefold leaves alone and that
 * never join the previous character in a grapheme cluster: runs of only these
 * skip utf8proc (the unit test checks both claims against utf8proc).
 */
static inline bool cjk_identity(int32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3041 && cp <= 0x3096) ||
	       (cp >= 0x30A1 && cp <= 0x30FA) || (cp >= 0x3400 && cp <= 0x4DBF) ||
	       cp == 0x309D || cp == 0x309E || (cp >= 0x30FC && cp <= 0x30FE);
}

/* Whether c (normalized text) continues the current grapheme unit of a CJK run. */
static bool attaches(int32_t c)
{
	const utf8proc_property_t *pr = utf8proc_get_property(c);
	return pr->boundclass == UTF8PROC_BOUNDCLASS_EXTEND ||
	       pr->boundclass == UTF8PROC_BOUNDCLASS_SPACINGMARK ||
	       pr->boundclass == UTF8PROC_BOUNDCLASS_ZWJ ||
	       (pr->category >= UTF8PROC_CATEGORY_MN && pr->category <= UTF8PROC_CATEGORY_ME);
}

static void emit_cjk(struct tokenizer *t, const uchar *a, size_t an, const uchar *b, size_t bn,
		     const uchar *src)
{
	if (full(t) || an + bn > LIMIT_TERM_BYTES)
		return;
	char *o = t->scratch + t->pos;
	memcpy(o, a, an);
	if (bn)
		memcpy(o + an, b, bn);
	if (!is_stopword(t, o, an + bn))
		emit_here(t, TERM_WORD, an + bn, src);
}

/*
 * A run of characters of scripts without spaces, starting at p. Normalized
 * CJK_CHUNK characters at a time; consecutive chunks share one character so
 * the bigram across the seam is not lost.
 */
static const uchar *do_cjk(struct tokenizer *t, const uchar *p, const uchar *end)
{
	const uchar *cs = p;
	bool first = true;
	t->prev = NULL;
	for (;;) {
		const uchar *q = cs, *last_base = cs;
		size_t bases = 0;
		bool run_end = false;
		bool simple = true;
		for (;;) {
			int32_t cp;
			int n;
			if (q >= end || *q < 0x80 || (n = utf8_decode(q, end, &cp)) < 0) {
				run_end = true;
				break;
			}
			uint8_t k = cp_class(t, cp);
			if (k == CC_SPACELESS) {
				if (bases == CJK_CHUNK || q - cs >= CJK_CHUNK_RAW)
					break;
				last_base = q;
				bases++;
			} else if (k != CC_MARK) {
				run_end = true;
				break;
			}
			simple = simple && cjk_identity(cp);
			q += n;
		}
		int m;
		if (simple) {
			/* Kana and unified ideographs: three bytes each, already normalized. */
			size_t units = (size_t)(q - cs) / 3;
			for (const uchar *x = cs; x + 6 <= q; x += 3)
				emit_cjk(t, x, 3, x + 3, 3, cs);
			if (first && run_end && units == 1)
				emit_cjk(t, cs, 3, NULL, 0, cs);
		} else if ((m = nfkc_cf(t, cs, (size_t)(q - cs))) > 0) {
			const uchar *b = (const uchar *)t->u32, *bend = b + m;
			const uchar *us = NULL, *ps = NULL, *pe = NULL;
			size_t units = 0;
			for (const uchar *x = b;;) {
				int32_t c = 0;
				int k = 1;
				bool boundary = x >= bend;
				if (!boundary) {
					k = utf8_decode(x, bend, &c);
					if (k < 0)
						break;
					boundary = !attaches(c);
				}
				if (boundary && us) {
					if (ps)
						emit_cjk(t, ps, (size_t)(pe - ps), us,
							 (size_t)(x - us), cs);
					ps = us;
					pe = x;
					units++;
				}
				if (x >= bend)
					break;
				if (boundary)
					us = x;
				x += k;
			}
			if (first && run_end && units == 1)
				emit_cjk(t, ps, (size_t)(pe - ps), NULL, 0, cs);
		}
		if (run_end || full(t))
			return q;
		first = false;
		cs = last_base > cs ? last_base : q;
	}
}

/* ---- driver ---- */

/*
 * Whether prescan() may use AVX-512BW: the CPU (and the OS, for the
 * registers' state, which __builtin_cpu_supports() checks too) has it, and
 * TRENDD_TOKENIZE_ISA is not "sse2".
 */
static bool isa_avx512(void)
{
#if PRESCAN_AVX512
	const char *isa = getenv("TRENDD_TOKENIZE_ISA");
	if (isa && strcmp(isa, "sse2") == 0)
		return false;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
	return false;
#endif
}

struct tokenizer *tokenizer_new(const struct stopwords *sw)
{
	struct tokenizer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->sw = sw;
	t->low = t->lowbuf + LOW_LEAD;
	t->avx512 = isa_avx512();
	/* is_elision() finds the elisions of one length by elision_from[]. */
	for (size_t i = 0; i < sizeof(elisions) / sizeof(*elisions); i++) {
		assert(elisions[i].n >= 1 && elisions[i].n <= ELISION_MAX);
		assert(i >= elision_from[elisions[i].n] && i < elision_from[elisions[i].n + 1]);
	}
	assert(elision_from[ELISION_MAX + 1] == sizeof(elisions) / sizeof(*elisions));
	for (int c = 0; c < 128; c++) {
		uint8_t k = CC_OTHER;
		if (ascii_alpha((uchar)c))
			k = CC_LETTER;
		else if (ascii_digit((uchar)c))
			k = CC_DIGIT;
		else if (c <= 0x20 || c == 0x7F)
			k = (c == '\n' || c == '\r') ? CC_BREAK : CC_SPACE;
		else if (strchr(".!?;:,", c))
			k = CC_BREAK;
		else if (c == '\'')
			k = CC_APOS;
		else if (c == '-')
			k = CC_HYPHEN;
		else if (c == '#')
			k = CC_HASH;
		else if (c == '@')
			k = CC_AT;
		else if (c == '$')
			k = CC_DOLLAR;
		else if (c == '_')
			k = CC_UNDERSCORE;
		t->ascii[c] = k;
		if (k == CC_LETTER || k == CC_DIGIT)
			t->lower[c] = (uint8_t)ascii_lower((uchar)c);
		/*
		 * Between two words do_words() steps over what the main loop
		 * would only step over: separators, and sigils and '*' that a
		 * space follows (no hashtag, mention, cashtag or keycap then).
		 */
		bool ends = k != CC_LETTER && k != CC_DIGIT && c != '\'' && c != '-' && c != '.' &&
			    c != ',' && c != '@';
		bool dot = c == '.' || c == ',';
		t->term[c] = (uint8_t)(ends * T_END | dot * T_DOT | (ends || dot) * T_SEP |
				       ((ends || dot) && k == CC_BREAK) * T_BREAK);
		bool delim = c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '"';
		t->bytef[c] = (uint8_t)((ascii_alnum((uchar)c) || c == '-' || c == '.' || c == '_') *
					BF_HOST |
				(delim || c == '/' || c == '?' || c == '#') * BF_URL_END |
				!delim * BF_URL_REST);
	}
	/*
	 * Fast folds for U+0080..U+052F: a code point's own NFKC_Casefold, kept
	 * only when the composed result has no combining mark. Words with a mark
	 * in them take utf8proc, so in a word that uses the table no two folds
	 * can compose or reorder with each other, and concatenating them equals
	 * folding the word (the unit test checks this against utf8proc).
	 */
	for (int32_t cp = 0x80; cp < LATIN_END; cp++) {
		struct latin_fold *f = &t->latin[cp - 0x80];
		f->cls = cp_class_slow(cp);
		f->len = FOLD_NONE;
		if (f->cls != CC_LETTER && f->cls != CC_DIGIT && f->cls != CC_JOINER)
			continue;
		uchar in[4];
		utf8proc_ssize_t il = utf8proc_encode_char(cp, in);
		utf8proc_int32_t buf[32];
		utf8proc_ssize_t k =
			utf8proc_decompose_custom(in, il, buf, 31, FOLD_OPTS, NULL, NULL);
		if (k < 0 || k > 31)
			continue;
		k = utf8proc_normalize_utf32(buf, k, FOLD_OPTS); /* compose */
		if (k < 0)
			continue;
		bool marks = false;
		for (utf8proc_ssize_t i = 0; i < k; i++)
			marks = marks || cp_class_slow(buf[i]) == CC_MARK || buf[i] == 0x2019 ||
				buf[i] == 0x2010;
		if (marks)
			continue;
		utf8proc_ssize_t b = utf8proc_reencode(buf, k, FOLD_OPTS);
		if (b < 0 || b > (utf8proc_ssize_t)sizeof(f->s))
			continue;
		memcpy(f->s, buf, (size_t)b);
		f->len = (uint8_t)b;
	}
	return t;
}

void tokenizer_free(struct tokenizer *t)
{
	free(t);
}

const char *tokenizer_isa(const struct tokenizer *t)
{
	return t->avx512 ? "avx512" : PRESCAN_SSE2 ? "sse2" : "portable";
}

/* Sets t->mask and t->set for lang; posts come in a few languages, so they are remembered. */
static void set_lang(struct tokenizer *t, const char *lang)
{
	if (!lang)
		lang = "";
	/*
	 * Compared inline, byte by byte: language tags are a few bytes, and
	 * the loop stops at the remembered tag's NUL at the latest, so it
	 * never reads past the end of lang.
	 */
	for (size_t i = 0; i < t->nmemo; i++) {
		const char *m = t->memo[i].lang;
		size_t k = 0;
		while (m[k] == lang[k] && lang[k])
			k++;
		if (m[k] == lang[k]) {
			t->mask = t->memo[i].mask;
			t->set = t->memo[i].set;
			t->memo[i].used = true;
			return;
		}
	}
	t->mask = stopwords_lang_mask(t->sw, lang);
	t->set = stopwords_set(t->sw, t->mask);
	size_t n = strnlen(lang, sizeof(t->memo[0].lang));
	if (n == sizeof(t->memo[0].lang))
		return; /* too long to remember */
	/*
	 * Which entry to replace: the next one from memo_next not used since
	 * the hand last passed it (the "clock" approximation of least
	 * recently used). The common languages are used between two misses
	 * and stay, so a rare language replaces another rare one, and entries
	 * keep their places: moving hits to the front was measured to make
	 * the compares above mispredict more. The hand clears the marks it
	 * passes, so it stops within LANG_MEMO + 1 steps.
	 */
	size_t r = t->nmemo;
	if (r < LANG_MEMO) {
		t->nmemo++;
	} else {
		while (t->memo[t->memo_next].used) {
			t->memo[t->memo_next].used = false;
			t->memo_next = (t->memo_next + 1) % LANG_MEMO;
		}
		r = t->memo_next;
		t->memo_next = (t->memo_next + 1) % LANG_MEMO;
	}
	struct lang_memo *m = &t->memo[r];
	m->used = false;
	memcpy(m->lang, lang, n + 1);
	m->mask = t->mask;
	m->set = t->set;
}

/* Sets the stopword lists for lang, and whether do_words() can look words up in them. */
static void set_lists(struct tokenizer *t, const char *lang)
{
	set_lang(t, lang);
	t->words = FAST && (t->set || !t->sw);
	const struct stopword_set *set = t->set ? t->set : &no_stopwords;
	t->sw_slots = (const uint64_t (*)[2])set->slots;
	t->sw_salt = set->salt;
	t->sw_bucket_mask = set->bucket_mask;
	t->sw_nslots = set->slot_mask + 1;
	t->sw_mult = set->mult;
}

size_t tokenizer_run(struct tokenizer *t, const char *text, size_t len, const char *lang,
		     const struct token **out)
{
	set_lists(t, lang);
	t->ntok = 0;
	t->pos = 0;
	t->prev = NULL;
	*out = t->tok;
	if (!text)
		return 0;
	if (len > TOKENIZE_SCAN_BYTES) {
		/* Cut before a sequence the cap would split. */
		len = TOKENIZE_SCAN_BYTES;
		for (int i = 0; i < 3 && len > 0 && ((uchar)text[len] & 0xC0) == 0x80; i++)
			len--;
	}
	const uchar *p = (const uchar *)text, *end = p + len;
	t->base = p;
	t->host_stop = p;
	prescan(t, p, len);
	bool after_word = false; /* the previous character continues words */
	while (p < end && !full(t)) {
		uchar c = *p;
		const uchar *x;
		if (c < 0x80) {
			uint8_t k = t->ascii[c];
			/* The two common cases first, before the switch. */
			if (k == CC_SPACE) {
				p++;
				after_word = false;
				continue;
			}
			if (t->words && t->lower[c] && fast_start(t, (size_t)(p - t->base))) {
				p = do_words(t, p, end);
				after_word = true;
				continue;
			}
			switch (k) {
			case CC_LETTER:
				if ((c | 0x20) == 'h' && (x = try_url(t, p, end)) != NULL) {
					p = x;
					after_word = false;
					break;
				}
				p = t->words ? do_words(t, p, end) : do_word(t, p, end);
				after_word = true;
				break;
			case CC_DIGIT: { /* maybe a keycap: "1\uFE0F\u20E3" */
				size_t kc = keycap_len(p, end);
				if (kc) {
					p = do_keycap(t, p, kc);
					after_word = false;
				} else {
					p = t->words ? do_words(t, p, end) : do_word(t, p, end);
					after_word = true;
				}
				break;
			}
			case CC_BREAK:
				t->prev = NULL;
				p++;
				after_word = false;
				break;
			case CC_HASH: {
				size_t kc = keycap_len(p, end);
				if (kc)
					x = do_keycap(t, p, kc);
				else
					x = after_word ? NULL : try_hashtag(t, p, 1, end);
				p = x ? x : p + 1;
				after_word = false;
				break;
			}
			case CC_AT:
				x = after_word ? NULL : try_mention(t, p, 1, end);
				p = x ? x : p + 1;
				after_word = false;
				break;
			case CC_DOLLAR:
				x = after_word ? NULL : try_cashtag(t, p, end);
				if (!x && p + 1 < end && ascii_digit(p[1]))
					x = skip_amount(t, p + 1, end);
				p = x ? x : p + 1;
				after_word = false;
				break;
			case CC_UNDERSCORE:
				p++;
				after_word = true;
				break;
			default: {
				size_t kc = c == '*' ? keycap_len(p, end) : 0;
				p = kc ? do_keycap(t, p, kc) : p + 1;
				after_word = false;
				break;
			}
			}
			continue;
		}
		size_t off = (size_t)(p - t->base);
		if (t->words && ((t->word[off / 64] >> (off % 64)) & 1)) {
			p = do_words(t, p, end); /* a letter prescan_latin() marked */
			after_word = true;
			continue;
		}
		int32_t cp;
		int n = utf8_decode(p, end, &cp);
		if (n < 0) {
			p++; /* invalid byte: U+FFFD, a symbol */
			after_word = false;
			continue;
		}
		switch (cp_class(t, cp)) {
		case CC_LETTER:
		case CC_DIGIT:
		case CC_MARK:
			p = do_word(t, p, end);
			after_word = true;
			break;
		case CC_SPACELESS:
			p = do_cjk(t, p, end);
			after_word = true;
			break;
		case CC_EMOJI:
			p = do_emoji(t, p, cp, n, end);
			after_word = false;
			break;
		case CC_HASH:
			x = after_word ? NULL : try_hashtag(t, p, (size_t)n, end);
			p = x ? x : p + n;
			after_word = false;
			break;
		case CC_AT:
			x = after_word ? NULL : try_mention(t, p, (size_t)n, end);
			p = x ? x : p + n;
			after_word = false;
			break;
		case CC_BREAK:
			t->prev = NULL;
			p += n;
			after_word = false;
			break;
		default:
			p += n;
			after_word = false;
			break;
		}
	}
	return t->ntok;
}
