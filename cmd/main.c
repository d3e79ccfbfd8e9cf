/*
 * main.c - the trendd command line: the daemon (`trendd [serve]`, `--demo`)
 * and the tools that share its code (`parse`, `tokenize`, `sentiment`).
 *
 * The daemon wires the layers together through one struct bus and runs the
 * web service loop on the main thread; a dedicated thread waits for SIGINT /
 * SIGTERM and asks the loop to stop. Shutdown drains in data-path order:
 * ingest stops producing, analytics drains the post queue and publishes a
 * last snapshot, the db writer drains its queue and commits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/engine.h"
#include "cmd/tools.h"
#include "core/bus.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/source.h"
#include "db/db.h"
#include "db/history.h"
#include "ingest/demo_feed.h"
#include "ingest/ingest.h"
#include "ingest/preview.h"
#include "ingest/push.h"
#include "web/web.h"

struct options {
	const char *db_path;
	const char *listen;
	const char *config_path;
	const char *data_dir;
	const char *static_dir;
	const char *chartjs_dir;
	bool demo;
	double demo_rate;
	int64_t lateness_ms;
	int64_t checkpoint_ms;   /* 0: ENGINE_CHECKPOINT_MS */
	long top_m;
	long view_top_m;         /* 0: ENGINE_VIEW_TOP_M or top_m, the smaller */
	long view_budget_ms;     /* -1: ENGINE_VIEW_BUDGET_US; 0: one window's views a tick */
	long recent_posts;       /* -1: ENGINE_RECENT_POSTS; 0: keep none */
	bool no_lang_views, no_source_views;
	struct db_options db;  /* retention from the config file */
	json_t *config;      /* owned: parsed --config file, or NULL */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: trendd [serve] [options]          run the daemon\n"
		"       trendd parse [--format F] [--content-type CT] [--base-url URL] FILE\n"
		"       trendd tokenize [--lang xx] < lines\n"
		"       trendd sentiment [--data-dir DIR] < lines\n"
		"       trendd token [--db FILE] [--rotate]   print or replace the admin token\n"
		"\n"
		"daemon options:\n"
		"  --demo                 also run a built-in demo Mastodon feed and poll it\n"
		"  --listen ADDR:PORT     HTTP/WebSocket address (default 127.0.0.1:8080)\n"
		"  --db FILE              SQLite database (default trendd.db)\n"
		"  --config FILE          JSON configuration (sources, settings)\n"
		"  --data-dir DIR         lexicon and stopwords (default %s)\n"
		"  --static-dir DIR       dashboard files (default %s)\n"
		"  --lateness SECONDS     allowed event-time lateness (default 60)\n"
		"  --top-m N              terms kept per closed bucket (default 4096)\n"
		"  --view-top-m N         the same for language and source windows (default 2048)\n"
		"  --view-budget-ms N     time a tick spends on language and source views; the\n"
		"                         rest are carried over (default 200; 0: one window's)\n"
		"  --checkpoint-ms N      checkpoint period in milliseconds (default 5000; longer while\n"
		"                         the state takes over 1/20 of it to build)\n"
		"  --recent-posts N       posts kept for term detail, 0 for none (default 20000)\n"
		"  --demo-rate N          demo posts per second (default 40)\n"
		"  --log-level LEVEL      debug, info, warn or error (default info)\n"
		"  --version, --help\n",
		TRENDD_DEFAULT_DATA_DIR, TRENDD_DEFAULT_STATIC_DIR);
}

/*
 * A number of the config file: false, with the reason on stderr, unless v is
 * a number (an integer when integer) from lo to hi.
 */
static bool cfg_number(const json_t *v, const char *name, bool integer, double lo, double hi,
		       double *out)
{
	double x = json_number_value(v);
	if (!(integer ? json_is_integer(v) : json_is_number(v)) || x < lo || x > hi) {
		fprintf(stderr, "trendd: config: %s must be %s from %.0f to %.0f\n", name,
			integer ? "an integer" : "a number", lo, hi);
		return false;
	}
	*out = x;
	return true;
}

/*
 * The value of number flag --name: an integer (with integer false, any
 * number) from lo to hi; otherwise says what the flag wants.
 */
static bool flag_number(const char *arg, const char *name, bool integer, double lo, double hi,
			const char *unit, double *out)
{
	char *end;
	errno = 0;
	double x = integer ? (double)strtoll(arg, &end, 10) : strtod(arg, &end);
	if (end == arg || *end || errno || !(x >= lo && x <= hi)) {
		fprintf(stderr, "trendd: --%s wants %.0f..%.0f%s, not '%s'\n", name, lo, hi, unit,
			arg);
		return false;
	}
	*out = x;
	return true;
}

static const char *cfg_str(json_t *cfg, const char *key)
{
	json_t *v = cfg ? json_object_get(cfg, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * "retention": {"minute_hours":48,"hour_days":90,"day_days":0,"snapshot_hours":48}:
 * how long history is kept at each resolution; 0 keeps it forever, a missing
 * key keeps the default.
 */
static int config_retention(json_t *config, struct db_options *db)
{
	static const struct {
		const char *key;
		int64_t unit_ms;
		size_t off;
	} keys[] = {
		{ "minute_hours", 3600 * 1000LL, offsetof(struct db_options, retain_minute_ms) },
		{ "hour_days", 86400 * 1000LL, offsetof(struct db_options, retain_hour_ms) },
		{ "day_days", 86400 * 1000LL, offsetof(struct db_options, retain_day_ms) },
		{ "snapshot_hours", 3600 * 1000LL, offsetof(struct db_options, retain_snapshot_ms) },
		{ "post_log_hours", 3600 * 1000LL, offsetof(struct db_options, retain_post_log_ms) },
	};
	json_t *r = json_object_get(config, "retention"), *v;
	const char *key;

	if (!r)
		return 0;
	if (!json_is_object(r)) {
		fprintf(stderr, "trendd: config: \"retention\" must be an object\n");
		return -EINVAL;
	}
	json_object_foreach(r, key, v) {
		size_t i = 0;
		while (i < sizeof keys / sizeof keys[0] && strcmp(keys[i].key, key) != 0)
			i++;
		if (i == sizeof keys / sizeof keys[0]) {
			fprintf(stderr, "trendd: config: unknown retention key \"%s\" (minute_hours, "
					"hour_days, day_days, snapshot_hours, post_log_hours)\n", key);
			return -EINVAL;
		}
		double n = json_number_value(v);
		if (!json_is_number(v) || n < 0 || n > 100000) {
			fprintf(stderr, "trendd: config: retention.%s must be a number from 0 "
					"(forever) to 100000\n", key);
			return -EINVAL;
		}
		int64_t ms = n == 0 ? -1 : (int64_t)(n * (double)keys[i].unit_ms);
		*(int64_t *)((char *)db + keys[i].off) = ms != 0 ? ms : 1;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DB = 256, O_LISTEN, O_CONFIG, O_DATA, O_STATIC, O_DEMO, O_LATE, O_TOPM,
	       O_RATE, O_LOG, O_VERSION, O_HELP, O_CHARTJS, O_CKPT, O_RECENT,
	       O_VTOPM, O_VBUDGET };
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "static-dir", required_argument, NULL, O_STATIC },
		{ "chartjs-dir", required_argument, NULL, O_CHARTJS },
		{ "demo", no_argument, NULL, O_DEMO },
		{ "lateness", required_argument, NULL, O_LATE },
		{ "top-m", required_argument, NULL, O_TOPM },
		{ "view-top-m", required_argument, NULL, O_VTOPM },
		{ "view-budget-ms", required_argument, NULL, O_VBUDGET },
		{ "checkpoint-ms", required_argument, NULL, O_CKPT },
		{ "recent-posts", required_argument, NULL, O_RECENT },
		{ "demo-rate", required_argument, NULL, O_RATE },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	double v;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_DB: o->db_path = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_CONFIG: o->config_path = optarg; break;
		case O_DATA: o->data_dir = optarg; break;
		case O_STATIC: o->static_dir = optarg; break;
		case O_CHARTJS: o->chartjs_dir = optarg; break;
		case O_DEMO: o->demo = true; break;
		case O_LATE:
			if (!flag_number(optarg, "lateness", false, 0, 3000, " seconds", &v))
				return 2;
			o->lateness_ms = (int64_t)(v * 1000);
			break;
		case O_TOPM:
		case O_VTOPM:
			if (!flag_number(optarg, c == O_TOPM ? "top-m" : "view-top-m", true, 16,
					 10000000, "", &v))
				return 2;
			*(c == O_TOPM ? &o->top_m : &o->view_top_m) = (long)v;
			break;
		case O_VBUDGET:
			if (!flag_number(optarg, "view-budget-ms", true, 0, 60000, "", &v))
				return 2;
			o->view_budget_ms = (long)v;
			break;
		case O_CKPT:
			if (!flag_number(optarg, "checkpoint-ms", true, 50, 3600000, "", &v))
				return 2;
			o->checkpoint_ms = (int64_t)v;
			break;
		case O_RECENT:
			if (!flag_number(optarg, "recent-posts", true, 0, ENGINE_RECENT_POSTS_MAX, "", &v))
				return 2;
			o->recent_posts = (long)v;
			break;
		case O_RATE:
			if (!flag_number(optarg, "demo-rate", false, 0, 100000, " posts/s", &v))
				return 2;
			if (v == 0) {
				fprintf(stderr, "trendd: --demo-rate wants more than 0 posts/s\n");
				return 2;
			}
			o->demo_rate = v;
			break;
		case O_LOG:
			if (!strcmp(optarg, "debug"))
				log_set_level(LOG_DEBUG);
			else if (!strcmp(optarg, "info"))
				log_set_level(LOG_INFO);
			else if (!strcmp(optarg, "warn"))
				log_set_level(LOG_WARN);
			else if (!strcmp(optarg, "error"))
				log_set_level(LOG_ERROR);
			else {
				fprintf(stderr, "trendd: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case O_VERSION: printf("trendd %s\n", TRENDD_VERSION); exit(0);
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trendd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o->config_path) {
		json_error_t jerr;
		o->config = json_load_file(o->config_path, 0, &jerr);
		if (!o->config || !json_is_object(o->config)) {
			fprintf(stderr, "trendd: cannot read config %s: %s (line %d)\n",
				o->config_path, o->config ? "not a JSON object" : jerr.text,
				jerr.line);
			return 2;
		}
		/* Command-line flags win over the file. */
		if (!o->db_path)
			o->db_path = cfg_str(o->config, "db");
		if (!o->listen)
			o->listen = cfg_str(o->config, "listen");
		json_t *views = json_object_get(o->config, "views");
		if (json_is_object(views)) {
			o->no_lang_views = json_is_false(json_object_get(views, "lang"));
			o->no_source_views = json_is_false(json_object_get(views, "source"));
			json_t *m = json_object_get(views, "top_m");
			if (m && !o->view_top_m) {
				if (!cfg_number(m, "views.top_m", true, 16, 10000000, &v))
					goto bad_config;
				o->view_top_m = (long)v;
			}
		}
		json_t *late = json_object_get(o->config, "lateness_s");
		if (json_is_number(late) && o->lateness_ms < 0)
			o->lateness_ms = (int64_t)(json_number_value(late) * 1000);
		json_t *ckpt = json_object_get(o->config, "checkpoint_ms");
		if (ckpt && o->checkpoint_ms == 0) {
			if (!cfg_number(ckpt, "checkpoint_ms", false, 50, 3600000, &v))
				goto bad_config;
			o->checkpoint_ms = (int64_t)v;
		}
		if (config_retention(o->config, &o->db) < 0)
			goto bad_config;
	}
	if (!o->db_path)
		o->db_path = "trendd.db";
	if (!o->listen)
		o->listen = "127.0.0.1:8080";
	if (!o->data_dir)
		o->data_dir = TRENDD_DEFAULT_DATA_DIR;
	if (!o->static_dir)
		o->static_dir = TRENDD_DEFAULT_STATIC_DIR;
	if (!o->chartjs_dir)
		o->chartjs_dir = TRENDD_DEFAULT_CHARTJS_DIR;
	return 0;
bad_config:
	json_decref(o->config);
	o->config = NULL;
	return 2;
}

static int sources_put_unstored(struct source_config **v, size_t *n,
				const struct source_config *c);

/*
 * Stores the sources of the config file (by name) before ingest starts. One
 * the database cannot store (unavailable, read-only, full) is put in *mem
 * instead: trendd polls it without storing it.
 */
static int config_sources(struct db *db, json_t *config, struct source_config **mem,
			  size_t *nmem)
{
	json_t *arr = config ? json_object_get(config, "sources") : NULL, *it;
	size_t i;
	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		log_error("main", "config: \"sources\" must be an array");
		return -EINVAL;
	}
	json_array_foreach(arr, i, it) {
		const char *kind = cfg_str(it, "kind"), *name = cfg_str(it, "name"),
			   *url = cfg_str(it, "url");
		if (!kind || !name || (!url && strcmp(kind, "push") != 0)) {
			log_error("main", "config: source %zu needs \"kind\", \"name\" and \"url\"", i);
			return -EINVAL;
		}
		json_t *iv = json_object_get(it, "interval_s"), *en = json_object_get(it, "enabled"),
		       *params = json_object_get(it, "params");
		char *params_text = params ? json_dumps(params, JSON_COMPACT) : NULL;
		struct source_config c = {
			.name = (char *)name,
			.url = (char *)(url ? url : ""),
			.enabled = en ? json_is_true(en) : true,
			.interval_s = json_is_integer(iv) ? (int)json_integer_value(iv) : 60,
			.params_json = params_text ? params_text : (char *)"{}",
			.cursor = (char *)"",
		};
		snprintf(c.kind, sizeof c.kind, "%s", kind);
		int rc = db_source_upsert(db, &c);
		if (rc == -EBUSY || rc == -EIO) {
			log_warn("main", "config: cannot store source '%s'; polling it without "
				 "storing", name);
			rc = sources_put_unstored(mem, nmem, &c);
		}
		free(params_text);
		if (rc < 0) {
			log_error("main", "config: cannot store source '%s'", name);
			return rc;
		}
	}
	return 0;
}

/* ---- the admin token ---------------------------------------------------- */

#define TOKEN_HEX 48 /* 24 random bytes */

static void token_path(const char *db_path, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.token", db_path);
}

static int token_generate(char out[TOKEN_HEX + 1])
{
	unsigned char raw[TOKEN_HEX / 2];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return -EIO;
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* Reads the token file; 0, -ENOENT when missing, -EINVAL when unusable. */
static int token_read(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = 0;
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = 0;
	return n >= 16 ? 0 : -EINVAL;
}

/* Writes a new token with mode 0600 through a temporary file and rename. */
static int token_write(const char *path, const char *token)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(token);
	bool ok = write(fd, token, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
		  fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

/*
 * The admin token: TRENDD_TOKEN if set, else <db>.token, created (mode 0600)
 * and printed once on first start.
 */
static int token_load(const char *db_path, char *out, size_t cap, bool *created)
{
	char path[4096];
	const char *env = getenv("TRENDD_TOKEN");
	int rc;

	*created = false;
	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return 0;
	}
	token_path(db_path, path, sizeof path);
	rc = token_read(path, out, cap);
	if (rc == -ENOENT) {
		if ((rc = token_generate(out)) < 0 || (rc = token_write(path, out)) < 0) {
			fprintf(stderr, "trendd: cannot create the admin token %s: %s\n", path,
				strerror(-rc));
			return rc;
		}
		*created = true;
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "trendd: cannot use the admin token in %s: %s\n", path,
			rc == -EINVAL ? "too short (16 characters or more)" : strerror(-rc));
		return rc;
	}
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warn("main", "%s is readable by others (mode %03o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 0777));
	return 0;
}

/* trendd token [--db FILE] [--rotate]: prints the admin token, or a new one. */
static int tool_token(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "rotate", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = "trendd.db";
	bool rotate = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'r': rotate = true; break;
		case 'h':
			printf("usage: trendd token [--db FILE] [--rotate]\n"
			       "Prints the admin token of the database FILE (creating it), or with\n"
			       "--rotate replaces it. A running trendd picks up a new token on\n"
			       "SIGHUP or restart.\n");
			return 0;
		default:
			fprintf(stderr, "usage: trendd token [--db FILE] [--rotate]\n");
			return 2;
		}
	}
	char path[4096], tok[256];
	token_path(db, path, sizeof path);
	if (rotate) {
		int rc = token_generate(tok);
		if (rc == 0)
			rc = token_write(path, tok);
		if (rc < 0) {
			fprintf(stderr, "trendd: cannot write %s: %s\n", path, strerror(-rc));
			return 1;
		}
		printf("%s\n", tok);
		return 0;
	}
	bool created;
	unsetenv("TRENDD_TOKEN"); /* this command reports the file */
	if (token_load(db, tok, sizeof tok, &created) < 0)
		return 1;
	printf("%s\n", tok);
	return 0;
}

/* ---- what the web layer may ask of ingest ------------------------------- */

static int ops_check(void *ctx, const struct source_config *c, char *err, size_t cap)
{
	(void)ctx;
	return ingest_source_check(c, err, cap);
}

/*
 * Puts a source the database could not store into the loaded list: over the
 * stored one of the same name (its id, a fresh cursor), else appended with
 * the next free id. The list stays sorted by id and freeable by
 * db_sources_free(). Returns 0 or -ENOMEM.
 */
static int sources_put_unstored(struct source_config **v, size_t *n, const struct source_config *c)
{
	struct source_config copy, *grown;
	int64_t id = 0, next = 1;

	for (size_t i = 0; i < *n; i++) {
		if (!strcmp((*v)[i].name, c->name))
			id = (*v)[i].id;
		if ((*v)[i].id >= next)
			next = (*v)[i].id + 1;
	}
	if (!id)
		id = next;
	if (source_config_copy(&copy, c) < 0)
		return -ENOMEM;
	copy.id = id;
	for (size_t i = 0; i < *n; i++) {
		if ((*v)[i].id == id) {
			source_config_clear(&(*v)[i]);
			(*v)[i] = copy;
			return 0;
		}
	}
	if (!(grown = realloc(*v, (*n + 1) * sizeof **v))) {
		source_config_clear(&copy);
		return -ENOMEM;
	}
	grown[(*n)++] = copy;
	*v = grown;
	return 0;
}

static void ops_changed(void *ctx, const struct source_config *c, bool fresh)
{
	if (fresh)
		ingest_source_reset(ctx, c);
	else
		ingest_source_set(ctx, c);
}

static void ops_removed(void *ctx, int64_t id) { ingest_source_remove(ctx, id); }

static int ops_poll_now(void *ctx, int64_t id) { return ingest_poll_now(ctx, id); }

static int ops_push_parse(const char *body, size_t len, int64_t source_id, struct dbmsg *m)
{
	struct push_batch b;
	struct strbuf sb = STRBUF_INIT;

	if (push_parse(body, len, source_id, &b) < 0)
		return -ENOMEM;
	push_errors_json(&sb, &b);
	if (sb.failed || !(m->u.push.seq = calloc(b.nposts ? b.nposts : 1, sizeof(int64_t)))) {
		sb_free(&sb);
		push_batch_clear(&b);
		return -ENOMEM;
	}
	m->u.push.source_id = source_id;
	m->u.push.errors_json = sb_detach(&sb, NULL);
	m->u.push.posts = b.posts;       /* moved */
	m->u.push.n = b.nposts;
	m->u.push.duplicates = b.duplicates;
	b.posts = NULL;
	b.nposts = 0;
	push_batch_clear(&b);
	return 0;
}

/* Start-up: pushed posts logged after the checkpointed cursor go to analytics again. */
struct replay {
	struct bus *bus;
	int64_t source_id, last;
	size_t n;
};

static int replay_post(void *ctx, struct post *p, int64_t seq)
{
	struct replay *r = ctx;
	if (queue_push(&r->bus->posts, p, -1) < 0) {
		post_free(p);
		return -1;
	}
	r->last = seq;
	r->n++;
	return 0;
}

static void push_replay(struct db *db, struct bus *bus, const struct source_config *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].kind, "push") != 0)
			continue;
		struct replay r = { .bus = bus, .source_id = v[i].id };
		int64_t after = v[i].cursor ? strtoll(v[i].cursor, NULL, 10) : 0;
		db_post_log_replay(db, v[i].id, after, replay_post, &r);
		if (!r.n)
			continue;
		char cursor[24];
		snprintf(cursor, sizeof cursor, "%lld", (long long)r.last);
		struct post *mk = dbmsg_marker_new(v[i].id, cursor, NULL, 0);
		if (mk && queue_push(&bus->posts, mk, -1) < 0)
			post_free(mk);
		log_info("main", "push source \"%s\": %zu logged posts fed again after a restart",
			 v[i].name, r.n);
	}
}

struct signal_ctx {
	sigset_t set;
	struct web *web;
	const char *db_path;
};

static void *signal_main(void *arg)
{
	struct signal_ctx *s = arg;
	for (;;) {
		int sig = 0;
		sigwait(&s->set, &sig);
		if (sig == SIGHUP) {
			char tok[256];
			bool created;
			if (token_load(s->db_path, tok, sizeof tok, &created) == 0) {
				web_set_token(s->web, tok);
				log_info("main", "SIGHUP: admin token reloaded");
			}
			continue;
		}
		log_info("main", "%s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
		web_stop(s->web);
		return NULL;
	}
}

static int serve(struct options *o)
{
	struct bus bus;
	struct db *db = NULL;
	struct web *web = NULL;
	struct engine *engine = NULL;
	struct ingest *ingest = NULL;
	struct demo_feed *demo = NULL;
	struct history_pool *history = NULL;
	struct source_config *sources = NULL, demo_src = { 0 }, *mem = NULL;
	size_t nmem = 0;
	struct db_checkpoint ckpt = { 0 };
	int64_t demo_id = 0;
	size_t nsources = 0;
	char err[512];
	int rc = 1;
	pthread_t sig_thread;
	struct signal_ctx sig;

	/* Signals go to the signal thread only; writes to closed sockets are errors, not deaths. */
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (RLIMIT_FSIZE) is a full disk to the db writer, not a reason to die. */
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&sig.set);
	sigaddset(&sig.set, SIGINT);
	sigaddset(&sig.set, SIGTERM);
	sigaddset(&sig.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sig.set, NULL);
	sig.db_path = o->db_path;

	if (bus_init(&bus) < 0) {
		fprintf(stderr, "trendd: out of memory\n");
		return 1;
	}
	/* A corrupt or foreign file does not stop the live pipeline (docs/STORAGE.md). */
	o->db.allow_unavailable = true;
	if (db_open_with(&db, o->db_path, &o->db, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	bool have_db = db_available(db);
	if (config_sources(db, o->config, &mem, &nmem) < 0)
		goto out;
	char token[256];
	bool token_created;
	if (token_load(o->db_path, token, sizeof token, &token_created) < 0)
		goto out;
	if (token_created) {
		char path[4096];
		token_path(o->db_path, path, sizeof path);
		fprintf(stderr, "trendd: admin token for the API (stored in %s, mode 0600):\n  %s\n",
			path, token);
	}
	/* History readers open their connections now: the schema is migrated. */
	if (history_pool_start(&history, db, &bus, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	struct web_config wc = { .listen = o->listen, .static_dir = o->static_dir,
				 .chartjs_dir = o->chartjs_dir, .token = token,
				 .history = { .submit = history_submit_ctx, .ctx = history },
				 .preview = { .submit = preview_submit_ctx, .stop = preview_worker_stop_ctx,
					      .ctx = preview_worker_new() } };
	/*
	 * Listen before the demo feed takes an ephemeral port, which could
	 * otherwise be the one asked for here.
	 */
	if (web_create(&web, &wc, &bus, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	if (o->demo) {
		struct demo_feed_config dc = { .seed = 20261125, .posts_per_s = o->demo_rate };
		uint16_t port = 0;
		if (demo_feed_start(&demo, &dc, &port) < 0) {
			fprintf(stderr, "trendd: cannot start the demo feed\n");
			goto out;
		}
		char url[64];
		snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
		struct source_config c = {
			.kind = "mastodon", .name = (char *)"demo", .url = url, .enabled = true,
			.interval_s = 2, .params_json = (char *)"{\"timeline\":\"public\",\"limit\":40}",
			.cursor = (char *)"",
		};
		if (db_source_upsert(db, &c) == 0)
			demo_id = c.id;
		if (!demo_id || db_source_reset_cursor(db, c.id) < 0) {
			/* A read-only or full database must not stop the live demo. */
			log_warn("main", "cannot store the demo source; polling it without storing");
			if (source_config_copy(&demo_src, &c) < 0) {
				fprintf(stderr, "trendd: out of memory\n");
				goto out;
			}
		}
		log_info("main", "demo feed on %s", url);
	}
	if (!have_db)
		log_warn("main", "the sources stored in %s (added through the API) cannot be read; "
			 "polling only those of the command line and the config file", o->db_path);
	else if (db_sources_load(db, &sources, &nsources) < 0) {
		fprintf(stderr, "trendd: cannot load sources from %s\n", o->db_path);
		goto out;
	}
	for (size_t i = 0; i < nmem; i++)
		if (sources_put_unstored(&sources, &nsources, &mem[i]) < 0) {
			fprintf(stderr, "trendd: out of memory\n");
			goto out;
		}
	if (demo_src.name && sources_put_unstored(&sources, &nsources, &demo_src) < 0) {
		fprintf(stderr, "trendd: out of memory\n");
		goto out;
	}
	if (db_running_sources_set(db, sources, nsources) < 0) {
		fprintf(stderr, "trendd: out of memory\n");
		goto out;
	}
	/*
	 * Exactly-once restore (docs/STORAGE.md): the windows and the seen ids
	 * of the last checkpoint; the sources' stored cursors are its cursors.
	 * The demo feed starts anew on every run, so its seen ids do not apply.
	 */
	if (have_db && db_checkpoint_load(db, &ckpt) < 0)
		log_error("main", "cannot read the checkpoint; starting with empty windows");
	for (size_t i = 0; i < ckpt.ncursors; i++)
		if (demo_id && ckpt.cursors[i].source_id == demo_id) {
			free(ckpt.cursors[i].seen);
			ckpt.cursors[i].seen = NULL;
			ckpt.cursors[i].seen_len = 0;
		}

	struct engine_config ec = { .data_dir = o->data_dir, .tick_ms = 1000,
				    .lateness_ms = o->lateness_ms >= 0 ? o->lateness_ms : 60000,
				    .top_m = o->top_m > 0 ? (size_t)o->top_m : 4096,
				    .view_top_m = o->view_top_m > 0 ? (size_t)o->view_top_m : 0,
				    /* 1 µs: the one window a tick rebuilds whatever it costs */
				    .view_budget_us = o->view_budget_ms < 0 ? 0
						      : o->view_budget_ms ? o->view_budget_ms * 1000 : 1,
				    .no_lang_views = o->no_lang_views,
				    .no_source_views = o->no_source_views,
				    .checkpoint_ms = o->checkpoint_ms,
				    .recent_posts = o->recent_posts > 0 ? (size_t)o->recent_posts : 0,
				    .no_recent_posts = o->recent_posts == 0,
				    .cursor_markers = true,
				    .state = ckpt.state, .state_len = ckpt.state_len,
				    .epoch = ckpt.epoch,
				    .segment_fn = db_checkpoint_segment, .segment_ctx = &ckpt,
				    .segment_next = ckpt.seg_next };
	if (engine_start(&engine, &ec, &bus, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	db_checkpoint_release_state(&ckpt); /* restored: the windows hold it now */
	if (have_db)
		push_replay(db, &bus, sources, nsources);
	if (db_writer_start(db, &bus) < 0) {
		fprintf(stderr, "trendd: cannot start the database writer\n");
		goto out;
	}
	struct ingest_config ic = { .cursor_markers = true, .restore = ckpt.cursors,
				    .nrestore = ckpt.ncursors };
	if (ingest_start(&ingest, &ic, &bus, sources, nsources) < 0) {
		fprintf(stderr, "trendd: cannot start ingest\n");
		goto out;
	}
	/* Set before any request can arrive: the web loop has not run yet. */
	bus.source_ops = (struct bus_source_ops){ .check = ops_check, .changed = ops_changed,
						  .removed = ops_removed,
						  .poll_now = ops_poll_now,
						  .push_parse = ops_push_parse, .ctx = ingest };
	sig.web = web;
	pthread_create(&sig_thread, NULL, signal_main, &sig);
	log_info("main", "trendd %s listening on http://%s (database %s, %zu sources)",
		 TRENDD_VERSION, o->listen, o->db_path, nsources);
	rc = web_run(web) < 0 ? 1 : 0;
	pthread_cancel(sig_thread);
	pthread_join(sig_thread, NULL);
out:
	atomic_store(&bus.stopping, true);
	/* First, while analytics still answers live requests: readers finish quickly. */
	history_pool_stop(history);
	ingest_stop(ingest);
	engine_stop(engine);           /* drains posts, publishes the last snapshot */
	queue_close(&bus.db);
	db_close(db);                  /* drains the db queue and commits */
	demo_feed_stop(demo);
	web_free(web);
	db_sources_free(sources, nsources);
	db_sources_free(mem, nmem);
	db_checkpoint_clear(&ckpt);
	source_config_clear(&demo_src);
	bus_destroy(&bus);
	json_decref(o->config);
	return rc;
}

int main(int argc, char **argv)
{
	heap_tune(); /* the analytics thread's churn reuses the heap (core/heap.h) */
	if (argc > 1 && argv[1][0] != '-') {
		const char *cmd = argv[1];
		if (!strcmp(cmd, "parse"))
			return tool_parse(argc - 1, argv + 1);
		if (!strcmp(cmd, "tokenize"))
			return tool_tokenize(argc - 1, argv + 1);
		if (!strcmp(cmd, "sentiment"))
			return tool_sentiment(argc - 1, argv + 1);
		if (!strcmp(cmd, "token"))
			return tool_token(argc - 1, argv + 1);
		if (strcmp(cmd, "serve") != 0) {
			fprintf(stderr, "trendd: unknown command '%s'\n", cmd);
			usage(stderr);
			return 2;
		}
		argc--;
		argv++;
	}
	struct options o = { .lateness_ms = -1, .demo_rate = 40, .recent_posts = -1,
			     .view_budget_ms = -1 };
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc;
	return serve(&o);
}
