/*
 * bench/storage - the history store: write throughput, size per day, and
 * the latency of history queries through the HTTP API of a real trendd.
 *
 * Prints one JSON object per line:
 *   write     - term-minute rows per second through the real writer thread,
 *               without and with the hour/day rollups ("rollups"), and with
 *               the rollups while the live pipeline (tokenizer, VADER,
 *               windows) runs flat out on real post texts in another thread
 *               ("pipeline_posts_per_s": what it kept up meanwhile)
 *   size      - one day at 1,000 posts/s written through the writer: bytes
 *               per table (dbstat), and the steady-state size with the
 *               default retention (minutes 48 h, hours 90 d, snapshots 48 h)
 *   generate  - the 90-day history database built for the query stage
 *   plan      - EXPLAIN QUERY PLAN of the statements the readers run
 *   query     - per query shape: p50/p99/max milliseconds over HTTP,
 *               answers with "live":true, bytes per answer
 *
 * The traffic model: 1,000 posts/s with ~10 terms each (600,000 term
 * occurrences a minute) over a Zipf vocabulary of 200,000 terms (s = 1);
 * analytics keeps the top 4,096 terms of a minute (its top-m), so a minute
 * has 4,096 rows. Every day 2,000 tail terms burst for 1-3 hours, so over 90
 * days more than 100,000 distinct terms appear in history. Counts are Poisson
 * around the Zipf expectation, so the set near the cut changes every minute.
 *
 * The query stage starts the trendd binary on the generated database and
 * asks each query shape `--queries` times over one keep-alive connection.
 *
 * usage: bench/storage [--dir DIR] [--trendd PATH] [--days N] [--queries N]
 *                      [--stages write,size,history] [--keep]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/term.h"
#include "analytics/sentiment.h"
#include "analytics/tokenize.h"
#include "analytics/window.h"
#include "bench/posts_tsv.h"
#include "db/db.h"

#define MIN_MS        60000LL
#define HOUR_MS       (60 * MIN_MS)
#define DAY_MS        (24 * HOUR_MS)
#define VOCAB         200000
#define HEAD          5000     /* ranks sampled every minute */
#define TOP_M         4096     /* rows kept per minute */
#define OCCURRENCES   600000.0 /* term occurrences per minute at 1,000 posts/s */
#define BURSTS_PER_DAY 2000

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t poisson(double lambda)
{
	if (lambda > 30) {
		double u1 = unif(), u2 = unif();
		double z = sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
		double v = lambda + sqrt(lambda) * z + 0.5;
		return v < 0 ? 0 : (uint32_t)v;
	}
	double l = exp(-lambda), p = 1;
	uint32_t k = 0;
	do {
		k++;
		p *= unif();
	} while (p > l);
	return k - 1;
}

/* Term ids are Zipf ranks 1..VOCAB; the kind follows from the id. */
static int term_kind(uint32_t id)
{
	uint32_t m = id % 100;
	return m < 70 ? TERM_WORD : m < 82 ? TERM_HASHTAG : m < 88 ? TERM_BIGRAM
	       : m < 92 ? TERM_MENTION : m < 95 ? TERM_DOMAIN : m < 98 ? TERM_EMOJI : TERM_CASHTAG;
}

static size_t term_name(uint32_t id, char *buf, size_t cap)
{
	switch (term_kind(id)) {
	case TERM_HASHTAG: return (size_t)snprintf(buf, cap, "#tag%u", id);
	case TERM_BIGRAM: return (size_t)snprintf(buf, cap, "word%u next%u", id, id % 977);
	case TERM_MENTION: return (size_t)snprintf(buf, cap, "@user%u@example.social", id);
	case TERM_DOMAIN: return (size_t)snprintf(buf, cap, "site%u.example.org", id);
	case TERM_EMOJI: return (size_t)snprintf(buf, cap, "\xF0\x9F\x98%c%u", 0x80 + id % 64, id);
	case TERM_CASHTAG: return (size_t)snprintf(buf, cap, "$tk%u", id);
	default: return (size_t)snprintf(buf, cap, "word%u", id);
	}
}

/* One minute's kept rows. */
struct mrow {
	uint32_t id, count, authors, pos, neg;
	double sent;
};

struct burst {
	uint32_t id;
	int64_t from, to;
	double rate;
};

struct gen {
	double lambda[HEAD + 1];
	struct burst *bursts;        /* of the current day */
	size_t nbursts;
	int64_t day;
	struct mrow cand[HEAD + BURSTS_PER_DAY];
};

static void gen_init(struct gen *g)
{
	double h = 0;
	for (int r = 1; r <= VOCAB; r++)
		h += 1.0 / r;
	for (int r = 1; r <= HEAD; r++)
		g->lambda[r] = OCCURRENCES / (h * r);
	g->bursts = calloc(BURSTS_PER_DAY, sizeof *g->bursts);
	g->day = INT64_MIN;
}

static void gen_day(struct gen *g, int64_t day)
{
	g->day = day;
	g->nbursts = BURSTS_PER_DAY;
	for (size_t i = 0; i < g->nbursts; i++) {
		struct burst *b = &g->bursts[i];
		b->id = HEAD + 1 + (uint32_t)(rnd() % (VOCAB - HEAD));
		b->from = day + (int64_t)(rnd() % (uint64_t)(DAY_MS / MIN_MS)) * MIN_MS;
		b->to = b->from + (60 + (int64_t)(rnd() % 120)) * MIN_MS;
		b->rate = 15 + unif() * 250;
	}
}

static int mrow_cmp(const void *a, const void *b)
{
	const struct mrow *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : (x->id > y->id) - (x->id < y->id);
}

static void mrow_fill(struct mrow *r, uint32_t id, uint32_t count)
{
	r->id = id;
	r->count = count;
	r->authors = count < 3 ? count : (uint32_t)(count * 0.8);
	r->pos = (uint32_t)(count * 0.35);
	r->neg = (uint32_t)(count * 0.15);
	r->sent = count * (0.08 + 0.2 * (unif() - 0.5));
}

/* The rows analytics would send for the minute at t: its top TOP_M terms. */
static size_t gen_minute(struct gen *g, int64_t t, struct mrow **out)
{
	int64_t day = t - t % DAY_MS;
	size_t n = 0;
	if (day != g->day)
		gen_day(g, day);
	for (int r = 1; r <= HEAD; r++) {
		uint32_t c = poisson(g->lambda[r]);
		if (c)
			mrow_fill(&g->cand[n++], (uint32_t)r, c);
	}
	for (size_t i = 0; i < g->nbursts; i++) {
		const struct burst *b = &g->bursts[i];
		if (t >= b->from && t < b->to) {
			uint32_t c = poisson(b->rate);
			if (c)
				mrow_fill(&g->cand[n++], b->id, c);
		}
	}
	qsort(g->cand, n, sizeof *g->cand, mrow_cmp);
	*out = g->cand;
	return n < TOP_M ? n : TOP_M;
}

/* ---- the writer stages ---- */

static int64_t status_int(struct bus *b, const char *key)
{
	struct blob *bl = (struct blob *)publish_get(&b->db_status);
	int64_t v = -1;
	if (bl) {
		json_t *j = json_loadb(bl->data, bl->len, 0, NULL);
		v = json_integer_value(json_object_get(j, key));
		json_decref(j);
		ref_put(&bl->ref);
	}
	return v;
}

static char names_pool[VOCAB + 1][40];
static uint8_t names_len[VOCAB + 1];

static void names_init(void)
{
	for (uint32_t id = 1; id <= VOCAB; id++)
		names_len[id] = (uint8_t)term_name(id, names_pool[id], sizeof names_pool[id]);
}

/* One minute of rows as a DBMSG_TERM_MINUTES message (what analytics sends). */
static struct dbmsg *minute_msg(const struct mrow *rows, size_t n, int64_t t)
{
	struct dbmsg *m = dbmsg_new(DBMSG_TERM_MINUTES);
	size_t off = 0;
	m->u.minutes.rows = malloc(n * sizeof *m->u.minutes.rows);
	m->u.minutes.pool = malloc(n * 40);
	m->u.minutes.n = n;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = rows[i].id;
		memcpy(m->u.minutes.pool + off, names_pool[id], names_len[id]);
		m->u.minutes.rows[i] = (struct term_minute_row){
			.term = m->u.minutes.pool + off, .term_len = names_len[id],
			.kind = (uint8_t)term_kind(id), .minute_ms = t, .count = rows[i].count,
			.authors = rows[i].authors, .pos = rows[i].pos, .neg = rows[i].neg,
			.sent_sum = rows[i].sent };
		off += names_len[id];
	}
	return m;
}

static struct dbmsg *volume_msg(int64_t t)
{
	struct dbmsg *m = dbmsg_new(DBMSG_VOLUME_MINUTES);
	m->u.volume.rows = malloc(sizeof *m->u.volume.rows);
	m->u.volume.n = 1;
	m->u.volume.rows[0] = (struct volume_minute_row){ t, 60000, 21000, 9000, 4800.0 };
	return m;
}

static int64_t fixed_now;
static int64_t bench_clock(void) { return fixed_now; }

/* ---- the live pipeline, running beside the writer ---- */

struct pipeline {
	pthread_t thread;
	atomic_bool stop;
	struct posts_tsv posts_tsv;   /* the real post texts */
	uint64_t posts;               /* counted until stopped */
	double seconds;
};

static void pipeline_load(struct pipeline *p)
{
	const char *path = TRENDD_BENCH_FIXTURES_DIR "/tokenize/posts.tsv";
	int rc = posts_tsv_load(&p->posts_tsv, path);
	if (rc < 0 || p->posts_tsv.n == 0) {
		fprintf(stderr, "bench: %s: %s\n", path, rc < 0 ? strerror(-rc) : "no posts");
		exit(1);
	}
}

/* Tokenize, score and count posts until told to stop, as the analytics thread does. */
static void *pipeline_main(void *arg)
{
	struct pipeline *p = arg;
	char err[512];
	struct vader *vader;
	struct stopwords *sw;
	if (vader_load(&vader, TRENDD_BENCH_DATA_DIR, err, sizeof err) < 0 ||
	    stopwords_load(&sw, TRENDD_BENCH_DATA_DIR, err, sizeof err) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	struct vader_scratch *vs = vader_scratch_new();
	struct tokenizer *tok = tokenizer_new(sw);
	struct window_config wc;
	window_config_defaults(&wc);
	struct window *w = window_new(&wc);
	int64_t t0 = clock_now_ms();
	double s0 = now_s();
	uint64_t k = 0;
	while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		const struct posts_tsv *pt = &p->posts_tsv;
		size_t i = k % pt->n;
		const struct token *t;
		size_t nt = tokenizer_run(tok, pt->text[i], pt->len[i], pt->lang[i], &t);
		struct sentiment sc;
		vader_score(vader, vs, pt->text[i], pt->len[i], &sc);
		/* a millisecond of event time per 1,000 posts, 50,000 authors */
		struct window_post wp = { t0 + (int64_t)(k / 1000), (uint32_t)(k % 50000) * 2654435761u,
					  (float)sc.compound, t, nt };
		window_add_post(w, &wp);
		k++;
	}
	p->seconds = now_s() - s0;
	p->posts = k;
	window_free(w);
	tokenizer_free(tok);
	vader_scratch_free(vs);
	stopwords_free(sw);
	vader_free(vader);
	return NULL;
}

/*
 * Writes `minutes` minutes (4,096 rows each, plus one volume row) through the
 * real writer as fast as it takes them; returns rows per second.
 */
static double write_stage(const char *path, int minutes, bool rollups, int64_t start,
			  struct gen *g, struct pipeline *pipe, double *seconds, int64_t *rows_out)
{
	struct db *db;
	struct bus bus;
	char err[512];
	struct db_options o = { .no_rollups = !rollups, .clock_ms = bench_clock,
				.retention_period_ms = 3600 * 1000 };
	unlink(path);
	fixed_now = start + (int64_t)minutes * MIN_MS;
	if (bus_init(&bus) < 0 || db_open_with(&db, path, &o, err, sizeof err) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	/* generating a minute takes well under a millisecond: the writer is what is measured */
	int64_t rows = 0;
	if (pipe) {
		atomic_store(&pipe->stop, false);
		pthread_create(&pipe->thread, NULL, pipeline_main, pipe);
	}
	db_writer_start(db, &bus);
	double t0 = now_s();
	for (int m = 0; m < minutes; m++) {
		struct mrow *r;
		int64_t t = start + m * MIN_MS;
		size_t n = gen_minute(g, t, &r);
		queue_push(&bus.db, minute_msg(r, n, t), -1);
		queue_push(&bus.db, volume_msg(t), -1);
		rows += (int64_t)n + 1;
	}
	while (status_int(&bus, "rows_written") < rows) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	*seconds = now_s() - t0;
	*rows_out = rows;
	if (pipe) {
		atomic_store(&pipe->stop, true);
		pthread_join(pipe->thread, NULL);
	}
	db_close(db);
	bus_destroy(&bus);
	return (double)rows / *seconds;
}

static int64_t q1(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Bytes of a table and its indexes (dbstat). */
static int64_t table_bytes(sqlite3 *c, const char *table)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT sum(pgsize) FROM dbstat WHERE name = '%s' OR name IN"
				  " (SELECT name FROM sqlite_schema WHERE tbl_name = '%s')", table, table);
	return q1(c, sql);
}

/* A stored snapshot row of the size analytics writes (about 31 kB per window). */
static char *snapshot_json(size_t *len)
{
	json_t *doc = json_object();
	for (int s = 0; s < 2; s++) {
		json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:i}", "window", "5m", "kind", "all",
				      "sort", s ? "count" : "score", "generated_at",
				      "2026-11-25T12:00:00.000Z", "seq", 1234, "lang", "", "source", 0);
		json_t *trends = json_array();
		for (int i = 0; i < 100; i++) {
			char name[40];
			term_name((uint32_t)(i + 1), name, sizeof name);
			json_t *series = json_array();
			for (int k = 0; k < 30; k++)
				json_array_append_new(series, json_integer(100 + (k * 37 + i) % 300));
			json_array_append_new(trends, json_pack("{s:s,s:s,s:i,s:i,s:i,s:f,s:f,s:i,s:i,"
								"s:i,s:o}", "term", name, "kind",
								term_kind_name(term_kind((uint32_t)i + 1)),
								"count", 5000 - i, "error", 3,
								"authors", 4000 - i, "score", 123.45,
								"sentiment", 0.1234, "pos", 1200, "neu",
								900, "neg", 300, "series", series));
		}
		json_object_set_new(v, "trends", trends);
		json_object_set_new(doc, s ? "count" : "score", v);
	}
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	*len = strlen(text);
	return text;
}

static void size_stage(const char *dir, struct gen *g)
{
	char path[4096];
	double secs;
	int64_t rows;
	snprintf(path, sizeof path, "%s/size.db", dir);
	int64_t start = (clock_now_ms() / DAY_MS - 1) * DAY_MS;
	double rate = write_stage(path, 1440, true, start, g, NULL, &secs, &rows);
	printf("{\"bench\":\"write\",\"rollups\":true,\"batches\":\"one day, one minute per "
	       "message\",\"rows\":%lld,\"seconds\":%.2f,\"rows_per_s\":%.0f}\n",
	       (long long)rows, secs, rate);
	fflush(stdout);
	sqlite3 *c;
	sqlite3_open(path, &c);
	size_t slen;
	char *snap = snapshot_json(&slen);
	sqlite3_exec(c, "BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(c, "INSERT INTO snapshots VALUES (?1, ?2, ?1, ?3)", -1, &st, NULL);
	for (int m = 0; m < 1440; m++)
		for (int w = 0; w < WINDOW_COUNT; w++) {
			sqlite3_bind_int64(st, 1, start + m * MIN_MS);
			sqlite3_bind_text(st, 2, window_name(w), -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, snap, (int)slen, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	sqlite3_finalize(st);
	sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
	free(snap);
	int64_t minute = table_bytes(c, "term_minute"), hour = table_bytes(c, "term_hour"),
		day = table_bytes(c, "term_day"), snaps = table_bytes(c, "snapshots"),
		terms = table_bytes(c, "terms"),
		vol = table_bytes(c, "volume_minute") + table_bytes(c, "volume_hour") +
		      table_bytes(c, "volume_day");
	int64_t pages = q1(c, "PRAGMA page_count") * q1(c, "PRAGMA page_size");
	/* steady state: 2 days of minutes and snapshots, 90 of hours, 365 of days (a year) */
	double steady = 2.0 * minute + 90.0 * hour + 365.0 * day + 2.0 * snaps + terms + 90 * vol;
	printf("{\"bench\":\"size\",\"posts_per_s\":1000,\"rows_per_minute\":%d,"
	       "\"minute_rows\":%lld,\"hour_rows\":%lld,\"day_rows\":%lld,"
	       "\"bytes_per_day\":{\"term_minute\":%lld,\"term_hour\":%lld,\"term_day\":%lld,"
	       "\"snapshots\":%lld,\"volume\":%lld,\"terms\":%lld,\"file\":%lld},"
	       "\"bytes_per_minute_row\":%.1f,\"steady_state_bytes_one_year\":%.0f}\n",
	       TOP_M, (long long)q1(c, "SELECT count(*) FROM term_minute"),
	       (long long)q1(c, "SELECT count(*) FROM term_hour"),
	       (long long)q1(c, "SELECT count(*) FROM term_day"), (long long)minute, (long long)hour,
	       (long long)day, (long long)snaps, (long long)vol, (long long)terms, (long long)pages,
	       (double)minute / (double)q1(c, "SELECT count(*) FROM term_minute"), steady);
	sqlite3_close(c);
	fflush(stdout);
}

/* ---- the 90-day history database ---- */

struct agg {
	uint64_t count, pos, neg;
	uint32_t authors;
	double sent;
};

struct aggset {
	struct agg *a;         /* VOCAB + 1 */
	uint32_t *touched;
	size_t n;
};

static void agg_add(struct aggset *s, const struct mrow *r)
{
	struct agg *a = &s->a[r->id];
	if (a->count == 0)
		s->touched[s->n++] = r->id;
	a->count += r->count;
	a->pos += r->pos;
	a->neg += r->neg;
	a->sent += r->sent;
	if (r->authors > a->authors)
		a->authors = r->authors;
}

static void agg_write(struct aggset *s, sqlite3_stmt *st, int64_t period)
{
	for (size_t i = 0; i < s->n; i++) {
		uint32_t id = s->touched[i];
		struct agg *a = &s->a[id];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, period);
		sqlite3_bind_int(st, 3, term_kind(id));
		sqlite3_bind_int64(st, 4, (int64_t)a->count);
		sqlite3_bind_int64(st, 5, a->authors);
		sqlite3_bind_double(st, 6, a->sent);
		sqlite3_bind_int64(st, 7, (int64_t)a->pos);
		sqlite3_bind_int64(st, 8, (int64_t)a->neg);
		sqlite3_step(st);
		sqlite3_reset(st);
		memset(a, 0, sizeof *a);
	}
	s->n = 0;
}

static void exec(sqlite3 *c, const char *sql)
{
	char *e = NULL;
	if (sqlite3_exec(c, sql, NULL, NULL, &e) != SQLITE_OK) {
		fprintf(stderr, "bench: %s: %s\n", sql, e);
		exit(1);
	}
}

static void generate(const char *path, int days, int64_t end, struct gen *g)
{
	struct db *db;
	char err[512];
	unlink(path);
	if (db_open(&db, path, err, sizeof err) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	db_close(db);
	sqlite3 *c;
	sqlite3_open(path, &c);
	exec(c, "PRAGMA synchronous = OFF; PRAGMA cache_size = -524288; PRAGMA foreign_keys = OFF");
	double t0 = now_s();
	sqlite3_stmt *ti, *mi, *hi, *di, *vm, *vh, *vd, *si;
	sqlite3_prepare_v2(c, "INSERT INTO terms (id, kind, term) VALUES (?1, ?2, ?3)", -1, &ti, NULL);
	sqlite3_prepare_v2(c, "INSERT INTO term_minute VALUES (?1, ?2, ?4, ?5, ?6, ?7, ?8)", -1, &mi,
			   NULL);
	sqlite3_prepare_v2(c, "INSERT INTO term_hour VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &hi,
			   NULL);
	sqlite3_prepare_v2(c, "INSERT INTO term_day VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &di,
			   NULL);
	sqlite3_prepare_v2(c, "INSERT INTO volume_minute VALUES (?1, 60000, 21000, 9000, 4800.0)",
			   -1, &vm, NULL);
	sqlite3_prepare_v2(c, "INSERT INTO volume_hour VALUES (?1, 3600000, 1260000, 540000, 288000.0)",
			   -1, &vh, NULL);
	sqlite3_prepare_v2(c, "INSERT INTO volume_day VALUES (?1, 86400000, 30240000, 12960000,"
			      " 6912000.0)", -1, &vd, NULL);
	sqlite3_prepare_v2(c, "INSERT INTO snapshots VALUES (?1, ?2, ?1, ?3)", -1, &si, NULL);
	exec(c, "BEGIN");
	for (uint32_t id = 1; id <= VOCAB; id++) {
		sqlite3_bind_int64(ti, 1, id);
		sqlite3_bind_text(ti, 2, term_kind_name(term_kind(id)), -1, SQLITE_STATIC);
		sqlite3_bind_text(ti, 3, names_pool[id], names_len[id], SQLITE_STATIC);
		sqlite3_step(ti);
		sqlite3_reset(ti);
	}
	exec(c, "COMMIT");
	struct aggset hour = { calloc(VOCAB + 1, sizeof(struct agg)), malloc((VOCAB + 1) * 4), 0 };
	struct aggset day = { calloc(VOCAB + 1, sizeof(struct agg)), malloc((VOCAB + 1) * 4), 0 };
	size_t slen;
	char *snap = snapshot_json(&slen);
	int64_t start = end - (int64_t)days * DAY_MS, minute_from = end - 2 * DAY_MS;
	int64_t nmin = 0, nhour = 0, nday = 0;
	for (int64_t t = start; t < end; t += MIN_MS) {
		if (t % HOUR_MS == 0 || t == start)
			exec(c, "BEGIN");
		struct mrow *r;
		size_t n = gen_minute(g, t, &r);
		for (size_t i = 0; i < n; i++) {
			agg_add(&hour, &r[i]);
			agg_add(&day, &r[i]);
			if (t >= minute_from) {
				sqlite3_bind_int64(mi, 1, r[i].id);
				sqlite3_bind_int64(mi, 2, t);
				sqlite3_bind_int64(mi, 4, r[i].count);
				sqlite3_bind_int64(mi, 5, r[i].authors);
				sqlite3_bind_double(mi, 6, r[i].sent);
				sqlite3_bind_int64(mi, 7, r[i].pos);
				sqlite3_bind_int64(mi, 8, r[i].neg);
				sqlite3_step(mi);
				sqlite3_reset(mi);
				nmin++;
			}
		}
		if (t >= minute_from) {
			sqlite3_bind_int64(vm, 1, t);
			sqlite3_step(vm);
			sqlite3_reset(vm);
			for (int w = 0; w < WINDOW_COUNT; w++) {
				sqlite3_bind_int64(si, 1, t);
				sqlite3_bind_text(si, 2, window_name(w), -1, SQLITE_STATIC);
				sqlite3_bind_text(si, 3, snap, (int)slen, SQLITE_STATIC);
				sqlite3_step(si);
				sqlite3_reset(si);
			}
		}
		if ((t + MIN_MS) % HOUR_MS == 0) {
			int64_t h = t + MIN_MS - HOUR_MS;
			nhour += (int64_t)hour.n;
			agg_write(&hour, hi, h);
			sqlite3_bind_int64(vh, 1, h);
			sqlite3_step(vh);
			sqlite3_reset(vh);
			if ((t + MIN_MS) % DAY_MS == 0) {
				int64_t d = t + MIN_MS - DAY_MS;
				nday += (int64_t)day.n;
				agg_write(&day, di, d);
				sqlite3_bind_int64(vd, 1, d);
				sqlite3_step(vd);
				sqlite3_reset(vd);
			}
			exec(c, "COMMIT");
		}
	}
	/* the hour and day still open at the end */
	nhour += (int64_t)hour.n;
	agg_write(&hour, hi, end - 1 - (end - 1) % HOUR_MS);
	nday += (int64_t)day.n;
	agg_write(&day, di, end - 1 - (end - 1) % DAY_MS);
	if (!sqlite3_get_autocommit(c))
		exec(c, "COMMIT");
	int64_t distinct = q1(c, "SELECT count(DISTINCT term_id) FROM term_day");
	exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
	exec(c, "ANALYZE");
	sqlite3_finalize(ti);
	sqlite3_finalize(mi);
	sqlite3_finalize(hi);
	sqlite3_finalize(di);
	sqlite3_finalize(vm);
	sqlite3_finalize(vh);
	sqlite3_finalize(vd);
	sqlite3_finalize(si);
	struct stat stt;
	stat(path, &stt);
	printf("{\"bench\":\"generate\",\"days\":%d,\"minute_rows\":%lld,\"hour_rows\":%lld,"
	       "\"day_rows\":%lld,\"distinct_terms_in_history\":%lld,\"file_bytes\":%lld,"
	       "\"seconds\":%.1f}\n",
	       days, (long long)nmin, (long long)nhour, (long long)nday, (long long)distinct,
	       (long long)stt.st_size, now_s() - t0);
	fflush(stdout);
	free(snap);
	free(hour.a);
	free(hour.touched);
	free(day.a);
	free(day.touched);
	sqlite3_close(c);
}

/* The statements the readers run, as the planner plans them on this file. */
static void plans(const char *path)
{
	static const char *const sql[] = {
		"SELECT id FROM terms WHERE kind = 'word' AND term = 'word1'",
		"SELECT minute_ms, count FROM term_minute WHERE term_id = 1 AND minute_ms >= 0 AND minute_ms < 1",
		"SELECT hour_ms, count FROM term_hour WHERE term_id = 1 AND hour_ms >= 0 AND hour_ms < 1",
		"SELECT coalesce(sum(count), 0) FROM term_day WHERE term_id = 1 AND day_ms >= 0 AND day_ms < 1",
		"SELECT term_id, count FROM term_hour WHERE hour_ms = 0 ORDER BY count DESC LIMIT 40",
		"SELECT term_id, count FROM term_day WHERE day_ms = 0 AND kind = 1 ORDER BY count DESC LIMIT 40",
		"SELECT kind, term FROM terms WHERE id = 1",
		"SELECT minute_ms, posts FROM volume_minute WHERE minute_ms >= 0 AND minute_ms < 1",
		"SELECT minute_ms, json_extract(json, '$.score') FROM snapshots WHERE win = '5m' AND"
		" minute_ms <= 0 ORDER BY minute_ms DESC LIMIT 1",
		"DELETE FROM term_minute WHERE (term_id, minute_ms) IN (SELECT term_id, minute_ms FROM"
		" term_minute WHERE minute_ms < 0 ORDER BY minute_ms LIMIT 4000)",
		"DELETE FROM term_hour WHERE (term_id, hour_ms) IN (SELECT term_id, hour_ms FROM"
		" term_hour WHERE hour_ms < 0 ORDER BY hour_ms LIMIT 4000)",
	};
	sqlite3 *c;
	sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL);
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		char q[1024];
		sqlite3_stmt *st;
		snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql[i]);
		if (sqlite3_prepare_v2(c, q, -1, &st, NULL) != SQLITE_OK)
			continue;
		json_t *steps = json_array();
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(steps, json_string((const char *)sqlite3_column_text(st, 3)));
		sqlite3_finalize(st);
		json_t *o = json_pack("{s:s,s:s,s:o}", "bench", "plan", "sql", sql[i], "plan", steps);
		char *text = json_dumps(o, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(o);
	}
	sqlite3_close(c);
	fflush(stdout);
}

/* ---- queries through HTTP ---- */

struct body {
	size_t len;
	bool live;
	char head[64];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct body *b = ud;
	size_t k = sz * n;
	if (b->len < sizeof b->head - 1) {
		size_t c = k < sizeof b->head - 1 - b->len ? k : sizeof b->head - 1 - b->len;
		memcpy(b->head + b->len, p, c);
		b->head[b->len + c] = 0;
	}
	if (!b->live && memmem(p, k, "\"live\":true", 11))
		b->live = true;
	b->len += k;
	return k;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint32_t zipf_id(void)
{
	/* mostly terms people look at (the head and recent bursts), some tail */
	double u = unif();
	if (u < 0.8)
		return 1 + (uint32_t)(pow((double)HEAD, unif()) - 1);
	return HEAD + 1 + (uint32_t)(rnd() % (VOCAB - HEAD));
}

static void url_term(uint32_t id, char *out, size_t cap)
{
	char name[40];
	size_t n = term_name(id, name, sizeof name), o = 0;
	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		unsigned char ch = (unsigned char)name[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '-' || ch == '_')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
	}
	out[o] = 0;
}

static void iso(int64_t t, char *buf, size_t cap) { clock_format_rfc3339(t, buf, cap); }

enum shape { Q_TERM_1M_24H, Q_TERM_1H_7D, Q_TERM_1H_90D, Q_TERM_1D_90D, Q_COMPARE_1H_7D,
	     Q_TOP_1H, Q_TOP_24H, Q_TOP_7D_HASHTAG, Q_TOP_30D, Q_TOP_90D, Q_TOP_24H_LIMIT_200,
	     Q_SENTIMENT_24H, Q_SENTIMENT_90D, Q_SNAPSHOT, Q_CSV_TERM_1M_24H, Q_COUNT_ };

static const char *const shape_names[Q_COUNT_] = {
	"term_1m_24h", "term_1h_7d", "term_1h_90d", "term_1d_90d", "compare5_1h_7d", "top_1h",
	"top_24h", "top_7d_hashtag", "top_30d", "top_90d", "top_24h_limit200", "sentiment_24h",
	"sentiment_1d_90d", "snapshot", "csv_term_1m_24h",
};

static void make_url(enum shape s, int port, int64_t now, char *url, size_t cap)
{
	char t[5][200], f[32], to[32];
	for (int i = 0; i < 5; i++)
		url_term(zipf_id(), t[i], sizeof t[i]);
	int n = snprintf(url, cap, "http://127.0.0.1:%d", port);
	iso(now, to, sizeof to);
	switch (s) {
	case Q_TERM_1M_24H:
		iso(now - DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/terms/%s?step=1m&from=%s&to=%s", t[0], f, to);
		break;
	case Q_TERM_1H_7D:
		iso(now - 7 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/terms/%s?step=1h&from=%s&to=%s", t[0], f, to);
		break;
	case Q_TERM_1H_90D:
		iso(now - 90 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/terms/%s?step=1h&from=%s&to=%s", t[0], f, to);
		break;
	case Q_TERM_1D_90D:
		iso(now - 90 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/terms/%s?step=1d&from=%s&to=%s", t[0], f, to);
		break;
	case Q_COMPARE_1H_7D:
		iso(now - 7 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/terms?terms=%s,%s,%s,%s,%s&step=1h&from=%s&to=%s",
			 t[0], t[1], t[2], t[3], t[4], f, to);
		break;
	case Q_TOP_1H:
		iso(now - HOUR_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/history/top?from=%s&to=%s", f, to);
		break;
	case Q_TOP_24H:
		iso(now - DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/history/top?from=%s&to=%s", f, to);
		break;
	case Q_TOP_7D_HASHTAG:
		iso(now - 7 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/history/top?kind=hashtag&from=%s&to=%s", f, to);
		break;
	case Q_TOP_30D:
		iso(now - 30 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/history/top?from=%s&to=%s", f, to);
		break;
	case Q_TOP_90D:
		iso(now - 89 * DAY_MS - (int64_t)(rnd() % 1000) * MIN_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/history/top?from=%s&to=%s", f, to);
		break;
	case Q_TOP_24H_LIMIT_200:
		iso(now - DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/history/top?limit=200&from=%s&to=%s", f, to);
		break;
	case Q_SENTIMENT_24H:
		snprintf(url + n, cap - n, "/api/sentiment?window=24h");
		break;
	case Q_SENTIMENT_90D:
		iso(now - 90 * DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/sentiment?step=1d&from=%s&to=%s", f, to);
		break;
	case Q_SNAPSHOT:
		iso(now - (int64_t)(rnd() % (2 * DAY_MS)), f, sizeof f);
		snprintf(url + n, cap - n, "/api/snapshots?at=%s&window=1h", f);
		break;
	case Q_CSV_TERM_1M_24H:
		iso(now - DAY_MS, f, sizeof f);
		snprintf(url + n, cap - n, "/api/export.csv?what=term&term=%s&step=1m&from=%s&to=%s",
			 t[0], f, to);
		break;
	default:
		break;
	}
}

static pid_t start_trendd(const char *bin, const char *db, int port)
{
	char listen[64];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("TRENDD_TOKEN", "bench-token-0123456789abcdef", 1);
		execl(bin, bin, "--db", db, "--listen", listen, "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void query_stage(const char *bin, const char *db, int queries)
{
	int port = 20000 + (int)(getpid() % 20000);
	pid_t pid = start_trendd(bin, db, port);
	CURL *c = curl_easy_init();
	char url[2048];
	struct body b;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	for (int i = 0;; i++) {
		long code = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		memset(&b, 0, sizeof b);
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
			break;
		if (i > 300 || waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "bench: trendd did not start (%s)\n", bin);
			exit(1);
		}
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
	double *ms = malloc((size_t)queries * sizeof *ms);
	int64_t now = clock_now_ms();
	/* one warm-up round, so the first query of a shape does not pay the page cache */
	for (int s = 0; s < Q_COUNT_; s++) {
		make_url(s, port, now, url, sizeof url);
		curl_easy_setopt(c, CURLOPT_URL, url);
		memset(&b, 0, sizeof b);
		curl_easy_perform(c);
	}
	for (int s = 0; s < Q_COUNT_; s++) {
		int errors = 0, live = 0;
		size_t bytes = 0;
		double t0 = now_s();
		for (int i = 0; i < queries; i++) {
			long code = 0;
			make_url(s, port, now, url, sizeof url);
			curl_easy_setopt(c, CURLOPT_URL, url);
			memset(&b, 0, sizeof b);
			double a = now_s();
			CURLcode cc = curl_easy_perform(c);
			ms[i] = (now_s() - a) * 1000;
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
			if (cc != CURLE_OK || (code != 200 && !(s == Q_SNAPSHOT && code == 404))) {
				if (errors++ == 0)
					fprintf(stderr, "bench: %s: HTTP %ld %s (%s)\n", url, code, b.head,
						curl_easy_strerror(cc));
			}
			live += b.live;
			bytes += b.len;
		}
		double total = now_s() - t0;
		qsort(ms, (size_t)queries, sizeof *ms, dcmp);
		printf("{\"bench\":\"query\",\"shape\":\"%s\",\"n\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
		       "\"max_ms\":%.2f,\"qps\":%.0f,\"live\":%d,\"errors\":%d,\"mean_bytes\":%zu}\n",
		       shape_names[s], queries, ms[queries / 2], ms[(queries * 99) / 100],
		       ms[queries - 1], queries / total, live, errors, bytes / (size_t)queries);
		fflush(stdout);
	}
	free(ms);
	curl_easy_cleanup(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },    { "trendd", required_argument, NULL, 't' },
		{ "days", required_argument, NULL, 'n' },   { "queries", required_argument, NULL, 'q' },
		{ "stages", required_argument, NULL, 's' }, { "keep", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "/tmp", *stages = "write,size,history";
	char bin[4096];
	int days = 90, queries = 200, ch;
	bool keep = false;
	ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 16);
	if (n > 0) {
		bin[n] = 0;
		char *slash = strrchr(bin, '/');
		snprintf(slash ? slash : bin, sizeof bin - (size_t)(slash ? slash - bin : 0),
			 "/../trendd");
	} else {
		snprintf(bin, sizeof bin, "trendd");
	}
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 't': snprintf(bin, sizeof bin, "%s", optarg); break;
		case 'n': days = atoi(optarg); break;
		case 'q': queries = atoi(optarg); break;
		case 's': stages = optarg; break;
		case 'k': keep = true; break;
		default:
			fprintf(stderr, "usage: %s [--dir DIR] [--trendd PATH] [--days N] [--queries N] "
					"[--stages write,size,history] [--keep]\n", argv[0]);
			return 2;
		}
	}
	if (days < 3 || queries < 10) {
		fprintf(stderr, "bench: --days >= 3 and --queries >= 10\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	names_init();
	struct gen g;
	gen_init(&g);
	char path[4096];
	if (strstr(stages, "write")) {
		snprintf(path, sizeof path, "%s/trendd-bench-write.db", dir);
		int64_t start = (clock_now_ms() / DAY_MS - 2) * DAY_MS;
		struct pipeline pipe = { 0 };
		pipeline_load(&pipe);
		for (int r = 0; r < 3; r++) {
			double secs;
			int64_t rows;
			double rate = write_stage(path, 480, r >= 1, start, &g, r == 2 ? &pipe : NULL,
						  &secs, &rows);
			printf("{\"bench\":\"write\",\"rollups\":%s,\"batches\":\"8 hours, one minute "
			       "per message\",\"rows\":%lld,\"seconds\":%.2f,\"rows_per_s\":%.0f",
			       r ? "true" : "false", (long long)rows, secs, rate);
			if (r == 2)
				printf(",\"pipeline_posts_per_s\":%.0f", pipe.posts / pipe.seconds);
			printf("}\n");
			fflush(stdout);
		}
		posts_tsv_free(&pipe.posts_tsv);
		if (!keep)
			unlink(path);
	}
	if (strstr(stages, "size")) {
		size_stage(dir, &g);
		snprintf(path, sizeof path, "%s/size.db", dir);
		if (!keep)
			unlink(path);
	}
	if (strstr(stages, "history")) {
		snprintf(path, sizeof path, "%s/trendd-bench-history.db", dir);
		int64_t end = (clock_now_ms() / MIN_MS + 1) * MIN_MS;
		generate(path, days, end, &g);
		plans(path);
		query_stage(bin, path, queries);
		if (!keep) {
			char p2[4200];
			unlink(path);
			snprintf(p2, sizeof p2, "%s-wal", path);
			unlink(p2);
			snprintf(p2, sizeof p2, "%s-shm", path);
			unlink(p2);
			snprintf(p2, sizeof p2, "%s.token", path);
			unlink(p2);
		}
	}
	curl_global_cleanup();
	return 0;
}
