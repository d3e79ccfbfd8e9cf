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
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/engine.h"
#include "cmd/tools.h"
#include "core/bus.h"
#include "core/log.h"
#include "core/source.h"
#include "db/db.h"
#include "ingest/demo_feed.h"
#include "ingest/ingest.h"
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
	long top_m;
	bool no_lang_views, no_source_views;
	json_t *config;      /* owned: parsed --config file, or NULL */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: trendd [serve] [options]          run the daemon\n"
		"       trendd parse [--format F] [--content-type CT] [--base-url URL] FILE\n"
		"       trendd tokenize [--lang xx] < lines\n"
		"       trendd sentiment < lines\n"
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
		"  --demo-rate N          demo posts per second (default 40)\n"
		"  --log-level LEVEL      debug, info, warn or error (default info)\n"
		"  --version, --help\n",
		TRENDD_DEFAULT_DATA_DIR, TRENDD_DEFAULT_STATIC_DIR);
}

static const char *cfg_str(json_t *cfg, const char *key)
{
	json_t *v = cfg ? json_object_get(cfg, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DB = 256, O_LISTEN, O_CONFIG, O_DATA, O_STATIC, O_DEMO, O_LATE, O_TOPM,
	       O_RATE, O_LOG, O_VERSION, O_HELP, O_CHARTJS };
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
		{ "demo-rate", required_argument, NULL, O_RATE },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
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
		case O_LATE: {
			double s = strtod(optarg, &end);
			if (*end || s < 0 || s > 3000) {
				fprintf(stderr, "trendd: --lateness wants 0..3000 seconds, not '%s'\n",
					optarg);
				return 2;
			}
			o->lateness_ms = (int64_t)(s * 1000);
			break;
		}
		case O_TOPM:
			o->top_m = strtol(optarg, &end, 10);
			if (*end || o->top_m < 16 || o->top_m > 10000000) {
				fprintf(stderr, "trendd: --top-m wants 16..10000000, not '%s'\n", optarg);
				return 2;
			}
			break;
		case O_RATE:
			o->demo_rate = strtod(optarg, &end);
			if (*end || o->demo_rate <= 0 || o->demo_rate > 100000) {
				fprintf(stderr, "trendd: --demo-rate wants 0..100000, not '%s'\n", optarg);
				return 2;
			}
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
		}
		json_t *late = json_object_get(o->config, "lateness_s");
		if (json_is_number(late) && o->lateness_ms < 0)
			o->lateness_ms = (int64_t)(json_number_value(late) * 1000);
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
}

/* Stores the sources of the config file (by name) before ingest starts. */
static int config_sources(struct db *db, json_t *config)
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
		free(params_text);
		if (rc < 0) {
			log_error("main", "config: cannot store source '%s'", name);
			return rc;
		}
	}
	return 0;
}

struct signal_ctx {
	sigset_t set;
	struct web *web;
};

static void *signal_main(void *arg)
{
	struct signal_ctx *s = arg;
	int sig = 0;
	sigwait(&s->set, &sig);
	log_info("main", "%s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	web_stop(s->web);
	return NULL;
}

static int serve(struct options *o)
{
	struct bus bus;
	struct db *db = NULL;
	struct web *web = NULL;
	struct engine *engine = NULL;
	struct ingest *ingest = NULL;
	struct demo_feed *demo = NULL;
	struct source_config *sources = NULL;
	size_t nsources = 0;
	char err[512];
	int rc = 1;
	pthread_t sig_thread;
	struct signal_ctx sig;

	/* Signals go to the signal thread only; writes to closed sockets are errors, not deaths. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sig.set);
	sigaddset(&sig.set, SIGINT);
	sigaddset(&sig.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sig.set, NULL);

	if (bus_init(&bus) < 0) {
		fprintf(stderr, "trendd: out of memory\n");
		return 1;
	}
	if (db_open(&db, o->db_path, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	if (config_sources(db, o->config) < 0)
		goto out;
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
		if (db_source_upsert(db, &c) < 0 || db_source_reset_cursor(db, c.id) < 0) {
			fprintf(stderr, "trendd: cannot configure the demo source\n");
			goto out;
		}
		log_info("main", "demo feed on %s", url);
	}
	if (db_sources_load(db, &sources, &nsources) < 0) {
		fprintf(stderr, "trendd: cannot load sources from %s\n", o->db_path);
		goto out;
	}

	struct web_config wc = { .listen = o->listen, .static_dir = o->static_dir,
				 .chartjs_dir = o->chartjs_dir };
	if (web_create(&web, &wc, &bus, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	struct engine_config ec = { .data_dir = o->data_dir, .tick_ms = 1000,
				    .lateness_ms = o->lateness_ms >= 0 ? o->lateness_ms : 60000,
				    .top_m = o->top_m > 0 ? (size_t)o->top_m : 4096,
				    .no_lang_views = o->no_lang_views,
				    .no_source_views = o->no_source_views };
	if (engine_start(&engine, &ec, &bus, err, sizeof err) < 0) {
		fprintf(stderr, "trendd: %s\n", err);
		goto out;
	}
	if (db_writer_start(db, &bus) < 0) {
		fprintf(stderr, "trendd: cannot start the database writer\n");
		goto out;
	}
	struct ingest_config ic = { 0 };
	if (ingest_start(&ingest, &ic, &bus, sources, nsources) < 0) {
		fprintf(stderr, "trendd: cannot start ingest\n");
		goto out;
	}
	sig.web = web;
	pthread_create(&sig_thread, NULL, signal_main, &sig);
	log_info("main", "trendd %s listening on http://%s (database %s, %zu sources)",
		 TRENDD_VERSION, o->listen, o->db_path, nsources);
	rc = web_run(web) < 0 ? 1 : 0;
	pthread_cancel(sig_thread);
	pthread_join(sig_thread, NULL);
out:
	atomic_store(&bus.stopping, true);
	ingest_stop(ingest);
	engine_stop(engine);           /* drains posts, publishes the last snapshot */
	queue_close(&bus.db);
	db_close(db);                  /* drains the db queue and commits */
	demo_feed_stop(demo);
	web_free(web);
	db_sources_free(sources, nsources);
	bus_destroy(&bus);
	json_decref(o->config);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		const char *cmd = argv[1];
		if (!strcmp(cmd, "parse"))
			return tool_parse(argc - 1, argv + 1);
		if (!strcmp(cmd, "tokenize"))
			return tool_tokenize(argc - 1, argv + 1);
		if (!strcmp(cmd, "sentiment"))
			return tool_sentiment(argc - 1, argv + 1);
		if (strcmp(cmd, "serve") != 0) {
			fprintf(stderr, "trendd: unknown command '%s'\n", cmd);
			usage(stderr);
			return 2;
		}
		argc--;
		argv++;
	}
	struct options o = { .lateness_ms = -1, .demo_rate = 40 };
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc;
	return serve(&o);
}
