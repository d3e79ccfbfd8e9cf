/*
 * bench/ingest - throughput and timeliness of the ingest path.
 *
 * Prints one JSON object per line:
 *   parse    one line per document format: every fixture of the format
 *            (tests/fixtures: Mastodon and Reddit captures, HN, JSON Feed,
 *            RSS 0.9x/1.0/2.0 and Atom from real sites) parsed over and over
 *            until a round has read --mb MB; the best of --rounds rounds, on
 *            one core: document MB/s and posts/s by the wall clock, and by
 *            the thread's CPU time (cpu_*: what one core does even when other
 *            work shares the machine - load_1m says how busy it was)
 *   sources  --sources Mastodon sources (every other one polled each 1 s, the
 *            rest each 2 s) polled by one real ingest thread (ingest.c,
 *            http.c, the mastodon kind) for --seconds, against an HTTP/1.1
 *            server with keep-alive run by threads of this program on
 *            127.0.0.1 that answers every poll with 5 new statuses made from
 *            the captured public timeline. Reported from the server's side:
 *            polls done and due (a poll per interval from each source's
 *            first), missed intervals (two polls more than 1.2 intervals
 *            apart), the lag of each poll behind its interval (p50, p99,
 *            max: the time between two polls minus the interval, so it holds
 *            the previous response's transfer and parse), how late the first
 *            poll of the initial burst came, and the CPU time of the ingest
 *            thread and of the whole process (server threads included)
 *
 * usage: bench/ingest [--fixtures DIR] [--stages parse,sources] [--rounds N]
 *                     [--mb N] [--sources N] [--seconds N]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/bus.h"
#include "core/clock.h"
#include "core/dbmsg.h"
#include "core/limits.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/feed.h"
#include "ingest/html_text.h"
#include "ingest/ingest.h"

#define PAGE_STATUSES 5        /* new statuses per answer: fewer than a page, no catch-up */
#define MISSED_FACTOR 1.2      /* a poll later than this many intervals missed one */

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* The 1-minute load average: other work on the machine shows in wall-clock rates. */
static double load_1m(void)
{
	double l[1] = { -1 };
	getloadavg(l, 1);
	return l[0];
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

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_append(&sb, buf, n);
	fclose(f);
	if (!sb.buf)
		sb_puts(&sb, "");
	return sb_detach(&sb, len);
}

/* ---- parse ---- */

struct doc {
	char *raw;            /* owned: the whole file */
	const char *body;     /* into raw */
	size_t len;
	char ctype[128];      /* of a captured response, else "" */
};

struct docset {
	struct doc *d;
	size_t n, bytes;
};

/*
 * Adds a fixture. Captured responses (*.http) count only when they are a 200
 * with a body that opens like the format ('[' or '{'); their Content-Type is
 * kept for the parser.
 */
static void docset_add(struct docset *ds, const char *path, char open)
{
	struct doc d = { 0 };
	size_t n;

	if (!(d.raw = read_file(path, &n)))
		return;
	d.body = d.raw;
	d.len = n;
	if (strstr(path, ".http")) {
		const char *sep = strstr(d.raw, "\r\n\r\n");
		const char *ct = strcasestr(d.raw, "\r\ncontent-type:");
		if (!sep || strncmp(d.raw, "HTTP/1.1 200", 12) != 0) {
			free(d.raw);
			return;
		}
		if (ct && ct < sep) {
			ct += 15;
			while (*ct == ' ')
				ct++;
			snprintf(d.ctype, sizeof d.ctype, "%.*s", (int)strcspn(ct, "\r\n"), ct);
		}
		d.body = sep + 4;
		d.len = n - (size_t)(d.body - d.raw);
	}
	if (open && (d.len == 0 || d.body[0] != open)) {
		free(d.raw);
		return;
	}
	ds->d = realloc(ds->d, (ds->n + 1) * sizeof *ds->d);
	ds->d[ds->n++] = d;
	ds->bytes += d.len;
}

/* Adds every file of dir whose name ends in ext (sorted, for stable runs). */
static void docset_dir(struct docset *ds, const char *dir, const char *ext, char open)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	char path[4096];

	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name), el = strlen(ext);
		if (l >= el && !strcmp(names[i]->d_name + l - el, ext) &&
		    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path)
			docset_add(ds, path, open);
		free(names[i]);
	}
	free(names);
}

static void docset_free(struct docset *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->d[i].raw);
	free(ds->d);
}

static void bench_parse(const char *fixtures, int rounds, double mb)
{
	static const struct {
		const char *format;
		const char *dirs[3];
		const char *ext;
		char open;
	} sets[] = {
		{ "mastodon", { "mastodon" }, ".http", '[' },
		{ "reddit", { "reddit" }, ".http", '{' },
		{ "hn", { "hn" }, "search_by_date.json", '{' },
		{ "jsonfeed", { "jsonfeed" }, ".json", '{' },
		{ "rss", { "feeds/real/rss0", "feeds/real/rss1", "feeds/real/rss2" }, ".xml", 0 },
		{ "atom", { "feeds/real/atom" }, ".xml", 0 },
	};
	struct html_text *html;
	char dir[4096];

	if (html_text_new(&html) < 0) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
		const struct feed_format *fmt = feed_format_find(sets[k].format);
		struct docset ds = { 0 };
		double best = 1e30, best_cpu = 1e30;
		size_t best_bytes = 0, best_posts = 0, best_docs = 0, skipped = 0, bad = 0;

		for (int i = 0; i < 3 && sets[k].dirs[i]; i++) {
			snprintf(dir, sizeof dir, "%s/%s", fixtures, sets[k].dirs[i]);
			docset_dir(&ds, dir, sets[k].ext, sets[k].open);
		}
		if (!fmt || ds.n == 0) {
			fprintf(stderr, "bench: no %s fixtures under %s\n", sets[k].format, fixtures);
			docset_free(&ds);
			continue;
		}
		for (int r = 0; r < rounds; r++) {
			size_t bytes = 0, posts = 0, docs = 0;
			double t0 = now_s(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
			for (size_t i = 0; bytes < mb * 1e6; i = (i + 1) % ds.n, docs++) {
				const struct doc *d = &ds.d[i];
				struct feed_input in = {
					.body = d->body,
					.len = d->len,
					.content_type = d->ctype[0] ? d->ctype : NULL,
					.base_url = "https://example.com/feed",
					.source_id = 1,
					.html = html,
				};
				struct feed_doc doc;
				feed_doc_init(&doc);
				if (fmt->parse(&in, &doc) < 0) {
					fprintf(stderr, "bench: out of memory\n");
					exit(1);
				}
				posts += doc.nposts;
				if (r == 0 && docs < ds.n) {
					skipped += doc.skipped;
					bad += !doc.wellformed;
				}
				feed_doc_clear(&doc);
				bytes += d->len;
			}
			double dt = now_s() - t0, dc = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
			/* Rounds read the same bytes (within one document): compare times. */
			if (dc < best_cpu)
				best_cpu = dc;
			if (dt < best) {
				best = dt;
				best_bytes = bytes;
				best_posts = posts;
				best_docs = docs;
			}
		}
		printf("{\"stage\":\"parse\",\"format\":\"%s\",\"files\":%zu,\"file_bytes\":%zu,"
		       "\"round_bytes\":%zu,\"docs_per_round\":%zu,\"posts_per_round\":%zu,"
		       "\"rounds\":%d,\"mb_per_s\":%.1f,\"posts_per_s\":%.0f,"
		       "\"cpu_mb_per_s\":%.1f,\"cpu_posts_per_s\":%.0f,"
		       "\"items_skipped_per_pass\":%zu,\"illformed_files\":%zu,\"load_1m\":%.2f}\n",
		       sets[k].format, ds.n, ds.bytes, best_bytes, best_docs, best_posts, rounds,
		       best_bytes / best / 1e6, best_posts / best, best_bytes / best_cpu / 1e6,
		       best_posts / best_cpu, skipped, bad, load_1m());
		fflush(stdout);
		docset_free(&ds);
	}
	html_text_free(html);
}

/* ---- sources: a keep-alive HTTP server in this process ---- */

struct poll_log {
	int64_t *at;          /* owned: monotonic ms of each request */
	size_t n, cap;
};

struct server {
	int fd;
	uint16_t port;
	atomic_bool stop;
	pthread_t acceptor;
	atomic_int conns;               /* connection threads still running */
	atomic_ullong accepted;         /* connections accepted: polls / accepted = reuse */
	pthread_mutex_t mu;             /* guards logs, next_id and requests */
	struct poll_log *logs;          /* owned: one per source */
	size_t nsources;
	uint64_t next_id;
	uint64_t requests, bad_requests;
	char **templates;               /* owned: statuses with @ID@ and @AT@ to fill in */
	size_t ntemplates;
};

struct conn {
	struct server *srv;
	int fd;
};

/* Statuses of the captured public timeline as templates for new ones. */
static int templates_load(struct server *s, const char *fixtures)
{
	char path[4096];
	size_t n;
	char *raw;
	json_t *arr, *st;
	size_t i;

	snprintf(path, sizeof path, "%s/mastodon/timeline_public.http", fixtures);
	if (!(raw = read_file(path, &n)))
		return -1;
	const char *body = strstr(raw, "\r\n\r\n");
	arr = body ? json_loads(body + 4, 0, NULL) : NULL;
	free(raw);
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		json_decref(arr);
		return -1;
	}
	s->templates = calloc(json_array_size(arr), sizeof *s->templates);
	json_array_foreach(arr, i, st) {
		json_object_set_new(st, "id", json_string("@ID@"));
		json_object_set_new(st, "created_at", json_string("@AT@"));
		s->templates[s->ntemplates++] = json_dumps(st, JSON_COMPACT);
	}
	json_decref(arr);
	return 0;
}

/* Appends template t with its placeholders filled. */
static void status_put(struct strbuf *sb, const char *t, const char *id, const char *at)
{
	for (const char *p = t; *p;) {
		const char *m = strchr(p, '@');
		if (!m) {
			sb_puts(sb, p);
			break;
		}
		sb_append(sb, p, (size_t)(m - p));
		if (!strncmp(m, "@ID@", 4)) {
			sb_puts(sb, id);
			p = m + 4;
		} else if (!strncmp(m, "@AT@", 4)) {
			sb_puts(sb, at);
			p = m + 4;
		} else {
			sb_putc(sb, '@');
			p = m + 1;
		}
	}
}

/* Records the poll of source idx and writes the whole response into out. */
static void answer(struct server *s, const char *target, struct strbuf *out)
{
	struct strbuf body = STRBUF_INIT;
	unsigned long idx;
	uint64_t first;
	char id[32], at[32];

	if (sscanf(target, "/s/%lu/", &idx) != 1 || idx >= s->nsources) {
		pthread_mutex_lock(&s->mu);
		s->bad_requests++;
		pthread_mutex_unlock(&s->mu);
		sb_puts(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		return;
	}
	int64_t t = clock_mono_ms();
	pthread_mutex_lock(&s->mu);
	struct poll_log *l = &s->logs[idx];
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->at = realloc(l->at, l->cap * sizeof *l->at);
	}
	l->at[l->n++] = t;
	first = s->next_id;
	s->next_id += PAGE_STATUSES;
	s->requests++;
	pthread_mutex_unlock(&s->mu);

	clock_format_rfc3339_ms(clock_now_ms(), at, sizeof at);
	sb_putc(&body, '[');
	/* Newest first, as Mastodon lists them. */
	for (int k = PAGE_STATUSES - 1; k >= 0; k--) {
		snprintf(id, sizeof id, "%llu", (unsigned long long)(first + (uint64_t)k));
		if (k != PAGE_STATUSES - 1)
			sb_putc(&body, ',');
		status_put(&body, s->templates[(first + (uint64_t)k) % s->ntemplates], id, at);
	}
	sb_putc(&body, ']');
	sb_printf(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
		       "Content-Length: %zu\r\n\r\n", body.len);
	sb_append(out, body.buf, body.len);
	sb_free(&body);
}

/* One connection: requests one after another until the client closes or the bench ends. */
static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	char buf[8192];
	size_t n = 0;
	struct strbuf out = STRBUF_INIT;

	pthread_setname_np(pthread_self(), "bench-conn");
	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		char *end = n ? strstr(buf, "\r\n\r\n") : NULL;
		if (!end) {
			int pr = poll(&pfd, 1, 100);
			if (pr == 0)
				continue;
			ssize_t r = pr > 0 ? recv(c->fd, buf + n, sizeof buf - 1 - n, 0) : -1;
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = 0;
			if (n == sizeof buf - 1 && !strstr(buf, "\r\n\r\n"))
				break;
			continue;
		}
		char target[1024] = "";
		sscanf(buf, "GET %1023s ", target);
		sb_reset(&out);
		answer(s, target, &out);
		for (size_t off = 0; off < out.len;) {
			ssize_t w = send(c->fd, out.buf + off, out.len - off, MSG_NOSIGNAL);
			if (w <= 0)
				goto done;
			off += (size_t)w;
		}
		size_t used = (size_t)(end + 4 - buf);
		memmove(buf, buf + used, n - used + 1);
		n -= used;
	}
done:
	sb_free(&out);
	close(c->fd);
	atomic_fetch_sub(&s->conns, 1);
	free(c);
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };

	pthread_setname_np(pthread_self(), "bench-accept");
	while (!atomic_load(&s->stop)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int fd = accept(s->fd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepted, 1);
		struct conn *c = malloc(sizeof *c);
		pthread_t t;
		c->srv = s;
		c->fd = fd;
		atomic_fetch_add(&s->conns, 1);
		if (pthread_create(&t, NULL, conn_main, c) != 0) {
			atomic_fetch_sub(&s->conns, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static int server_start(struct server *s, size_t nsources, const char *fixtures)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->nsources = nsources;
	s->logs = calloc(nsources, sizeof *s->logs);
	s->next_id = 110000000000000000ull;
	if (templates_load(s, fixtures) < 0) {
		fprintf(stderr, "bench: cannot read %s/mastodon/timeline_public.http\n", fixtures);
		return -1;
	}
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(s->fd, 1024) < 0 || getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("bench: listen");
		return -1;
	}
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->acceptor, NULL, acceptor_main, s) == 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->acceptor, NULL);
	while (atomic_load(&s->conns) > 0)
		usleep(10000);
	close(s->fd);
	for (size_t i = 0; i < s->nsources; i++)
		free(s->logs[i].at);
	free(s->logs);
	for (size_t i = 0; i < s->ntemplates; i++)
		free(s->templates[i]);
	free(s->templates);
	pthread_mutex_destroy(&s->mu);
}

/* ---- sources: consumers standing in for the analytics and db threads ---- */

struct drain {
	struct bus *bus;
	atomic_bool stop;
	atomic_ullong posts;
	pthread_t thread;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	void *items[256];

	pthread_setname_np(pthread_self(), "bench-drain");
	while (!atomic_load(&d->stop)) {
		size_t n = queue_pop_batch(&d->bus->posts, items, 256, 20);
		for (size_t i = 0; i < n; i++)
			post_free(items[i]);
		atomic_fetch_add(&d->posts, n);
		n = queue_pop_batch(&d->bus->db, items, 256, 0);
		for (size_t i = 0; i < n; i++)
			dbmsg_free(items[i]);
	}
	return NULL;
}

/* CPU seconds of this process's thread named name (from /proc), or -1. */
static double thread_cpu_s(const char *name)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	double cpu = -1;
	char path[300], buf[1024];

	if (!dir)
		return -1;
	while (cpu < 0 && (e = readdir(dir))) {
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		bool match = fgets(buf, sizeof buf, f) && !strncmp(buf, name, strlen(name)) &&
			     (buf[strlen(name)] == '\n' || buf[strlen(name)] == 0);
		fclose(f);
		if (!match)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof buf, f)) {
			/* Fields after the ")" closing the name: state is 3rd, utime 14th, stime 15th. */
			const char *p = strrchr(buf, ')');
			unsigned long long ut, st;
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
					&ut, &st) == 2)
				cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		}
		fclose(f);
	}
	closedir(dir);
	return cpu;
}

static double process_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int bench_sources(const char *fixtures, size_t nsources, int seconds)
{
	struct server srv;
	struct bus bus;
	struct drain drain = { .bus = &bus };
	struct ingest *ig;
	struct source_config *cfg = calloc(nsources, sizeof *cfg);
	char **urls = calloc(nsources, sizeof *urls), name[32];
	int rc = 1;

	if (server_start(&srv, nsources, fixtures) < 0 || bus_init(&bus) < 0)
		return 1;
	atomic_init(&drain.stop, false);
	atomic_init(&drain.posts, 0);
	pthread_create(&drain.thread, NULL, drain_main, &drain);
	for (size_t i = 0; i < nsources; i++) {
		char url[128];
		snprintf(url, sizeof url, "http://127.0.0.1:%u/s/%zu", srv.port, i);
		snprintf(name, sizeof name, "bench-%zu", i);
		urls[i] = strdup(url);
		cfg[i] = (struct source_config){ .id = (int64_t)i + 1, .enabled = true,
						 .interval_s = 1 + (int)(i % 2) };
		snprintf(cfg[i].kind, sizeof cfg[i].kind, "mastodon");
		cfg[i].name = strdup(name);
		cfg[i].url = urls[i];
		cfg[i].params_json = (char *)"{\"limit\":40}";
		cfg[i].cursor = (char *)"";
	}

	double cpu0 = process_cpu_s();
	int64_t start = clock_mono_ms();
	if (ingest_start(&ig, NULL, &bus, cfg, nsources) < 0) {
		fprintf(stderr, "bench: ingest_start failed\n");
		goto out;
	}
	usleep((useconds_t)seconds * 1000000u);
	int64_t end = clock_mono_ms();
	double ingest_cpu = thread_cpu_s("ingest");
	double proc_cpu = process_cpu_s() - cpu0;
	ingest_stop(ig);

	/* Only what happened inside [start, end] counts. */
	size_t done = 0, due = 0, missed = 0, nlag = 0, never = 0;
	int64_t *lags = NULL, first_max = 0;
	pthread_mutex_lock(&srv.mu);
	for (size_t i = 0; i < nsources; i++)
		nlag += srv.logs[i].n;
	lags = calloc(nlag + 1, sizeof *lags);
	nlag = 0;
	for (size_t i = 0; i < nsources; i++) {
		const struct poll_log *l = &srv.logs[i];
		int64_t iv = (int64_t)cfg[i].interval_s * 1000;
		size_t n = 0;
		while (n < l->n && l->at[n] <= end)
			n++;
		if (n == 0) {
			never++;
			continue;
		}
		done += n;
		due += (size_t)((end - l->at[0]) / iv) + 1;
		if (l->at[0] - start > first_max)
			first_max = l->at[0] - start;
		for (size_t k = 1; k < n; k++) {
			int64_t gap = l->at[k] - l->at[k - 1];
			lags[nlag++] = gap - iv;
			if ((double)gap > MISSED_FACTOR * (double)iv)
				missed++;
		}
	}
	uint64_t bad = srv.bad_requests;
	pthread_mutex_unlock(&srv.mu);
	qsort(lags, nlag, sizeof *lags, cmp_i64);

	double wall = (double)(end - start) / 1000.0;
	printf("{\"stage\":\"sources\",\"sources\":%zu,\"intervals_s\":[1,2],\"seconds\":%.1f,"
	       "\"polls_done\":%zu,\"polls_due\":%zu,\"missed_intervals\":%zu,"
	       "\"sources_never_polled\":%zu,\"lag_p50_ms\":%lld,\"lag_p99_ms\":%lld,"
	       "\"lag_max_ms\":%lld,\"first_poll_max_ms\":%lld,\"posts\":%llu,"
	       "\"bad_requests\":%llu,\"connections\":%llu,\"ingest_cpu_s\":%.2f,\"ingest_cpu_pct\":%.1f,"
	       "\"process_cpu_pct\":%.1f,\"load_1m\":%.2f}\n",
	       nsources, wall, done, due, missed, never, (long long)pct(lags, nlag, 0.50),
	       (long long)pct(lags, nlag, 0.99), (long long)(nlag ? lags[nlag - 1] : 0),
	       (long long)first_max, (unsigned long long)atomic_load(&drain.posts),
	       (unsigned long long)bad, (unsigned long long)atomic_load(&srv.accepted), ingest_cpu, ingest_cpu < 0 ? -1 : 100 * ingest_cpu / wall,
	       100 * proc_cpu / wall, load_1m());
	fflush(stdout);
	free(lags);
	rc = 0;
out:
	atomic_store(&drain.stop, true);
	pthread_join(drain.thread, NULL);
	server_stop(&srv);
	bus_destroy(&bus);
	for (size_t i = 0; i < nsources; i++) {
		free(cfg[i].name);
		free(urls[i]);
	}
	free(cfg);
	free(urls);
	return rc;
}

int main(int argc, char **argv)
{
	const char *fixtures = TRENDD_BENCH_FIXTURES_DIR, *stages = NULL;
	int rounds = 5, seconds = 30;
	size_t nsources = 200;
	double mb = 8;
	static const struct option opts[] = {
		{ "fixtures", required_argument, NULL, 'f' }, { "stages", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },   { "mb", required_argument, NULL, 'm' },
		{ "sources", required_argument, NULL, 'n' },  { "seconds", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': fixtures = optarg; break;
		case 's': stages = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		case 'm': mb = atof(optarg); break;
		case 'n': nsources = strtoull(optarg, NULL, 10); break;
		case 't': seconds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [--fixtures DIR] [--stages parse,sources] "
					"[--rounds N] [--mb N] [--sources N] [--seconds N]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || mb <= 0 || seconds < 1 || nsources < 1 || nsources > LIMIT_SOURCES) {
		fprintf(stderr, "bench: --rounds, --mb and --seconds must be positive, "
				"--sources from 1 to %d\n", LIMIT_SOURCES);
		return 2;
	}
	/* Threads inherit the name: only the ingest thread may be called "ingest". */
	pthread_setname_np(pthread_self(), "bench");
	if (want(stages, "parse"))
		bench_parse(fixtures, rounds, mb);
	if (want(stages, "sources") && bench_sources(fixtures, nsources, seconds) != 0)
		return 1;
	return 0;
}
