#include "analytics/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/sentiment.h"
#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/term.h"

#define BATCH 512
#define RATE_SECONDS 10
#define MAX_PENDING_ROWS (1u << 20) /* history rows held while the db queue is full */

/*
 * History rows waiting for the db thread: closed minutes from the window and
 * late posts. Rows are additive, so when the db queue is full they simply
 * wait here (bounded; beyond the cap the oldest rows are dropped and counted).
 */
struct row_batch {
	struct term_minute_row *rows; /* owned; term points into pool by offset until sent */
	size_t n, cap;
	char *pool;                   /* owned */
	size_t pool_len, pool_cap;
};

/* The windows of one language or one source. */
struct dimwin {
	char lang[16];                /* language key, or "" */
	int64_t source_id;            /* source id, or 0 */
	struct window *w;             /* owned */
	int64_t last_post_ms;         /* wall time of the newest post, for idle eviction */
};

struct engine {
	struct engine_config cfg;
	struct window_config wcfg;
	struct dimwin dims[ENGINE_MAX_LANG_VIEWS + ENGINE_MAX_SOURCE_VIEWS];
	size_t ndims, nlang_dims, nsource_dims;
	bool dims_full_warned;
	struct bus *bus;
	pthread_t thread;
	bool running;

	struct vader *vader;
	struct vader_scratch *vscratch;
	struct stopwords *stopwords;
	struct tokenizer *tok;
	struct window *win;

	char *textbuf;                /* title + text scratch */
	size_t textbuf_cap;
	struct row_batch pending;
	uint64_t rows_dropped;

	uint64_t seq;
	uint64_t posts_total, tokens_total;
	uint64_t rate[RATE_SECONDS];  /* posts per wall second, ring */
	int64_t rate_sec;
	int64_t last_snapshot_minute;
};

static int batch_add(struct row_batch *b, const char *term, uint32_t len, uint8_t kind,
		     int64_t minute_ms, uint32_t count, uint32_t authors, uint32_t pos,
		     uint32_t neg, double sent)
{
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
	b->rows[b->n++] = (struct term_minute_row){
		.term = (const char *)(uintptr_t)b->pool_len, /* offset, fixed up on send */
		.term_len = len, .kind = kind, .minute_ms = minute_ms, .count = count,
		.authors = authors, .pos = pos, .neg = neg, .sent_sum = sent,
	};
	b->pool_len += len + 1;
	return 0;
}

static void on_minute(void *ctx, int64_t minute_ms, const struct window_minute_row *rows,
		      size_t n)
{
	struct engine *e = ctx;
	for (size_t i = 0; i < n; i++) {
		if (e->pending.n >= MAX_PENDING_ROWS) {
			e->rows_dropped += n - i;
			return;
		}
		batch_add(&e->pending, rows[i].term, rows[i].term_len, rows[i].kind, minute_ms,
			  rows[i].count, rows[i].authors, rows[i].pos, rows[i].neg,
			  rows[i].sent_sum);
	}
}

/* Hands the pending rows to the db thread without waiting; keeps them if it is busy. */
static void flush_rows(struct engine *e)
{
	struct row_batch *b = &e->pending;
	if (b->n == 0)
		return;
	struct dbmsg *m = dbmsg_new(DBMSG_TERM_MINUTES);
	if (!m)
		return;
	for (size_t i = 0; i < b->n; i++)
		b->rows[i].term = b->pool + (uintptr_t)b->rows[i].term;
	m->u.minutes.n = b->n;
	m->u.minutes.rows = b->rows;
	m->u.minutes.pool = b->pool;
	if (queue_try_push(&e->bus->db, m) < 0) {
		/* back to offsets; try again next tick */
		for (size_t i = 0; i < b->n; i++)
			b->rows[i].term = (const char *)(uintptr_t)(b->rows[i].term - b->pool);
		m->u.minutes.rows = NULL;
		m->u.minutes.pool = NULL;
		dbmsg_free(m);
		return;
	}
	memset(b, 0, sizeof *b);
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
	struct window *w = window_new(&e->wcfg);
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

static uint32_t author_hash(const struct post *p)
{
	if (p->author[0])
		return (uint32_t)(hash_bytes(p->author, strlen(p->author)) >> 32);
	/* No author: the source speaks as one voice, so it cannot make a trend alone. */
	return (uint32_t)(hash_u64((uint64_t)p->source_id ^ 0x5bd1e995u) >> 32);
}

static void process(struct engine *e, const struct post *p)
{
	size_t len;
	const char *text = join_title(e, p, &len);
	const struct token *tokens;
	size_t n = tokenizer_run(e->tok, text, len, p->lang, &tokens);
	struct sentiment sent;
	vader_score(e->vader, e->vscratch, text, len, &sent);

	struct window_post wp = {
		.event_ms = p->created_at_ms,
		.author_hash = author_hash(p),
		.compound = (float)sent.compound,
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
		uint32_t pos = sent.compound >= 0.05, neg = sent.compound <= -0.05;
		for (size_t i = 0; i < n && e->pending.n < MAX_PENDING_ROWS; i++) {
			bool dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup = tokens[j].kind == tokens[i].kind && tokens[j].len == tokens[i].len &&
				      memcmp(tokens[j].s, tokens[i].s, tokens[i].len) == 0;
			if (!dup)
				batch_add(&e->pending, tokens[i].s, tokens[i].len, tokens[i].kind,
					  minute, 1, 1, pos, neg, sent.compound);
		}
	}
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
	for (int w = 0; w < WINDOW_COUNT; w++)
		if (window_fill_view(e->win, w, s, &s->views[w]) < 0)
			goto fail;
	for (size_t d = 0; d < e->ndims; d++)
		for (int w = 0; w < WINDOW_COUNT; w++) {
			struct snapshot_view *v = &s->views[WINDOW_COUNT * (1 + d) + w];
			if (window_fill_view(e->dims[d].w, w, s, v) < 0)
				goto fail;
			snprintf(v->lang, sizeof v->lang, "%s", e->dims[d].lang);
			v->source_id = e->dims[d].source_id;
		}

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
	snapshot_publish(&e->bus->trends, s);
	bus_wake_web(e->bus);
	return;
fail:
	log_error("analytics", "out of memory building snapshot %llu", (unsigned long long)e->seq);
	snapshot_put(s);
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	void *items[BATCH];
	int64_t next_tick = clock_mono_ms();

	for (;;) {
		int64_t now = clock_mono_ms();
		int timeout = next_tick > now ? (int)(next_tick - now) : 0;
		size_t n = queue_pop_batch(&e->bus->posts, items, BATCH, timeout);
		for (size_t i = 0; i < n; i++) {
			process(e, items[i]);
			post_free(items[i]);
		}
		now = clock_mono_ms();
		if (now >= next_tick) {
			int64_t wall = clock_now_ms();
			window_advance(e->win, wall);
			for (size_t d = 0; d < e->ndims; d++)
				window_advance(e->dims[d].w, wall);
			dims_expire(e, wall);
			publish(e);
			flush_rows(e);
			next_tick += e->cfg.tick_ms;
			if (next_tick <= now)
				next_tick = now + e->cfg.tick_ms;
		}
		if (n == 0 && queue_is_closed(&e->bus->posts))
			break;
	}
	window_advance(e->win, clock_now_ms());
	publish(e);
	flush_rows(e);
	return NULL;
}

static void engine_free(struct engine *e)
{
	for (size_t d = 0; d < e->ndims; d++)
		window_free(e->dims[d].w);
	window_free(e->win);
	tokenizer_free(e->tok);
	stopwords_free(e->stopwords);
	vader_scratch_free(e->vscratch);
	vader_free(e->vader);
	free(e->textbuf);
	free(e->pending.rows);
	free(e->pending.pool);
	free(e);
}

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
	if (e->cfg.tick_ms <= 0)
		e->cfg.tick_ms = 1000;
	e->bus = bus;
	e->last_snapshot_minute = -1;
	if ((rc = vader_load(&e->vader, cfg->data_dir, err, errlen)) < 0)
		goto fail;
	if ((rc = stopwords_load(&e->stopwords, cfg->data_dir, err, errlen)) < 0)
		goto fail;
	rc = -ENOMEM;
	e->vscratch = vader_scratch_new();
	e->tok = tokenizer_new(e->stopwords);
	struct window_config *wc = &e->wcfg;
	window_config_defaults(wc);
	if (cfg->lateness_ms >= 0)
		wc->lateness_ms = cfg->lateness_ms;
	if (cfg->top_m > 0)
		wc->top_m = (uint32_t)cfg->top_m;
	e->win = window_new(wc);
	if (!e->vscratch || !e->tok || !e->win) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	window_set_minute_sink(e->win, on_minute, e);
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
