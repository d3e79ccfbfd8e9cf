/*
 * fuzz_window.c - libFuzzer target: a window driven through an event stream
 * the input spells out, read as the engine reads it, and compared with a
 * fresh copy of itself.
 *
 * A view keeps work between reads: each term's author union over the closed
 * buckets, the unions and baseline sums the next bucket will need (built
 * ahead of the window's end moving on), and the buckets it lists per view.
 * Each cache holds only until some change of the buckets it was built from,
 * and the changes come from everywhere: posts inside the lateness that land
 * in closed or baseline buckets' neighbours, minutes rolling up into a
 * closed quarter hour, event time jumping minutes to days, pruning, restores.
 * The input picks the configuration (lateness, top-m, minimum authors), then
 * a sequence of operations - posts of a few terms by chosen authors at, ahead
 * of or behind the event time, crowds of authors on one term, small and large
 * advances of the clock, save and restore (whole, or incrementally through a
 * store of segments that keeps only what the newest state names, and then
 * the copy must save whole to the original's bytes), view reads (all at once
 * or one window after the other), and comparisons. A comparison saves the
 * window, loads the state into a fresh window (nothing cached) and requires
 * every view of both to render to the same bytes; the window's invariants
 * are checked as well (window_check). Anything else aborts, besides what the
 * sanitizers catch. Built with -DTRENDD_FUZZ=ON (see docs/ARCHITECTURE.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "core/limits.h"
#include "core/snapshot.h"
#include "core/snapshot_json.h"
#include "core/strbuf.h"
#include "core/term.h"

#define FUZZ_NAME "fuzz_window"
#include "tests/fuzz/fuzz_window_util.h"
#include "tests/unit/segstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1795608000000LL /* event time a run starts at, in ms */

/* The input, read a byte at a time; 0 once it is used up. */
struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned next(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static struct window *load(const struct window_config *c, const char *st, size_t len)
{
	char err[512] = "";
	struct window *w = NULL;
	if (window_state_load(&w, c, st, len, err, sizeof err) != 0)
		fail("its own state refused", err);
	return w;
}

/* Every view of w rendered, both sorts, every kind: as the engine (at_once) or window by window. */
static char *views_json(struct window *w, int at_once)
{
	struct strbuf out = STRBUF_INIT;
	struct snapshot *s = snapshot_new();
	struct snapshot_view *v = s ? snapshot_alloc(s, WINDOW_COUNT * sizeof *v) : NULL;
	if (!v)
		fail("views", "out of memory");
	s->views = v;
	s->nviews = WINDOW_COUNT;
	if (at_once && window_fill_views(w, s, v) != 0)
		fail("views", "refused");
	for (int win = 0; !at_once && win < WINDOW_COUNT; win++)
		if (window_fill_view(w, win, s, &v[win]) != 0)
			fail("view", "refused");
	for (int win = 0; win < WINDOW_COUNT; win++)
		for (int sort = 0; sort < 2; sort++) {
			struct trends_query q = { .window = win, .kind = TERM_KIND_ALL, .sort = sort,
						  .limit = LIMIT_TRENDS_PER_VIEW, .lang = "" };
			if (snapshot_json_members(&out, s, &q) != 0)
				fail("views", "not rendered");
			sb_putc(&out, '\n');
		}
	snapshot_put(s);
	if (out.failed)
		fail("views", "out of memory");
	return out.buf;
}

/*
 * A copy of w restored from an incremental save into st (segs carries the
 * ids on, as the engine does): it must save whole to the very bytes w does.
 */
static struct window *via_segments(struct window *w, const struct window_config *c,
				   struct segs *st, struct window_segments *segs)
{
	struct strbuf sb = STRBUF_INIT;
	char err[512] = "";
	window_state_save_segments(w, &sb, segs);
	if (sb.failed || segs->out.failed || segs->refs.failed)
		fail("incremental save", "out of memory");
	if (segs_commit(st, segs->out.buf, segs->out.len, (const uint64_t *)(void *)segs->refs.buf,
			segs->refs.len / sizeof(uint64_t)) < 0)
		fail("incremental save", "malformed segments, or an id given twice");
	sb_reset(&segs->out);
	sb_reset(&segs->refs);
	struct window *r = NULL;
	if (window_state_load_segments(&r, c, sb.buf, sb.len, segs_lookup, st, err, sizeof err) != 0)
		fail("its own incremental state refused", err);
	size_t la, lb;
	char *a = save(w, &la), *b = save(r, &lb);
	if (la != lb || memcmp(a, b, la) != 0)
		fail("incremental state", "restores to another window");
	free(a);
	free(b);
	free(sb.buf);
	return r;
}

/* w's views (which use and fill its caches) against a fresh copy's (none). */
static void compare_fresh(struct window *w, const struct window_config *c, int at_once)
{
	size_t len;
	char *st = save(w, &len);
	struct window *fresh = load(c, st, len);
	char *a = views_json(w, at_once), *b = views_json(fresh, !at_once);
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "--- window\n%s--- fresh copy\n%s", a, b);
		fail("views", "differ from a fresh copy's");
	}
	free(a);
	free(b);
	free(st);
	window_free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* up to the most allowed: late seconds open outside the 5m window */
	static const int64_t lateness[] = { 0, 1000, 20000, 60000, 600000, 3000000 };
	static const uint32_t top_m[] = { 2, 4, 16, 4096 };
	static const int64_t jumps[] = { 60000, 900000, 3600000, 86400000, 90000000, 172800000 };
	struct input in = { data, size };
	struct window_config c;

	window_config_defaults(&c);
	unsigned cfg = next(&in);
	c.lateness_ms = lateness[cfg % 6];
	c.top_m = top_m[cfg / 6 % 4];
	c.min_authors = 1 + cfg / 24 % 5;
	c.warmup_ms = cfg & 0x80 ? 0 : c.warmup_ms;
	struct window *w = window_new(&c);
	if (!w)
		return 0;
	int64_t t = T0;
	uint32_t crowd = 1;
	struct segs st = { 0 };
	struct window_segments segs = { .next_id = 1, .min_bytes = cfg & 0x40 ? 1 : 0 };
	for (unsigned ops = 0; in.n && ops < 1000; ops++) {
		unsigned op = next(&in);
		switch (op & 15) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6: {
			/* a post: now, a little later, or behind by up to twice the lateness */
			unsigned pick = next(&in), who = next(&in), when = next(&in);
			int64_t at = t;
			if (when & 0x80)
				at = t - (int64_t)(when & 0x7F) * (c.lateness_ms * 2 + 1000) / 127;
			else
				t += (int64_t)when * 97;
			post(w, at, who * 2654435761u, pick,
			     (float)((int)(op >> 4) - 8) / 8.0f);
			break;
		}
		case 7: {
			/* a crowd of new authors: sets grow, one in 16 past dense */
			unsigned pick = next(&in), k = next(&in);
			int many = (k & 15) == 15 ? 1100 : (int)(k & 15) * 24 + 1;
			for (int i = 0; i < many; i++)
				post(w, t, (crowd++) * 40503u, pick, 0.5f);
			t += (int64_t)(k >> 4) * 1000;
			break;
		}
		case 8:
			t += (int64_t)next(&in) * 1000;
			window_advance(w, t);
			break;
		case 9: {
			/* a jump of a minute to two days, give or take half a minute */
			unsigned j = next(&in);
			t += jumps[j % 6] + ((int64_t)(j / 6) - 21) * 1500;
			if (j & 1)
				window_advance(w, t);
			break;
		}
		case 10: {
			struct window *r;
			if (op & 16) {
				r = via_segments(w, &c, &st, &segs);
			} else {
				size_t len;
				char *bytes = save(w, &len);
				r = load(&c, bytes, len);
				free(bytes);
			}
			window_free(w);
			w = r;
			break;
		}
		case 11: case 12: case 13:
			free(views_json(w, op & 1));
			break;
		case 14:
			compare_fresh(w, &c, op & 16);
			break;
		default:
			check(w, "invariants");
			break;
		}
	}
	check(w, "at the end");
	compare_fresh(w, &c, 1);
	window_free(via_segments(w, &c, &st, &segs));
	window_free(w);
	segs_free(&st);
	sb_free(&segs.out);
	sb_free(&segs.refs);
	return 0;
}
