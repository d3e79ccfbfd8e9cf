#include "ingest/source_jetstream.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/dbmsg.h"
#include "core/hash.h"
#include "core/post.h"
#include "ingest/feed_jetstream.h"
#include "ingest/ingest.h"
#include "ingest/json_util.h"

/* ws[s]://host[:port][/path[?query]] into the settings. */
static int url_parse(const char *url, struct jetstream_settings *st, char *err, size_t cap)
{
	const char *h, *he, *pe, *path;
	size_t hl;

	if (url && !strncasecmp(url, "wss://", 6)) {
		st->tls = true;
		h = url + 6;
	} else if (url && !strncasecmp(url, "ws://", 5)) {
		st->tls = false;
		h = url + 5;
	} else {
		snprintf(err, cap, "url must be the ws:// or wss:// address of a Jetstream "
				   "subscribe endpoint");
		return -EINVAL;
	}
	path = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(path - h))) {
		snprintf(err, cap, "url must not carry a user name or password");
		return -EINVAL;
	}
	if (*h == '[') {
		he = memchr(h, ']', (size_t)(path - h));
		if (!he) {
			snprintf(err, cap, "url has a malformed IPv6 address");
			return -EINVAL;
		}
		h++;
		pe = he + 1;
	} else {
		he = memchr(h, ':', (size_t)(path - h));
		if (!he)
			he = path;
		pe = he;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl > JETSTREAM_HOST_MAX) {
		snprintf(err, cap, "url must name a host");
		return -EINVAL;
	}
	memcpy(st->host, h, hl);
	st->host[hl] = 0;
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)st->host[i]) && !strchr(".-:", st->host[i])) {
			snprintf(err, cap, "url has a malformed host name");
			return -EINVAL;
		}
	st->port = st->tls ? 443 : 80;
	if (pe < path && *pe == ':') {
		char *end;
		long port = strtol(pe + 1, &end, 10);
		if (end != path || port < 1 || port > 65535) {
			snprintf(err, cap, "url has a malformed port");
			return -EINVAL;
		}
		st->port = (int)port;
	} else if (pe != path) {
		snprintf(err, cap, "url has a malformed host");
		return -EINVAL;
	}
	/* The fragment is not sent; a URL without a path means the usual endpoint. */
	size_t plen = strcspn(path, "#");
	if (plen == 0 || path[0] == '?')
		snprintf(st->path, sizeof st->path, "/subscribe%.*s", (int)plen, path);
	else if (plen < sizeof st->path)
		snprintf(st->path, sizeof st->path, "%.*s", (int)plen, path);
	else
		st->path[0] = 0;
	if (!st->path[0] || strlen(st->path) >= JETSTREAM_PATH_MAX - 1) {
		snprintf(err, cap, "url is too long");
		return -EINVAL;
	}
	for (const char *p = st->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(err, cap, "url must be percent-encoded "
					   "(no spaces or control bytes)");
			return -EINVAL;
		}
	return 0;
}

/* An NSID, or an NSID prefix ending in ".*" as Jetstream allows. */
static bool nsid_valid(const char *s)
{
	size_t n = strlen(s), dots = 0;

	if (n < 3 || n > 317)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] == '*' && !(i == n - 1 && i > 0 && s[i - 1] == '.'))
			return false;
		else if (s[i] != '*' && !isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	}
	return dots >= 2 || (dots >= 1 && s[n - 1] == '*');
}

static bool did_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 5 || n > 256 || strncmp(s, "did:", 4))
		return false;
	for (size_t i = 4; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._:%-", s[i]))
			return false;
	return true;
}

/* Appends "&key=v" for each string of the array; checks each with valid(). */
static int list_param(json_t *root, const char *key, size_t max, bool (*valid)(const char *),
		      const char *what, struct strbuf *q, bool *given, char *err, size_t cap)
{
	json_t *arr = json_object_get(root, key), *v;
	size_t i;

	*given = arr != NULL;
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > max) {
		snprintf(err, cap, "params.%s must be an array of at most %zu %ss", key, max, what);
		return -EINVAL;
	}
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		if (!s || !valid(s)) {
			snprintf(err, cap, "params.%s[%zu] is not a valid %s", key, i, what);
			return -EINVAL;
		}
		sb_printf(q, "%s%s=", q->len ? "&" : "", key);
		url_put_escaped(q, s, strlen(s));
	}
	return 0;
}

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

static int setup(const struct source_config *cfg, void **out, char *err, size_t cap)
{
	struct jetstream_settings *st;
	struct strbuf q = STRBUF_INIT;
	json_t *root = NULL;
	int rewind_s = JETSTREAM_REWIND_S;
	bool given = false;
	int rc = -EINVAL;

	*out = NULL;
	if (!(st = calloc(1, sizeof *st)))
		return -ENOMEM;
	st->idle_timeout_s = JETSTREAM_IDLE_TIMEOUT_S;
	if (url_parse(cfg->url, st, err, cap) < 0)
		goto fail;
	if (cfg->params_json && cfg->params_json[0]) {
		root = json_loads(cfg->params_json, 0, NULL);
		if (!json_is_object(root)) {
			snprintf(err, cap, "params must be a JSON object");
			goto fail;
		}
	}
	if (root && list_param(root, "wantedCollections", JETSTREAM_COLLECTIONS_MAX, nsid_valid,
			       "collection NSID", &q, &given, err, cap) < 0)
		goto fail;
	if (!given)
		sb_puts(&q, "wantedCollections=" JETSTREAM_POST_COLLECTION);
	if (root && (list_param(root, "wantedDids", JETSTREAM_DIDS_MAX, did_valid, "DID", &q,
				&given, err, cap) < 0 ||
		     int_param(root, "rewind_s", 0, 3600, &rewind_s, err, cap) < 0 ||
		     int_param(root, "idle_timeout_s", 2, 3600, &st->idle_timeout_s, err, cap) < 0))
		goto fail;
	if (q.failed) {
		rc = -ENOMEM;
		goto fail;
	}
	st->rewind_us = (int64_t)rewind_s * 1000000;
	/* (sb_detach() of an empty buffer does not terminate it, hence strdup.) */
	st->filter = q.len ? sb_detach(&q, NULL) : strdup("");
	sb_free(&q);
	if (!st->filter) {
		rc = -ENOMEM;
		goto fail;
	}
	json_decref(root);
	*out = st;
	return 0;
fail:
	sb_free(&q);
	json_decref(root);
	free(st);
	return rc;
}

static void release(void *state)
{
	struct jetstream_settings *st = state;

	if (st)
		free(st->filter);
	free(st);
}

int jetstream_subscribe_path(const struct jetstream_settings *st, int64_t cursor_us,
			     struct strbuf *out)
{
	size_t n = strlen(st->path);
	char sep = !strchr(st->path, '?') ? '?' : strchr("?&", st->path[n - 1]) ? 0 : '&';

	sb_puts(out, st->path);
	if (st->filter[0]) {
		if (sep)
			sb_putc(out, sep);
		sb_puts(out, st->filter);
		sep = '&';
	}
	if (cursor_us > 0) {
		int64_t c = cursor_us - st->rewind_us;
		if (sep)
			sb_putc(out, sep);
		sb_printf(out, "cursor=%" PRId64, c > 0 ? c : 1);
	}
	return out->failed ? -ENOMEM : 0;
}

int64_t jetstream_cursor_parse(const char *s)
{
	char *end;
	long long v;

	if (!s || !s[0] || !isdigit((unsigned char)s[0]))
		return 0;
	v = strtoll(s, &end, 10);
	return *end == 0 && v > 0 ? (int64_t)v : 0;
}

/* ---- where a source resumes ---- */

static uint64_t id_hash(const char *id)
{
	return hash_bytes(id, strlen(id));
}

static void ring_add(struct jetstream_resume *r, uint64_t h)
{
	r->seen[r->next] = h;
	r->next = (r->next + 1) % JETSTREAM_SEEN_IDS;
	if (r->nseen < JETSTREAM_SEEN_IDS)
		r->nseen++;
}

int jetstream_resume_init(struct jetstream_resume *r, const char *cursor, const void *seen,
			  size_t seen_len)
{
	const uint8_t *in = seen;
	uint32_t n = 0;

	memset(r, 0, sizeof *r);
	r->cursor_us = jetstream_cursor_parse(cursor);
	if (!in || seen_len == 0)
		return 0;
	/* ingest's compact form: a 32-bit count, then that many 64-bit hashes, oldest first. */
	if (seen_len < 4)
		return -EINVAL;
	memcpy(&n, in, 4);
	if (n > INGEST_SEEN_IDS || seen_len != 4 + 8 * (size_t)n)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t h;
		memcpy(&h, in + 4 + 8 * (size_t)i, 8);
		ring_add(r, h);
	}
	return 0;
}

bool jetstream_resume_has(const struct jetstream_resume *r, const char *post_id)
{
	uint64_t h = id_hash(post_id);

	/* A linear scan of a few thousand integers costs less than parsing the event did. */
	for (size_t i = 0; i < r->nseen; i++)
		if (r->seen[i] == h)
			return true;
	return false;
}

void jetstream_resume_add(struct jetstream_resume *r, const char *post_id)
{
	ring_add(r, id_hash(post_id));
}

void jetstream_resume_read(struct jetstream_resume *r, int64_t time_us)
{
	if (time_us > r->cursor_us)
		r->cursor_us = time_us;
}

size_t jetstream_resume_encode(const struct jetstream_resume *r, char *cursor, uint8_t *out)
{
	uint32_t n = (uint32_t)(r->nseen < INGEST_SEEN_IDS ? r->nseen : INGEST_SEEN_IDS);
	/* The newest n: the slots just before next, oldest of them first. */
	size_t first = (r->next + JETSTREAM_SEEN_IDS - n) % JETSTREAM_SEEN_IDS;

	memcpy(out, &n, 4);
	for (uint32_t i = 0; i < n; i++)
		memcpy(out + 4 + 8 * (size_t)i, &r->seen[(first + i) % JETSTREAM_SEEN_IDS], 8);
	snprintf(cursor, 24, "%" PRId64, r->cursor_us);
	return 4 + 8 * (size_t)n;
}

struct post *jetstream_resume_marker(const struct jetstream_resume *r, int64_t source_id,
				     uint64_t gen)
{
	uint8_t out[INGEST_SEEN_MAX_BYTES];
	char cursor[24];

	assert(r->cursor_us > 0);
	size_t len = jetstream_resume_encode(r, cursor, out);
	return dbmsg_marker_new_gen(source_id, gen, cursor, out, len);
}

/* Not polled: a `jetstream` source always streams. */
static int request_url(const void *state, const char *base_url, const char *cursor,
		       struct strbuf *url)
{
	return -ENOTSUP;
}

static int parse(const void *state, const struct feed_input *in, struct feed_doc *doc,
		 bool *more)
{
	*more = false;
	return -ENOTSUP;
}

const struct source_kind source_kind_jetstream = {
	.name = "jetstream",
	.setup = setup,
	.release = release,
	.request_url = request_url,
	.parse = parse,
	.stream = &jetstream_stream_ops,
	.own_url_check = true,
};
