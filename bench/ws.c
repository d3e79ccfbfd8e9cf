/*
 * bench/ws - WebSocket fan-out of a running trendd: how late each trends
 * message reaches its clients, and what the server spends on it.
 *
 * Starts `trendd --demo` itself (or measures the one at --url, with --pid for
 * its CPU and memory), opens N WebSocket clients (subprotocol trendd.v1) with
 * the libwebsockets client API on one thread of this process, subscribes each
 * to the default view and, after a warm-up, records for --seconds every
 * trends message each client receives. The message says when the snapshot
 * was published: generated_at is the wall time the analytics thread started
 * building it and stats.tick_ms how long the build took, after which it is
 * published at once. Delivery lag is the receipt time minus generated_at +
 * tick_ms (lag_ms); lag_from_generated_ms adds the build time back.
 * The first message of each subscription (the current snapshot, sent at once)
 * is not counted.
 *
 * With --slow M it repeats each run with M more clients that subscribe to
 * the largest view (limit 200) on a 4 KiB receive buffer and never read: the
 * server must drop them (trendd_ws_dropped_clients_total) without delaying
 * the others.
 *
 * Prints one JSON object per run:
 *   {"bench":"ws","clients":N,"slow":M,"seconds":S,"connect_s":…,
 *    "messages":…,"expected":…,"lag_ms":{"p50":…,"p99":…,"max":…},
 *    "lag_from_generated_ms":{…},
 *    "server":{"cpu_pct":…,"rss_mb":…,"ws_clients":…,"dropped_slow":…},
 *    "client_cpu_pct":…}
 * (cpu_pct is of one core; this machine's two cores are shared by trendd and
 * the clients, so client_cpu_pct says how much the measurement itself took).
 *
 * usage: bench/ws [--trendd PATH] [--url ws://HOST:PORT] [--pid PID]
 *                 [--clients 1000,10000] [--slow 100] [--seconds 20]
 *                 [--warmup 3] [--demo-rate 40] [--slow-only] [--push RATE]
 *
 * --slow-only skips the runs without slow clients (to watch the drops, which
 * take as long as the kernel's socket buffers take to fill: minutes on
 * loopback at the demo's message rate).
 *
 * --push RATE measures, in every run, how long a post takes from
 * `POST /api/ingest` to the browser. Each run adds a push source; its
 * clients subscribe to that source's view (window 5m, so every post pushed in
 * the run stays in it) while the demo keeps the server busy. A second thread
 * pushes one post per request at RATE posts/s on average (uniformly random
 * gaps), each acknowledged before the next is sent, so the view's
 * overall.posts is the number of pushes that have taken effect. A push's
 * latency is the time from just before its request is sent to the receipt of
 * the first trends message that counts it, per client. Snapshots are
 * published once per tick (1 s), so a post waits up to a tick for the next
 * one: the figure to compare is effect_ms minus the tick. The run's line
 * then also has
 *   "push":{"rate":…,"sent":…,"failed":…,"ack_ms":{…},"effect_ms":{…},
 *           "over_tick_ms":{…},"samples":…,"unseen":…}
 * where unseen counts (push, client) pairs whose effect never arrived. The
 * admin token comes from the token file of the trendd started here, or from
 * TRENDD_TOKEN with --url.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONNECTING_MAX 200      /* client handshakes in flight at once */

struct client {
	struct lws *wsi;
	bool established, closed, counting;
	unsigned messages;          /* trends messages, the first included */
	uint64_t last_seq;
	int64_t gen_ms;             /* generated_at of the message arriving, 0 = none */
	double tick_ms;             /* its stats.tick_ms */
	uint64_t seq;
	uint64_t posts;             /* overall.posts of the message arriving */
	size_t next_push;           /* the first push this client has not seen counted */
};

#define PUSH_MAX 100000         /* pushes recorded per run */

struct samples {
	float *v;
	size_t n, cap;
};

static struct {
	struct client *clients;
	size_t nclients;
	size_t connecting, established, failed, closed;
	bool measuring;
	struct samples lag, lag_gen;
	uint64_t messages, seq_gaps;
	char sub[256];              /* the subscribe message every client sends */
	/* push mode: send times (monotonic s) of the pushes, published by n_sent */
	bool push;
	double *push_sent;
	_Atomic size_t n_sent;
	struct samples effect;      /* ms from a push to the browser */
} g;

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void samples_add(struct samples *s, float v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		float *nv = realloc(s->v, cap * sizeof *nv);
		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct samples *s, double p)
{
	if (!s->n)
		return -1;
	size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
	return s->v[i];
}

/*
 * Sorts s and prints ,"name":{"p50":…,"p99":…,"max":…} with prec decimals,
 * every figure minus shift (-1 for each when there are no samples).
 */
static void put_dist(const char *name, struct samples *s, double shift, int prec)
{
	qsort(s->v, s->n, sizeof *s->v, cmp_float);
	double p50 = s->n ? pct(s, 0.5) - shift : -1, p99 = s->n ? pct(s, 0.99) - shift : -1;
	double max = s->n ? s->v[s->n - 1] - shift : -1;
	printf(",\"%s\":{\"p50\":%.*f,\"p99\":%.*f,\"max\":%.*f}", name, prec, p50, prec, p99,
	       prec, max);
}

/* "2026-11-25T19:50:08.536Z" -> ms since the epoch; 0 when malformed. */
static int64_t parse_rfc3339_ms(const char *p)
{
	struct tm tm = { 0 };
	int ms = 0;

	if (sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The start of a trends message: its generated_at and seq, from the first fragment. */
static void message_head(struct client *c, const char *in, size_t len)
{
	char head[2048];
	const char *p;

	c->gen_ms = 0;
	snprintf(head, sizeof head, "%.*s", (int)(len < sizeof head - 1 ? len : sizeof head - 1),
		 in);
	if (strncmp(head, "{\"type\":\"trends\"", 16) != 0)
		return;
	if ((p = strstr(head, "\"generated_at\":\"")))
		c->gen_ms = parse_rfc3339_ms(p + 16);
	if ((p = strstr(head, "\"seq\":")))
		c->seq = strtoull(p + 6, NULL, 10);
	c->tick_ms = (p = strstr(head, "\"tick_ms\":")) ? strtod(p + 10, NULL) : 0;
	c->posts = (p = strstr(head, "\"overall\":{\"posts\":")) ? strtoull(p + 19, NULL, 10) : 0;
}

/*
 * Push mode: the message counts c->posts pushes of this run; every one the
 * client has not seen counted before took effect now. A count can only reach
 * pushes whose send time is already recorded (n_sent is stored before the
 * request goes out), and the 5m view keeps every push of the run.
 */
static void push_effects(struct client *c, double now)
{
	size_t sent = atomic_load_explicit(&g.n_sent, memory_order_acquire);

	while (c->next_push < c->posts && c->next_push < sent) {
		double ms = (now - g.push_sent[c->next_push]) * 1000.0;
		samples_add(&g.effect, (float)ms);
		c->next_push++;
	}
}

static void message_end(struct client *c)
{
	int64_t now = wall_ms();

	if (!c->gen_ms)
		return;
	if (g.push)
		push_effects(c, mono_s());
	c->messages++;
	/* the first message answers the subscription with the snapshot of the moment */
	if (c->messages > 1 && g.measuring) {
		samples_add(&g.lag, (float)((double)(now - c->gen_ms) - c->tick_ms));
		samples_add(&g.lag_gen, (float)(now - c->gen_ms));
		g.messages++;
		if (c->last_seq && c->seq > c->last_seq + 1)
			g.seq_gaps += c->seq - c->last_seq - 1;
	}
	c->last_seq = c->seq;
	c->gen_ms = 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct client *c = user;
	unsigned char buf[LWS_PRE + sizeof g.sub];
	size_t sublen = strlen(g.sub);

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		g.connecting--;
		g.established++;
		c->established = true;
		memcpy(buf + LWS_PRE, g.sub, sublen);
		if (lws_write(wsi, buf + LWS_PRE, sublen, LWS_WRITE_TEXT) < 0)
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c && !c->established && !c->closed) {
			g.connecting--;
			g.failed++;
			c->closed = true;
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi))
			message_head(c, in, len);
		if (lws_is_final_fragment(wsi))
			message_end(c);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c && !c->closed) {
			c->closed = true;
			g.closed++;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "trendd.v1", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- slow clients: raw sockets that subscribe and never read ---- */

static int slow_open(int port)
{
	static const char req[] =
		"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Protocol: trendd.v1\r\n\r\n";
	static const char sub[] = "{\"type\":\"subscribe\",\"limit\":200,\"sort\":\"count\"}";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned char frame[6 + sizeof sub];
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	/* a masked text frame (mask 0: the payload as is) sent behind the upgrade */
	frame[0] = 0x81;
	frame[1] = 0x80 | (unsigned char)(sizeof sub - 1);
	memset(frame + 2, 0, 4);
	memcpy(frame + 6, sub, sizeof sub - 1);
	usleep(2000);
	send(fd, frame, sizeof frame - 1, MSG_NOSIGNAL);
	return fd;
}

/* ---- the server ---- */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/*
 * One request over a fresh connection: method, path, an optional bearer
 * token and JSON/NDJSON body; the answer (head and body) into out,
 * NUL-terminated. Returns the HTTP status, -1 on a failed exchange.
 */
static int http_call(int port, const char *method, const char *path, const char *token,
		     const char *body, char *out, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[1024];
	size_t n = 0, blen = body ? strlen(body) : 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1, hl;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		goto out;
	hl = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
		      method, path);
	if (token)
		hl += snprintf(req + hl, sizeof req - (size_t)hl, "Authorization: Bearer %s\r\n", token);
	if (body)
		hl += snprintf(req + hl, sizeof req - (size_t)hl,
			       "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	hl += snprintf(req + hl, sizeof req - (size_t)hl, "\r\n");
	if (hl >= (int)sizeof req || send(fd, req, (size_t)hl, MSG_NOSIGNAL) < 0 ||
	    (blen && send(fd, body, blen, MSG_NOSIGNAL) < 0))
		goto out;
	for (ssize_t r; n < cap - 1 && (r = recv(fd, out + n, cap - 1 - n, 0)) > 0;)
		n += (size_t)r;
	out[n] = 0;
	if (sscanf(out, "HTTP/1.1 %d", &status) != 1)
		status = -1;
out:
	if (fd >= 0)
		close(fd);
	return status;
}

static int http_get(int port, const char *path, char *out, size_t cap)
{
	return http_call(port, "GET", path, NULL, NULL, out, cap);
}

static double metric(int port, const char *name)
{
	static char buf[1 << 20];
	char key[128];
	const char *p;

	if (http_get(port, "/metrics", buf, sizeof buf) != 200)
		return -1;
	snprintf(key, sizeof key, "\n%s ", name);
	p = strstr(buf, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

/* utime + stime of pid in seconds, and its RSS in MiB. */
static int proc_usage(pid_t pid, double *cpu_s, double *rss_mb)
{
	char path[64], buf[4096], *p;
	unsigned long ut, st;
	long rss;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* fields after the command: state(3) ... utime(14) stime(15) ... rss(24) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
			  "%*d %*d %*u %*u %ld", &ut, &st, &rss) != 3)
		return -1;
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	*rss_mb = (double)rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
	return 0;
}

static char g_dir[] = "/tmp/trendd-bench-ws-XXXXXX";

static void remove_dir(void)
{
	static const char *const names[] = { "bench.db", "bench.db-wal", "bench.db-shm",
					     "bench.db.token", "bench.db-journal" };
	char path[128];

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", g_dir, names[i]);
		unlink(path);
	}
	rmdir(g_dir);
}

static pid_t start_trendd(const char *bin, int port, double rate)
{
	char listen[64], *dir = g_dir, db[128], rate_s[32];
	pid_t pid;

	if (!mkdtemp(dir))
		return -1;
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(db, sizeof db, "%s/bench.db", dir);
	snprintf(rate_s, sizeof rate_s, "%g", rate);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(bin, bin, "--demo", "--demo-rate", rate_s, "--listen", listen, "--db", db,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* CPU time of this process (the clients), in seconds. */
static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- push mode ---- */

static char g_token[128];

/* Adds the push source `name`; its id, or -1. */
static int64_t push_source_add(int port, const char *name)
{
	char body[128], out[4096];
	const char *p;

	snprintf(body, sizeof body, "{\"kind\":\"push\",\"name\":\"%s\"}", name);
	if (http_call(port, "POST", "/api/sources", g_token, body, out, sizeof out) != 201 ||
	    !(p = strstr(out, "\"id\":")))
		return -1;
	return strtoll(p + 5, NULL, 10);
}

struct pusher {
	int port;
	char path[128];
	double rate, until;         /* posts/s; monotonic end */
	size_t failed;
	struct samples ack;
};

/* Pushes one post at a time, each acknowledged before the next, until p->until. */
static void *pusher_main(void *arg)
{
	struct pusher *p = arg;
	unsigned seed = (unsigned)getpid();
	char body[512], out[4096], ts[32];

	for (size_t i = 0; i < PUSH_MAX && mono_s() < p->until; i++) {
		/* uniform gaps in [0, 2/rate): the mean rate, at every phase of the tick */
		usleep((useconds_t)((double)rand_r(&seed) / RAND_MAX * 2e6 / p->rate));
		int64_t now = wall_ms();
		time_t sec = (time_t)(now / 1000);
		struct tm tm;
		gmtime_r(&sec, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(body, sizeof body,
			 "{\"id\":\"lat-%zu\",\"author\":\"user%zu\",\"created_at\":\"%s.%03dZ\","
			 "\"lang\":\"en\",\"text\":\"Latency probe %zu: the #benchpush stream "
			 "looks great today\"}\n",
			 i, i % 97, ts, (int)(now % 1000), i);
		double t0 = mono_s();
		g.push_sent[i] = t0;
		atomic_store_explicit(&g.n_sent, i + 1, memory_order_release);
		int st = http_call(p->port, "POST", p->path, g_token, body, out, sizeof out);
		if (st != 200 || !strstr(out, "\"accepted\":1")) {
			/* not counted: later pushes would be matched to the wrong count */
			fprintf(stderr, "ws: push %zu answered %d, stopping the pushes\n", i, st);
			p->failed++;
			atomic_store_explicit(&g.n_sent, i, memory_order_release);
			break;
		}
		samples_add(&p->ack, (float)((mono_s() - t0) * 1000.0));
	}
	return NULL;
}

/* ---- one run ---- */

static void service_for(struct lws_context *ctx, double seconds)
{
	double end = mono_s() + seconds;
	while (mono_s() < end)
		lws_service(ctx, 0);
}

static int run(int port, pid_t pid, size_t nclients, int nslow, int seconds, int warmup,
	       double push_rate)
{
	static unsigned nrun;
	struct pusher pu = { .port = port, .rate = push_rate };
	pthread_t pusher;
	bool pushing = false;
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	int *slow = NULL;
	double t0, cpu0 = 0, cpu1 = 0, rss = 0, t_meas, self0, self1;
	size_t next = 0;
	double dropped0 = metric(port, "trendd_ws_dropped_clients_total");

	memset(&g, 0, sizeof g);
	g.clients = calloc(nclients, sizeof *g.clients);
	g.nclients = nclients;
	snprintf(g.sub, sizeof g.sub, "{\"type\":\"subscribe\",\"window\":\"5m\",\"kind\":\"all\","
		 "\"limit\":20}");
	if (push_rate > 0) {
		char name[32];
		snprintf(name, sizeof name, "benchpush%u", ++nrun);
		int64_t id = push_source_add(port, name);
		if (id < 0) {
			fprintf(stderr, "ws: cannot add the push source (token file read?)\n");
			free(g.clients);
			return -1;
		}
		snprintf(pu.path, sizeof pu.path, "/api/ingest?source=%s", name);
		snprintf(g.sub, sizeof g.sub, "{\"type\":\"subscribe\",\"window\":\"5m\","
			 "\"kind\":\"all\",\"limit\":20,\"source\":%lld}", (long long)id);
		g.push = true;
		g.push_sent = calloc(PUSH_MAX, sizeof *g.push_sent);
	}
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = (unsigned)(nclients + 64);
	info.timeout_secs = 30;
	lws_set_log_level(LLL_ERR, NULL);
	if (!(ctx = lws_create_context(&info))) {
		fprintf(stderr, "ws: cannot create the client context\n");
		return -1;
	}
	t0 = mono_s();
	while (g.established + g.failed < nclients && mono_s() - t0 < 120) {
		while (next < nclients && g.connecting < CONNECTING_MAX) {
			struct lws_client_connect_info ci = {
				.context = ctx, .address = "127.0.0.1", .port = port,
				.path = "/ws", .host = "127.0.0.1", .protocol = "trendd.v1",
				.ietf_version_or_minus_one = -1, .userdata = &g.clients[next],
				.pwsi = &g.clients[next].wsi,
			};
			g.connecting++;
			if (!lws_client_connect_via_info(&ci)) {
				/* the error callback has counted it, or it failed before any */
				if (!g.clients[next].closed) {
					g.connecting--;
					g.failed++;
				}
			}
			next++;
		}
		lws_service(ctx, 0);
	}
	double connect_s = mono_s() - t0;
	if (nslow > 0) {
		slow = malloc((size_t)nslow * sizeof *slow);
		for (int i = 0; i < nslow; i++)
			slow[i] = slow_open(port);
	}
	service_for(ctx, warmup);
	if (pid > 0)
		proc_usage(pid, &cpu0, &rss);
	self0 = self_cpu_s();
	g.measuring = true;
	t_meas = mono_s();
	/* the last pushes leave time for their effect before the run ends */
	pu.until = t_meas + seconds - 2.5;
	if (g.push && seconds > 3)
		pushing = pthread_create(&pusher, NULL, pusher_main, &pu) == 0;
	service_for(ctx, seconds);
	if (pushing)
		pthread_join(pusher, NULL);
	g.measuring = false;
	t_meas = mono_s() - t_meas;
	self1 = self_cpu_s();
	if (pid > 0)
		proc_usage(pid, &cpu1, &rss);
	double ws_clients = metric(port, "trendd_ws_clients");
	double dropped = metric(port, "trendd_ws_dropped_clients_total") - dropped0;
	double seq = metric(port, "trendd_snapshot_seq");

	printf("{\"bench\":\"ws\",\"clients\":%zu,\"slow\":%d,\"seconds\":%.1f,"
	       "\"connected\":%zu,\"failed\":%zu,\"closed\":%zu,\"connect_s\":%.2f,"
	       "\"messages\":%llu,\"expected\":%.0f,\"skipped_snapshots\":%llu",
	       nclients, nslow, t_meas, g.established, g.failed, g.closed, connect_s,
	       (unsigned long long)g.messages, (double)g.established * t_meas,
	       (unsigned long long)g.seq_gaps);
	put_dist("lag_ms", &g.lag, 0, 1);
	put_dist("lag_from_generated_ms", &g.lag_gen, 0, 0);
	printf(",\"server\":{\"cpu_pct\":%.1f,\"rss_mb\":%.1f,\"ws_clients\":%.0f,"
	       "\"dropped_slow\":%.0f,\"snapshot_seq\":%.0f},\"client_cpu_pct\":%.1f",
	       pid > 0 ? 100.0 * (cpu1 - cpu0) / t_meas : -1.0, pid > 0 ? rss : -1.0, ws_clients,
	       dropped, seq, 100.0 * (self1 - self0) / t_meas);
	if (g.push) {
		size_t sent = atomic_load(&g.n_sent), unseen = 0;
		for (size_t i = 0; i < nclients; i++)
			if (g.clients[i].established && !g.clients[i].closed)
				unseen += sent - (g.clients[i].next_push < sent ? g.clients[i].next_push
										 : sent);
		printf(",\"push\":{\"rate\":%g,\"sent\":%zu,\"failed\":%zu", push_rate, sent,
		       pu.failed);
		put_dist("ack_ms", &pu.ack, 0, 1);
		put_dist("effect_ms", &g.effect, 0, 1);
		/* snapshots come once per 1 s tick: what the push adds to that wait */
		put_dist("over_tick_ms", &g.effect, 1000.0, 1);
		printf(",\"samples\":%zu,\"unseen\":%zu}", g.effect.n, unseen);
		free(pu.ack.v);
		free(g.effect.v);
		free(g.push_sent);
	}
	printf("}\n");
	fflush(stdout);

	lws_context_destroy(ctx);
	for (int i = 0; i < nslow; i++)
		if (slow[i] >= 0)
			close(slow[i]);
	free(slow);
	free(g.clients);
	free(g.lag.v);
	free(g.lag_gen.v);
	sleep(2); /* let the server see every close before the next run */
	return 0;
}

int main(int argc, char **argv)
{
	const char *bin = NULL, *url = NULL, *list = "1000,10000";
	int nslow = 100, seconds = 20, warmup = 3, port = 0;
	double rate = 40, push_rate = 0;
	pid_t pid = 0;
	bool own = false, slow_only = false;
	static const struct option opts[] = {
		{ "trendd", required_argument, NULL, 't' }, { "url", required_argument, NULL, 'u' },
		{ "pid", required_argument, NULL, 'p' },    { "clients", required_argument, NULL, 'c' },
		{ "slow", required_argument, NULL, 's' },   { "seconds", required_argument, NULL, 'S' },
		{ "warmup", required_argument, NULL, 'w' }, { "demo-rate", required_argument, NULL, 'r' },
		{ "slow-only", no_argument, NULL, 'o' },    { "push", required_argument, NULL, 'P' },
		{ 0, 0, 0, 0 },
	};
	char self[4096], buf[65536];
	struct rlimit rl;

	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 't': bin = optarg; break;
		case 'u': url = optarg; break;
		case 'p': pid = (pid_t)atoi(optarg); break;
		case 'c': list = optarg; break;
		case 's': nslow = atoi(optarg); break;
		case 'S': seconds = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'o': slow_only = true; break;
		case 'P': push_rate = atof(optarg); break;
		default:
			fprintf(stderr, "usage: ws [--trendd PATH] [--url ws://HOST:PORT] [--pid PID] "
					"[--clients 1000,10000] [--slow 100] [--seconds 20] "
					"[--warmup 3] [--demo-rate 40] [--slow-only] [--push RATE]\n");
			return 2;
		}
	}
	/* every client is a descriptor here and another in the server */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	if (url) {
		if (sscanf(url, "ws://%*[^:]:%d", &port) != 1) {
			fprintf(stderr, "ws: --url must be ws://127.0.0.1:PORT\n");
			return 2;
		}
	} else {
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
		if (!bin && n > 0) {
			self[n] = 0;
			char *slash = strrchr(self, '/');
			if (slash)
				strcpy(slash, "/../trendd");
			bin = self;
		}
		port = free_port();
		if ((pid = start_trendd(bin, port, rate)) < 0) {
			fprintf(stderr, "ws: cannot start %s\n", bin);
			return 1;
		}
		own = true;
		/* up, and publishing snapshots */
		double t0 = mono_s();
		while (http_get(port, "/api/trends", buf, sizeof buf) != 200) {
			if (mono_s() - t0 > 30 || waitpid(pid, NULL, WNOHANG) == pid) {
				fprintf(stderr, "ws: %s --demo did not come up\n", bin);
				kill(pid, SIGKILL);
				return 1;
			}
			usleep(100000);
		}
	}
	if (push_rate > 0) {
		/* the admin token: our trendd's token file, or TRENDD_TOKEN for --url */
		char path[160];
		const char *env = getenv("TRENDD_TOKEN");
		FILE *f;
		snprintf(path, sizeof path, "%s/bench.db.token", g_dir);
		if (env)
			snprintf(g_token, sizeof g_token, "%s", env);
		else if (own && (f = fopen(path, "r"))) {
			if (!fgets(g_token, sizeof g_token, f))
				g_token[0] = 0;
			fclose(f);
			g_token[strcspn(g_token, "\r\n")] = 0;
		}
		if (!g_token[0]) {
			fprintf(stderr, "ws: --push needs the admin token (TRENDD_TOKEN with --url)\n");
			push_rate = 0;
		}
	}
	fprintf(stderr, "ws: trendd on port %d (pid %d), open-file limit %llu\n", port, (int)pid,
		(unsigned long long)rl.rlim_cur);
	for (const char *p = list; *p;) {
		size_t n = strtoul(p, (char **)&p, 10);
		if (n > 0) {
			if (!slow_only || nslow <= 0)
				run(port, pid, n, 0, seconds, warmup, push_rate);
			if (nslow > 0)
				run(port, pid, n, nslow, seconds, warmup, push_rate);
		}
		if (*p == ',')
			p++;
		else
			break;
	}
	if (own) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		remove_dir();
	}
	return 0;
}
