/*
 * test_tokenize.c - analytics/tokenize.c and analytics/stopwords.c.
 *
 * Most tests state the exact term list a text yields, written as
 * "kind:term|kind:term|..." so a failure shows both lists side by side.
 *
 * This file also compiles tokenize.c a second time, as the reference
 * tokenizer ref_tokenizer_*(): with TOKENIZE_REFERENCE (none of its
 * shortcuts: word loop, ASCII fast paths, compact stopword sets) and
 * TOKENIZE_PORTABLE (no SSE2). The shortcut tests compare the two builds
 * term by term on generated and real text.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

#include "analytics/tokenize.h"
#include "core/hash.h"
#include "core/term.h"
#include "tests/unit/testutil.h"

/* ---- the reference build of tokenize.c ---- */

#define TOKENIZE_REFERENCE 1
#define TOKENIZE_PORTABLE 1
#define tokenizer_new ref_tokenizer_new
#define tokenizer_free ref_tokenizer_free
#define tokenizer_run ref_tokenizer_run
#define tokenizer_isa ref_tokenizer_isa
const char *ref_tokenizer_isa(const struct tokenizer *t);
struct tokenizer *ref_tokenizer_new(const struct stopwords *sw);
void ref_tokenizer_free(struct tokenizer *t);
size_t ref_tokenizer_run(struct tokenizer *t, const char *text, size_t len, const char *lang,
			 const struct token **out);
#include "analytics/tokenize.c"
#undef tokenizer_new
#undef tokenizer_free
#undef tokenizer_run
#undef tokenizer_isa

/* NFKC_Casefold as utf8proc defines it: what every term is normalized to. */
#define FOLD (UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STABLE | \
	      UTF8PROC_IGNORE)

static struct stopwords *sw;
static struct tokenizer *tk;

static void setup(void)
{
	char err[256] = "";
	int rc = stopwords_load(&sw, TRENDD_TEST_DATA_DIR, err, sizeof(err));
	ck_assert_msg(rc == 0, "stopwords_load: %s", err);
	tk = tokenizer_new(sw);
	ck_assert_ptr_nonnull(tk);
}

static void teardown(void)
{
	tokenizer_free(tk);
	stopwords_free(sw);
	tk = NULL;
	sw = NULL;
}

/* Renders terms as "kind:term|...". Returns a static buffer. */
static const char *render(const struct token *tok, size_t n)
{
	static char buf[1 << 16];
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + o, sizeof(buf) - o, "%s%s:%.*s", i ? "|" : "",
				 term_kind_name(tok[i].kind), (int)tok[i].len, tok[i].s);
		ck_assert(w > 0 && (size_t)w < sizeof(buf) - o);
		o += (size_t)w;
	}
	return buf;
}

static const char *terms_n(struct tokenizer *t, const char *text, size_t len, const char *lang)
{
	const struct token *tok;
	size_t n = tokenizer_run(t, text, len, lang, &tok);
	return render(tok, n);
}

static const char *terms(const char *text, const char *lang)
{
	return terms_n(tk, text, strlen(text), lang);
}

#define EXPECT(text, lang, want) ck_assert_str_eq(terms(text, lang), want)

static bool valid_utf8(const char *s, size_t n)
{
	utf8proc_int32_t cp;
	for (size_t i = 0; i < n;) {
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
						      (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			return false;
		i += (size_t)k;
	}
	return true;
}

/* Properties every term list must have whatever the input. */
static void check_invariants(const struct token *tok, size_t n)
{
	ck_assert_uint_le(n, LIMIT_TOKENS_PER_POST);
	for (size_t i = 0; i < n; i++) {
		const struct token *k = &tok[i];
		ck_assert_uint_gt(k->len, 0);
		ck_assert_uint_le(k->len, LIMIT_TERM_BYTES);
		ck_assert_int_lt(k->kind, TERM_KIND_COUNT);
		ck_assert_msg(valid_utf8(k->s, k->len), "term %zu is not UTF-8", i);
		size_t spaces = 0;
		for (size_t j = 0; j < k->len; j++) {
			unsigned char c = (unsigned char)k->s[j];
			ck_assert_msg(c >= 0x20 && c != 0x7F, "control byte in term %zu", i);
			spaces += c == ' ';
		}
		ck_assert_uint_eq(spaces, k->kind == TERM_BIGRAM ? 1 : 0);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- words, normalization ---- */

START_TEST(test_tokenize_lowercases_words_and_joins_bigrams)
{
	EXPECT("Hello World", "en", "word:hello|word:world|bigram:hello world");
	EXPECT("Rust Compiler Released", "en",
	       "word:rust|word:compiler|bigram:rust compiler|word:released|"
	       "bigram:compiler released");
	EXPECT("", "en", "");
	EXPECT("   \t  ", "en", "");
}
END_TEST

START_TEST(test_tokenize_nfkc_folds_fullwidth_and_ligatures)
{
	EXPECT("ｆｕｌｌｗｉｄｔｈ", "en", "word:fullwidth");
	EXPECT("ﬁne ﬂow", "en", "word:fine|word:flow|bigram:fine flow");
	EXPECT("ＲＵＳＴ２０２６", "en", "word:rust2026");
	/* Fullwidth sigils are sigils. */
	EXPECT("＃Ｒｕｓｔ ＠ada", "en", "hashtag:#rust|mention:@ada");
	/* User names are ASCII: fullwidth letters after '@' are a word. */
	EXPECT("＠ａｄａ", "en", "word:ada");
	EXPECT("x² H₂O", "en", "word:x2|word:h2o|bigram:x2 h2o");
}
END_TEST

START_TEST(test_tokenize_case_folds_sharp_s_and_greek)
{
	EXPECT("STRASSE", "de", "word:strasse");
	EXPECT("Straße", "de", "word:strasse");
	EXPECT("ΟΔΥΣΣΕΥΣ Οδυσσεύς", "el", "word:οδυσσευσ|word:οδυσσεύσ|bigram:οδυσσευσ οδυσσεύσ");
	EXPECT("ÉCOLE École école", "fr",
	       "word:école|word:école|bigram:école école|word:école|bigram:école école");
	EXPECT("İstanbul", "tr", "word:i̇stanbul");
}
END_TEST

START_TEST(test_tokenize_composes_combining_marks)
{
	/* e + U+0301 is composed to é; marks never split a word. */
	EXPECT("e\xCC\x81" "cole cafe\xCC\x81", "fr", "word:école|word:café|bigram:école café");
	EXPECT("ñ́x", "es", "word:ñ́x");
	/* Devanagari vowel signs and virama stay on their base. */
	EXPECT("नमस्ते दुनिया", "hi", "word:नमस्ते|word:दुनिया|bigram:नमस्ते दुनिया");
	/* Soft hyphen and zero-width joiners inside a word disappear. */
	EXPECT("co\xC2\xADoperate", "en", "word:cooperate");
	EXPECT("می\xE2\x80\x8Cخواهم", "fa", "word:میخواهم");
}
END_TEST

START_TEST(test_tokenize_rtl_words_and_arabic_marks)
{
	EXPECT("مرحبا بالعالم", "ar", "word:مرحبا|word:بالعالم|bigram:مرحبا بالعالم");
	EXPECT("שלום עולם", "he", "word:שלום|word:עולם|bigram:שלום עולם");
	/* Harakat are marks: they stay attached. */
	EXPECT("مَرْحَبًا", "ar", "word:مَرْحَبًا");
	/* Presentation forms fold to the base letters. */
	EXPECT("ﻣﺮﺣﺒﺎ", "ar", "word:مرحبا");
	/* Arabic question mark and comma break adjacency. */
	EXPECT("كتاب؟ قلم، ورقة", "ar", "word:كتاب|word:قلم|word:ورقة");
}
END_TEST

START_TEST(test_tokenize_direction_marks_change_no_term)
{
	/*
	 * RLE/PDF, RLM and isolates (default-ignorable format characters) only
	 * order the display: around words they separate, inside a word they are
	 * dropped by the fold, and they never end up in a term.
	 */
	EXPECT("\xE2\x80\xAB" "שלום" "\xE2\x80\xAC \xE2\x80\x8F" "עולם", "he",
	       "word:שלום|word:עולם|bigram:שלום עולם");
	EXPECT("\xE2\x81\xA7" "hello" "\xE2\x81\xA9 world", "en",
	       "word:hello|word:world|bigram:hello world");
	EXPECT("שלום" "\xE2\x80\x8F" "עולם", "he", "word:שלוםעולם");
	/* A mark between a sigil and its body leaves the sigil alone. */
	EXPECT("#\xE2\x80\x8F" "rust \xE2\x80\x8F" "@ada", "en", "word:rust|mention:@ada");
}
END_TEST

START_TEST(test_tokenize_drops_numbers_and_one_letter_words)
{
	EXPECT("2026 3.14 1,000 1.000,50 42", "en", "");
	EXPECT("a I x é ß", "", "word:ss");
	EXPECT("4k mp3 covid19 1st", "en",
	       "word:4k|word:mp3|bigram:4k mp3|word:covid19|bigram:mp3 covid19|word:1st|"
	       "bigram:covid19 1st");
	/* A number breaks adjacency. */
	EXPECT("iphone 15 pro", "en", "word:iphone|word:pro");
	/* Money is no term. */
	EXPECT("raised $10B for $5.00 coffee", "en", "word:raised|word:coffee");
}
END_TEST

START_TEST(test_tokenize_apostrophes_hyphens_and_elisions)
{
	EXPECT("rock'n'roll", "en", "word:rock'n'roll");
	EXPECT("O’Brien", "en", "word:o'brien");
	EXPECT("Trump's tweets", "en", "word:trump|word:tweets|bigram:trump tweets");
	EXPECT("Trump’s", "en", "word:trump");
	/* Whole-word stopwords are checked before the possessive is cut. */
	EXPECT("it's don't don’t", "en", "");
	EXPECT("l'état de l'Europe", "fr", "word:état|word:europe");
	EXPECT("dell'anno qu'il", "it", "word:anno");
	EXPECT("'quoted' words", "en", "word:quoted|word:words|bigram:quoted words");
	EXPECT("covid-19 e-mail state-of-the-art", "en",
	       "word:covid-19|word:e-mail|bigram:covid-19 e-mail|word:state-of-the-art|"
	       "bigram:e-mail state-of-the-art");
	EXPECT("well‐known", "en", "word:well-known");
	EXPECT("--dash-- - x-", "en", "word:dash");
	EXPECT("col·lecció", "ca", "word:col·lecció");
}
END_TEST

START_TEST(test_tokenize_drops_words_longer_than_term_limit)
{
	char text[600];
	memset(text, 'a', LIMIT_TERM_BYTES);
	text[LIMIT_TERM_BYTES] = 0;
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, LIMIT_TERM_BYTES, "en", &tok);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(tok[0].len, LIMIT_TERM_BYTES);
	memset(text, 'b', LIMIT_TERM_BYTES + 1);
	n = tokenizer_run(tk, text, LIMIT_TERM_BYTES + 1, "en", &tok);
	ck_assert_uint_eq(n, 0);
	/* Non-ASCII too: 65 two-byte letters are 130 bytes. */
	size_t o = 0;
	for (int i = 0; i < 65; i++) {
		memcpy(text + o, "é", 2);
		o += 2;
	}
	ck_assert_uint_eq(tokenizer_run(tk, text, o, "en", &tok), 0);
	ck_assert_uint_eq(tokenizer_run(tk, text, o - 2, "en", &tok), 1);
	/* Two 64-byte words make a 129-byte bigram, which is not emitted. */
	memset(text, 'c', 64);
	text[64] = ' ';
	memset(text + 65, 'd', 64);
	n = tokenizer_run(tk, text, 129, "en", &tok);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(tok[1].kind, TERM_WORD);
	/* A long word breaks adjacency. */
	memset(text, 'e', 300);
	memcpy(text, "alpha ", 6);
	memcpy(text + 294, " beta", 5);
	ck_assert_str_eq(terms_n(tk, text, 299, "en"), "word:alpha|word:beta");
}
END_TEST

START_TEST(test_tokenize_fast_fold_table_matches_utf8proc)
{
	/*
	 * Words made of Latin, Greek and Cyrillic letters take a table path;
	 * it must give exactly what utf8proc gives for the same word.
	 */
	struct tokenizer *plain = tokenizer_new(NULL);
	ck_assert_ptr_nonnull(plain);
	int checked = 0;
	utf8proc_int32_t prev = 'x';
	for (utf8proc_int32_t cp = 0x80; cp < 0x530; cp++) {
		const utf8proc_property_t *pr = utf8proc_get_property(cp);
		if (pr->category < UTF8PROC_CATEGORY_LU || pr->category > UTF8PROC_CATEGORY_LO)
			continue;
		/* "qz" + previous letter + this letter + "k": folds must not interact. */
		char text[16];
		size_t n = 0;
		text[n++] = 'q';
		text[n++] = 'z';
		n += (size_t)utf8proc_encode_char(prev, (utf8proc_uint8_t *)text + n);
		n += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)text + n);
		text[n++] = 'k';
		prev = cp;
		utf8proc_uint8_t *want = NULL;
		utf8proc_ssize_t wl = utf8proc_map((const utf8proc_uint8_t *)text,
						   (utf8proc_ssize_t)n, &want, FOLD);
		ck_assert_int_gt(wl, 0);
		/* A fold that is not one word (U+037A becomes " \u0345") is dropped. */
		bool one_word = true;
		for (utf8proc_ssize_t i = 0; i < wl; i++)
			one_word = one_word && (want[i] >= 0x80 || isalnum(want[i]) ||
						want[i] == '\'' || want[i] == '-');
		const struct token *tok;
		size_t k = tokenizer_run(plain, text, n, "", &tok);
		if (!one_word) {
			ck_assert_msg(k == 0, "U+%04X: %zu terms", (unsigned)cp, k);
			free(want);
			continue;
		}
		ck_assert_msg(k == 1, "U+%04X: %zu terms", (unsigned)cp, k);
		ck_assert_msg(tok[0].len == wl && memcmp(tok[0].s, want, (size_t)wl) == 0,
			      "U+%04X: got %.*s want %s", (unsigned)cp, (int)tok[0].len, tok[0].s,
			      want);
		free(want);
		checked++;
	}
	ck_assert_int_gt(checked, 700);
	tokenizer_free(plain);
}
END_TEST

/* ---- hashtags, mentions, cashtags ---- */

START_TEST(test_tokenize_hashtags)
{
	EXPECT("#Rust #rust_lang #東京オリンピック #Straße #1st #covid19", "en",
	       "hashtag:#rust|hashtag:#rust_lang|hashtag:#東京オリンピック|hashtag:#strasse|"
	       "hashtag:#1st|hashtag:#covid19");
	/* Joiners inside, not at the end. */
	EXPECT("#ab\xE2\x80\x8C" "cd #xy\xE2\x80\x8C", "", "hashtag:#abcd|hashtag:#xy");
	/* Ends at punctuation and hyphen. */
	EXPECT("#covid-19, #rust.", "en", "hashtag:#covid|hashtag:#rust");
	EXPECT("(#tag)", "en", "hashtag:#tag");
}
END_TEST

START_TEST(test_tokenize_rejects_non_hashtags)
{
	/* Digits only, after a word character, empty. */
	EXPECT("#1 #2026 C# foo#bar # x ##", "en", "word:foo|word:bar|bigram:foo bar");
	EXPECT("#_", "en", "hashtag:#_");
	EXPECT("#👍", "en", "emoji:👍");
}
END_TEST

START_TEST(test_tokenize_mentions)
{
	EXPECT("@Ada @ada@Example.ORG @alice.bsky.social. @under_score", "en",
	       "mention:@ada|mention:@ada@example.org|mention:@alice.bsky.social|"
	       "mention:@under_score");
	EXPECT("cc @bob: hi", "en", "word:cc|mention:@bob|word:hi");
	/* Trailing dot and hyphen are not part of the host. */
	EXPECT("@x@host.example.", "en", "mention:@x@host.example");
}
END_TEST

START_TEST(test_tokenize_rejects_non_mentions)
{
	EXPECT("do not @ me", "en", "");
	EXPECT("@josé", "es", "word:josé");
	/* An e-mail address is no term and breaks adjacency. */
	EXPECT("mail john.doe+news@example.com tomorrow", "en", "word:mail|word:tomorrow");
	EXPECT("write alice bob@example.org soon", "en",
	       "word:write|word:alice|bigram:write alice|word:soon");
	EXPECT("user@localhost", "en", "word:user|word:localhost|bigram:user localhost");
}
END_TEST

START_TEST(test_tokenize_cashtags)
{
	EXPECT("$TSLA $tsla $BRK.B $BTC $ABCDEF", "en",
	       "cashtag:$tsla|cashtag:$tsla|cashtag:$brk.b|cashtag:$btc|cashtag:$abcdef");
	EXPECT("buy $TSLA.", "en", "word:buy|cashtag:$tsla");
	EXPECT("$5 $5.00 $ABCDEFG US$5 $TSLA1 $", "en", "word:abcdefg|word:tsla1");
}
END_TEST

START_TEST(test_tokenize_terms_keep_their_sigil)
{
	EXPECT("#rust rust @rust $rust", "en",
	       "hashtag:#rust|word:rust|mention:@rust|cashtag:$rust");
}
END_TEST

/* ---- URLs and domains ---- */

START_TEST(test_tokenize_url_hosts_become_domains)
{
	EXPECT("https://www.Example.com:8080/a/b?q=rust+news#frag", "en", "domain:example.com");
	EXPECT("HTTP://user:pw@Host.Example.ORG/x", "en", "domain:host.example.org");
	EXPECT("see http://[::1]:8080/x and https://bücher.de/", "en",
	       "domain:[::1]|domain:bücher.de");
	EXPECT("https://www.com/", "en", "domain:www.com");
	EXPECT("https://localhost:3000/@user", "en", "domain:localhost");
	/* The rest of a URL is not words, and a URL breaks adjacency. */
	EXPECT("great https://example.com/rust/is/great?q=hello post", "en",
	       "word:great|domain:example.com|word:post");
	EXPECT("https:// plain", "en", "word:plain");
	EXPECT("https://example.jp東京", "ja", "domain:example.jp|word:東京");
	EXPECT("read https://example.com, (https://example.org) https://x.io.", "en",
	       "word:read|domain:example.com|domain:example.org|domain:x.io");
}
END_TEST

START_TEST(test_tokenize_bare_hosts_become_domains)
{
	EXPECT("visit example.com, github.io and www.Example.org.", "en",
	       "word:visit|domain:example.com|domain:github.io|domain:example.org");
	EXPECT("example.com/path?x=1 www.tumblr.com/tempo-tales/...", "en",
	       "domain:example.com|domain:tumblr.com");
	EXPECT("news.bbc.co.uk EXAMPLE.COM", "en", "domain:news.bbc.co.uk|domain:example.com");
	EXPECT("odd.host:8080 weird.zz/path", "en", "domain:odd.host|domain:weird.zz");
}
END_TEST

START_TEST(test_tokenize_dotted_words_are_not_domains)
{
	/* A missing space before a word that is also a TLD. */
	EXPECT("so nice.it was", "en", "word:nice");
	EXPECT("youtu.be/abc bit.ly", "en", "domain:youtu.be|domain:bit.ly");
	EXPECT("e.g. file.txt 3.14 Mr.Smith node.js Hello.It U.S. v1.2 README.md", "en",
	       "word:file|word:txt|word:mr|word:smith|word:node|bigram:smith node|word:js|"
	       "word:hello|bigram:js hello|word:v1|word:readme|word:md");
}
END_TEST

/* ---- emoji ---- */

START_TEST(test_tokenize_emoji_clusters)
{
	EXPECT("👍🏽", "", "emoji:👍🏽");
	EXPECT("👨‍👩‍👧", "", "emoji:👨‍👩‍👧");
	EXPECT("🇩🇪🇫🇷", "", "emoji:🇩🇪|emoji:🇫🇷");
	EXPECT("1️⃣ #️⃣ *⃣", "", "emoji:1⃣|emoji:#⃣|emoji:*⃣");
	EXPECT("🏴󠁧󠁢󠁳󠁣󠁴󠁿", "", "emoji:🏴󠁧󠁢󠁳󠁣󠁴󠁿");
	EXPECT("👍👍😂", "", "emoji:👍|emoji:👍|emoji:😂");
}
END_TEST

START_TEST(test_tokenize_emoji_variation_selectors_dropped)
{
	EXPECT("❤️ ❤ ❤︎", "", "emoji:❤|emoji:❤|emoji:❤");
	/* Text-default symbols count only with U+FE0F. */
	EXPECT("© ™ ©️ ↔", "", "emoji:©");
}
END_TEST

START_TEST(test_tokenize_emoji_breaks_bigrams)
{
	EXPECT("good 👍 job", "en", "word:good|emoji:👍|word:job");
	EXPECT("good👍job", "en", "word:good|emoji:👍|word:job");
}
END_TEST

/*
 * The code points of one line of emoji-test.txt ("1F469 200D 1F467 ;
 * status # ..."), as UTF-8 into seq, and the same without U+FE0F into term.
 * Returns the number of code points, 0 for a comment or blank line.
 */
static size_t emoji_test_line(const char *line, char *seq, size_t *seq_len, char *term,
			      size_t *term_len, int32_t *first)
{
	size_t ncp = 0;
	*seq_len = *term_len = 0;
	for (const char *p = line; *p && *p != ';' && *p != '#';) {
		char *e;
		long cp = strtol(p, &e, 16);
		if (e == p) {
			p++;
			continue;
		}
		p = e;
		utf8proc_uint8_t u[4];
		utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)cp, u);
		ck_assert_int_gt(k, 0);
		memcpy(seq + *seq_len, u, (size_t)k);
		*seq_len += (size_t)k;
		if (cp != 0xFE0F) {
			memcpy(term + *term_len, u, (size_t)k);
			*term_len += (size_t)k;
		}
		if (ncp++ == 0)
			*first = (int32_t)cp;
	}
	return ncp;
}

/*
 * Every sequence of Unicode's emoji test list (UTS #51, 11.0: ZWJ families
 * and professions, skin tones, hair styles, flags, subdivision tags,
 * keycaps, with and without U+FE0F) is one emoji term - the whole sequence,
 * U+FE0F dropped - alone and between words, in the fast tokenizer and the
 * reference build. The exceptions are the documented ones: a skin tone
 * modifier on its own, and the symbols that are text unless U+FE0F follows.
 */
START_TEST(test_tokenize_every_sequence_of_the_unicode_emoji_test_list)
{
	struct tokenizer *ref = ref_tokenizer_new(sw);
	size_t len, n = 0, none = 0;
	char *buf = tu_read_fixture("tokenize/emoji-test.txt", &len);
	ck_assert_ptr_nonnull(ref);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char seq[128], term[128], text[300], want[300], alone[200];
		size_t seq_len, term_len;
		int32_t first = 0;
		size_t ncp = emoji_test_line(line, seq, &seq_len, term, &term_len, &first);
		if (ncp == 0)
			continue;
		n++;
		bool modifier = ncp == 1 && first >= 0x1F3FB && first <= 0x1F3FF;
		bool text_default = ncp == 1 && (first == 0xA9 || first == 0xAE || first == 0x203C ||
						 first == 0x2049 || first == 0x2122 ||
						 first == 0x2139 || (first >= 0x2194 && first <= 0x2199) ||
						 first == 0x21A9 || first == 0x21AA || first == 0x24C2);
		if (modifier || text_default) {
			none++;
			alone[0] = 0;
		} else {
			snprintf(alone, sizeof alone, "emoji:%.*s", (int)term_len, term);
		}
		ck_assert_msg(strcmp(terms_n(tk, seq, seq_len, ""), alone) == 0, "%s: got %s", line,
			      terms_n(tk, seq, seq_len, ""));
		ck_assert_msg(strcmp(terms_n(ref, seq, seq_len, ""), alone) == 0, "%s (reference)",
			      line);
		if (!*alone)
			continue;
		int k = snprintf(text, sizeof text, "wow %.*s nice", (int)seq_len, seq);
		snprintf(want, sizeof want, "word:wow|%s|word:nice", alone);
		ck_assert_msg(strcmp(terms_n(tk, text, (size_t)k, "en"), want) == 0, "%s: got %s",
			      line, terms_n(tk, text, (size_t)k, "en"));
		ck_assert_msg(strcmp(terms_n(ref, text, (size_t)k, "en"), want) == 0,
			      "%s (reference)", line);
	}
	ck_assert_uint_eq(n, 3570);
	ck_assert_uint_eq(none, 20); /* 5 modifiers, 15 text-default symbols */
	free(buf);
	ref_tokenizer_free(ref);
}
END_TEST

/* ---- stopwords and bigrams ---- */

START_TEST(test_tokenize_stopwords_several_languages)
{
	EXPECT("The cat is on the mat", "en", "word:cat|word:mat");
	EXPECT("Der Hund und die Katze", "de", "word:hund|word:katze");
	EXPECT("Le chat et la souris", "fr", "word:chat|word:souris");
	EXPECT("El perro y el gato", "es", "word:perro|word:gato");
	EXPECT("O cachorro e o gato", "pt-BR", "word:cachorro|word:gato");
	EXPECT("Мы пошли в парк", "ru", "word:пошли|word:парк");
	EXPECT("Красная площадь и Кремль", "ru",
	       "word:красная|word:площадь|bigram:красная площадь|word:кремль");
}
END_TEST

START_TEST(test_tokenize_stopword_list_follows_language)
{
	/* "die" is a German stopword and an English word. */
	EXPECT("die hard", "en", "word:die|word:hard|bigram:die hard");
	EXPECT("die hard", "en-US", "word:die|word:hard|bigram:die hard");
	EXPECT("die hard", "de", "word:hard");
	/* Unknown or missing language: every list applies. */
	EXPECT("die hard", "", "word:hard");
	EXPECT("die hard", "xx", "word:hard");
	EXPECT("die hard", NULL, "word:hard");
	/* English applies on top of the post's language. */
	EXPECT("the Hund", "de", "word:hund");
	ck_assert_uint_eq(stopwords_lang_mask(sw, "pt-BR"), stopwords_lang_mask(sw, "PT"));
	ck_assert(stopwords_lang_mask(sw, "pt-BR") != stopwords_lang_mask(sw, ""));
}
END_TEST

START_TEST(test_tokenize_bigram_breaks)
{
	const char *breaks[] = { ".", "!", "?", ";", ":", ",", ". ", ", ", " - . ", "\n", "\r\n",
				 "。", "…", "\xC2\x85",
				 " the ", " 42 ", " x ", " #tag ", " @who ", " $TSLA ",
				 " https://e.com/x ", " 😂 ", " example.com " };
	for (size_t i = 0; i < sizeof(breaks) / sizeof(*breaks); i++) {
		char text[64];
		snprintf(text, sizeof(text), "alpha%sbeta", breaks[i]);
		const struct token *tok;
		size_t n = tokenizer_run(tk, text, strlen(text), "en", &tok);
		for (size_t k = 0; k < n; k++)
			ck_assert_msg(tok[k].kind != TERM_BIGRAM, "bigram across '%s'", breaks[i]);
		ck_assert_uint_ge(n, 2);
	}
	EXPECT("big data. big data, big data", "en",
	       "word:big|word:data|bigram:big data|word:big|word:data|bigram:big data|word:big|"
	       "word:data|bigram:big data");
	/* Quotes, brackets, dashes, slashes and symbols do not break adjacency. */
	EXPECT("(big) \"data\" - tools / ideas & more", "en",
	       "word:big|word:data|bigram:big data|word:tools|bigram:data tools|word:ideas|"
	       "bigram:tools ideas");
}
END_TEST

START_TEST(test_tokenize_invalid_utf8_is_replaced)
{
	const char text[] = "caf\xC3 latte \xFF\xFE ok \xED\xA0\x80 fine\xE2\x82";
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, sizeof(text) - 1, "en", &tok);
	check_invariants(tok, n);
	ck_assert_str_eq(render(tok, n),
			 "word:caf|word:latte|bigram:caf latte|word:fine");
	/* Overlong encodings and lone continuation bytes never reach a term. */
	const char bad[] = "\xC0\xAF\x80\x80 \xF4\x90\x80\x80 \xF0\x80\x80\x80 word";
	n = tokenizer_run(tk, bad, sizeof(bad) - 1, "en", &tok);
	ck_assert_str_eq(render(tok, n), "word:word");
}
END_TEST

START_TEST(test_tokenize_nul_is_a_separator)
{
	const char text[] = "hello\0world\0\0#tag";
	ck_assert_str_eq(terms_n(tk, text, sizeof(text) - 1, "en"),
			 "word:hello|word:world|bigram:hello world|hashtag:#tag");
}
END_TEST

/* ---- scripts without spaces ---- */

START_TEST(test_tokenize_cjk_bigrams)
{
	EXPECT("東京都", "ja", "word:東京|word:京都");
	EXPECT("猫", "ja", "word:猫");
	EXPECT("iPhoneを買った", "ja", "word:iphone|word:を買|word:買っ|word:った");
	/* Halfwidth katakana with a voiced mark folds to one character. */
	EXPECT("ｶﾞｲﾄﾞ", "ja", "word:ガイ|word:イド");
	/* Sentence punctuation ends a run. */
	EXPECT("東京。大阪", "ja", "word:東京|word:大阪");
	/* Chinese stopwords apply to the bigrams. */
	EXPECT("我们一个朋友", "zh", "word:们一|word:个朋|word:朋友");
}
END_TEST

START_TEST(test_tokenize_thai_bigrams_keep_marks)
{
	/* Thai marks stay on their consonant: สวั is ส + วั. */
	EXPECT("สวัสดี", "th", "word:สวั|word:วัส|word:สดี");
}
END_TEST

START_TEST(test_tokenize_cjk_fast_path_matches_utf8proc)
{
	/*
	 * Runs of kana and unified ideographs skip utf8proc: each such character
	 * must be its own NFKC_Casefold and a grapheme unit of its own.
	 */
	static const utf8proc_int32_t ranges[][2] = { { 0x3041, 0x3096 }, { 0x309D, 0x309E },
						      { 0x30A1, 0x30FA }, { 0x30FC, 0x30FE },
						      { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF } };
	struct tokenizer *plain = tokenizer_new(NULL);
	ck_assert_ptr_nonnull(plain);
	for (size_t r = 0; r < sizeof(ranges) / sizeof(*ranges); r++) {
		for (utf8proc_int32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
			utf8proc_uint8_t in[4];
			utf8proc_ssize_t n = utf8proc_encode_char(cp, in);
			ck_assert_int_eq(n, 3);
			utf8proc_uint8_t *m = NULL;
			utf8proc_ssize_t k = utf8proc_map(in, n, &m, FOLD);
			ck_assert_msg(k == 3 && memcmp(m, in, 3) == 0, "U+%04X changes",
				      (unsigned)cp);
			free(m);
			const utf8proc_property_t *pr = utf8proc_get_property(cp);
			ck_assert_msg(pr->boundclass != UTF8PROC_BOUNDCLASS_EXTEND &&
					      pr->boundclass != UTF8PROC_BOUNDCLASS_SPACINGMARK &&
					      pr->category < UTF8PROC_CATEGORY_MN,
				      "U+%04X attaches", (unsigned)cp);
			/* And the tokenizer emits the lone character as it is. */
			const struct token *tok;
			ck_assert_uint_eq(tokenizer_run(plain, (const char *)in, 3, "", &tok), 1);
			ck_assert(tok[0].len == 3 && memcmp(tok[0].s, in, 3) == 0);
		}
	}
	tokenizer_free(plain);
}
END_TEST

START_TEST(test_tokenize_long_cjk_run_spans_chunks)
{
	/* 300 characters: normalized in chunks, no bigram lost at the seams. */
	char text[300 * 3 + 1];
	const char *chars[] = { "日", "本", "語" };
	for (int i = 0; i < 300; i++)
		memcpy(text + i * 3, chars[i % 3], 3);
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, 900, "ja", &tok);
	ck_assert_uint_eq(n, 299);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(tok[i].len, 6);
		ck_assert(memcmp(tok[i].s, text + i * 3, 6) == 0);
	}
}
END_TEST

/* ---- bounds ---- */

START_TEST(test_tokenize_one_megabyte_text_is_bounded)
{
	size_t len = 1024 * 1024;
	char *text = malloc(len);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < len; i++)
		text[i] = "lorem ipsum dolor sit amet "[i % 27];
	/* A word only after the scan cap is never seen. */
	memcpy(text + TOKENIZE_SCAN_BYTES + 100, " zzzfar ", 8);
	double t0 = now_s();
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, len, "en", &tok);
	double dt = now_s() - t0;
	check_invariants(tok, n);
	ck_assert_uint_eq(n, LIMIT_TOKENS_PER_POST);
	for (size_t i = 0; i < n; i++)
		ck_assert(tok[i].len < 6 || memcmp(tok[i].s, "zzzfar", 6) != 0);
	ck_assert_msg(dt < 2.0, "took %.3f s", dt);

	/* One giant word, and a megabyte of one byte each kind. */
	memset(text, 'a', len);
	ck_assert_uint_eq(tokenizer_run(tk, text, len, "en", &tok), 0);
	const char fill[] = { '#', '@', '$', '.', '\xF0', '\x80', '-', '\'', '0' };
	for (size_t f = 0; f < sizeof(fill); f++) {
		memset(text, fill[f], len);
		t0 = now_s();
		n = tokenizer_run(tk, text, len, "en", &tok);
		check_invariants(tok, n);
		ck_assert_msg(now_s() - t0 < 2.0, "fill %02x slow", (unsigned char)fill[f]);
	}
	/* Dotted labels: a failed host parse is not repeated for every label. */
	for (size_t i = 0; i < len; i++)
		text[i] = i % 2 ? '.' : 'a' + (char)(i % 26);
	t0 = now_s();
	n = tokenizer_run(tk, text, len, "en", &tok);
	check_invariants(tok, n);
	ck_assert_msg(now_s() - t0 < 2.0, "dotted run slow");
	free(text);
}
END_TEST

START_TEST(test_tokenize_ten_thousand_hashtags_capped)
{
	size_t cap = 10000 * 12, o = 0;
	char *text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (int i = 0; i < 10000; i++)
		o += (size_t)snprintf(text + o, cap - o, "#tag%d ", i);
	double t0 = now_s();
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, o, "en", &tok);
	ck_assert_msg(now_s() - t0 < 1.0, "slow");
	check_invariants(tok, n);
	ck_assert_uint_eq(n, LIMIT_TOKENS_PER_POST);
	for (size_t i = 0; i < n; i++) {
		char want[16];
		int w = snprintf(want, sizeof(want), "#tag%zu", i);
		ck_assert_int_eq(tok[i].kind, TERM_HASHTAG);
		ck_assert(tok[i].len == (size_t)w && memcmp(tok[i].s, want, (size_t)w) == 0);
	}
	free(text);
}
END_TEST

START_TEST(test_tokenize_word_cap_counts_bigrams)
{
	/* 400 distinct words: words and bigrams together stop at the cap. */
	char text[400 * 8];
	size_t o = 0;
	for (int i = 0; i < 400; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "w%03dq ", i);
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, o, "en", &tok);
	check_invariants(tok, n);
	ck_assert_uint_eq(n, LIMIT_TOKENS_PER_POST);
	ck_assert_int_eq(tok[n - 1].kind, TERM_WORD);
	/* The next call starts clean. */
	EXPECT("fresh start", "en", "word:fresh|word:start|bigram:fresh start");
}
END_TEST

START_TEST(test_tokenize_pathological_marks_are_bounded)
{
	/* One base letter with 20,000 combining marks, then a normal word. */
	size_t len = 1 + 20000 * 2 + 6;
	char *text = malloc(len);
	ck_assert_ptr_nonnull(text);
	text[0] = 'a';
	for (size_t i = 0; i < 20000; i++)
		memcpy(text + 1 + i * 2, "\xCC\x81", 2);
	memcpy(text + len - 6, " hello", 6);
	ck_assert_str_eq(terms_n(tk, text, len, "en"), "word:hello");
	/* The same marks on a Han character. */
	text[0] = ' ';
	memcpy(text, "\xE6\x97\xA5", 3); /* 日 replaces 'a' and the first mark */
	ck_assert_str_eq(terms_n(tk, text, len, "ja"), "word:hello");
	free(text);
}
END_TEST

START_TEST(test_tokenize_random_bytes_hold_invariants)
{
	/* Random mixes of the pieces the recognizers care about, valid or not. */
	static const char *const parts[] = {
		"a", "Z", "7", " ", ".", ",", "'", "-", "#", "@", "$", "_", ":", "/", "\n",
		"http://", "https://", "www.", ".com", "\xC3\xA9", "\xCC\x81", "\xE2\x80\x99",
		"\xE2\x80\x8D", "\xEF\xB8\x8F", "\xE2\x83\xA3", "\xF0\x9F\x91\x8D",
		"\xF0\x9F\x8F\xBD", "\xF0\x9F\x87\xA9", "\xE6\x97\xA5", "\xE3\x81\x82",
		"\xE0\xB8\xAA", "\xE0\xB8\xB1", "\xD8\xB9", "\xFF", "\x80", "\xE2\x82",
		"\xF0\x9F", "\xEF\xBC\x83", "\xC2\xB7", "\0", "\xEF\xAC\x81",
	};
	const size_t np = sizeof(parts) / sizeof(*parts);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char text[1024];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t pieces = x % 120;
		for (size_t i = 0; i < pieces; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			const char *pc = parts[x % np];
			size_t pl = pc[0] ? strlen(pc) : 1; /* "\0" is one NUL byte */
			if (len + pl > sizeof(text))
				break;
			memcpy(text + len, pc, pl);
			len += pl;
		}
		const struct token *tok;
		size_t n = tokenizer_run(tk, text, len, iter % 3 ? "en" : "", &tok);
		check_invariants(tok, n);
	}
}
END_TEST

/* ---- real posts ---- */

struct post {
	char lang[32];
	char text[8192];
	size_t len;
};

static size_t load_posts(struct post **out)
{
	size_t flen;
	char *buf = tu_read_fixture("tokenize/posts.tsv", &flen);
	size_t cap = 256, n = 0;
	struct post *ps = calloc(cap, sizeof(*ps));
	ck_assert_ptr_nonnull(ps);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *t1 = strchr(line, '\t');
		ck_assert_ptr_nonnull(t1);
		char *t2 = strchr(t1 + 1, '\t');
		ck_assert_ptr_nonnull(t2);
		ck_assert_uint_lt(n, cap);
		struct post *p = &ps[n++];
		snprintf(p->lang, sizeof(p->lang), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
		for (char *s = t2 + 1; *s; s++) {
			ck_assert_uint_lt(p->len, sizeof(p->text));
			if (*s == '\\' && s[1]) {
				s++;
				char c = *s;
				if (c == 'n' || c == 't' || c == 'r')
					c = c == 'n' ? '\n' : c == 't' ? '\t' : '\r';
				p->text[p->len++] = c;
			} else {
				p->text[p->len++] = *s;
			}
		}
	}
	free(buf);
	*out = ps;
	return n;
}

START_TEST(test_tokenize_real_posts_hold_invariants)
{
	struct post *ps;
	size_t n = load_posts(&ps);
	ck_assert_uint_eq(n, 197);
	size_t total = 0, kinds[TERM_KIND_COUNT] = { 0 };
	for (size_t i = 0; i < n; i++) {
		const struct token *tok;
		size_t k = tokenizer_run(tk, ps[i].text, ps[i].len, ps[i].lang, &tok);
		check_invariants(tok, k);
		for (size_t j = 0; j < k; j++)
			kinds[tok[j].kind]++;
		total += k;
	}
	ck_assert_uint_gt(total, 2000);
	for (int kind = 0; kind < TERM_KIND_COUNT; kind++)
		if (kind != TERM_CASHTAG)
			ck_assert_msg(kinds[kind] > 0, "no %s term in the corpus",
				      term_kind_name(kind));
	free(ps);
}
END_TEST

static const char *post_terms(const char *needle)
{
	struct post *ps;
	size_t n = load_posts(&ps);
	static char out[1 << 14];
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (!memmem(ps[i].text, ps[i].len, needle, strlen(needle)))
			continue;
		snprintf(out, sizeof(out), "%s", terms_n(tk, ps[i].text, ps[i].len, ps[i].lang));
		free(ps);
		return out;
	}
	free(ps);
	ck_abort_msg("no post contains %s", needle);
	return NULL;
}

START_TEST(test_tokenize_real_posts_exact_terms)
{
	ck_assert_str_eq(post_terms("beep beep I'm a jeep"),
			 "mention:@mastodonpy_test|word:beep|word:beep|bigram:beep beep|word:jeep");
	ck_assert_str_eq(post_terms("Has anyone properly debunked"),
			 "word:properly|word:debunked|"
			 "bigram:properly debunked|word:tic|bigram:debunked tic|word:tac|"
			 "bigram:tic tac|word:video|bigram:tac video|domain:ufofeed.com|"
			 "word:properly|word:debunked|"
			 "bigram:properly debunked|word:tic|bigram:debunked tic|word:tac|"
			 "bigram:tic tac|word:video|bigram:tac video|word:laimisss1");
	ck_assert_str_eq(post_terms("#HowToTellAiToShutUp"),
			 "hashtag:#howtotellaitoshutup|word:days|word:googling|word:band|word:weirdly|word:ended|"
			 "bigram:weirdly ended|word:read|word:radio|bigram:read radio|word:tfsc|"
			 "bigram:radio tfsc|word:started|bigram:tfsc started|"
			 "hashtag:#indierebellion|emoji:😂|word:power|word:hey|word:lets|word:keep|"
			 "bigram:lets keep|word:rebellion|emoji:👇");
	ck_assert_str_eq(post_terms("BREAKING NEWS"),
			 "word:breaking|word:news|bigram:breaking news|emoji:🚨|emoji:🚨|emoji:🇺🇸|"
			 "word:empty|word:oil|bigram:empty oil|word:tankers|bigram:oil tankers|"
			 "word:heading|word:united|word:states|"
			 "bigram:united states|word:president|word:trump|bigram:president trump|"
			 "word:urges|bigram:trump urges|word:countries|bigram:urges countries|"
			 "word:hit|bigram:countries hit|word:strait|word:hormuz|word:disruption|"
			 "bigram:hormuz disruption|word:buy|word:american|bigram:buy american|"
			 "word:energy|bigram:american energy");
	/* Japanese (lang "ja"): character bigrams, minus those in the ja list. */
	ck_assert_str_eq(post_terms("待って天幕の"),
			 "word:待っ|word:って|word:て天|word:天幕|word:幕の|word:のジ|word:ジャ|"
			 "word:ャー|word:ード|word:ドゥ|word:ゥー|word:ーガ|word:ガル|word:ル観|"
			 "word:観よ|word:うと|word:と思|word:思っ|word:って|word:てた|word:たの|"
			 "word:のに|word:に今|word:今日|word:日だ|word:った|word:たの|word:の知|"
			 "word:知ら|word:らな|word:なか|word:かっ|word:った|word:ネト|word:トフ|"
			 "word:フリ|word:リで|word:も観|word:観ら|word:るっ|word:っぽ|word:ぽい|"
			 "word:いよ|word:よか|word:かっ|word:った|emoji:💦");
}
END_TEST

/* ---- stopword files ---- */

static void write_file(const char *path, const char *body)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(body, f);
	fclose(f);
}

/*
 * A data directory of stopword lists for one test: dir (a fresh directory in
 * /tmp) and its stopwords/ subdirectory sub, where list_file() names the
 * lists. list_dir_remove() deletes every file in sub and both directories,
 * and asserts that it could.
 */
struct list_dir {
	char dir[32], sub[64];
};

static void list_dir_make(struct list_dir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/trendd-sw-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	snprintf(d->sub, sizeof(d->sub), "%s/stopwords", d->dir);
	ck_assert_int_eq(mkdir(d->sub, 0755), 0);
}

/* The path of list file name in d (into buf). */
static char *list_file(const struct list_dir *d, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", d->sub, name);
	ck_assert(n > 0 && (size_t)n < size);
	return buf;
}

static void list_dir_remove(const struct list_dir *d)
{
	DIR *dh = opendir(d->sub);
	ck_assert_ptr_nonnull(dh);
	struct dirent *de;
	char path[128];
	while ((de = readdir(dh)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ck_assert_int_eq(unlink(list_file(d, de->d_name, path, sizeof(path))), 0);
	closedir(dh);
	ck_assert_int_eq(rmdir(d->sub), 0);
	ck_assert_int_eq(rmdir(d->dir), 0);
}

START_TEST(test_stopwords_load_normalizes_and_skips_bad_lines)
{
	struct list_dir d;
	list_dir_make(&d);
	char path[96];
	list_file(&d, "xx.txt", path, sizeof(path));
	write_file(path, "\xEF\xBB\xBF" "# comment\nFOO\n  Straße  \r\n\nbad\xFF\n"
			 "ｆｕｌｌ\nDon’t\n");
	list_file(&d, "en.txt", path, sizeof(path));
	write_file(path, "the\n");
	list_file(&d, "README.md", path, sizeof(path));
	write_file(path, "not a list\n");
	list_file(&d, "Toolong.txt", path, sizeof(path));
	write_file(path, "ignored\n");

	struct stopwords *s2;
	char err[256];
	ck_assert_int_eq(stopwords_load(&s2, d.dir, err, sizeof(err)), 0);
	ck_assert_uint_eq(stopwords_lang_count(s2), 2);
	ck_assert_str_eq(stopwords_lang_name(s2, 0), "en");
	ck_assert_str_eq(stopwords_lang_name(s2, 1), "xx");
	ck_assert_ptr_null(stopwords_lang_name(s2, 2));
	uint64_t xx = stopwords_lang_mask(s2, "xx-YY");
	ck_assert(stopwords_contains(s2, "foo", 3, xx));
	ck_assert(stopwords_contains(s2, "strasse", 7, xx));
	ck_assert(stopwords_contains(s2, "full", 4, xx));
	ck_assert(stopwords_contains(s2, "don't", 5, xx));
	ck_assert(stopwords_contains(s2, "the", 3, xx)); /* English rides along */
	ck_assert(!stopwords_contains(s2, "bad", 3, xx));
	ck_assert(!stopwords_contains(s2, "ignored", 7, stopwords_lang_mask(s2, "")));
	ck_assert(!stopwords_contains(s2, "foo", 3, stopwords_lang_mask(s2, "en")));

	struct tokenizer *t2 = tokenizer_new(s2);
	ck_assert_str_eq(terms_n(t2, "Foo the STRASSE bar", 19, "xx"), "word:bar");
	ck_assert_str_eq(terms_n(t2, "Foo the STRASSE bar", 19, "en"),
			 "word:foo|word:strasse|word:bar|bigram:strasse bar");
	tokenizer_free(t2);
	stopwords_free(s2);

	list_dir_remove(&d);
}
END_TEST

START_TEST(test_stopwords_load_missing_dir_fails)
{
	struct stopwords *s2 = (struct stopwords *)1;
	char err[256] = "";
	ck_assert_int_eq(stopwords_load(&s2, "/nonexistent/trendd", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(s2);
	ck_assert_msg(strstr(err, "/nonexistent/trendd/stopwords") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_stopwords_shipped_lists_cover_required_languages)
{
	const char *need[] = { "en", "de", "fr", "es", "pt" };
	for (size_t i = 0; i < 5; i++) {
		bool found = false;
		for (size_t j = 0; j < stopwords_lang_count(sw); j++)
			found = found || strcmp(stopwords_lang_name(sw, j), need[i]) == 0;
		ck_assert_msg(found, "no %s list", need[i]);
	}
	ck_assert(stopwords_contains(sw, "und", 3, stopwords_lang_mask(sw, "de")));
	ck_assert(stopwords_contains(sw, "não", strlen("não"), stopwords_lang_mask(sw, "pt")));
	ck_assert(!stopwords_contains(sw, "und", 3, stopwords_lang_mask(sw, "fr")));
	/* A long word is looked up by bytes, not just its first 16. */
	ck_assert(!stopwords_contains(sw, "aproximadamenteX", 16, stopwords_lang_mask(sw, "")));
}
END_TEST

/* ---- shortcuts against the reference build ---- */

/* Renders terms as kind:term lines into buf; returns the length written. */
static size_t render_into(char *buf, size_t cap, const struct token *tok, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + o, cap - o, "%d:%.*s\n", tok[i].kind, (int)tok[i].len,
				 tok[i].s);
		ck_assert(w > 0 && (size_t)w < cap - o);
		o += (size_t)w;
	}
	return o;
}

/* Tokenizes text with both builds and fails, showing the text, when they differ. */
static void same_as_reference(struct tokenizer *fast, struct tokenizer *ref, const char *text,
			      size_t len, const char *lang)
{
	static char a[1 << 17], b[1 << 17];
	const struct token *ta, *tb;
	size_t na = tokenizer_run(fast, text, len, lang, &ta);
	size_t nb = ref_tokenizer_run(ref, text, len, lang, &tb);
	check_invariants(ta, na);
	size_t la = render_into(a, sizeof(a), ta, na), lb = render_into(b, sizeof(b), tb, nb);
	if (la == lb && memcmp(a, b, la) == 0)
		return;
	size_t d = 0;
	while (d < la && d < lb && a[d] == b[d])
		d++;
	ck_abort_msg("terms differ (lang %s) for text [%.*s]: fast [%.*s] reference [%.*s]",
		     lang ? lang : "NULL", (int)(len < 300 ? len : 300), text,
		     (int)(la - d < 80 ? la - d : 80), a + d, (int)(lb - d < 80 ? lb - d : 80),
		     b + d);
}

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

START_TEST(test_tokenize_many_languages_in_turn_keep_their_lists)
{
	/*
	 * A tokenizer remembers the lists of a few languages and replaces one
	 * when a new language comes: over many more languages, in an order
	 * with frequent and rare ones, each post gets the lists a new
	 * tokenizer gives its language.
	 */
	static const char *const langs[] = {
		"en", "", "de", "ja", "fr", "en-US", "es", "xx", "nl", "ru", "de-AT", "it",
		"pt-BR", "sv", "EN", "zh",
	};
	enum { NL = sizeof(langs) / sizeof(*langs) };
	static const char text[] = "die hard the le la der el het и это de che";
	char want[NL][512];
	for (size_t l = 0; l < NL; l++) {
		struct tokenizer *fresh = tokenizer_new(sw);
		ck_assert_ptr_nonnull(fresh);
		snprintf(want[l], sizeof(want[l]), "%s",
			 terms_n(fresh, text, sizeof(text) - 1, langs[l]));
		tokenizer_free(fresh);
	}
	ck_assert_str_ne(want[0], want[2]); /* the lists differ, so a stale one shows */
	uint64_t x = 7;
	for (int i = 0; i < 3000; i++) {
		/* Half of the posts in the first three languages, the rest in any. */
		size_t l = (size_t)(xs(&x) % 2 ? xs(&x) % 3 : xs(&x) % NL);
		ck_assert_str_eq(terms_n(tk, text, sizeof(text) - 1, langs[l]), want[l]);
	}
}
END_TEST

START_TEST(test_tokenize_shortcuts_match_reference_on_generated_text)
{
	/* Pieces the shortcuts treat specially, valid UTF-8 or not. */
	static const char *const parts[] = {
		"a", "Z", "7", " ", ".", ",", "'", "-", "#", "@", "$", "_", ":", "/", "\n", "h",
		"http://", "https://", "www.", ".com", "\xC3\xA9", "\xCC\x81", "\xE2\x80\x99",
		"\xE2\x80\x8D", "\xEF\xB8\x8F", "\xE2\x83\xA3", "\xF0\x9F\x91\x8D",
		"\xF0\x9F\x87\xA9", "\xE6\x97\xA5", "\xE3\x81\x82", "\xD8\xB9", "\xFF", "\x80",
		"\xE2\x82", "\xEF\xBC\x83", "\xC2\xB7", "\0", "the", "The", "and", "rust", "hello",
		"example", "github", ".io", "e.g.", "l'", "qu'", "'s", "don't", "covid-19",
		"3.14", "1,000", "!", "?", ";", "\t", "  ", "*", "(", ")", ("stra\xC3\x9F" "e"),
		"caf\xC3\xA9", "\xD0\xBF\xD1\x80\xD0\xB8", "@x.org", "$TSLA", "$5", "#AI", "x",
		"abcdefghijklmnop", "abcdefghijklmnopq",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "0", "\r",
		"\x7F", "\x01", "\"", "<", ">", "%", "+", "~", "\xC2\xA0", "\xEF\xBD\x86",
		"\xE2\x80\x90", "und", "die", "le",
	};
	/* Words, hashtags, links and mentions between the separators of real text. */
	static const char *const words[] = {
		"the", "to", "and", "a", "of", "i", "is", "in", "it", "that", "for", "you",
		"with", "not", "be", "have", "my", "all", "new", "good", "great", "love", "happy",
		"Release", "server", "Coffee", "MORNING", "weather", "music", "rust", "linux",
		"kernel", "database", "password", "security", "amazing", "really", "never",
		"today", "year", "straße", "über", "café", "été", "niño", "ação", "déjà",
		"つくる", "東京", "日本語", "привет", "καλημέρα", "שלום", "مرحبا", "#rust",
		"#Fediverse", "#AI", "#tag_x", "#123", "😀", "👍🏽", "❤️", "🇩🇪", "1\xEF\xB8\x8F\xE2\x83\xA3",
		"https://example.com/a/b", "https://www.news.example/x", "http://github.com",
		"HTTPS://Example.COM.", "https://user@host.org:8080/p", "@someone@mastodon.example",
		"@ada", "@ada_b", "$TSLA", "$5.00", "example.com", "www.example.org/x", "e.g.",
		"file.txt", "node.js", "a.b@example.com", "don't", "l'état", "trump's",
		"covid-19", "3.14", "2026", "hello_world", "Hello.It", "x", "hat", "h", "http",
		"https", "hh", "9am", "4k", "a1", "UND", "die", "abcdefghijklmnop",
		"abcdefghijklmnopq", "ＲＵＳＴ", "ﬁne",
	};
	static const char *const seps[] = {
		" ", " ", " ", " ", " ", " ", ". ", ", ", "! ", "? ", "  ", "\n", " - ",
		" & ", "; ", ": ", ".", ",", "\t", " (", ") ", " \"", "\" ", "...", " / ",
		"'", "-", "_", "", " #", "# ",
	};
	static const char *const langs[] = { "en", "", "de", "fr", "ja", "pt-BR", "xx", NULL };
	const size_t np = sizeof(parts) / sizeof(*parts), nw = sizeof(words) / sizeof(*words),
		     ns = sizeof(seps) / sizeof(*seps), nl = sizeof(langs) / sizeof(*langs);
	struct tokenizer *ref = ref_tokenizer_new(sw);
	struct tokenizer *bare = tokenizer_new(NULL), *bare_ref = ref_tokenizer_new(NULL);
	ck_assert(ref && bare && bare_ref);
	static char text[8192];
	uint64_t x = 0x2545F4914F6CDD1Dull;
	for (int iter = 0; iter < 6000; iter++) {
		size_t len = 0, pieces = xs(&x) % 80;
		bool mixed = iter % 2;
		for (size_t i = 0; i < pieces; i++) {
			const char *pc = mixed ? parts[xs(&x) % np] : words[xs(&x) % nw];
			if (!mixed && len) {
				const char *sp = seps[xs(&x) % ns];
				memcpy(text + len, sp, strlen(sp));
				len += strlen(sp);
			}
			size_t pl = pc[0] ? strlen(pc) : 1; /* "\0" is one NUL byte */
			memcpy(text + len, pc, pl);
			len += pl;
		}
		/* Every few texts a prefix, so texts end in the middle of anything. */
		size_t use = (iter % 5 == 0 && len) ? xs(&x) % len : len;
		const char *lang = langs[xs(&x) % nl];
		if (iter % 11 == 0)
			same_as_reference(bare, bare_ref, text, use, lang);
		else
			same_as_reference(tk, ref, text, use, lang);
	}
	/* Long texts: blocks, the term cap, the scan cap. */
	char *big = malloc(TOKENIZE_SCAN_BYTES + 4096);
	ck_assert_ptr_nonnull(big);
	for (int iter = 0; iter < 6; iter++) {
		size_t len = 0;
		while (len < TOKENIZE_SCAN_BYTES + 2048) {
			const char *w = words[xs(&x) % nw], *sp = seps[xs(&x) % (iter < 3 ? 1 : ns)];
			memcpy(big + len, w, strlen(w));
			len += strlen(w);
			memcpy(big + len, sp, strlen(sp));
			len += strlen(sp);
		}
		same_as_reference(tk, ref, big, len, langs[iter % 3]);
		same_as_reference(tk, ref, big, (size_t)(xs(&x) % 3000), "en");
	}
	free(big);
	ref_tokenizer_free(ref);
	ref_tokenizer_free(bare_ref);
	tokenizer_free(bare);
}
END_TEST

START_TEST(test_tokenize_shortcuts_match_reference_on_real_posts)
{
	struct post *ps;
	size_t n = load_posts(&ps);
	struct tokenizer *ref = ref_tokenizer_new(sw);
	ck_assert_ptr_nonnull(ref);
	for (size_t i = 0; i < n; i++) {
		/* As given, in other languages, and cut at every length. */
		same_as_reference(tk, ref, ps[i].text, ps[i].len, ps[i].lang);
		same_as_reference(tk, ref, ps[i].text, ps[i].len, "");
		same_as_reference(tk, ref, ps[i].text, ps[i].len, "en");
		for (size_t cut = 0; cut < ps[i].len; cut += 1 + cut / 16)
			same_as_reference(tk, ref, ps[i].text, cut, ps[i].lang);
	}
	ref_tokenizer_free(ref);
	free(ps);
}
END_TEST

START_TEST(test_tokenize_hashtags_between_words)
{
	/* A hashtag ends adjacency on both sides. */
	EXPECT("good #rust code", "en", "word:good|hashtag:#rust|word:code");
	EXPECT("good #Rust. code", "en", "word:good|hashtag:#rust|word:code");
	EXPECT("#a1 #b2 #c3 word", "en", "hashtag:#a1|hashtag:#b2|hashtag:#c3|word:word");
	/* After a hashtag, '#' and '@' start terms; after a word they do not. */
	EXPECT("good #rust#go code", "en", "word:good|hashtag:#rust|hashtag:#go|word:code");
	EXPECT("word #tag@x next", "en", "word:word|hashtag:#tag|mention:@x|word:next");
	EXPECT("good#tag code", "en", "word:good|word:tag|bigram:good tag|word:code|bigram:tag code");
	/* Bodies that go on past ASCII letters and digits, and ones that are numbers. */
	EXPECT("good #tag_x code", "en", "word:good|hashtag:#tag_x|word:code");
	EXPECT("good #tag's code", "en", "word:good|hashtag:#tag|word:code");
	EXPECT("good #café code", "en", "word:good|hashtag:#café|word:code");
	EXPECT("good #123 code", "en", "word:good|word:code");
	EXPECT("good #\xE2\x83\xA3 code", "en", "word:good|emoji:#\xE2\x83\xA3|word:code");
}
END_TEST

START_TEST(test_tokenize_bigrams_across_other_separators)
{
	/* Not one space between the words: the bigram is built, not a view of the text. */
	EXPECT("alpha) beta", "en", "word:alpha|word:beta|bigram:alpha beta");
	EXPECT("alpha - beta", "en", "word:alpha|word:beta|bigram:alpha beta");
	EXPECT("alpha  beta\tgamma", "en",
	       "word:alpha|word:beta|bigram:alpha beta|word:gamma|bigram:beta gamma");
	EXPECT("café latte", "fr", "word:café|word:latte|bigram:café latte");
	EXPECT("latte café", "fr", "word:latte|word:café|bigram:latte café");
	/* Sentence punctuation between them ends adjacency. */
	EXPECT("alpha, beta; gamma! delta", "en", "word:alpha|word:beta|word:gamma|word:delta");
	/* The bigram after a word of 111 bytes and one of 16 is 128 bytes, one more is too long. */
	char text[300];
	memset(text, 'q', 111);
	memcpy(text + 111, " abcdefghijklmnop", 17);
	const struct token *tok;
	size_t n = tokenizer_run(tk, text, 128, "en", &tok);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(tok[2].kind, TERM_BIGRAM);
	ck_assert_uint_eq(tok[2].len, 128);
	memset(text, 'q', 112);
	memcpy(text + 112, " abcdefghijklmnop", 17);
	ck_assert_uint_eq(tokenizer_run(tk, text, 129, "en", &tok), 2);
}
END_TEST

START_TEST(test_tokenize_words_at_block_and_text_edges)
{
	/*
	 * The bitmaps have a word per 64 bytes and the text copy is loaded 16
	 * bytes at a time: words ending on, before and after those edges.
	 */
	char text[200];
	for (size_t at = 40; at < 80; at++) {
		for (size_t wl = 1; wl < 20; wl++) {
			memset(text, ' ', sizeof(text));
			memcpy(text, "start", 5);
			for (size_t i = 0; i < wl; i++)
				text[at + i] = (char)('a' + i % 26);
			memcpy(text + at + wl + 1, "end", 3);
			size_t len = at + wl + 4;
			/* Spaces keep adjacency; the one-letter word "a" ends it. */
			char want[160];
			if (wl == 1)
				snprintf(want, sizeof(want), "word:start|word:end");
			else
				snprintf(want, sizeof(want),
					 "word:start|word:%.*s|bigram:start %.*s|word:end|bigram:%.*s end",
					 (int)wl, text + at, (int)wl, text + at, (int)wl, text + at);
			ck_assert_str_eq(terms_n(tk, text, len, "en"), want);
			/* Cut right after the word. */
			terms_n(tk, text, at + wl, "en");
		}
	}
	/* Texts of every length up to a few loads, all one word, and all words. */
	for (size_t len = 1; len < 70; len++) {
		memset(text, 'k', len);
		const struct token *tok;
		size_t n = tokenizer_run(tk, text, len, "en", &tok);
		ck_assert_uint_eq(n, len >= 2 && len <= LIMIT_TERM_BYTES ? 1 : 0);
		if (n)
			ck_assert_uint_eq(tok[0].len, len);
	}
}
END_TEST

START_TEST(test_tokenize_word_loop_endings_and_cap_match_reference)
{
	/*
	 * The word loop tests for a space after a word before it looks at the
	 * byte's class, tells a one-character word by the first byte of its
	 * stopword key, and stops two terms short of the cap: every ASCII byte
	 * after words of one and two bytes (one- and two-byte letters, digits,
	 * stopwords), and caps reached after a word and after a bigram.
	 */
	static const char *const words[] = {
		"a", "x", "Q", "7", "\xC3\xA9", "\xC3\x89\xC3\xA9", "\xD0\xB6", "ab", "a1", "42",
		"the", "zebra", "caf\xC3\xA9", "abcdefghijklmnop",
	};
	struct tokenizer *ref = ref_tokenizer_new(sw);
	char text[8192];
	for (size_t wi = 0; wi < sizeof(words) / sizeof(*words); wi++) {
		for (int c = 1; c < 0x80; c++) {
			int len = snprintf(text, sizeof(text), "start %s%c next %s", words[wi], c,
					   words[wi]);
			same_as_reference(tk, ref, text, (size_t)len, "en");
			same_as_reference(tk, ref, text, (size_t)len, "");
		}
	}
	/* "w000q w001q ...": a word and a bigram each; leading stopwords shift the parity. */
	for (int lead = 0; lead < 4; lead++) {
		for (int nw = 270; nw < 290; nw++) {
			size_t o = 0;
			for (int i = 0; i < lead; i++)
				o += (size_t)snprintf(text + o, sizeof(text) - o, "the ");
			for (int i = 0; i < nw; i++)
				o += (size_t)snprintf(text + o, sizeof(text) - o, "w%03dq%s", i,
						      i % 7 == 3 ? ". " : " ");
			same_as_reference(tk, ref, text, o, "en");
			const struct token *tok;
			size_t n = tokenizer_run(tk, text, o, "en", &tok);
			/* Every word, and a bigram unless ". " comes before it; cut at the cap. */
			size_t all = (size_t)nw;
			for (int i = 1; i < nw; i++)
				all += (i - 1) % 7 != 3;
			size_t want = all < LIMIT_TOKENS_PER_POST ? all : LIMIT_TOKENS_PER_POST;
			ck_assert_uint_eq(n, want);
		}
	}
	ref_tokenizer_free(ref);
}
END_TEST

START_TEST(test_tokenize_word_loop_longest_steps_match_reference)
{
	/*
	 * The word loop takes a word's bits from those loaded at the word
	 * before, shifted by its length and the one or two bytes after it: the
	 * longest steps (16-byte words, then ", " or ". "), a 16-byte word
	 * before ".x" (the bit after the dot is the last one read), and 17-byte
	 * words (too long for the loop), at every offset in a 64-byte block;
	 * and the loop entered after a stopword, a dropped word and a long
	 * kept word that the general path took.
	 */
	static const char *const words[] = {
		"abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmno", "themselves",
		"the", "1234567890123456", "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9xy",
		"x", "ab",
	};
	static const char *const seps[] = { " ", ", ", ". ", ".x ", "! ", "; " };
	const size_t nwords = sizeof(words) / sizeof(*words), nseps = sizeof(seps) / sizeof(*seps);
	struct tokenizer *ref = ref_tokenizer_new(sw);
	char text[4096];
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (size_t off = 0; off < 64; off++) {
		for (int round = 0; round < 24; round++) {
			size_t o = off;
			memset(text, ' ', off);
			for (int i = 0; i < 40; i++) {
				const char *w = words[xs(&x) % nwords];
				/* mostly the longest words, so that long steps follow one another */
				if (round % 2 == 0 && xs(&x) % 4)
					w = words[0];
				const char *sep = seps[xs(&x) % nseps];
				o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", w, sep);
			}
			same_as_reference(tk, ref, text, o, "en");
			same_as_reference(tk, ref, text, o, "");
		}
	}
	/* One count a wrong step would change: 16-byte words, each a term and a bigram. */
	size_t o = 0;
	for (int i = 0; i < 10; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "abcdefghijklmn%02d ", i);
	const struct token *tok;
	ck_assert_uint_eq(tokenizer_run(tk, text, o, "en", &tok), 19);
	ck_assert_int_eq(tok[18].len, 33);
	/* The loop entered after a kept word the general path took, of every length near the cap. */
	for (size_t n = LIMIT_TERM_BYTES - 24; n <= LIMIT_TERM_BYTES + 1; n++) {
		memset(text, 'a', n);
		text[n / 2] = '-';
		o = n;
		o += (size_t)snprintf(text + o, sizeof(text) - o, " next words, don't stop the loop");
		same_as_reference(tk, ref, text, o, "en");
		same_as_reference(tk, ref, text + n / 2 + 1, o - n / 2 - 1, "en");
	}
	ref_tokenizer_free(ref);
}
END_TEST

START_TEST(test_tokenize_long_hashtag_bodies_after_words)
{
	/*
	 * The word loop takes " #tag" bodies of up to 55 bytes and leaves
	 * longer ones to the hashtag recognizer: bodies around that length,
	 * at every offset in a 64-byte block, give one hashtag either way.
	 */
	struct tokenizer *ref = ref_tokenizer_new(sw);
	ck_assert_ptr_nonnull(ref);
	char text[300], want[300];
	for (size_t at = 0; at < 64; at++) {
		for (size_t bl = 50; bl < 70; bl++) {
			memset(text, 'x', at);
			memcpy(text + at, "good #", 6);
			for (size_t i = 0; i < bl; i++)
				text[at + 6 + i] = (char)(i % 3 ? 'A' + i % 26 : '0' + i % 10);
			memcpy(text + at + 6 + bl, " code", 5);
			size_t len = at + 6 + bl + 5;
			same_as_reference(tk, ref, text, len, "en");
			if (at != 0)
				continue;
			int o = snprintf(want, sizeof(want), "word:good|hashtag:#");
			for (size_t i = 0; i < bl; i++)
				want[o++] = (char)tolower((unsigned char)text[6 + i]);
			snprintf(want + o, sizeof(want) - (size_t)o, "|word:code");
			ck_assert_str_eq(terms_n(tk, text, len, "en"), want);
		}
	}
	ref_tokenizer_free(ref);
}
END_TEST

START_TEST(test_tokenize_long_labels_names_and_url_runs_match_reference)
{
	/*
	 * Hashtag, mention and host labels, URL hosts and URL paths are read
	 * a run of letters and digits at a time off the prescan's bitmaps,
	 * which are sure of 57 bits; longer runs go byte by byte. Runs around
	 * that length, at every offset in a 64-byte block, give the reference
	 * build's terms.
	 */
	static const char *const forms[] = {
		"#%s x", "@%s x", "@ada@%s.org x", "%s.com x", "www.%s.io/p x",
		"see https://%s.example.com x", "https://a.%s.b.co/%s?q=%s x",
		"http://ex.com/%s/%s y", "https://%s-%s.org/ z", "go https://x.io/%s_%s. Next",
	};
	struct tokenizer *ref = ref_tokenizer_new(sw);
	ck_assert_ptr_nonnull(ref);
	char body[80], text[600];
	for (size_t f = 0; f < sizeof(forms) / sizeof(*forms); f++) {
		for (size_t at = 0; at < 64; at++) {
			for (size_t bl = 50; bl < 66; bl++) {
				for (size_t i = 0; i < bl; i++)
					body[i] = (char)(i % 3 ? 'A' + (i + f) % 26 : '0' + i % 10);
				memset(text, 'y', at);
				text[at] = ' ';
				/* Each "%s" of the form is the body. */
				size_t n = at + 1;
				for (const char *c = forms[f]; *c; c++) {
					if (c[0] == '%' && c[1] == 's') {
						memcpy(text + n, body, bl);
						n += bl;
						c++;
					} else {
						text[n++] = *c;
					}
				}
				ck_assert(n < sizeof(text));
				same_as_reference(tk, ref, text, n, "en");
			}
		}
	}
	EXPECT("#Aa0123456789012345678901234567890123456789012345678901234567 x", "en",
	       "hashtag:#aa0123456789012345678901234567890123456789012345678901234567");
	EXPECT("rust https://WWW.Example.COM/Path/To?x=1 code", "en",
	       "word:rust|domain:example.com|word:code");
	ref_tokenizer_free(ref);
}
END_TEST

START_TEST(test_tokenize_every_elision_and_no_other_is_cut)
{
	/* The French and Italian elisions, by length (the tokenizer looks them up by length). */
	static const char *const elided[] = {
		"l", "d", "j", "m", "n", "s", "t", "c", "qu", "un", "all", "dell", "dall", "nell",
		"sull", "coll", "anch", "quest", "quell", "jusqu", "lorsqu", "puisqu", "quoiqu",
	};
	char text[64], want[128];
	for (size_t i = 0; i < sizeof(elided) / sizeof(*elided); i++) {
		snprintf(text, sizeof(text), "%s'zorg", elided[i]);
		ck_assert_str_eq(terms(text, "fr"), "word:zorg");
		/* One letter more, or the last one changed: not an elision, one word. */
		snprintf(text, sizeof(text), "%sz'zorg", elided[i]);
		snprintf(want, sizeof(want), "word:%sz'zorg", elided[i]);
		ck_assert_str_eq(terms(text, "fr"), want);
		snprintf(text, sizeof(text), "%s'zorg", elided[i]);
		text[strlen(elided[i]) - 1] = 'x';
		snprintf(want, sizeof(want), "word:%s", text);
		ck_assert_str_eq(terms(text, "fr"), want);
	}
	EXPECT("puisqu'il quoiqu'elle lorsqu'ami", "en", "word:il|word:elle|bigram:il elle|word:ami|"
	       "bigram:elle ami");
	EXPECT("puisquu'il xorsqu'on", "en", "word:puisquu'il|word:xorsqu'on|"
	       "bigram:puisquu'il xorsqu'on");
}
END_TEST

START_TEST(test_tokenize_latin_words_among_other_non_ascii)
{
	/*
	 * Two-byte letters are found by their lead bytes, also next to three-
	 * and four-byte sequences whose continuation bytes look like theirs,
	 * and folded in the text copy; the rest is left as it was.
	 */
	EXPECT("東京 Café latte", "fr", "word:東京|word:café|word:latte|bigram:café latte");
	EXPECT("\xF0\x9F\x98\x80 Ärger über ΑΘΗΝΑ", "de",
	       "emoji:\xF0\x9F\x98\x80|word:ärger|word:αθηνα");
	EXPECT("\xE2\x82\xACÉléphant москва\xC3", "",
	       "word:éléphant|word:москва|bigram:éléphant москва");
	/* ჩ is E1 83 A9, and 83 A9 alone (invalid, two symbols) would read as é. */
	EXPECT("ჩაი Ärger", "de", "word:ჩაი|word:ärger|bigram:ჩაი ärger");
	EXPECT("alpha \x83\xA9 beta", "en", "word:alpha|word:beta|bigram:alpha beta");
	struct tokenizer *ref = ref_tokenizer_new(sw);
	ck_assert_ptr_nonnull(ref);
	static const char *const parts[] = { "東", "é", "Ж", "ß", "ά", "\xF0\x9F\x98\x80", "a",
					     " ", "\xC3", "\x80", "\xD4\xAF", "\xD5\x80", "e\xCC\x81",
					     "ჩ", "\x83\xA9", "ab", "Çx", "ab ", " \x83\xA9 " };
	uint64_t x = 7;
	char text[400];
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = 0;
		while (len < 300) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			const char *q = parts[(x >> 33) % (sizeof(parts) / sizeof(*parts))];
			memcpy(text + len, q, strlen(q));
			len += strlen(q);
		}
		same_as_reference(tk, ref, text, len, iter % 2 ? "ru" : "");
	}
	ref_tokenizer_free(ref);
}
END_TEST

START_TEST(test_tokenize_dot_between_words_and_latin_letters)
{
	/*
	 * The word loop ends a word at '.' or ',' only when no word byte
	 * follows (a Latin letter counts, and leaves the word to the general
	 * path): every mix of ASCII and Latin words around them.
	 */
	EXPECT("voilà.zèbre", "en", "word:voilà|word:zèbre");
	EXPECT("rust.zèbre", "en", "word:rust|word:zèbre");
	EXPECT("café, zèbre", "en", "word:café|word:zèbre");
	struct tokenizer *ref = ref_tokenizer_new(sw);
	ck_assert_ptr_nonnull(ref);
	static const char *const words[] = { "abc", "caf\xC3\xA9", "\xC3\xA9t\xC3\xA9", "x9",
					     "\xD0\xBC\xD0\xB8\xD1\x80", "the", "9" };
	static const char *const seps[] = { ".", ",", ". ", ", ", ".,", "" };
	const size_t nw = sizeof(words) / sizeof(*words), ns = sizeof(seps) / sizeof(*seps);
	char text[64];
	for (size_t a = 0; a < nw; a++)
		for (size_t sp = 0; sp < ns; sp++)
			for (size_t b = 0; b < nw; b++) {
				int len = snprintf(text, sizeof(text), "go %s%s%s now", words[a],
						   seps[sp], words[b]);
				ck_assert(len > 0 && (size_t)len < sizeof(text));
				same_as_reference(tk, ref, text, (size_t)len, "fr");
				same_as_reference(tk, ref, text, (size_t)len - 4, "");
			}
	ref_tokenizer_free(ref);
}
END_TEST

/* A tokenizer made with TRENDD_TOKENIZE_ISA=sse2: the SSE2 prescan, whatever the CPU has. */
static struct tokenizer *sse2_tokenizer_new(const struct stopwords *s)
{
	ck_assert_int_eq(setenv("TRENDD_TOKENIZE_ISA", "sse2", 1), 0);
	struct tokenizer *t = tokenizer_new(s);
	ck_assert_int_eq(unsetenv("TRENDD_TOKENIZE_ISA"), 0);
	ck_assert_ptr_nonnull(t);
	return t;
}

/*
 * Tokenizes text with the tokenizers def and sse, and fails when the text
 * copies, the bitmaps or the terms differ. The text is copied to end where
 * an inaccessible page begins, so reading past it faults. (Not a heap copy
 * under ASan: GCC's ASan does not check the masked loads of the AVX-512
 * prescan.)
 */
static void same_prescan(struct tokenizer *def, struct tokenizer *sse, const char *text,
			 size_t len, const char *lang)
{
	char *copy = tu_guarded_copy(text, len);
	static char a[1 << 17], b[1 << 17];
	const struct token *ta, *tb;
	size_t na = tokenizer_run(def, copy, len, lang, &ta);
	size_t nb = tokenizer_run(sse, copy, len, lang, &tb);
	size_t la = render_into(a, sizeof(a), ta, na), lb = render_into(b, sizeof(b), tb, nb);
	ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "terms differ for [%.*s]",
		      (int)(len < 200 ? len : 200), text);
	size_t scanned = len < TOKENIZE_SCAN_BYTES ? len : TOKENIZE_SCAN_BYTES;
	size_t words = scanned / 64 + 2;
	ck_assert(memcmp(def->lowbuf, sse->lowbuf, LOW_LEAD + scanned + LOW_PAD) == 0);
	ck_assert(memcmp(def->alnum, sse->alnum, words * sizeof(uint64_t)) == 0);
	ck_assert(memcmp(def->letter, sse->letter, words * sizeof(uint64_t)) == 0);
	ck_assert(memcmp(def->high, sse->high, words * sizeof(uint64_t)) == 0);
	ck_assert(memcmp(def->word, sse->word, words * sizeof(uint64_t)) == 0);
	tu_guarded_free(copy, len);
}

START_TEST(test_tokenize_isa_variants_agree)
{
	/*
	 * A tokenizer takes the AVX-512BW prescan where the CPU has it; the
	 * SSE2 one must make the same text copy, bitmaps and terms on every
	 * kind of byte, at every length around the 16- and 64-byte loads.
	 * (This file's own build of tokenize.c is the portable reference, so
	 * the CPU is asked here, not through PRESCAN_AVX512.)
	 */
	struct tokenizer *sse = sse2_tokenizer_new(sw);
	ck_assert(!sse->avx512);
	ck_assert_int_eq(unsetenv("TRENDD_TOKENIZE_ISA"), 0);
	struct tokenizer *def = tokenizer_new(sw);
	ck_assert_ptr_nonnull(def);
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	ck_assert_int_eq(def->avx512, __builtin_cpu_supports("avx512f") &&
					      __builtin_cpu_supports("avx512bw"));
#endif
	ck_assert_str_eq(tokenizer_isa(def), def->avx512 ? "avx512" : "sse2");
	ck_assert_str_eq(tokenizer_isa(sse), "sse2");
	static const char *const parts[] = {
		"a", "Z", "@", "[", "`", "{", "/", ":", "0", "9", "A", "z", " ", "\t", "\n",
		"\x7F", "\x80", "\xBF", "\xC0", "\xC1", "\xC2", "\xD4", "\xD5", "\xFF",
		"\xC3\xA9", "\xC3\x89", "\xD0\x96", "\xD4\xAF", "\xE6\x97\xA5",
		"\xF0\x9F\x98\x80", "the", "Rust", "http://x.org", "#tag", "\0",
	};
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char text[600];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0, want = xs(&x) % 300;
		while (len < want) {
			const char *q = parts[xs(&x) % (sizeof(parts) / sizeof(*parts))];
			size_t ql = q[0] ? strlen(q) : 1;
			memcpy(text + len, q, ql);
			len += ql;
		}
		same_prescan(def, sse, text, len, iter % 3 ? "en" : "");
	}
	/* Every byte value at every position of texts up to three blocks long. */
	for (size_t len = 0; len <= 192; len++) {
		for (unsigned c = 0; c < 256; c += 3) {
			memset(text, 'q', len);
			for (size_t i = c % 7; i < len; i += 7)
				text[i] = (char)(c + i);
			same_prescan(def, sse, text, len, "en");
		}
	}
	struct post *ps;
	size_t n = load_posts(&ps);
	for (size_t i = 0; i < n; i++) {
		same_prescan(def, sse, ps[i].text, ps[i].len, ps[i].lang);
		for (size_t cut = 0; cut < ps[i].len; cut += 1 + cut / 32)
			same_prescan(def, sse, ps[i].text, cut, "");
	}
	free(ps);
	/* The scan cap: a text longer than TOKENIZE_SCAN_BYTES. */
	char *big = malloc(TOKENIZE_SCAN_BYTES + 100);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < TOKENIZE_SCAN_BYTES + 100; i++)
		big[i] = "Ab \xC3\xA9z,9"[i % 9];
	same_prescan(def, sse, big, TOKENIZE_SCAN_BYTES + 100, "fr");
	same_prescan(def, sse, big, TOKENIZE_SCAN_BYTES - 1, "fr");
	free(big);
	tokenizer_free(sse);
	tokenizer_free(def);
}
END_TEST

START_TEST(test_tokenize_without_stopwords)
{
	struct tokenizer *t2 = tokenizer_new(NULL);
	ck_assert_ptr_nonnull(t2);
	ck_assert_str_eq(terms_n(t2, "the cat", 7, "en"), "word:the|word:cat|bigram:the cat");
	tokenizer_free(t2);
}
END_TEST

START_TEST(test_stopwords_sets_agree_with_lists)
{
	/* Every shipped word, in every set, and words next to them that are not in any list. */
	static const char *const lists[] = { "en", "de", "fr", "es", "pt", "ja", "ru", "zh" };
	char path[4096];
	for (size_t l = 0; l < sizeof(lists) / sizeof(*lists); l++) {
		snprintf(path, sizeof(path), "%s/stopwords/%s.txt", TRENDD_TEST_DATA_DIR, lists[l]);
		size_t flen;
		char *buf = tu_read_file(path, &flen);
		ck_assert_ptr_nonnull(buf);
		const char *langs[] = { lists[l], "", "en" };
		for (size_t g = 0; g < 3; g++) {
			uint64_t mask = stopwords_lang_mask(sw, langs[g]);
			const struct stopword_set *set = stopwords_set(sw, mask);
			ck_assert_ptr_nonnull(set);
			size_t checked = 0;
			for (char *line = buf; line < buf + flen;) {
				char *nl = memchr(line, '\n', (size_t)(buf + flen - line));
				size_t n = nl ? (size_t)(nl - line) : (size_t)(buf + flen - line);
				char w[32] = { 0 };
				if (n && n <= 16 && line[0] != '#') {
					memcpy(w, line, n);
					for (int v = 0; v < 2; v++) {
						uint64_t a, b;
						stopword_key(w, n, &a, &b);
						ck_assert_int_eq(!!stopword_set_probe(set, a, b),
								 stopwords_contains(sw, w, n, mask));
						w[n - 1] ^= 0x20; /* a neighbour: case changed */
						checked++;
					}
				}
				line += n + 1;
			}
			ck_assert_uint_gt(checked, 50);
			/*
			 * The keys spread over the slots: a set builds at its first
			 * size, under six slots per word (a weak hash needs bigger
			 * tables, seed after seed).
			 */
			size_t keys = 0;
			for (size_t i = 0; i <= set->slot_mask; i++)
				keys += set->slots[i][1] != 0;
			ck_assert_uint_le(set->slot_mask + 1, keys < 11 ? 64 : 6 * keys);
		}
		free(buf);
	}
	ck_assert_ptr_null(stopwords_set(sw, 0x12345));
	ck_assert_ptr_null(stopwords_set(NULL, 1));
}
END_TEST

START_TEST(test_stopwords_keys_of_every_length)
{
	/* Keys hold up to 16 bytes and the length: words around those edges. */
	struct list_dir d;
	list_dir_make(&d);
	char path[96];
	list_file(&d, "xx.txt", path, sizeof(path));
	write_file(path, "abcdefg\nabcdefgh\nabcdefghi\nabcdefghijklmno\nabcdefghijklmnop\n"
			 "abcdefghijklmnopq\nab\tc\nab\x01\n");
	struct stopwords *s2;
	char err[256];
	ck_assert_int_eq(stopwords_load(&s2, d.dir, err, sizeof(err)), 0);
	struct tokenizer *t2 = tokenizer_new(s2);
	struct tokenizer *r2 = ref_tokenizer_new(s2);
	const char *text = "abcdefg abcdefgh abcdefghi abcdefghijklmno abcdefghijklmnop "
			   "abcdefghijklmnopq abcdefgx abcdefghij abcdefghijklmnopqr ab c";
	ck_assert_str_eq(terms_n(t2, text, strlen(text), "xx"),
			 "word:abcdefgx|word:abcdefghij|bigram:abcdefgx abcdefghij|"
			 "word:abcdefghijklmnopqr|bigram:abcdefghij abcdefghijklmnopqr|"
			 "word:ab|bigram:abcdefghijklmnopqr ab");
	same_as_reference(t2, r2, text, strlen(text), "xx");
	/* Entries with control bytes are skipped as malformed: no term has one. */
	ck_assert(!stopwords_contains(s2, "ab\tc", 4, stopwords_lang_mask(s2, "xx")));
	ck_assert(!stopwords_contains(s2, "ab\x01", 3, stopwords_lang_mask(s2, "xx")));
	ref_tokenizer_free(r2);
	tokenizer_free(t2);
	stopwords_free(s2);
	list_dir_remove(&d);
}
END_TEST

/* Word number i of a generated list: 2..16 lowercase letters. */
static size_t gen_word(unsigned i, char *w)
{
	size_t n = 2 + (i * 7u) % 15;
	unsigned x = i;
	for (size_t k = 0; k < n; k++) {
		w[k] = (char)('a' + x % 26);
		x /= 26;
	}
	/* Letters spell i in base 26, then 'a's: words of 3 letters or more are distinct. */
	return n;
}

START_TEST(test_stopwords_large_set_has_one_slot_per_word)
{
	/*
	 * 12,000 words, and a list of one: each set holds every word in exactly
	 * one slot of a table barely larger than its words (a two-choice table
	 * takes twice as many slots), finds them all, and finds no neighbour.
	 */
	enum { NWORDS = 12000 };
	struct list_dir d;
	list_dir_make(&d);
	char path[96], path1[96];
	list_file(&d, "xx.txt", path, sizeof(path));
	list_file(&d, "yy.txt", path1, sizeof(path1));
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < NWORDS; i++) {
		char w[17];
		size_t n = gen_word(i, w);
		fprintf(f, "%.*s\n", (int)n, w);
	}
	fclose(f);
	write_file(path1, "solo\n");
	struct stopwords *s2;
	char err[256];
	ck_assert_int_eq(stopwords_load(&s2, d.dir, err, sizeof(err)), 0);
	const char *langs[] = { "xx", "yy", "" };
	for (size_t g = 0; g < 3; g++) {
		uint64_t mask = stopwords_lang_mask(s2, langs[g]);
		const struct stopword_set *set = stopwords_set(s2, mask);
		ck_assert_ptr_nonnull(set);
		size_t keys = 0;
		for (size_t i = 0; i <= set->slot_mask; i++)
			keys += set->slots[i][1] != 0;
		ck_assert_uint_ge(keys, g == 1 ? 1 : 11000);
		ck_assert_uint_le(set->slot_mask + 1, keys + keys / 4 + 1);
		for (unsigned i = 0; i < NWORDS + 1; i++) {
			char w[32] = { 0 };
			size_t n = i < NWORDS ? gen_word(i, w) : 4;
			if (i == NWORDS)
				memcpy(w, "solo", 4);
			for (int v = 0; v < 2; v++) {
				uint64_t a, b;
				stopword_key(w, n, &a, &b);
				int in = stopwords_contains(s2, w, n, mask);
				ck_assert_int_eq(!!stopword_set_probe(set, a, b), in);
				if (v == 0)
					ck_assert_int_eq(in, i < NWORDS ? g != 1 : g != 0);
				else
					ck_assert_int_eq(in, 0);
				w[n - 1] = '0'; /* a neighbour: no listed word has a digit */
			}
		}
	}
	stopwords_free(s2);
	list_dir_remove(&d);
}
END_TEST

/* Whether a set's probe and the main table agree on s[0..n) (1..16 bytes). */
static int set_probe_checked(const struct stopwords *s2, const struct stopword_set *set,
			     const char *s, size_t n, uint64_t mask)
{
	char w[32] = { 0 };
	memcpy(w, s, n);
	uint64_t a, b;
	stopword_key(w, n, &a, &b);
	int in = !!stopword_set_probe(set, a, b);
	ck_assert_msg(in == !!stopwords_contains(s2, w, n, mask), "%.*s: set %d", (int)n, w, in);
	return in;
}

START_TEST(test_stopwords_sets_find_every_word_and_no_one_byte_neighbour)
{
	/*
	 * Every list, in its own set and in the set of all lists (an empty
	 * and an unknown language): each listed word of up to 16 bytes is
	 * found, and so is no word of the same length with one byte changed
	 * that no list holds (each byte, two ways).
	 */
	char path[4096];
	size_t found = 0, rejected = 0;
	for (size_t l = 0; l < stopwords_lang_count(sw); l++) {
		const char *lang = stopwords_lang_name(sw, l);
		snprintf(path, sizeof(path), "%s/stopwords/%s.txt", TRENDD_TEST_DATA_DIR, lang);
		size_t flen;
		char *buf = tu_read_file(path, &flen);
		ck_assert_ptr_nonnull(buf);
		const char *langs[] = { lang, "", "qq-ZZ" };
		for (size_t g = 0; g < 3; g++) {
			uint64_t mask = stopwords_lang_mask(sw, langs[g]);
			const struct stopword_set *set = stopwords_set(sw, mask);
			ck_assert_ptr_nonnull(set);
			for (char *line = buf; line < buf + flen;) {
				char *nl = memchr(line, '\n', (size_t)(buf + flen - line));
				size_t n = nl ? (size_t)(nl - line) : (size_t)(buf + flen - line);
				char w[17];
				bool plain = n && n <= 16 && line[0] != '#';
				for (size_t i = 0; plain && i < n; i++)
					plain = (line[i] >= 'a' && line[i] <= 'z') || line[i] == '\'' ||
						(unsigned char)line[i] >= 0x80;
				if (plain) {
					/* Lowercase or non-ASCII lines: the shipped lists are normalized. */
					ck_assert_msg(set_probe_checked(sw, set, line, n, mask), "%.*s",
						      (int)n, line);
					found++;
					for (size_t i = 0; i < n; i++) {
						for (int v = 0; v < 2; v++) {
							memcpy(w, line, n);
							w[i] = (char)(v ? w[i] ^ 0x01 : w[i] + 1);
							if ((unsigned char)w[i] < 0x20 ||
							    stopwords_contains(sw, w, n, mask))
								continue;
							ck_assert(!set_probe_checked(sw, set, w, n, mask));
							rejected++;
						}
					}
				}
				line += n + 1;
			}
		}
		free(buf);
	}
	ck_assert_uint_ge(stopwords_lang_count(sw), 17);
	ck_assert_uint_gt(found, 3 * 3000);
	ck_assert_uint_gt(rejected, 10 * found);
}
END_TEST

START_TEST(test_stopwords_set_takes_another_multiplier_when_a_bucket_overflows)
{
	/*
	 * 80 words that all fall in one bucket under the first multiplier a
	 * set tries (stopwords.c numbers them from 1: hash_u64(1) | 1; 80 keys
	 * make 16 buckets): more than a bucket may hold, so that multiplier
	 * fails, and the set is built with another one. All 80 are found in
	 * it, and their neighbours are not.
	 */
	enum { NWORDS = 80 };
	const uint64_t first = hash_u64(1) | 1;
	char words[NWORDS][8];
	size_t nw = 0;
	for (unsigned i = 0; nw < NWORDS; i++) {
		char w[32] = { 0 };
		w[0] = 'q';
		for (unsigned k = 1, x = i; k < 6; k++, x /= 26)
			w[k] = (char)('a' + x % 26);
		uint64_t a, b;
		stopword_key(w, 6, &a, &b);
		if (stopword_bucket(stopword_hash(first, a, b), 15) == 0)
			memcpy(words[nw++], w, 8);
	}
	struct list_dir d;
	list_dir_make(&d);
	char path[96];
	list_file(&d, "xx.txt", path, sizeof(path));
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < NWORDS; i++)
		fprintf(f, "%s\n", words[i]);
	fclose(f);
	struct stopwords *s2;
	char err[256];
	ck_assert_int_eq(stopwords_load(&s2, d.dir, err, sizeof(err)), 0);
	uint64_t mask = stopwords_lang_mask(s2, "xx");
	const struct stopword_set *set = stopwords_set(s2, mask);
	ck_assert_ptr_nonnull(set);
	ck_assert_uint_eq(set->bucket_mask, 15);
	ck_assert_uint_ne(set->mult, first);
	for (size_t i = 0; i < NWORDS; i++) {
		char w[8];
		memcpy(w, words[i], 8);
		ck_assert(set_probe_checked(s2, set, w, 6, mask));
		w[5] = '0'; /* no listed word has a digit */
		ck_assert(!set_probe_checked(s2, set, w, 6, mask));
	}
	/* The word loop drops them, as the reference tokenizer does. */
	struct tokenizer *t2 = tokenizer_new(s2);
	struct tokenizer *r2 = ref_tokenizer_new(s2);
	char text[NWORDS * 8];
	size_t o = 0;
	for (size_t i = 0; i < NWORDS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", i ? " " : "", words[i]);
	ck_assert_str_eq(terms_n(t2, text, o, "xx"), "");
	same_as_reference(t2, r2, text, o, "xx");
	ref_tokenizer_free(r2);
	tokenizer_free(t2);
	stopwords_free(s2);
	list_dir_remove(&d);
}
END_TEST

START_TEST(test_stopwords_keys_that_hash_alike_leave_the_list_to_the_table_quickly)
{
	/*
	 * Two 16-byte words whose keys fold to the same 64 bits: a2 = a1 with
	 * bit 24 flipped, b2 = b1 with bit 1 flipped, which the rotation by 23
	 * moves to bit 24. They hash alike under every multiplier, so no set
	 * can place them: the load gives up after a bounded number of tries
	 * (it used to try tables up to 2^24 slots, for seconds and 256 MB),
	 * and the lists are looked up in the main table, with the same terms.
	 */
	static const char w1[] = "abcdefghabcdefgh", w2[] = "abceefghcbcdefgh";
	uint64_t a1, b1, a2, b2;
	stopword_key(w1, 16, &a1, &b1);
	stopword_key(w2, 16, &a2, &b2);
	ck_assert(a1 != a2 && b1 != b2);
	ck_assert_uint_eq(stopword_hash(3, a1, b1), stopword_hash(3, a2, b2));
	struct list_dir d;
	list_dir_make(&d);
	char path[96], path1[96];
	list_file(&d, "xx.txt", path, sizeof(path));
	list_file(&d, "yy.txt", path1, sizeof(path1));
	write_file(path, "abcdefghabcdefgh\nabceefghcbcdefgh\nthe\n");
	write_file(path1, "solo\n");
	struct stopwords *s2;
	char err[256];
	double t0 = now_s();
	ck_assert_int_eq(stopwords_load(&s2, d.dir, err, sizeof(err)), 0);
	ck_assert_double_lt(now_s() - t0, 5.0);
	ck_assert_ptr_null(stopwords_set(s2, stopwords_lang_mask(s2, "xx")));
	ck_assert_ptr_null(stopwords_set(s2, stopwords_lang_mask(s2, "")));
	ck_assert_ptr_nonnull(stopwords_set(s2, stopwords_lang_mask(s2, "yy")));
	struct tokenizer *t2 = tokenizer_new(s2);
	struct tokenizer *r2 = ref_tokenizer_new(s2);
	const char *text = "abcdefghabcdefgh the abceefghcbcdefgh abceefghcbcdefgi solo";
	ck_assert_str_eq(terms_n(t2, text, strlen(text), "xx"),
			 "word:abceefghcbcdefgi|word:solo|bigram:abceefghcbcdefgi solo");
	ck_assert_str_eq(terms_n(t2, text, strlen(text), "yy"),
			 "word:abcdefghabcdefgh|word:the|bigram:abcdefghabcdefgh the|"
			 "word:abceefghcbcdefgh|bigram:the abceefghcbcdefgh|"
			 "word:abceefghcbcdefgi|bigram:abceefghcbcdefgh abceefghcbcdefgi");
	for (size_t g = 0; g < 3; g++)
		same_as_reference(t2, r2, text, strlen(text), (const char *[]){ "xx", "yy", "" }[g]);
	ref_tokenizer_free(r2);
	tokenizer_free(t2);
	stopwords_free(s2);
	list_dir_remove(&d);
}
END_TEST

static Suite *tokenize_suite(void)
{
	Suite *s = suite_create("tokenize");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tokenize_lowercases_words_and_joins_bigrams);
	tcase_add_test(tc, test_tokenize_nfkc_folds_fullwidth_and_ligatures);
	tcase_add_test(tc, test_tokenize_case_folds_sharp_s_and_greek);
	tcase_add_test(tc, test_tokenize_composes_combining_marks);
	tcase_add_test(tc, test_tokenize_rtl_words_and_arabic_marks);
	tcase_add_test(tc, test_tokenize_direction_marks_change_no_term);
	tcase_add_test(tc, test_tokenize_drops_numbers_and_one_letter_words);
	tcase_add_test(tc, test_tokenize_apostrophes_hyphens_and_elisions);
	tcase_add_test(tc, test_tokenize_drops_words_longer_than_term_limit);
	tcase_add_test(tc, test_tokenize_fast_fold_table_matches_utf8proc);
	tcase_add_test(tc, test_tokenize_hashtags);
	tcase_add_test(tc, test_tokenize_rejects_non_hashtags);
	tcase_add_test(tc, test_tokenize_mentions);
	tcase_add_test(tc, test_tokenize_rejects_non_mentions);
	tcase_add_test(tc, test_tokenize_cashtags);
	tcase_add_test(tc, test_tokenize_terms_keep_their_sigil);
	tcase_add_test(tc, test_tokenize_url_hosts_become_domains);
	tcase_add_test(tc, test_tokenize_bare_hosts_become_domains);
	tcase_add_test(tc, test_tokenize_dotted_words_are_not_domains);
	tcase_add_test(tc, test_tokenize_emoji_clusters);
	tcase_add_test(tc, test_tokenize_emoji_variation_selectors_dropped);
	tcase_add_test(tc, test_tokenize_emoji_breaks_bigrams);
	tcase_add_test(tc, test_tokenize_every_sequence_of_the_unicode_emoji_test_list);
	tcase_add_test(tc, test_tokenize_stopwords_several_languages);
	tcase_add_test(tc, test_tokenize_stopword_list_follows_language);
	tcase_add_test(tc, test_tokenize_bigram_breaks);
	tcase_add_test(tc, test_tokenize_invalid_utf8_is_replaced);
	tcase_add_test(tc, test_tokenize_nul_is_a_separator);
	tcase_add_test(tc, test_tokenize_cjk_bigrams);
	tcase_add_test(tc, test_tokenize_thai_bigrams_keep_marks);
	tcase_add_test(tc, test_tokenize_cjk_fast_path_matches_utf8proc);
	tcase_add_test(tc, test_tokenize_long_cjk_run_spans_chunks);
	tcase_add_test(tc, test_tokenize_one_megabyte_text_is_bounded);
	tcase_add_test(tc, test_tokenize_ten_thousand_hashtags_capped);
	tcase_add_test(tc, test_tokenize_word_cap_counts_bigrams);
	tcase_add_test(tc, test_tokenize_pathological_marks_are_bounded);
	tcase_add_test(tc, test_tokenize_random_bytes_hold_invariants);
	tcase_add_test(tc, test_tokenize_real_posts_hold_invariants);
	tcase_add_test(tc, test_tokenize_real_posts_exact_terms);
	tcase_add_test(tc, test_stopwords_load_normalizes_and_skips_bad_lines);
	tcase_add_test(tc, test_stopwords_load_missing_dir_fails);
	tcase_add_test(tc, test_stopwords_shipped_lists_cover_required_languages);
	tcase_add_test(tc, test_tokenize_without_stopwords);
	tcase_add_test(tc, test_tokenize_isa_variants_agree);
	tcase_add_test(tc, test_tokenize_dot_between_words_and_latin_letters);
	tcase_add_test(tc, test_tokenize_shortcuts_match_reference_on_generated_text);
	tcase_add_test(tc, test_tokenize_shortcuts_match_reference_on_real_posts);
	tcase_add_test(tc, test_tokenize_hashtags_between_words);
	tcase_add_test(tc, test_tokenize_bigrams_across_other_separators);
	tcase_add_test(tc, test_tokenize_words_at_block_and_text_edges);
	tcase_add_test(tc, test_tokenize_long_hashtag_bodies_after_words);
	tcase_add_test(tc, test_tokenize_long_labels_names_and_url_runs_match_reference);
	tcase_add_test(tc, test_tokenize_every_elision_and_no_other_is_cut);
	tcase_add_test(tc, test_tokenize_many_languages_in_turn_keep_their_lists);
	tcase_add_test(tc, test_tokenize_latin_words_among_other_non_ascii);
	tcase_add_test(tc, test_tokenize_word_loop_endings_and_cap_match_reference);
	tcase_add_test(tc, test_tokenize_word_loop_longest_steps_match_reference);
	tcase_add_test(tc, test_stopwords_sets_agree_with_lists);
	tcase_add_test(tc, test_stopwords_keys_of_every_length);
	tcase_add_test(tc, test_stopwords_large_set_has_one_slot_per_word);
	tcase_add_test(tc, test_stopwords_sets_find_every_word_and_no_one_byte_neighbour);
	tcase_add_test(tc, test_stopwords_set_takes_another_multiplier_when_a_bucket_overflows);
	tcase_add_test(tc, test_stopwords_keys_that_hash_alike_leave_the_list_to_the_table_quickly);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(tokenize_suite());
}
