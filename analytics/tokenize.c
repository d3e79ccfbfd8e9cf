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
/* Every term fits, each word with the space emit_word() puts after it. */
#define SCRATCH_BYTES  (LIMIT_TOKENS_PER_POST * (LIMIT_TERM_BYTES + 1) + SCRATCH_SLACK)
/* Bytes past any term that may be read (stopword keys) or scribbled on (word scan). */
#define SCRATCH_SLACK  16
#define CJK_CHUNK      64    /* characters of a CJK run normalized in one call */
#define CJK_CHUNK_RAW  384   /* ... or this many raw bytes, whichever comes first */
#define EMAIL_LOCAL_MAX 64   /* RFC 5321 local-part limit */
#define HOST_MAX       253
#define FOLD_OPTS (UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STABLE | \
		   UTF8PROC_IGNORE)
#define FOLD_NONE      0xFF  /* latin table: no fast fold, use utf8proc */

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

struct tokenizer {
	const struct stopwords *sw;   /* borrowed */
	uint64_t mask;                /* stopword lists for the current text */
	char lang[LIMIT_POST_LANG_BYTES + 1];
	bool lang_cached;

	/* Per-call state. */
	const uchar *base;            /* start of the text */
	const uchar *host_stop;       /* bare-host parse already failed before here */
	const char *prev;             /* last word, while a bigram may follow it */
	size_t prev_len;
	size_t ntok, pos;             /* terms emitted, scratch bytes used */

	uint8_t ascii[128];
	uint8_t lower[256];           /* ASCII letter/digit -> lowercase, else 0 */
	uint8_t ends[256];            /* ASCII that ends a plain word outright */
	struct latin_fold latin[LATIN_END - 0x80];
	struct token tok[LIMIT_TOKENS_PER_POST];
	uint32_t src[LIMIT_TOKENS_PER_POST];  /* text offset each term came from */
	utf8proc_int32_t u32[U32_CAP];
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
			memcpy(out + o, f->s, f->len);
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

/* Emits the len bytes already written at scratch + pos. */
static inline void emit_here(struct tokenizer *t, int kind, size_t len, const uchar *src)
{
	struct token *k = &t->tok[t->ntok];
	k->s = t->scratch + t->pos;
	k->len = (uint16_t)len;
	k->kind = (uint8_t)kind;
	t->src[t->ntok] = (uint32_t)(src - t->base);
	t->ntok++;
	t->pos += len;
}

static inline bool is_stopword(const struct tokenizer *t, const char *s, size_t len)
{
	/* Terms are built in the scratch buffer, which has slack after every term. */
	return t->sw && stopwords_contains_padded(t->sw, s, len, t->mask);
}

/* Number of characters in s, not counting combining marks. */
static size_t base_chars(const struct tokenizer *t, const char *s, size_t len)
{
	const uchar *p = (const uchar *)s, *end = p + len;
	size_t n = 0;
	while (p < end) {
		int k;
		uint8_t c = class_at(t, p, end, &k);
		if (c != CC_MARK)
			n++;
		p += k;
	}
	return n;
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

static bool is_elision(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(elisions) / sizeof(*elisions); i++)
		if (elisions[i].n == n && memcmp(elisions[i].s, s, n) == 0)
			return true;
	return false;
}

/*
 * Emits the word at scratch + pos (n bytes) and the bigram it closes, if any.
 * Each emitted word is followed by a space in the scratch buffer, so the next
 * word, when adjacent, lands right after it and the bigram is a view of
 * "prev word" with nothing copied.
 */
static void emit_word(struct tokenizer *t, size_t n, const uchar *src)
{
	/*
	 * Branches, not arithmetic on the outcomes: a mispredicted stopword
	 * test costs less than making every word wait for the table lookup.
	 */
	char *o = t->scratch + t->pos;
	if (is_stopword(t, o, n)) {
		t->prev = NULL;
		return;
	}
	emit_here(t, TERM_WORD, n, src);
	t->scratch[t->pos++] = ' ';
	if (t->prev && !full(t) && t->prev_len + 1 + n <= LIMIT_TERM_BYTES) {
		assert(t->prev + t->prev_len + 1 == o);
		struct token *k = &t->tok[t->ntok];
		k->s = t->prev;
		k->len = (uint16_t)(t->prev_len + 1 + n);
		k->kind = TERM_BIGRAM;
		t->src[t->ntok] = (uint32_t)(src - t->base);
		t->ntok++;
	}
	t->prev = o;
	t->prev_len = n;
}

static void word_from_run(struct tokenizer *t, const struct run *r)
{
	size_t raw = (size_t)(r->e - r->s);
	char *o = t->scratch + t->pos;
	int n;
	if (!r->letter || raw > TOKENIZE_RAW_WORD_BYTES)
		goto drop;
	if (!r->nonascii) {
		if (raw > LIMIT_TERM_BYTES)
			goto drop;
		for (size_t i = 0; i < raw; i++)
			o[i] = ascii_lower(r->s[i]);
		n = (int)raw;
	} else {
		n = fold_text(t, r->s, raw, o, LIMIT_TERM_BYTES, ALLOW_WORD);
		if (n < 0)
			goto drop;
	}
	if (r->apos) {
		char *a = memchr(o, '\'', (size_t)n);
		if (a && a > o && a + 1 < o + n && is_elision(o, (size_t)(a - o))) {
			size_t cut = (size_t)(a - o) + 1;
			memmove(o, a + 1, (size_t)n - cut);
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
	if (n == 1 || (r->nonascii && n <= 16 && base_chars(t, o, (size_t)n) == 1))
		goto drop;
	emit_word(t, (size_t)n, r->s);
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
static bool parse_labels(const uchar *p, const uchar *end, struct host *h)
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

/* Skips the rest of a URL: everything up to white space or a delimiter. */
static const uchar *skip_url_rest(const struct tokenizer *t, const uchar *p, const uchar *end)
{
	while (p < end) {
		uchar c = *p;
		if (c < 0x80) {
			if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '"')
				break;
			p++;
			continue;
		}
		int n;
		uint8_t k = class_at(t, p, end, &n);
		if (k == CC_SPACE || k == CC_BREAK || k == CC_OTHER || k == CC_EMOJI)
			break;
		p += n;
	}
	return p;
}

/* Writes host (lowercased, "www." stripped when a dot remains) as a domain term. */
static void emit_domain(struct tokenizer *t, const uchar *s, size_t n, const uchar *src)
{
	if (n > 4 && memchr(s + 4, '.', n - 4) && (s[0] | 0x20) == 'w' && (s[1] | 0x20) == 'w' &&
	    (s[2] | 0x20) == 'w' && s[3] == '.') {
		s += 4;
		n -= 4;
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
	/* Authority: up to '/', '?', '#' or the end of the URL. */
	const uchar *a = q;
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
			emit_domain(t, hs, (size_t)(he - hs), p);
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
	bool ok = parse_labels(s, end, &h);
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
	emit_domain(t, s, (size_t)(h.end - s), s);
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
	if (!parse_labels(at + 1, end, &h) || h.nlabels < 2 || !h.tld_alpha || h.tld_len < 2)
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
	while (t->ntok > 0 && t->src[t->ntok - 1] >= off) {
		t->ntok--;
		/* A bigram starts at its first word, which may lie before the address. */
		if (t->tok[t->ntok].kind != TERM_BIGRAM)
			t->pos = (size_t)(t->tok[t->ntok].s - t->scratch);
	}
	t->prev = NULL;
	return h.end;
}

/*
 * SWAR word scan for little-endian machines with a count-trailing-zeros
 * builtin: classifies eight ASCII bytes at once, so the length of a short
 * word costs one predictable branch instead of one per byte.
 */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_SCAN 1
#define SWAR_HI   0x8080808080808080ull
#define SWAR_ONES 0x0101010101010101ull

/* 0x80 in each byte of y (all < 0x80) that is >= c. */
#define SWAR_GE(y, c) (((y) + SWAR_ONES * (0x80 - (c))) & SWAR_HI)

/* 0x80 in each byte of x that is an ASCII letter or digit; *upper and *letters likewise. */
static inline uint64_t swar_alnum(uint64_t x, uint64_t *upper, uint64_t *letters)
{
	uint64_t ascii = ~x & SWAR_HI, y = x & ~SWAR_HI;
	uint64_t folded = y | (SWAR_ONES * 0x20); /* 'A'..'Z' onto 'a'..'z' */
	uint64_t digit = SWAR_GE(y, '0') & ~SWAR_GE(y, '9' + 1);
	uint64_t alpha = SWAR_GE(folded, 'a') & ~SWAR_GE(folded, 'z' + 1) & ascii;
	*upper = alpha & ~((y & (SWAR_ONES * 0x20)) << 2); /* letters without bit 0x20 */
	*letters = alpha;
	return (digit & ascii) | alpha;
}
#else
#define SWAR_SCAN 0
#endif

static const uchar *do_word(struct tokenizer *t, const uchar *p, const uchar *end)
{
	/*
	 * Fast path for the common case: an ASCII letter/digit run that ends at
	 * a character needing no further look (space, most punctuation, or '.'
	 * and ',' not followed by a letter or digit). It lowercases while it
	 * scans, and goes straight on to the next word when one space separates
	 * them. Anything else is scanned again by the general path.
	 */
	const uchar *s;
next:
	s = p;
	size_t room = (size_t)(end - p);
	const uchar *lim = p + (room < LIMIT_TERM_BYTES ? room : LIMIT_TERM_BYTES);
	char *o = t->scratch + t->pos;
	uchar acc = 0, l;
#if SWAR_SCAN
	/* Eight bytes at a time while they can be loaded and stored whole. */
	while (lim - p >= 8) {
		uint64_t x, upper, letters;
		memcpy(&x, p, 8);
		uint64_t word = swar_alnum(x, &upper, &letters);
		uint64_t stop = ~word & SWAR_HI;
		x |= upper >> 2; /* 'A'..'Z' + 0x20 */
		memcpy(o, &x, 8);
		if (stop) {
			uint64_t below = (stop & (0 - stop)) - 1; /* bytes before the first stop */
			size_t k = (size_t)__builtin_ctzll(stop) / 8;
			acc |= (letters & below) ? 0x40 : 0;
			p += k;
			o += k;
			goto scanned;
		}
		acc |= letters ? 0x40 : 0;
		p += 8;
		o += 8;
	}
#endif
	while (p < lim && (l = t->lower[*p]) != 0) {
		*o++ = (char)l;
		acc |= l;
		p++;
	}
#if SWAR_SCAN
scanned:
#endif
	if (p == end || t->ends[*p] ||
	    ((*p == '.' || *p == ',') && (p + 1 == end || !ascii_alnum(p[1])))) {
		size_t n = (size_t)(p - s);
		/* Letters have bit 0x40, digits do not: no letter means a number. */
		if (!(acc & 0x40) || n == 1)
			t->prev = NULL;
		else
			emit_word(t, n, s);
		/* One decision, not a chain of branches on unpredictable bytes. */
		if (end - p >= 2 &&
		    ((*p == ' ') & ascii_alpha(p[1]) & ((p[1] | 0x20) != 'h') & !full(t))) {
			p++;
			goto next;
		}
		/* The same after ". " and ", ", which end adjacency. */
		if (end - p >= 3 && (*p == '.' || *p == ',') && p[1] == ' ' && ascii_alpha(p[2]) &&
		    (p[2] | 0x20) != 'h' && !full(t)) {
			t->prev = NULL;
			p += 2;
			goto next;
		}
		return p;
	}
	p = s;

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
	if (q == b || !nondigit)
		return NULL;
	size_t raw = (size_t)(q - b);
	char *o = t->scratch + t->pos;
	int n = -1;
	if (ascii && raw < LIMIT_TERM_BYTES) {
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
	while (q < end) {
		if (ascii_alnum(*q) || *q == '_')
			q++;
		else if ((*q == '.' || *q == '-') && q > u && q + 1 < end &&
			 (ascii_alnum(q[1]) || q[1] == '_'))
			q++;
		else
			break;
	}
	if (q == u)
		return NULL;
	if (q + 1 < end && *q == '@' && ascii_alnum(q[1])) {
		struct host h;
		if (parse_labels(q + 1, end, &h) && h.end[-1] != '-')
			q = h.end;
	}
	/* "@josé": a name that goes on in letters this syntax does not allow. */
	if (q < end && *q >= 0x80 && word_char_at(t, q, end))
		return NULL;
	size_t n = (size_t)(q - u) + 1;
	if (n <= LIMIT_TERM_BYTES) {
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

struct tokenizer *tokenizer_new(const struct stopwords *sw)
{
	struct tokenizer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->sw = sw;
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
		else
			t->ends[c] = c != '\'' && c != '-' && c != '.' && c != ',' && c != '@';
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

static void set_lang(struct tokenizer *t, const char *lang)
{
	if (!lang)
		lang = "";
	size_t n = strnlen(lang, sizeof(t->lang));
	if (n < sizeof(t->lang)) {
		if (t->lang_cached && strcmp(t->lang, lang) == 0)
			return;
		memcpy(t->lang, lang, n + 1);
		t->lang_cached = true;
	} else {
		t->lang_cached = false;
	}
	t->mask = stopwords_lang_mask(t->sw, lang);
}

size_t tokenizer_run(struct tokenizer *t, const char *text, size_t len, const char *lang,
		     const struct token **out)
{
	set_lang(t, lang);
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
			if (t->lower[c] && (c | 0x20) != 'h') {
				size_t kc = ascii_digit(c) ? keycap_len(p, end) : 0;
				if (!kc) {
					p = do_word(t, p, end);
					after_word = true;
					continue;
				}
			}
			switch (k) {
			case CC_LETTER:
				if ((c | 0x20) == 'h' && (x = try_url(t, p, end)) != NULL) {
					p = x;
					after_word = false;
					break;
				}
				p = do_word(t, p, end);
				after_word = true;
				break;
			case CC_DIGIT: /* here only at a keycap: "1\uFE0F\u20E3" */
				p = do_keycap(t, p, keycap_len(p, end));
				after_word = false;
				break;
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
