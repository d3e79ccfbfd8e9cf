/*
 * fuzz_window_util.h - what the window fuzz targets (fuzz_state.c,
 * fuzz_window.c) share: the terms their posts are made of, and a finding
 * aborts with a line naming the target (FUZZ_NAME, defined before including
 * this), what went wrong and why.
 */
#ifndef TRENDD_FUZZ_WINDOW_UTIL_H
#define TRENDD_FUZZ_WINDOW_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "core/strbuf.h"
#include "core/term.h"

/* The terms posts are made of: every kind, a text of over 16 bytes. */
static const char *const words[] = { "coffee", "rust", "election", "#trendd", "@ada@example.org",
				     "$tsla", "example.com", "a-term-of-more-than-sixteen-bytes",
				     "🚀", "rust lang" };
static const uint8_t kinds[] = { TERM_WORD,    TERM_WORD,   TERM_WORD,  TERM_HASHTAG,
				 TERM_MENTION, TERM_CASHTAG, TERM_DOMAIN, TERM_WORD,
				 TERM_EMOJI,   TERM_BIGRAM };
#define NWORDS (sizeof words / sizeof *words)

/* Counts a post at t by author with the terms whose bits are set in pick. */
static void post(struct window *w, int64_t t, uint32_t author, uint32_t pick, float compound)
{
	struct token tk[NWORDS];
	size_t n = 0;
	for (size_t i = 0; i < NWORDS; i++)
		if (pick >> i & 1)
			tk[n++] = (struct token){ words[i], (uint16_t)strlen(words[i]), kinds[i] };
	struct window_post p = { t, author, compound, tk, n };
	window_add_post(w, &p);
}

static void fail(const char *what, const char *err)
{
	fprintf(stderr, FUZZ_NAME ": %s: %s\n", what, err);
	abort();
}

/* Aborts unless w holds its invariants (window_check()). */
static void check(struct window *w, const char *when)
{
	char err[512] = "";
	if (window_check(w, err, sizeof err) != 0)
		fail(when, err);
}

/* Saves w into a fresh buffer; aborts when out of memory. */
static char *save(const struct window *w, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	window_state_save(w, &sb);
	if (sb.failed)
		fail("save", "out of memory");
	*len = sb.len;
	return sb.buf;
}

#endif
