/*
 * Tests for analytics/engine.c: live answers (core/live.h), checkpoint
 * messages (rows, volume, state and cursors of one epoch), holding a
 * checkpoint until the posts are covered by their cursor marker, never
 * dropping rows while the db queue is full, and restoring from a state -
 * exactly, or not at all when the state is damaged; the recent-post ring
 * behind LIVE_TERM_DETAIL: exact co-occurrence counts, the newest examples,
 * wrapping, per-post caps, excerpts cut between characters, text verbatim.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/engine.h"
#include "analytics/engine_impl.h"
#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/live.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/term.h"
#include "tests/unit/segstore.h"
#include "tests/unit/testutil.h"

#define MIN_MS 60000LL

static int64_t now_minute(void) { return clock_now_ms() / MIN_MS * MIN_MS; }

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static struct engine *start_cfg(struct bus *bus, const struct engine_config *c)
{
	struct engine *e = NULL;
	char err[256];
	ck_assert_msg(engine_start(&e, c, bus, err, sizeof err) == 0, "%s", err);
	return e;
}

static struct engine *start_recent(struct bus *bus, int64_t ckpt_ms, bool markers,
				   const void *state, size_t len, uint64_t epoch, size_t recent)
{
	struct engine_config c = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				   .lateness_ms = 3000000, .checkpoint_ms = ckpt_ms,
				   .cursor_markers = markers, .state = state, .state_len = len,
				   .epoch = epoch, .recent_posts = recent };
	return start_cfg(bus, &c);
}

static struct engine *start(struct bus *bus, int64_t ckpt_ms, bool markers, const void *state,
			    size_t len, uint64_t epoch)
{
	return start_recent(bus, ckpt_ms, markers, state, len, epoch, 0);
}

static void post(struct bus *bus, int64_t source, int64_t at_ms, const char *id,
		 const char *author, const char *text)
{
	struct post *p = post_new(&(struct post_fields){ .source_id = source, .created_at_ms = at_ms,
							 .id = id, .author = author, .lang = "en",
							 .text = text, .text_len = (size_t)-1 });
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(queue_push(&bus->posts, p, 1000), 0);
}

static void marker(struct bus *bus, int64_t source, const char *cursor)
{
	struct post *m = dbmsg_marker_new(source, cursor, "seen", 4);
	ck_assert_ptr_nonnull(m);
	ck_assert(post_is_marker(m));
	ck_assert_int_eq(queue_push(&bus->posts, m, 1000), 0);
}

/* The next checkpoint on the db queue (other messages are dropped), or NULL. */
static struct dbmsg *next_checkpoint(struct bus *bus, int timeout_ms)
{
	int64_t until = clock_mono_ms() + timeout_ms;
	for (;;) {
		void *m;
		int64_t left = until - clock_mono_ms();
		if (left < 0)
			return NULL;
		if (queue_pop_batch(&bus->db, &m, 1, (int)left) == 0)
			continue;
		if (((struct dbmsg *)m)->kind == DBMSG_CHECKPOINT)
			return m;
		dbmsg_free(m);
	}
}

static void drain_db(struct bus *bus)
{
	void *m;
	while (queue_pop_batch(&bus->db, &m, 1, 0) == 1)
		dbmsg_free(m);
}

static struct live_req *ask(struct bus *bus, enum live_op op, int kind, const char *term,
			    int64_t from, int64_t to)
{
	struct live_req *r = live_req_new(op);
	ck_assert_ptr_nonnull(r);
	r->kind = kind;
	if (term) {
		snprintf(r->term, sizeof r->term, "%s", term);
		r->term_len = strlen(term);
	}
	r->from_ms = from;
	r->to_ms = to;
	r->limit = 100;
	ck_assert_int_eq(live_ask(bus, r, 5000), 0);
	ck_assert_int_eq(r->rc, 0);
	return r;
}

/* Sum of the counts of a live answer's rows for term (NULL: every row) with the given epoch. */
static uint64_t rows_count(const struct live_req *r, const char *term, uint64_t epoch)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->nrows; i++) {
		const struct live_row *row = &r->rows[i];
		if (row->epoch != epoch)
			continue;
		if (term && (row->term_len != strlen(term) || memcmp(row->term, term, row->term_len)))
			continue;
		n += row->count;
	}
	return n;
}

/* The count of term in a snapshot view, 0 when it does not list it. */
static uint32_t view_count(const struct snapshot_view *v, const char *term)
{
	for (uint32_t i = 0; v && i < v->ntrends; i++)
		if (strcmp(v->trends[i].term, term) == 0)
			return v->trends[i].count;
	return 0;
}

/*
 * The language and source views are rebuilt in turn within a time budget,
 * at least one window's a tick, the others carried over from the last
 * snapshot. With a budget of a microsecond each tick rebuilds exactly one
 * dimension's views (four here: English and three sources), every one gets
 * its turn, and a carried view shows what it showed when it was counted.
 */
START_TEST(test_engine_rebuilds_language_and_source_views_in_turn_within_the_budget)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine_config c = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				   .lateness_ms = 3000000, .checkpoint_ms = 60000,
				   .view_budget_us = 1 };
	struct engine *e = NULL;
	char err[256];
	ck_assert_msg(engine_start(&e, &c, &bus, err, sizeof err) == 0, "%s", err);
	static const char *const terms[3] = { "alpha", "bravo", "charlie" };
	int64_t t = clock_now_ms() - 5000;
	for (int src = 1; src <= 3; src++)
		for (int i = 0; i < src + 1; i++) {
			char id[16], text[32];
			snprintf(id, sizeof id, "%d-%d", src, i);
			snprintf(text, sizeof text, "%s news", terms[src - 1]);
			post(&bus, src, t + i, id, "ann", text);
		}
	int64_t rebuilt[4] = { 0 }, last_seen[4] = { 0 };
	int turns[4] = { 0 }, seen = 0, carried = 0;
	int64_t all_counted_ms = 0; /* generated_ms of the first snapshot with all 9 posts */
	uint64_t last_seq = 0;
	int64_t until = clock_mono_ms() + 20000;
	while (clock_mono_ms() < until && (seen < 30 || turns[0] < 3 || turns[1] < 3 ||
					   turns[2] < 3 || turns[3] < 3)) {
		sleep_ms(10);
		struct snapshot *s = snapshot_acquire(&bus.trends);
		if (!s || s->seq == last_seq || s->stats.posts_total < 9 || s->nviews != 15) {
			snapshot_put(s);
			continue;
		}
		last_seq = s->seq;
		/*
		 * A view built before the last of its posts was counted is
		 * carried with fewer: checks start once every dimension's views
		 * were built with all of them, one dimension a tick.
		 */
		if (!all_counted_ms) {
			/* its tick may have built several (new windows are built whatever the budget) */
			all_counted_ms = s->generated_ms;
			snapshot_put(s);
			continue;
		}
		bool warm = true;
		for (int d = 0; d < 4; d++) {
			const struct snapshot_view *v = snapshot_find_view(s, 0, d ? "" : "en", d);
			warm = warm && v && v->computed_ms >= all_counted_ms;
		}
		if (!warm) {
			snapshot_put(s);
			continue;
		}
		seen++;
		int fresh = 0;
		for (int d = 0; d < 4; d++) {
			const struct snapshot_view *v[WINDOW_COUNT];
			for (int w = 0; w < WINDOW_COUNT; w++) {
				v[w] = snapshot_find_view(s, w, d ? "" : "en", d);
				ck_assert_ptr_nonnull(v[w]);
				ck_assert_int_le(v[w]->computed_ms, s->generated_ms);
				ck_assert_int_eq(v[w]->computed_ms, v[0]->computed_ms);
				/* carried or not, each view shows its own source's posts */
				for (int k = 0; k < 3; k++)
					ck_assert_uint_eq(view_count(v[w], terms[k]),
							  d == 0 || d == k + 1 ? (uint32_t)k + 2 : 0);
			}
			if (v[0]->computed_ms == s->generated_ms)
				fresh++;
			else
				carried++;
			if (v[0]->computed_ms != last_seen[d]) {
				turns[d] += rebuilt[d] != 0;
				rebuilt[d] = last_seen[d] = v[0]->computed_ms;
			}
		}
		ck_assert_int_eq(fresh, 1);
		snapshot_put(s);
	}
	ck_assert_int_ge(seen, 30);
	for (int d = 0; d < 4; d++)
		ck_assert_msg(turns[d] >= 3, "dimension %d rebuilt %d times", d, turns[d]);
	ck_assert_int_ge(carried, 3 * seen);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

/*
 * The language and source windows keep view_top_m terms per closed bucket,
 * the global ones top_m: 40 terms of one source, the k-th posted k times in
 * a second that has closed, are all in the global views with their counts,
 * and only the 16 most posted in the source's and the language's, which
 * list none of the pruned ones.
 */
START_TEST(test_engine_language_and_source_windows_keep_view_top_m_terms)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine_config c = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				   .lateness_ms = 2000, .checkpoint_ms = 60000, .view_top_m = 16 };
	struct engine *e = NULL;
	char err[256];
	ck_assert_msg(engine_start(&e, &c, &bus, err, sizeof err) == 0, "%s", err);
	/* all in the next second, which closes 2 s after its end */
	int64_t t = (clock_now_ms() / 1000 + 1) * 1000;
	char terms[40][8];
	int n = 0;
	for (int k = 1; k <= 40; k++) {
		snprintf(terms[k - 1], sizeof terms[k - 1], "zq%c%c", 'a' + (k - 1) / 8,
			 'a' + (k - 1) % 8);
		for (int i = 0; i < k; i++) {
			char id[16];
			snprintf(id, sizeof id, "%d-%d", k, i);
			post(&bus, 7, t + i, id, "ann", terms[k - 1]);
			n++;
		}
	}
	bool done = false;
	int64_t until = clock_mono_ms() + 20000;
	while (!done && clock_mono_ms() < until) {
		sleep_ms(10);
		struct snapshot *s = snapshot_acquire(&bus.trends);
		const struct snapshot_view *g = s ? snapshot_find_view(s, WINDOW_5M, "", 0) : NULL;
		const struct snapshot_view *src = s ? snapshot_find_view(s, WINDOW_5M, "", 7) : NULL;
		const struct snapshot_view *lang = s ? snapshot_find_view(s, WINDOW_5M, "en", 0) : NULL;
		if (!g || !src || !lang || s->stats.posts_total < (uint64_t)n ||
		    src->computed_ms != s->generated_ms || lang->computed_ms != s->generated_ms ||
		    s->watermark_ms < t + 1000) {
			snapshot_put(s);
			continue;
		}
		done = true;
		ck_assert_uint_eq(g->posts, (uint64_t)n);
		ck_assert_uint_eq(src->posts, (uint64_t)n);
		for (int k = 1; k <= 40; k++) {
			ck_assert_uint_eq(view_count(g, terms[k - 1]), (uint32_t)k);
			uint32_t want = k > 24 ? (uint32_t)k : 0;
			ck_assert_msg(view_count(src, terms[k - 1]) == want &&
					      view_count(lang, terms[k - 1]) == want,
				      "%s: %u and %u in the source and language views, not %u",
				      terms[k - 1], view_count(src, terms[k - 1]),
				      view_count(lang, terms[k - 1]), want);
		}
		snapshot_put(s);
	}
	ck_assert_msg(done, "no snapshot with the second closed");
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_engine_answers_live_requests_from_open_minutes_and_pending_rows)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 60000, false, NULL, 0, 7);
	int64_t m = now_minute() - 10 * MIN_MS, old = now_minute() - 3 * 3600 * 1000LL;
	post(&bus, 1, m + 1000, "a", "ann", "#rust is great");
	post(&bus, 1, m + 2000, "b", "bob", "#rust is great");
	post(&bus, 1, m + MIN_MS + 5, "c", "cid", "#rust again, terrible");
	post(&bus, 1, old, "d", "dan", "#rust from long ago"); /* late: a pending row */
	/* asked at once: the queued posts are counted before the answer */
	struct live_req *r = ask(&bus, LIVE_TERM, TERM_HASHTAG, "#rust", old - MIN_MS,
				 m + 10 * MIN_MS);
	ck_assert_uint_eq(r->checkpoint_epoch, 7);
	ck_assert_uint_eq(rows_count(r, NULL, UINT64_MAX), 3);
	ck_assert_uint_eq(rows_count(r, NULL, 8), 1);
	ck_assert_uint_eq(r->nrows, 3); /* two open minutes, one pending minute */
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].minute_ms == m) {
			ck_assert_uint_eq(r->rows[i].count, 2);
			ck_assert_uint_eq(r->rows[i].authors, 2);
			ck_assert_uint_eq(r->rows[i].pos, 2);
		}
	live_req_free(r);
	/* a range that leaves out the old minute */
	r = ask(&bus, LIVE_TERM, TERM_HASHTAG, "#rust", m + MIN_MS, m + 2 * MIN_MS);
	ck_assert_uint_eq(r->nrows, 1);
	ck_assert_uint_eq(r->rows[0].count, 1);
	ck_assert_uint_eq(r->rows[0].neg, 1);
	live_req_free(r);
	/* a term nobody used */
	r = ask(&bus, LIVE_TERM, TERM_WORD, "nothing", old - MIN_MS, m + 10 * MIN_MS);
	ck_assert_uint_eq(r->nrows, 0);
	live_req_free(r);

	r = ask(&bus, LIVE_VOLUME, 0, NULL, old - MIN_MS, m + 10 * MIN_MS);
	ck_assert_uint_eq(rows_count(r, NULL, UINT64_MAX), 3);
	ck_assert_uint_eq(rows_count(r, NULL, 8), 1);
	live_req_free(r);

	r = ask(&bus, LIVE_TOP, TERM_KIND_ALL, NULL, old - MIN_MS, m + 10 * MIN_MS);
	ck_assert_uint_eq(rows_count(r, "#rust", UINT64_MAX), 3);
	ck_assert_uint_eq(rows_count(r, "#rust", 8), 1);
	ck_assert_uint_eq(rows_count(r, "great", UINT64_MAX), 2);
	live_req_free(r);
	r = ask(&bus, LIVE_TOP, TERM_HASHTAG, NULL, old - MIN_MS, m + 10 * MIN_MS);
	ck_assert_uint_eq(rows_count(r, "great", UINT64_MAX), 0);
	ck_assert_uint_eq(rows_count(r, "#rust", UINT64_MAX), 3);
	live_req_free(r);
	/* limit 1: only the most used term, with its rows of both epochs */
	r = live_req_new(LIVE_TOP);
	r->kind = TERM_KIND_ALL;
	r->from_ms = old - MIN_MS;
	r->to_ms = m + 10 * MIN_MS;
	r->limit = 1;
	ck_assert_int_eq(live_ask(&bus, r, 5000), 0);
	ck_assert_uint_eq(r->nrows, 2);
	ck_assert_uint_eq(rows_count(r, "#rust", UINT64_MAX) + rows_count(r, "#rust", 8), 4);
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_engine_checkpoint_carries_rows_volume_state_and_cursors)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 200, true, NULL, 0, 0);
	int64_t old = now_minute() - 3 * 3600 * 1000LL;
	post(&bus, 4, old + 1000, "a", "ann", "#late post");
	post(&bus, 4, old + 2000, "b", "ann", "#late post again");
	post(&bus, 4, now_minute() - MIN_MS, "c", "bob", "#fresh");
	marker(&bus, 4, "300");
	struct dbmsg *m = next_checkpoint(&bus, 3000);
	ck_assert_ptr_nonnull(m);
	const struct checkpoint *c = &m->u.checkpoint;
	ck_assert_uint_eq(c->epoch, 1);
	ck_assert_ptr_nonnull(c->state);
	ck_assert_uint_gt(c->state_len, 100);
	/* the two late posts of one minute merged into one row per term */
	bool found = false;
	for (size_t i = 0; i < c->nterm; i++)
		if (c->term_rows[i].term_len == 5 && !memcmp(c->term_rows[i].term, "#late", 5)) {
			ck_assert(!found);
			found = true;
			ck_assert_int_eq(c->term_rows[i].minute_ms, old);
			ck_assert_uint_eq(c->term_rows[i].count, 2);
			ck_assert_uint_eq(c->term_rows[i].authors, 1);
		}
	ck_assert(found);
	ck_assert_uint_eq(c->nvolume, 1);
	ck_assert_uint_eq(c->volume_rows[0].posts, 2);
	ck_assert_uint_eq(c->ncursors, 1);
	ck_assert_int_eq(c->cursors[0].source_id, 4);
	ck_assert_str_eq(c->cursors[0].cursor, "300");
	ck_assert_uint_eq(c->cursors[0].seen_len, 4);
	dbmsg_free(m);
	/* idle: no new epoch rewrites the same state */
	ck_assert_ptr_null(next_checkpoint(&bus, 700));
	/* the next epoch carries only what is new: a recent post makes no row */
	post(&bus, 4, now_minute() - MIN_MS, "e", "eve", "#fresh again");
	marker(&bus, 4, "301");
	m = next_checkpoint(&bus, 3000);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->u.checkpoint.epoch, 2);
	ck_assert_uint_eq(m->u.checkpoint.nterm, 0);
	ck_assert_uint_eq(m->u.checkpoint.ncursors, 1);
	ck_assert_str_eq(m->u.checkpoint.cursors[0].cursor, "301");
	dbmsg_free(m);
	/* live answers now name the sent epoch; the fresh post is still open */
	struct live_req *r = ask(&bus, LIVE_TERM, TERM_HASHTAG, "#fresh", old, now_minute() + MIN_MS);
	ck_assert_uint_eq(r->checkpoint_epoch, 2);
	ck_assert_uint_eq(rows_count(r, NULL, UINT64_MAX), 2);
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

/*
 * The state is saved whole at every checkpoint. When building it takes long
 * (a large state), checkpoints come checkpoint_cost times the build time
 * apart instead of every checkpoint_ms, so that they cannot take the
 * analytics thread over. A state of some hundred KB, checkpoints asked for
 * every 10 ms, a cost of 3 (20 by default; smaller here so that the test
 * takes seconds in a sanitizer build): consecutive ones are at least the
 * stretched period apart, and the period did stretch (else this test could
 * not tell).
 */
START_TEST(test_engine_stretches_the_checkpoint_period_when_the_state_is_slow_to_build)
{
	ck_assert_int_eq(engine_checkpoint_period(5000, 0, 20), 5000);
	ck_assert_int_eq(engine_checkpoint_period(5000, 200000, 20), 5000);
	ck_assert_int_eq(engine_checkpoint_period(5000, 1940000, 20), 38800);

	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine_config cfg = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				     .lateness_ms = 3000000, .checkpoint_ms = 10,
				     .checkpoint_cost = 3 };
	struct engine *e = NULL;
	char err[256];
	ck_assert_msg(engine_start(&e, &cfg, &bus, err, sizeof err) == 0, "%s", err);
	int64_t t0 = now_minute() - 2 * 3600 * 1000LL;
	char id[32], author[32], text[160];
	uint64_t r = 7;
	for (int i = 0; i < 8000; i++) {
		size_t len = 0;
		for (int w = 0; w < 6; w++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			len += (size_t)snprintf(text + len, sizeof text - len, "%sw%llx", w ? " " : "",
						(unsigned long long)(r >> 48));
		}
		snprintf(id, sizeof id, "%d", i);
		snprintf(author, sizeof author, "a%llu", (unsigned long long)(r >> 20) % 5000);
		post(&bus, 4, t0 + (int64_t)i * 900, id, author, text);
	}
	/* the checkpoints of the state while it grew are not the point */
	while (queue_depth(&bus.posts) > 0)
		sleep_ms(10);
	sleep_ms(300);
	drain_db(&bus);
	struct dbmsg *prev = NULL;
	bool stretched = false;
	for (int k = 0; k < 4; k++) {
		/* a post before each: an idle engine writes no checkpoint */
		snprintf(id, sizeof id, "more%d", k);
		post(&bus, 4, now_minute(), id, "ann", "one more post");
		struct dbmsg *m = next_checkpoint(&bus, 20000);
		ck_assert_ptr_nonnull(m);
		if (prev) {
			const struct checkpoint *a = &prev->u.checkpoint, *b = &m->u.checkpoint;
			int64_t period = engine_checkpoint_period(10, a->state_build_us, 3);
			stretched = stretched || period > 10;
			/* created_ms is wall time, the period monotonic: 2 ms for the clocks */
			ck_assert_msg(b->created_ms - a->created_ms >= period - 2,
				      "checkpoints %lld ms apart, the state took %lld us to build",
				      (long long)(b->created_ms - a->created_ms),
				      (long long)a->state_build_us);
			dbmsg_free(prev);
		}
		ck_assert_uint_gt(m->u.checkpoint.state_len, 100000);
		prev = m;
	}
	dbmsg_free(prev);
	ck_assert(stretched);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_engine_holds_the_checkpoint_until_the_marker_follows_the_posts)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	/*
	 * A period of 1 s: the checkpoint falls due at 1 s and, its marker
	 * missing, is held until 2 s; the margins (0.5 s and more) are for a
	 * loaded machine, where this thread may wait a while for a core.
	 */
	int64_t start_ms = clock_mono_ms();
	struct engine *e = start(&bus, 1000, true, NULL, 0, 0);
	post(&bus, 2, now_minute() - MIN_MS, "a", "ann", "one");
	post(&bus, 2, now_minute() - MIN_MS, "b", "bob", "two");
	/* due at 1 s, but the posts' marker has not come: no checkpoint yet */
	ck_assert_ptr_null(next_checkpoint(&bus, (int)(start_ms + 1500 - clock_mono_ms())));
	int64_t marker_ms = clock_mono_ms();
	marker(&bus, 2, "b");
	struct dbmsg *m = next_checkpoint(&bus, 3000);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->u.checkpoint.ncursors, 1);
	ck_assert_str_eq(m->u.checkpoint.cursors[0].cursor, "b");
	dbmsg_free(m);
	/*
	 * A source that never sends its marker holds it back one more period
	 * at most: due 1 s after the last one (sent after the marker came), it
	 * is sent 2 s after it.
	 */
	post(&bus, 3, now_minute() - MIN_MS, "c", "cid", "three");
	m = next_checkpoint(&bus, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_ge(clock_mono_ms() - marker_ms, 1900);
	dbmsg_free(m);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

static int64_t cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_engine_waits_for_a_marker_without_spinning)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 2000, true, NULL, 0, 0);
	int64_t t_start = clock_mono_ms();
	post(&bus, 2, now_minute() - MIN_MS, "a", "ann", "one");
	/* due at 2 s; from then on the engine waits for the marker until 4 s */
	ck_assert_ptr_null(next_checkpoint(&bus, 2100));
	int64_t c0 = cpu_ms(), t0 = clock_mono_ms();
	sleep_ms(300);
	int64_t cpu = cpu_ms() - c0, wall = clock_mono_ms() - t0;
	/* a thread spinning on a zero wait would use the whole 300 ms */
	ck_assert_msg(cpu * 3 < wall, "%lld ms of CPU in %lld ms waiting for a marker",
		      (long long)cpu, (long long)wall);
	/* the marker's arrival sends the checkpoint, not the end of the period */
	marker(&bus, 2, "a");
	struct dbmsg *m = next_checkpoint(&bus, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_lt(clock_mono_ms() - t_start, 3500);
	ck_assert_uint_eq(m->u.checkpoint.ncursors, 1);
	ck_assert_str_eq(m->u.checkpoint.cursors[0].cursor, "a");
	dbmsg_free(m);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_engine_keeps_every_row_while_the_db_queue_is_full)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	/* the db thread is stuck: its queue is full */
	size_t filler = 0;
	for (;;) {
		struct dbmsg *f = dbmsg_new(DBMSG_SOURCE_DELETE);
		if (queue_try_push(&bus.db, f) < 0) {
			dbmsg_free(f);
			break;
		}
		filler++;
	}
	struct engine *e = start(&bus, 100, false, NULL, 0, 0);
	int64_t old = now_minute() - 3 * 3600 * 1000LL;
	char id[16];
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof id, "p%d", i);
		post(&bus, 1, old + (i % 2) * MIN_MS, id, id, "#backlog");
		if (i % 100 == 0)
			sleep_ms(250); /* several checkpoint periods pass */
	}
	sleep_ms(300);
	/* room again: one checkpoint with everything, merged per (term, minute) */
	for (size_t i = 0; i < filler; i++) {
		void *f;
		ck_assert_uint_eq(queue_pop_batch(&bus.db, &f, 1, 0), 1);
		ck_assert_int_ne(((struct dbmsg *)f)->kind, DBMSG_CHECKPOINT);
		dbmsg_free(f);
	}
	struct dbmsg *m = next_checkpoint(&bus, 3000);
	ck_assert_ptr_nonnull(m);
	const struct checkpoint *c = &m->u.checkpoint;
	ck_assert_uint_eq(c->epoch, 1);
	uint64_t total = 0;
	size_t rows = 0;
	for (size_t i = 0; i < c->nterm; i++)
		if (c->term_rows[i].term_len == 8 && !memcmp(c->term_rows[i].term, "#backlog", 8)) {
			total += c->term_rows[i].count;
			rows++;
		}
	ck_assert_uint_eq(total, 300);
	ck_assert_uint_eq(rows, 2);
	dbmsg_free(m);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

/* Feeds posts [from, to) of a fixed pseudo-random stream of recent posts. */
/*
 * Posts from..to of a fixed stream, dated from base (a minute boundary): runs
 * that are to count alike take the same base, not one read again from a
 * clock that may have passed a minute since.
 */
static void feed(struct bus *bus, int from, int to, int64_t base)
{
	static const char *const words[] = { "alpha", "beta", "gamma", "delta", "#tag", "#other",
					     "good", "bad", "@ann", "epsilon" };
	char id[16], author[16], text[128];
	for (int i = from; i < to; i++) {
		snprintf(id, sizeof id, "%d", i);
		snprintf(author, sizeof author, "a%d", (i * 7) % 23);
		snprintf(text, sizeof text, "%s %s %s", words[i % 10], words[(i * 3) % 10],
			 words[(i * 7 + 1) % 10]);
		post(bus, 1 + i % 2, base + (int64_t)((i * 7919) % (15 * MIN_MS)), id, author, text);
	}
}

/*
 * Takes checkpoint d in as the writer would: its new segments into st (which
 * then keeps those its state names) and its state, the newest, into *state.
 */
static void take_checkpoint(struct dbmsg *d, struct segs *st, uint8_t **state, size_t *len)
{
	struct checkpoint *c = &d->u.checkpoint;
	ck_assert_ptr_nonnull(c->state); /* the engine always sends one */
	ck_assert_ptr_nonnull(c->segment_refs);
	ck_assert_int_ge(segs_commit(st, c->segments, c->segments_len, c->segment_refs,
				     c->nsegment_refs),
			 0);
	free(*state);
	*state = c->state;
	*len = c->state_len;
	c->state = NULL;
}

/* The last state an engine hands over when it stops, and in st its segments. */
static uint8_t *stop_for_segments(struct engine *e, struct bus *bus, struct segs *st,
				  size_t *len)
{
	engine_stop(e);
	uint8_t *state = NULL;
	void *m;
	while (queue_pop_batch(&bus->db, &m, 1, 0) == 1) {
		struct dbmsg *d = m;
		if (d->kind == DBMSG_CHECKPOINT)
			take_checkpoint(d, st, &state, len);
		dbmsg_free(d);
	}
	ck_assert_ptr_nonnull(state);
	return state;
}

/* An engine restored from state and the segments in st. */
static struct engine *start_from(struct bus *bus, const void *state, size_t len,
				 struct segs *st, uint64_t epoch)
{
	struct engine_config c = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				   .lateness_ms = 3000000, .checkpoint_ms = 60000,
				   .state = state, .state_len = len, .epoch = epoch,
				   .segment_fn = segs_lookup, .segment_ctx = st,
				   .segment_next = st->n ? st->v[st->n - 1].id + 1 : 1 };
	return start_cfg(bus, &c);
}

static char *top_text(struct bus *bus)
{
	struct live_req *r = ask(bus, LIVE_TOP, TERM_KIND_ALL, NULL, 0, INT64_MAX);
	struct live_req *v = ask(bus, LIVE_VOLUME, 0, NULL, 0, INT64_MAX);
	size_t cap = 64 * (r->nrows + v->nrows) + 1, len = 0;
	char *out = malloc(cap);
	out[0] = 0;
	/* LIVE_TOP rows are in count order, ties in a stable term order */
	for (size_t i = 0; i < r->nrows; i++)
		len += (size_t)snprintf(out + len, cap - len, "%.*s/%d %u %u %u %u\n",
					(int)r->rows[i].term_len, r->rows[i].term, r->rows[i].kind,
					r->rows[i].count, r->rows[i].authors, r->rows[i].pos,
					r->rows[i].neg);
	for (size_t i = 0; i < v->nrows; i++)
		len += (size_t)snprintf(out + len, cap - len, "%lld %u\n",
					(long long)v->rows[i].minute_ms, v->rows[i].count);
	live_req_free(r);
	live_req_free(v);
	return out;
}

START_TEST(test_engine_restored_from_a_state_counts_like_an_uninterrupted_one)
{
	struct bus a, b;
	ck_assert_int_eq(bus_init(&a), 0);
	ck_assert_int_eq(bus_init(&b), 0);
	/* a counts 400 posts and stops; its state starts b, which counts 400 more */
	struct engine *e = start(&a, 60000, false, NULL, 0, 0);
	int64_t base = now_minute() - 20 * MIN_MS;
	feed(&a, 0, 400, base);
	size_t len = 0;
	struct segs st = { 0 };
	uint8_t *state = stop_for_segments(e, &a, &st, &len);
	ck_assert_uint_gt(st.n, 0); /* the term records at least */
	bus_destroy(&a);
	ck_assert_int_eq(bus_init(&a), 0);
	struct engine *restored = start_from(&b, state, len, &st, 1);
	ck_assert(engine_restored(restored));
	feed(&b, 400, 800, base);
	/* the same 800 posts, uninterrupted */
	struct engine *whole = start(&a, 60000, false, NULL, 0, 0);
	ck_assert(!engine_restored(whole));
	feed(&a, 0, 800, base);
	char *x = top_text(&a), *y = top_text(&b);
	ck_assert_uint_gt(strlen(x), 200);
	ck_assert_str_eq(x, y);
	free(x);
	free(y);
	engine_stop(whole);
	engine_stop(restored);
	drain_db(&a);
	drain_db(&b);
	free(state);
	segs_free(&st);
	bus_destroy(&a);
	bus_destroy(&b);
}
END_TEST

/*
 * The count of term in the global windows' views (5m, 1h, 24h) of the
 * newest snapshot, once all three show want (within 10 s); else the 5m
 * view's count last seen. Closed minutes leave the live rows once
 * checkpointed, but never the windows.
 */
static uint32_t window_count(struct bus *bus, const char *term, uint32_t want)
{
	uint32_t n = 0;
	for (int64_t until = clock_mono_ms() + 10000; clock_mono_ms() < until; sleep_ms(10)) {
		struct snapshot *s = snapshot_acquire(&bus->trends);
		bool all = s != NULL;
		for (int w = 0; s && w < WINDOW_COUNT; w++) {
			uint32_t c = view_count(snapshot_find_view(s, w, "", 0), term);
			if (w == 0)
				n = c;
			all = all && c == want;
		}
		snapshot_put(s);
		if (all)
			return want;
	}
	return n;
}

/*
 * Closed buckets go to the db once, as segments the states name; an engine
 * restored from a state and its segments counts on from there and does not
 * write them again; one missing segment makes the state unusable.
 */
START_TEST(test_engine_restores_from_a_state_and_its_segments)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	/* 2 s late is on time: the second of the posts closes 2-3 s on */
	struct engine_config c = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				   .lateness_ms = 2000, .checkpoint_ms = 100 };
	struct engine *e = start_cfg(&bus, &c);
	int64_t at = clock_now_ms();
	char id[16], text[64];
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof id, "p%d", i);
		snprintf(text, sizeof text, "common word%d", i); /* a big second bucket */
		post(&bus, 1, at, id, id, text);
	}
	ck_assert_uint_eq(window_count(&bus, "common", 300), 300);
	sleep_ms(3500);
	struct segs st = { 0 };
	size_t len = 0;
	uint8_t *state = stop_for_segments(e, &bus, &st, &len);
	bus_destroy(&bus);
	ck_assert_uint_gt(st.n, 0);
	uint64_t next = st.v[st.n - 1].id + 1;

	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine_config r = c;
	r.state = state;
	r.state_len = len;
	r.epoch = 7;
	r.segment_fn = segs_lookup;
	r.segment_ctx = &st;
	r.segment_next = next;
	e = start_cfg(&bus, &r);
	ck_assert(engine_restored(e));
	ck_assert_uint_eq(window_count(&bus, "common", 300), 300);
	post(&bus, 1, clock_now_ms(), "last", "last", "common again");
	ck_assert_uint_eq(window_count(&bus, "common", 301), 301);
	struct dbmsg *m = next_checkpoint(&bus, 3000);
	ck_assert_ptr_nonnull(m);
	const struct checkpoint *k = &m->u.checkpoint;
	ck_assert_uint_eq(k->epoch, 8);
	/* the restored segments are named, not written again; new ones take new ids */
	size_t old = 0;
	for (size_t i = 0; i < k->nsegment_refs; i++)
		old += k->segment_refs[i] < next;
	ck_assert_uint_eq(old, st.n);
	for (size_t at2 = 0; at2 < k->segments_len;) {
		uint64_t sid, slen;
		memcpy(&sid, k->segments + at2, 8);
		memcpy(&slen, k->segments + at2 + 8, 8);
		ck_assert_uint_ge(sid, next);
		at2 += 16 + slen;
	}
	dbmsg_free(m);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);

	/* without one of its segments the state is refused: empty windows, counting on */
	st.v[0].id = 0; /* gone (still in order) */
	ck_assert_int_eq(bus_init(&bus), 0);
	e = start_cfg(&bus, &r);
	ck_assert(!engine_restored(e));
	ck_assert_uint_eq(window_count(&bus, "common", 0), 0);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
	free(state);
	segs_free(&st);
}
END_TEST

START_TEST(test_engine_starts_empty_from_a_damaged_state_and_keeps_counting)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 60000, false, NULL, 0, 0);
	feed(&bus, 0, 200, now_minute() - 20 * MIN_MS);
	size_t len = 0;
	struct segs st = { 0 }, none = { 0 };
	uint8_t *state = stop_for_segments(e, &bus, &st, &len);
	bus_destroy(&bus);

	/* whole, but without the segments it names */
	ck_assert_int_eq(bus_init(&bus), 0);
	e = start_from(&bus, state, len, &none, 3);
	ck_assert(!engine_restored(e));
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);

	uint8_t *bad = malloc(len);
	const struct { size_t at, len; } damage[] = {
		{ len / 2, len },      /* one flipped byte in the middle */
		{ 0, len },            /* the magic */
		{ (size_t)-1, len / 3 }, /* truncated */
		{ (size_t)-1, 3 },
		{ len - 1, len },      /* the last byte */
	};
	for (size_t k = 0; k < sizeof damage / sizeof damage[0]; k++) {
		memcpy(bad, state, len);
		if (damage[k].at != (size_t)-1)
			bad[damage[k].at] ^= 0x40;
		ck_assert_int_eq(bus_init(&bus), 0); /* a stopped engine closed the post queue */
		e = start_from(&bus, bad, damage[k].len, &st, 3);
		ck_assert(!engine_restored(e));
		char *t = top_text(&bus);
		ck_assert_str_eq(t, ""); /* empty windows */
		free(t);
		feed(&bus, 0, 10, now_minute() - 20 * MIN_MS); /* and it counts */
		struct live_req *r = ask(&bus, LIVE_VOLUME, 0, NULL, 0, INT64_MAX);
		ck_assert_uint_eq(rows_count(r, NULL, UINT64_MAX), 10);
		ck_assert_uint_eq(r->checkpoint_epoch, 3);
		live_req_free(r);
		engine_stop(e);
		drain_db(&bus);
		bus_destroy(&bus);
	}
	/* garbage that is not a state at all */
	ck_assert_int_eq(bus_init(&bus), 0);
	e = start(&bus, 60000, false, "definitely not a state", 22, 0);
	ck_assert(!engine_restored(e));
	engine_stop(e);
	drain_db(&bus);
	free(bad);
	free(state);
	segs_free(&st);
	bus_destroy(&bus);
}
END_TEST

/* ---- term detail: the recent-post ring ---- */

static struct live_req *detail(struct bus *bus, int kind, const char *term, size_t limit,
			       size_t examples)
{
	struct live_req *r = live_req_new(LIVE_TERM_DETAIL);
	ck_assert_ptr_nonnull(r);
	r->kind = kind;
	snprintf(r->term, sizeof r->term, "%s", term);
	r->term_len = strlen(term);
	r->limit = limit;
	r->examples = examples;
	ck_assert_int_eq(live_ask(bus, r, 5000), 0);
	ck_assert_int_eq(r->rc, 0);
	return r;
}

/* The count of a co-occurring (kind, term) in a detail answer; -1 when absent. */
static long cooc_count(const struct live_req *r, int kind, const char *term)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].kind == kind && r->rows[i].term_len == strlen(term) &&
		    memcmp(r->rows[i].term, term, r->rows[i].term_len) == 0)
			return (long)r->rows[i].count;
	return -1;
}

static bool str_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

START_TEST(test_engine_term_detail_counts_shared_posts_exactly)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 60000, false, NULL, 0, 0);
	int64_t t = now_minute() - 5 * MIN_MS;
	/*
	 * Posts with #rust: p1, p2, p3, p5, p6 (twice in p6: one post). Shared
	 * with #rust: #go in p1, p2, p6 = 3; #zig in p2, p3 = 2; the word "rust"
	 * only in p7, which has no #rust; #zig in p4 has no #rust either.
	 */
	post(&bus, 1, t + 1000, "p1", "ann", "#rust #go");
	post(&bus, 2, t + 2000, "p2", "bob", "#rust #go #zig");
	post(&bus, 1, t + 3000, "p3", "cid", "#rust #zig");
	post(&bus, 1, t + 4000, "p4", "dan", "#go #zig");
	post(&bus, 1, t + 5000, "p5", "eve", "#rust");
	post(&bus, 2, t + 500, "p6", "fay", "#rust #rust #go"); /* arrives late, oldest time */
	post(&bus, 1, t + 7000, "p7", "gus", "rust #go");
	struct live_req *r = detail(&bus, TERM_HASHTAG, "#rust", 10, 3);
	ck_assert_uint_eq(r->scanned, 7);
	ck_assert_uint_eq(r->matched, 5);
	ck_assert_uint_eq(r->nrows, 2);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#go"), 3);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#zig"), 2);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#rust"), -1); /* never itself */
	ck_assert(str_is(r->rows[0].term, r->rows[0].term_len, "#go")); /* most shared first */
	/* the newest three by event time: p5, p3, p2 (p6 arrived after them but is older) */
	ck_assert_uint_eq(r->nposts, 3);
	ck_assert(str_is(r->posts[0].id, r->posts[0].id_len, "p5"));
	ck_assert(str_is(r->posts[1].id, r->posts[1].id_len, "p3"));
	ck_assert(str_is(r->posts[2].id, r->posts[2].id_len, "p2"));
	ck_assert_int_eq(r->posts[2].source_id, 2);
	ck_assert_int_eq(r->posts[2].time_ms, t + 2000);
	ck_assert(str_is(r->posts[2].author, r->posts[2].author_len, "bob"));
	ck_assert(str_is(r->posts[2].text, r->posts[2].text_len, "#rust #go #zig"));
	ck_assert(!r->posts[2].truncated);
	live_req_free(r);

	/* limit 1: only the most shared; the word is another term than the hashtag */
	r = detail(&bus, TERM_HASHTAG, "#rust", 1, 0);
	ck_assert_uint_eq(r->nrows, 1);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#go"), 3);
	ck_assert_uint_eq(r->nposts, 0);
	live_req_free(r);
	r = detail(&bus, TERM_WORD, "rust", 10, 5);
	ck_assert_uint_eq(r->matched, 1);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#go"), 1);
	ck_assert_uint_eq(r->nposts, 1);
	ck_assert(str_is(r->posts[0].id, r->posts[0].id_len, "p7"));
	live_req_free(r);
	/* ties are ordered by term: #go and #rust share p1, p2, p6 and p4, p7 ... */
	r = detail(&bus, TERM_HASHTAG, "#zig", 10, 5);
	ck_assert_uint_eq(r->matched, 3);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#go"), 2);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#rust"), 2);
	ck_assert(str_is(r->rows[0].term, r->rows[0].term_len, "#go"));
	live_req_free(r);
	/* a term no post has, and a question that is not one */
	r = detail(&bus, TERM_HASHTAG, "#nothing", 10, 5);
	ck_assert_uint_eq(r->matched, 0);
	ck_assert_uint_eq(r->nrows + r->nposts, 0);
	live_req_free(r);
	r = live_req_new(LIVE_TERM_DETAIL);
	r->kind = TERM_HASHTAG;
	ck_assert_int_eq(live_ask(&bus, r, 5000), 0);
	ck_assert_int_eq(r->rc, -EINVAL);
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_engine_recent_ring_wraps_and_keeps_the_newest)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start_recent(&bus, 60000, false, NULL, 0, 0, 4);
	int64_t t = now_minute() - 5 * MIN_MS;
	char id[16], text[64];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "p%d", i);
		snprintf(text, sizeof text, "#tag #only%d", i);
		post(&bus, 1, t + i * 1000, id, "ann", text);
	}
	struct live_req *r = detail(&bus, TERM_HASHTAG, "#tag", 50, 20);
	ck_assert_uint_eq(r->scanned, 4);
	ck_assert_uint_eq(r->matched, 4);
	ck_assert_uint_eq(r->nrows, 4);
	for (int i = 0; i < 10; i++) {
		snprintf(text, sizeof text, "#only%d", i);
		ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, text), i >= 6 ? 1 : -1);
	}
	ck_assert_uint_eq(r->nposts, 4);
	ck_assert(str_is(r->posts[0].id, r->posts[0].id_len, "p9"));
	ck_assert(str_is(r->posts[3].id, r->posts[3].id_len, "p6"));
	live_req_free(r);
	r = detail(&bus, TERM_HASHTAG, "#only5", 50, 20);
	ck_assert_uint_eq(r->matched, 0);
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);

	/* no ring at all: answers, from nothing */
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine_config c = { .data_dir = TRENDD_TEST_DATA_DIR, .tick_ms = 50,
				   .lateness_ms = 3000000, .checkpoint_ms = 60000,
				   .no_recent_posts = true };
	char err[256];
	ck_assert_int_eq(engine_start(&e, &c, &bus, err, sizeof err), 0);
	post(&bus, 1, t, "x", "ann", "#tag #more");
	r = detail(&bus, TERM_HASHTAG, "#tag", 50, 20);
	ck_assert_uint_eq(r->scanned, 0);
	ck_assert_uint_eq(r->nrows + r->nposts, 0);
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

/* Whether s[0..len) is valid UTF-8 throughout. */
static bool utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

START_TEST(test_engine_recent_excerpt_cut_never_splits_a_character)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 60000, false, NULL, 0, 0);
	int64_t t = now_minute() - 5 * MIN_MS;
	/* a multi-byte character across the cap at each offset it can start */
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\xa6\x80" };
	char text[600], id[16];
	int np = 0;
	for (size_t c = 0; c < 3; c++) {
		size_t clen = strlen(chars[c]);
		for (size_t back = 1; back < clen; back++) {
			size_t at = ENGINE_EXCERPT_BYTES - back, n = 0;
			n += (size_t)snprintf(text, sizeof text, "#cut ");
			memset(text + n, 'a', at - n);
			n = at;
			memcpy(text + n, chars[c], clen);
			n += clen;
			memset(text + n, 'b', 100);
			text[n + 100] = 0;
			snprintf(id, sizeof id, "c%d", np++);
			post(&bus, 1, t + np, id, "ann", text);
		}
	}
	struct live_req *r = detail(&bus, TERM_HASHTAG, "#cut", 10, 20);
	ck_assert_uint_eq(r->nposts, (size_t)np);
	for (size_t i = 0; i < r->nposts; i++) {
		const struct live_post *p = &r->posts[i];
		ck_assert_uint_le(p->text_len, ENGINE_EXCERPT_BYTES);
		ck_assert_uint_ge(p->text_len, ENGINE_EXCERPT_BYTES - 3);
		ck_assert(p->truncated);
		ck_assert_msg(utf8_valid(p->text, p->text_len), "excerpt %zu split a character", i);
		/* cut just before the character: everything up to it is there */
		ck_assert_int_eq(p->text[p->text_len - 1], 'a');
	}
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

START_TEST(test_engine_recent_keeps_hostile_text_verbatim_and_caps_each_post)
{
	struct bus bus;
	ck_assert_int_eq(bus_init(&bus), 0);
	struct engine *e = start(&bus, 60000, false, NULL, 0, 0);
	int64_t t = now_minute() - 5 * MIN_MS;
	const char *evil = "<img src=x onerror=alert(1)> #xss \"quoted\" \\ back </script>\n\t\xe2\x80\xa8";
	post(&bus, 1, t, "<b>id</b>", "<i>author</i>", evil);
	/* 100 distinct hashtags: the first ENGINE_RECENT_TERMS are kept */
	char text[2048], url[ENGINE_RECENT_URL_BYTES + 64], id[ENGINE_RECENT_ID_BYTES + 2];
	size_t n = 0;
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "#h%d ", i);
	snprintf(url, sizeof url, "https://example.org/%0*d", ENGINE_RECENT_URL_BYTES, 7);
	memset(id, 'i', sizeof id - 1);
	id[sizeof id - 1] = 0;
	struct post *p = post_new(&(struct post_fields){ .source_id = 3, .created_at_ms = t + 1,
							 .id = id, .url = url, .author = "ann",
							 .text = text, .text_len = (size_t)-1 });
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(queue_push(&bus.posts, p, 1000), 0);

	struct live_req *r = detail(&bus, TERM_HASHTAG, "#xss", 50, 5);
	ck_assert_uint_eq(r->nposts, 1);
	ck_assert(str_is(r->posts[0].text, r->posts[0].text_len, evil));
	ck_assert(str_is(r->posts[0].id, r->posts[0].id_len, "<b>id</b>"));
	ck_assert(str_is(r->posts[0].author, r->posts[0].author_len, "<i>author</i>"));
	ck_assert_int_eq(cooc_count(r, TERM_WORD, "onerror"), 1);
	live_req_free(r);

	r = detail(&bus, TERM_HASHTAG, "#h0", 50, 5);
	ck_assert_uint_eq(r->matched, 1);
	ck_assert_uint_eq(r->nrows, ENGINE_RECENT_TERMS - 1);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#h47"), 1);
	ck_assert_int_eq(cooc_count(r, TERM_HASHTAG, "#h48"), -1);
	ck_assert_uint_eq(r->posts[0].url_len, 0);  /* over the cap: no link rather than a cut one */
	ck_assert_uint_eq(r->posts[0].id_len, 0);
	ck_assert(r->posts[0].truncated);
	live_req_free(r);
	r = detail(&bus, TERM_HASHTAG, "#h60", 50, 5);
	ck_assert_uint_eq(r->matched, 0);
	live_req_free(r);
	engine_stop(e);
	drain_db(&bus);
	bus_destroy(&bus);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_engine_answers_live_requests_from_open_minutes_and_pending_rows);
	tcase_add_test(tc, test_engine_checkpoint_carries_rows_volume_state_and_cursors);
	tcase_add_test(tc, test_engine_stretches_the_checkpoint_period_when_the_state_is_slow_to_build);
	tcase_add_test(tc, test_engine_holds_the_checkpoint_until_the_marker_follows_the_posts);
	tcase_add_test(tc, test_engine_waits_for_a_marker_without_spinning);
	tcase_add_test(tc, test_engine_keeps_every_row_while_the_db_queue_is_full);
	tcase_add_test(tc, test_engine_restored_from_a_state_counts_like_an_uninterrupted_one);
	tcase_add_test(tc, test_engine_starts_empty_from_a_damaged_state_and_keeps_counting);
	tcase_add_test(tc, test_engine_restores_from_a_state_and_its_segments);
	tcase_add_test(tc, test_engine_term_detail_counts_shared_posts_exactly);
	tcase_add_test(tc, test_engine_recent_ring_wraps_and_keeps_the_newest);
	tcase_add_test(tc, test_engine_recent_excerpt_cut_never_splits_a_character);
	tcase_add_test(tc, test_engine_recent_keeps_hostile_text_verbatim_and_caps_each_post);
	tcase_add_test(tc, test_engine_rebuilds_language_and_source_views_in_turn_within_the_budget);
	tcase_add_test(tc, test_engine_language_and_source_windows_keep_view_top_m_terms);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
