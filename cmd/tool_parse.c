/*
 * tool_parse.c - `trendd parse`: runs one document through the same parsers
 * the ingest thread uses and prints what they make of it as NDJSON (DESIGN §7):
 *
 *   {"type":"document","format":"…","wellformed":true|false,"error":null|"…","title":"…"}
 *   {"type":"post","id":"…","url":"…","title":"…","text":"…","author":"…","lang":"…",
 *    "created_at":"YYYY-MM-DDTHH:MM:SSZ"}   (one per post)
 *
 * FILE is a response body, or a captured response (status line, headers, a
 * blank line, the body), or "-" for stdin. Ill-formed documents are output,
 * not failures: the exit code is non-zero only when FILE cannot be read or the
 * command line is wrong.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/tools.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/strbuf.h"
#include "ingest/feed.h"
#include "ingest/html_text.h"
#include "ingest/http.h"

/* Room for a captured response's status line and headers on top of the body cap. */
#define PARSE_HEADER_SLACK (256 * 1024)

/* Formats trendd will read; those without a parser yet give a document error, not a usage error. */
static const char *const g_planned[] = { "rss", "atom", "jsonfeed", "reddit", "hn", "jetstream" };

static void usage(FILE *f)
{
	char names[128];
	feed_format_names(names, sizeof names);
	fprintf(f, "usage: trendd parse [--format auto|%s] [--content-type CT] [--base-url URL] FILE\n",
		names);
}

/* Reads at most cap bytes; *truncated says whether the file held more. */
static char *read_all(const char *path, size_t cap, size_t *len, bool *truncated)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t n = 0, sz = 65536;
	char *buf;

	*truncated = false;
	if (!f)
		return NULL;
	buf = malloc(sz + 1);
	while (buf) {
		size_t want = sz - n, r;
		if (want == 0) {
			if (sz >= cap + 1)
				break;
			size_t nsz = sz * 2 > cap + 1 ? cap + 1 : sz * 2;
			char *nb = realloc(buf, nsz + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			sz = nsz;
			continue;
		}
		r = fread(buf + n, 1, want, f);
		n += r;
		if (r < want)
			break;
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (f != stdin)
		fclose(f);
	if (!buf)
		return NULL;
	if (n > cap) {
		n = cap;
		*truncated = true;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/*
 * A captured response starts with "HTTP/": the body follows the first blank
 * line. Copies its Content-Type into ct and its Content-Location (the base
 * for relative links) into loc, when they are empty, on the way.
 */
static void split_capture(const char *buf, size_t len, const char **body, size_t *body_len,
			  char *ct, size_t ct_cap, char *loc, size_t loc_cap)
{
	const char *p = buf, *end = buf + len;

	*body = buf;
	*body_len = len;
	if (len < 5 || memcmp(buf, "HTTP/", 5))
		return;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t ll = (size_t)(line_end - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			*body = nl ? nl + 1 : end;
			*body_len = (size_t)(end - *body);
			return;
		}
		if (!ct[0] && ll > 13 && !strncasecmp(p, "content-type:", 13)) {
			const char *v = p + 13;
			size_t vl = ll - 13;
			while (vl > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			snprintf(ct, ct_cap, "%.*s", (int)vl, v);
		}
		if (!loc[0] && ll > 17 && !strncasecmp(p, "content-location:", 17)) {
			const char *v = p + 17;
			size_t vl = ll - 17;
			while (vl > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			snprintf(loc, loc_cap, "%.*s", (int)vl, v);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	/* Headers without a blank line: no body at all. */
	*body = end;
	*body_len = 0;
}

static void put_line(struct strbuf *sb)
{
	sb_putc(sb, '\n');
	if (!sb->failed)
		fwrite(sb->buf, 1, sb->len, stdout);
	sb_reset(sb);
}

static void put_document(struct strbuf *sb, const char *format, const struct feed_doc *doc)
{
	sb_puts(sb, "{\"type\":\"document\",\"format\":");
	sb_json_cstr(sb, format);
	sb_puts(sb, ",\"wellformed\":");
	sb_puts(sb, doc->wellformed ? "true" : "false");
	sb_puts(sb, ",\"error\":");
	if (doc->wellformed)
		sb_puts(sb, "null");
	else
		sb_json_cstr(sb, doc->error);
	sb_puts(sb, ",\"title\":");
	sb_json_cstr(sb, doc->title ? doc->title : "");
	sb_putc(sb, '}');
	put_line(sb);
}

static void put_post(struct strbuf *sb, const struct post *p)
{
	char when[32];

	clock_format_rfc3339(p->created_at_ms, when, sizeof when);
	sb_puts(sb, "{\"type\":\"post\",\"id\":");
	sb_json_cstr(sb, p->id);
	sb_puts(sb, ",\"url\":");
	sb_json_cstr(sb, p->url);
	sb_puts(sb, ",\"title\":");
	sb_json_cstr(sb, p->title);
	sb_puts(sb, ",\"text\":");
	sb_json_str(sb, p->text, p->text_len);
	sb_puts(sb, ",\"author\":");
	sb_json_cstr(sb, p->author);
	sb_puts(sb, ",\"lang\":");
	sb_json_cstr(sb, p->lang);
	sb_puts(sb, ",\"created_at\":");
	sb_json_cstr(sb, when);
	sb_putc(sb, '}');
	put_line(sb);
}

static bool is_planned(const char *name)
{
	for (size_t i = 0; i < sizeof g_planned / sizeof g_planned[0]; i++)
		if (!strcmp(g_planned[i], name))
			return true;
	return false;
}

int tool_parse(int argc, char **argv)
{
	const char *format = "auto", *path = NULL, *base_url = NULL;
	char ct[256] = "", loc[2048] = "", names[128], sizebuf[32];
	struct strbuf out = STRBUF_INIT;
	struct html_text *html = NULL;
	const struct feed_format *fmt = NULL;
	struct feed_doc doc;
	const char *body;
	size_t len, body_len;
	bool truncated;
	char *buf;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **dst = NULL;
		if (!strcmp(a, "--format"))
			dst = &format;
		else if (!strcmp(a, "--base-url"))
			dst = &base_url;
		else if (!strcmp(a, "--content-type")) {
			if (i + 1 >= argc)
				goto bad_usage;
			snprintf(ct, sizeof ct, "%s", argv[++i]);
			continue;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-' && a[1] == '-') {
			/* --name=value */
			const char *eq = strchr(a, '=');
			if (eq && !strncmp(a, "--format=", 9))
				format = eq + 1;
			else if (eq && !strncmp(a, "--base-url=", 11))
				base_url = eq + 1;
			else if (eq && !strncmp(a, "--content-type=", 15))
				snprintf(ct, sizeof ct, "%s", eq + 1);
			else {
				fprintf(stderr, "trendd parse: unknown option %s\n", a);
				goto bad_usage;
			}
			continue;
		} else if (!path) {
			path = a;
			continue;
		} else {
			fprintf(stderr, "trendd parse: only one FILE, please\n");
			goto bad_usage;
		}
		if (i + 1 >= argc)
			goto bad_usage;
		*dst = argv[++i];
	}
	if (!path)
		goto bad_usage;
	if (strcmp(format, "auto") && !(fmt = feed_format_find(format)) && !is_planned(format)) {
		feed_format_names(names, sizeof names);
		fprintf(stderr, "trendd parse: unknown format '%s' (auto|%s)\n", format, names);
		goto bad_usage;
	}

	buf = read_all(path, LIMIT_FEED_BODY_BYTES + PARSE_HEADER_SLACK, &len, &truncated);
	if (!buf) {
		fprintf(stderr, "trendd parse: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	split_capture(buf, len, &body, &body_len, ct, sizeof ct, loc, sizeof loc);
	if (!base_url && loc[0])
		base_url = loc;

	feed_doc_init(&doc);
	if (truncated || body_len > LIMIT_FEED_BODY_BYTES) {
		http_format_size(LIMIT_FEED_BODY_BYTES, sizebuf, sizeof sizebuf);
		feed_doc_fail(&doc, "body larger than %s", sizebuf);
		put_document(&out, fmt ? fmt->name : format, &doc);
		goto done;
	}
	if (!fmt && !strcmp(format, "auto"))
		fmt = feed_format_detect(body, body_len, ct[0] ? ct : NULL);
	if (!fmt) {
		feed_format_names(names, sizeof names);
		if (!strcmp(format, "auto"))
			feed_doc_fail(&doc, "unsupported format: the document is none of %s", names);
		else
			feed_doc_fail(&doc, "unsupported format '%s' (this build reads %s)", format,
				      names);
		put_document(&out, strcmp(format, "auto") ? format : "unknown", &doc);
		goto done;
	}
	if (html_text_new(&html) < 0) {
		fprintf(stderr, "trendd parse: out of memory\n");
		rc = 1;
		goto done;
	}
	struct feed_input in = {
		.body = body,
		.len = body_len,
		.content_type = ct[0] ? ct : NULL,
		.base_url = base_url,
		.html = html,
	};
	if (fmt->parse(&in, &doc) < 0) {
		fprintf(stderr, "trendd parse: out of memory\n");
		rc = 1;
		goto done;
	}
	put_document(&out, fmt->name, &doc);
	for (size_t i = 0; i < doc.nposts; i++)
		put_post(&out, doc.posts[i]);
done:
	fflush(stdout);
	feed_doc_clear(&doc);
	html_text_free(html);
	sb_free(&out);
	free(buf);
	return rc;
bad_usage:
	usage(stderr);
	return 2;
}
