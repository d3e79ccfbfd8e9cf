/*
 * Tests for the window (analytics/window.c, window_view.c, window_state.c):
 * event-time sliding windows, top-m pruning with error bounds, distinct
 * authors and the trend score, checked against an exact reference counter
 * kept by the test; views, lookups, and saved and restored state.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/snapshot.h"
#include "core/snapshot_json.h"
#include "core/strbuf.h"
#include "core/term.h"
#include "tests/unit/segstore.h"
#include "tests/unit/testutil.h"

#define T0 1795608000000LL /* 2026-11-25T12:00:00Z, a minute and quarter boundary */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* The defaults with this lateness and top m, and no warm-up. */
static struct window_config wincfg(int64_t lateness_ms, uint32_t top_m)
{
	struct window_config c;
	window_config_defaults(&c);
	c.lateness_ms = lateness_ms;
	c.top_m = top_m;
	c.warmup_ms = 0;
	return c;
}

static struct window *mkwin(int64_t lateness_ms, uint32_t top_m)
{
	struct window_config c = wincfg(lateness_ms, top_m);
	return window_new(&c);
}

static enum window_add_result add1(struct window *w, int64_t t, const char *term, uint32_t author)
{
	struct token tk = { term, (uint16_t)strlen(term), TERM_WORD };
	struct window_post p = { t, author, 0.5f, &tk, 1 };
	return window_add_post(w, &p);
}

static uint32_t count_of(struct window *w, int win, const char *term)
{
	struct window_term_info info;
	window_lookup(w, win, TERM_WORD, term, strlen(term), &info);
	return info.count;
}

static void check_invariants(struct window *w)
{
	char err[256];
	ck_assert_msg(window_check(w, err, sizeof err) == 0, "invariant: %s", err);
}

START_TEST(test_window_counts_once_per_post_in_every_window)
{
	struct window *w = mkwin(60000, 4096);
	struct token tk[3] = { { "rust", 4, TERM_WORD }, { "rust", 4, TERM_WORD },
			       { "#rust", 5, TERM_HASHTAG } };
	struct window_post p = { T0 + 500, 1, 0.8f, tk, 3 };
	ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	p.event_ms += 1000;
	p.compound = -0.6f;
	ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	for (int win = 0; win < WINDOW_COUNT; win++) {
		struct window_term_info info;
		window_lookup(w, win, TERM_WORD, "rust", 4, &info);
		ck_assert(info.found);
		ck_assert_uint_eq(info.count, 2);
		ck_assert_uint_eq(info.pos, 1);
		ck_assert_uint_eq(info.neg, 1);
		ck_assert(fabs(info.sent_sum - 0.2) < 1e-6);
		ck_assert_uint_eq(info.authors, 1);
		window_lookup(w, win, TERM_HASHTAG, "#rust", 5, &info);
		ck_assert_uint_eq(info.count, 2);
		window_lookup(w, win, TERM_WORD, "#rust", 5, &info);
		ck_assert(!info.found); /* kind is part of the key */
	}
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_expires_old_buckets_exactly_at_boundaries)
{
	struct window *w = mkwin(0, 4096);
	add1(w, T0 + 10500, "alpha", 1); /* second T0+10 */
	/* The 5m window at end E holds seconds (E-300, E]. */
	window_advance(w, T0 + 309999);
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "alpha"), 1);
	window_advance(w, T0 + 310000);
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "alpha"), 0);
	ck_assert_uint_eq(count_of(w, WINDOW_1H, "alpha"), 1);
	/* 1h: minutes (E-60, E]; the post is in minute 0 of T0. */
	window_advance(w, T0 + 3599999);
	ck_assert_uint_eq(count_of(w, WINDOW_1H, "alpha"), 1);
	window_advance(w, T0 + 3600000);
	ck_assert_uint_eq(count_of(w, WINDOW_1H, "alpha"), 0);
	ck_assert_uint_eq(count_of(w, WINDOW_24H, "alpha"), 1);
	/* 24h: quarter hours (E-96, E]. */
	window_advance(w, T0 + 86400000 - 1);
	ck_assert_uint_eq(count_of(w, WINDOW_24H, "alpha"), 1);
	check_invariants(w);
	window_advance(w, T0 + 86400000);
	ck_assert_uint_eq(count_of(w, WINDOW_24H, "alpha"), 0);
	check_invariants(w);
	/* after the baseline day the term is gone from memory too */
	window_advance(w, T0 + 2 * 86400000LL + 1000);
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.terms, 0);
	ck_assert_uint_eq(st.entries, 0);
	window_free(w);
}
END_TEST

START_TEST(test_window_counts_out_of_order_inside_lateness_and_rejects_late)
{
	struct window *w = mkwin(60000, 4096);
	ck_assert_int_eq(add1(w, T0 + 100000, "x", 1), WINDOW_ADDED);
	ck_assert_int_eq(add1(w, T0 + 41000, "x", 2), WINDOW_ADDED);   /* 59 s behind */
	ck_assert_int_eq(add1(w, T0 + 40000, "x", 3), WINDOW_ADDED);   /* exactly the lateness */
	ck_assert_int_eq(add1(w, T0 + 100000, "y", 3), WINDOW_ADDED);
	ck_assert_int_eq(add1(w, T0 + 200000, "z", 1), WINDOW_ADDED);  /* watermark to 140 s */
	ck_assert_int_eq(add1(w, T0 + 139000, "x", 4), WINDOW_LATE);
	ck_assert_int_eq(add1(w, T0 + 10000, "x", 5), WINDOW_LATE);
	ck_assert_int_eq(add1(w, T0 + 141000, "x", 6), WINDOW_ADDED);
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "x"), 4);
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.late_posts, 2);
	ck_assert_uint_eq(st.posts, 6);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_clamps_posts_from_the_future)
{
	struct window *w = mkwin(60000, 4096);
	window_advance(w, T0);
	ck_assert_int_eq(add1(w, T0 + 3600000, "soon", 1), WINDOW_ADDED);
	ck_assert_int_eq(window_end_ms(w), T0); /* the window did not jump an hour ahead */
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "soon"), 1);
	ck_assert_int_eq(add1(w, T0 + 200000, "near", 1), WINDOW_ADDED); /* within 5 min: kept */
	ck_assert_int_eq(window_end_ms(w), T0 + 200000);
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.future_posts, 1);
	window_free(w);
}
END_TEST

struct minute_capture {
	int calls;
	uint32_t alpha, beta;
	int64_t minute;
};

static void on_minute(void *ctx, int64_t minute_ms, const struct window_minute_row *rows, size_t n)
{
	struct minute_capture *c = ctx;
	c->calls++;
	c->minute = minute_ms;
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(rows[i].minute_ms, minute_ms);
		if (rows[i].term_len == 5 && memcmp(rows[i].term, "alpha", 5) == 0) {
			c->alpha = rows[i].count;
			ck_assert_uint_eq(rows[i].authors, 3);
		}
		if (rows[i].term_len == 4 && memcmp(rows[i].term, "beta", 4) == 0)
			c->beta = rows[i].count;
	}
}

START_TEST(test_window_emits_closed_minutes_for_history)
{
	struct window *w = mkwin(10000, 4096);
	struct minute_capture cap = { 0 };
	window_set_minute_sink(w, on_minute, &cap);
	for (int i = 0; i < 5; i++)
		add1(w, T0 + 1000 * i, "alpha", (uint32_t)(i % 3) + 1);
	add1(w, T0 + 59000, "beta", 9);
	window_advance(w, T0 + 69999);  /* watermark 59.999 s: minute still open */
	ck_assert_int_eq(cap.calls, 0);
	window_advance(w, T0 + 70000);
	ck_assert_int_eq(cap.calls, 1);
	ck_assert_int_eq(cap.minute, T0);
	ck_assert_uint_eq(cap.alpha, 5);
	ck_assert_uint_eq(cap.beta, 1);
	window_free(w);
}
END_TEST

/* Exact reference: every counted event, kept by the test. */
struct ev {
	int64_t t;
	uint32_t term;
};

static int cmp_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

START_TEST(test_window_topk_matches_exact_reference_on_zipf_stream)
{
	enum { VOCAB = 3000, POSTS = 60000 };
	rng_state = 42;
	struct window *w = mkwin(30000, 128); /* small m forces pruning */
	struct ev *evs = malloc(sizeof *evs * POSTS * 3);
	size_t nev = 0;
	char names[VOCAB][12];
	double cdf[VOCAB], z = 0;
	for (int i = 0; i < VOCAB; i++) {
		snprintf(names[i], sizeof names[i], "w%d", i);
		z += 1.0 / pow(i + 1, 1.1);
		cdf[i] = z;
	}
	int64_t t = T0;
	for (int i = 0; i < POSTS; i++) {
		t += (int64_t)(rnd() % 40);                       /* ~50 posts/s */
		int64_t et = t - (int64_t)(rnd() % 20000);         /* out of order, within lateness */
		struct token tk[3];
		uint32_t ids[3];
		for (int k = 0; k < 3; k++) {
			double u = rnd01() * z;
			int lo = 0, hi = VOCAB - 1;
			while (lo < hi) {
				int mid = (lo + hi) / 2;
				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			ids[k] = (uint32_t)lo;
			tk[k] = (struct token){ names[lo], (uint16_t)strlen(names[lo]), TERM_WORD };
		}
		struct window_post p = { et, (uint32_t)rnd(), 0.0f, tk, 3 };
		if (window_add_post(w, &p) == WINDOW_ADDED)
			for (int k = 0; k < 3; k++) {
				bool dup = false;
				for (int j = 0; j < k; j++)
					dup |= ids[j] == ids[k];
				if (!dup)
					evs[nev++] = (struct ev){ et, ids[k] };
			}
	}
	check_invariants(w);
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_gt(st.pruned, 0);

	for (int win = WINDOW_5M; win <= WINDOW_1H; win++) {
		int64_t span = win == WINDOW_5M ? 1000 : 60000, n = win == WINDOW_5M ? 300 : 60;
		int64_t end_key = window_end_ms(w) / span;
		uint32_t *truth = calloc(VOCAB, sizeof *truth);
		for (size_t i = 0; i < nev; i++) {
			int64_t k = evs[i].t / span;
			if (k > end_key - n && k <= end_key)
				truth[evs[i].term]++;
		}
		struct snapshot *s = snapshot_new();
		struct snapshot_view *v = snapshot_alloc(s, sizeof *v);
		ck_assert_int_eq(window_fill_view(w, win, s, v), 0);
		const struct trend_ranking *r = &v->rank[SORT_COUNT][TERM_KIND_ALL];
		ck_assert_uint_ge(r->n, 50);
		/* every reported count is within its bound of the truth */
		for (uint32_t i = 0; i < v->ntrends; i++) {
			const struct trend *tr = &v->trends[i];
			uint32_t id = (uint32_t)atoi(tr->term + 1);
			ck_assert_msg(tr->count <= truth[id], "%s: reported %u > true %u", tr->term,
				      tr->count, truth[id]);
			ck_assert_msg(truth[id] - tr->count <= tr->error,
				      "%s: reported %u, true %u, bound %u", tr->term, tr->count,
				      truth[id], tr->error);
		}
		/* recall of the true top 50 in the reported top 50 */
		uint32_t *sorted = malloc(VOCAB * sizeof *sorted);
		memcpy(sorted, truth, VOCAB * sizeof *sorted);
		qsort(sorted, VOCAB, sizeof *sorted, cmp_u32_desc);
		uint32_t cut = sorted[49];
		int needed = 0, found = 0;
		for (uint32_t id = 0; id < VOCAB; id++) {
			if (truth[id] <= sorted[50] && truth[id] <= cut)
				continue; /* not unambiguously in the top 50 */
			needed++;
			for (uint32_t i = 0; i < 50 && i < r->n; i++)
				if (atoi(v->trends[r->idx[i]].term + 1) == (int)id) {
					found++;
					break;
				}
		}
		ck_assert_int_gt(needed, 40);
		ck_assert_msg((double)found / needed >= 0.99, "recall %d/%d in %s", found, needed,
			      window_name(win));
		free(sorted);
		free(truth);
		snapshot_put(s);
	}
	free(evs);
	window_free(w);
}
END_TEST

static double score_of(struct window *w, const char *term)
{
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v = snapshot_alloc(s, sizeof *v);
	ck_assert_int_eq(window_fill_view(w, WINDOW_5M, s, v), 0);
	double score = -1;
	const struct trend_ranking *r = &v->rank[SORT_SCORE][TERM_KIND_ALL];
	for (uint32_t i = 0; i < r->n; i++)
		if (strcmp(v->trends[r->idx[i]].term, term) == 0)
			score = v->trends[r->idx[i]].score;
	snapshot_put(s);
	return score;
}

/* Background chatter so terms have a baseline; the wall clock moves along. */
static void background(struct window *w, int64_t from, int64_t to)
{
	for (int64_t t = from; t < to; t += 2000) {
		window_advance(w, t);
		char name[16];
		snprintf(name, sizeof name, "bg%d", (int)(rnd() % 50));
		add1(w, t, name, (uint32_t)(rnd() % 500) + 1000);
	}
}

START_TEST(test_window_burst_by_one_author_does_not_trend_but_by_many_does)
{
	rng_state = 7;
	struct window *w = mkwin(5000, 4096);
	background(w, T0, T0 + 3600000);
	int64_t t = T0 + 3600000;
	for (int i = 0; i < 300; i++)
		add1(w, t + i * 200, "spam", 77); /* one account, 300 posts */
	for (int i = 0; i < 300; i++)
		add1(w, t + i * 200, "launch", (uint32_t)(i % 200) + 1); /* 200 accounts */
	window_advance(w, t + 60000);
	ck_assert_double_eq(score_of(w, "spam"), -1); /* not ranked by score at all */
	double s = score_of(w, "launch");
	ck_assert_msg(s > 100, "launch score %f", s);
	/* steady background terms do not trend either */
	ck_assert_double_eq(score_of(w, "bg1"), -1);
	/* the score decays after the peak instead of vanishing */
	window_advance(w, t + 60000 + 400000); /* burst left the 5m window */
	double later = score_of(w, "launch");
	ck_assert(later < s);
	window_free(w);
}
END_TEST

START_TEST(test_window_nothing_trends_before_there_is_history)
{
	struct window *w = mkwin(1000, 4096);
	for (int i = 0; i < 400; i++)
		add1(w, T0 + i * 500, "early", (uint32_t)i + 1); /* 400 authors, 200 s */
	window_advance(w, T0 + 200000);
	ck_assert_double_eq(score_of(w, "early"), -1);
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v = snapshot_alloc(s, sizeof *v);
	ck_assert_int_eq(window_fill_view(w, WINDOW_5M, s, v), 0);
	ck_assert_int_eq(v->history_needed_ms, 300000);
	ck_assert_int_eq(v->history_ms, 0); /* the window reaches back before the first post */
	snapshot_put(s);
	/* six minutes in, the five before the window are history: a new burst trends */
	rng_state = 3;
	background(w, T0 + 200000, T0 + 660000);
	for (int i = 0; i < 100; i++)
		add1(w, T0 + 660000 + i * 100, "late", (uint32_t)i + 1);
	window_advance(w, T0 + 671000);
	ck_assert_double_gt(score_of(w, "late"), 0);
	s = snapshot_new();
	v = snapshot_alloc(s, sizeof *v);
	ck_assert_int_eq(window_fill_view(w, WINDOW_5M, s, v), 0);
	ck_assert_int_eq(v->history_ms, 360000); /* minutes 0..5 before the window */
	snapshot_put(s);
	window_free(w);
}
END_TEST

START_TEST(test_window_warmup_keeps_new_terms_from_trending)
{
	struct window_config c;
	window_config_defaults(&c);
	c.warmup_ms = 60000;
	c.lateness_ms = 1000;
	struct window *w = window_new(&c);
	rng_state = 11;
	background(w, T0, T0 + 900000);
	int64_t t = T0 + 900000;
	for (int i = 0; i < 50; i++)
		add1(w, t + i * 100, "fresh", (uint32_t)i + 1);
	window_advance(w, t + 10000);
	ck_assert_double_eq(score_of(w, "fresh"), -1);
	for (int i = 0; i < 50; i++)
		add1(w, t + 61000 + i * 100, "fresh", (uint32_t)i + 100);
	ck_assert_double_gt(score_of(w, "fresh"), 0);
	window_free(w);
}
END_TEST

START_TEST(test_window_memory_stays_bounded_with_many_distinct_terms)
{
	struct window *w = mkwin(60000, 256);
	char name[32];
	uint64_t peak_terms = 0;
	/* 400k distinct terms over 50 hours: all pass through the 24h window */
	for (int i = 0; i < 400000; i++) {
		int64_t t = T0 + (int64_t)i * 450;
		snprintf(name, sizeof name, "t%d", i);
		struct token tk = { name, (uint16_t)strlen(name), TERM_WORD };
		struct window_post p = { t, (uint32_t)i, 0, &tk, 1 };
		window_add_post(w, &p);
		if (i % 10000 == 0) {
			struct window_stats st;
			window_get_stats(w, &st);
			if (st.terms > peak_terms)
				peak_terms = st.terms;
		}
	}
	/* at 2.2 posts/s a minute holds 133 terms (< m), a quarter 2000 (pruned to 256):
	 * live terms <= the 2 h of minutes kept (16,000) + 192 quarters x 256 */
	ck_assert_uint_lt(peak_terms, 16100 + 192 * 256);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_view_has_rankings_series_and_volume)
{
	struct window *w = mkwin(0, 4096);
	for (int i = 0; i < 100; i++) {
		add1(w, T0 + i * 1000, "often", (uint32_t)i);
		if (i % 10 == 0)
			add1(w, T0 + i * 1000, "rarely", (uint32_t)i);
	}
	window_advance(w, T0 + 100000);
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v = snapshot_alloc(s, sizeof *v);
	ck_assert_int_eq(window_fill_view(w, WINDOW_5M, s, v), 0);
	ck_assert_uint_eq(v->posts, 110);
	ck_assert_uint_eq(v->series_points, 30);
	ck_assert_int_eq(v->series_step_ms, 10000);
	const struct trend_ranking *r = &v->rank[SORT_COUNT][TERM_WORD];
	ck_assert_uint_eq(r->n, 2);
	const struct trend *top = &v->trends[r->idx[0]];
	ck_assert_str_eq(top->term, "often");
	ck_assert_uint_eq(top->count, 100);
	uint32_t sum = 0, vsum = 0;
	for (uint32_t i = 0; i < v->series_points; i++) {
		sum += top->series[i];
		vsum += v->volume_series[i];
	}
	ck_assert_uint_eq(sum, 100);
	ck_assert_uint_eq(vsum, 110);
	/* the newest point holds seconds 91..100 (100 is the current one): 9 posts */
	ck_assert_uint_eq(top->series[29], 9);
	ck_assert_uint_eq(v->rank[SORT_COUNT][TERM_HASHTAG].n, 0);
	snapshot_put(s);
	window_free(w);
}
END_TEST

static uint32_t authors_of(struct window *w, int win, const char *term)
{
	struct window_term_info info;
	window_lookup(w, win, TERM_WORD, term, strlen(term), &info);
	return info.authors;
}

START_TEST(test_window_counts_authors_exactly_while_few)
{
	/* 1, 6 and 7 authors straddle the inline room of an author set, 1024 is
	 * the largest exact one; every author posts three times */
	static const uint32_t sizes[] = { 1, 6, 7, 100, 1024 };
	struct window *w = mkwin(60000, 4096);
	char name[16];
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		snprintf(name, sizeof name, "n%u", sizes[s]);
		for (int rep = 0; rep < 3; rep++)
			for (uint32_t a = 0; a < sizes[s]; a++)
				add1(w, T0 + 1000 + rep * 1000 + a % 50, name, a * 2654435761u + 17);
	}
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		snprintf(name, sizeof name, "n%u", sizes[s]);
		ck_assert_uint_eq(count_of(w, WINDOW_5M, name), 3 * sizes[s]);
		for (int win = 0; win < WINDOW_COUNT; win++)
			ck_assert_uint_eq(authors_of(w, win, name), sizes[s]);
	}
	/* the minute closes: the estimates kept for history are the exact counts */
	window_advance(w, T0 + 130000);
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		snprintf(name, sizeof name, "n%u", sizes[s]);
		ck_assert_uint_eq(authors_of(w, WINDOW_1H, name), sizes[s]);
	}
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_authors_of_a_popular_term_stay_within_2_percent)
{
	/* 12,000 authors in one minute, next to 300 terms with a few: the popular
	 * term's set goes dense, and stays close while open and once closed */
	struct window *w = mkwin(5000, 4096);
	char name[16];
	for (uint32_t a = 0; a < 12000; a++) {
		struct token tk[2] = { { "viral", 5, TERM_WORD }, { name, 0, TERM_WORD } };
		tk[1].len = (uint16_t)snprintf(name, sizeof name, "small%u", a % 300);
		struct window_post p = { T0 + a * 4, a * 2654435761u + 5, 0.0f, tk, 2 };
		ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	}
	double err = fabs(authors_of(w, WINDOW_1H, "viral") - 12000.0) / 12000.0;
	ck_assert_msg(err <= 0.02, "open minute: error %.4f", err);
	ck_assert_uint_eq(authors_of(w, WINDOW_1H, "small7"), 40);
	window_advance(w, T0 + 70000); /* the minute closes */
	err = fabs(authors_of(w, WINDOW_1H, "viral") - 12000.0) / 12000.0;
	ck_assert_msg(err <= 0.02, "closed minute: error %.4f", err);
	err = fabs(authors_of(w, WINDOW_24H, "viral") - 12000.0) / 12000.0;
	ck_assert_msg(err <= 0.02, "24h: error %.4f", err);
	ck_assert_uint_eq(authors_of(w, WINDOW_24H, "small7"), 40);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_counts_every_term_once_in_long_posts)
{
	/*
	 * 300 tokens: terms of every length class (1..3, 4..7, 8..16, 17..31 and
	 * longer than the inline room), each of them twice - once early, once
	 * more than a batch later - plus terms alike up to their last byte.
	 */
	enum { NT = 300 };
	static const char *const fixed[] = {
		"a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "abcdefghijklmnop",
		"abcdefghijklmnopq", "abcdefghijklmnopqrstuvwxyz01234",
		"abcdefghijklmnopqrstuvwxyz012345",
		"a term that is much longer than the inline room of a term, really",
		"abcdefgh1", "abcdefgh2", "abcdefghijklmno1", "abcdefghijklmno2",
	};
	const size_t nf = sizeof fixed / sizeof *fixed;
	char names[NT][32];
	struct token tk[NT];
	size_t n = 0;
	for (size_t i = 0; i < nf; i++)
		tk[n++] = (struct token){ fixed[i], (uint16_t)strlen(fixed[i]), TERM_WORD };
	while (n < NT - nf) {
		snprintf(names[n], sizeof names[n], "filler%zu", n);
		tk[n] = (struct token){ names[n], (uint16_t)strlen(names[n]), TERM_WORD };
		n++;
	}
	for (size_t i = 0; i < nf; i++)
		tk[n++] = (struct token){ fixed[i], (uint16_t)strlen(fixed[i]), TERM_WORD };
	struct window *w = mkwin(60000, 4096);
	struct window_post p = { T0 + 500, 1, 0.9f, tk, n };
	ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	p.event_ms += 1000;
	p.author_hash = 2;
	ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	for (size_t i = 0; i < n; i++)
		for (int win = 0; win < WINDOW_COUNT; win++) {
			struct window_term_info info;
			window_lookup(w, win, TERM_WORD, tk[i].s, tk[i].len, &info);
			ck_assert_msg(info.found && info.count == 2 && info.pos == 2 &&
					      info.authors == 2,
				      "'%.*s' in %s: count %u", tk[i].len, tk[i].s,
				      window_name(win), info.count);
		}
	struct window_term_info info;
	window_lookup(w, WINDOW_5M, TERM_WORD, "abcdefgh3", 9, &info);
	ck_assert(!info.found);
	window_lookup(w, WINDOW_5M, TERM_HASHTAG, "abcdefgh1", 9, &info);
	ck_assert(!info.found);
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.terms, NT - nf);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_interns_many_new_terms_in_one_post)
{
	/* 512 new terms per post: the term index grows in the middle of a post */
	enum { NT = 512, POSTS = 6 };
	static char names[POSTS][NT][16];
	struct token tk[NT];
	struct window *w = mkwin(60000, 4096);
	for (int p = 0; p < POSTS; p++) {
		for (int i = 0; i < NT; i++) {
			/* half the terms of a post are new, half were in the post before */
			int id = p * NT / 2 + i;
			snprintf(names[p][i], sizeof names[p][i], "t%d", id);
			tk[i] = (struct token){ names[p][i], (uint16_t)strlen(names[p][i]),
						TERM_WORD };
		}
		struct window_post wp = { T0 + p * 100, (uint32_t)p + 1, 0, tk, NT };
		ck_assert_int_eq(window_add_post(w, &wp), WINDOW_ADDED);
	}
	check_invariants(w);
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.terms, (POSTS + 1) * NT / 2);
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "t0"), 1);
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "t300"), 2);
	ck_assert_uint_eq(count_of(w, WINDOW_1H, "t1791"), 1);
	ck_assert_uint_eq(authors_of(w, WINDOW_1H, "t300"), 2);
	window_free(w);
}
END_TEST

START_TEST(test_window_sees_the_authors_of_the_latest_post)
{
	/* every read sees every post counted so far, authors included */
	struct window *w = mkwin(60000, 4096);
	for (uint32_t a = 1; a <= 20; a++) {
		add1(w, T0 + a * 10, "now", a);
		ck_assert_uint_eq(authors_of(w, WINDOW_5M, "now"), a);
		ck_assert_uint_eq(count_of(w, WINDOW_1H, "now"), a);
		check_invariants(w);
	}
	window_free(w);
}
END_TEST

START_TEST(test_window_gives_memory_back_when_buckets_are_pruned)
{
	/* 20,000 terms in one minute; once the minute and its quarter close and
	 * are pruned to 64 entries, the buckets must not keep the room of 20,000 */
	struct window *w = mkwin(0, 64);
	char name[16];
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "g%d", i);
		add1(w, T0 + (i % 59) * 1000, name, (uint32_t)i);
	}
	struct window_stats before, after;
	window_get_stats(w, &before);
	window_advance(w, T0 + 900000 + 1000); /* minute and quarter closed */
	window_get_stats(w, &after);
	ck_assert_uint_eq(after.entries, 0 + 64 + 64 + 0); /* level 0 expired; 1 and 2 pruned */
	ck_assert_msg(after.bytes < before.bytes, "bytes %zu after pruning, %zu before",
		      after.bytes, before.bytes);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_keeps_terms_apart_whose_index_tags_collide)
{
	/*
	 * The term index compares 32-bit tags before it reads a term: among
	 * 300,000 terms of one length some ten pairs share a tag, and each term
	 * of such a pair must still count alone.
	 */
	enum { NT = 300000 };
	struct window *w = mkwin(60000, 4096);
	char name[16];
	for (int rep = 0; rep < 2; rep++)
		for (int i = 0; i < NT; i++) {
			snprintf(name, sizeof name, "k%07d", i);
			add1(w, T0 + 500, name, (uint32_t)rep + 1);
		}
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.terms, NT);
	for (int i = 0; i < NT; i++) {
		snprintf(name, sizeof name, "k%07d", i);
		struct window_term_info info;
		window_lookup(w, WINDOW_5M, TERM_WORD, name, 8, &info);
		ck_assert_msg(info.count == 2, "%s: count %u", name, info.count);
	}
	window_free(w);
}
END_TEST

/*
 * Text number pos of length len in an allocation of exactly len bytes: with
 * pos == len "abc..." itself, else that text with byte pos changed.
 */
static char *one_byte_variant(size_t len, size_t pos)
{
	char *s = malloc(len);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < len; i++)
		s[i] = (char)('a' + i % 26);
	if (pos < len)
		s[pos] = 'Z';
	return s;
}

START_TEST(test_window_keeps_apart_terms_that_differ_in_any_one_byte)
{
	/*
	 * A term of up to 16 bytes is found by its key words alone, with no
	 * string compare: they must hold every byte. For each length 1..20,
	 * a text and every text that differs from it in one byte are distinct
	 * terms counted once each; a key that missed a position would merge
	 * two of them. Each text is in an allocation of exactly its length,
	 * so a key read past the text fails under the address sanitizer.
	 */
	struct window *w = mkwin(60000, 4096);
	uint32_t expect = 0;
	for (size_t len = 1; len <= 20; len++)
		for (size_t pos = 0; pos <= len; pos++, expect++) {
			char *s = one_byte_variant(len, pos);
			struct token tk = { s, (uint16_t)len, TERM_WORD };
			struct window_post p = { T0 + 500, 7, 0.5f, &tk, 1 };
			ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
			free(s);
		}
	struct window_stats st;
	window_get_stats(w, &st);
	ck_assert_uint_eq(st.terms, expect);
	for (size_t len = 1; len <= 20; len++)
		for (size_t pos = 0; pos <= len; pos++) {
			char *s = one_byte_variant(len, pos);
			struct window_term_info info;
			window_lookup(w, WINDOW_5M, TERM_WORD, s, len, &info);
			ck_assert_msg(info.found && info.count == 1, "length %zu, byte %zu: count %u",
				      len, pos, info.count);
			free(s);
		}
	check_invariants(w);
	window_free(w);
}
END_TEST

/* ---- saving and restoring ---- */

struct minute_log {
	struct strbuf sb;   /* one line per closed-minute row and per volume */
};

static void log_minute(void *ctx, int64_t minute_ms, const struct window_minute_row *rows,
		       size_t n)
{
	struct minute_log *l = ctx;
	for (size_t i = 0; i < n; i++)
		sb_printf(&l->sb, "%lld %d %.*s %u %u %u %u %.9g\n", (long long)minute_ms,
			  rows[i].kind, (int)rows[i].term_len, rows[i].term, rows[i].count,
			  rows[i].authors, rows[i].pos, rows[i].neg, rows[i].sent_sum);
}

static void log_volume(void *ctx, int64_t minute_ms, const struct window_minute_volume *v)
{
	struct minute_log *l = ctx;
	sb_printf(&l->sb, "%lld volume %llu %llu %llu %.9g\n", (long long)minute_ms,
		  (unsigned long long)v->posts, (unsigned long long)v->pos,
		  (unsigned long long)v->neg, v->sent_sum);
}

/*
 * A stream that exercises every part of the state: a Zipf vocabulary (so
 * pruning at a small top_m drops terms), thousands of authors on a few terms
 * (author sets go sparse, then dense in their group's columns), a burst from
 * one author, posts out of order, late posts and posts from the future.
 */
static void feed_stream(struct window *w, int64_t from_ms, int npost, uint64_t seed)
{
	char words[8][24];
	struct token tk[8];
	rng_state = seed;
	for (int i = 0; i < npost; i++) {
		int64_t t = from_ms + (int64_t)i * 150 - (int64_t)(rnd() % 20000);
		if (i % 97 == 0)
			t -= 400000; /* late */
		if (i % 211 == 0)
			t += 3600000; /* from the future: clamped */
		size_t nt = 1 + rnd() % 6;
		for (size_t k = 0; k < nt; k++) {
			double u = rnd01();
			unsigned id = (unsigned)(3000.0 * u * u * u);
			snprintf(words[k], sizeof words[k], k == 0 && u < 0.3 ? "popular%u" : "w%u",
				 id % 4);
			if (k > 0)
				snprintf(words[k], sizeof words[k], "w%u", id);
			tk[k] = (struct token){ words[k], (uint16_t)strlen(words[k]),
						(uint8_t)(k == 5 ? TERM_HASHTAG : TERM_WORD) };
		}
		uint32_t author = i % 50 == 0 ? 7u : (uint32_t)(rnd() % 5000) + 1;
		struct window_post p = { t, author, (float)(rnd01() * 2 - 1), tk, nt };
		window_add_post(w, &p);
		if (i % 40 == 0)
			window_advance(w, from_ms + (int64_t)i * 150);
	}
}

static char *state_of(const struct window *w, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	window_state_save(w, &sb);
	ck_assert(!sb.failed);
	return sb_detach(&sb, len);
}

/* Loads a saved state, which must check out and save back to the same bytes. */
static struct window *load_same_bytes(const struct window_config *c, const char *st, size_t len)
{
	char err[256] = "";
	struct window *w = NULL;
	ck_assert_msg(window_state_load(&w, c, st, len, err, sizeof err) == 0, "%s", err);
	check_invariants(w);
	size_t len2;
	char *st2 = state_of(w, &len2);
	ck_assert_uint_eq(len2, len);
	ck_assert(memcmp(st, st2, len) == 0);
	free(st2);
	return w;
}

/*
 * Counting a post does not write the terms' totals; every read of them adds
 * what the open buckets gained first. A sync that added whole entries again,
 * a state that did not carry what was already added, or an open bucket that
 * left its window with counts not yet added would each give other totals.
 */
START_TEST(test_window_totals_hold_every_count_across_reads_saves_and_expiry)
{
	/* 10 min lateness: a second's bucket leaves the 5m window while still open */
	struct window_config c = wincfg(600000, 4096);
	struct window *w = window_new(&c);
	for (int i = 0; i < 3; i++)
		add1(w, T0 + 1000, "beta", (uint32_t)i + 1);
	ck_assert_uint_eq(count_of(w, WINDOW_5M, "beta"), 3);
	add1(w, T0 + 1200, "beta", 4);
	add1(w, T0 + 1400, "beta", 5);
	for (int win = 0; win < WINDOW_COUNT; win++)
		ck_assert_uint_eq(count_of(w, win, "beta"), 5);
	check_invariants(w);

	/* one count not yet read when saving */
	add1(w, T0 + 1600, "beta", 6);
	size_t len;
	char *st = state_of(w, &len);
	struct window *r = load_same_bytes(&c, st, len);
	free(st);
	window_free(w);
	for (int win = 0; win < WINDOW_COUNT; win++)
		ck_assert_uint_eq(count_of(r, win, "beta"), 6);
	/* the restored open buckets count on from what their totals hold */
	add1(r, T0 + 1800, "beta", 7);
	for (int win = 0; win < WINDOW_COUNT; win++)
		ck_assert_uint_eq(count_of(r, win, "beta"), 7);
	check_invariants(r);

	/* a count the totals have not seen yet when its second leaves the 5m window */
	add1(r, T0 + 1900, "beta", 8);
	window_advance(r, T0 + 301000);
	ck_assert_uint_eq(count_of(r, WINDOW_5M, "beta"), 0);
	ck_assert_uint_eq(count_of(r, WINDOW_1H, "beta"), 8);
	/* late but inside the lateness: counted in 1h and 24h, not in 5m */
	ck_assert_int_eq(add1(r, T0 + 1950, "beta", 9), WINDOW_ADDED);
	ck_assert_uint_eq(count_of(r, WINDOW_5M, "beta"), 0);
	ck_assert_uint_eq(count_of(r, WINDOW_1H, "beta"), 9);
	ck_assert_uint_eq(count_of(r, WINDOW_24H, "beta"), 9);
	check_invariants(r);
	/* closing the second and the minute keeps the totals */
	window_advance(r, T0 + 60000 + 600000 + 1000);
	ck_assert_uint_eq(count_of(r, WINDOW_1H, "beta"), 9);
	ck_assert_uint_eq(count_of(r, WINDOW_24H, "beta"), 9);
	check_invariants(r);
	window_free(r);
}
END_TEST

/* The views of w as JSON: all three at once (as the engine reads them) or one by one. */
static char *views_json_as(struct window *w, bool at_once)
{
	struct strbuf out = STRBUF_INIT;
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v = snapshot_alloc(s, WINDOW_COUNT * sizeof *v);
	s->views = v;
	s->nviews = WINDOW_COUNT;
	if (at_once)
		ck_assert_int_eq(window_fill_views(w, s, v), 0);
	for (int win = 0; !at_once && win < WINDOW_COUNT; win++)
		ck_assert_int_eq(window_fill_view(w, win, s, &v[win]), 0);
	for (int win = 0; win < WINDOW_COUNT; win++)
		for (int sort = 0; sort < 2; sort++) {
			struct trends_query q = { .window = win, .kind = TERM_KIND_ALL, .sort = sort,
						  .limit = LIMIT_TRENDS_PER_VIEW, .lang = "" };
			ck_assert_int_eq(snapshot_json_members(&out, s, &q), 0);
			sb_putc(&out, '\n');
		}
	snapshot_put(s);
	ck_assert(!out.failed);
	return sb_detach(&out, NULL);
}

static char *views_json(struct window *w) { return views_json_as(w, false); }

START_TEST(test_window_state_with_a_minute_of_posts_without_terms_restores)
{
	/*
	 * A minute whose posts have no terms (numbers, stopwords, an image) has
	 * buckets that never took an entry, so no arrays, author sets included.
	 * Its state must load, check and save back to the same bytes.
	 */
	struct window_config c;
	window_config_defaults(&c);
	struct window *a = window_new(&c);
	window_advance(a, T0);
	struct window_post p = { T0, 1, 0.0f, NULL, 0 };
	window_add_post(a, &p);
	window_advance(a, T0 + 3 * 60000);
	add1(a, T0 + 3 * 60000, "later", 2);
	check_invariants(a);
	size_t len;
	char *st = state_of(a, &len);
	struct window *b = load_same_bytes(&c, st, len);
	/* and it goes on counting, in the minute that had no entry too */
	add1(b, T0 + 10, "late", 3);
	add1(b, T0 + 3 * 60000 + 5, "later", 4);
	check_invariants(b);
	ck_assert_uint_eq(count_of(b, WINDOW_5M, "later"), 2);
	free(st);
	window_free(a);
	window_free(b);
}
END_TEST

START_TEST(test_window_restored_state_continues_exactly_like_the_original)
{
	struct window_config c = wincfg(120000, 64);
	struct window *a = window_new(&c);
	struct minute_log la = { STRBUF_INIT }, lb = { STRBUF_INIT };
	/* two hours: levels 1 and 2 close, roll up and become baseline */
	feed_stream(a, T0, 40000, 42);
	/* a burst of many authors on one term in the open minute: a dense column */
	for (uint32_t i = 0; i < 3000; i++)
		add1(a, T0 + 40000 * 150 - 500, "crowd", i * 2654435761u);
	check_invariants(a);

	size_t len;
	char *st = state_of(a, &len);
	struct window *b = load_same_bytes(&c, st, len); /* saves to the same bytes */
	window_recount_totals(a); /* as b's were: sentiment sums the same to the bit */

	window_set_minute_sink(a, log_minute, &la);
	window_set_volume_sink(a, log_volume, &la);
	window_set_minute_sink(b, log_minute, &lb);
	window_set_volume_sink(b, log_volume, &lb);
	int64_t now = T0 + 40000 * 150;
	window_advance(a, now);
	window_advance(b, now);
	char *ja = views_json(a), *jb = views_json(b);
	ck_assert_str_eq(ja, jb);
	free(ja);
	free(jb);
	/* the same further posts: the same minute rows, views and state */
	feed_stream(a, now, 20000, 7);
	feed_stream(b, now, 20000, 7);
	window_advance(a, now + 20000 * 150 + 600000);
	window_advance(b, now + 20000 * 150 + 600000);
	ck_assert(la.sb.len > 1000);
	ck_assert_str_eq(la.sb.buf, lb.sb.buf);
	ja = views_json(a);
	jb = views_json(b);
	ck_assert_str_eq(ja, jb);
	struct window_stats sa, sbs;
	window_get_stats(a, &sa);
	window_get_stats(b, &sbs);
	ck_assert_uint_eq(sa.late_posts, sbs.late_posts);
	ck_assert_uint_gt(sa.late_posts, 0);
	ck_assert_uint_gt(sa.future_posts, 0);
	ck_assert_uint_eq(sa.future_posts, sbs.future_posts);
	ck_assert_uint_gt(sa.pruned, 0);
	free(st);
	size_t len2;
	st = state_of(a, &len);
	char *st2 = state_of(b, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert(memcmp(st, st2, len) == 0);
	free(st);
	free(st2);
	free(ja);
	free(jb);
	sb_free(&la.sb);
	sb_free(&lb.sb);
	window_free(a);
	window_free(b);
}
END_TEST

/* a's views (all at once) are what a copy restored from its state shows (one by one) */
static void assert_views_as_fresh(struct window *a, const struct window_config *c, const char *at,
				  int n)
{
	size_t len;
	char *st = state_of(a, &len);
	struct window *b = load_same_bytes(c, st, len);
	/* b's totals are recounted from its entries: a's the same way, so sums match to the bit */
	window_recount_totals(a);
	char *ja = views_json_as(a, true), *jb = views_json(b);
	ck_assert_msg(strcmp(ja, jb) == 0, "%s %d: views differ from a fresh copy's", at, n);
	free(ja);
	free(jb);
	free(st);
	window_free(b);
}

/*
 * A view reads each term's baseline (its authors over the history before the
 * window) from a cache per term that holds until a minute or quarter closes,
 * leaves, or the window's history range moves; it starts a term's author
 * union from the kept union of its closed buckets, which holds until a bucket
 * of that level changes state or the window's end moves to the next bucket;
 * and it lists the buckets it reads once per view. A window read after every
 * step of a long stream must show, at every point, what a fresh copy of it
 * (restored from its state, nothing cached) shows: a cache kept past a change
 * would give other authors or scores.
 */
START_TEST(test_window_views_read_often_show_what_a_fresh_copy_shows)
{
	/*
	 * 10.5 min lateness: the minutes of the 5m window's baseline close while
	 * it reads them, half a minute after its history range last moved
	 */
	struct window_config c = wincfg(630000, 64);
	struct window *a = window_new(&c);
	int64_t t = T0;
	int compared = 0;
	for (int step = 0; step < 300; step++) {
		/* 15 s of posts, then a read of every view (which fills the caches) */
		feed_stream(a, t, 100, 1000 + (uint64_t)step);
		if (step % 60 == 7)
			for (uint32_t i = 0; i < 1500; i++) /* a crowd: columns, then dense sets */
				add1(a, t + 100 * 150 - 200, "crowd", i * 2654435761u);
		t += 100 * 150;
		window_advance(a, t);
		if (step % 7 != 6) {
			free(views_json_as(a, step % 2));
			continue;
		}
		assert_views_as_fresh(a, &c, "step", step);
		compared++;
	}
	ck_assert_int_eq(compared, 42);
	check_invariants(a);
	window_free(a);
}
END_TEST

/*
 * The author union a view keeps per term grows with the buckets that close,
 * and must be built again - ahead of time, over the views before it - when
 * the window's end moves on and its oldest bucket leaves. Here each term's posts of a minute have an author no other
 * minute has, so a kept union that still holds a bucket that left, or misses
 * one that closed, counts wrong. 70 terms posted every minute for 25 and a
 * half hours; for the last two and a half (minutes leave the 1h window every
 * minute, quarter hours the 24h window after a day) the window is read twice
 * a minute, as its end moves on and half a minute later, and must show what
 * a fresh copy of it shows.
 */
START_TEST(test_window_kept_author_unions_follow_closes_and_slides)
{
	enum { TERMS = 70, MINUTES = 24 * 60 + 90, READ_FROM = 23 * 60 };
	struct window_config c = wincfg(30000, 4096);
	struct window *a = window_new(&c);
	int64_t t = T0;
	int compared = 0;
	uint32_t author = 1;
	char name[TERMS][8];
	for (int k = 0; k < TERMS; k++)
		snprintf(name[k], sizeof name[k], "t%c%c", 'a' + k / 26, 'a' + k % 26);
	for (int m = 0; m < MINUTES; m++) {
		for (int k = 0; k < TERMS; k++)
			if ((k + m) % 3) {
				/* twice: a count above the authors, which never exceed it */
				add1(a, t + 400 * k, name[k], author * 2654435761u);
				add1(a, t + 400 * k + 1, name[k], author++ * 2654435761u);
			}
		if (m >= READ_FROM) {
			window_advance(a, t + 30000);
			free(views_json_as(a, m % 2));
		}
		t += 60000;
		window_advance(a, t);
		if (m < READ_FROM)
			continue;
		if (m % 7 != 3) {
			free(views_json_as(a, m % 2));
			continue;
		}
		assert_views_as_fresh(a, &c, "minute", m);
		compared++;
	}
	ck_assert_int_eq(compared, 22);
	/* the unions and baseline sums built ahead of the moves were taken, and showed the same */
	struct window_stats st;
	window_get_stats(a, &st);
	ck_assert_uint_gt(st.unions_ahead, 6 * TERMS);
	ck_assert_uint_gt(st.sums_ahead, 6 * TERMS);
	check_invariants(a);
	window_free(a);
}
END_TEST

/*
 * A term's baseline - its authors over the hour, then the day, before the
 * window - is summed again whenever the window's end moves to the next
 * minute; views build those sums ahead over the minute before and take them
 * at the move. Here 40 terms have a number of authors that changes every
 * minute (1 to 13), so every baseline differs from the last and many terms
 * score above theirs; read three times a minute through the 25th and 26th
 * hours (minutes close half a minute late, between the reads), the views
 * must show, just after the moves, what a fresh copy of the window shows.
 */
START_TEST(test_window_baselines_built_ahead_match_those_summed_at_the_move)
{
	enum { TERMS = 40, MINUTES = 26 * 60, READ_FROM = 24 * 60 };
	struct window_config c = wincfg(30000, 4096);
	struct window *a = window_new(&c);
	int64_t t = T0;
	int compared = 0, scored = 0;
	uint32_t author = 1;
	char name[TERMS][8];
	for (int k = 0; k < TERMS; k++)
		snprintf(name[k], sizeof name[k], "b%c%c", 'a' + k / 26, 'a' + k % 26);
	for (int m = 0; m < MINUTES; m++) {
		for (int k = 0; k < TERMS; k++) {
			int n = 1 + (m * (k + 3) + k * k) % 13;
			for (int i = 0; i < n; i++)
				add1(a, t + 1000 * k + i, name[k], author++ * 2654435761u);
		}
		if (m >= READ_FROM) {
			window_advance(a, t + 45000);
			free(views_json_as(a, true));
		}
		t += 60000;
		window_advance(a, t);
		if (m < READ_FROM)
			continue;
		if (m % 5 != 2) {
			free(views_json_as(a, false));
			continue;
		}
		assert_views_as_fresh(a, &c, "minute", m);
		compared++;
	}
	ck_assert_int_eq(compared, 24);
	for (int k = 0; k < TERMS; k++) {
		struct window_term_info info;
		window_lookup(a, WINDOW_5M, TERM_WORD, name[k], strlen(name[k]), &info);
		scored += info.score > 0;
	}
	ck_assert_int_gt(scored, 3);
	struct window_stats st;
	window_get_stats(a, &st);
	ck_assert_uint_gt(st.sums_ahead, 100 * TERMS);
	check_invariants(a);
	window_free(a);
}
END_TEST

/*
 * A view reads its terms' series bucket by bucket - every entry of each
 * series bucket, looked up among the terms it shows - and their error
 * bounds from what the buckets without them miss; window_lookup() reads
 * the same term by term, probing every bucket. Both must agree on every
 * term of every view, through pruning (bounds above zero), late posts (open
 * buckets behind the watermark) and open minutes whose quarter is open.
 */
START_TEST(test_window_view_series_read_by_bucket_match_those_read_by_term)
{
	struct window_config c = wincfg(630000, 64);
	struct window *w = window_new(&c);
	int64_t t = T0;
	int terms = 0, bounded = 0;
	for (int step = 0; step < 48; step++) {
		feed_stream(w, t, 1000, 7000 + (uint64_t)step);
		t += 1000 * 150;
		window_advance(w, t);
		if (step % 8 != 7)
			continue;
		struct snapshot *s = snapshot_new();
		struct snapshot_view v[WINDOW_COUNT];
		memset(v, 0, sizeof v);
		ck_assert_int_eq(window_fill_views(w, s, v), 0);
		for (int win = 0; win < WINDOW_COUNT; win++) {
			ck_assert_uint_gt(v[win].ntrends, 0);
			for (uint32_t i = 0; i < v[win].ntrends; i++) {
				const struct trend *tr = &v[win].trends[i];
				struct window_term_info info;
				window_lookup(w, win, tr->kind, tr->term, tr->term_len, &info);
				ck_assert(info.found);
				ck_assert_uint_eq(info.count, tr->count);
				ck_assert_msg(info.error == tr->error, "%s %s: bound %u, by term %u",
					      window_name(win), tr->term, tr->error, info.error);
				ck_assert_msg(memcmp(info.series, tr->series,
						     v[win].series_points * sizeof *tr->series) == 0,
					      "%s %s: series differ", window_name(win), tr->term);
				terms++;
				bounded += tr->error > 0;
			}
		}
		snapshot_put(s);
	}
	ck_assert_int_gt(terms, 1000);
	ck_assert_int_gt(bounded, 100);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_restores_the_watermark_so_old_posts_stay_late)
{
	struct window *a = mkwin(60000, 4096);
	add1(a, T0 + 600000, "now", 1);
	size_t len;
	char *st = state_of(a, &len);
	struct window_config c;
	window_config_defaults(&c);
	c.lateness_ms = 60000;
	c.warmup_ms = 0;
	struct window *b = NULL;
	char err[256];
	ck_assert_int_eq(window_state_load(&b, &c, st, len, err, sizeof err), 0);
	ck_assert_int_eq(window_watermark_ms(b), window_watermark_ms(a));
	/* behind the restored watermark: late, as it would have been before */
	ck_assert_int_eq(add1(b, T0, "old", 2), WINDOW_LATE);
	ck_assert_int_eq(add1(b, T0 + 590000, "recent", 2), WINDOW_ADDED);
	ck_assert_uint_eq(count_of(b, WINDOW_5M, "now"), 1);
	free(st);
	window_free(a);
	window_free(b);
}
END_TEST

START_TEST(test_window_refuses_truncated_or_corrupt_state_with_a_reason)
{
	struct window_config c;
	window_config_defaults(&c);
	c.lateness_ms = 60000;
	c.top_m = 32;
	struct window *a = window_new(&c);
	feed_stream(a, T0, 3000, 3);
	size_t len;
	char *st = state_of(a, &len);
	char err[256];
	struct window *b = NULL;

	/* every truncation is refused */
	for (size_t cut = 0; cut < len; cut += 1 + cut / 50) {
		err[0] = 0;
		ck_assert_int_eq(window_state_load(&b, &c, st, cut, err, sizeof err), -EINVAL);
		ck_assert_ptr_null(b);
		ck_assert_msg(strlen(err) > 10, "no reason given for a cut at %zu", cut);
	}
	/* not a state at all */
	ck_assert_int_eq(window_state_load(&b, &c, "hello, world", 12, err, sizeof err), -EINVAL);
	ck_assert(strstr(err, "not a window state"));
	/* any flipped bit is refused (the state carries a hash of itself) */
	uint64_t flip = 99; /* its own generator: feed_stream reseeds rnd() */
	int refused = 0;
	for (int i = 0; i < 400; i++) {
		char *bad = malloc(len);
		memcpy(bad, st, len);
		flip = flip * 6364136223846793005ull + 1442695040888963407ull;
		size_t at = (size_t)(flip >> 33) % len;
		bad[at] ^= (char)(1u << ((flip >> 20) % 8));
		int rc = window_state_load(&b, &c, bad, len, err, sizeof err);
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_ptr_null(b);
		ck_assert_msg(strstr(err, "damaged") || strstr(err, "not a window state"), "%s", err);
		refused++;
		free(bad);
	}
	ck_assert_int_eq(refused, 400);
	/*
	 * Damage that keeps a valid hash (the checks behind it): refused, or
	 * accepted consistent; either way nothing crashes, then or when fed.
	 */
	int accepted = 0;
	refused = 0;
	for (int i = 0; i < 400; i++) {
		char *bad = malloc(len);
		memcpy(bad, st, len);
		flip = flip * 6364136223846793005ull + 1442695040888963407ull;
		size_t at = 4 + (size_t)(flip >> 33) % (len - 12);
		bad[at] ^= (char)(1u << ((flip >> 20) % 8));
		uint64_t h = hash_bytes(bad, len - 8);
		memcpy(bad + len - 8, &h, 8);
		if (window_state_load(&b, &c, bad, len, err, sizeof err) == 0) {
			check_invariants(b);
			feed_stream(b, T0 + 3000 * 150, 200, 5);
			window_advance(b, T0 + 3000 * 150 + 7200000);
			window_free(b);
			b = NULL;
			accepted++;
		} else {
			ck_assert_msg(strlen(err) > 10, "no reason given");
			refused++;
		}
		free(bad);
	}
	ck_assert_int_eq(accepted + refused, 400);
	ck_assert_int_gt(refused, 100);
	/* a state that needs more ring slots than a smaller lateness gives */
	struct window_config small = c;
	small.lateness_ms = 0;
	struct window *wide = mkwin(3000000, 4096);
	for (int i = 0; i < 1000; i++) /* 1000 open seconds: more than 512 slots */
		add1(wide, T0 + i * 2900, "spread", 1);
	free(st);
	st = state_of(wide, &len);
	ck_assert_int_eq(window_state_load(&b, &small, st, len, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "lateness"), "%s", err);
	free(st);
	window_free(wide);
	window_free(a);
}
END_TEST


/*
 * A state saved before open minutes kept a log of author adds, in the
 * format before term segments (TWS4, with the terms' totals; see
 * tests/fixtures/window/ORIGIN.md): it loads, its totals as saved, and the
 * window then renders the views and emits the closed minutes that the code
 * that saved it did, author estimates included. Saved again it is TWS5,
 * which loads and saves to the same bytes.
 */
START_TEST(test_window_loads_a_state_saved_before_author_logs_and_continues_the_same)
{
	struct window_config c = wincfg(120000, 64);
	size_t len, vlen, mlen;
	char *st = tu_read_fixture("window/state-v4.bin", &len);
	char *want_views = tu_read_fixture("window/state-v4.views.json", &vlen);
	char *want_minutes = tu_read_fixture("window/state-v4.minutes.txt", &mlen);
	char err[256] = "";
	struct window *w = NULL;
	ck_assert_msg(window_state_load(&w, &c, st, len, err, sizeof err) == 0, "%s", err);
	check_invariants(w);
	size_t len5;
	char *st5 = state_of(w, &len5);
	ck_assert_uint_lt(len5, len); /* without the totals */
	ck_assert_uint_eq(st5[0], 'T');
	ck_assert_uint_eq(st5[3], '5');
	window_free(load_same_bytes(&c, st5, len5));
	free(st5);

	struct minute_log lg = { STRBUF_INIT };
	window_set_minute_sink(w, log_minute, &lg);
	int64_t now = T0 + 30000 * 150;
	window_advance(w, now);
	char *views = views_json(w);
	ck_assert_uint_eq(strlen(views), vlen);
	ck_assert_str_eq(views, want_views);
	feed_stream(w, now, 10000, 7);
	window_advance(w, now + 10000 * 150 + 600000);
	ck_assert_uint_gt(mlen, 1000);
	ck_assert_str_eq(lg.sb.buf, want_minutes);
	check_invariants(w);
	free(views);
	free(st);
	free(want_views);
	free(want_minutes);
	sb_free(&lg.sb);
	window_free(w);
}
END_TEST

/*
 * An open minute takes its author adds into a log that is applied to the
 * sets in batches (when it fills, and before anything reads the sets). Fed
 * more adds than the log holds, with reads, a save and a restore in
 * between, every set must hold exactly the authors it was given: inline,
 * sparse and group-column sets alike.
 */
START_TEST(test_window_author_sets_are_exact_across_log_batches_reads_and_saves)
{
	/* past the read, 60,000 posts log 5 adds each: more than a full log */
	enum { POSTS = 90000, FILLER = 2000 };
	struct window *w = mkwin(60000, 4096);
	char names[8][16];
	struct token tk[8];
	rng_state = 17;
	for (int i = 0; i < POSTS; i++) {
		/* "few": 3 authors; "mid": 700; "many": 6000 (a column); the
		 * fillers spread adds over many small sets */
		uint32_t a = (uint32_t)(rnd() % 6000) + 1;
		size_t nt = 0;
		tk[nt++] = (struct token){ "many", 4, TERM_WORD };
		if (i % 10 == 0)
			tk[nt++] = (struct token){ "mid", 3, TERM_WORD };
		for (int f = 0; f < 5; f++) {
			int l = snprintf(names[nt], sizeof names[nt], "f%u",
					 (unsigned)(rnd() % FILLER));
			tk[nt] = (struct token){ names[nt], (uint16_t)l, TERM_WORD };
			nt++;
		}
		uint32_t author = a;
		if (i % 10 == 0)
			author = (uint32_t)(i / 10) % 700 + 1; /* mid sees authors 1..700 */
		if (i % 1000 == 5) {
			tk[nt++] = (struct token){ "few", 3, TERM_WORD };
			author = (uint32_t)(i / 1000) % 3 + 1;
		}
		struct window_post p = { T0 + 1000 + i / 1000, author * 2654435761u + 1, 0.1f, tk,
					 nt };
		ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
		if (i == POSTS / 3) {
			/* a read in the middle applies what is pending */
			ck_assert_uint_eq(authors_of(w, WINDOW_1H, "few"), 3);
			check_invariants(w);
		}
	}
	ck_assert_uint_eq(authors_of(w, WINDOW_1H, "few"), 3);
	ck_assert_uint_eq(authors_of(w, WINDOW_5M, "mid"), 700);
	double err = fabs(authors_of(w, WINDOW_1H, "many") - 6000.0) / 6000.0;
	ck_assert_msg(err <= 0.02, "open minute: error %.4f", err);
	check_invariants(w);

	/* more adds after the read, then a save with them pending */
	for (uint32_t a = 701; a <= 720; a++)
		add1(w, T0 + 59000, "mid", a * 2654435761u + 1);
	size_t len;
	char *st = state_of(w, &len);
	char why[256] = "";
	struct window *b = NULL;
	struct window_config c = wincfg(60000, 4096);
	ck_assert_msg(window_state_load(&b, &c, st, len, why, sizeof why) == 0, "%s", why);
	check_invariants(b);
	struct window *both[2] = { w, b };
	for (int k = 0; k < 2; k++) {
		ck_assert_uint_eq(authors_of(both[k], WINDOW_1H, "mid"), 720);
		ck_assert_uint_eq(authors_of(both[k], WINDOW_1H, "few"), 3);
		ck_assert_uint_eq(authors_of(both[k], WINDOW_1H, "many"),
				  authors_of(w, WINDOW_1H, "many"));
		/* closed: the history estimates are the same sets' counts */
		window_advance(both[k], T0 + 125000);
		ck_assert_uint_eq(authors_of(both[k], WINDOW_1H, "mid"), 720);
		ck_assert_uint_eq(authors_of(both[k], WINDOW_24H, "few"), 3);
		check_invariants(both[k]);
	}
	err = fabs(authors_of(b, WINDOW_24H, "many") - 6000.0) / 6000.0;
	ck_assert_msg(err <= 0.02, "closed minute: error %.4f", err);
	free(st);
	window_free(w);
	window_free(b);
}
END_TEST

START_TEST(test_window_author_sets_are_right_with_a_group_table_of_megabytes)
{
	/*
	 * 100 terms in every post of one minute, 1,500 authors: each set goes
	 * dense and takes a column, so the minute's group table widens to 128
	 * columns (2 MiB, a mapping of its own). Read, saved with adds pending,
	 * loaded (the loaded table is made the same way) and closed.
	 */
	enum { TERMS = 100, AUTHORS = 1500 };
	struct window *w = mkwin(60000, 4096);
	char names[TERMS][8];
	struct token tk[TERMS];
	for (int u = 0; u < TERMS; u++) {
		int l = snprintf(names[u], sizeof names[u], "d%d", u);
		tk[u] = (struct token){ names[u], (uint16_t)l, TERM_WORD };
	}
	for (uint32_t a = 0; a < AUTHORS; a++) {
		struct window_post p = { T0 + 1000 + a * 10, (a + 1) * 2654435761u, 0.1f, tk,
					 TERMS };
		ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	}
	uint32_t got[TERMS];
	for (int u = 0; u < TERMS; u++) {
		got[u] = authors_of(w, WINDOW_1H, names[u]);
		double err = fabs(got[u] - (double)AUTHORS) / AUTHORS;
		ck_assert_msg(err <= 0.02, "%s: %u authors", names[u], got[u]);
		ck_assert_uint_eq(count_of(w, WINDOW_1H, names[u]), AUTHORS);
	}
	check_invariants(w);
	add1(w, T0 + 20000, "d7", 4242); /* pending at the save */
	size_t len;
	char *st = state_of(w, &len);
	struct window_config c = wincfg(60000, 4096);
	struct window *b = load_same_bytes(&c, st, len);
	for (int u = 0; u < TERMS; u++)
		ck_assert_uint_eq(authors_of(b, WINDOW_1H, names[u]),
				  authors_of(w, WINDOW_1H, names[u]));
	struct window *both[2] = { w, b };
	for (int k = 0; k < 2; k++) {
		add1(both[k], T0 + 21000, "d8", 4343);
		window_advance(both[k], T0 + 125000);
		check_invariants(both[k]);
	}
	for (int u = 0; u < TERMS; u++) {
		ck_assert_uint_eq(authors_of(w, WINDOW_24H, names[u]),
				  authors_of(b, WINDOW_24H, names[u]));
		double err = fabs(authors_of(b, WINDOW_24H, names[u]) - (double)AUTHORS) / AUTHORS;
		ck_assert_msg(err <= 0.02, "closed %s", names[u]);
	}
	free(st);
	window_free(w);
	window_free(b);
}
END_TEST

static int open_log(void *ctx, int64_t minute_ms, const struct window_minute_row *rows, size_t n,
		    const struct window_minute_volume *v)
{
	struct minute_log *l = ctx;
	for (size_t i = 0; i < n; i++)
		sb_printf(&l->sb, "%lld %d %.*s %u %u %u %u\n", (long long)minute_ms, rows[i].kind,
			  (int)rows[i].term_len, rows[i].term, rows[i].count, rows[i].authors,
			  rows[i].pos, rows[i].neg);
	sb_printf(&l->sb, "%lld volume %llu\n", (long long)minute_ms, (unsigned long long)v->posts);
	return 0;
}

START_TEST(test_window_author_sets_are_exact_in_a_minute_of_more_than_65536_terms)
{
	/*
	 * 70,000 terms in one minute, each in two posts by two authors, a
	 * third author for every 7th: an open minute's log is applied by
	 * entry index, which past 65,536 entries takes more than one sort pass.
	 */
	enum { TERMS = 70000, PER_POST = 8 };
	struct window *w = mkwin(60000, 2 * TERMS); /* closing prunes none */
	static char names[TERMS][8];
	struct token tk[PER_POST];
	for (int u = 0; u < TERMS; u++)
		snprintf(names[u], sizeof names[u], "g%d", u);
	for (int r = 0; r < 3; r++) {
		for (int j = 0; j < TERMS / PER_POST; j++) {
			size_t nt = 0;
			for (int q = 0; q < PER_POST; q++) {
				int u = j * PER_POST + q;
				if (r < 2 || u % 7 == 0)
					tk[nt++] = (struct token){ names[u], (uint16_t)strlen(names[u]),
								   TERM_WORD };
			}
			uint32_t author = ((uint32_t)j * 3 + (uint32_t)r + 1) * 2654435761u;
			struct window_post p = { T0 + 1000 + r * 1000 + j / 1000, author, 0.1f, tk,
						 nt };
			ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
		}
	}
	for (int u = 0; u < TERMS; u += 997) {
		ck_assert_uint_eq(count_of(w, WINDOW_1H, names[u]), u % 7 == 0 ? 3 : 2);
		ck_assert_uint_eq(authors_of(w, WINDOW_1H, names[u]), u % 7 == 0 ? 3 : 2);
	}
	check_invariants(w);
	/* closed: every term's minute row carries its exact author count */
	window_advance(w, T0 + 125000);
	for (int u = 1; u < TERMS; u += 1009)
		ck_assert_uint_eq(authors_of(w, WINDOW_24H, names[u]), u % 7 == 0 ? 3 : 2);
	check_invariants(w);
	window_free(w);
}
END_TEST

/*
 * A flush applies each entry's run of adds while it loads the set of the
 * next entry that has any, skipping the entries without. Terms that take
 * adds only in some batches (and reads in between that apply short logs)
 * must each end with exactly the authors they were given.
 */
START_TEST(test_window_author_sets_are_exact_when_batches_skip_entries)
{
	enum { TERMS = 1200, POSTS = 150000, PER_POST = 4, AUTHORS = 1000 };
	struct window *w = mkwin(60000, 2 * TERMS);
	static char names[TERMS][8];
	static bool seen[TERMS][AUTHORS];
	uint32_t truth[TERMS] = { 0 };
	struct token tk[PER_POST];
	for (int u = 0; u < TERMS; u++)
		snprintf(names[u], sizeof names[u], "s%d", u);
	rng_state = 29;
	for (int i = 0; i < POSTS; i++) {
		/* alternating halves of the terms, and the last 200 only early on */
		int half = (i / 20000) % 2;
		uint32_t a = (uint32_t)(rnd() % AUTHORS);
		for (int q = 0; q < PER_POST; q++) {
			/* distinct terms within a post: q picks a quarter of the half */
			int u = i < 3000 && q == 0 ? 1000 + (int)(rnd() % 200)
						   : half * 500 + q * 125 + (int)(rnd() % 125);
			tk[q] = (struct token){ names[u], (uint16_t)strlen(names[u]), TERM_WORD };
			if (!seen[u][a]) {
				seen[u][a] = true;
				truth[u]++;
			}
		}
		struct window_post p = { T0 + 1000 + i / 3000, a * 2654435761u + 7, 0.1f, tk,
					 PER_POST };
		ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
		if (i % 9000 == 4500) /* a read applies a short log: most entries have no run */
			ck_assert_uint_eq(authors_of(w, WINDOW_1H, names[i % 1000]), truth[i % 1000]);
	}
	for (int u = 0; u < TERMS; u++)
		ck_assert_msg(authors_of(w, WINDOW_1H, names[u]) == truth[u], "%s: %u authors, not %u",
			      names[u], authors_of(w, WINDOW_1H, names[u]), truth[u]);
	check_invariants(w);
	window_free(w);
}
END_TEST

START_TEST(test_window_lists_open_minutes_with_rows_and_volume)
{
	struct window *w = mkwin(120000, 4096);
	struct minute_log l = { STRBUF_INIT };
	add1(w, T0 + 1000, "alpha", 1);
	add1(w, T0 + 2000, "alpha", 2);
	add1(w, T0 + 61000, "beta", 3);
	add1(w, T0 + 62000, "alpha", 3);
	ck_assert_int_eq(window_open_minutes(w, T0, T0 + 120000, 0, NULL, 0, open_log, &l), 0);
	ck_assert_str_eq(l.sb.buf, "1795608000000 0 alpha 2 2 2 0\n"
				   "1795608000000 volume 2\n"
				   "1795608060000 0 beta 1 1 1 0\n"
				   "1795608060000 0 alpha 1 1 1 0\n"
				   "1795608060000 volume 2\n");
	sb_reset(&l.sb);
	ck_assert_int_eq(window_open_minutes(w, T0 + 60000, T0 + 120000, TERM_WORD, "alpha", 5,
					     open_log, &l), 0);
	ck_assert_str_eq(l.sb.buf, "1795608060000 0 alpha 1 1 1 0\n1795608060000 volume 2\n");
	sb_reset(&l.sb);
	/* closed minutes are no longer open */
	window_advance(w, T0 + 180000);
	ck_assert_int_eq(window_open_minutes(w, T0, T0 + 120000, 0, NULL, 0, open_log, &l), 0);
	ck_assert_str_eq(l.sb.buf, "1795608060000 0 beta 1 1 1 0\n"
				   "1795608060000 0 alpha 1 1 1 0\n"
				   "1795608060000 volume 2\n");
	sb_free(&l.sb);
	window_free(w);
}
END_TEST

/*
 * Each reader right after a post that brought new terms: stats, a lookup, the
 * open minutes, a view, a save (restored, it holds the post), the check, and
 * a tick that closes the post's minute (its row reaches the sink). Each
 * reader must see the last post counted, however the counting is staged.
 */
START_TEST(test_window_every_reader_sees_the_post_added_last)
{
	struct window *w = mkwin(0, 4096);
	char name[40];
	struct window_stats st;
	struct minute_log l = { STRBUF_INIT };
	for (int i = 1; i <= 40; i++) {
		/* a new term of a length class that changes with i, next to a common one */
		snprintf(name, sizeof name, "%.*s%d", i % 24, "abcdefghijklmnopqrstuvwx", i);
		struct token tk[2] = { { "common", 6, TERM_WORD },
				       { name, (uint16_t)strlen(name), TERM_HASHTAG } };
		struct window_post p = { T0 + i * 10, (uint32_t)i, 0.5f, tk, 2 };
		ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
		switch (i % 5) {
		case 0:
			window_get_stats(w, &st);
			ck_assert_uint_eq(st.terms, (uint64_t)i + 1);
			ck_assert_uint_eq(st.entries, 2 * ((uint64_t)i + 1));
			break;
		case 1: {
			struct window_term_info info;
			window_lookup(w, WINDOW_5M, TERM_HASHTAG, name, strlen(name), &info);
			ck_assert(info.found && info.count == 1 && info.authors == 1);
			break;
		}
		case 2:
			sb_reset(&l.sb);
			ck_assert_int_eq(window_open_minutes(w, T0, T0 + 60000, TERM_HASHTAG, name,
							     strlen(name), open_log, &l), 0);
			snprintf(name + strlen(name), sizeof name - strlen(name), " 1 1 1 0\n");
			ck_assert_ptr_nonnull(strstr(l.sb.buf, name));
			break;
		case 3: {
			char *views = views_json(w);
			ck_assert_ptr_nonnull(strstr(views, name));
			free(views);
			size_t len;
			char *st1 = state_of(w, &len), err[256];
			struct window *r = NULL;
			struct window_config c;
			window_config_defaults(&c);
			c.lateness_ms = 0;
			c.warmup_ms = 0;
			ck_assert_msg(window_state_load(&r, &c, st1, len, err, sizeof err) == 0,
				      "%s", err);
			ck_assert_uint_eq(count_of(r, WINDOW_1H, "common"), (uint32_t)i);
			window_free(r);
			free(st1);
			break;
		}
		default:
			check_invariants(w);
			break;
		}
	}
	ck_assert_uint_eq(count_of(w, WINDOW_24H, "common"), 40);
	/* the last post's minute closes on the tick: its rows hold the last post */
	sb_reset(&l.sb);
	window_set_minute_sink(w, log_minute, &l);
	window_advance(w, T0 + 60000 + 1000);
	ck_assert_ptr_nonnull(strstr(l.sb.buf, " 0 common 40 40 40 0 "));
	ck_assert_ptr_nonnull(strstr(l.sb.buf, " 1 abcdefghijklmnop40 1 1 1 0 "));
	sb_free(&l.sb);
	window_free(w);
}
END_TEST

/* Posts in window win, as the dashboard's volume shows them. */
static uint64_t posts_in(struct window *w, int win)
{
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v = snapshot_alloc(s, sizeof *v);
	ck_assert_int_eq(window_fill_view(w, win, s, v), 0);
	uint64_t n = v->posts;
	snapshot_put(s);
	return n;
}

/* A window of c with 100 posts of "coffee" over 70 s from T0: a closed minute and an open one. */
static struct window *coffee_minutes(const struct window_config *c)
{
	struct window *w = window_new(c);
	for (int i = 0; i < 100; i++)
		add1(w, T0 + i * 700, "coffee", (uint32_t)i);
	return w;
}

/*
 * Event time that moves on by a day or more while a minute is still open -
 * a restart after a day's downtime, a clock set forward - closes that minute
 * into a quarter hour already outside the 24h window. Its counts and posts
 * must leave the 24h totals with it, not stay there for as long as the term
 * lives; the same whether a tick or the next post moves the window.
 */
START_TEST(test_window_event_time_jumping_a_day_or_more_leaves_no_counts_behind)
{
	static const int64_t hours[] = { 1, 23, 25, 36, 47, 49, 100 };
	for (size_t j = 0; j < sizeof hours / sizeof *hours; j++) {
		for (int by_post = 0; by_post < 2; by_post++) {
			struct window_config c = wincfg(60000, 4096);
			struct window *w = coffee_minutes(&c);
			int64_t t = T0 + 70000 + hours[j] * 3600000;
			if (by_post)
				add1(w, t, "tea", 1000);
			else
				window_advance(w, t);
			check_invariants(w);
			uint32_t before = hours[j] < 24 ? 100 : 0;
			ck_assert_msg(count_of(w, WINDOW_24H, "coffee") == before,
				      "%lld h on: coffee %u in 24h", (long long)hours[j],
				      count_of(w, WINDOW_24H, "coffee"));
			ck_assert_uint_eq(posts_in(w, WINDOW_24H), before + (uint64_t)by_post);
			/* the term goes on; its 24h count is what is left plus what came */
			for (int i = 0; i < 10; i++)
				add1(w, t + 1000 + i * 1000, "coffee", 2000 + (uint32_t)i);
			window_advance(w, t + 200000);
			check_invariants(w);
			ck_assert_uint_eq(count_of(w, WINDOW_24H, "coffee"), before + 10);
			ck_assert_uint_eq(posts_in(w, WINDOW_24H), before + (uint64_t)by_post + 10);
			window_free(w);
		}
	}
}
END_TEST

/* The same through a restart: saved with a minute open, started again 36 h later. */
START_TEST(test_window_restored_after_a_day_and_a_half_counts_only_what_is_in_the_window)
{
	struct window_config c = wincfg(60000, 4096);
	struct window *a = coffee_minutes(&c);
	size_t len;
	char *st = state_of(a, &len);
	struct window *b = load_same_bytes(&c, st, len);
	window_advance(b, T0 + 70000 + 36 * 3600000LL);
	check_invariants(b);
	ck_assert_uint_eq(count_of(b, WINDOW_24H, "coffee"), 0);
	ck_assert_uint_eq(posts_in(b, WINDOW_24H), 0);
	add1(b, T0 + 71000 + 36 * 3600000LL, "coffee", 7);
	ck_assert_uint_eq(count_of(b, WINDOW_24H, "coffee"), 1);
	check_invariants(b);
	free(st);
	window_free(a);
	window_free(b);
}
END_TEST

/*
 * A state whose end does not match its buckets - moved after them by days,
 * or before them - is not one a window saves; with a valid hash it is still
 * refused, with a reason, rather than counted on with buckets the window
 * would never have kept.
 */
START_TEST(test_window_refuses_state_whose_end_does_not_match_its_buckets)
{
	struct window_config c = wincfg(60000, 4096);
	struct window *a = coffee_minutes(&c);
	size_t len;
	char *st = state_of(a, &len);
	static const int64_t moves[] = { 10LL * 86400000, 3600000, -3600000, -1000 };
	for (size_t i = 0; i < sizeof moves / sizeof *moves; i++) {
		char *bad = malloc(len);
		memcpy(bad, st, len);
		int64_t end;
		memcpy(&end, bad + 4, sizeof end); /* after the 4-byte magic */
		ck_assert_int_eq(end, window_end_ms(a));
		end += moves[i];
		memcpy(bad + 4, &end, sizeof end);
		uint64_t h = hash_bytes(bad, len - 8);
		memcpy(bad + len - 8, &h, 8);
		struct window *b = NULL;
		char err[256] = "";
		ck_assert_int_eq(window_state_load(&b, &c, bad, len, err, sizeof err), -EINVAL);
		ck_assert_ptr_null(b);
		ck_assert_msg(strstr(err, "misplaced"), "%s", err);
		free(bad);
	}
	free(st);
	window_free(a);
}
END_TEST

/*
 * Random streams through windows of random lateness and top m: posts in and
 * out of order (up to twice the lateness behind), ticks, jumps of an hour to
 * three days (by a tick or by the next post), and saves restored in place;
 * the invariants hold throughout, and the views, read often (which keeps
 * and builds ahead author unions), show what a fresh copy of the window
 * shows.
 */
/* Takes the segments of an incremental save into st, as the writer does; empties segs. */
static size_t seg_store_commit(struct segs *st, struct window_segments *segs)
{
	ck_assert(!segs->out.failed && !segs->refs.failed);
	ssize_t added = segs_commit(st, segs->out.buf, segs->out.len,
				    (const uint64_t *)(const void *)segs->refs.buf,
				    segs->refs.len / sizeof(uint64_t));
	ck_assert_int_eq(added, (ssize_t)segs->added);
	sb_reset(&segs->out);
	sb_reset(&segs->refs);
	segs->added = 0;
	return (size_t)added;
}

/*
 * Saves w incrementally into st and loads it back from there: the copy must
 * save whole to the very bytes w does. Returns the copy; *added the segments
 * the save added.
 */
static struct window *load_via_segments(struct window *w, const struct window_config *c,
					struct segs *st, struct window_segments *segs,
					size_t *added)
{
	struct strbuf sb = STRBUF_INIT;
	char err[256] = "";
	window_state_save_segments(w, &sb, segs);
	ck_assert(!sb.failed);
	size_t n = seg_store_commit(st, segs);
	if (added)
		*added = n;
	struct window *r = NULL;
	ck_assert_msg(window_state_load_segments(&r, c, sb.buf, sb.len, segs_lookup, st, err,
						 sizeof err) == 0,
		      "%s", err);
	check_invariants(r);
	size_t la, lb;
	char *a = state_of(w, &la), *b = state_of(r, &lb);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(a, b, la) == 0);
	free(a);
	free(b);
	sb_free(&sb);
	return r;
}

START_TEST(test_window_invariants_hold_through_random_streams_with_jumps_and_restores)
{
	static const char *const terms[] = { "a1", "b2", "c3", "d4", "e5", "f6",
					     "g7", "h8", "i9", "j10", "k11", "l12" };
	static const int64_t jumps[] = { 3600000, 86400000, 90000000, 130000000, 172800000,
					 260000000 };
	/* up to the most allowed: late seconds open outside the 5m window */
	static const int64_t lateness[] = { 0, 20000, 60000, 600000, 3000000 };
	rng_state = 0x5eed;
	for (int run = 0; run < 40; run++) {
		struct window_config c = wincfg(lateness[rnd() % 5] + (int64_t)(rnd() % 2) * 777,
						(uint32_t)(16 + rnd() % 3 * 16));
		struct window *w = window_new(&c);
		/* incremental saves too: every body apart in some runs, the large ones in others */
		struct segs store = { 0 };
		struct window_segments segs = { .next_id = 1, .min_bytes = run % 2 ? 1 : 64 };
		int64_t t = T0 + (int64_t)(rnd() % 1000000);
		for (int step = 0; step < 1500; step++) {
			unsigned op = (unsigned)(rnd() % 100);
			if (op < 85) {
				struct token tk[4];
				size_t n = 1 + rnd() % 4;
				for (size_t i = 0; i < n; i++) {
					const char *x = terms[rnd() % 12];
					tk[i] = (struct token){ x, (uint16_t)strlen(x), TERM_WORD };
				}
				int64_t behind = (int64_t)(rnd() % (uint64_t)(c.lateness_ms * 2 + 1000));
				int64_t at = rnd() % 3 == 0 ? t - behind : t;
				struct window_post p = { at, (uint32_t)(rnd() % 300),
							 (float)((int)(rnd() % 200) - 100) / 100.0f, tk, n };
				window_add_post(w, &p);
				t += (int64_t)(rnd() % 3000);
			} else if (op < 93) {
				t += (int64_t)(rnd() % 600000);
				window_advance(w, t);
			} else if (op < 96) {
				t += jumps[rnd() % 6] + (int64_t)(rnd() % 1000000) - 500000;
				if (rnd() % 2)
					window_advance(w, t);
			} else if (op < 98 && rnd() % 2) {
				size_t len;
				char *st = state_of(w, &len);
				window_free(w);
				w = load_same_bytes(&c, st, len);
				free(st);
			} else if (op < 98) {
				/* restored from segments, and their ids, as after a restart */
				struct window *r = load_via_segments(w, &c, &store, &segs, NULL);
				window_free(w);
				w = r;
			}
			if (step % 25 == 0)
				window_free(load_via_segments(w, &c, &store, &segs, NULL));
			if (step % 10 == 0)
				check_invariants(w);
			/* read as the engine does, which fills the caches; then as a fresh copy */
			if (step % 7 == 0)
				free(views_json_as(w, step % 2));
			if (step % 50 == 49)
				assert_views_as_fresh(w, &c, "step", step);
		}
		check_invariants(w);
		window_free(w);
		segs_free(&store);
		sb_free(&segs.out);
		sb_free(&segs.refs);
	}
}
END_TEST

/*
 * An incremental save writes a closed bucket once: saved again unchanged,
 * it adds no segment; a late minute rolled into its closed quarter hour
 * writes that quarter again, and only it. Forgotten segments are all
 * written again; a missing or damaged one refuses the state with a reason.
 */
/*
 * The state in sb, saved over the segments in st, is refused with a reason
 * when segment i is damaged, and when it is gone; st is left as it was.
 */
static void assert_refused_without_segment(const struct window_config *c, const struct strbuf *sb,
					   struct segs *st, size_t i)
{
	char err[256];
	struct window *r = NULL;
	ck_assert_uint_lt(i, st->n);
	st->v[i].bytes[st->v[i].len / 2] ^= 1;
	ck_assert_int_eq(window_state_load_segments(&r, c, sb->buf, sb->len, segs_lookup, st, err,
						    sizeof err),
			 -EINVAL);
	ck_assert_msg(strstr(err, "segment checksum mismatch"), "%s", err);
	st->v[i].bytes[st->v[i].len / 2] ^= 1;
	struct seg gone = st->v[i];
	memmove(&st->v[i], &st->v[i + 1], (st->n - i - 1) * sizeof *st->v);
	st->n--;
	ck_assert_int_eq(window_state_load_segments(&r, c, sb->buf, sb->len, segs_lookup, st, err,
						    sizeof err),
			 -EINVAL);
	ck_assert_msg(strstr(err, "names a segment that is missing"), "%s", err);
	ck_assert_ptr_null(r);
	memmove(&st->v[i + 1], &st->v[i], (st->n - i) * sizeof *st->v);
	st->v[i] = gone;
	st->n++;
}

/* Frees what a test of incremental saves used. */
static void segs_test_free(struct strbuf *sb, struct segs *st, struct window_segments *segs,
			   struct window *w)
{
	sb_free(sb);
	segs_free(st);
	sb_free(&segs->out);
	sb_free(&segs->refs);
	window_free(w);
}

START_TEST(test_window_saves_closed_buckets_once_in_segments)
{
	struct window_config c = wincfg(60000, 4096);
	struct window *w = window_new(&c);
	struct segs st = { 0 };
	struct window_segments segs = { .next_id = 1 };
	size_t added, again;
	window_advance(w, T0); /* the stream's first post is from the future */
	feed_stream(w, T0, 20000, 42); /* 50 minutes */
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_gt(added, 40); /* the closed minutes and quarter hours, and seconds */
	size_t stored = st.n;
	window_free(load_via_segments(w, &c, &st, &segs, &again));
	ck_assert_uint_eq(again, 0);
	ck_assert_uint_eq(st.n, stored);

	/*
	 * Posts into the open second and minute: a new term's record is
	 * written; then nothing - the open quarter hour, in a segment, changes
	 * only when a minute rolls up into it.
	 */
	int64_t end = window_end_ms(w);
	add1(w, end, "quarterly", 1);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_eq(added, 1);
	add1(w, end, "quarterly", 2);
	add1(w, end - 500, "quarterly", 3);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_eq(added, 0);
	stored = st.n;

	/*
	 * A minute later one more minute has closed and rolled up into the
	 * quarter hour (seconds are too small for a segment): both are written.
	 */
	window_advance(w, T0 + 3000000 + 60000);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_ge(added, 2);
	ck_assert_uint_le(added, 4);
	ck_assert_uint_lt(st.n, stored + added); /* the quarter's last segment went */

	/*
	 * A day on, the first quarter hours are baseline: their sketches are
	 * gone, which changes what they save, and they are written again (the
	 * copy saves to the same bytes only if they are).
	 */
	window_advance(w, T0 + 86400000 + 1800000);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_ge(added, 2);
	window_free(load_via_segments(w, &c, &st, &segs, &again));
	ck_assert_uint_eq(again, 0);
	stored = st.n;

	window_forget_segments(w);
	struct window *r = NULL;
	struct strbuf sb = STRBUF_INIT;
	window_state_save_segments(w, &sb, &segs);
	ck_assert_uint_eq(segs.added, stored > 0 ? segs.refs.len / 8 : 0);
	seg_store_commit(&st, &segs);

	char err[256];
	ck_assert_uint_gt(st.n, 1);
	assert_refused_without_segment(&c, &sb, &st, st.n / 2);
	ck_assert_int_eq(window_state_load(&r, &c, sb.buf, sb.len, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "names a segment that is missing"));
	segs_test_free(&sb, &st, &segs, w);
}
END_TEST

/*
 * An inline author set holds distinct hashes, none of them 0: one that holds
 * a hash twice (tests/fixtures/window/ORIGIN.md) is refused, not loaded to
 * fail later when the set grows or its minute closes.
 */
START_TEST(test_window_refuses_an_inline_author_set_with_a_hash_twice)
{
	struct window_config c = wincfg(60000, 32);
	size_t len;
	char *st = tu_read_fixture("window/state-inline-twice.bin", &len);
	ck_assert_uint_gt(len, 8);
	uint64_t h = hash_bytes(st, len - 8);
	memcpy(st + len - 8, &h, 8);
	char err[256] = "";
	struct window *w = NULL;
	ck_assert_int_eq(window_state_load(&w, &c, st, len, err, sizeof err), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_msg(strstr(err, "bad inline author set"), "%s", err);
	free(st);
}
END_TEST

/* Whether a stored segment holds the bytes of s (a term record holds its term's). */
static bool stored_holds(const struct segs *st, const char *s)
{
	for (size_t i = 0; i < st->n; i++)
		if (memmem(st->v[i].bytes, st->v[i].len, s, strlen(s)))
			return true;
	return false;
}

/*
 * A term's record is written once, into a segment, and named by every
 * later state: a save writes the records of the terms born since the last
 * one (joined by a small segment's), nothing when none were, and writes a
 * segment's live records again once most of its terms have died. Loaded
 * back, later records of an id win and records of free ids are skipped.
 */
START_TEST(test_window_saves_term_records_once_in_segments)
{
	struct window_config c = wincfg(60000, 64);
	struct window *w = window_new(&c);
	struct segs st = { 0 };
	struct window_segments segs = { .next_id = 1 };
	size_t added;
	char name[16];
	window_advance(w, T0);
	for (uint32_t i = 0; i < 70000; i++) { /* all in the first second */
		snprintf(name, sizeof name, "t%u", i);
		add1(w, T0 + i % 1000, name, i + 1);
	}
	for (uint32_t i = 0; i < 10; i++) /* in every top 64 */
		add1(w, T0 + i, "kept", i + 1);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	/* the records, 65,536 to a segment; open buckets stay in the state */
	ck_assert_uint_eq(added, 2);
	ck_assert(stored_holds(&st, "t69999"));
	size_t big0 = st.v[0].len, big1 = st.v[1].len;
	ck_assert_uint_gt(big0, 10 * big1);

	add1(w, T0 + 1000, "fresh", 1);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_eq(added, 1);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_uint_lt(st.v[2].len, 24); /* one record: the 70,000 are not written again */
	ck_assert(stored_holds(&st, "fresh"));

	/* the small segment is written again with the next new record, and goes */
	add1(w, T0 + 1001, "fresher", 2);
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_eq(added, 1);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_uint_eq(st.v[0].len, big0);
	ck_assert_uint_eq(st.v[1].len, big1);
	ck_assert_ptr_nonnull(memmem(st.v[2].bytes, st.v[2].len, "fresh", 5));
	ck_assert_ptr_nonnull(memmem(st.v[2].bytes, st.v[2].len, "fresher", 7));
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_eq(added, 0); /* nothing new */

	/*
	 * Twenty minutes on, the second, minute and quarter hour holding the
	 * 70,000 have closed and kept their top 64: the rest died, and their
	 * segments are written again as their live records.
	 */
	window_advance(w, T0 + 20 * 60000);
	add1(w, T0 + 20 * 60000, "t69999", 3); /* an id freed, taken again */
	window_free(load_via_segments(w, &c, &st, &segs, &added));
	ck_assert_uint_ge(added, 1);
	ck_assert(!stored_holds(&st, "t69998"));
	ck_assert(stored_holds(&st, "t69999"));
	ck_assert(stored_holds(&st, "kept"));
	for (size_t i = 0; i < st.n; i++)
		ck_assert_uint_lt(st.v[i].len, big1 / 4);

	/* a damaged or missing term segment is refused, named */
	struct strbuf sb = STRBUF_INIT;
	window_state_save_segments(w, &sb, &segs);
	seg_store_commit(&st, &segs);
	size_t kept = 0;
	while (!memmem(st.v[kept].bytes, st.v[kept].len, "kept", 4))
		kept++;
	assert_refused_without_segment(&c, &sb, &st, kept);
	segs_test_free(&sb, &st, &segs, w);
}
END_TEST

/* A compound score outside [-1, 1] counts as its bound, NaN as neutral; sums stay in range. */
START_TEST(test_window_takes_out_of_range_sentiment_as_its_bound)
{
	struct window *w = mkwin(60000, 4096);
	static const float scores[] = { 7.0f, -3.0f, NAN, INFINITY, -INFINITY, 0.25f };
	for (size_t i = 0; i < sizeof scores / sizeof *scores; i++) {
		struct token tk = { "mood", 4, TERM_WORD };
		struct window_post p = { T0 + (int64_t)i * 100, (uint32_t)i, scores[i], &tk, 1 };
		ck_assert_int_eq(window_add_post(w, &p), WINDOW_ADDED);
	}
	struct window_term_info info;
	window_lookup(w, WINDOW_5M, TERM_WORD, "mood", 4, &info);
	ck_assert_uint_eq(info.count, 6);
	ck_assert_uint_eq(info.pos, 3); /* 7, +inf, 0.25 */
	ck_assert_uint_eq(info.neg, 2); /* -3, -inf */
	ck_assert_double_eq_tol(info.sent_sum, 1 - 1 + 0 + 1 - 1 + 0.25, 1e-6);
	check_invariants(w);
	window_free(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("window");
	TCase *tc = tcase_create("window");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_window_counts_once_per_post_in_every_window);
	tcase_add_test(tc, test_window_expires_old_buckets_exactly_at_boundaries);
	tcase_add_test(tc, test_window_counts_out_of_order_inside_lateness_and_rejects_late);
	tcase_add_test(tc, test_window_clamps_posts_from_the_future);
	tcase_add_test(tc, test_window_emits_closed_minutes_for_history);
	tcase_add_test(tc, test_window_topk_matches_exact_reference_on_zipf_stream);
	tcase_add_test(tc, test_window_burst_by_one_author_does_not_trend_but_by_many_does);
	tcase_add_test(tc, test_window_nothing_trends_before_there_is_history);
	tcase_add_test(tc, test_window_warmup_keeps_new_terms_from_trending);
	tcase_add_test(tc, test_window_memory_stays_bounded_with_many_distinct_terms);
	tcase_add_test(tc, test_window_view_has_rankings_series_and_volume);
	tcase_add_test(tc, test_window_totals_hold_every_count_across_reads_saves_and_expiry);
	tcase_add_test(tc, test_window_counts_authors_exactly_while_few);
	tcase_add_test(tc, test_window_authors_of_a_popular_term_stay_within_2_percent);
	tcase_add_test(tc, test_window_counts_every_term_once_in_long_posts);
	tcase_add_test(tc, test_window_interns_many_new_terms_in_one_post);
	tcase_add_test(tc, test_window_sees_the_authors_of_the_latest_post);
	tcase_add_test(tc, test_window_gives_memory_back_when_buckets_are_pruned);
	tcase_add_test(tc, test_window_keeps_terms_apart_whose_index_tags_collide);
	tcase_add_test(tc, test_window_keeps_apart_terms_that_differ_in_any_one_byte);
	tcase_add_test(tc, test_window_restored_state_continues_exactly_like_the_original);
	tcase_add_test(tc, test_window_views_read_often_show_what_a_fresh_copy_shows);
	tcase_add_test(tc, test_window_kept_author_unions_follow_closes_and_slides);
	tcase_add_test(tc, test_window_baselines_built_ahead_match_those_summed_at_the_move);
	tcase_add_test(tc, test_window_view_series_read_by_bucket_match_those_read_by_term);
	tcase_add_test(tc, test_window_state_with_a_minute_of_posts_without_terms_restores);
	tcase_add_test(tc, test_window_restores_the_watermark_so_old_posts_stay_late);
	tcase_add_test(tc, test_window_refuses_truncated_or_corrupt_state_with_a_reason);
	tcase_add_test(tc, test_window_lists_open_minutes_with_rows_and_volume);
	tcase_add_test(tc, test_window_loads_a_state_saved_before_author_logs_and_continues_the_same);
	tcase_add_test(tc, test_window_author_sets_are_exact_across_log_batches_reads_and_saves);
	tcase_add_test(tc, test_window_author_sets_are_exact_in_a_minute_of_more_than_65536_terms);
	tcase_add_test(tc, test_window_author_sets_are_right_with_a_group_table_of_megabytes);
	tcase_add_test(tc, test_window_author_sets_are_exact_when_batches_skip_entries);
	tcase_add_test(tc, test_window_every_reader_sees_the_post_added_last);
	tcase_add_test(tc, test_window_event_time_jumping_a_day_or_more_leaves_no_counts_behind);
	tcase_add_test(tc, test_window_restored_after_a_day_and_a_half_counts_only_what_is_in_the_window);
	tcase_add_test(tc, test_window_refuses_state_whose_end_does_not_match_its_buckets);
	tcase_add_test(tc, test_window_invariants_hold_through_random_streams_with_jumps_and_restores);
	tcase_add_test(tc, test_window_takes_out_of_range_sentiment_as_its_bound);
	tcase_add_test(tc, test_window_saves_closed_buckets_once_in_segments);
	tcase_add_test(tc, test_window_saves_term_records_once_in_segments);
	tcase_add_test(tc, test_window_refuses_an_inline_author_set_with_a_hash_twice);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
