/*
 * Unit tests for analytics/sentiment.c: VADER scores against the reference
 * outputs (vader_cases.tsv), against trendd's own probe sentences scored by an
 * independent model of the rules (trendd_cases.tsv), hand-computed examples, the
 * token and byte caps, hostile input and data-file errors; and the fast paths:
 * the SIMD builds (AVX-512, AVX2 and SSE2) against the portable one, tokens across 64-byte
 * blocks, texts read in place, long and odd keys, a large lexicon, lexicon words
 * in a plain context.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analytics/sentiment.h"
#include "tests/unit/testutil.h"

/*
 * A second build of the scorer inside this file, without SIMD (VADER_NO_SIMD),
 * renamed so that it lives next to the SIMD build linked in: the tests below
 * compare the portable code with the AVX-512, AVX2 and SSE2 code on the same texts.
 */
#define VADER_NO_SIMD 1
#define vader portable_vader
#define vader_scratch portable_vader_scratch
#define vader_load portable_vader_load
#define vader_free portable_vader_free
#define vader_scratch_new portable_vader_scratch_new
#define vader_scratch_free portable_vader_scratch_free
#define vader_score portable_vader_score
#define vader_label portable_vader_label
#define vader_isa portable_vader_isa
struct vader;
struct vader_scratch;
int vader_load(struct vader **out, const char *data_dir, char *err, size_t errlen);
void vader_free(struct vader *v);
struct vader_scratch *vader_scratch_new(void);
void vader_scratch_free(struct vader_scratch *s);
void vader_score(const struct vader *v, struct vader_scratch *s, const char *text, size_t len,
		 struct sentiment *out);
int vader_label(double compound);
const char *vader_isa(const struct vader *v);
#include "analytics/sentiment.c"
#undef vader
#undef vader_scratch
#undef vader_load
#undef vader_free
#undef vader_scratch_new
#undef vader_scratch_free
#undef vader_score
#undef vader_label
#undef vader_isa
#undef VADER_NO_SIMD

struct vcase {
	double want[4];   /* compound, pos, neu, neg */
	char *text;       /* owned */
	size_t len;
	size_t lineno;
};

static struct vader *load_vader(void)
{
	struct vader *v = NULL;
	char err[512] = "";
	int rc = vader_load(&v, TRENDD_TEST_DATA_DIR, err, sizeof err);
	ck_assert_msg(rc == 0, "vader_load: %s", err);
	ck_assert_ptr_nonnull(v);
	return v;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the \\ \t \n \r \xHH escapes of trendd_cases.tsv. */
static size_t unescape(const char *s, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\' || i + 1 == len) {
			out[o++] = s[i];
			continue;
		}
		char c = s[++i];
		if (c == 't')
			out[o++] = '\t';
		else if (c == 'n')
			out[o++] = '\n';
		else if (c == 'r')
			out[o++] = '\r';
		else if (c == 'x' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
			 hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else
			out[o++] = c;
	}
	return o;
}

/* Parses compound<TAB>pos<TAB>neu<TAB>neg<TAB>text lines; skips '#' comments. */
static struct vcase *read_cases(const char *rel, int escaped, size_t *count)
{
	size_t len, n = 0, cap = 0, lineno = 0;
	char *buf = tu_read_fixture(rel, &len);
	struct vcase *cases = NULL;
	char *p = buf, *end = buf + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = p, *q;
		size_t llen = nl ? (size_t)(nl - p) : (size_t)(end - p);
		p += llen + 1;
		lineno++;
		if (llen == 0 || line[0] == '#')
			continue;
		line[llen] = 0;
		if (n == cap) {
			cap = cap ? cap * 2 : 128;
			cases = realloc(cases, cap * sizeof *cases);
			ck_assert_ptr_nonnull(cases);
		}
		struct vcase *c = &cases[n++];
		q = line;
		for (int k = 0; k < 4; k++) {
			char *e;
			c->want[k] = strtod(q, &e);
			ck_assert_msg(e != q && *e == '\t', "%s:%zu: bad number", rel, lineno);
			q = e + 1;
		}
		size_t tlen = llen - (size_t)(q - line);
		c->text = malloc(tlen + 1);
		ck_assert_ptr_nonnull(c->text);
		if (escaped) {
			c->len = unescape(q, tlen, c->text);
		} else {
			memcpy(c->text, q, tlen);
			c->len = tlen;
		}
		c->text[c->len] = 0;
		c->lineno = lineno;
	}
	free(buf);
	*count = n;
	return cases;
}

static void free_cases(struct vcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(cases[i].text);
	free(cases);
}

/* The reference prints compound to 4 decimals and the proportions to 3. */
static void format_rounded(const double x[4], char *out, size_t outlen)
{
	snprintf(out, outlen, "%.4f %.3f %.3f %.3f", x[0], x[1], x[2], x[3]);
}

static void score(const struct vader *v, struct vader_scratch *s, const char *text, size_t len,
		  double out[4])
{
	struct sentiment r;
	vader_score(v, s, text, len, &r);
	out[0] = r.compound;
	out[1] = r.pos;
	out[2] = r.neu;
	out[3] = r.neg;
}

static double score_compound(const struct vader *v, struct vader_scratch *s, const char *text)
{
	double r[4];
	score(v, s, text, strlen(text), r);
	return r[0];
}

static void assert_in_range(const double r[4])
{
	ck_assert(isfinite(r[0]) && r[0] >= -1.0 && r[0] <= 1.0);
	for (int k = 1; k < 4; k++)
		ck_assert(isfinite(r[k]) && r[k] >= 0.0 && r[k] <= 1.0);
}

/*
 * Scores every case of a file of reference outputs and compares them as the
 * reference rounds them; returns how many cases the file has.
 */
static size_t check_reference_cases(const char *rel, int escaped)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	size_t n, bad = 0;
	struct vcase *cases = read_cases(rel, escaped, &n);

	for (size_t i = 0; i < n; i++) {
		double got[4];
		char g[128], w[128];
		score(v, s, cases[i].text, cases[i].len, got);
		format_rounded(got, g, sizeof g);
		format_rounded(cases[i].want, w, sizeof w);
		if (strcmp(g, w)) {
			if (bad < 10)
				fprintf(stderr, "%s line %zu [%s]: got %s, want %s\n", rel,
					cases[i].lineno, cases[i].text, g, w);
			bad++;
		}
	}
	ck_assert_uint_eq(bad, 0);
	free_cases(cases, n);
	vader_scratch_free(s);
	vader_free(v);
	return n;
}

START_TEST(test_sentiment_matches_every_reference_case)
{
	ck_assert_uint_eq(check_reference_cases("vader/vader_cases.tsv", 0), 93);
}
END_TEST

/*
 * Generated sentences - lexicon words, boosters, negations, special phrases,
 * emoji, punctuation, odd case and separators, non-ASCII letters, control
 * bytes - as the reference scored them: the rules' interplay, far beyond
 * what hand-written cases reach.
 */
START_TEST(test_sentiment_matches_reference_on_generated_sentences)
{
	ck_assert_uint_eq(check_reference_cases("vader/reference_generated.tsv", 1), 1998);
}
END_TEST

START_TEST(test_sentiment_matches_independent_model_on_own_cases)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	size_t n, bad = 0;
	struct vcase *cases = read_cases("vader/trendd_cases.tsv", 1, &n);

	ck_assert_uint_ge(n, 300);
	for (size_t i = 0; i < n; i++) {
		double got[4];
		char g[128], w[128];
		int close = 1;
		score(v, s, cases[i].text, cases[i].len, got);
		format_rounded(got, g, sizeof g);
		format_rounded(cases[i].want, w, sizeof w);
		/* Same operations in the same order: only last-digit differences allowed. */
		for (int k = 0; k < 4; k++)
			close &= fabs(got[k] - cases[i].want[k]) <= 1e-12;
		if (strcmp(g, w) || !close) {
			fprintf(stderr, "line %zu: got %.17g %.17g %.17g %.17g, want %s\n",
				cases[i].lineno, got[0], got[1], got[2], got[3], w);
			bad++;
		}
	}
	ck_assert_uint_eq(bad, 0);
	free_cases(cases, n);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_hand_computed_examples)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	double r[4], val;
	char buf[32];
	const char *t;

	/* "VERY" is upper, the rest is not: good 1.9 + booster 0.293 + caps 0.733 */
	t = "The service was VERY good.";
	score(v, s, t, strlen(t), r);
	val = 1.9 + (0.293 + 0.733);
	ck_assert_double_eq_tol(r[0], val / sqrt(val * val + 15), 1e-12);
	ck_assert_double_eq_tol(r[1], (val + 1) / (val + 1 + 4), 1e-12);
	ck_assert_double_eq_tol(r[2], 4 / (val + 1 + 4), 1e-12);
	ck_assert_double_eq(r[3], 0);

	/* a negative word flips the booster, and caps on the booster push further down */
	t = "The food was VERY bad";
	score(v, s, t, strlen(t), r);
	val = -2.5 + (-0.293 - 0.733);
	ck_assert_double_eq_tol(r[0], val / sqrt(val * val + 15), 1e-12);
	ck_assert_double_eq_tol(r[3], (1 - val) / (1 - val + 4), 1e-12);

	/* not (d=1) negates, two '!' add 0.584 away from zero */
	t = "not good!!";
	score(v, s, t, strlen(t), r);
	val = 1.9 * -0.74 - 2 * 0.292;
	ck_assert_double_eq_tol(r[0], val / sqrt(val * val + 15), 1e-12);
	ck_assert_double_eq_tol(r[3], (1.9 * 0.74 + 1 + 0.584) / (1.9 * 0.74 + 1 + 0.584 + 1),
				1e-12);

	/* the "but" quirk: nice 1.8 -> 0.9 equals okay 0.9, which is halved again */
	t = "nice but okay";
	score(v, s, t, strlen(t), r);
	val = 0.45 + 0.9;
	ck_assert_double_eq_tol(r[0], val / sqrt(val * val + 15), 1e-12);
	snprintf(buf, sizeof buf, "%.4f", r[0]);
	ck_assert_str_eq(buf, "0.3291");

	/* emoji description glued to the following word: "great beaming ... eyesday" */
	ck_assert_double_eq(score_compound(v, s, "great\xF0\x9F\x98\x81" "day"),
			    score_compound(v, s, "great beaming face with smiling eyesday"));
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_empty_and_whitespace_only_score_zero)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	const char *texts[] = { "", " ", "\t\r\n", "\xC2\xA0\xE3\x80\x80\xE2\x80\x83",
				"\x1C\x1D\x1E\x1F\x0B\x0C" };
	double r[4];

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		score(v, s, texts[i], strlen(texts[i]), r);
		for (int k = 0; k < 4; k++)
			ck_assert_double_eq(r[k], 0.0);
	}
	score(v, s, NULL, 0, r);
	ck_assert_double_eq(r[0], 0.0);
	ck_assert_double_eq(r[2], 0.0);
	/* one token that is no word: neutral, not empty */
	score(v, s, "plinth", 6, r);
	ck_assert_double_eq(r[2], 1.0);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_respects_length_not_nul)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	const char t[] = "bad\0good";
	double r[4];

	score(v, s, t, 3, r);
	ck_assert_double_lt(r[0], -0.5);          /* "bad" alone */
	score(v, s, t, sizeof t - 1, r);
	ck_assert_double_eq(r[0], 0.0);           /* one token "bad\0good": not a word */
	ck_assert_double_eq(r[2], 1.0);
	score(v, s, "bad \0 good", 10, r);        /* NUL alone is a neutral token */
	ck_assert_double_eq_tol(r[2], 1.0 / (1 + 3.5 + 2.9), 1e-12);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

static char *repeat(const char *unit, size_t times, const char *tail)
{
	size_t u = strlen(unit), t = strlen(tail);
	char *b = malloc(u * times + t + 1);
	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < times; i++)
		memcpy(b + i * u, unit, u);
	memcpy(b + u * times, tail, t + 1);
	return b;
}

START_TEST(test_sentiment_scores_only_the_first_token_limit_tokens)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	char *inside = repeat("x ", LIMIT_SENTIMENT_TOKENS - 1, "good !!!");
	char *beyond = repeat("x ", LIMIT_SENTIMENT_TOKENS, "good !!!");
	double r[4];

	score(v, s, inside, strlen(inside), r);
	ck_assert_double_gt(r[0], 0.05);
	score(v, s, beyond, strlen(beyond), r);
	ck_assert_double_eq(r[0], 0.0);
	ck_assert_double_eq(r[2], 1.0);
	/* the '!' after the last scored token do not count either */
	free(beyond);
	beyond = repeat("x ", LIMIT_SENTIMENT_TOKENS - 1, "good !!!!");
	score(v, s, beyond, strlen(beyond), r);
	ck_assert_double_eq(r[0], score_compound(v, s, inside));
	free(inside);
	free(beyond);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_scores_only_the_first_text_bytes_max_bytes)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	size_t big = VADER_TEXT_BYTES_MAX + 100;
	char *t = malloc(big + 16);
	double r[4], good = score_compound(v, s, "good");

	ck_assert_ptr_nonnull(t);
	memcpy(t, "good ", 5);
	memset(t + 5, 'x', big - 5);
	memcpy(t + big, " !!!!", 6);
	score(v, s, t, big + 5, r);
	ck_assert_double_eq(r[0], good);   /* the '!' lie past the cap */
	memcpy(t + big, " bad", 5);
	score(v, s, t, big + 4, r);
	ck_assert_double_eq(r[0], good);
	/* emoji descriptions grow the text; the cap applies to the translated text */
	for (size_t i = 0; i + 4 <= big; i += 4)
		memcpy(t + i, "\xF0\x9F\x98\x80", 4);
	score(v, s, t, big, r);
	assert_in_range(r);
	ck_assert_double_gt(r[0], 0.9);
	free(t);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

static double elapsed_s(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

START_TEST(test_sentiment_hostile_megabyte_inputs_stay_bounded)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	const size_t mb = 1024 * 1024;
	char *t = malloc(mb);
	uint64_t x = 88172645463325252ull;
	double r[4];
	struct timespec t0;

	ck_assert_ptr_nonnull(t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* random bytes: NULs, invalid UTF-8, stray continuation bytes, whitespace */
	for (size_t i = 0; i < mb; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t[i] = (char)(x >> 32);
	}
	score(v, s, t, mb, r);
	assert_in_range(r);
	/* one megabyte-long token with a word inside the punctuation */
	memset(t, '!', mb);
	memcpy(t + 100, "GOOD", 4);
	score(v, s, t, mb, r);
	assert_in_range(r);
	/* only separators: no tokens at all */
	memset(t, ' ', mb);
	score(v, s, t, mb, r);
	ck_assert_double_eq(r[0], 0.0);
	/* a "but" and a thousand valued words: the quirk's scan stays within the token cap */
	for (size_t i = 0; i + 16 <= mb; i += 16)
		memcpy(t + i, i == 0 ? "but good bad :) " : "good !bad ?nice ", 16);
	score(v, s, t, mb, r);
	assert_in_range(r);
	/* lone lead bytes and truncated sequences everywhere */
	for (size_t i = 0; i < mb; i++)
		t[i] = "\xF0\x9F\x98\xE2\x82\xC3 \x80"[i % 8];
	score(v, s, t, mb, r);
	assert_in_range(r);
	ck_assert_double_lt(elapsed_s(&t0), 5.0);
	free(t);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_scratch_reuse_and_separate_scratches_agree)
{
	struct vader *v = load_vader();
	struct vader_scratch *a = vader_scratch_new(), *b = vader_scratch_new();
	const char *t = "I \xE2\x9D\xA4 this, but NOT the ending!!";
	char *noise = repeat("\xF0\x9F\x98\xA1 awful ", 800, "");
	double r1[4], r2[4], r3[4];

	score(v, a, t, strlen(t), r1);
	score(v, a, noise, strlen(noise), r2);
	score(v, a, t, strlen(t), r2);
	score(v, b, t, strlen(t), r3);
	ck_assert_mem_eq(r1, r2, sizeof r1);
	ck_assert_mem_eq(r1, r3, sizeof r1);
	free(noise);
	vader_scratch_free(a);
	vader_scratch_free(b);
	vader_free(v);
}
END_TEST

struct thread_arg {
	const struct vader *v;
	struct vcase *cases;
	size_t n;
	size_t mismatches;
};

static void *score_all(void *p)
{
	struct thread_arg *a = p;
	struct vader_scratch *s = vader_scratch_new();
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < a->n; i++) {
			double r[4];
			char g[128], w[128];
			score(a->v, s, a->cases[i].text, a->cases[i].len, r);
			format_rounded(r, g, sizeof g);
			format_rounded(a->cases[i].want, w, sizeof w);
			a->mismatches += strcmp(g, w) != 0;
		}
	}
	vader_scratch_free(s);
	return NULL;
}

START_TEST(test_sentiment_threads_share_one_lexicon)
{
	struct vader *v = load_vader();
	size_t n;
	struct vcase *cases = read_cases("vader/trendd_cases.tsv", 1, &n);
	struct thread_arg args[3];
	pthread_t th[3];

	for (int k = 0; k < 3; k++) {
		args[k] = (struct thread_arg){ v, cases, n, 0 };
		ck_assert_int_eq(pthread_create(&th[k], NULL, score_all, &args[k]), 0);
	}
	for (int k = 0; k < 3; k++) {
		pthread_join(th[k], NULL);
		ck_assert_uint_eq(args[k].mismatches, 0);
	}
	free_cases(cases, n);
	vader_free(v);
}
END_TEST

/*
 * A lexicon word with no booster, negation, role word or phrase word within three
 * tokens before it, and not ALL-CAPS in mixed-case text, takes its lexicon
 * valence as it is (vader_score() skips the rules for it); each of those context
 * words, at each distance a rule looks, still changes the score.
 */
START_TEST(test_sentiment_plain_context_keeps_lexicon_value_and_each_modifier_counts)
{
	static const char *const changed[] = {
		"cats very good", "very cats good", "very cats dogs good",       /* booster */
		"cats not good", "not cats good", "not cats dogs good",          /* negation */
		"cats dogs no good", "no cats good", "no cats or good",          /* "no" */
		"cats dogs isn't good", "cats least good",                       /* "n't", "least" */
		"cats dogs so good", "we never so good",                         /* "so", "never so" */
		"cats dogs GOOD",                                                /* caps */
	};
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	const double plain = 1.9 / sqrt(1.9 * 1.9 + 15);

	/* exactly the reference's arithmetic on the lexicon value 1.9 */
	ck_assert_double_eq(score_compound(v, s, "cats dogs eat good"), plain);
	ck_assert_double_eq(score_compound(v, s, "good"), plain);
	ck_assert_double_eq(score_compound(v, s, "CATS DOGS GOOD"), plain);
	ck_assert_double_eq(score_compound(v, s, "we cats dogs bomb"),
			    -2.2 / sqrt(2.2 * 2.2 + 15));
	for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
		double c = score_compound(v, s, changed[i]);
		if (c == plain)
			ck_abort_msg("\"%s\" scored like a plain context", changed[i]);
	}
	/* "the bomb" is a special phrase worth 3.0; "kind of" has no valence */
	ck_assert_double_eq(score_compound(v, s, "we cats the bomb"), 3.0 / sqrt(9.0 + 15));
	ck_assert_double_eq(score_compound(v, s, "cats dogs eat kind of"), 0);
	ck_assert_double_ne(score_compound(v, s, "cats dogs eat kind"), 0);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_label_thresholds)
{
	ck_assert_int_eq(vader_label(0.05), 1);
	ck_assert_int_eq(vader_label(0.0499), 0);
	ck_assert_int_eq(vader_label(0.0), 0);
	ck_assert_int_eq(vader_label(-0.0499), 0);
	ck_assert_int_eq(vader_label(-0.05), -1);
	ck_assert_int_eq(vader_label(-1.0), -1);
}
END_TEST

/* Builds DIR/vader/ with the real files, one of them replaced by (or extended with) content. */
static void make_data_dir_with(char *dir, const char *file, const char *content, int append)
{
	char path[512], src[512];
	const char *files[] = { "vader_lexicon.txt", "emoji_utf8_lexicon.txt", "vader_rules.txt" };

	strcpy(dir, "/tmp/trendd-vader-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/vader", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	for (int k = 0; k < 3; k++) {
		size_t len;
		char *buf;
		snprintf(src, sizeof src, "%s/vader/%s", TRENDD_TEST_DATA_DIR, files[k]);
		buf = tu_read_file(src, &len);
		ck_assert_ptr_nonnull(buf);
		snprintf(path, sizeof path, "%s/vader/%s", dir, files[k]);
		FILE *f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		if (strcmp(files[k], file) != 0 || append)
			ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
		if (strcmp(files[k], file) == 0)
			fputs(content, f);
		fclose(f);
		free(buf);
	}
}

static void make_data_dir(char *dir, const char *file, const char *content)
{
	make_data_dir_with(dir, file, content, 0);
}

static void remove_data_dir(const char *dir)
{
	char path[512];
	const char *files[] = { "vader_lexicon.txt", "emoji_utf8_lexicon.txt", "vader_rules.txt" };
	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof path, "%s/vader/%s", dir, files[k]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/vader", dir);
	rmdir(path);
	rmdir(dir);
}

static void expect_load_error(const char *file, const char *content, const char *needle)
{
	char dir[64], err[512] = "";
	struct vader *v = (struct vader *)1;
	int rc;

	make_data_dir(dir, file, content);
	rc = vader_load(&v, dir, err, sizeof err);
	remove_data_dir(dir);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_sentiment_load_reports_missing_and_malformed_files)
{
	struct vader *v = (struct vader *)1;
	char err[512] = "";
	int rc = vader_load(&v, "/nonexistent/trendd", err, sizeof err);

	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(err, "/nonexistent/trendd/vader/vader_lexicon.txt"), "%s", err);

	expect_load_error("vader_lexicon.txt", "good\t1.9\t0.9\t[]\nbad-line\n",
			  "vader_lexicon.txt:2");
	expect_load_error("vader_lexicon.txt", "good\t1,9\t0.9\t[]\n", "vader_lexicon.txt:1");
	expect_load_error("emoji_utf8_lexicon.txt", "\xF0\x9F\x98\x80 no tab\n", ":1");
	expect_load_error("vader_rules.txt", "const\tC_INCR\t0.733\nweird\tx\t1\n", ":2: unknown");
	expect_load_error("vader_rules.txt", "booster\tvery\tlots\n", ":1: bad number");
	expect_load_error("vader_rules.txt", "const\tC_INCR\t0.733\n", "is missing");
}
END_TEST

START_TEST(test_sentiment_load_later_duplicate_and_crlf_lines)
{
	char dir[64], err[512] = "";
	struct vader *v = NULL;
	struct vader_scratch *s = vader_scratch_new();
	double r[4];

	/* a CRLF lexicon with a duplicate key: the later line wins */
	make_data_dir(dir, "vader_lexicon.txt", "zap\t-1.0\t0\t[]\r\nzap\t2.0\t0\t[]\r\n");
	ck_assert_msg(vader_load(&v, dir, err, sizeof err) == 0, "%s", err);
	remove_data_dir(dir);
	score(v, s, "zap", 3, r);
	ck_assert_double_eq_tol(r[0], 2.0 / sqrt(4.0 + 15), 1e-12);
	score(v, s, "good", 4, r);                /* not in this lexicon */
	ck_assert_double_eq(r[0], 0.0);
	vader_free(v);
	vader_scratch_free(s);
}
END_TEST

START_TEST(test_sentiment_load_skips_keys_that_can_never_match)
{
	char dir[64], err[512] = "";
	struct vader *v = NULL;
	struct vader_scratch *s = vader_scratch_new();
	const char *t = "They were not at all fed up, but the bomb was a dud";
	double want[4], got[4];
	struct vader *ref = load_vader();

	score(ref, s, t, strlen(t), want);
	vader_free(ref);
	/* phrases of any length with spaces, 4-word specials, a one-word special:
	 * all loadable, none can change a score */
	make_data_dir_with(dir, "vader_rules.txt",
			   "negate\tnot at all and never ever in a million years\n"
			   "special\twas a dud today\t3.0\n"
			   "special\tdud\t3.0\n"
			   "idiom\tfed up\t-2.0\n", 1);
	ck_assert_msg(vader_load(&v, dir, err, sizeof err) == 0, "%s", err);
	remove_data_dir(dir);
	score(v, s, t, strlen(t), got);
	ck_assert_mem_eq(got, want, sizeof got);
	vader_free(v);
	vader_scratch_free(s);
}
END_TEST

/* ---- the fast paths ---- */

static uint64_t gen_state = 0x2545f4914f6cdd1dull;

static uint64_t gen_next(void)
{
	gen_state ^= gen_state << 13;
	gen_state ^= gen_state >> 7;
	gen_state ^= gen_state << 17;
	return gen_state;
}

static size_t gen_below(size_t n)
{
	return (size_t)(gen_next() % n);
}

/*
 * Random texts from pieces every rule and path cares about: lexicon words in
 * all cases, rule words, phrases, punctuation, emoticons, "n't", non-ASCII
 * words and capitals, a Kelvin sign (lowercases to ASCII), emoji, Unicode and
 * ASCII whitespace, invalid bytes, NUL, long words, and glued tokens.
 */
static size_t gen_text(char *buf, size_t cap)
{
	static const char *const pieces[] = {
		"good", "GOOD", "Good", "bad", "BAD", "great", "love", "hate", "nice", "okay",
		"not", "isn't", "DON'T", "never", "NEVER", "so", "this", "very", "VERY", "really",
		"kind", "of", "sort", "the", "bomb", "shit", "bad", "ass", "but", "BUT", "no",
		"NO", "or", "nor", "least", "at", "without", "doubt", "just", "enough", ":)",
		":-(", "<3", "ok.", "lol!", "x-d", "\"great\"", "(nice)", "good,", "!!good??", "I",
		"A", "a", "\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9", ("stra\xc3\x9f" "e"),
		"\xe6\x9d\xb1",
		"o\xe2\x84\xaa", "\xc4\xb0yi", "\xe2\x93\x90", "\xe2\x85\xab", ":\xc3\x9e",
		"\xf0\x9f\x98\x81", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xe2\x9d\xa4\xef\xb8\x8f",
		"\xff", "\x80", "\xe2\x82", "!!!", "???", "?", "!", "...", "'", "uncomfortable",
		"advantageousness", "adventuresomeness", "disadvantageousness",
		"https://example.com/good-news",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"bus", "stop", "yeah", "right", "kiss", "death", "to", "die", "for", "~good~",
		"{bad}", "|ok|", "`nice`", "^^", "@love", "#happy", "$", "%", "&", "*love*", "+",
		"/sad/", "\\great\\", "[great]", "_sad_", "=", ";-)", "\x7f", "\x01", "0", "9x",
		"LAZY", "lazy", "Zzz",
	};
	static const char *const seps[] = {
		" ", " ", " ", " ", " ", "  ", "\t", "\n", "\x1c", "\xc2\xa0", "\xe3\x80\x80",
		"\xe2\x80\x83", "", "",
	};
	size_t o = 0, n = gen_below(10) == 0 ? gen_below(300) : gen_below(40);

	for (size_t i = 0; i < n && o + 96 < cap; i++) {
		const char *p = pieces[gen_below(sizeof pieces / sizeof pieces[0])];
		const char *sep = seps[gen_below(sizeof seps / sizeof seps[0])];
		memcpy(buf + o, p, strlen(p));
		o += strlen(p);
		if (gen_below(40) == 0)
			buf[o++] = '\0';
		memcpy(buf + o, sep, strlen(sep));
		o += strlen(sep);
	}
	if (o && gen_below(5) == 0)
		o -= gen_below(o + 1);          /* cut anywhere, even inside a character */
	return o;
}

/*
 * Scores text[0..len) from a copy that ends where an inaccessible page begins,
 * so reading past it faults. (Not a heap copy under ASan: GCC's ASan does not
 * check the masked loads the AVX-512 code reads with.)
 */
static void score_exact(const struct vader *v, struct vader_scratch *s, const char *text,
			size_t len, struct sentiment *out)
{
	char *copy = tu_guarded_copy(text, len);

	vader_score(v, s, copy, len, out);
	tu_guarded_free(copy, len);
}

static void show_text(const char *t, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c >= 0x20 && c < 0x7F && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

/*
 * fast is what vader_load() picks (AVX-512 on a CPU that has it), avx2 and
 * sse2 are forced with TRENDD_VADER_ISA, so that every variant runs here.
 */
START_TEST(test_sentiment_simd_and_portable_builds_agree_bit_for_bit)
{
	struct vader *fast = load_vader(), *sse2, *avx2;
	struct portable_vader *port = NULL;
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	char err[512] = "", *buf = malloc(65536);
	const char *files[] = { "vader/vader_cases.tsv", "vader/trendd_cases.tsv",
				"vader/reference_generated.tsv" };
	const int escaped[] = { 0, 1, 1 };
	size_t bad = 0, texts = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(setenv("TRENDD_VADER_ISA", "sse2", 1), 0);
	sse2 = load_vader();
	ck_assert_int_eq(setenv("TRENDD_VADER_ISA", "avx2", 1), 0);
	avx2 = load_vader();
	unsetenv("TRENDD_VADER_ISA");
#if defined(__x86_64__) && defined(__GNUC__)
	/* each variant is the one asked for, and the default the best this CPU has */
	__builtin_cpu_init();
	bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
	bool has_avx512 = has_avx2 && __builtin_cpu_supports("avx512bw") &&
			  __builtin_cpu_supports("avx512vl") &&
			  __builtin_cpu_supports("avx512vbmi") &&
			  __builtin_cpu_supports("avx512vbmi2") &&
			  __builtin_cpu_supports("avx512cd");
	ck_assert_str_eq(vader_isa(sse2), "sse2");
	ck_assert_str_eq(vader_isa(avx2), has_avx2 ? "avx2" : "sse2");
	ck_assert_str_eq(vader_isa(fast), has_avx512 ? "avx512" : has_avx2 ? "avx2" : "sse2");
#endif
	ck_assert_msg(portable_vader_load(&port, TRENDD_TEST_DATA_DIR, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_str_eq(portable_vader_isa(port), "portable");
	for (int f = 0; f < 3; f++) {
		size_t n;
		struct vcase *cases = read_cases(files[f], escaped[f], &n);
		for (size_t i = 0; i < n; i++) {
			struct sentiment a, b, c, d;
			score_exact(fast, s, cases[i].text, cases[i].len, &a);
			score_exact(sse2, s, cases[i].text, cases[i].len, &b);
			portable_vader_score(port, ps, cases[i].text, cases[i].len, &c);
			score_exact(avx2, s, cases[i].text, cases[i].len, &d);
			if (memcmp(&a, &b, sizeof a) || memcmp(&a, &c, sizeof a) ||
			    memcmp(&a, &d, sizeof a)) {
				if (bad++ < 5)
					show_text(cases[i].text, cases[i].len);
			}
			texts++;
		}
		free_cases(cases, n);
	}
	for (int i = 0; i < 20000; i++) {
		size_t len = gen_text(buf, 65536);
		struct sentiment a, b, c, d;
		score_exact(fast, s, buf, len, &a);
		score_exact(sse2, s, buf, len, &b);
		portable_vader_score(port, ps, buf, len, &c);
		score_exact(avx2, s, buf, len, &d);
		if (memcmp(&a, &b, sizeof a) || memcmp(&a, &c, sizeof a) ||
		    memcmp(&a, &d, sizeof a)) {
			if (bad++ < 5)
				show_text(buf, len);
		}
		texts++;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(texts, 22300);
	free(buf);
	portable_vader_scratch_free(ps);
	portable_vader_free(port);
	vader_scratch_free(s);
	vader_free(avx2);
	vader_free(sse2);
	vader_free(fast);
}
END_TEST

/* Scores n copies of the byte c, then sep, then sentence, from an exact-size buffer. */
static void score_shifted(const struct vader *v, struct vader_scratch *s, char c, size_t n,
			  const char *sep, const char *sentence, struct sentiment *out)
{
	size_t pl = strlen(sep), sl = strlen(sentence);
	char *t = malloc(n + pl + sl);

	ck_assert_ptr_nonnull(t);
	memset(t, c, n);
	memcpy(t + n, sep, pl);
	memcpy(t + n + pl, sentence, sl);
	vader_score(v, s, t, n + pl + sl, out);
	free(t);
}

START_TEST(test_sentiment_same_score_at_every_offset_across_blocks)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	/* every rule, a phrase, stripped and kept punctuation, "n't", a non-ASCII
	 * capital word and emphasis, so that each kind of token crosses the 64-byte
	 * block boundaries at some shift */
	const char *sentence = "The bomb was NOT very good, but \xc3\x89T\xc3\x89 isn't bad :) ok. "
			       "kind of GREAT!! at least it's no worse, never so dull?? lol";
	struct sentiment want, want_word, got;

	score_shifted(v, s, ' ', 0, "", sentence, &want);
	ck_assert_double_ne(want.compound, 0.0);
	score_shifted(v, s, 'x', 1, " ", sentence, &want_word);
	ck_assert(memcmp(&want, &want_word, sizeof want) != 0);
	for (size_t shift = 1; shift < 200; shift++) {
		/* whitespace in front changes no token */
		score_shifted(v, s, ' ', shift, "", sentence, &got);
		ck_assert_msg(!memcmp(&got, &want, sizeof got), "%zu spaces", shift);
		/* a non-word token of any length in front scores like "x " */
		score_shifted(v, s, 'x', shift, " ", sentence, &got);
		ck_assert_msg(!memcmp(&got, &want_word, sizeof got), "token of %zu bytes", shift);
	}
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_reads_each_length_in_place_like_a_padded_copy)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	char text[400], padded[400 + 64];
	size_t o = 0;

	while (o < sizeof text) {
		static const char unit[] = "Great day, GOOD food!! not bad \xc3\xa9t\xc3\xa9 :) ";
		size_t k = sizeof unit - 1 < sizeof text - o ? sizeof unit - 1 : sizeof text - o;
		memcpy(text + o, unit, k);
		o += k;
	}
	for (size_t len = 0; len <= sizeof text; len++) {
		struct sentiment a, b;
		memset(padded, 0, sizeof padded);
		memcpy(padded, text, len);
		score_exact(v, s, text, len, &a);       /* ASan: no byte past len is read */
		vader_score(v, s, padded, len, &b);
		ck_assert_msg(!memcmp(&a, &b, sizeof a), "length %zu", len);
	}
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

/*
 * Every instruction-set variant, on every prefix length of a text whose bytes
 * hit every mask (so the last, partial block ends at every offset and inside
 * every kind of token), scores like the portable build, reading from an
 * exact-size copy (ASan: no byte past the text is read).
 */
START_TEST(test_sentiment_every_isa_variant_scores_every_prefix_like_portable)
{
	static const char *const isas[] = { NULL, "avx2", "sse2" };
	static const char unit[] = "Great day, GOOD food!! not bad \xc3\xa9t\xc3\xa9 :) isn't "
				   "\"ok.\" NO\tway\x1c BAD??? \x00x 'so' kind of ~nice~ 9 ";
	struct portable_vader *port = NULL;
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	struct vader_scratch *s = vader_scratch_new();
	char err[512] = "", text[300];
	size_t o = 0, differ = 0;

	ck_assert_msg(portable_vader_load(&port, TRENDD_TEST_DATA_DIR, err, sizeof err) == 0,
		      "%s", err);
	while (o < sizeof text) {
		size_t k = sizeof unit - 1 < sizeof text - o ? sizeof unit - 1 : sizeof text - o;
		memcpy(text + o, unit, k);
		o += k;
	}
	for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
		struct vader *v;
		if (isas[i])
			ck_assert_int_eq(setenv("TRENDD_VADER_ISA", isas[i], 1), 0);
		v = load_vader();
		unsetenv("TRENDD_VADER_ISA");
		for (size_t len = 0; len <= sizeof text; len++) {
			struct sentiment a, b;
			score_exact(v, s, text, len, &a);
			portable_vader_score(port, ps, text, len, &b);
			ck_assert_msg(!memcmp(&a, &b, sizeof a), "%s, length %zu",
				      isas[i] ? isas[i] : "default", len);
			differ += len && memcmp(&a, &(struct sentiment){ 0, 0, 1, 0 }, sizeof a);
		}
		vader_free(v);
	}
	/* the prefixes are not all neutral: the comparison saw real scores */
	ck_assert_uint_gt(differ, 600);
	vader_scratch_free(s);
	portable_vader_scratch_free(ps);
	portable_vader_free(port);
}
END_TEST

static double single_word(double val)
{
	return val / sqrt(val * val + 15);
}

START_TEST(test_sentiment_keys_inside_long_tokens_and_long_keys)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	char t[256];
	double r[4];
	/* "!!!...good": stripped to "good"; the '!' count as emphasis (at most 4) */
	const double good_bang = single_word(1.9 + 4 * 0.292);

	for (size_t bangs = 55; bangs < 200; bangs += bangs < 70 ? 1 : 40) {
		memset(t, '!', bangs);
		memcpy(t + bangs, "good", 4);
		score(v, s, t, bangs + 4, r);
		ck_assert_msg(fabs(r[0] - good_bang) < 1e-12, "%zu '!'", bangs);
	}
	/* keys of 16, 17 and 19 bytes (the longest in the lexicon), in any case */
	ck_assert_double_eq_tol(score_compound(v, s, "advantageousness"), single_word(1.6), 1e-12);
	ck_assert_double_eq_tol(score_compound(v, s, "Adventuresomeness,"), single_word(1.3),
				1e-12);
	ck_assert_double_eq_tol(score_compound(v, s, "DISADVANTAGEOUSNESS"), single_word(-1.6),
				1e-12);
	ck_assert_double_eq(score_compound(v, s, "disadvantageousnesses"), 0.0);
	/* U+212A KELVIN SIGN lowercases to ASCII 'k': "oK" is "ok" (1.2) */
	ck_assert_double_eq(score_compound(v, s, "o\xe2\x84\xaa"), score_compound(v, s, "ok"));
	ck_assert_double_eq_tol(score_compound(v, s, "ok"), single_word(1.2), 1e-12);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_text_without_lexicon_words_is_exactly_neutral)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	const char *texts[] = { "very not but the of", "plinth!!! ???", "NOT NEVER nor", "x",
				"\xe6\x9d\xb1\xe4\xba\xac \xc3\xa9l\xc3\xa8ve" };
	double r[4];

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		score(v, s, texts[i], strlen(texts[i]), r);
		ck_assert_double_eq(r[0], 0.0);
		ck_assert_double_eq(r[1], 0.0);
		ck_assert_double_eq(r[2], 1.0);
		ck_assert_double_eq(r[3], 0.0);
	}
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

/* Builds DIR/vader/ with the real emoji and rules files and content[0..len) as the lexicon. */
static void make_data_dir_lexicon(char *dir, const char *content, size_t len)
{
	char path[512];
	FILE *f;

	make_data_dir(dir, "vader_lexicon.txt", "");
	snprintf(path, sizeof path, "%s/vader/vader_lexicon.txt", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(content, 1, len, f), len);
	fclose(f);
}

START_TEST(test_sentiment_keys_with_nul_and_up_to_24_bytes_from_data)
{
	static const char lexicon[] =
		"zq\0x\t2.5\t0\t[]\n"
		"zq\t1.0\t0\t[]\n"
		"zqabcdefghijklmn\t-1.5\t0\t[]\n"
		"zqabcdefghijklmno\t0.5\t0\t[]\n"
		"zqabcdefghijklmnopqrstuv\t3.0\t0\t[]\n";
	char dir[64], err[512] = "";
	struct vader *v = NULL;
	struct vader_scratch *s = vader_scratch_new();
	double r[4];

	make_data_dir_lexicon(dir, lexicon, sizeof lexicon - 1);
	ck_assert_msg(vader_load(&v, dir, err, sizeof err) == 0, "%s", err);
	remove_data_dir(dir);
	score(v, s, "zq\0x", 4, r);
	ck_assert_double_eq_tol(r[0], single_word(2.5), 1e-12);
	score(v, s, "zq", 2, r);
	ck_assert_double_eq_tol(r[0], single_word(1.0), 1e-12);
	score(v, s, "zq\0", 3, r);      /* not "zq", not "zq\0x" */
	ck_assert_double_eq(r[0], 0.0);
	ck_assert_double_eq_tol(score_compound(v, s, "zqabcdefghijklmn"), single_word(-1.5), 1e-12);
	ck_assert_double_eq_tol(score_compound(v, s, "ZQABCDEFGHIJKLMNO"), single_word(0.5), 1e-12);
	ck_assert_double_eq_tol(score_compound(v, s, "(zqabcdefghijklmnopqrstuv)"),
				single_word(3.0), 1e-12);
	ck_assert_double_eq(score_compound(v, s, "zqabcdefghijklmnopqrstuvw"), 0.0);
	vader_free(v);
	vader_scratch_free(s);
}
END_TEST

START_TEST(test_sentiment_large_lexicon_finds_every_key)
{
	enum { N_KEYS = 60000 };
	char dir[64], err[512] = "", (*keys)[32] = malloc(N_KEYS * sizeof *keys);
	double *vals = malloc(N_KEYS * sizeof *vals);
	size_t cap = (size_t)N_KEYS * 48, len = 0, bad = 0;
	char *lex = malloc(cap);
	struct vader *v = NULL;
	struct vader_scratch *s = vader_scratch_new();

	ck_assert(keys && vals && lex);
	/* "zq" + 4 letters from the index (unique) + random letters, 6..24 bytes,
	 * values -3.9..3.9 without 0 */
	for (size_t i = 0; i < N_KEYS; i++) {
		size_t kl = 6 + gen_below(19), k = 0, x = i;
		char num[16];
		keys[i][k++] = 'z';
		keys[i][k++] = 'q';
		for (int d = 0; d < 4; d++, x /= 26)
			keys[i][k++] = (char)('a' + x % 26);
		while (k < kl)
			keys[i][k++] = (char)('a' + gen_below(26));
		keys[i][k] = 0;
		snprintf(num, sizeof num, "%.1f",
			 (double)((int)(i % 78) - 39 + (i % 78 >= 39)) / 10);
		vals[i] = strtod(num, NULL);
		len += (size_t)snprintf(lex + len, cap - len, "%s\t%s\t0\t[]\n", keys[i], num);
	}
	make_data_dir_lexicon(dir, lex, len);
	ck_assert_msg(vader_load(&v, dir, err, sizeof err) == 0, "%s", err);
	remove_data_dir(dir);
	for (size_t i = 0; i < N_KEYS; i++) {
		double r[4];
		score(v, s, keys[i], strlen(keys[i]), r);
		bad += r[0] != single_word(vals[i]);
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_double_eq(score_compound(v, s, "zqzzzzzz"), 0.0);
	ck_assert_double_eq(score_compound(v, s, "good"), 0.0);
	vader_free(v);
	vader_scratch_free(s);
	free(lex);
	free(vals);
	free(keys);
}
END_TEST

/* ---- bad input at the post level: every case in bounded time, and exact where it can be ---- */

/* Scores text with the linked build and the portable one; they must agree bit for bit. */
static void score_both(const struct vader *v, struct vader_scratch *s,
		       const struct portable_vader *pv, struct portable_vader_scratch *ps,
		       const char *text, size_t len, double out[4])
{
	struct sentiment a, b;

	score_exact(v, s, text, len, &a);
	portable_vader_score(pv, ps, text, len, &b);
	ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "SIMD and portable builds differ");
	out[0] = a.compound;
	out[1] = a.pos;
	out[2] = a.neu;
	out[3] = a.neg;
}

static void assert_same_scores(const double a[4], const double b[4])
{
	for (int k = 0; k < 4; k++)
		ck_assert_double_eq(a[k], b[k]);
}

static struct portable_vader *load_portable(void)
{
	struct portable_vader *pv = NULL;
	char err[512] = "";

	ck_assert_msg(portable_vader_load(&pv, TRENDD_TEST_DATA_DIR, err, sizeof err) == 0, "%s",
		      err);
	return pv;
}

/*
 * Tokens with 2- and 3-byte characters that have no lowercase mapping (accented,
 * Cyrillic, CJK letters) build their key on a route of their own: their bytes go
 * to the key as they are, lowercase ones make the token not ALL-CAPS, uncased
 * ones do not, and a key that reaches 24 bytes at such a character is still
 * looked up while one past 24 bytes is not.
 */
START_TEST(test_sentiment_keys_with_multibyte_letters_up_to_24_bytes)
{
	static const char lexicon[] =
		"zq\xc3\xa9\t2.0\t0\t[]\n"                              /* zqé */
		"zqa\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
		"\xe6\x97\xa5\t-2.5\t0\t[]\n"                           /* zqa + 7 x 日: 24 */
		"zq\xd0\xb0\xd0\xb1\xd0\xb2\xd0\xb3\xd0\xb4\xd0\xb5\xd0\xb6\xd0\xb7\xd0\xb8"
		"\xd0\xb9\xd0\xba\t1.5\t0\t[]\n"                        /* zq + 11 Cyrillic: 24 */
		"zq\xe6\x97\xa5\xe6\x9c\xac\t3.0\t0\t[]\n"              /* zq日本 */
		"zq\xd0\xb0\xd0\xb1\xd0\xb2\t-1.0\t0\t[]\n";            /* zqабв */
	char dir[64], err[512] = "";
	struct vader *v = NULL;
	struct portable_vader *pv = NULL;
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	const double c_incr = 0.733;
	double r[4];

	make_data_dir_lexicon(dir, lexicon, sizeof lexicon - 1);
	ck_assert_msg(vader_load(&v, dir, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(portable_vader_load(&pv, dir, err, sizeof err) == 0, "%s", err);
	remove_data_dir(dir);
#define CHECK(text, want) \
	do { \
		score_both(v, s, pv, ps, text, sizeof text - 1, r); \
		ck_assert_double_eq_tol(r[0], want, 1e-12); \
	} while (0)
	/* ASCII capitals are lowercased, é is kept and is lowercase: no emphasis */
	CHECK("ZQ\xc3\xa9 x", single_word(2.0));
	CHECK("\"zq\xc3\xa9.\" x", single_word(2.0));
	/* 3-byte characters up to the 24th byte; one more letter and no key */
	CHECK("zqa\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
	      "\xe6\x97\xa5 x", single_word(-2.5));
	CHECK("zqa\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
	      "\xe6\x97\xa5" "b x", 0.0);
	CHECK("zq\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
	      "\xe6\x97\xa5\xe6\x97\xa5 x", 0.0);
	/* 2-byte characters up to the 24th byte; one more and no key */
	CHECK("zq\xd0\xb0\xd0\xb1\xd0\xb2\xd0\xb3\xd0\xb4\xd0\xb5\xd0\xb6\xd0\xb7\xd0\xb8"
	      "\xd0\xb9\xd0\xba x", single_word(1.5));
	CHECK("zq\xd0\xb0\xd0\xb1\xd0\xb2\xd0\xb3\xd0\xb4\xd0\xb5\xd0\xb6\xd0\xb7\xd0\xb8"
	      "\xd0\xb9\xd0\xba\xd0\xba x", 0.0);
	/* uncased CJK letters leave ASCII capitals ALL-CAPS: emphasis in mixed text */
	CHECK("zq\xe6\x97\xa5\xe6\x9c\xac x", single_word(3.0));
	CHECK("ZQ\xe6\x97\xa5\xe6\x9c\xac x", single_word(3.0 + c_incr));
	/* capital Cyrillic letters take the full route and are lowercased */
	CHECK("ZQ\xd0\x90\xd0\x91\xd0\x92 x", single_word(-1.0 - c_incr));
	CHECK("zq\xd0\xb0\xd0\xb1\xd0\x92 x", single_word(-1.0));
#undef CHECK
	vader_free(v);
	portable_vader_free(pv);
	vader_scratch_free(s);
	portable_vader_scratch_free(ps);
}
END_TEST

START_TEST(test_sentiment_ten_thousand_hashtags_stop_at_the_token_cap)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader *pv = load_portable();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	/* "#bad" for the tokens that are scored, then "#great" for the rest: the
	 * hashtag sign is stripped like any punctuation, so each one is a word */
	char *head = repeat("#bad ", LIMIT_SENTIMENT_TOKENS, "");
	char *tail = repeat("#great ", 10000 - LIMIT_SENTIMENT_TOKENS, "");
	size_t hl = strlen(head), tl = strlen(tail);
	char *all = malloc(hl + tl);
	double r_all[4], r_head[4], r[4];
	struct timespec t0;

	ck_assert_ptr_nonnull(all);
	memcpy(all, head, hl);
	memcpy(all + hl, tail, tl);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	score_both(v, s, pv, ps, all, hl + tl, r_all);
	ck_assert_double_lt(elapsed_s(&t0), 1.0);
	score_both(v, s, pv, ps, head, hl, r_head);
	assert_same_scores(r_all, r_head);   /* nothing after the cap counts */
	ck_assert_double_lt(r_all[0], -0.9);
	ck_assert_double_eq(r_all[1], 0.0);
	score_both(v, s, pv, ps, "#bad", 4, r);
	ck_assert_double_eq(r[0], score_compound(v, s, "bad"));
	free(all);
	free(tail);
	free(head);
	portable_vader_scratch_free(ps);
	portable_vader_free(pv);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_rtl_words_and_direction_marks_are_neutral_tokens)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader *pv = load_portable();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	/* Hebrew and Arabic words (with harakat) have no case and are in no list:
	 * each scores as any other neutral token, so the text scores like one
	 * with ASCII non-words in their place */
	static const char *const pairs[][2] = {
		{ "שלום עולם good", "aa bb good" },
		{ "مَرْحَبًا good !", "aa good !" },
		{ "GOOD مرحبا", "GOOD aa" },
		/* RLE ... PDF and RLM around words: characters of the token */
		{ "\xE2\x80\xAB" "שלום" "\xE2\x80\xAC \xE2\x80\x8F" "עולם good", "aa bb good" },
	};
	double a[4], b[4];

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		score_both(v, s, pv, ps, pairs[i][0], strlen(pairs[i][0]), a);
		score_both(v, s, pv, ps, pairs[i][1], strlen(pairs[i][1]), b);
		assert_same_scores(a, b);
		ck_assert_double_gt(a[0], 0.05);
	}
	/* A direction mark glued to a word is not punctuation the strip removes,
	 * so the token is not the word (as in the reference) */
	score_both(v, s, pv, ps, "\xE2\x80\x8Fgood", 7, a);
	ck_assert_double_eq(a[0], 0.0);
	ck_assert_double_eq(a[2], 1.0);
	portable_vader_scratch_free(ps);
	portable_vader_free(pv);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_combining_marks_and_invalid_utf8_are_bounded)
{
	struct vader *v = load_vader();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader *pv = load_portable();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	/* one base letter with 30,000 combining acute accents, then a word */
	size_t n = 1 + 30000 * 2, len = n + 5;
	char *t = malloc(len);
	double a[4], b[4];
	struct timespec t0;

	ck_assert_ptr_nonnull(t);
	t[0] = 'a';
	for (size_t i = 0; i < 30000; i++)
		memcpy(t + 1 + 2 * i, "\xCC\x81", 2);
	memcpy(t + n, " good", 5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	score_both(v, s, pv, ps, t, len, a);
	ck_assert_double_lt(elapsed_s(&t0), 1.0);
	score_both(v, s, pv, ps, "x good", 6, b);
	assert_same_scores(a, b);
	/* a mark makes another word: "good" with an acute accent is in no list */
	score_both(v, s, pv, ps, "good\xCC\x81", 6, a);
	ck_assert_double_eq(a[0], 0.0);
	/* invalid bytes are characters without case or sentiment */
	score_both(v, s, pv, ps, "go\x80od", 5, a);
	ck_assert_double_eq(a[0], 0.0);
	score_both(v, s, pv, ps, "good \xC3", 6, a);
	score_both(v, s, pv, ps, "good x", 6, b);
	assert_same_scores(a, b);
	score_both(v, s, pv, ps, "\xFF\xFE GOOD day", 12, a);
	score_both(v, s, pv, ps, "xx GOOD day", 11, b);
	assert_same_scores(a, b);
	free(t);
	portable_vader_scratch_free(ps);
	portable_vader_free(pv);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

/*
 * Builds "good", then LIMIT_SENTIMENT_TOKENS - 1 fillers, the first of them
 * first_len bytes long, then tail: the last filler is the token at the cap, and
 * first_len moves where it ends within a 64-byte block (or, when long, makes the
 * first filler cross blocks).
 */
static char *cap_text(size_t first_len, const char *tail, size_t fillers, size_t *len)
{
	size_t tl = strlen(tail), cap = 5 + first_len + 1 + 2 * fillers + tl + 1, o = 0;
	char *t = malloc(cap);

	ck_assert_ptr_nonnull(t);
	memcpy(t, "good ", 5);
	o = 5;
	memset(t + o, 'y', first_len);
	o += first_len;
	for (size_t i = 1; i < fillers; i++) {
		memcpy(t + o, " x", 2);
		o += 2;
	}
	memcpy(t + o, tail, tl);
	o += tl;
	*len = o;
	return t;
}

START_TEST(test_sentiment_token_cap_cuts_after_the_cap_token_at_every_block_offset)
{
	struct vader *v = load_vader();
	struct portable_vader *pv = load_portable();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	const size_t fill = LIMIT_SENTIMENT_TOKENS - 1;

	for (size_t first = 1; first <= 140; first++) {
		size_t la, lb, lc, ld;
		char *cut = cap_text(first, "", fill, &la);
		char *marks = cap_text(first, " !!! GREAT!!", fill, &lb);
		char *joined = cap_text(first, "!!! more", fill, &lc);
		char *inside = cap_text(first, " !!!", fill - 1, &ld);
		double a[4], b[4], c[4], d[4], e[4];

		/* what follows the token at the cap is not scored: marks and words */
		score_both(v, s, pv, ps, cut, la, a);
		score_both(v, s, pv, ps, marks, lb, b);
		assert_same_scores(a, b);
		ck_assert_double_gt(a[0], 0.05);
		/* marks inside the token at the cap count */
		score_both(v, s, pv, ps, joined, lc, c);
		ck_assert_double_gt(c[0], a[0]);
		/* one token short of the cap, "!!!" is the token at the cap and counts */
		score_both(v, s, pv, ps, inside, ld - 4, d);
		score_both(v, s, pv, ps, inside, ld, e);
		ck_assert_double_gt(e[0], d[0]);
		free(cut);
		free(marks);
		free(joined);
		free(inside);
	}
	portable_vader_scratch_free(ps);
	portable_vader_free(pv);
	vader_scratch_free(s);
	vader_free(v);
}
END_TEST

/* The strip of key_span() done byte by byte: np bit k set = byte k is not punctuation. */
static uint32_t span_by_loop(uint64_t np, size_t len)
{
	size_t a = 0, b = len;

	while (a < b && !(np >> a & 1))
		a++;
	while (b > a && !(np >> (b - 1) & 1))
		b--;
	return b - a > 2 ? (uint32_t)a << 8 | (uint32_t)(b - a) : (uint32_t)len;
}

START_TEST(test_sentiment_key_span_strips_like_a_byte_loop_for_every_pattern)
{
	uint64_t r = 0x9e3779b97f4a7c15ull;
	size_t checked = 0, bad = 0;

	/* one assertion at the end: an assertion per case would cost more than the cases */
	for (size_t len = 1; len <= 64; len++) {
		uint64_t patterns = len <= 14 ? 1ull << len : 40000;
		for (uint64_t k = 0; k < patterns; k++) {
			uint64_t low, junk, want;
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			low = len <= 14 ? k : r;
			if (len < 64)
				low &= (1ull << len) - 1;
			/* bits past the token belong to other tokens: anything */
			junk = len < 64 ? (r * 0x2545f4914f6cdd1dull) << len : 0;
			want = span_by_loop(low, len);
			/* the form for a token that crosses blocks */
			bad += key_span(low | junk | 1ull << 63, low | junk, len) != want;
			bad += key_span(low | 1ull << 63, low, len) != want;
			/* the form for a token that ends inside its block (bit 63 set
			 * past the end, token at offset so) */
			if (len <= 63) {
				size_t so = (size_t)(r >> 58) % (64 - len);
				uint64_t block = low << so | junk << so | 1ull << 63;
				uint64_t w = block >> so;
				bad += key_span(w, w, len) != want;
			}
			checked++;
		}
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(checked, 100000);
}
END_TEST

START_TEST(test_sentiment_probe_finds_every_short_key_and_no_other_word)
{
	struct portable_vader *pv = load_portable();
	const struct word_table *t = &pv->short_words;
	const struct probe_table q = { t->tags, t->entries, t->shift };
	_Alignas(16) unsigned char key[16];
	unsigned char raw[32];
	uint64_t r = 0x853c49e6748fea9bull;
	size_t keys = 0, bad = 0, found = 0;

	/* every key, the one in slot 0 included, finds its own info */
	for (size_t slot = 0; slot < t->n_slots; slot++) {
		const struct word_entry *e = &t->entries[slot];
		size_t k = info_len(e->info);
		uint64_t h;
		if (t->tags[slot] == TAG_FREE)
			continue;
		memset(raw, 0, sizeof raw);
		memcpy(raw, e->key, 16);
		h = key_hash16(t->seed, raw, k, key);
		bad += short_probe(t, q, h, key, k) != e->info;
		keys++;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(keys, 7000);
	/* slot 0, which a miss reads, holds a key of the shipped lexicon (so the
	 * loop above checked that it is still found as itself) */
	ck_assert_uint_ne(t->tags[0], TAG_FREE);
	/* words in no list find nothing, whichever entry a miss reads */
	for (int i = 0; i < 200000; i++) {
		size_t k = 1 + (size_t)(i % 16);
		uint64_t h, w[3] = { 0, 0, 0 };
		memset(raw, 0, sizeof raw);
		for (size_t j = 0; j < k; j++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			raw[j] = (unsigned char)('a' + r % 26);
		}
		memcpy(w, raw, k);
		h = key_hash16(t->seed, raw, k, key);
		found += table_find(t, h, w, k) != 0;
		bad += short_probe(t, q, h, key, k) != table_find(t, h, w, k);
	}
	ck_assert_uint_eq(bad, 0);
	/* a few random words are real ones ("a", "ok", ...), most are not */
	ck_assert_uint_lt(found, 20000);
	portable_vader_free(pv);
}
END_TEST

/*
 * The AVX-512 lookup gathers the lexicon token list and the OR and AND of the
 * token infos in a pass of 8 tokens at a time after its loop: texts of every
 * token count from 1 to 80, around 256 and up to past the token cap, with
 * lexicon, ALL-CAPS and "but" tokens at every position of an 8-token pass,
 * score as in the portable build (which keeps the list token by token).
 */
START_TEST(test_sentiment_lexicon_list_at_every_count_and_lane_like_portable)
{
	static const char *const words[] = {
		"good", "the", "BAD", "but", "very", "nice", "x", "LOVE", "not", "happy",
		"kind", "of", "sad", "ok.", "NO", "WAY", "hate", ":)", "isn't", "great",
	};
	const size_t n_words = sizeof words / sizeof words[0];
	struct vader *v = load_vader();
	struct portable_vader *pv = load_portable();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	static char text[16384];
	size_t scored = 0, non_neutral = 0;

	for (size_t n = 1; n <= LIMIT_SENTIMENT_TOKENS + 8; n++) {
		if (n == 81)
			n = 248;
		else if (n == 273)
			n = LIMIT_SENTIMENT_TOKENS - 8;
		for (size_t shift = 0; shift < n_words; shift++) {
			struct sentiment a, b;
			size_t len = 0;
			for (size_t k = 0; k < n; k++) {
				/* a step of 7 through 20 words: each word at every lane */
				const char *w = words[(shift + 7 * k) % n_words];
				len += (size_t)snprintf(text + len, sizeof text - len, "%s ", w);
			}
			score_exact(v, s, text, len, &a);
			portable_vader_score(pv, ps, text, len, &b);
			ck_assert_msg(!memcmp(&a, &b, sizeof a), "%zu tokens, shift %zu", n, shift);
			non_neutral += a.compound != 0;
			scored++;
		}
	}
	ck_assert_uint_eq(scored, (80 + 25 + 17) * n_words);
	ck_assert_uint_gt(non_neutral, scored * 9 / 10);
	portable_vader_scratch_free(ps);
	vader_scratch_free(s);
	portable_vader_free(pv);
	vader_free(v);
}
END_TEST

/*
 * A short key whose group holds another key with the same 7-bit tag takes the
 * lookup's out-of-line path (every candidate compared): each such key of the
 * shipped lexicon, alone and after a booster, scores as in the portable build.
 * The keys are found in the portable build's table, which the SIMD build lays
 * out alike (the table is built without SIMD code).
 */
START_TEST(test_sentiment_keys_sharing_a_tag_in_their_group_score_like_portable)
{
	struct vader *v = load_vader();
	struct portable_vader *pv = load_portable();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	const struct word_table *t = &pv->short_words;
	size_t shared = 0, non_neutral = 0;

	for (size_t slot = 0; slot < t->n_slots; slot++) {
		size_t g = slot - slot % GROUP_SLOTS, same = 0;
		char key[17] = { 0 }, text[64];
		if (t->tags[slot] == TAG_FREE)
			continue;
		for (size_t k = g; k < g + GROUP_SLOTS; k++)
			same += t->tags[k] == t->tags[slot];
		if (same < 2)
			continue;
		memcpy(key, t->entries[slot].key, 16);
		for (int form = 0; form < 2; form++) {
			struct sentiment a, b;
			int len = snprintf(text, sizeof text, form ? "very %s" : "%s", key);
			score_exact(v, s, text, (size_t)len, &a);
			portable_vader_score(pv, ps, text, (size_t)len, &b);
			ck_assert_msg(!memcmp(&a, &b, sizeof a), "%s", text);
			non_neutral += a.compound != 0;
		}
		shared++;
	}
	/* the shipped lexicon has such keys, and their scores are real ones */
	ck_assert_uint_gt(shared, 50);
	ck_assert_uint_gt(non_neutral, shared / 2);
	portable_vader_scratch_free(ps);
	vader_scratch_free(s);
	portable_vader_free(pv);
	vader_free(v);
}
END_TEST

START_TEST(test_sentiment_code_point_table_gives_what_the_properties_give)
{
	struct portable_vader *pv = load_portable();
	uint8_t *table = pv->bmp_case, *none = malloc(0x10000 / 4);
	static const char *const around[][2] = {
		{ "", "" }, { "A", "" }, { "", "a" }, { "GOOD", "" }, { "x", "Y" }, { "'", "n't" },
	};
	size_t checked = 0, bad = 0, plain = 0;

	ck_assert_ptr_nonnull(none);
	/* 2 in every 2-bit field: BMP_OTHER, the route through utf8proc for all */
	memset(none, 0xAA, 0x10000 / 4);
	for (int32_t cp = 0x80; cp < 0x10000; cp++) {
		unsigned char enc[4];
		size_t w;
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		w = (size_t)utf8proc_encode_char(cp, enc);
		plain += bmp_case_of(table, cp) != BMP_OTHER;
		for (size_t f = 0; f < sizeof around / sizeof around[0]; f++) {
			unsigned char t[16];
			size_t a = strlen(around[f][0]), b = strlen(around[f][1]), n;
			uint64_t x, y;
			memcpy(t, around[f][0], a);
			memcpy(t + a, enc, w);
			memcpy(t + a + w, around[f][1], b);
			n = a + w + b;
			pv->bmp_case = table;
			x = token_classify_slow(pv, t, n);
			pv->bmp_case = none;
			y = token_classify_slow(pv, t, n);
			bad += x != y;
			checked++;
		}
	}
	pv->bmp_case = table;
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(checked, 300000);
	/* most code points take the table's short way (CJK, most letters) */
	ck_assert_uint_gt(plain, 40000);
	free(none);
	portable_vader_free(pv);
}
END_TEST

/*
 * The AVX-512 split builds each block's keys from the block's register and hashes
 * them 8 lanes at a time: a lexicon key of every length 1..16 (and a 17-byte one,
 * which takes the long-key path), stripped or not, ALL-CAPS or not, starts at every
 * offset of a 64-byte block after 0 to 17 other tokens (so in every lane of the
 * split, and across block edges), some of them byte-path tokens; each text scores
 * as in the portable build, and every word but "x" has a lexicon value.
 */
START_TEST(test_sentiment_keys_at_every_block_offset_and_lane_like_portable)
{
	static const char *const words[] = {
		"x", "ha", "lol", "good", "(love)", "HAPPY", "hateful", "terrible", "wonderful",
		"Comfortable", "\"heartbreak\"", "disappointed", "heartbreaking", "advantageously",
		"adventurousness", "ANTAGONISTICALLY", "advantageousness!!", "compassionateness",
		":)", "<3",
	};
	struct vader *v = load_vader();
	struct portable_vader *pv = load_portable();
	struct vader_scratch *s = vader_scratch_new();
	struct portable_vader_scratch *ps = portable_vader_scratch_new();
	char text[256];
	size_t scored = 0, neutral = 0;

	for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
		for (size_t before = 0; before <= 17; before++) {
			for (size_t pad = 0; pad < 64; pad++) {
				struct sentiment a, b;
				size_t len = 0;
				memset(text, ' ', pad);
				len = pad;
				for (size_t k = 0; k < before; k++) {
					const char *f = k % 5 == 4 ? "\xc3\xa9" : "q";
					len += (size_t)snprintf(text + len, sizeof text - len,
								"%s ", f);
				}
				len += (size_t)snprintf(text + len, sizeof text - len, "%s zq",
							words[w]);
				score_exact(v, s, text, len, &a);
				portable_vader_score(pv, ps, text, len, &b);
				ck_assert_msg(!memcmp(&a, &b, sizeof a),
					      "'%s', %zu before, pad %zu", words[w], before,
					      pad);
				neutral += a.compound == 0;
				scored++;
			}
		}
	}
	ck_assert_uint_eq(scored, 20 * 18 * 64);
	/* "x" is the only word of the list without a lexicon value */
	ck_assert_uint_eq(neutral, 18 * 64);
	portable_vader_scratch_free(ps);
	vader_scratch_free(s);
	portable_vader_free(pv);
	vader_free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sentiment");
	TCase *tc = tcase_create("sentiment");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sentiment_matches_every_reference_case);
	tcase_add_test(tc, test_sentiment_matches_reference_on_generated_sentences);
	tcase_add_test(tc, test_sentiment_matches_independent_model_on_own_cases);
	tcase_add_test(tc, test_sentiment_hand_computed_examples);
	tcase_add_test(tc, test_sentiment_empty_and_whitespace_only_score_zero);
	tcase_add_test(tc, test_sentiment_respects_length_not_nul);
	tcase_add_test(tc, test_sentiment_scores_only_the_first_token_limit_tokens);
	tcase_add_test(tc, test_sentiment_scores_only_the_first_text_bytes_max_bytes);
	tcase_add_test(tc, test_sentiment_hostile_megabyte_inputs_stay_bounded);
	tcase_add_test(tc, test_sentiment_scratch_reuse_and_separate_scratches_agree);
	tcase_add_test(tc, test_sentiment_threads_share_one_lexicon);
	tcase_add_test(tc, test_sentiment_plain_context_keeps_lexicon_value_and_each_modifier_counts);
	tcase_add_test(tc, test_sentiment_label_thresholds);
	tcase_add_test(tc, test_sentiment_load_reports_missing_and_malformed_files);
	tcase_add_test(tc, test_sentiment_load_later_duplicate_and_crlf_lines);
	tcase_add_test(tc, test_sentiment_load_skips_keys_that_can_never_match);
	tcase_add_test(tc, test_sentiment_simd_and_portable_builds_agree_bit_for_bit);
	tcase_add_test(tc, test_sentiment_same_score_at_every_offset_across_blocks);
	tcase_add_test(tc, test_sentiment_reads_each_length_in_place_like_a_padded_copy);
	tcase_add_test(tc, test_sentiment_every_isa_variant_scores_every_prefix_like_portable);
	tcase_add_test(tc, test_sentiment_keys_inside_long_tokens_and_long_keys);
	tcase_add_test(tc, test_sentiment_text_without_lexicon_words_is_exactly_neutral);
	tcase_add_test(tc, test_sentiment_keys_with_nul_and_up_to_24_bytes_from_data);
	tcase_add_test(tc, test_sentiment_keys_with_multibyte_letters_up_to_24_bytes);
	tcase_add_test(tc, test_sentiment_large_lexicon_finds_every_key);
	tcase_add_test(tc, test_sentiment_ten_thousand_hashtags_stop_at_the_token_cap);
	tcase_add_test(tc, test_sentiment_rtl_words_and_direction_marks_are_neutral_tokens);
	tcase_add_test(tc, test_sentiment_combining_marks_and_invalid_utf8_are_bounded);
	tcase_add_test(tc, test_sentiment_token_cap_cuts_after_the_cap_token_at_every_block_offset);
	tcase_add_test(tc, test_sentiment_key_span_strips_like_a_byte_loop_for_every_pattern);
	tcase_add_test(tc, test_sentiment_probe_finds_every_short_key_and_no_other_word);
	tcase_add_test(tc, test_sentiment_lexicon_list_at_every_count_and_lane_like_portable);
	tcase_add_test(tc, test_sentiment_keys_sharing_a_tag_in_their_group_score_like_portable);
	tcase_add_test(tc, test_sentiment_code_point_table_gives_what_the_properties_give);
	tcase_add_test(tc, test_sentiment_keys_at_every_block_offset_and_lane_like_portable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
