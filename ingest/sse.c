#include "ingest/sse.h"

#include <errno.h>
#include <string.h>

static const char g_bom[3] = { '\xEF', '\xBB', '\xBF' };

void sse_parser_init(struct sse_parser *p, size_t line_max, size_t event_max)
{
	memset(p, 0, sizeof *p);
	p->line_max = line_max ? line_max : SSE_LINE_MAX;
	p->event_max = event_max ? event_max : SSE_EVENT_MAX;
	sb_init(&p->line);
	sb_init(&p->data);
	p->retry_ms = -1;
}

void sse_parser_free(struct sse_parser *p)
{
	sb_free(&p->line);
	sb_free(&p->data);
}

static void event_clear(struct sse_parser *p)
{
	sb_reset(&p->data);
	p->type[0] = 0;
	p->event_bad = false;
}

void sse_parser_reset(struct sse_parser *p)
{
	sb_reset(&p->line);
	event_clear(p);
	p->bom_seen = 0;
	p->started = false;
	p->skip_lf = false;
	p->line_long = false;
	p->line_comment = false;
}

static int dispatch(struct sse_parser *p, sse_event_fn fn, void *user)
{
	int rc = 0;

	if (p->event_bad) {
		p->dropped++;
	} else if (p->data.len > 0) {
		/* Every data line added a '\n'; the last one is not part of the data. */
		p->data.len--;
		p->data.buf[p->data.len] = 0;
		struct sse_event ev = {
			.type = p->type[0] ? p->type : "message",
			.data = p->data.buf,
			.len = p->data.len,
			.id = p->id,
		};
		p->events++;
		rc = fn(user, &ev);
	}
	event_clear(p);
	return rc;
}

static bool field_is(const char *f, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(f, name, n);
}

/* One complete line, without its terminator. */
static int line_process(struct sse_parser *p, const char *s, size_t n, sse_event_fn fn,
			void *user)
{
	const char *colon, *v;
	size_t fn_len, vlen;

	if (n == 0)
		return dispatch(p, fn, user);
	if (s[0] == ':') {
		p->comments++;
		return 0;
	}
	colon = memchr(s, ':', n);
	fn_len = colon ? (size_t)(colon - s) : n;
	v = colon ? colon + 1 : s + n;
	vlen = n - (size_t)(v - s);
	if (vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	if (field_is(s, fn_len, "data")) {
		if (p->event_bad)
			return 0;
		if (p->data.len + vlen + 1 > p->event_max) {
			p->event_bad = true;
			sb_reset(&p->data);
			return 0;
		}
		sb_append(&p->data, v, vlen);
		sb_putc(&p->data, '\n');
		return p->data.failed ? -ENOMEM : 0;
	}
	if (field_is(s, fn_len, "event")) {
		if (vlen > SSE_TYPE_MAX) {
			/* Delivering it under a cut name could make it look like another event. */
			p->event_bad = true;
			return 0;
		}
		memcpy(p->type, v, vlen);
		p->type[vlen] = 0;
		return 0;
	}
	if (field_is(s, fn_len, "id")) {
		if (vlen <= SSE_ID_MAX && !memchr(v, 0, vlen)) {
			memcpy(p->id, v, vlen);
			p->id[vlen] = 0;
		}
		return 0;
	}
	if (field_is(s, fn_len, "retry")) {
		long ms = 0;
		size_t i;
		for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
			if (ms < 100000000)
				ms = ms * 10 + (v[i] - '0');
		if (vlen > 0 && i == vlen)
			p->retry_ms = ms;
		return 0;
	}
	return 0;   /* a field this parser does not know: ignored, as the standard says */
}

/* Adds a piece of the current line; past line_max the line is skipped to its end. */
static int line_append(struct sse_parser *p, const char *s, size_t n)
{
	if (p->line_long)
		return 0;
	if (p->line.len + n > p->line_max) {
		p->line_long = true;
		p->line_comment = (p->line.len > 0 ? p->line.buf[0] : n > 0 ? s[0] : 0) == ':';
		sb_reset(&p->line);
		return 0;
	}
	sb_append(&p->line, s, n);
	return p->line.failed ? -ENOMEM : 0;
}

/* The current line ended with seg (the part of it in this piece). */
static int line_end(struct sse_parser *p, const char *seg, size_t n, sse_event_fn fn, void *user)
{
	int rc;

	if (!p->line_long && p->line.len == 0)
		return line_process(p, seg, n, fn, user);   /* the whole line is in this piece */
	if ((rc = line_append(p, seg, n)) < 0)
		return rc;
	if (p->line_long) {
		/* What kind of line it was is lost; unless a comment, the event is spoiled. */
		if (!p->line_comment)
			p->event_bad = true;
		else
			p->comments++;
		p->line_long = false;
		p->line_comment = false;
		return 0;
	}
	rc = line_process(p, p->line.buf, p->line.len, fn, user);
	sb_reset(&p->line);
	return rc;
}

static int feed_lines(struct sse_parser *p, const char *buf, size_t len, sse_event_fn fn,
		      void *user)
{
	size_t i = 0;
	int rc;

	if (p->skip_lf && len > 0) {
		p->skip_lf = false;
		if (buf[0] == '\n')
			i = 1;
	}
	while (i < len) {
		size_t j = i;
		while (j < len && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (j == len)
			return line_append(p, buf + i, len - i);
		if (buf[j] == '\r') {
			if (j + 1 < len) {
				if (buf[j + 1] == '\n')
					j++;
			} else {
				p->skip_lf = true;
			}
		}
		size_t seg_end = (buf[j] == '\n' && j > i && buf[j - 1] == '\r') ? j - 1 : j;
		if ((rc = line_end(p, buf + i, seg_end - i, fn, user)) != 0)
			return rc;
		i = j + 1;
	}
	return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn fn,
		    void *user)
{
	/* A UTF-8 byte order mark may open the stream, itself cut across pieces. */
	while (!p->started && len > 0) {
		if ((unsigned char)buf[0] == (unsigned char)g_bom[p->bom_seen]) {
			buf++;
			len--;
			if (++p->bom_seen == sizeof g_bom)
				p->started = true;
			continue;
		}
		p->started = true;
		if (p->bom_seen > 0) {
			/* Not a BOM after all: those bytes were text. */
			int rc = feed_lines(p, g_bom, p->bom_seen, fn, user);
			if (rc != 0)
				return rc;
		}
	}
	return feed_lines(p, buf, len, fn, user);
}
