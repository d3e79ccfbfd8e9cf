#include "core/term.h"

#include <string.h>

static const char *const kind_names[] = { "word",  "hashtag", "mention", "cashtag",
					  "domain", "emoji",  "bigram",  "all" };

const char *term_kind_name(int kind)
{
	if (kind < 0 || kind > TERM_KIND_ALL)
		return "unknown";
	return kind_names[kind];
}

int term_kind_parse(const char *s, size_t len)
{
	for (int k = 0; k <= TERM_KIND_ALL; k++)
		if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
			return k;
	return -1;
}

static const char *const window_names[] = { "5m", "1h", "24h" };
static const int64_t window_spans[] = { 5 * 60 * 1000LL, 60 * 60 * 1000LL,
					24 * 60 * 60 * 1000LL };

const char *window_name(int w)
{
	if (w < 0 || w >= WINDOW_COUNT)
		return "unknown";
	return window_names[w];
}

int window_parse(const char *s, size_t len)
{
	for (int w = 0; w < WINDOW_COUNT; w++)
		if (strlen(window_names[w]) == len && memcmp(window_names[w], s, len) == 0)
			return w;
	return -1;
}

int64_t window_span_ms(int w) { return w >= 0 && w < WINDOW_COUNT ? window_spans[w] : 0; }

void term_lang_key(const char *lang, char *out, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return;
	out[0] = 0;
	if (!lang)
		return;
	while (lang[n] && lang[n] != '-' && lang[n] != '_') {
		char c = lang[n];
		if (n >= 8 || n + 1 >= cap || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			out[0] = 0;
			return;
		}
		out[n] = (char)(c | 0x20);
		n++;
	}
	out[n < 2 ? 0 : n] = 0;
}
