/*
 * bench/analytics - throughput of the analytics path on one core.
 *
 * Prints one JSON object per line, one per stage:
 *   corpus    - the post mix measured (count, mean bytes, non-ASCII share)
 *   tokenize  - tokenizer alone
 *   sentiment - VADER alone
 *   window    - raw term updates into the windows (pre-tokenized terms)
 *   full      - tokenize + sentiment + window update per post ("posts_per_s"),
 *               each round into a fresh window, in the engine's order: the
 *               sentiment of ENGINE_SCORE_AHEAD posts, then each of them
 *               tokenized and counted
 *   score_ahead - full against the same work post by post (tokenize, score,
 *               count), in alternating rounds: the median ratio of the times
 *   steady    - the same through one window that lives on, one pass over the
 *               corpus per round (mean of the passes after the first),
 *               authors drawn anew for each pass
 *   memory    - 10 million distinct terms streamed through the 24h window
 *   engine    - the daemon's analytics thread itself (analytics/engine.c),
 *               default settings: the corpus as posts through the post
 *               queue, each counted into the global, its language's and its
 *               source's windows (16 sources), kept in the recent-post ring,
 *               with snapshots every second and checkpoints every 5 s, which
 *               a thread standing in for the db writer takes off the db
 *               queue and frees (SQLite is bench/storage's). Another thread
 *               makes the posts (event time: the wall clock) and pushes
 *               them, on a 2-core machine from the other core, as ingest
 *               does in the daemon; the time is from its start until
 *               engine_stop() has drained the queue and sent the last
 *               checkpoint.
 *   engine_no_views - the same with the per-language and per-source
 *               windows off ("views" in the configuration file)
 *   views     - what a snapshot view costs a day into a run: --view-hours
 *               (25) of event time at --view-rate (100) posts/s of 12 terms
 *               from a Zipf vocabulary of 200,000 and Zipf authors of 50,000
 *               through one window (not timed), then each window's view built
 *               three times: the first, and the best of the two after it
 *               (which find the closed buckets' author unions kept)
 *   tick      - what a tick of the engine costs a day into a run: the views
 *               stream, each post also counted into its language's window (5
 *               languages, Zipf) and its source's (--view-sources, 16, Zipf),
 *               then every view of every window built as the engine builds
 *               them each second: the first tick, and the best of --rounds
 *               (at least 2) after it, which find the kept author unions
 *
 * The corpus is real post texts (tests/fixtures/tokenize/posts.tsv: Mastodon,
 * Bluesky and Reddit captures) repeated, mixed with generated Zipf text with
 * hashtags, mentions, links, emoji and non-ASCII words, to ~150 bytes a post
 * and ~20% non-ASCII posts. Event time advances at the measured rate, so the
 * windows close buckets and prune as they would live.
 * The heap keeps freed memory for reuse as in the daemon (core/heap.h).
 *
 * usage: bench/analytics [--data-dir DIR] [--fixtures DIR] [--posts N] [--rounds N]
 *                        [--stages a,b,...] [--memory-terms N] [--rate POSTS_PER_S]
 *                        [--view-rate POSTS_PER_S] [--view-hours H] [--view-sources N]
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "analytics/engine.h"
#include "analytics/sentiment.h"
#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "bench/posts_tsv.h"
#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/heap.h"
#include "core/post.h"
#include "core/snapshot.h"
#include "core/strbuf.h"
#include "core/term.h"

struct corpus {
	char **text;
	size_t *len;
	char **lang;
	uint32_t *author;
	size_t n;
	size_t bytes, nonascii;
};

/* splitmix64: the corpus and the memory stage draw from rng, other authors from their own */
static uint64_t rnd_from(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t rnd(void) { return rnd_from(&rng); }

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double thread_cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }
static double process_cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Function words first: in English they are the most frequent, as here by Zipf rank. */
static const char *const words_en[] = {
	"the", "to", "and", "a", "of", "i", "is", "in", "it", "that", "for", "this", "on", "you",
	"with", "but", "not", "so", "just", "be", "are", "was", "have", "my", "at", "all", "new",
	"good", "great", "bad", "terrible", "love", "hate", "happy", "sad", "release", "very",
	"update", "server", "network", "coffee", "morning", "weather", "storm", "train", "delay",
	"music", "concert", "game", "match", "team", "goal", "win", "lose", "election", "vote",
	"policy", "market", "stock", "price", "launch", "product", "phone", "battery", "camera",
	"photo", "cat", "dog", "garden", "city", "bike", "traffic", "bridge", "river", "park",
	"book", "movie", "series", "episode", "season", "finale", "rust", "linux", "kernel",
	"compiler", "database", "outage", "breach", "password", "security", "patch", "bug", "fix",
	"amazing", "awful", "nice", "wonderful", "horrible", "excited", "worried", "angry", "calm",
	"really", "never", "no", "today", "tonight", "week", "year",
};
static const char *const words_intl[] = {
	"straße", "über", "schön", "müde", "café", "élève", "été", "garçon", "niño", "año",
	"canção", "ação", "coração", "größe", "fähre", "déjà", "señor", "mañana", "つくる", "東京",
	"日本語", "猫", "ありがとう", "привет", "мир", "καλημέρα", "שלום", "مرحبا",
};
static const char *const tags[] = { "#rust", "#fediverse", "#caturday", "#news", "#linux",
				    "#photography", "#music", "#climate", "#football", "#AI" };
static const char *const emoji[] = { "😀", "😂", "🔥", "👍🏽", "❤️", "🎉", "😭", "🇩🇪",
				     "👨‍👩‍👧", "🚀" };
static const char *const domains[] = { "https://example.com/a/b", "https://www.news.example/x",
				       "https://github.com/trendd", "https://blog.example.org/p?id=3" };

static size_t zipf_from(uint64_t *state, size_t n)
{
	/* inverse-transform sample of a Zipf(s=1) over n ranks, approximated */
	double u = (double)(rnd_from(state) >> 11) / 9007199254740992.0;
	size_t r = (size_t)floor(exp(u * log((double)n + 1))) - 1;
	return r < n ? r : n - 1;
}

static size_t zipf(size_t n) { return zipf_from(&rng, n); }

/* A post's author: one of 50,000 accounts, a few of them very active (Zipf). */
static uint32_t author_from(uint64_t *state)
{
	return (uint32_t)(zipf_from(state, 50000) * 2654435761u);
}

static void gen_post(char *buf, size_t cap, size_t *len, bool intl)
{
	size_t o = 0, target = 100 + rnd() % 100;
	const size_t nen = sizeof words_en / sizeof *words_en;
	while (o < target && o + 64 < cap) {
		const char *w;
		uint64_t r = rnd() % 100;
		if (r < 6)
			w = tags[zipf(sizeof tags / sizeof *tags)];
		else if (r < 7 && rnd() % 3 == 0)
			w = emoji[zipf(sizeof emoji / sizeof *emoji)];
		else if (r < 9)
			w = domains[rnd() % (sizeof domains / sizeof *domains)];
		else if (r < 11)
			w = "@someone@mastodon.example";
		else if (intl && r < 35)
			w = words_intl[zipf(sizeof words_intl / sizeof *words_intl)];
		else
			w = words_en[zipf(nen)];
		size_t l = strlen(w);
		if (o)
			buf[o++] = rnd() % 12 == 0 ? '.' : ' ';
		if (o && buf[o - 1] == '.')
			buf[o++] = ' ';
		memcpy(buf + o, w, l);
		o += l;
	}
	buf[o++] = rnd() % 4 == 0 ? '!' : '.';
	buf[o] = 0;
	*len = o;
}

static struct corpus load_corpus(const char *fixtures, size_t n)
{
	struct corpus c = { 0 };
	char path[4096];
	c.text = calloc(n, sizeof *c.text);
	c.len = calloc(n, sizeof *c.len);
	c.lang = calloc(n, sizeof *c.lang);
	c.author = calloc(n, sizeof *c.author);

	/* real texts; the corpus points at their lang strings, so they are kept */
	struct posts_tsv real = { 0 };
	snprintf(path, sizeof path, "%s/tokenize/posts.tsv", fixtures);
	if (posts_tsv_load(&real, path) < 0)
		fprintf(stderr, "bench: no %s; generated posts only\n", path);
	size_t nreal = real.n;

	char buf[1024];
	for (size_t i = 0; i < n; i++) {
		if (nreal && i % 3 == 0) {
			size_t k = rnd() % nreal;
			c.text[i] = strdup(real.text[k]);
			c.len[i] = strlen(real.text[k]);
			c.lang[i] = real.lang[k];
		} else {
			bool intl = rnd() % 100 < 10;
			gen_post(buf, sizeof buf, &c.len[i], intl);
			c.text[i] = strdup(buf);
			c.lang[i] = intl ? "" : "en";
		}
		c.author[i] = author_from(&rng);
		c.bytes += c.len[i];
		for (size_t k = 0; k < c.len[i]; k++)
			if ((unsigned char)c.text[i][k] >= 0x80) {
				c.nonascii++;
				break;
			}
	}
	c.n = n;
	return c;
}

static bool want(const char *stages, const char *s)
{
	if (!stages)
		return true;
	size_t l = strlen(s);
	for (const char *p = stages; (p = strstr(p, s)); p += l)
		if ((p == stages || p[-1] == ',') && (p[l] == 0 || p[l] == ','))
			return true;
	return false;
}

#define T0 1795608000000LL

/* What the analytics thread does with posts: full and steady time it. */
struct pipeline {
	struct tokenizer *tok;
	const struct vader *vader;
	struct vader_scratch *vs;
	const struct corpus *c;
};

/*
 * Scores, tokenizes and counts the corpus into w as the engine does
 * (analytics/engine.c, consume()): the sentiment of ENGINE_SCORE_AHEAD posts
 * first, then each of them tokenized and counted. Post i is at event time
 * T0 + (seq0 + i) / 1000 (1M posts/s), by author[i].
 */
static void pipeline_run(const struct pipeline *pl, struct window *w, size_t seq0,
			 const uint32_t *author)
{
	const struct corpus *c = pl->c;
	float compound[ENGINE_SCORE_AHEAD];
	for (size_t at = 0; at < c->n; at += ENGINE_SCORE_AHEAD) {
		size_t m = c->n - at < ENGINE_SCORE_AHEAD ? c->n - at : ENGINE_SCORE_AHEAD;
		for (size_t k = 0; k < m; k++) {
			struct sentiment s;
			vader_score(pl->vader, pl->vs, c->text[at + k], c->len[at + k], &s);
			compound[k] = (float)s.compound;
		}
		for (size_t k = 0; k < m; k++) {
			size_t i = at + k;
			const struct token *tk;
			size_t n = tokenizer_run(pl->tok, c->text[i], c->len[i], c->lang[i], &tk);
			struct window_post p = { T0 + (int64_t)((seq0 + i) / 1000), author[i],
						 compound[k], tk, n };
			window_add_post(w, &p);
		}
	}
}

/*
 * What a reader of the window does first, timed with the posts: a window
 * defers some of the work a post causes - author adds wait in a log that is
 * applied in batches, running totals are synced lazily - until something
 * reads it or the batch is full. Without this the round would end with up to
 * a batch of that work never done (about a fifth of the author adds) and the
 * time would leave it out. The live engine reads its windows every second.
 */
static volatile uint64_t settled; /* keeps the lookups */

static uint32_t settle(struct window *w)
{
	struct window_term_info info;
	window_lookup(w, WINDOW_5M, TERM_WORD, "coffee", 6, &info);
	return info.count;
}

/* ---- engine: the daemon's analytics thread ---- */

/*
 * Stands in for the db writer and the web thread: takes the engine's
 * checkpoints and other db messages off the queue and frees them, and reads
 * each snapshot's build time (tick_ms) as it is published.
 */
struct drain {
	struct bus *bus;
	atomic_bool stop;
	size_t ticks;
	double tick_ms_sum, tick_ms_max;
	double cpu_s;   /* the thread's own CPU time */
	double engine_cpu_s; /* the round's CPU time but this thread's, the pusher's and main's */
};

static void *drain_run(void *arg)
{
	struct drain *d = arg;
	void *m[64];
	uint64_t seen = publish_version(&d->bus->trends);
	while (!atomic_load(&d->stop)) {
		size_t n = queue_pop_batch(&d->bus->db, m, 64, 20);
		for (size_t i = 0; i < n; i++)
			dbmsg_free(m[i]);
		uint64_t v = publish_version(&d->bus->trends);
		struct snapshot *s = v != seen ? snapshot_acquire(&d->bus->trends) : NULL;
		seen = v;
		if (s) {
			d->ticks++;
			d->tick_ms_sum += s->stats.tick_ms;
			if (s->stats.tick_ms > d->tick_ms_max)
				d->tick_ms_max = s->stats.tick_ms;
			snapshot_put(s);
		}
	}
	d->cpu_s = thread_cpu_s();
	return NULL;
}

struct pusher {
	struct bus *bus;
	const struct corpus *c;
	double rate; /* posts/s, or 0: as fast as the queue takes them */
	int rc;
	double cpu_s; /* the thread's own CPU time */
};

/*
 * Makes the corpus into posts and pushes them, as ingest does: 16 sources,
 * one author string per author, event time the wall clock when the post is
 * made (live posts; the engine advances its windows to the wall clock every
 * tick, so posts from further back would be late).
 */
static void *pusher_run(void *arg)
{
	struct pusher *p = arg;
	const struct corpus *c = p->c;
	double t0 = now_s();
	for (size_t i = 0; i < c->n; i++) {
		if (p->rate > 0 && i % 64 == 0) {
			double ahead = t0 + (double)i / p->rate - now_s();
			if (ahead > 0)
				nanosleep(&(struct timespec){ (time_t)ahead,
							      (long)((ahead - (time_t)ahead) * 1e9) },
					  NULL);
		}
		char id[24], author[24];
		snprintf(id, sizeof id, "%zu", i);
		snprintf(author, sizeof author, "user%08x", c->author[i]);
		struct post *post = post_new(&(struct post_fields){
			.source_id = 1 + (int64_t)(hash_u64(i) % 16), .created_at_ms = clock_now_ms(),
			.id = id, .author = author, .lang = c->lang[i], .text = c->text[i],
			.text_len = c->len[i] });
		if (!post) {
			p->rc = -1;
			return NULL;
		}
		if (queue_push(&p->bus->posts, post, 10000) < 0) {
			post_free(post);
			p->rc = -2;
			return NULL;
		}
	}
	p->cpu_s = thread_cpu_s();
	return NULL;
}

/*
 * One round of the engine stage: a fresh engine fed the corpus from another
 * thread; returns the seconds from the start of the pushing until
 * engine_stop() returned, or a negative value on failure.
 */
static double engine_round(const struct corpus *c, const char *data_dir, bool views, double rate,
			   struct drain *drain)
{
	struct bus bus;
	if (bus_init(&bus) < 0)
		return -1;
	struct engine_config cfg = { .data_dir = data_dir, .lateness_ms = -1,
				     .no_lang_views = !views, .no_source_views = !views };
	struct engine *e = NULL;
	char err[512];
	if (engine_start(&e, &cfg, &bus, err, sizeof err) < 0) {
		fprintf(stderr, "bench: engine: %s\n", err);
		bus_destroy(&bus);
		return -1;
	}
	struct pusher push = { &bus, c, rate, 0, 0 };
	double cpu0 = process_cpu_s(), main0 = thread_cpu_s();
	pthread_t td, tp;
	*drain = (struct drain){ .bus = &bus };
	atomic_init(&drain->stop, false);
	pthread_create(&td, NULL, drain_run, drain);
	double t0 = now_s();
	pthread_create(&tp, NULL, pusher_run, &push);
	pthread_join(tp, NULL);
	engine_stop(e);
	double dt = now_s() - t0;
	atomic_store(&drain->stop, true);
	pthread_join(td, NULL);
	drain->engine_cpu_s = process_cpu_s() - cpu0 - (thread_cpu_s() - main0) - push.cpu_s -
			      drain->cpu_s;
	bus_destroy(&bus);
	if (push.rc < 0) {
		fprintf(stderr, "bench: engine: %s\n",
			push.rc == -1 ? "out of memory" : "the post queue stayed full");
		return -1;
	}
	return dt;
}

static int engine_stage(const struct corpus *c, const char *data_dir, int rounds, bool views,
			double rate)
{
	double best = 1e9;
	struct drain d, at_best = { 0 };
	for (int r = 0; r < rounds; r++) {
		double dt = engine_round(c, data_dir, views, rate, &d);
		if (dt < 0)
			return -1;
		if (dt < best) {
			best = dt;
			at_best = d;
		}
	}
	printf("{\"stage\":\"%s\",\"posts_per_s\":%.0f,\"ns_per_post\":%.1f,"
	       "\"cpu_ns_per_post\":%.1f,\"offered_posts_per_s\":%.0f,\"sources\":16,"
	       "\"ticks\":%zu,\"tick_ms_mean\":%.1f,\"tick_ms_max\":%.1f}\n",
	       views ? "engine" : "engine_no_views", c->n / best, best * 1e9 / c->n,
	       at_best.engine_cpu_s * 1e9 / c->n, rate, at_best.ticks,
	       at_best.ticks ? at_best.tick_ms_sum / at_best.ticks : 0.0, at_best.tick_ms_max);
	fflush(stdout);
	return 0;
}

/*
 * The stream of the views, tick and recall stages: rate posts/s of event
 * time, 12 terms a post from a Zipf vocabulary of 200,000 (the last a
 * hashtag), Zipf authors of 50,000, into ws[0]; with langs, each post also
 * into one of ws[1..langs] and with sources into one of the sources windows
 * after them, both Zipf, as the engine counts a post into its language's
 * and its source's windows. views_stream() adds the posts up to (not
 * including) number end, carrying on from where the last call stopped.
 */
struct vstream {
	uint64_t state;
	long next;          /* posts added so far */
	double rate;
};

static struct vstream vstream_new(double rate)
{
	return (struct vstream){ 0x6a09e667f3bcc908ull, 0, rate };
}

static void views_stream(struct window **ws, int langs, int sources, struct vstream *vs, long end)
{
	char names[12][16];
	struct token tk[12];
	for (long i = vs->next; i < end; i++) {
		for (int k = 0; k < 12; k++) {
			int l = snprintf(names[k], sizeof names[k], "w%zu", zipf_from(&vs->state, 200000));
			tk[k] = (struct token){ names[k], (uint16_t)l,
						(uint8_t)(k == 11 ? TERM_HASHTAG : TERM_WORD) };
		}
		int64_t t = T0 + (int64_t)((double)i * 1000.0 / vs->rate);
		struct window_post p = { t, author_from(&vs->state), 0.1f, tk, 12 };
		window_add_post(ws[0], &p);
		if (langs)
			window_add_post(ws[1 + zipf_from(&vs->state, (size_t)langs)], &p);
		if (sources)
			window_add_post(ws[1 + langs + zipf_from(&vs->state, (size_t)sources)], &p);
		if (i % 1000 == 0)
			for (int k = 0; k < 1 + langs + sources; k++)
				window_advance(ws[k], t);
	}
	if (end > vs->next)
		vs->next = end;
}

static long stream_posts(double hours, double rate) { return (long)(hours * 3600.0 * rate); }

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Of the top k by count of kind in the unpruned window's view ref - those
 * counted more than its k-th, which may tie with terms after it - the share
 * the view v of a pruned window also lists in its top k; *bad counts listed
 * terms whose count is not within [exact - error, exact], *max_err is their
 * largest error bound.
 */
static double view_recall(const struct snapshot_view *ref, const struct snapshot_view *v, int kind,
			  uint32_t k, int *bad, uint32_t *max_err)
{
	const struct trend_ranking *rr = &ref->rank[SORT_COUNT][kind], *rv = &v->rank[SORT_COUNT][kind];
	uint32_t n = rr->n < k ? rr->n : k, hit = 0, want = 0;
	uint32_t kth = n ? ref->trends[rr->idx[n - 1]].count : 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct trend *x = &ref->trends[rr->idx[i]];
		if (x->count == kth)
			break;
		want++;
		for (uint32_t j = 0; j < rv->n && j < k; j++) {
			const struct trend *y = &v->trends[rv->idx[j]];
			if (y->kind != x->kind || strcmp(y->term, x->term) != 0)
				continue;
			hit++;
			*bad += y->count > x->count || y->count + y->error < x->count;
			if (y->error > *max_err)
				*max_err = y->error;
			break;
		}
	}
	return want ? (double)hit / want : 1.0;
}

int main(int argc, char **argv)
{
	const char *data_dir = TRENDD_BENCH_DATA_DIR, *fixtures = TRENDD_BENCH_FIXTURES_DIR;
	const char *stages = NULL;
	size_t nposts = 200000, memory_terms = 10000000;
	int rounds = 5;
	double rate = 0, view_rate = 100, view_hours = 25;
	int view_sources = 16;
	long view_top_m = ENGINE_VIEW_TOP_M; /* the language and source windows', as the daemon's */
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' }, { "fixtures", required_argument, NULL, 'f' },
		{ "posts", required_argument, NULL, 'n' },    { "stages", required_argument, NULL, 's' },
		{ "memory-terms", required_argument, NULL, 'm' }, { "rounds", required_argument, NULL, 'r' },
		{ "rate", required_argument, NULL, 'R' },
		{ "view-rate", required_argument, NULL, 'V' },
		{ "view-hours", required_argument, NULL, 'H' },
		{ "view-sources", required_argument, NULL, 'S' },
		{ "view-top-m", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': data_dir = optarg; break;
		case 'f': fixtures = optarg; break;
		case 'n': nposts = strtoull(optarg, NULL, 10); break;
		case 's': stages = optarg; break;
		case 'm': memory_terms = strtoull(optarg, NULL, 10); break;
		case 'r': rounds = atoi(optarg); break;
		case 'R': rate = strtod(optarg, NULL); break;
		case 'V': view_rate = strtod(optarg, NULL); break;
		case 'H': view_hours = strtod(optarg, NULL); break;
		case 'S': view_sources = atoi(optarg) > 0 ? atoi(optarg) : 0; break;
		case 'M': view_top_m = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: %s [--data-dir D] [--fixtures D] [--posts N] "
					"[--stages tokenize,sentiment,window,full,score_ahead,steady,memory,"
					"views,tick,recall,engine,engine_no_views] "
					"[--memory-terms N] [--rounds N] [--rate POSTS_PER_S] [--view-rate POSTS_PER_S] "
					"[--view-hours H] [--view-sources N] [--view-top-m N]\n", argv[0]);
			return 2;
		}
	}

	heap_tune(); /* the heap settings of the daemon (core/heap.h) */
	char err[512];
	struct vader *vader;
	struct stopwords *sw;
	if (vader_load(&vader, data_dir, err, sizeof err) < 0 ||
	    stopwords_load(&sw, data_dir, err, sizeof err) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	struct vader_scratch *vs = vader_scratch_new();
	struct tokenizer *tok = tokenizer_new(sw);
	struct corpus c = load_corpus(fixtures, nposts);
	printf("{\"stage\":\"corpus\",\"posts\":%zu,\"mean_bytes\":%.1f,\"nonascii_share\":%.3f}\n",
	       c.n, (double)c.bytes / c.n, (double)c.nonascii / c.n);
	fflush(stdout);

	/* pre-tokenized terms for the window stage */
	size_t nterms_total = 0;
	const struct token **post_tokens = calloc(c.n, sizeof *post_tokens);
	size_t *post_ntok = calloc(c.n, sizeof *post_ntok);
	char **post_pool = calloc(c.n, sizeof *post_pool);
	for (size_t i = 0; i < c.n; i++) {
		const struct token *t;
		size_t n = tokenizer_run(tok, c.text[i], c.len[i], c.lang[i], &t);
		size_t bytes = 0;
		for (size_t k = 0; k < n; k++)
			bytes += t[k].len;
		char *pool = malloc(bytes + 1);
		struct token *copy = malloc((n ? n : 1) * sizeof *copy);
		size_t o = 0;
		for (size_t k = 0; k < n; k++) {
			memcpy(pool + o, t[k].s, t[k].len);
			copy[k] = (struct token){ pool + o, t[k].len, t[k].kind };
			o += t[k].len;
		}
		post_tokens[i] = copy;
		post_ntok[i] = n;
		post_pool[i] = pool;
		nterms_total += n;
	}

	if (want(stages, "tokenize")) {
		double best = 1e9;
		size_t sink = 0;
		for (int r = 0; r < rounds; r++) {
			double t0 = now_s();
			for (size_t i = 0; i < c.n; i++) {
				const struct token *t;
				sink += tokenizer_run(tok, c.text[i], c.len[i], c.lang[i], &t);
			}
			double dt = now_s() - t0;
			if (dt < best)
				best = dt;
		}
		printf("{\"stage\":\"tokenize\",\"posts_per_s\":%.0f,\"mb_per_s\":%.1f,"
		       "\"ns_per_post\":%.1f,\"terms_per_post\":%.2f}\n",
		       c.n / best, c.bytes / best / 1e6, best * 1e9 / c.n, (double)sink / rounds / c.n);
		fflush(stdout);
	}

	if (want(stages, "sentiment")) {
		double best = 1e9, sink = 0;
		for (int r = 0; r < rounds; r++) {
			double t0 = now_s();
			for (size_t i = 0; i < c.n; i++) {
				struct sentiment s;
				vader_score(vader, vs, c.text[i], c.len[i], &s);
				sink += s.compound;
			}
			double dt = now_s() - t0;
			if (dt < best)
				best = dt;
		}
		printf("{\"stage\":\"sentiment\",\"posts_per_s\":%.0f,\"mb_per_s\":%.1f,"
		       "\"ns_per_post\":%.1f,\"checksum\":%.3f}\n",
		       c.n / best, c.bytes / best / 1e6, best * 1e9 / c.n, sink / rounds);
		fflush(stdout);
	}

	if (want(stages, "window")) {
		/*
		 * Raw updates: every term of every post, five times, event time at
		 * 1M posts/s. Each time after the first the posts have authors
		 * drawn anew from the same distribution: repeating the first
		 * authors would make every author add a repeat.
		 */
		struct window_config wc;
		window_config_defaults(&wc);
		double best = 1e9;
		uint32_t *author = malloc(5 * c.n * sizeof *author);
		uint64_t state = 0x9fb21c651e98df25ull;
		if (!author) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		for (size_t i = 0; i < 5 * c.n; i++)
			author[i] = i < c.n ? c.author[i] : author_from(&state);
		for (int r = 0; r < rounds; r++) {
			struct window *w = window_new(&wc);
			double t0 = now_s();
			for (int rep = 0; rep < 5; rep++)
				for (size_t i = 0; i < c.n; i++) {
					size_t k = rep * c.n + i;
					struct window_post p = { T0 + (int64_t)(k / 1000), author[k], 0.1f,
								 post_tokens[i], post_ntok[i] };
					window_add_post(w, &p);
				}
			settled += settle(w);
			double dt = now_s() - t0;
			if (dt < best)
				best = dt;
			window_free(w);
		}
		free(author);
		double updates = 5.0 * nterms_total;
		printf("{\"stage\":\"window\",\"updates_per_s\":%.0f,\"posts_per_s\":%.0f,"
		       "\"ns_per_update\":%.1f}\n",
		       updates / best, 5.0 * c.n / best, best * 1e9 / updates);
		fflush(stdout);
	}

	const struct pipeline pl = { tok, vader, vs, &c };
	if (want(stages, "full")) {
		struct window_config wc;
		window_config_defaults(&wc);
		double best = 1e9;
		for (int r = 0; r < rounds; r++) {
			struct window *w = window_new(&wc);
			double t0 = now_s();
			pipeline_run(&pl, w, 0, c.author);
			settled += settle(w);
			double dt = now_s() - t0;
			if (dt < best)
				best = dt;
			window_free(w);
		}
		printf("{\"stage\":\"full\",\"posts_per_s\":%.0f,\"ns_per_post\":%.1f,"
		       "\"mb_per_s\":%.1f}\n",
		       c.n / best, best * 1e9 / c.n, c.bytes / best / 1e6);
		fflush(stdout);
	}

	if (want(stages, "score_ahead")) {
		/*
		 * What scoring ENGINE_SCORE_AHEAD posts ahead (pipeline_run())
		 * saves against tokenizing, scoring and counting each post in
		 * turn: the two run alternately, each round a fresh window as in
		 * full, the first of each pair alternating, and reported is the
		 * median of the rounds' ratios (ahead / in turn) and its
		 * quartiles - a machine whose speed drifts between runs moves
		 * both sides of a pair alike.
		 */
		struct window_config wc;
		window_config_defaults(&wc);
		enum { PAIRS_MAX = 64 };
		double ratio[PAIRS_MAX];
		int np = rounds < 4 ? 4 : rounds > PAIRS_MAX ? PAIRS_MAX : rounds;
		for (int r = 0; r < np; r++) {
			double dt[2];
			for (int v = 0; v < 2; v++) {
				int ahead = (r & 1) ^ v;
				struct window *w = window_new(&wc);
				double t0 = now_s();
				if (ahead) {
					pipeline_run(&pl, w, 0, c.author);
				} else {
					for (size_t i = 0; i < c.n; i++) {
						const struct token *tk;
						size_t n = tokenizer_run(tok, c.text[i], c.len[i], c.lang[i], &tk);
						struct sentiment s;
						vader_score(vader, vs, c.text[i], c.len[i], &s);
						struct window_post p = { T0 + (int64_t)(i / 1000), c.author[i],
									 (float)s.compound, tk, n };
						window_add_post(w, &p);
					}
				}
				settled += settle(w);
				dt[ahead] = now_s() - t0;
				window_free(w);
			}
			ratio[r] = dt[1] / dt[0];
		}
		qsort(ratio, (size_t)np, sizeof *ratio, cmp_double);
		printf("{\"stage\":\"score_ahead\",\"pairs\":%d,\"median_ratio\":%.3f,"
		       "\"q1_ratio\":%.3f,\"q3_ratio\":%.3f}\n",
		       np, ratio[np / 2], ratio[np / 4], ratio[3 * np / 4]);
		fflush(stdout);
	}

	if (want(stages, "steady")) {
		/*
		 * As full, but through one window that lives on, as the daemon's
		 * does: a pass over the corpus per round (at least two), event time
		 * going on at 1M posts/s (a pass of 200,000 posts is 0.2 s; 300
		 * rounds are a minute), and the authors drawn anew for each pass
		 * from the same distribution, so that a pass does not repeat the
		 * (term, author) pairs of the one before. The first pass is a fresh
		 * window's, as in full; reported is the mean of the later ones, and
		 * the first.
		 */
		const int passes = rounds > 2 ? rounds : 2;
		struct window_config wc;
		window_config_defaults(&wc);
		struct window *w = window_new(&wc);
		uint32_t *author = malloc(c.n * sizeof *author);
		uint64_t state = 0x2545f4914f6cdd1dull;
		double first = 0, later = 0;
		if (!author) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		for (int r = 0; r < passes; r++) {
			for (size_t i = 0; i < c.n; i++)
				author[i] = r == 0 ? c.author[i] : author_from(&state);
			double t0 = now_s();
			pipeline_run(&pl, w, (size_t)r * c.n, author);
			settled += settle(w);
			double dt = now_s() - t0;
			if (r == 0)
				first = dt;
			else
				later += dt;
		}
		later /= passes - 1;
		printf("{\"stage\":\"steady\",\"posts_per_s\":%.0f,\"ns_per_post\":%.1f,"
		       "\"first_pass_ns_per_post\":%.1f,\"passes\":%d}\n",
		       c.n / later, later * 1e9 / c.n, first * 1e9 / c.n, passes);
		fflush(stdout);
		free(author);
		window_free(w);
	}

	if (want(stages, "memory")) {
		/*
		 * memory_terms distinct terms, 20 per post, through 48 h of event
		 * time (so everything passes the 24h window and its baseline), plus
		 * a repeating head of common terms. Peak RSS is sampled as it runs.
		 */
		struct window_config wc;
		window_config_defaults(&wc);
		struct window *w = window_new(&wc);
		size_t per_post = 20, posts = memory_terms / per_post;
		int64_t step_ms = (int64_t)(48.0 * 3600000.0 / (double)posts);
		if (step_ms < 1)
			step_ms = 1;
		char names[20][24];
		struct token tk[20];
		long rss_before = peak_rss_kb();
		uint64_t max_terms = 0;
		double t0 = now_s();
		for (size_t i = 0; i < posts; i++) {
			for (size_t k = 0; k < per_post; k++) {
				size_t id = i * per_post + k;
				int l = k < 4 ? snprintf(names[k], sizeof names[k], "head%zu", zipf(500))
					      : snprintf(names[k], sizeof names[k], "t%zx", id);
				tk[k] = (struct token){ names[k], (uint16_t)l, TERM_WORD };
			}
			int64_t t = T0 + (int64_t)i * step_ms;
			struct window_post p = { t, (uint32_t)hash_u64(i % 100000), 0, tk, per_post };
			window_add_post(w, &p);
			if (i % 100000 == 0) {
				window_advance(w, t);
				struct window_stats st;
				window_get_stats(w, &st);
				if (st.terms > max_terms)
					max_terms = st.terms;
			}
		}
		double dt = now_s() - t0;
		struct window_stats st;
		window_get_stats(w, &st);
		printf("{\"stage\":\"memory\",\"distinct_terms\":%zu,\"event_hours\":48,"
		       "\"peak_live_terms\":%llu,\"final_live_terms\":%llu,\"window_bytes\":%zu,"
		       "\"peak_rss_mb\":%.1f,\"rss_before_mb\":%.1f,\"seconds\":%.1f}\n",
		       posts * per_post, (unsigned long long)max_terms,
		       (unsigned long long)st.terms, st.bytes, peak_rss_kb() / 1024.0,
		       rss_before / 1024.0, dt);
		window_free(w);
	}

	if (want(stages, "views")) {
		struct window_config wc;
		window_config_defaults(&wc);
		struct window *w = window_new(&wc);
		struct vstream feed = vstream_new(view_rate);
		views_stream(&w, 0, 0, &feed, stream_posts(view_hours, view_rate));
		double first[WINDOW_COUNT], later[WINDOW_COUNT];
		for (int rep = 0; rep < 3; rep++)
			for (int win = 0; win < WINDOW_COUNT; win++) {
				struct snapshot *s = snapshot_new();
				struct snapshot_view v;
				memset(&v, 0, sizeof v);
				double t0 = now_s();
				if (!s || window_fill_view(w, win, s, &v) < 0) {
					fprintf(stderr, "bench: out of memory\n");
					return 1;
				}
				double ms = (now_s() - t0) * 1e3;
				if (rep == 0)
					first[win] = later[win] = ms;
				else if (rep == 1 || ms < later[win])
					later[win] = ms;
				snapshot_put(s);
			}
		/*
		 * Then as the engine goes on: each second of event time its
		 * posts, the window advanced to its end, and the three views
		 * built (window_fill_views()); the ticks right after a minute
		 * or a quarter hour closed (the watermark passed its end) are
		 * counted apart as well.
		 */
		enum { LIVE_S = 960 };
		double *live = malloc(LIVE_S * sizeof *live), minute_max = 0, quarter_max = 0;
		int64_t wm = window_watermark_ms(w);
		for (int sec = 0; live && sec < LIVE_S; sec++) {
			views_stream(&w, 0, 0, &feed, feed.next + (long)view_rate);
			window_advance(w, T0 + (int64_t)((double)feed.next * 1000.0 / view_rate));
			struct snapshot *s = snapshot_new();
			struct snapshot_view v[WINDOW_COUNT];
			memset(v, 0, sizeof v);
			double t0 = now_s();
			if (!s || window_fill_views(w, s, v) < 0) {
				fprintf(stderr, "bench: out of memory\n");
				return 1;
			}
			live[sec] = (now_s() - t0) * 1e3;
			snapshot_put(s);
			int64_t now_wm = window_watermark_ms(w);
			if (getenv("BENCH_TICKS") && live[sec] > 40)
				fprintf(stderr, "tick %d: %.1f ms%s%s\n", sec, live[sec],
					now_wm / 60000 != wm / 60000 ? " minute" : "",
					now_wm / 900000 != wm / 900000 ? " quarter" : "");
			if (now_wm / 60000 != wm / 60000 && live[sec] > minute_max)
				minute_max = live[sec];
			if (now_wm / 900000 != wm / 900000 && live[sec] > quarter_max)
				quarter_max = live[sec];
			wm = now_wm;
		}
		if (!live) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		qsort(live, LIVE_S, sizeof *live, cmp_double);
		struct window_stats st;
		window_get_stats(w, &st);
		printf("{\"stage\":\"views\",\"event_hours\":%.1f,\"posts_per_s\":%.0f,"
		       "\"terms\":%llu,\"window_mb\":%.1f,\"first_ms\":[%.1f,%.1f,%.1f],"
		       "\"ms\":[%.1f,%.1f,%.1f],\"live_ticks\":%d,\"live_tick_ms\":{\"median\":%.1f,"
		       "\"p99\":%.1f,\"max\":%.1f,\"after_minute_close\":%.1f,"
		       "\"after_quarter_close\":%.1f},\"unions_built_ahead\":%llu,\"sums_built_ahead\":%llu}\n",
		       view_hours, view_rate, (unsigned long long)st.terms, st.bytes / 1e6, first[0],
		       first[1], first[2], later[0], later[1], later[2], (int)LIVE_S, live[LIVE_S / 2],
		       live[LIVE_S * 99 / 100], live[LIVE_S - 1], minute_max, quarter_max,
		       (unsigned long long)st.unions_ahead, (unsigned long long)st.sums_ahead);
		free(live);
		fflush(stdout);
		window_free(w);
	}

	if (want(stages, "tick")) {
		/*
		 * The views stream into the global, language and source
		 * windows, then every view of every window built as one tick of
		 * the engine builds them (publish()): the first tick, and the
		 * best of --rounds (at least two) after it.
		 */
		enum { LANGS = 5 };
		int nwin = 1 + LANGS + view_sources;
		struct window **ws = calloc((size_t)nwin, sizeof *ws);
		struct window_config wc, dim_wc;
		window_config_defaults(&wc);
		dim_wc = wc;
		if (view_top_m > 0)
			dim_wc.top_m = (uint32_t)view_top_m;
		for (int k = 0; ws && k < nwin; k++)
			if (!(ws[k] = window_new(k ? &dim_wc : &wc))) {
				fprintf(stderr, "bench: out of memory\n");
				return 1;
			}
		if (!ws) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		double t_stream = now_s();
		struct vstream feed = vstream_new(view_rate);
		views_stream(ws, LANGS, view_sources, &feed, stream_posts(view_hours, view_rate));
		t_stream = now_s() - t_stream;
		double first = 0, later = 0;
		for (int rep = 0; rep <= (rounds > 2 ? rounds : 2); rep++) {
			struct snapshot *s = snapshot_new();
			struct snapshot_view *v = calloc((size_t)nwin * WINDOW_COUNT, sizeof *v);
			if (!s || !v) {
				fprintf(stderr, "bench: out of memory\n");
				return 1;
			}
			double t0 = now_s();
			for (int k = 0; k < nwin; k++)
				if (window_fill_views(ws[k], s, &v[k * WINDOW_COUNT]) < 0) {
					fprintf(stderr, "bench: out of memory\n");
					return 1;
				}
			double ms = (now_s() - t0) * 1e3;
			if (rep == 0)
				first = ms;
			else if (rep == 1 || ms < later)
				later = ms;
			free(v);
			snapshot_put(s);
		}
		/*
		 * What a checkpoint serializes: every window's state, saved whole
		 * (best of rounds); and what a restart reads back (each state
		 * loaded into a new window, the last round).
		 */
		double state_bytes = 0, save_ms = 0, load_ms = 0;
		uint64_t state_hash = 0;
		for (int rep = 0; rep < (rounds > 1 ? rounds : 1); rep++) {
			double ms = 0, b = 0;
			uint64_t h = 0;
			load_ms = 0;
			for (int k = 0; k < nwin; k++) {
				struct strbuf sb = STRBUF_INIT;
				double t0 = now_s();
				window_state_save(ws[k], &sb);
				ms += (now_s() - t0) * 1e3;
				b += (double)sb.len;
				h = h * 31 + hash_bytes(sb.buf, sb.len);
				struct window *back = NULL;
				char why[256];
				t0 = now_s();
				if (window_state_load(&back, k ? &dim_wc : &wc, sb.buf, sb.len, why,
						      sizeof why) < 0) {
					fprintf(stderr, "bench: state does not load: %s\n", why);
					return 1;
				}
				load_ms += (now_s() - t0) * 1e3;
				window_free(back);
				free(sb.buf);
			}
			if (rep == 0 || ms < save_ms)
				save_ms = ms;
			state_bytes = b;
			state_hash = h;
		}
		/*
		 * What a checkpoint writes with closed buckets, the quarter hour
		 * and term records kept apart (window_state_save_segments()): the
		 * first one writes them all; then a minute of checkpoints, each 5 s
		 * more of the stream (one of them closes a minute, which rolls up
		 * into the quarter hour): best time and the longest; bytes of the
		 * last, the mean and the most (state and new segments).
		 */
		struct window_segments segs = { .next_id = 1 };
		double incr_first_ms = 0, incr_first_bytes = 0, incr_ms = 0, incr_bytes = 0;
		double incr_max_ms = 0, incr_max_bytes = 0, incr_sum_bytes = 0;
		size_t incr_new = 0, incr_refs = 0;
		enum { INCR_CHECKPOINTS = 12 };
		for (int rep = 0; rep <= INCR_CHECKPOINTS; rep++) {
			if (rep > 0)
				views_stream(ws, LANGS, view_sources, &feed,
					     feed.next + (long)(5 * view_rate));
			sb_reset(&segs.out);
			sb_reset(&segs.refs);
			segs.added = 0;
			double ms = 0, b = 0;
			for (int k = 0; k < nwin; k++) {
				struct strbuf sb = STRBUF_INIT;
				double t0 = now_s();
				window_state_save_segments(ws[k], &sb, &segs);
				ms += (now_s() - t0) * 1e3;
				b += (double)sb.len;
				free(sb.buf);
			}
			if (segs.out.failed || segs.refs.failed) {
				fprintf(stderr, "bench: out of memory\n");
				return 1;
			}
			b += (double)segs.out.len;
			if (rep == 0) {
				incr_first_ms = ms;
				incr_first_bytes = b;
			} else {
				if (rep == 1 || ms < incr_ms)
					incr_ms = ms;
				incr_max_ms = ms > incr_max_ms ? ms : incr_max_ms;
				incr_max_bytes = b > incr_max_bytes ? b : incr_max_bytes;
				incr_sum_bytes += b;
				incr_bytes = b;
				incr_new = segs.added;
				incr_refs = segs.refs.len / sizeof(uint64_t);
			}
		}
		sb_free(&segs.out);
		sb_free(&segs.refs);
		double bytes = 0, global_bytes = 0;
		for (int k = 0; k < nwin; k++) {
			struct window_stats st;
			window_get_stats(ws[k], &st);
			bytes += (double)st.bytes;
			if (k == 0)
				global_bytes = (double)st.bytes;
			if (getenv("BENCH_WINDOWS"))
				fprintf(stderr, "window %d: posts %llu terms %llu entries %llu pruned %llu %.1f MB\n", k,
					(unsigned long long)st.posts, (unsigned long long)st.terms,
					(unsigned long long)st.entries, (unsigned long long)st.pruned, st.bytes / 1e6);
			window_free(ws[k]);
		}
		free(ws);
		printf("{\"stage\":\"tick\",\"event_hours\":%.1f,\"posts_per_s\":%.0f,"
		       "\"windows\":%d,\"view_top_m\":%u,\"windows_mb\":%.1f,\"global_mb\":%.1f,"
		       "\"stream_ns_per_post\":%.0f,"
		       "\"first_tick_ms\":%.1f,\"tick_ms\":%.1f,\"state_mb\":%.1f,\"save_ms\":%.1f,\"load_ms\":%.1f,"
		       "\"state_hash\":\"%016llx\",\"incremental\":{\"first_mb\":%.1f,\"first_ms\":%.1f,"
		       "\"mb\":%.2f,\"ms\":%.1f,\"mean_mb\":%.2f,\"max_mb\":%.2f,\"max_ms\":%.1f,"
		       "\"new_segments\":%zu,\"segments\":%zu},"
		       "\"peak_rss_mb\":%.1f}\n",
		       view_hours, view_rate, nwin, dim_wc.top_m, bytes / 1e6, global_bytes / 1e6, t_stream * 1e9 / (view_hours * 3600.0 * view_rate), first,
		       later, state_bytes / 1e6, save_ms, load_ms, (unsigned long long)state_hash,
		       incr_first_bytes / 1e6, incr_first_ms, incr_bytes / 1e6, incr_ms,
		       incr_sum_bytes / INCR_CHECKPOINTS / 1e6, incr_max_bytes / 1e6, incr_max_ms, incr_new,
		       incr_refs, peak_rss_kb() / 1024.0);
		fflush(stdout);
	}

	if (want(stages, "recall")) {
		/*
		 * What a smaller top m costs a view: the views stream (one
		 * window, no languages or sources) into a window pruned to
		 * --view-top-m and into one never pruned; the top 50 and 100
		 * words and hashtags by count of each view of the first
		 * against the second's.
		 */
		struct window_config wc, exact;
		window_config_defaults(&wc);
		exact = wc;
		if (view_top_m > 0)
			wc.top_m = (uint32_t)view_top_m;
		exact.top_m = UINT32_MAX;
		struct window *w[2] = { window_new(&wc), window_new(&exact) };
		struct snapshot *s = snapshot_new();
		struct snapshot_view *v = calloc(2 * WINDOW_COUNT, sizeof *v);
		if (!w[0] || !w[1] || !s || !v) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		struct vstream va = vstream_new(view_rate), vb = vstream_new(view_rate);
		views_stream(&w[0], 0, 0, &va, stream_posts(view_hours, view_rate));
		views_stream(&w[1], 0, 0, &vb, stream_posts(view_hours, view_rate));
		if (window_fill_views(w[0], s, v) < 0 || window_fill_views(w[1], s, v + WINDOW_COUNT) < 0) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		static const char *const names[WINDOW_COUNT] = { "5m", "1h", "24h" };
		printf("{\"stage\":\"recall\",\"event_hours\":%.1f,\"posts_per_s\":%.0f,\"top_m\":%u",
		       view_hours, view_rate, wc.top_m);
		int bad = 0;
		uint32_t max_err = 0;
		for (int win = 0; win < WINDOW_COUNT; win++)
			for (int kind = TERM_WORD; kind <= TERM_HASHTAG; kind++)
				for (uint32_t k = 50; k <= 100; k += 50)
					printf(",\"%s_%s_top%u\":%.3f", names[win], term_kind_name(kind), k,
					       view_recall(&v[WINDOW_COUNT + win], &v[win], kind, k, &bad, &max_err));
		printf(",\"outside_bound\":%d,\"max_error\":%u}\n", bad, max_err);
		fflush(stdout);
		free(v);
		snapshot_put(s);
		window_free(w[0]);
		window_free(w[1]);
	}

	if (want(stages, "engine") && engine_stage(&c, data_dir, rounds, true, rate) < 0)
		return 1;
	if (want(stages, "engine_no_views") && engine_stage(&c, data_dir, rounds, false, rate) < 0)
		return 1;
	return 0;
}
