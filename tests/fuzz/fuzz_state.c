/*
 * fuzz_state.c - libFuzzer target: a saved window state, as trendd reads it
 * back after a restart or a crash.
 *
 * A state ends in a hash of the bytes before it, so nearly every random
 * change would be refused at the first check; the target recomputes that
 * hash, so the input reaches the checks behind it. A state that loads must
 * then hold the window's invariants (window_check), save and load again to
 * the same bytes, answer reads of every window and kind, and go on counting
 * posts and sliding through an hour of event time with its invariants
 * intact. Anything else aborts, besides what the sanitizers catch.
 *
 * Seeds: run it once with TRENDD_FUZZ_STATE_SEEDS=DIR and it writes states
 * of a few shapes (seconds, minutes, quarter hours, late posts, pruned
 * buckets, author sets of every form) to DIR and exits. Built with
 * -DTRENDD_FUZZ=ON (see docs/ARCHITECTURE.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "core/hash.h"
#include "core/snapshot.h"
#include "core/strbuf.h"
#include "core/term.h"

#define FUZZ_NAME "fuzz_state"
#include "tests/fuzz/fuzz_window_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1795608000000LL /* event time the seeds start at, in ms */

/* The configuration every seed was saved with and every input is loaded with. */
static void config(struct window_config *c)
{
	window_config_defaults(c);
	c->lateness_ms = 60000;
	c->top_m = 32;
}

/* Reads every window and kind of w: views, a term's totals and the open minutes. */
static int count_rows(void *ctx, int64_t minute_ms, const struct window_minute_row *rows, size_t n,
		      const struct window_minute_volume *v)
{
	(void)minute_ms;
	(void)rows;
	(void)v;
	*(size_t *)ctx += n;
	return 0;
}

static void read_all(struct window *w)
{
	for (int win = 0; win < WINDOW_COUNT; win++) {
		struct snapshot *s = snapshot_new();
		struct snapshot_view *v = s ? snapshot_alloc(s, sizeof *v) : NULL;
		if (v && window_fill_view(w, win, s, v) != 0)
			fail("view", "refused");
		if (s)
			snapshot_put(s);
		for (size_t i = 0; i < NWORDS; i++) {
			struct window_term_info info;
			window_lookup(w, win, kinds[i], words[i], strlen(words[i]), &info);
		}
	}
	size_t rows = 0;
	window_open_minutes(w, INT64_MIN, INT64_MAX, TERM_KIND_ALL, NULL, 0, count_rows, &rows);
}

/* Writes the seeds to dir: windows fed in a few different ways. */
static void write_seeds(const char *dir)
{
	struct window_config c;
	config(&c);
	static const struct {
		int posts, step_ms, authors;
	} shape[] = {
		{ 1, 1, 1 },        /* one post */
		{ 40, 900, 3 },     /* seconds of one minute */
		{ 300, 7000, 50 },  /* minutes, a few closed */
		{ 600, 20000, 400 },/* past a quarter hour, pruned buckets */
		{ 4000, 50, 3000 }, /* author sets that grow sparse and dense */
	};
	for (size_t k = 0; k < sizeof shape / sizeof *shape; k++) {
		struct window *w = window_new(&c);
		if (!w)
			fail("seed", "out of memory");
		uint64_t r = 0x9e3779b97f4a7c15ull * (k + 1);
		int64_t t = T0;
		for (int i = 0; i < shape[k].posts; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t author = (uint32_t)(r >> 33) % (uint32_t)shape[k].authors;
			/* now and then a post from before the watermark, or just inside it */
			int64_t at = (r >> 20) % 17 == 0 ? t - (int64_t)((r >> 40) % 90000) : t;
			post(w, at, author * 2654435761u, (uint32_t)(r >> 44) | 1,
			     (float)((int)((r >> 8) % 200) - 100) / 100.0f);
			t += shape[k].step_ms;
		}
		size_t len;
		char *st = save(w, &len);
		char path[4096];
		snprintf(path, sizeof path, "%s/state-%zu.bin", dir, k);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(st, 1, len, f) != len || fclose(f) != 0)
			fail(path, "cannot write");
		free(st);
		window_free(w);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *dir = getenv("TRENDD_FUZZ_STATE_SEEDS");
	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct window_config c;
	char err[512] = "";
	struct window *w = NULL;

	config(&c);
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= 8) {
		uint64_t h = hash_bytes(buf, size - 8);
		memcpy(buf + size - 8, &h, 8);
	}
	int rc = window_state_load(&w, &c, buf, size, err, sizeof err);
	free(buf);
	if (rc != 0) {
		if (w || !err[0])
			fail("refused", w ? "but a window came back" : "without a reason");
		return 0;
	}
	check(w, "loaded");

	/* saved again, it loads again, to the same bytes */
	size_t len1, len2;
	char *s1 = save(w, &len1);
	struct window *again = NULL;
	if (window_state_load(&again, &c, s1, len1, err, sizeof err) != 0)
		fail("its own save refused", err);
	char *s2 = save(again, &len2);
	if (len1 != len2 || memcmp(s1, s2, len1) != 0)
		fail("save, load, save", "differs");
	free(s1);
	free(s2);
	window_free(again);

	/* it reads, counts on and slides */
	read_all(w);
	int64_t end = window_end_ms(w);
	for (int i = 0; i < 64; i++)
		post(w, end - 30000 + i * 1000, (uint32_t)i * 2654435761u, (uint32_t)i * 37 + 1, 0.5f);
	check(w, "fed");
	window_advance(w, end + 3600000);
	check(w, "an hour on");
	read_all(w);
	window_free(w);
	return 0;
}
