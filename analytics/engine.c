#include "analytics/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/engine_impl.h"
#include "analytics/sentiment.h"
#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/live.h"
#include "core/log.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/strbuf.h"
#include "core/term.h"

#define BATCH 512
#define LIVE_POLL_MS 20       /* longest wait for posts (a live request wakes it sooner) */
#define LIVE_BATCH 64
#define CKPT_RETRY_MS 100     /* db queue full: try the checkpoint again this soon */
#define CKPT_COVER_POLL_MS 20 /* waiting for a marker: look again this soon at the latest */
#define CKPT_CATCHUP_ITEMS (2 * LIMIT_POSTS_PER_PAGE) /* items taken to reach the markers */
#define STATE_MAGIC 0x31534554u /* "TES1" */
#define STATE_VERSION 1
#define MAX_MARKED_SOURCES LIMIT_SOURCES
#define POST_PREFETCH_BYTES 384   /* of a post from the queue: header, fields, text start */
#define RECENT_PREFETCH_BYTES 512 /* of the next recent-post slot: hashes, id, text start */

static uint64_t row_hash(uint8_t kind, int64_t minute_ms, const char *term, size_t len)
{
	return hash_bytes_seed(term, len, (uint64_t)minute_ms * 0x9e3779b97f4a7c15ull + kind);
}

static int batch_reindex(struct row_batch *b, size_t cap)
{
	uint32_t *idx = calloc(cap, sizeof *idx);
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		const struct term_minute_row *r = &b->rows[i];
		size_t j = row_hash(r->kind, r->minute_ms, b->pool + (uintptr_t)r->term,
				    r->term_len) & (cap - 1);
		while (idx[j])
			j = (j + 1) & (cap - 1);
		idx[j] = (uint32_t)i + 1;
	}
	free(b->idx);
	b->idx = idx;
	b->idx_cap = cap;
	return 0;
}

/* Adds a row, merging it into the row of the same (kind, minute, term). 0 or -ENOMEM. */
int row_batch_add(struct row_batch *b, const char *term, uint32_t len, uint8_t kind,
		  int64_t minute_ms, uint32_t count, uint32_t authors, uint32_t pos, uint32_t neg,
		  double sent)
{
	if ((b->n + 1) * 2 > b->idx_cap &&
	    batch_reindex(b, b->idx_cap ? b->idx_cap * 2 : 2048) < 0)
		return -ENOMEM;
	size_t mask = b->idx_cap - 1, j = row_hash(kind, minute_ms, term, len) & mask;
	for (; b->idx[j]; j = (j + 1) & mask) {
		struct term_minute_row *r = &b->rows[b->idx[j] - 1];
		if (r->kind == kind && r->minute_ms == minute_ms && r->term_len == len &&
		    memcmp(b->pool + (uintptr_t)r->term, term, len) == 0) {
			r->count += count;
			r->authors = authors > r->authors ? authors : r->authors;
			r->pos += pos;
			r->neg += neg;
			r->sent_sum += sent;
			return 0;
		}
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct term_minute_row *r = realloc(b->rows, cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		b->rows = r;
		b->cap = cap;
	}
	if (b->pool_len + len + 1 > b->pool_cap) {
		size_t cap = b->pool_cap ? b->pool_cap * 2 : 16384;
		while (cap < b->pool_len + len + 1)
			cap *= 2;
		char *p = realloc(b->pool, cap);
		if (!p)
			return -ENOMEM;
		b->pool = p;
		b->pool_cap = cap;
	}
	memcpy(b->pool + b->pool_len, term, len);
	b->pool[b->pool_len + len] = 0;
	b->rows[b->n] = (struct term_minute_row){
		.term = (const char *)(uintptr_t)b->pool_len, /* offset, fixed up on send */
		.term_len = len, .kind = kind, .minute_ms = minute_ms, .count = count,
		.authors = authors, .pos = pos, .neg = neg, .sent_sum = sent,
	};
	b->idx[j] = (uint32_t)++b->n;
	b->pool_len += len + 1;
	return 0;
}

void row_batch_free(struct row_batch *b)
{
	free(b->rows);
	free(b->pool);
	free(b->idx);
	memset(b, 0, sizeof *b);
}

static int vol_add(struct vol_batch *v, int64_t minute_ms, uint64_t posts, uint64_t pos,
		   uint64_t neg, double sent)
{
	/* newest minutes are the likely ones: search from the end */
	for (size_t i = v->n; i-- > 0;)
		if (v->rows[i].minute_ms == minute_ms) {
			v->rows[i].posts += (uint32_t)posts;
			v->rows[i].pos += (uint32_t)pos;
			v->rows[i].neg += (uint32_t)neg;
			v->rows[i].sent_sum += sent;
			return 0;
		}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct volume_minute_row *r = realloc(v->rows, cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		v->rows = r;
		v->cap = cap;
	}
	v->rows[v->n++] = (struct volume_minute_row){ minute_ms, (uint32_t)posts, (uint32_t)pos,
						      (uint32_t)neg, sent };
	return 0;
}

/* Out of memory for history rows: the one loss the engine cannot avoid; said once. */
static void rows_lost(struct engine *e)
{
	if (!e->rows_warned)
		log_error("analytics", "out of memory holding history rows: some are lost");
	e->rows_warned = true;
}

static void on_minute(void *ctx, int64_t minute_ms, const struct window_minute_row *rows,
		      size_t n)
{
	struct engine *e = ctx;
	for (size_t i = 0; i < n; i++)
		if (row_batch_add(&e->pending, rows[i].term, rows[i].term_len, rows[i].kind, minute_ms,
			      rows[i].count, rows[i].authors, rows[i].pos, rows[i].neg,
			      rows[i].sent_sum) < 0)
			rows_lost(e);
}

static void on_volume(void *ctx, int64_t minute_ms, const struct window_minute_volume *v)
{
	struct engine *e = ctx;
	if (vol_add(&e->volume, minute_ms, v->posts, v->pos, v->neg, v->sent_sum) < 0)
		rows_lost(e);
}

/* ---- cursor markers ---- */

static struct mark *mark_find(struct engine *e, int64_t source_id, bool create)
{
	for (size_t i = 0; i < e->nmarks; i++)
		if (e->marks[i].cur.source_id == source_id)
			return &e->marks[i];
	if (!create || e->nmarks >= MAX_MARKED_SOURCES)
		return NULL;
	if (!e->marks && !(e->marks = calloc(MAX_MARKED_SOURCES, sizeof *e->marks)))
		return NULL;
	struct mark *m = &e->marks[e->nmarks++];
	memset(m, 0, sizeof *m);
	m->cur.source_id = source_id;
	return m;
}

static void mark_take(struct engine *e, const struct source_cursor *c)
{
	struct mark *m = mark_find(e, c->source_id, true);
	struct source_cursor copy;
	if (!m || source_cursor_copy(&copy, c) < 0) {
		log_error("analytics", "out of memory keeping the cursor of source %lld",
			  (long long)c->source_id);
		return;
	}
	source_cursor_clear(&m->cur);
	m->cur = copy;
	m->has = m->dirty = true;
	m->uncovered = 0;
}

static void mark_post(struct engine *e, int64_t source_id)
{
	struct mark *m = mark_find(e, source_id, e->cfg.cursor_markers);
	if (m)
		m->uncovered++;
}

/* Whether every post counted so far is covered by its source's newest marker. */
static bool marks_covered(const struct engine *e)
{
	for (size_t i = 0; i < e->nmarks; i++)
		if (e->marks[i].uncovered)
			return false;
	return true;
}

static const char *join_title(struct engine *e, const struct post *p, size_t *len)
{
	size_t tl = strlen(p->title);
	if (tl == 0) {
		*len = p->text_len;
		return p->text;
	}
	size_t need = tl + 2 + p->text_len + 1;
	if (need > e->textbuf_cap) {
		char *nb = realloc(e->textbuf, need);
		if (!nb) {
			*len = p->text_len;
			return p->text;
		}
		e->textbuf = nb;
		e->textbuf_cap = need;
	}
	memcpy(e->textbuf, p->title, tl);
	memcpy(e->textbuf + tl, "\n\n", 2);
	memcpy(e->textbuf + tl + 2, p->text, p->text_len);
	*len = tl + 2 + p->text_len;
	e->textbuf[*len] = 0;
	return e->textbuf;
}

/* The windows for (lang, source_id), created on first use; NULL when at the cap. */
static struct window *dim_window(struct engine *e, const char *lang, int64_t source_id)
{
	for (size_t i = 0; i < e->ndims; i++)
		if (e->dims[i].source_id == source_id && strcmp(e->dims[i].lang, lang) == 0) {
			e->dims[i].last_post_ms = clock_now_ms();
			return e->dims[i].w;
		}
	bool is_lang = lang[0] != 0;
	if ((is_lang && e->nlang_dims >= ENGINE_MAX_LANG_VIEWS) ||
	    (!is_lang && e->nsource_dims >= ENGINE_MAX_SOURCE_VIEWS)) {
		if (!e->dims_full_warned)
			log_warn("analytics", "more than %d languages or %d sources: the rest are "
					      "counted in the global windows only",
				 ENGINE_MAX_LANG_VIEWS, ENGINE_MAX_SOURCE_VIEWS);
		e->dims_full_warned = true;
		return NULL;
	}
	struct window *w = window_new(&e->dim_wcfg);
	if (!w)
		return NULL;
	/* start where the global windows are, so the new one is not behind */
	window_advance(w, window_end_ms(e->win));
	struct dimwin *d = &e->dims[e->ndims++];
	memset(d, 0, sizeof *d);
	snprintf(d->lang, sizeof d->lang, "%s", lang);
	d->source_id = source_id;
	d->w = w;
	d->last_post_ms = clock_now_ms();
	if (is_lang)
		e->nlang_dims++;
	else
		e->nsource_dims++;
	return w;
}

/* Drops dimensions that saw no post for a day: their windows are empty by now. */
static void dims_expire(struct engine *e, int64_t now_ms)
{
	for (size_t i = 0; i < e->ndims;) {
		struct dimwin *d = &e->dims[i];
		if (now_ms - d->last_post_ms < ENGINE_VIEW_IDLE_MS) {
			i++;
			continue;
		}
		window_free(d->w);
		if (d->lang[0])
			e->nlang_dims--;
		else
			e->nsource_dims--;
		e->dims[i] = e->dims[--e->ndims];
	}
}

/* ---- recent posts, for term detail ---- */

/* Length of s[0..len) cut to at most cap bytes, never inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t cap)
{
	if (len <= cap)
		return len;
	size_t n = cap;
	/* back off continuation bytes: s[n] must start a character */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * Keeps p (title + text in text[0..len), its terms and sentiment) in the
 * ring, in place of the oldest post when full. Costs the hashes of its
 * distinct terms, one copy of at most ENGINE_RECENT_POST_MAX_BYTES and one
 * realloc; out of memory, the slot is left empty.
 */
static void recent_add(struct engine *e, const struct post *p, const char *text, size_t len,
		       const struct token *tokens, size_t n, float compound)
{
	uint64_t hashes[ENGINE_RECENT_TERMS];
	uint16_t which[ENGINE_RECENT_TERMS];
	size_t nt = 0, term_bytes = 0;
	uint64_t seen = 0; /* bit h % 64 of every hash kept: most new terms skip the search */

	if (!e->recent_cap)
		return;
	for (size_t i = 0; i < n && nt < ENGINE_RECENT_TERMS; i++) {
		const struct token *t = &tokens[i];
		if (t->len == 0 || t->len > UINT8_MAX || term_bytes + t->len > ENGINE_RECENT_TERM_BYTES)
			continue;
		uint64_t h = term_hash(t->kind, t->s, t->len), bit = 1ull << (h & 63);
		bool dup = false;
		for (size_t j = 0; (seen & bit) && j < nt && !dup; j++)
			dup = hashes[j] == h;
		if (dup)
			continue;
		seen |= bit;
		hashes[nt] = h;
		which[nt++] = (uint16_t)i;
		term_bytes += t->len;
	}
	size_t id_len = strlen(p->id), url_len = strlen(p->url);
	size_t author_len = utf8_cut(p->author, strlen(p->author), ENGINE_RECENT_AUTHOR_BYTES);
	size_t text_len = utf8_cut(text, len, ENGINE_EXCERPT_BYTES);
	if (id_len > ENGINE_RECENT_ID_BYTES)
		id_len = 0;
	if (url_len > ENGINE_RECENT_URL_BYTES)
		url_len = 0;
	size_t size = nt * sizeof *hashes + id_len + url_len + author_len + text_len +
		      2 * nt + term_bytes;

	struct recent_post *rp = &e->recent[e->recent_next];
	bool was_full = rp->rec != NULL;
	uint64_t *rec = rp->rec;
	uint32_t cap = rp->cap;
	if (++e->recent_next == e->recent_cap)
		e->recent_next = 0;
	/*
	 * The slots ahead were last written ring-size posts ago and are far out
	 * of the caches: the slot 8 posts ahead is fetched now, and the start of
	 * the next post's block (whose slot came 7 posts ago) for writing, so
	 * that neither the copy nor the slot's fields wait for those lines.
	 */
	size_t ahead = e->recent_next + 8;
	__builtin_prefetch(&e->recent[ahead < e->recent_cap ? ahead : ahead % e->recent_cap]);
	const struct recent_post *nx = &e->recent[e->recent_next];
	for (uint32_t o = 0; nx->rec && o < nx->cap && o < RECENT_PREFETCH_BYTES; o += 64)
		__builtin_prefetch((const char *)nx->rec + o, 1);
	if (size > cap || !rec) {
		/*
		 * The slot's block is kept for the posts that take the slot later
		 * and grows in steps of 256 bytes, so most posts need no
		 * allocation: allocating and freeing a block per post, each in
		 * memory last touched 20,000 posts ago, was a fifth of the
		 * analytics thread's time at full load.
		 */
		cap = (uint32_t)((size + 256) & ~(size_t)255);
		free(rec);
		rec = malloc(cap);
	}
	if (!rec) {
		/* the oldest goes anyway: the ring keeps its order, one post short */
		memset(rp, 0, sizeof *rp);
		e->recent_n -= was_full;
		return;
	}
	e->recent_n += !was_full;
	*rp = (struct recent_post){
		.rec = rec, .cap = cap, .source_id = p->source_id, .event_ms = p->created_at_ms,
		.compound = compound, .nterms = (uint16_t)nt, .id_len = (uint16_t)id_len,
		.url_len = (uint16_t)url_len, .author_len = (uint16_t)author_len,
		.text_len = (uint16_t)text_len, .truncated = text_len < len,
	};
	memcpy(rec, hashes, nt * sizeof *hashes);
	char *c = (char *)(rec + nt);
	memcpy(c, p->id, id_len);
	c += id_len;
	memcpy(c, p->url, url_len);
	c += url_len;
	memcpy(c, p->author, author_len);
	c += author_len;
	memcpy(c, text, text_len);
	c += text_len;
	for (size_t i = 0; i < nt; i++) {
		const struct token *t = &tokens[which[i]];
		*c++ = (char)t->kind;
		*c++ = (char)t->len;
		memcpy(c, t->s, t->len);
		c += t->len;
	}
}

static void recent_free(struct engine *e)
{
	for (size_t i = 0; e->recent && i < e->recent_cap; i++)
		free(e->recent[i].rec);
	free(e->recent);
	e->recent = NULL;
	e->recent_cap = e->recent_n = e->recent_next = 0;
}

static uint32_t author_hash(const struct post *p)
{
	if (p->author[0])
		return (uint32_t)(hash_bytes(p->author, strlen(p->author)) >> 32);
	/* No author: the source speaks as one voice, so it cannot make a trend alone. */
	return (uint32_t)(hash_u64((uint64_t)p->source_id ^ 0x5bd1e995u) >> 32);
}

/* Counts post p, whose sentiment score() gave. */
static void process(struct engine *e, const struct post *p, float compound)
{
	size_t len;
	const char *text = join_title(e, p, &len);
	const struct token *tokens;
	size_t n = tokenizer_run(e->tok, text, len, p->lang, &tokens);

	struct window_post wp = {
		.event_ms = p->created_at_ms,
		.author_hash = author_hash(p),
		.compound = compound,
		.tokens = tokens,
		.ntokens = n,
	};
	e->posts_total++;
	e->tokens_total += n;
	int64_t sec = clock_now_ms() / 1000;
	if (sec != e->rate_sec) {
		for (int64_t s = e->rate_sec + 1; s <= sec && s <= e->rate_sec + RATE_SECONDS; s++)
			e->rate[s % RATE_SECONDS] = 0;
		e->rate_sec = sec;
	}
	e->rate[sec % RATE_SECONDS]++;

	if (window_add_post(e->win, &wp) == WINDOW_ADDED) {
		char key[16];
		struct window *w;
		term_lang_key(p->lang, key, sizeof key);
		if (!e->cfg.no_lang_views && key[0] && (w = dim_window(e, key, 0)))
			window_add_post(w, &wp);
		if (!e->cfg.no_source_views && p->source_id > 0 &&
		    (w = dim_window(e, "", p->source_id)))
			window_add_post(w, &wp);
	} else {
		/* Behind the watermark: history still gets it, one row per term. */
		int64_t minute = p->created_at_ms - ((p->created_at_ms % 60000) + 60000) % 60000;
		uint32_t pos = wp.compound >= 0.05f, neg = wp.compound <= -0.05f;
		for (size_t i = 0; i < n; i++) {
			bool dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup = tokens[j].kind == tokens[i].kind && tokens[j].len == tokens[i].len &&
				      memcmp(tokens[j].s, tokens[i].s, tokens[i].len) == 0;
			if (!dup && row_batch_add(&e->pending, tokens[i].s, tokens[i].len, tokens[i].kind,
					      minute, 1, 1, pos, neg, wp.compound) < 0)
				rows_lost(e);
		}
		if (vol_add(&e->volume, minute, 1, pos, neg, wp.compound) < 0)
			rows_lost(e);
	}
	recent_add(e, p, text, len, tokens, n, wp.compound);
}

/*
 * The compound sentiment score of post p. A post with a title is joined
 * again when it is counted (process()): the join buffer holds one post at a
 * time, and a copy of the text costs little beside scoring it.
 */
static float score(struct engine *e, const struct post *p)
{
	size_t len;
	const char *text = join_title(e, p, &len);
	struct sentiment sent;
	vader_score(e->vader, e->vscratch, text, len, &sent);
	return (float)sent.compound;
}

/*
 * A post was made on an ingest thread, and its lines are in that thread's
 * core's caches or memory: the header, the fields and the start of the text
 * are fetched two posts ahead of scoring.
 */
static inline void post_prefetch(const void *p)
{
	for (unsigned o = 0; o < POST_PREFETCH_BYTES; o += 64)
		__builtin_prefetch((const char *)p + o);
}

/*
 * Items off the post queue, in order: posts to count, and sources' cursor
 * markers. The posts' sentiment is scored first, ENGINE_SCORE_AHEAD posts
 * at a time, and then each post is tokenized and counted: the scorer and
 * the tokenizer each run on with their own code and tables warm, which cuts
 * the time a post takes by 2-6% against tokenizing, scoring and counting
 * each post in turn (bench/analytics, stage score_ahead). Scoring reads
 * nothing but the post.
 */
static void consume(struct engine *e, void *const *items, size_t n)
{
	float compound[ENGINE_SCORE_AHEAD];
	for (size_t at = 0; at < n; at += ENGINE_SCORE_AHEAD) {
		size_t m = n - at < ENGINE_SCORE_AHEAD ? n - at : ENGINE_SCORE_AHEAD;
		for (size_t i = 0; i < m; i++) {
			if (i + 2 < m)
				post_prefetch(items[at + i + 2]);
			if (!dbmsg_marker_cursor(items[at + i]))
				compound[i] = score(e, items[at + i]);
		}
		for (size_t i = 0; i < m; i++) {
			struct post *p = items[at + i];
			const struct source_cursor *c = dbmsg_marker_cursor(p);
			e->consumed++;
			if (c) {
				mark_take(e, c);
			} else {
				process(e, p, compound[i]);
				mark_post(e, p->source_id);
			}
			post_free(p);
		}
	}
}

/*
 * The views of the language and source windows. A day into a run each
 * window's three views take milliseconds to rebuild, seconds for all of
 * them when a minute or quarter hour closes (docs/ANALYTICS.md, tick
 * stage) - the thread would count no post meanwhile. So they are rebuilt in
 * turn, starting where the last tick stopped, while the tick has spent less
 * than the budget, and at least one window's; the others carry their views
 * over from the last snapshot (computed_ms says when they were counted). A
 * window without views there yet (new) is built whatever the budget.
 */
static int fill_dim_views(struct engine *e, struct snapshot *s)
{
	int64_t t0_us = clock_mono_us();
	int64_t budget = e->cfg.view_budget_us > 0 ? e->cfg.view_budget_us : ENGINE_VIEW_BUDGET_US;
	size_t nd = e->ndims, done = 0;
	bool stopped = false;
	for (size_t i = 0; i < nd; i++) {
		size_t d = (e->dim_next + i) % nd;
		const struct dimwin *dw = &e->dims[d];
		struct snapshot_view *v = &s->views[WINDOW_COUNT * (1 + d)];
		const struct snapshot_view *old[WINDOW_COUNT] = { NULL };
		bool carry = e->last && (stopped || (i > 0 && clock_mono_us() - t0_us >= budget));
		for (int w = 0; carry && w < WINDOW_COUNT; w++)
			carry = (old[w] = snapshot_find_view(e->last, w, dw->lang, dw->source_id));
		if (carry) {
			stopped = true;
			for (int w = 0; w < WINDOW_COUNT; w++)
				if (snapshot_view_copy(s, &v[w], old[w]) < 0)
					return -ENOMEM;
			continue;
		}
		if (window_fill_views(dw->w, s, v) < 0)
			return -ENOMEM;
		for (int w = 0; w < WINDOW_COUNT; w++) {
			snprintf(v[w].lang, sizeof v[w].lang, "%s", dw->lang);
			v[w].source_id = dw->source_id;
			v[w].computed_ms = s->generated_ms;
		}
		if (!stopped)
			done = i + 1;
	}
	e->dim_next = nd ? (e->dim_next + done) % nd : 0;
	return 0;
}

static void publish(struct engine *e)
{
	int64_t t0 = clock_mono_us();
	struct snapshot *s = snapshot_new();
	if (!s)
		return;
	s->seq = ++e->seq;
	s->generated_ms = clock_now_ms();
	s->event_time_ms = window_end_ms(e->win);
	s->watermark_ms = window_watermark_ms(e->win);
	s->nviews = WINDOW_COUNT * (1 + e->ndims);
	s->views = snapshot_alloc(s, s->nviews * sizeof *s->views);
	if (!s->views)
		goto fail;
	if (window_fill_views(e->win, s, &s->views[0]) < 0)
		goto fail;
	for (int w = 0; w < WINDOW_COUNT; w++)
		s->views[w].computed_ms = s->generated_ms;
	if (fill_dim_views(e, s) < 0)
		goto fail;

	struct window_stats ws;
	window_get_stats(e->win, &ws);
	uint64_t sum = 0;
	for (int i = 0; i < RATE_SECONDS; i++)
		if (i != e->rate_sec % RATE_SECONDS) /* the current second is partial */
			sum += e->rate[i];
	s->stats.posts_total = e->posts_total;
	s->stats.late_posts = ws.late_posts;
	s->stats.future_posts = ws.future_posts;
	s->stats.tokens_total = e->tokens_total;
	s->stats.posts_per_s = (double)sum / (RATE_SECONDS - 1);
	s->stats.terms_tracked = ws.terms;
	s->stats.post_queue_depth = queue_depth(&e->bus->posts);
	s->stats.checkpoint_bytes = e->ckpt_bytes;
	s->stats.checkpoint_segments = e->ckpt_segments;
	s->stats.checkpoint_build_ms = (double)e->ckpt_build_us / 1000.0;
	s->stats.checkpoint_period_ms = e->ckpt_period_ms ? e->ckpt_period_ms : e->cfg.checkpoint_ms;
	s->stats.tick_ms = (double)(clock_mono_us() - t0) / 1000.0;

	/* Once a minute the db keeps the snapshot for "trends at a past time". */
	int64_t minute = s->generated_ms / 60000;
	if (minute != e->last_snapshot_minute) {
		struct dbmsg *m = dbmsg_new(DBMSG_SNAPSHOT);
		if (m) {
			ref_get(&s->ref);
			m->u.snapshot = s;
			if (queue_try_push(&e->bus->db, m) < 0)
				dbmsg_free(m); /* the db is behind; the next minute will do */
			else
				e->last_snapshot_minute = minute;
		}
	}
	snapshot_put(e->last);
	ref_get(&s->ref);
	e->last = s;
	snapshot_publish(&e->bus->trends, s);
	bus_wake_web(e->bus);
	return;
fail:
	log_error("analytics", "out of memory building snapshot %llu", (unsigned long long)e->seq);
	snapshot_put(s);
}

/* ---- checkpoints ---- */

static void put_u64(struct strbuf *sb, uint64_t v) { sb_append(sb, (const char *)&v, sizeof v); }

/* Appends a window's state behind its length; its closed buckets go to segs. */
static void put_window(struct strbuf *sb, struct window *w, struct window_segments *segs)
{
	size_t at = sb->len;
	put_u64(sb, 0);
	window_state_save_segments(w, sb, segs);
	if (!sb->failed) {
		uint64_t len = sb->len - at - sizeof len;
		memcpy(sb->buf + at, &len, sizeof len);
	}
}

/*
 * The engine state: magic, version, payload length and hash, then the
 * payload - post and token totals, the global windows, and each language and
 * source dimension with its windows. The hash makes any damage a clean
 * refusal rather than a plausible wrong count.
 */
static void engine_state_save(struct engine *e, struct strbuf *sb)
{
	uint32_t head[2] = { STATE_MAGIC, STATE_VERSION };
	sb_append(sb, (const char *)head, sizeof head);
	put_u64(sb, 0); /* payload length */
	put_u64(sb, 0); /* payload hash */
	size_t at = sb->len;
	put_u64(sb, e->posts_total);
	put_u64(sb, e->tokens_total);
	put_u64(sb, e->ndims);
	put_window(sb, e->win, &e->segs);
	for (size_t d = 0; d < e->ndims; d++) {
		sb_append(sb, e->dims[d].lang, sizeof e->dims[d].lang);
		put_u64(sb, (uint64_t)e->dims[d].source_id);
		put_window(sb, e->dims[d].w, &e->segs);
	}
	if (sb->failed)
		return;
	uint64_t len = sb->len - at, h = hash_bytes(sb->buf + at, len);
	memcpy(sb->buf + at - 16, &len, 8);
	memcpy(sb->buf + at - 8, &h, 8);
}

struct rd {
	const uint8_t *p;
	size_t len, off;
};

static bool rd_u64(struct rd *r, uint64_t *v)
{
	if (r->len - r->off < sizeof *v)
		return false;
	memcpy(v, r->p + r->off, sizeof *v);
	r->off += sizeof *v;
	return true;
}

static int rd_window(const struct engine *e, const struct window_config *wc, struct rd *r,
		     struct window **w, char *err, size_t errlen)
{
	uint64_t len;
	if (!rd_u64(r, &len) || len > r->len - r->off) {
		snprintf(err, errlen, "truncated window");
		return -EINVAL;
	}
	int rc = window_state_load_segments(w, wc, r->p + r->off, (size_t)len, e->cfg.segment_fn,
					    e->cfg.segment_ctx, err, errlen);
	r->off += (size_t)len;
	return rc;
}

/* Builds the windows from a saved state; on failure they are left as they were. */
static int engine_state_load(struct engine *e, const void *buf, size_t len, char *err,
			     size_t errlen)
{
	struct rd r = { buf, len, 0 };
	uint32_t head[2];
	uint64_t plen, h, posts, tokens, ndims;
	struct window *win = NULL;
	struct dimwin dims[ENGINE_MAX_LANG_VIEWS + ENGINE_MAX_SOURCE_VIEWS];
	size_t nd = 0, nlang = 0;
	int rc = -EINVAL;

	if (len < sizeof head || (memcpy(head, buf, sizeof head), head[0] != STATE_MAGIC)) {
		snprintf(err, errlen, "not an analytics state");
		return -EINVAL;
	}
	if (head[1] != STATE_VERSION) {
		snprintf(err, errlen, "state version %u, this build reads %u", head[1],
			 STATE_VERSION);
		return -EINVAL;
	}
	r.off = sizeof head;
	if (!rd_u64(&r, &plen) || !rd_u64(&r, &h) || plen != r.len - r.off) {
		snprintf(err, errlen, "truncated state (%zu bytes)", len);
		return -EINVAL;
	}
	if (hash_bytes(r.p + r.off, (size_t)plen) != h) {
		snprintf(err, errlen, "state checksum mismatch (damaged)");
		return -EINVAL;
	}
	if (!rd_u64(&r, &posts) || !rd_u64(&r, &tokens) || !rd_u64(&r, &ndims) ||
	    ndims > ENGINE_MAX_LANG_VIEWS + ENGINE_MAX_SOURCE_VIEWS) {
		snprintf(err, errlen, "bad state header");
		return -EINVAL;
	}
	if ((rc = rd_window(e, &e->wcfg, &r, &win, err, errlen)) < 0)
		goto fail;
	for (; nd < ndims; nd++) {
		struct dimwin *d = &dims[nd];
		uint64_t sid;
		memset(d, 0, sizeof *d);
		if (r.len - r.off < sizeof d->lang) {
			snprintf(err, errlen, "truncated dimension");
			rc = -EINVAL;
			goto fail;
		}
		memcpy(d->lang, r.p + r.off, sizeof d->lang);
		r.off += sizeof d->lang;
		d->lang[sizeof d->lang - 1] = 0;
		if (!rd_u64(&r, &sid)) {
			snprintf(err, errlen, "truncated dimension");
			rc = -EINVAL;
			goto fail;
		}
		d->source_id = (int64_t)sid;
		nlang += d->lang[0] != 0;
		if ((rc = rd_window(e, &e->dim_wcfg, &r, &d->w, err, errlen)) < 0)
			goto fail;
		d->last_post_ms = clock_now_ms();
	}
	if (r.off != r.len || nlang > ENGINE_MAX_LANG_VIEWS ||
	    nd - nlang > ENGINE_MAX_SOURCE_VIEWS) {
		snprintf(err, errlen, "bad state layout");
		rc = -EINVAL;
		goto fail;
	}
	window_free(e->win);
	e->win = win;
	memcpy(e->dims, dims, nd * sizeof *dims);
	e->ndims = nd;
	e->nlang_dims = nlang;
	e->nsource_dims = nd - nlang;
	e->posts_total = posts;
	e->tokens_total = tokens;
	return 0;
fail:
	window_free(win);
	for (size_t d = 0; d < nd && d < ndims; d++)
		window_free(dims[d].w);
	return rc;
}

/*
 * Hands the pending epoch to the db thread: rows, volume, state and the
 * markers that changed. timeout_ms 0 never waits; on a full queue the
 * epoch stays pending and grows. Returns 0, -EAGAIN or -ENOMEM.
 */
static int checkpoint_send(struct engine *e, int timeout_ms)
{
	struct dbmsg *m = dbmsg_new(DBMSG_CHECKPOINT);
	struct strbuf sb = STRBUF_INIT;
	struct checkpoint *c;
	size_t ndirty = 0;
	int rc = -ENOMEM;

	if (!m)
		goto fail;
	c = &m->u.checkpoint;
	int64_t t0 = clock_mono_us();
	/* room for about the last state: no copying doublings of many MB */
	if (e->ckpt_state_len)
		sb_reserve(&sb, e->ckpt_state_len + e->ckpt_state_len / 8);
	size_t seg_before = e->segs.out.len;
	sb_reset(&e->segs.refs);
	engine_state_save(e, &sb);
	if (e->segs.out.failed) {
		/* which new segments made it is unknown: every window writes all again */
		sb_free(&e->segs.out);
		window_forget_segments(e->win);
		for (size_t d = 0; d < e->ndims; d++)
			window_forget_segments(e->dims[d].w);
		goto fail;
	}
	if (sb.failed || e->segs.refs.failed)
		goto fail; /* the new segments stay in segs.out for the next try */
	e->ckpt_build_us = clock_mono_us() - t0;
	e->ckpt_state_len = sb.len;
	e->ckpt_bytes = sb.len + (e->segs.out.len - seg_before);
	e->ckpt_segments = e->segs.refs.len / sizeof(uint64_t);
	c->state_build_us = e->ckpt_build_us;
	for (size_t i = 0; i < e->nmarks; i++)
		ndirty += e->marks[i].dirty;
	if (ndirty && !(c->cursors = calloc(ndirty, sizeof *c->cursors)))
		goto fail;
	for (size_t i = 0; i < e->nmarks; i++) {
		if (!e->marks[i].dirty)
			continue;
		if (source_cursor_copy(&c->cursors[c->ncursors], &e->marks[i].cur) < 0)
			goto fail;
		c->ncursors++;
	}
	c->epoch = e->epoch_sent + 1;
	c->created_ms = clock_now_ms();
	c->state = (uint8_t *)sb_detach(&sb, &c->state_len);
	c->segment_refs = (uint64_t *)(void *)sb_detach(&e->segs.refs, &c->nsegment_refs);
	c->nsegment_refs /= sizeof(uint64_t);
	if (!c->state || !c->segment_refs)
		goto fail; /* the new segments are still in segs.out */
	if (e->segs.out.len) {
		c->segments = (uint8_t *)sb_detach(&e->segs.out, &c->segments_len);
		e->segs.added = 0;
	}
	struct row_batch *b = &e->pending;
	for (size_t i = 0; i < b->n; i++)
		b->rows[i].term = b->pool + (uintptr_t)b->rows[i].term;
	c->nterm = b->n;
	c->term_rows = b->rows;
	c->pool = b->pool;
	c->nvolume = e->volume.n;
	c->volume_rows = e->volume.rows;
	rc = timeout_ms > 0 ? queue_push(&e->bus->db, m, timeout_ms) : queue_try_push(&e->bus->db, m);
	if (rc < 0) {
		/* Not taken: the rows go back to offsets and wait for the next try. */
		for (size_t i = 0; i < b->n; i++)
			b->rows[i].term = (const char *)(uintptr_t)(b->rows[i].term - b->pool);
		c->term_rows = NULL;
		c->pool = NULL;
		c->volume_rows = NULL;
		/* and the new segments wait too: the windows count them as written */
		if (c->segments) {
			e->segs.out = (struct strbuf){ (char *)c->segments, c->segments_len,
						       c->segments_len + 1, false };
			c->segments = NULL;
		}
		rc = -EAGAIN;
		goto fail;
	}
	free(b->idx);
	memset(b, 0, sizeof *b);
	memset(&e->volume, 0, sizeof e->volume);
	for (size_t i = 0; i < e->nmarks; i++)
		e->marks[i].dirty = false;
	e->epoch_sent++;
	e->consumed = 0;
	e->ckpt_warned = false;
	return 0;
fail:
	sb_free(&sb);
	dbmsg_free(m);
	if (rc == -ENOMEM && !e->ckpt_warned)
		log_error("analytics", "out of memory building a checkpoint; trying again");
	e->ckpt_warned = e->ckpt_warned || rc == -ENOMEM;
	return rc;
}

/*
 * A checkpoint goes out with posts no marker covers yet: after a crash their
 * source resumes from its older cursor and may count them again. Said once
 * per stretch of such checkpoints, naming the sources.
 */
static void uncovered_warn(struct engine *e, int64_t waited_ms)
{
	if (e->ckpt_uncovered_warned)
		return;
	char ids[128] = "";
	size_t len = 0;
	for (size_t i = 0; i < e->nmarks && len + 24 < sizeof ids; i++)
		if (e->marks[i].uncovered)
			len += (size_t)snprintf(ids + len, sizeof ids - len, "%s%lld", len ? ", " : "",
						(long long)e->marks[i].cur.source_id);
	log_warn("analytics", "checkpoint %llu without the cursor of the newest posts of source %s "
			      "(waited %lld ms for it); after a crash they may be counted again",
		 (unsigned long long)e->epoch_sent, ids, (long long)waited_ms);
	e->ckpt_uncovered_warned = true;
}

/*
 * Checkpoints when due and every source's posts are covered by its marker;
 * after another full period without such an instant, checkpoints anyway (a
 * source that queues posts from its own thread may never pause).
 */
static void checkpoint_maybe(struct engine *e, int64_t now)
{
	/* Waiting for a marker: it came when every post is covered again. */
	if (now < e->next_ckpt_ms && !(e->ckpt_wait_marker && marks_covered(e)))
		return;
	e->ckpt_wait_marker = false;
	/*
	 * Nothing counted and no rows since the last one: the committed state
	 * differs only in how far the clock moved, which a restore catches up
	 * with on its first tick. An idle trendd does not rewrite its state.
	 */
	if (e->consumed == 0 && e->pending.n == 0 && e->volume.n == 0) {
		e->next_ckpt_ms = now + e->cfg.checkpoint_ms;
		return;
	}
	if (!e->ckpt_due_ms)
		e->ckpt_due_ms = now;
	/*
	 * Posts of a batch whose marker is still queued: take items one at a
	 * time up to the markers (a page is at most LIMIT_POSTS_PER_PAGE posts).
	 */
	for (int i = 0; i < CKPT_CATCHUP_ITEMS && !marks_covered(e); i++) {
		void *item;
		if (queue_pop_batch(&e->bus->posts, &item, 1, 0) == 0)
			break;
		consume(e, &item, 1);
	}
	if (!marks_covered(e) && now - e->ckpt_due_ms < e->cfg.checkpoint_ms) {
		/*
		 * Not again at once: the main loop would spin on a zero wait. The
		 * marker's arrival wakes the loop, and the check above then
		 * checkpoints without waiting for this poll.
		 */
		e->next_ckpt_ms = now + CKPT_COVER_POLL_MS;
		if (e->next_ckpt_ms > e->ckpt_due_ms + e->cfg.checkpoint_ms)
			e->next_ckpt_ms = e->ckpt_due_ms + e->cfg.checkpoint_ms;
		e->ckpt_wait_marker = true;
		return;
	}
	/*
	 * The db thread is behind: building the state now would only throw it
	 * away. (Another producer may still fill the last slot meanwhile; then
	 * the state is built for nothing once, and the retry waits as long.)
	 */
	if (queue_depth(&e->bus->db) >= e->bus->db.cap) {
		e->next_ckpt_ms = now + CKPT_RETRY_MS;
		return;
	}
	int rc = checkpoint_send(e, 0);
	int64_t after = clock_mono_ms();
	e->ckpt_period_ms = engine_checkpoint_period(e->cfg.checkpoint_ms, e->ckpt_build_us,
						     e->cfg.checkpoint_cost);
	if (e->ckpt_period_ms > e->cfg.checkpoint_ms &&
	    e->ckpt_period_ms > 2 * e->ckpt_period_said_ms) {
		log_warn("analytics",
			 "checkpoint state of %.1f MB took %lld ms to build: checkpoints every %lld ms "
			 "instead of %lld ms, so that they take at most 1/%d of the analytics thread",
			 (double)e->ckpt_bytes / 1e6, (long long)(e->ckpt_build_us / 1000),
			 (long long)e->ckpt_period_ms, (long long)e->cfg.checkpoint_ms,
			 e->cfg.checkpoint_cost);
		e->ckpt_period_said_ms = e->ckpt_period_ms;
	}
	if (rc < 0) {
		int64_t wait = e->ckpt_period_ms > e->cfg.checkpoint_ms ? e->ckpt_period_ms
									: CKPT_RETRY_MS;
		e->next_ckpt_ms = after + wait;
		return;
	}
	/* Said once it went out: a retried one may have been covered by then. */
	if (!marks_covered(e))
		uncovered_warn(e, now - e->ckpt_due_ms);
	else
		e->ckpt_uncovered_warned = false;
	e->ckpt_due_ms = 0;
	e->next_ckpt_ms = (e->ckpt_period_ms > e->cfg.checkpoint_ms ? after : now) +
			  e->ckpt_period_ms;
}

/*
 * Answers the waiting live requests. The contract (core/live.h) is that a
 * post queued before the question is in the answer, so the post queue is
 * drained first - as far as it was filled when the requests were taken.
 */
static size_t live_serve(struct engine *e)
{
	void *reqs[LIVE_BATCH], *items[BATCH];
	size_t nr = queue_pop_batch(&e->bus->live, reqs, LIVE_BATCH, 0);
	if (nr == 0)
		return 0;
	size_t left = queue_depth(&e->bus->posts);
	while (left > 0) {
		size_t n = queue_pop_batch(&e->bus->posts, items, left < BATCH ? left : BATCH, 0);
		if (n == 0)
			break;
		consume(e, items, n);
		left -= n;
	}
	for (size_t i = 0; i < nr; i++)
		engine_live_answer(e, reqs[i]);
	return nr;
}

static void tick(struct engine *e)
{
	int64_t wall = clock_now_ms();
	window_advance(e->win, wall);
	for (size_t d = 0; d < e->ndims; d++)
		window_advance(e->dims[d].w, wall);
	dims_expire(e, wall);
	publish(e);
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	void *items[BATCH];
	int64_t next_tick = clock_mono_ms();

	e->next_ckpt_ms = next_tick + e->cfg.checkpoint_ms;
	for (;;) {
		int64_t now = clock_mono_ms();
		int64_t wait = next_tick - now;
		if (e->next_ckpt_ms - now < wait)
			wait = e->next_ckpt_ms - now;
		if (wait > LIVE_POLL_MS)
			wait = LIVE_POLL_MS;
		if (wait < 0)
			wait = 0;
		size_t n = queue_pop_batch(&e->bus->posts, items, BATCH, (int)wait);
		consume(e, items, n);
		live_serve(e);
		now = clock_mono_ms();
		if (now >= next_tick) {
			tick(e);
			next_tick += e->cfg.tick_ms;
			if (next_tick <= now)
				next_tick = now + e->cfg.tick_ms;
		}
		checkpoint_maybe(e, clock_mono_ms());
		if (n == 0 && queue_is_closed(&e->bus->posts))
			break;
	}
	tick(e);
	/*
	 * The last epoch waits for room: the db thread is still running. Posts
	 * whose marker never came (ingest stopped halfway) would be counted
	 * twice after a restart; without this checkpoint they are fetched and
	 * counted again from the previous one, as after a crash.
	 */
	int rc = marks_covered(e) ? checkpoint_send(e, 5000) : -EAGAIN;
	if (rc < 0)
		log_warn("analytics", "no last checkpoint (%s); a restart counts again from "
				      "checkpoint %llu", marks_covered(e) ? strerror(-rc)
				      : "posts without their cursor", (unsigned long long)e->epoch_sent);
	/*
	 * Requests still waiting get an answer rather than a timeout - every
	 * one: an asker with a done callback counts on it (core/live.h).
	 */
	while (live_serve(e) > 0)
		;
	return NULL;
}

static void engine_free(struct engine *e)
{
	snapshot_put(e->last);
	for (size_t d = 0; d < e->ndims; d++)
		window_free(e->dims[d].w);
	window_free(e->win);
	tokenizer_free(e->tok);
	stopwords_free(e->stopwords);
	vader_scratch_free(e->vscratch);
	vader_free(e->vader);
	free(e->textbuf);
	recent_free(e);
	row_batch_free(&e->pending);
	free(e->volume.rows);
	for (size_t i = 0; i < e->nmarks; i++)
		source_cursor_clear(&e->marks[i].cur);
	free(e->marks);
	sb_free(&e->segs.out);
	sb_free(&e->segs.refs);
	free(e);
}

bool engine_restored(const struct engine *e) { return e->restored; }

int engine_start(struct engine **out, const struct engine_config *cfg, struct bus *bus,
		 char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof *e);
	int rc;
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->cfg = *cfg;
	e->segs.next_id = cfg->segment_next ? cfg->segment_next : 1;
	if (e->cfg.tick_ms <= 0)
		e->cfg.tick_ms = 1000;
	if (e->cfg.checkpoint_ms <= 0)
		e->cfg.checkpoint_ms = ENGINE_CHECKPOINT_MS;
	if (e->cfg.checkpoint_cost <= 0)
		e->cfg.checkpoint_cost = ENGINE_CHECKPOINT_COST;
	e->cfg.state = NULL; /* borrowed only during start */
	e->bus = bus;
	e->last_snapshot_minute = -1;
	e->epoch_sent = cfg->epoch;
	if ((rc = vader_load(&e->vader, cfg->data_dir, err, errlen)) < 0)
		goto fail;
	if ((rc = stopwords_load(&e->stopwords, cfg->data_dir, err, errlen)) < 0)
		goto fail;
	rc = -ENOMEM;
	e->vscratch = vader_scratch_new();
	e->tok = tokenizer_new(e->stopwords);
	if (e->tok)
		log_info("analytics", "tokenizer prescan: %s; sentiment split: %s",
			 tokenizer_isa(e->tok), vader_isa(e->vader));
	struct window_config *wc = &e->wcfg;
	window_config_defaults(wc);
	if (cfg->lateness_ms >= 0)
		wc->lateness_ms = cfg->lateness_ms;
	if (cfg->top_m > 0)
		wc->top_m = (uint32_t)cfg->top_m;
	e->dim_wcfg = *wc;
	if (cfg->view_top_m > 0)
		e->dim_wcfg.top_m = (uint32_t)cfg->view_top_m;
	else if (wc->top_m > ENGINE_VIEW_TOP_M)
		e->dim_wcfg.top_m = ENGINE_VIEW_TOP_M;
	e->win = window_new(wc);
	if (!cfg->no_recent_posts) {
		e->recent_cap = cfg->recent_posts ? cfg->recent_posts : ENGINE_RECENT_POSTS;
		if (e->recent_cap > ENGINE_RECENT_POSTS_MAX)
			e->recent_cap = ENGINE_RECENT_POSTS_MAX;
		e->recent = calloc(e->recent_cap, sizeof *e->recent);
	}
	if (!e->vscratch || !e->tok || !e->win || (e->recent_cap && !e->recent)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->state && cfg->state_len) {
		char why[256];
		int lrc = engine_state_load(e, cfg->state, cfg->state_len, why, sizeof why);
		if (lrc == 0) {
			e->restored = true;
			log_info("analytics", "restored the windows of checkpoint %llu (%zu bytes, "
					      "and segments up to id %llu)",
				 (unsigned long long)cfg->epoch, cfg->state_len,
				 (unsigned long long)(e->segs.next_id - 1));
		} else {
			log_error("analytics", "cannot restore checkpoint %llu: %s; starting with "
					       "empty windows", (unsigned long long)cfg->epoch, why);
		}
	}
	e->cfg.segment_fn = NULL; /* like the state, borrowed only during start */
	e->cfg.segment_ctx = NULL;
	window_set_minute_sink(e->win, on_minute, e);
	window_set_volume_sink(e->win, on_volume, e);
	if ((rc = -pthread_create(&e->thread, NULL, engine_main, e)) < 0) {
		snprintf(err, errlen, "cannot start the analytics thread: %s", strerror(-rc));
		goto fail;
	}
	e->running = true;
	*out = e;
	return 0;
fail:
	engine_free(e);
	return rc;
}

void engine_stop(struct engine *e)
{
	if (!e)
		return;
	if (e->running) {
		queue_close(&e->bus->posts);
		pthread_join(e->thread, NULL);
	}
	engine_free(e);
}
