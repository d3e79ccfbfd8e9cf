/*
 * strbuf.h - growable byte buffer, mostly for building JSON and CSV.
 *
 * A strbuf is always NUL-terminated. On allocation failure it latches the
 * `failed` flag and drops further appends, so callers check once at the end
 * instead of after every append.
 */
#ifndef TRENDD_STRBUF_H
#define TRENDD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *buf;    /* owned */
	size_t len, cap;
	bool failed;
};

#define STRBUF_INIT { NULL, 0, 0, false }

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);           /* len = 0, keeps memory */
char *sb_detach(struct strbuf *sb, size_t *len); /* caller owns the result */
bool sb_reserve(struct strbuf *sb, size_t extra);
void sb_append(struct strbuf *sb, const char *s, size_t len);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_put_i64(struct strbuf *sb, int64_t v);
void sb_put_u64(struct strbuf *sb, uint64_t v);
/* Writes a JSON number; NaN and infinities become 0. At most `decimals` decimals, trailing zeros trimmed. */
void sb_put_double(struct strbuf *sb, double v, int decimals);

/* Appends s as a JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD. */
void sb_json_str(struct strbuf *sb, const char *s, size_t len);
static inline void sb_json_cstr(struct strbuf *sb, const char *s);
/* Appends s as one CSV field (RFC 4180 quoting when needed). */
void sb_csv_field(struct strbuf *sb, const char *s, size_t len);

#include <string.h>
static inline void sb_json_cstr(struct strbuf *sb, const char *s)
{
	sb_json_str(sb, s ? s : "", s ? strlen(s) : 0);
}

#endif
