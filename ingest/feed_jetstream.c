#include "ingest/feed_jetstream.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/strbuf.h"

const struct feed_format feed_format_jetstream = {
	.name = "jetstream",
	.detect = feed_jetstream_detect,
	.parse = feed_jetstream_parse,
};

/* time_us after 2100 is not a time Jetstream can have seen. */
#define TIME_US_MAX 4102444800000000LL

static const char *str_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* did:method:id - the characters a DID may hold (no '/', '?', '#', spaces). */
static bool did_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 5 || n > 256 || strncmp(s, "did:", 4))
		return false;
	for (size_t i = 4; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._:%-", s[i]))
			return false;
	return true;
}

/* A record key: 1..512 characters of [A-Za-z0-9._:~-], not "." or "..". */
static bool rkey_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 512 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._:~-", s[i]))
			return false;
	return true;
}

static void malformed(struct jetstream_event *ev, const char *why)
{
	ev->kind = JETSTREAM_MALFORMED;
	snprintf(ev->error, sizeof ev->error, "%s", why);
}

static int post_read(json_t *root, const char *did, struct jetstream_event *ev, int64_t source_id)
{
	json_t *commit = json_object_get(root, "commit"), *record, *langs, *text;
	const char *rkey, *created, *lang = "";
	int64_t created_ms;
	char id[LIMIT_POST_ID_BYTES], url[LIMIT_POST_URL_BYTES];

	rkey = str_get(commit, "rkey");
	record = json_object_get(commit, "record");
	if (!rkey_valid(rkey)) {
		malformed(ev, "post without a valid rkey");
		return 0;
	}
	if (!json_is_object(record)) {
		malformed(ev, "post without a record");
		return 0;
	}
	text = json_object_get(record, "text");
	if (!json_is_string(text)) {
		malformed(ev, "post without text");
		return 0;
	}
	created = str_get(record, "createdAt");
	if (!created || clock_parse_rfc3339(created, strlen(created), &created_ms) < 0)
		created_ms = ev->time_us / 1000;   /* when Jetstream saw it: close enough */
	langs = json_object_get(record, "langs");
	if (json_is_array(langs) && json_array_size(langs) > 0) {
		const char *l = json_string_value(json_array_get(langs, 0));
		if (l && strlen(l) < LIMIT_POST_LANG_BYTES)
			lang = l;
	}
	int idn = snprintf(id, sizeof id, "at://%s/" JETSTREAM_POST_COLLECTION "/%s", did, rkey);
	int urln = snprintf(url, sizeof url, "https://bsky.app/profile/%s/post/%s", did, rkey);
	if (idn < 0 || (size_t)idn >= sizeof id || urln < 0 || (size_t)urln >= sizeof url) {
		malformed(ev, "post id too long");
		return 0;
	}
	struct post_fields f = {
		.source_id = source_id,
		.created_at_ms = created_ms,
		.id = id,
		.url = url,
		.author = did,
		.lang = lang,
		.title = "",
		.text = json_string_value(text),
		.text_len = json_string_length(text),
	};
	if (!(ev->post = post_new(&f)))
		return -ENOMEM;
	ev->kind = JETSTREAM_POST;
	return 0;
}

int jetstream_event_parse(const char *json, size_t len, int64_t source_id,
			  struct jetstream_event *ev)
{
	json_t *root, *t, *commit;
	const char *did, *kind;
	json_error_t jerr;
	int rc = 0;

	memset(ev, 0, sizeof *ev);
	if (len > JETSTREAM_EVENT_MAX) {
		malformed(ev, "event too large");
		return 0;
	}
	/* NULs inside strings are kept, and replaced later, rather than losing the event. */
	root = json_loadb(json, len, JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(root)) {
		malformed(ev, root ? "event is not a JSON object" : "invalid JSON");
		goto out;
	}
	t = json_object_get(root, "time_us");
	if (json_is_integer(t) && json_integer_value(t) > 0 && json_integer_value(t) < TIME_US_MAX)
		ev->time_us = json_integer_value(t);
	did = str_get(root, "did");
	kind = str_get(root, "kind");
	if (!did_valid(did) || !kind || !ev->time_us) {
		malformed(ev, "event without did, time_us or kind");
		goto out;
	}
	ev->kind = JETSTREAM_OTHER;
	if (strcmp(kind, "commit"))
		goto out;
	commit = json_object_get(root, "commit");
	if (!json_is_object(commit)) {
		malformed(ev, "commit event without commit");
		goto out;
	}
	const char *op = str_get(commit, "operation"), *coll = str_get(commit, "collection");
	if (!op || !coll) {
		malformed(ev, "commit without operation or collection");
		goto out;
	}
	if (!strcmp(op, "create") && !strcmp(coll, JETSTREAM_POST_COLLECTION))
		rc = post_read(root, did, ev, source_id);
out:
	json_decref(root);
	return rc;
}

int feed_jetstream_detect(const char *body, size_t len, const char *content_type)
{
	size_t i = 0;

	(void)content_type;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len || body[i] != '{')
		return 0;
	size_t window = len - i < 1024 ? len - i : 1024;
	const char *line_end = memchr(body + i, '\n', window);
	if (line_end)
		window = (size_t)(line_end - body) - i;
	if (memmem(body + i, window, "\"did\"", 5) && memmem(body + i, window, "\"time_us\"", 9) &&
	    memmem(body + i, window, "\"kind\"", 6))
		return 95;
	return 0;
}

int feed_jetstream_parse(const struct feed_input *in, struct feed_doc *doc)
{
	const char *p = in->body, *end = in->body + in->len;
	int64_t newest = 0;
	size_t readable = 0, line_no = 0, first_bad = 0;
	char first_error[96] = "";
	int rc = 0;

	free(doc->title);
	if (!(doc->title = strdup("")))
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct jetstream_event ev;
		size_t n = (size_t)(le - p);

		line_no++;
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		size_t lead = 0;
		while (lead < n && isspace((unsigned char)p[lead]))
			lead++;
		if (n > lead) {
			doc->items++;
			rc = jetstream_event_parse(p + lead, n - lead, in->source_id, &ev);
			if (rc < 0)
				return rc;
			if (ev.time_us > newest)
				newest = ev.time_us;
			if (ev.kind == JETSTREAM_MALFORMED) {
				doc->skipped++;
				if (!first_bad) {
					first_bad = line_no;
					snprintf(first_error, sizeof first_error, "%s", ev.error);
				}
			} else {
				/* No cap of its own: the body cap bounds the events. */
				readable++;
				if (ev.post && (rc = feed_doc_add(doc, ev.post)) < 0)
					return rc;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (doc->items == 0) {
		feed_doc_fail(doc, "not a Jetstream event stream: no events");
		return 0;
	}
	if (readable == 0) {
		feed_doc_fail(doc, "not a Jetstream event stream: line %zu: %s", first_bad,
			      first_error);
		return 0;
	}
	if (newest > 0) {
		char buf[24];
		snprintf(buf, sizeof buf, "%" PRId64, newest);
		free(doc->cursor);
		if (!(doc->cursor = strdup(buf)))
			return -ENOMEM;
	}
	return 0;
}
