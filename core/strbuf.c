#include "core/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/post.h"

void sb_init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->failed = false;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = false;
	if (sb->buf)
		sb->buf[0] = 0;
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
	char *b;
	if (sb->failed) {
		sb_free(sb);
		return NULL;
	}
	if (!sb->buf && !sb_reserve(sb, 1))
		return NULL;
	b = sb->buf;
	if (len)
		*len = sb->len;
	sb_init(sb);
	return b;
}

bool sb_reserve(struct strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->failed = true;
		return false;
	}
	sb->buf = nb;
	sb->cap = cap;
	sb->buf[sb->len] = 0; /* always a string, even before the first append */
	return true;
}

void sb_append(struct strbuf *sb, const char *s, size_t len)
{
	if (!sb_reserve(sb, len))
		return;
	memcpy(sb->buf + sb->len, s, len);
	sb->len += len;
	sb->buf[sb->len] = 0;
}

void sb_puts(struct strbuf *sb, const char *s) { sb_append(sb, s, strlen(s)); }

void sb_putc(struct strbuf *sb, char c)
{
	if (!sb_reserve(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = 0;
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sb_append(sb, small, (size_t)n);
		return;
	}
	if (!sb_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sb_put_u64(struct strbuf *sb, uint64_t v)
{
	char tmp[24];
	int i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_append(sb, tmp + i, sizeof tmp - (size_t)i);
}

void sb_put_i64(struct strbuf *sb, int64_t v)
{
	if (v < 0) {
		sb_putc(sb, '-');
		sb_put_u64(sb, (uint64_t)0 - (uint64_t)v);
	} else {
		sb_put_u64(sb, (uint64_t)v);
	}
}

void sb_put_double(struct strbuf *sb, double v, int decimals)
{
	char tmp[64];
	if (!isfinite(v))
		v = 0;
	int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
	if (n <= 0 || (size_t)n >= sizeof tmp) {
		sb_putc(sb, '0');
		return;
	}
	if (memchr(tmp, '.', (size_t)n)) {
		while (n > 1 && tmp[n - 1] == '0')
			n--;
		if (tmp[n - 1] == '.')
			n--;
	}
	if (n == 2 && tmp[0] == '-' && tmp[1] == '0')
		sb_putc(sb, '0');
	else
		sb_append(sb, tmp, (size_t)n);
}

void sb_json_str(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	if (!sb_reserve(sb, len + 2))
		return;
	sb_putc(sb, '"');
	while (i < len) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		sb_append(sb, (const char *)p + i - run, run);
		run = 0;
		if (c >= 0x80) {
			size_t n = utf8_seq_len(p + i, len - i);
			if (n == 0) {
				sb_append(sb, "\xEF\xBF\xBD", 3);
				i++;
			} else {
				sb_append(sb, (const char *)p + i, n);
				i += n;
			}
			continue;
		}
		i++;
		switch (c) {
		case '"': sb_append(sb, "\\\"", 2); break;
		case '\\': sb_append(sb, "\\\\", 2); break;
		case '\n': sb_append(sb, "\\n", 2); break;
		case '\r': sb_append(sb, "\\r", 2); break;
		case '\t': sb_append(sb, "\\t", 2); break;
		default: {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			sb_append(sb, e, 6);
		}
		}
	}
	sb_append(sb, (const char *)p + i - run, run);
	sb_putc(sb, '"');
}

void sb_csv_field(struct strbuf *sb, const char *s, size_t len)
{
	bool quote = false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
			quote = true;
			break;
		}
	if (!quote) {
		sb_append(sb, s, len);
		return;
	}
	sb_putc(sb, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			sb_putc(sb, '"');
		sb_putc(sb, s[i]);
	}
	sb_putc(sb, '"');
}
