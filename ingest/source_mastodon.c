#include "ingest/source_mastodon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/feed_mastodon.h"
#include "ingest/http_link.h"
#include "ingest/stream.h"
#include "ingest/json_util.h"

/* Mastodon's stream names and the timelines a catch-up after a gap reads. */
static const struct {
	const char *name;
	enum mastodon_timeline timeline;
	bool local, remote;
	const char *path;   /* under /api/v1/streaming/ */
} g_streams[] = {
	{ "public", MASTODON_TL_PUBLIC, false, false, "public" },
	{ "public:local", MASTODON_TL_PUBLIC, true, false, "public/local" },
	{ "public:remote", MASTODON_TL_PUBLIC, false, true, "public/remote" },
	{ "hashtag", MASTODON_TL_TAG, false, false, "hashtag" },
	{ "hashtag:local", MASTODON_TL_TAG, true, false, "hashtag/local" },
};

#define NSTREAMS (sizeof g_streams / sizeof g_streams[0])

/* Reads params.key as an integer in [lo, hi] into *out when present. */
static int int_param(json_t *root, const char *key, int lo, int hi, int *out, char *err,
		     size_t cap)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, cap, "params.%s must be a number from %d to %d", key, lo, hi);
		return -EINVAL;
	}
	*out = (int)json_integer_value(v);
	return 0;
}

static int stream_params(json_t *root, struct mastodon_settings *st, char *err, size_t cap)
{
	const char *name = json_string_value(json_object_get(root, "stream"));
	size_t i;

	for (i = 0; name && i < NSTREAMS; i++)
		if (!strcmp(name, g_streams[i].name))
			break;
	if (!name || i == NSTREAMS) {
		snprintf(err, cap, "params.stream must be \"public\", \"public:local\", "
				   "\"public:remote\", \"hashtag\" or \"hashtag:local\"");
		return -EINVAL;
	}
	snprintf(st->stream, sizeof st->stream, "%s", name);
	st->timeline = g_streams[i].timeline;
	st->local = g_streams[i].local;
	st->remote = g_streams[i].remote;
	if (int_param(root, "idle_timeout_s", 1, 3600, &st->idle_timeout_s, err, cap) < 0)
		return -EINVAL;
	return 0;
}

static int token_param(json_t *root, struct mastodon_settings *st, char *err, size_t cap)
{
	json_t *v = json_object_get(root, "access_token_env");
	const char *name = json_string_value(v), *token;

	if (!v)
		return 0;
	if (!name || !name[0] || strlen(name) > 128) {
		snprintf(err, cap, "params.access_token_env must name an environment variable");
		return -EINVAL;
	}
	token = getenv(name);
	if (!token || !token[0]) {
		snprintf(err, cap, "the environment variable %s (params.access_token_env) "
				   "is not set", name);
		return -EINVAL;
	}
	if (strlen(token) > MASTODON_TOKEN_MAX || strpbrk(token, "\r\n")) {
		snprintf(err, cap, "the token in %s is not a usable access token", name);
		return -EINVAL;
	}
	snprintf(st->token, sizeof st->token, "%s", token);
	return 0;
}

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	struct mastodon_settings *st;
	json_t *root = NULL, *v;
	json_error_t jerr;
	const char *params = cfg->params_json;

	*out = NULL;
	if (!url_is_fetchable(cfg->url)) {
		snprintf(err, cap, "url must be the instance's http:// or https:// address");
		return -EINVAL;
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->timeline = MASTODON_TL_PUBLIC;
	st->limit = MASTODON_PAGE_MAX;
	st->max_catchup_pages = MASTODON_CATCHUP_PAGES;
	st->idle_timeout_s = MASTODON_IDLE_TIMEOUT_S;
	if (!params || !params[0])
		goto done;
	root = json_loads(params, 0, &jerr);
	if (!json_is_object(root)) {
		snprintf(err, cap, "params must be a JSON object");
		goto fail;
	}
	/* The stream's name says which timeline; "timeline" and "local" are then ignored. */
	if (json_object_get(root, "stream")) {
		if (stream_params(root, st, err, cap) < 0)
			goto fail;
	} else if ((v = json_object_get(root, "timeline"))) {
		const char *t = json_string_value(v);
		if (t && !strcmp(t, "public")) {
			st->timeline = MASTODON_TL_PUBLIC;
		} else if (t && !strcmp(t, "local")) {
			st->timeline = MASTODON_TL_PUBLIC;
			st->local = true;
		} else if (t && !strcmp(t, "tag")) {
			st->timeline = MASTODON_TL_TAG;
		} else {
			snprintf(err, cap, "params.timeline must be \"public\", \"local\" or \"tag\"");
			goto fail;
		}
	}
	if ((v = json_object_get(root, "local")) && !st->stream[0]) {
		if (!json_is_boolean(v)) {
			snprintf(err, cap, "params.local must be true or false");
			goto fail;
		}
		st->local = st->local || json_is_true(v);
	}
	if ((v = json_object_get(root, "limit"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			snprintf(err, cap, "params.limit must be a number from 1 to %d",
				 MASTODON_PAGE_MAX);
			goto fail;
		}
		json_int_t l = json_integer_value(v);
		st->limit = l > MASTODON_PAGE_MAX ? MASTODON_PAGE_MAX : (int)l;
	}
	if (int_param(root, "max_catchup_pages", 1, MASTODON_CATCHUP_PAGES_MAX,
		      &st->max_catchup_pages, err, cap) < 0 ||
	    token_param(root, st, err, cap) < 0)
		goto fail;
	if (st->timeline == MASTODON_TL_TAG) {
		const char *t = json_string_value(json_object_get(root, "tag"));
		if (t && t[0] == '#')
			t++;
		if (!t || !t[0] || strlen(t) > MASTODON_TAG_MAX) {
			snprintf(err, cap, "params.tag must name the hashtag (1 to %d bytes)",
				 MASTODON_TAG_MAX);
			goto fail;
		}
		memcpy(st->tag, t, strlen(t) + 1);
	}
done:
	json_decref(root);
	*out = st;
	return 0;
fail:
	json_decref(root);
	free(st);
	return -EINVAL;
}

static void release(void *state) { free(state); }

static void put_base(struct strbuf *url, const char *base_url)
{
	size_t n = strlen(base_url);

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	sb_append(url, base_url, n);
}

int mastodon_timeline_url(const struct mastodon_settings *st, const char *base_url,
			  const char *min_id, struct strbuf *url)
{
	put_base(url, base_url);
	if (st->timeline == MASTODON_TL_TAG) {
		sb_puts(url, "/api/v1/timelines/tag/");
		url_put_escaped(url, st->tag, strlen(st->tag));
	} else {
		sb_puts(url, "/api/v1/timelines/public");
	}
	sb_printf(url, "?limit=%d", st->limit);
	if (st->local)
		sb_puts(url, "&local=true");
	if (st->remote)
		sb_puts(url, "&remote=true");
	if (min_id && min_id[0]) {
		sb_puts(url, "&min_id=");
		url_put_escaped(url, min_id, strlen(min_id));
	}
	return url->failed ? -ENOMEM : 0;
}

int mastodon_stream_url(const struct mastodon_settings *st, const char *base_url,
			struct strbuf *url)
{
	const char *path = NULL;

	for (size_t i = 0; i < NSTREAMS; i++)
		if (!strcmp(st->stream, g_streams[i].name))
			path = g_streams[i].path;
	if (!path)
		return -EINVAL;
	put_base(url, base_url);
	sb_puts(url, "/api/v1/streaming/");
	sb_puts(url, path);
	if (st->timeline == MASTODON_TL_TAG) {
		sb_puts(url, "?tag=");
		url_put_escaped(url, st->tag, strlen(st->tag));
	}
	return url->failed ? -ENOMEM : 0;
}

int mastodon_prev_link(const char *base_url, const char *link, char **out)
{
	char target[LIMIT_POST_URL_BYTES], min_id[LIMIT_POST_ID_BYTES];

	*out = NULL;
	if (http_link_find(link, "prev", target, sizeof target) < 0)
		return 0;
	/*
	 * Only to the server the source names (a link elsewhere could point
	 * trendd at anything), and only a min_id page: a since_id page holds the
	 * newest statuses, leaving a gap after the cursor when more than a page
	 * came in.
	 */
	if (!http_url_same_origin(base_url, target) ||
	    http_url_query_get(target, "min_id", min_id, sizeof min_id) < 0 || !min_id[0])
		return 0;
	*out = strdup(target);
	return *out ? 0 : -ENOMEM;
}

static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	return mastodon_timeline_url(state, base_url, cursor, url);
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	const struct mastodon_settings *st = state;
	int rc = feed_mastodon_parse(in, doc);

	/*
	 * Behind only when paging after a cursor and the page came back full
	 * and moved the cursor on; the first, cursor-less poll takes the newest
	 * page and starts from there.
	 */
	*more = rc == 0 && doc->wellformed && in->cursor && in->cursor[0] && doc->cursor &&
		doc->items >= (size_t)st->limit;
	if (*more && in->link && in->base_url)
		rc = mastodon_prev_link(in->base_url, in->link, &doc->next_url);
	return rc;
}

static int catchup_pages(const void *state)
{
	return ((const struct mastodon_settings *)state)->max_catchup_pages;
}

/* Mastodon says what went wrong in the "error" member of its error answers. */
static void error_detail(const char *body, size_t len, char *buf, size_t cap)
{
	json_member_text(body, len, "error", buf, cap);
}

static bool streams(const void *state)
{
	return ((const struct mastodon_settings *)state)->stream[0] != 0;
}

const struct source_kind source_kind_mastodon = {
	.name = "mastodon",
	.accept = "application/json",
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
	.error_detail = error_detail,
	.catchup_pages = catchup_pages,
	.streams = streams,
	.stream = &mastodon_stream_ops,
};
