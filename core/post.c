#include "core/post.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"

size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		if (avail < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		return 2;
	}
	if (c < 0xF0) {
		if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c < 0xF5) {
		if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0;
		if (c == 0xF4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

/* Nonzero when the 8 bytes of x hold a byte >= 0x80 or a NUL byte. */
static inline uint64_t not_plain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	return (x | ((x - ones) & ~x)) & highs;
}

size_t utf8_sanitize(char *dst, size_t cap, const char *src, size_t len)
{
	static const unsigned char repl[] = "\xEF\xBF\xBD";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	if (cap == 0)
		return 0;
	while (i < len) {
		/* a run of ASCII bytes other than NUL, copied at once */
		size_t j = i;
		for (uint64_t x; j + 8 <= len; j += 8) {
			memcpy(&x, s + j, 8);
			if (not_plain8(x))
				break;
		}
		while (j < len && s[j] - 1u < 0x7Fu)
			j++;
		if (j > i) {
			size_t take = j - i, room = cap - 1 - o;
			if (take > room)
				take = room;
			memcpy(dst + o, s + i, take);
			o += take;
			i += take;
			if (i < j)
				break; /* dst is full */
			continue;
		}
		/* one sequence of 2-4 bytes, or a byte to replace */
		size_t n = utf8_seq_len(s + i, len - i);
		const unsigned char *from = s + i;
		if (n == 0 || s[i] == 0) {
			from = repl;
			n = 3;
			i += 1;
		} else {
			i += n;
		}
		if (o + n > cap - 1)
			break;
		for (size_t k = 0; k < n; k++)
			dst[o + k] = (char)from[k];
		o += n;
	}
	dst[o] = 0;
	return o;
}

static size_t slen(const char *s) { return s ? strlen(s) : 0; }

/* Bytes a field of len input bytes may need after sanitizing, capped. */
static size_t need(size_t len, size_t cap)
{
	size_t n = len * 3 + 1;
	return n < cap + 1 ? n : cap + 1;
}

struct post *post_new(const struct post_fields *f)
{
	size_t tl = f->text ? (f->text_len == (size_t)-1 ? strlen(f->text) : f->text_len) : 0;
	size_t li = slen(f->id), lu = slen(f->url), la = slen(f->author), lg = slen(f->lang),
	       lt = slen(f->title);
	size_t ci = need(li, LIMIT_POST_ID_BYTES), cu = need(lu, LIMIT_POST_URL_BYTES),
	       ca = need(la, LIMIT_POST_AUTHOR_BYTES), cg = need(lg, LIMIT_POST_LANG_BYTES),
	       ct = need(lt, LIMIT_POST_TITLE_BYTES), cx = need(tl, LIMIT_POST_TEXT_BYTES);
	struct post *p = malloc(sizeof *p + ci + cu + ca + cg + ct + cx);
	if (!p)
		return NULL;
	char *w = (char *)(p + 1);

	p->source_id = f->source_id;
	p->created_at_ms = f->created_at_ms;
	p->received_ms = clock_now_ms();
#define COPY(field, src, len, cap)                                   \
	do {                                                         \
		p->field = w;                                        \
		w += utf8_sanitize(w, cap, src ? src : "", len) + 1; \
	} while (0)
	COPY(id, f->id, li, ci);
	COPY(url, f->url, lu, cu);
	COPY(author, f->author, la, ca);
	COPY(lang, f->lang, lg, cg);
	COPY(title, f->title, lt, ct);
	p->text = w;
	p->text_len = utf8_sanitize(w, cx, f->text ? f->text : "", tl);
#undef COPY
	return p;
}

void post_free(struct post *p) { free(p); }
