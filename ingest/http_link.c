#include "ingest/http_link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Does the space-separated list v[0..n) hold rel? */
static bool rel_has(const char *v, size_t n, const char *rel)
{
	size_t rl = strlen(rel), i = 0;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t start = i;
		while (i < n && v[i] != ' ' && v[i] != '\t')
			i++;
		if (i - start == rl && !strncasecmp(v + start, rel, rl))
			return true;
	}
	return false;
}

/*
 * Reads a parameter value at p: a quoted string (backslash escapes kept as
 * the escaped character) or a token. Writes it to buf (cut at cap) and
 * returns the position after it.
 */
static const char *param_value(const char *p, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 < cap)
				buf[n++] = *p;
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t'; p++)
			if (n + 1 < cap)
				buf[n++] = *p;
	}
	buf[n] = 0;
	*len = n;
	return p;
}

int http_link_find(const char *header, const char *rel, char *out, size_t cap)
{
	const char *p = header;

	if (!header)
		return -ENOENT;
	for (;;) {
		const char *target, *end;
		bool match = false;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p != '<')
			return -ENOENT;
		target = p + 1;
		end = strchr(target, '>');
		if (!end)
			return -ENOENT;
		p = end + 1;
		/* Parameters up to the next link. */
		for (;;) {
			char name[16], value[128];
			size_t nl = 0, vl = 0;

			p = skip_ws(p);
			if (*p != ';')
				break;
			p = skip_ws(p + 1);
			for (; *p && !strchr("=;, \t", *p); p++)
				if (nl + 1 < sizeof name)
					name[nl++] = *p;
			name[nl] = 0;
			p = skip_ws(p);
			value[0] = 0;
			if (*p == '=')
				p = param_value(skip_ws(p + 1), value, sizeof value, &vl);
			if (!strcasecmp(name, "rel") && rel_has(value, vl, rel))
				match = true;
		}
		if (match) {
			size_t n = (size_t)(end - target);
			if (n + 1 > cap)
				return -E2BIG;
			memcpy(out, target, n);
			out[n] = 0;
			return 0;
		}
		/* Anything else before the next comma is not part of a well-formed link. */
		while (*p && *p != ',')
			p++;
		if (!*p)
			return -ENOENT;
	}
}

/* Splits an http(s) URL into TLS or not, host (brackets kept for IPv6) and port. */
static bool url_origin(const char *u, bool *tls, const char **host, size_t *hlen, long *port)
{
	const char *h, *e, *at, *colon;

	if (!strncasecmp(u, "https://", 8)) {
		*tls = true;
		h = u + 8;
	} else if (!strncasecmp(u, "http://", 7)) {
		*tls = false;
		h = u + 7;
	} else {
		return false;
	}
	e = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(e - h));
	if (at)
		h = at + 1;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(e - h));
		if (!rb)
			return false;
		colon = rb + 1 < e && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(e - h));
	}
	*host = h;
	*hlen = (size_t)((colon ? colon : e) - h);
	*port = *tls ? 443 : 80;
	if (colon && colon + 1 < e) {
		char *pe;
		*port = strtol(colon + 1, &pe, 10);
		if (pe != e || *port <= 0 || *port > 65535)
			return false;
	}
	return *hlen > 0;
}

bool http_url_same_origin(const char *a, const char *b)
{
	bool ta, tb;
	const char *ha, *hb;
	size_t la, lb;
	long pa, pb;

	if (!a || !b || !url_origin(a, &ta, &ha, &la, &pa) || !url_origin(b, &tb, &hb, &lb, &pb))
		return false;
	return ta == tb && pa == pb && la == lb && !strncasecmp(ha, hb, la);
}

int http_url_query_get(const char *url, const char *name, char *out, size_t cap)
{
	const char *q = strchr(url, '?');
	size_t nl = strlen(name);

	if (!q)
		return -ENOENT;
	for (const char *p = q + 1; *p && *p != '#';) {
		size_t n = strcspn(p, "&#");
		if (n > nl && p[nl] == '=' && !strncmp(p, name, nl)) {
			size_t vl = n - nl - 1;
			if (vl + 1 > cap)
				return -E2BIG;
			memcpy(out, p + nl + 1, vl);
			out[vl] = 0;
			return 0;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return -ENOENT;
}
